#include <libtodo/jwt_verifier.hpp>

#include <algorithm>
#include <array>
#include <cmath>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <libtodo/validation.hpp>

namespace libtodo {
namespace {

using json = nlohmann::json;

constexpr char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// The digest of an HS* algorithm name, or null.
const EVP_MD* hmac_digest(std::string_view alg) noexcept {
  if (alg == "HS256") return EVP_sha256();
  if (alg == "HS384") return EVP_sha384();
  if (alg == "HS512") return EVP_sha512();
  return nullptr;
}

// HMAC with OpenSSL; returns the MAC bytes (empty on failure).
std::string hmac(const EVP_MD* md, std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> out{};
  unsigned int len = 0;
  if (HMAC(md, key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr)
    return {};
  return std::string(reinterpret_cast<const char*>(out.data()), len);
}

// Parses a base64url part into a JSON object; discarded value on any failure.
json decode_object(std::string_view part) {
  const auto text = base64url_decode(part);
  if (!text) return json(json::value_t::discarded);
  json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return json(json::value_t::discarded);
  return j;
}

// A NumericDate claim (RFC 7519 §2) as seconds since the epoch.
std::optional<double> numeric_date(const json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<std::string> string_claim(const json& claims, const char* name) {
  const auto it = claims.find(name);
  if (it == claims.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

bool audience_matches(const json& claims, const std::string& expected) {
  const auto it = claims.find("aud");
  if (it == claims.end()) return false;
  if (it->is_string()) return it->get_ref<const std::string&>() == expected;
  if (!it->is_array()) return false;
  return std::any_of(it->begin(), it->end(), [&](const json& a) {
    return a.is_string() && a.get_ref<const std::string&>() == expected;
  });
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const unsigned v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += b64_alphabet[(v >> 18) & 63];
    out += b64_alphabet[(v >> 12) & 63];
    out += b64_alphabet[(v >> 6) & 63];
    out += b64_alphabet[v & 63];
  }
  if (const std::size_t rest = bytes.size() - i; rest > 0) {
    const unsigned v = (at(i) << 16) | (rest == 2 ? at(i + 1) << 8 : 0u);
    out += b64_alphabet[(v >> 18) & 63];
    out += b64_alphabet[(v >> 12) & 63];
    if (rest == 2) out += b64_alphabet[(v >> 6) & 63];
  }
  return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : text) {
    unsigned v = 0;
    if (c >= 'A' && c <= 'Z') v = static_cast<unsigned>(c - 'A');
    else if (c >= 'a' && c <= 'z') v = static_cast<unsigned>(c - 'a' + 26);
    else if (c >= '0' && c <= '9') v = static_cast<unsigned>(c - '0' + 52);
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    buffer = (buffer << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((buffer >> bits) & 0xFF);
    }
  }
  // Leftover bits must be zero, or the text is not the canonical encoding.
  if ((buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

struct JwtVerifier::Impl {
  JwtOptions options;

  [[nodiscard]] double now_seconds() const {
    const auto now = options.clock ? options.clock() : std::chrono::system_clock::now();
    return std::chrono::duration<double>(now.time_since_epoch()).count();
  }

  [[nodiscard]] bool hs_allowed(std::string_view alg) const {
    return !options.hs_secret.empty() &&
           std::find(options.hs_algorithms.begin(), options.hs_algorithms.end(), alg) !=
               options.hs_algorithms.end();
  }
};

JwtVerifier::JwtVerifier(JwtOptions options) : impl_(std::make_unique<Impl>()) {
  if (options.hs_secret.empty())
    throw ConfigError("JwtVerifier: no key source configured (set a shared secret)");
  // RFC 7518 §3.2: the key must be at least as long as the hash (32 bytes for HS256).
  if (options.hs_secret.size() < min_hs_secret_bytes)
    throw ConfigError("JwtVerifier: the shared secret must be at least 32 bytes");
  if (options.hs_algorithms.empty())
    throw ConfigError("JwtVerifier: a shared secret with no HS algorithm allowed accepts nothing");
  for (const std::string& alg : options.hs_algorithms)
    if (!hmac_digest(alg)) throw ConfigError("JwtVerifier: unsupported HMAC algorithm " + alg);
  if (options.leeway.count() < 0) throw ConfigError("JwtVerifier: leeway must not be negative");
  impl_->options = std::move(options);
}

JwtVerifier::~JwtVerifier() = default;

Verification JwtVerifier::verify(std::string_view token) const {
  const JwtOptions& o = impl_->options;
  if (token.empty() || token.size() > o.max_token_bytes) return AuthFailure::malformed;
  const std::size_t dot1 = token.find('.');
  const std::size_t dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return AuthFailure::malformed;

  const json header = decode_object(token.substr(0, dot1));
  if (header.is_discarded()) return AuthFailure::malformed;
  const auto alg_it = header.find("alg");
  if (alg_it == header.end() || !alg_it->is_string()) return AuthFailure::unsupported_algorithm;
  const std::string& alg = alg_it->get_ref<const std::string&>();
  // We implement no JWS extensions, so any critical one makes the token unusable (RFC 7515 §4.1.11).
  if (header.contains("crit")) return AuthFailure::unsupported_critical;

  const EVP_MD* md = hmac_digest(alg);
  if (md == nullptr || !impl_->hs_allowed(alg)) return AuthFailure::unsupported_algorithm;

  const auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!signature) return AuthFailure::malformed;
  const std::string expected = hmac(md, o.hs_secret, token.substr(0, dot2));
  if (expected.empty() || signature->size() != expected.size() ||
      CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
    return AuthFailure::bad_signature;

  const json claims = decode_object(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (claims.is_discarded()) return AuthFailure::malformed;

  const double now = impl_->now_seconds();
  const auto leeway = static_cast<double>(o.leeway.count());
  const auto exp = numeric_date(claims, "exp");
  if (!exp) return AuthFailure::missing_expiry;
  if (now >= *exp + leeway) return AuthFailure::expired;
  if (claims.contains("nbf")) {
    const auto nbf = numeric_date(claims, "nbf");
    if (!nbf) return AuthFailure::malformed;
    if (now + leeway < *nbf) return AuthFailure::not_yet_valid;
  }
  if (claims.contains("iat")) {
    const auto iat = numeric_date(claims, "iat");
    if (!iat) return AuthFailure::malformed;
    if (now + leeway < *iat) return AuthFailure::issued_in_future;
  }
  if (o.issuer && string_claim(claims, "iss") != o.issuer) return AuthFailure::wrong_issuer;
  if (o.audience && !audience_matches(claims, *o.audience)) return AuthFailure::wrong_audience;

  auto sub = string_claim(claims, "sub");
  if (!sub || !is_valid_user_id(*sub)) return AuthFailure::missing_subject;

  Principal p;
  p.user_id = std::move(*sub);
  p.email = string_claim(claims, "email");
  p.name = string_claim(claims, "name");
  // Clamp before converting: exp may be any finite double.
  const double exp_ms = std::clamp(*exp * 1000.0, 0.0, 253402300799000.0);
  p.expires_at = Timestamp{std::chrono::milliseconds{static_cast<std::int64_t>(exp_ms)}};
  return p;
}

std::string sign_hs_compact(std::string_view secret, std::string_view algorithm,
                            std::string_view header_json, std::string_view payload_json) {
  const EVP_MD* md = hmac_digest(algorithm);
  if (md == nullptr) throw ConfigError("unsupported HMAC algorithm " + std::string(algorithm));
  if (secret.empty()) throw ConfigError("empty HMAC secret");
  std::string token = base64url_encode(header_json);
  token += '.';
  token += base64url_encode(payload_json);
  const std::string mac = hmac(md, secret, token);
  if (mac.empty()) throw Error("HMAC failed");
  token += '.';
  token += base64url_encode(mac);
  return token;
}

std::string mint_hs_token(std::string_view secret, const TokenClaims& c,
                          std::string_view algorithm) {
  using namespace std::chrono;
  const auto issued = c.issued_at.value_or(system_clock::now());
  const auto iat = duration_cast<seconds>(issued.time_since_epoch()).count();
  json header = {{"alg", algorithm}, {"typ", "JWT"}};
  json payload = {{"sub", c.subject}, {"iat", iat}, {"exp", iat + c.lifetime.count()}};
  if (c.issuer) payload["iss"] = *c.issuer;
  if (c.audience) payload["aud"] = *c.audience;
  if (c.email) payload["email"] = *c.email;
  if (c.name) payload["name"] = *c.name;
  if (c.jwt_id) payload["jti"] = *c.jwt_id;
  return sign_hs_compact(secret, algorithm, header.dump(), payload.dump());
}

}  // namespace libtodo
