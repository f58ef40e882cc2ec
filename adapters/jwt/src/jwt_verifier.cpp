#include <libtodo/jwt_verifier.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unordered_map>
#include <variant>

#include <httplib.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <libtodo/validation.hpp>

#include "jwk.hpp"

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

namespace {

// Verified tokens by SHA-256 of the whole token. Sharded so that threads
// rarely meet on one mutex; each shard evicts an arbitrary entry when full
// (expired ones are dropped on sight).
class TokenCache {
 public:
  using Key = std::array<unsigned char, SHA256_DIGEST_LENGTH>;

  explicit TokenCache(std::size_t capacity) : per_shard_((capacity + shards - 1) / shards) {}

  [[nodiscard]] bool enabled() const { return per_shard_ > 0; }

  static Key key_of(std::string_view token) {
    Key k{};
    SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), k.data());
    return k;
  }

  // The principal of a cached token still valid at `now` (seconds).
  std::optional<Principal> find(const Key& k, double now) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mutex);
    const auto it = s.map.find(k);
    if (it == s.map.end()) return std::nullopt;
    if (now >= it->second.valid_until) {
      s.map.erase(it);
      return std::nullopt;
    }
    return it->second.principal;
  }

  // Inserts unless the key set changed since `generation_seen` (read before
  // the key was chosen): such a result may rest on a key that is gone.
  void insert(const Key& k, const Principal& p, double valid_until, std::uint64_t generation_seen,
              const std::atomic<std::uint64_t>& generation) {
    Shard& s = shard(k);
    std::lock_guard lock(s.mutex);
    if (generation.load() != generation_seen) return;
    if (s.map.size() >= per_shard_ && !s.map.contains(k)) s.map.erase(s.map.begin());
    s.map.insert_or_assign(k, Entry{p, valid_until});
  }

  void clear() {
    for (Shard& s : shards_) {
      std::lock_guard lock(s.mutex);
      s.map.clear();
    }
  }

 private:
  static constexpr std::size_t shards = 16;
  struct Entry {
    Principal principal;
    double valid_until;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::size_t h = 0;
      std::memcpy(&h, k.data(), sizeof h);  // a SHA-256 is already uniform
      return h;
    }
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<Key, Entry, KeyHash> map;
  };
  Shard& shard(const Key& k) { return shards_[k[8] % shards]; }

  std::size_t per_shard_;
  std::array<Shard, shards> shards_;
};

// GET of an http(s) URL with cpp-httplib's client; the body of a 200, or nullopt.
std::optional<std::string> http_get(const std::string& url, std::chrono::seconds timeout) {
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string::npos) return std::nullopt;
  const std::size_t path_start = url.find('/', scheme_end + 3);
  const std::string origin = url.substr(0, path_start);
  const std::string path = path_start == std::string::npos ? "/" : url.substr(path_start);
  httplib::Client client(origin);
  if (!client.is_valid()) return std::nullopt;
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_follow_location(false);
  const auto res = client.Get(path.c_str());
  if (!res || res->status != 200 || res->body.size() > (1u << 20)) return std::nullopt;
  return res->body;
}

std::optional<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

struct JwtVerifier::Impl {
  JwtOptions options;
  TokenCache cache;

  // Keys: replaced as a whole, read as a snapshot.
  mutable std::mutex keys_mutex;
  std::shared_ptr<const std::vector<jwt_detail::PublicKey>> file_keys =
      std::make_shared<std::vector<jwt_detail::PublicKey>>();
  std::shared_ptr<const std::vector<jwt_detail::PublicKey>> url_keys =
      std::make_shared<std::vector<jwt_detail::PublicKey>>();
  std::mutex fetch_mutex;  // one reload at a time
  std::chrono::steady_clock::time_point last_refetch{};  // of an unknown-kid refetch

  std::atomic<std::uint64_t> cache_hits{0}, cache_misses{0}, fetches{0}, fetch_failures{0};
  std::atomic<std::uint64_t> generation{0};  // of the key set

  // The background refresher.
  std::mutex stop_mutex;
  std::condition_variable stop_cv;
  bool stopping = false;
  std::thread refresher;

  explicit Impl(JwtOptions o) : options(std::move(o)), cache(options.cache_capacity) {}

  ~Impl() {
    {
      std::lock_guard lock(stop_mutex);
      stopping = true;
    }
    stop_cv.notify_all();
    if (refresher.joinable()) refresher.join();
  }

  [[nodiscard]] bool has_jwks() const { return !options.jwks_file.empty() || !options.jwks_url.empty(); }

  [[nodiscard]] double now_seconds() const {
    const auto now = options.clock ? options.clock() : std::chrono::system_clock::now();
    return std::chrono::duration<double>(now.time_since_epoch()).count();
  }

  [[nodiscard]] bool hs_allowed(std::string_view alg) const {
    return !options.hs_secret.empty() &&
           std::find(options.hs_algorithms.begin(), options.hs_algorithms.end(), alg) !=
               options.hs_algorithms.end();
  }

  // Loads one source; nullopt (and the old keys kept) when it fails.
  std::optional<std::vector<jwt_detail::PublicKey>> load(bool from_url) {
    std::optional<std::string> doc;
    if (from_url) {
      ++fetches;
      doc = options.fetch ? options.fetch(options.jwks_url) : http_get(options.jwks_url, options.jwks_fetch_timeout);
    } else {
      doc = read_text_file(options.jwks_file);
    }
    try {
      if (doc) return jwt_detail::parse_jwks(*doc).keys;
    } catch (const std::exception&) {  // not a JWKS: treated like an unreachable source
    }
    if (from_url) ++fetch_failures;
    return std::nullopt;
  }

  static bool same_kids(const std::vector<jwt_detail::PublicKey>& a, const std::vector<jwt_detail::PublicKey>& b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i].kid != b[i].kid || a[i].algorithms != b[i].algorithms ||
          EVP_PKEY_eq(a[i].pkey.get(), b[i].pkey.get()) != 1)
        return false;
    return true;
  }

  // Reloads the configured sources; false when one failed.
  bool reload() {
    std::lock_guard fetching(fetch_mutex);
    bool ok = true;
    bool changed = false;
    for (const bool from_url : {false, true}) {
      if ((from_url ? options.jwks_url : options.jwks_file).empty()) continue;
      auto keys = load(from_url);
      if (!keys) {
        ok = false;
        continue;
      }
      std::lock_guard lock(keys_mutex);
      auto& slot = from_url ? url_keys : file_keys;
      if (same_kids(*slot, *keys)) continue;
      slot = std::make_shared<const std::vector<jwt_detail::PublicKey>>(std::move(*keys));
      changed = true;
    }
    // Tokens verified with a key that is gone must be checked again. The
    // generation moves first, so a verification that chose its key before
    // this point cannot put its result into the emptied cache.
    if (changed) {
      ++generation;
      cache.clear();
    }
    return ok;
  }

  // An unknown kid: refetch the URL, at most once per jwks_min_refresh.
  bool refetch_for_unknown_kid() {
    if (options.jwks_url.empty()) return false;
    {
      std::lock_guard lock(keys_mutex);
      const auto now = std::chrono::steady_clock::now();
      if (last_refetch != std::chrono::steady_clock::time_point{} &&
          now - last_refetch < options.jwks_min_refresh)
        return false;
      last_refetch = now;
    }
    reload();
    return true;
  }

  void start_refresher() {
    refresher = std::thread([this] {
      std::unique_lock lock(stop_mutex);
      while (!stop_cv.wait_for(lock, options.jwks_ttl, [this] { return stopping; })) {
        lock.unlock();
        reload();
        lock.lock();
      }
    });
  }

  // The key for a token's header, or the failure that explains its absence.
  std::variant<jwt_detail::PublicKey, AuthFailure> key_for(const json& header, const std::string& alg) {
    std::optional<std::string> kid;
    if (const auto it = header.find("kid"); it != header.end()) {
      if (!it->is_string()) return AuthFailure::malformed;
      kid = it->get<std::string>();
      if (kid->size() > 256) return AuthFailure::unknown_key;
    }
    for (int attempt = 0; attempt < 2; ++attempt) {
      std::shared_ptr<const std::vector<jwt_detail::PublicKey>> sets[2];
      {
        std::lock_guard lock(keys_mutex);
        sets[0] = file_keys;
        sets[1] = url_keys;
      }
      std::vector<const jwt_detail::PublicKey*> fitting;
      bool kid_known = false;
      for (const auto& set : sets)
        for (const auto& key : *set) {
          if (kid && key.kid != *kid) continue;
          kid_known = true;
          if (key.allows(alg)) fitting.push_back(&key);
        }
      if (fitting.size() == 1) return *fitting.front();
      if (fitting.size() > 1) return AuthFailure::unknown_key;            // ambiguous
      if (kid && kid_known) return AuthFailure::unsupported_algorithm;  // the key is not for this alg
      if (attempt == 0 && !refetch_for_unknown_kid()) break;
    }
    return AuthFailure::unknown_key;
  }
};

JwtVerifier::JwtVerifier(JwtOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {
  const JwtOptions& o = impl_->options;
  if (o.hs_secret.empty() && !impl_->has_jwks())
    throw ConfigError("JwtVerifier: no key source configured (set a shared secret, a JWKS file or a JWKS URL)");
  if (!o.hs_secret.empty()) {
    // RFC 7518 §3.2: the key must be at least as long as the hash (32 bytes for HS256).
    if (o.hs_secret.size() < min_hs_secret_bytes)
      throw ConfigError("JwtVerifier: the shared secret must be at least 32 bytes");
    if (o.hs_algorithms.empty())
      throw ConfigError("JwtVerifier: a shared secret with no HS algorithm allowed accepts nothing");
    for (const std::string& alg : o.hs_algorithms)
      if (!hmac_digest(alg)) throw ConfigError("JwtVerifier: unsupported HMAC algorithm " + alg);
  }
  if (o.leeway.count() < 0) throw ConfigError("JwtVerifier: leeway must not be negative");
  if (!o.jwks_url.empty() && o.jwks_url.rfind("http://", 0) != 0 && o.jwks_url.rfind("https://", 0) != 0)
    throw ConfigError("JwtVerifier: the JWKS URL must start with http:// or https://");
  if (o.jwks_ttl.count() <= 0 || o.jwks_min_refresh.count() < 0)
    throw ConfigError("JwtVerifier: JWKS refresh intervals must be positive");
  if (!o.jwks_file.empty()) {
    const auto doc = read_text_file(o.jwks_file);
    if (!doc) throw ConfigError("JwtVerifier: cannot read the JWKS file " + o.jwks_file);
    try {
      auto set = jwt_detail::parse_jwks(*doc);
      if (set.keys.empty())
        throw ConfigError("JwtVerifier: the JWKS file " + o.jwks_file + " has no usable key" +
                          (set.skipped.empty() ? std::string() : " (" + set.skipped.front() + ")"));
      impl_->file_keys = std::make_shared<const std::vector<jwt_detail::PublicKey>>(std::move(set.keys));
    } catch (const std::runtime_error& e) {
      if (dynamic_cast<const ConfigError*>(&e)) throw;
      throw ConfigError("JwtVerifier: " + o.jwks_file + ": " + e.what());
    }
  }
  if (!o.jwks_url.empty()) impl_->reload();
  if (impl_->has_jwks()) impl_->start_refresher();
}

JwtVerifier::~JwtVerifier() = default;

bool JwtVerifier::refresh_keys() { return impl_->reload(); }

std::size_t JwtVerifier::key_count() const {
  std::lock_guard lock(impl_->keys_mutex);
  return impl_->file_keys->size() + impl_->url_keys->size();
}

JwtVerifier::Stats JwtVerifier::stats() const {
  return {impl_->cache_hits.load(), impl_->cache_misses.load(), impl_->fetches.load(),
          impl_->fetch_failures.load()};
}

Verification JwtVerifier::verify(std::string_view token) const {
  const JwtOptions& o = impl_->options;
  if (token.empty() || token.size() > o.max_token_bytes) return AuthFailure::malformed;
  const double now = impl_->now_seconds();
  const auto leeway = static_cast<double>(o.leeway.count());

  TokenCache::Key cache_key{};
  const std::uint64_t generation = impl_->generation.load();
  if (impl_->cache.enabled()) {
    cache_key = TokenCache::key_of(token);
    if (auto p = impl_->cache.find(cache_key, now)) {
      ++impl_->cache_hits;
      return std::move(*p);
    }
    ++impl_->cache_misses;
  }

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

  const auto signature = base64url_decode(token.substr(dot2 + 1));
  if (!signature) return AuthFailure::malformed;
  const std::string_view signing_input = token.substr(0, dot2);

  // The header's own key material (jwk, jku, x5u, x5c) is never consulted.
  if (const EVP_MD* md = hmac_digest(alg)) {
    if (!impl_->hs_allowed(alg)) return AuthFailure::unsupported_algorithm;
    const std::string expected = hmac(md, o.hs_secret, signing_input);
    if (expected.empty() || signature->size() != expected.size() ||
        CRYPTO_memcmp(signature->data(), expected.data(), expected.size()) != 0)
      return AuthFailure::bad_signature;
  } else if (jwt_detail::is_asymmetric_algorithm(alg) && impl_->has_jwks()) {
    auto key = impl_->key_for(header, alg);
    if (auto* failure = std::get_if<AuthFailure>(&key)) return *failure;
    if (!jwt_detail::verify_signature(std::get<jwt_detail::PublicKey>(key), alg, signing_input, *signature))
      return AuthFailure::bad_signature;
  } else {
    return AuthFailure::unsupported_algorithm;
  }

  const json claims = decode_object(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (claims.is_discarded()) return AuthFailure::malformed;

  const auto exp = numeric_date(claims, "exp");
  if (!exp) return AuthFailure::missing_expiry;
  if (now >= *exp + leeway) return AuthFailure::expired;
  std::optional<double> nbf;
  if (claims.contains("nbf")) {
    nbf = numeric_date(claims, "nbf");
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
  p.token_id = string_claim(claims, "jti");
  // Clamp before converting: exp may be any finite double.
  const double exp_ms = std::clamp(*exp * 1000.0, 0.0, 253402300799000.0);
  p.expires_at = Timestamp{std::chrono::milliseconds{static_cast<std::int64_t>(exp_ms)}};
  // Cache only tokens that are valid now; a token waiting for its nbf is checked again.
  if (impl_->cache.enabled() && !(nbf && now < *nbf))
    impl_->cache.insert(cache_key, p, *exp + leeway, generation, impl_->generation);
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
