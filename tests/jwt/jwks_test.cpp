// JwtVerifier with JWKS keys (SPEC §4): every asymmetric algorithm, key choice by kid, JWKS
// parsing, refetch on an unknown kid, a real HTTP JWKS URL, the verified-token cache, threads.
// Keys are generated and tokens signed here with OpenSSL 3, independently of the library.

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include <httplib.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

#include <libtodo/errors.hpp>
#include <libtodo/jwt_verifier.hpp>
#include <libtodo/token_verifier.hpp>

#include "test_keys.hpp"

namespace Catch {
template <>
struct StringMaker<libtodo::AuthFailure> {
  static std::string convert(libtodo::AuthFailure f) { return std::string(libtodo::to_string(f)); }
};
}  // namespace Catch

namespace {

using namespace std::chrono;
using json = nlohmann::json;
using libtodo::AuthFailure;
using libtodo::ConfigError;
using libtodo::JwtOptions;
using libtodo::JwtVerifier;
using libtodo::Verification;

const std::string secret = "test-secret-0123456789abcdef-0123456789abcdef";  // 46 bytes

// Every test runs at this instant, through JwtOptions::clock, unless it moves its own clock.
const system_clock::time_point now_tp = sys_days{year{2026} / 1 / 6} + hours{9} + minutes{30};
const long long now_s = duration_cast<seconds>(now_tp.time_since_epoch()).count();

std::string b64(std::string_view s) {
  return libtodo::base64url_encode(s);
}

std::string unb64(std::string_view s) {
  return test::unbase64url(s);
}

AuthFailure failure(const Verification& v) {
  REQUIRE_FALSE(v.ok());
  return v.failure();
}

using test::KeyType;
using test::shared_key;
using test::TestKey;

const TestKey& ed_key() {
  return shared_key(KeyType::ed25519);
}
const TestKey& p256_key() {
  return shared_key(KeyType::p256);
}
const TestKey& rsa_key() {
  return shared_key(KeyType::rsa2048);
}

// --- tokens -----------------------------------------------------------------------------------

json header(const std::string& alg, const std::optional<std::string>& kid) {
  json h = {{"alg", alg}, {"typ", "JWT"}};
  if (kid) h["kid"] = *kid;
  return h;
}

// A payload that passes every check: 15 minutes left at now_tp.
json claims(const std::string& sub = "user-123") {
  return {{"sub", sub}, {"iat", now_s}, {"exp", now_s + 900}};
}

// A compact JWS of `payload` under `hdr`, signed by `key` with `alg`.
std::string compact(const TestKey& key, const std::string& alg, const json& hdr,
                    const json& payload, bool raw_ecdsa = true) {
  return test::compact_jws(key, alg, hdr, payload, raw_ecdsa);
}

std::string token(const TestKey& key, const std::string& alg, const std::optional<std::string>& kid,
                  const json& payload = claims()) {
  return compact(key, alg, header(alg, kid), payload);
}

// The token with its signature part replaced.
std::string with_signature(const std::string& t, std::string_view raw_signature) {
  return t.substr(0, t.rfind('.') + 1) + b64(raw_signature);
}

std::string raw_signature(const std::string& t) {
  return unb64(t.substr(t.rfind('.') + 1));
}

// --- JWKS documents, on disk or behind a stub fetcher -----------------------------------------

std::string jwks(const std::vector<json>& keys) {
  return json{{"keys", keys}}.dump();
}

// A file in the temporary directory, removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    static std::atomic<int> counter{0};
    path_ =
        (std::filesystem::temp_directory_path() /
         ("libtodo-jwks-" + std::to_string(::getpid()) + "-" + std::to_string(++counter) + ".json"))
            .string();
    write(content);
  }
  ~TempFile() {
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;

  void write(const std::string& content) const {
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << content;
    if (!out) throw std::runtime_error("cannot write " + path_);
  }
  [[nodiscard]] const std::string& path() const { return path_; }

 private:
  std::string path_;
};

JwtOptions file_options(const TempFile& file) {
  JwtOptions o;
  o.jwks_file = file.path();
  o.clock = [] { return now_tp; };
  return o;
}

// A JWKS endpoint for JwtOptions::fetch: counts calls, records URLs, and serves a document
// that the test swaps at runtime (nullopt: the fetch fails).
struct FetchStub {
  std::mutex mutex;
  std::optional<std::string> document;
  std::vector<std::string> urls;
  std::atomic<int> calls{0};

  void serve(std::optional<std::string> doc) {
    std::lock_guard lock(mutex);
    document = std::move(doc);
  }
  std::vector<std::string> requested() {
    std::lock_guard lock(mutex);
    return urls;
  }
};

const std::string stub_url = "https://issuer.example/api/auth/jwks";

JwtOptions url_options(const std::shared_ptr<FetchStub>& stub) {
  JwtOptions o;
  o.jwks_url = stub_url;
  o.fetch = [stub](const std::string& url) -> std::optional<std::string> {
    ++stub->calls;
    std::lock_guard lock(stub->mutex);
    stub->urls.push_back(url);
    return stub->document;
  };
  o.clock = [] { return now_tp; };
  return o;
}

// A loopback port with nothing listening (bound, never listened on, closed).
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  REQUIRE(ok);
  return ntohs(addr.sin_port);
}

}  // namespace

// --- 1. every algorithm -----------------------------------------------------------------------

TEST_CASE("jwks: every asymmetric algorithm verifies from a JWKS file", "[jwks][algorithm]") {
  struct Case {
    const char* alg;
    KeyType type;
    const char* kid;
  };
  const Case cases[] = {
      {"EdDSA", KeyType::ed25519, "ed"},  {"ES256", KeyType::p256, "p256"},
      {"ES384", KeyType::p384, "p384"},   {"ES512", KeyType::p521, "p521"},
      {"RS256", KeyType::rsa2048, "rsa"}, {"RS384", KeyType::rsa2048, "rsa"},
      {"RS512", KeyType::rsa2048, "rsa"}, {"PS256", KeyType::rsa2048, "rsa"},
      {"PS384", KeyType::rsa2048, "rsa"}, {"PS512", KeyType::rsa2048, "rsa"},
  };
  const TempFile file(
      jwks({ed_key().jwk("ed"), p256_key().jwk("p256"), shared_key(KeyType::p384).jwk("p384"),
            shared_key(KeyType::p521).jwk("p521"), rsa_key().jwk("rsa")}));
  const JwtVerifier verifier(file_options(file));
  CHECK(verifier.key_count() == 5);

  for (const Case& c : cases) {
    INFO(c.alg);
    json payload = claims(std::string("user-") + c.alg);
    payload["email"] = "ada@example.com";
    payload["name"] = "Ada Lovelace";
    const std::string t = token(shared_key(c.type), c.alg, c.kid, payload);
    const Verification v = verifier.verify(t);
    REQUIRE(v.ok());
    CHECK(v.principal().user_id == std::string("user-") + c.alg);
    CHECK(v.principal().email == "ada@example.com");
    CHECK(v.principal().name == "Ada Lovelace");
    CHECK(libtodo::format_rfc3339(v.principal().expires_at) == "2026-01-06T09:45:00.000Z");

    // The signature really is checked: another payload under the same signature fails.
    payload["sub"] = "admin";
    const std::string forged =
        t.substr(0, t.find('.') + 1) + b64(payload.dump()) + t.substr(t.rfind('.'));
    CHECK(failure(verifier.verify(forged)) == AuthFailure::bad_signature);
  }

  SECTION("Ed25519, the fully-specified name of EdDSA (RFC 9864), is accepted too") {
    CHECK(verifier.verify(token(ed_key(), "Ed25519", "ed")).ok());
  }
  SECTION("a signature made with another hash of the same RSA key is refused") {
    const std::string rs256 = token(rsa_key(), "RS256", "rsa");
    const std::string rs512 = token(rsa_key(), "RS512", "rsa");
    CHECK(failure(verifier.verify(with_signature(rs256, raw_signature(rs512)))) ==
          AuthFailure::bad_signature);
    // PKCS#1 v1.5 and PSS are not interchangeable either.
    const std::string ps256 = token(rsa_key(), "PS256", "rsa");
    CHECK(failure(verifier.verify(with_signature(rs256, raw_signature(ps256)))) ==
          AuthFailure::bad_signature);
  }
  SECTION("PSS salts are as long as the hash (RFC 7518 §3.5), not longer or empty") {
    const std::string t = token(rsa_key(), "PS256", "rsa");
    const std::string input = t.substr(0, t.rfind('.'));
    for (const int salt : {0, 20, RSA_PSS_SALTLEN_MAX}) {
      INFO("salt length " << salt);
      const std::string other = rsa_key().sign("PS256", input, true, salt);
      CHECK(failure(verifier.verify(with_signature(t, other))) == AuthFailure::bad_signature);
    }
  }
}

// --- 2. rejections ----------------------------------------------------------------------------

TEST_CASE("jwks: a signature by another key under a known kid is bad_signature",
          "[jwks][signature]") {
  const TempFile file(jwks({ed_key().jwk("ed"), p256_key().jwk("p256"), rsa_key().jwk("rsa")}));
  const JwtVerifier verifier(file_options(file));
  CHECK(failure(verifier.verify(token(TestKey(KeyType::ed25519), "EdDSA", "ed"))) ==
        AuthFailure::bad_signature);
  CHECK(failure(verifier.verify(token(TestKey(KeyType::p256), "ES256", "p256"))) ==
        AuthFailure::bad_signature);
  const TestKey other_rsa(KeyType::rsa2048);
  CHECK(failure(verifier.verify(token(other_rsa, "RS256", "rsa"))) == AuthFailure::bad_signature);
  CHECK(failure(verifier.verify(token(other_rsa, "PS256", "rsa"))) == AuthFailure::bad_signature);
}

TEST_CASE("jwks: alg must be one the kid's key is for", "[jwks][algorithm]") {
  const TempFile file(jwks({ed_key().jwk("ed"), p256_key().jwk("p256"), rsa_key().jwk("rsa")}));
  const JwtVerifier verifier(file_options(file));
  // An RS256 signature (by our own RSA key, even) under the ES256 key's kid.
  CHECK(failure(verifier.verify(token(rsa_key(), "RS256", "p256"))) ==
        AuthFailure::unsupported_algorithm);
  CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", "p256"))) ==
        AuthFailure::unsupported_algorithm);
  CHECK(failure(verifier.verify(token(p256_key(), "ES256", "ed"))) ==
        AuthFailure::unsupported_algorithm);
  // A P-256 key verifies ES256 only, not ES384 (RFC 7518 §3.4 binds the curve to the hash).
  CHECK(failure(verifier.verify(token(p256_key(), "ES384", "p256"))) ==
        AuthFailure::unsupported_algorithm);
  CHECK(failure(verifier.verify(token(rsa_key(), "ES256", "rsa"))) ==
        AuthFailure::unsupported_algorithm);
}

TEST_CASE("jwks: alg none is refused with a JWKS", "[jwks][algorithm]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  const JwtVerifier verifier(file_options(file));
  for (const char* alg : {"none", "None", "NONE"}) {
    INFO(alg);
    const std::string unsigned_token = b64(header(alg, "ed").dump()) + "." + b64(claims().dump());
    CHECK(failure(verifier.verify(unsigned_token + ".")) == AuthFailure::unsupported_algorithm);
    // With a real EdDSA signature attached the header still decides.
    const std::string signed_anyway =
        unsigned_token + "." + b64(ed_key().sign("EdDSA", unsigned_token));
    CHECK(failure(verifier.verify(signed_anyway)) == AuthFailure::unsupported_algorithm);
  }
}

TEST_CASE("jwks: no HS/asymmetric confusion with public key bytes as the HMAC secret",
          "[jwks][algorithm]") {
  const TempFile file(jwks({ed_key().jwk("ed"), p256_key().jwk("p256"), rsa_key().jwk("rsa")}));
  const JwtVerifier jwks_only(file_options(file));
  JwtOptions o = file_options(file);
  o.hs_secret = secret;
  const JwtVerifier with_secret(o);

  const std::pair<const TestKey*, const char*> keys[] = {
      {&ed_key(), "ed"}, {&p256_key(), "p256"}, {&rsa_key(), "rsa"}};
  for (const auto& [key, kid] : keys) {
    for (const std::string& mac_key : {key->public_pem(), key->public_der(), key->public_raw(),
                                       key->jwk(std::string(kid)).dump()}) {
      for (const char* alg : {"HS256", "HS384", "HS512"}) {
        INFO(kid << " " << alg << " secret of " << mac_key.size() << " bytes");
        const std::string t =
            libtodo::sign_hs_compact(mac_key, alg, header(alg, kid).dump(), claims().dump());
        CHECK(failure(jwks_only.verify(t)) == AuthFailure::unsupported_algorithm);
        CHECK(failure(with_secret.verify(t)) == AuthFailure::bad_signature);
      }
    }
  }
}

TEST_CASE("jwks: keys named in the token header are never used", "[jwks][header]") {
  const TestKey attacker(KeyType::ed25519);
  const json attacker_jwk = attacker.jwk("attacker");
  const std::vector<std::pair<const char*, json>> members = {
      {"jwk", attacker_jwk},
      {"jku", "https://evil.example/jwks.json"},
      {"x5u", "https://evil.example/cert.pem"},
      {"x5c", json::array({"MIIBszCCAVmgAwIBAgIUEvil"})},
  };
  auto stub = std::make_shared<FetchStub>();
  stub->serve(jwks({ed_key().jwk("ed")}));
  JwtOptions o = url_options(stub);
  o.jwks_min_refresh = seconds{0};  // every unknown kid refetches: we see which URL is asked
  const JwtVerifier verifier(o);

  for (const auto& [name, value] : members) {
    INFO(name);
    json h = header("EdDSA", "attacker");
    h[name] = value;
    CHECK(failure(verifier.verify(compact(attacker, "EdDSA", h, claims()))) ==
          AuthFailure::unknown_key);
  }
  SECTION("all of them at once, with the attacker key's JWKS served at the jku") {
    json h = header("EdDSA", "attacker");
    for (const auto& [name, value] : members) h[name] = value;
    CHECK(failure(verifier.verify(compact(attacker, "EdDSA", h, claims()))) ==
          AuthFailure::unknown_key);
  }
  SECTION("without kid, the configured key is chosen and the attacker's signature fails") {
    json h = header("EdDSA", std::nullopt);
    h["jwk"] = attacker.jwk(std::nullopt);
    CHECK(failure(verifier.verify(compact(attacker, "EdDSA", h, claims()))) ==
          AuthFailure::bad_signature);
  }
  // Only the configured URL was ever fetched.
  for (const std::string& url : stub->requested()) CHECK(url == stub_url);
}

TEST_CASE("jwks: unknown and hostile kids are unknown_key", "[jwks][kid]") {
  const TempFile file(jwks({ed_key().jwk("ed"), rsa_key().jwk("rsa")}));
  JwtOptions o = file_options(file);
  o.max_token_bytes = 64 * 1024;  // so that the 10 KB kid reaches the key lookup
  const JwtVerifier verifier(o);
  for (const std::string& kid :
       {std::string("nope"), std::string("../../etc/passwd"), std::string("' OR 1=1 --"),
        std::string(10 * 1024, 'k'), std::string(), std::string("ED"), std::string("ed "),
        std::string("ed\0", 3), std::string("rsa/../ed")}) {
    INFO("kid of " << kid.size() << " bytes: " << kid.substr(0, 20));
    CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", kid))) == AuthFailure::unknown_key);
  }
  SECTION("with the default size limit, the 10 KB kid is refused before that") {
    const JwtVerifier strict(file_options(file));
    CHECK(failure(strict.verify(token(ed_key(), "EdDSA", std::string(10 * 1024, 'k')))) ==
          AuthFailure::malformed);
  }
}

TEST_CASE("jwks: a kid that is not a string is malformed", "[jwks][kid]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  const JwtVerifier verifier(file_options(file));
  for (const json& kid :
       {json(42), json(nullptr), json(true), json::array({"ed"}), json{{"kid", "ed"}}}) {
    INFO(kid.dump());
    json h = header("EdDSA", std::nullopt);
    h["kid"] = kid;
    CHECK(failure(verifier.verify(compact(ed_key(), "EdDSA", h, claims()))) ==
          AuthFailure::malformed);
  }
}

TEST_CASE("jwks: a token without kid uses the only key that fits its alg", "[jwks][kid]") {
  SECTION("one fitting key: accepted") {
    const TempFile file(jwks({ed_key().jwk("ed"), p256_key().jwk("p256"), rsa_key().jwk("rsa")}));
    const JwtVerifier verifier(file_options(file));
    CHECK(verifier.verify(token(ed_key(), "EdDSA", std::nullopt)).ok());
    CHECK(verifier.verify(token(p256_key(), "ES256", std::nullopt)).ok());
    CHECK(verifier.verify(token(rsa_key(), "PS384", std::nullopt)).ok());
    // Nothing fits ES384 here.
    CHECK(failure(verifier.verify(token(shared_key(KeyType::p384), "ES384", std::nullopt))) ==
          AuthFailure::unknown_key);
  }
  SECTION("a JWK without kid serves tokens without kid") {
    const TempFile file(jwks({ed_key().jwk(std::nullopt)}));
    const JwtVerifier verifier(file_options(file));
    CHECK(verifier.verify(token(ed_key(), "EdDSA", std::nullopt)).ok());
    CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", "ed"))) == AuthFailure::unknown_key);
  }
  SECTION("two fitting keys: ambiguous, so unknown_key") {
    const TestKey second(KeyType::ed25519);
    const TempFile file(jwks({ed_key().jwk("ed"), second.jwk("ed2"), p256_key().jwk("p256")}));
    const JwtVerifier verifier(file_options(file));
    CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", std::nullopt))) ==
          AuthFailure::unknown_key);
    CHECK(failure(verifier.verify(token(second, "EdDSA", std::nullopt))) ==
          AuthFailure::unknown_key);
    CHECK(verifier.verify(token(second, "EdDSA", "ed2")).ok());
    CHECK(verifier.verify(token(p256_key(), "ES256", std::nullopt)).ok());  // one ES256 key
  }
}

TEST_CASE("jwks: truncated tokens and signatures", "[jwks][signature]") {
  const TempFile file(jwks({ed_key().jwk("ed"), p256_key().jwk("p256")}));
  const JwtVerifier verifier(file_options(file));
  for (const auto& [key, alg, kid] :
       {std::tuple{&ed_key(), "EdDSA", "ed"}, std::tuple{&p256_key(), "ES256", "p256"}}) {
    INFO(alg);
    const std::string t = token(*key, alg, kid);
    const std::size_t dot1 = t.find('.');
    const std::size_t dot2 = t.rfind('.');
    REQUIRE(t.size() - dot2 - 1 == 86);  // 64 signature bytes
    REQUIRE(verifier.verify(t).ok());
    // 85 characters cannot be base64url: malformed.
    CHECK(failure(verifier.verify(t.substr(0, t.size() - 1))) == AuthFailure::malformed);
    // 84 characters decode to 63 bytes: a signature of the wrong length.
    CHECK(failure(verifier.verify(t.substr(0, t.size() - 2))) == AuthFailure::bad_signature);
    // The whole signature gone, the dot kept: an empty signature.
    CHECK(failure(verifier.verify(t.substr(0, dot2 + 1))) == AuthFailure::bad_signature);
    // Two parts, or cut inside the payload: not a compact JWS.
    CHECK(failure(verifier.verify(t.substr(0, dot2))) == AuthFailure::malformed);
    CHECK(failure(verifier.verify(t.substr(0, dot1 + 10))) == AuthFailure::malformed);
    CHECK(failure(verifier.verify(t.substr(0, dot1))) == AuthFailure::malformed);
  }
}

TEST_CASE("jwks: ECDSA signatures must be raw r||s of the curve's size", "[jwks][signature]") {
  const TempFile file(jwks({p256_key().jwk("p256"), shared_key(KeyType::p521).jwk("p521")}));
  const JwtVerifier verifier(file_options(file));
  const std::string t = token(p256_key(), "ES256", "p256");
  const std::string sig = raw_signature(t);
  REQUIRE(sig.size() == 64);
  REQUIRE(verifier.verify(t).ok());
  CHECK(failure(verifier.verify(with_signature(t, sig.substr(0, 63)))) ==
        AuthFailure::bad_signature);
  CHECK(failure(verifier.verify(with_signature(t, sig + std::string(1, '\0')))) ==
        AuthFailure::bad_signature);
  CHECK(failure(verifier.verify(with_signature(t, std::string(1, '\0') + sig))) ==
        AuthFailure::bad_signature);
  CHECK(failure(verifier.verify(with_signature(t, std::string(64, '\0')))) ==
        AuthFailure::bad_signature);
  // s and r swapped.
  CHECK(failure(verifier.verify(with_signature(t, sig.substr(32) + sig.substr(0, 32)))) ==
        AuthFailure::bad_signature);
  SECTION("the DER form OpenSSL produces is not a JWS signature") {
    const std::string der = compact(p256_key(), "ES256", header("ES256", "p256"), claims(), false);
    CHECK(raw_signature(der).size() != 64);
    CHECK(failure(verifier.verify(der)) == AuthFailure::bad_signature);
  }
  SECTION("ES512 halves are 66 bytes, not 65") {
    const std::string t512 = token(shared_key(KeyType::p521), "ES512", "p521");
    const std::string s512 = raw_signature(t512);
    REQUIRE(s512.size() == 132);
    CHECK(verifier.verify(t512).ok());
    // Each half stripped of its leading byte (usually zero: P-521 has 521 bits).
    const std::string short_halves = s512.substr(1, 65) + s512.substr(67);
    CHECK(failure(verifier.verify(with_signature(t512, short_halves))) ==
          AuthFailure::bad_signature);
  }
}

TEST_CASE("jwks: claims are checked for asymmetric tokens too", "[jwks][claims]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  JwtOptions o = file_options(file);
  o.issuer = "https://app.example.com";
  o.audience = "https://app.example.com";
  const JwtVerifier verifier(o);
  const auto good = [] {
    json p = claims();
    p["iss"] = "https://app.example.com";
    p["aud"] = "https://app.example.com";
    return p;
  };
  const auto ed = [](const json& payload) { return token(ed_key(), "EdDSA", "ed", payload); };
  REQUIRE(verifier.verify(ed(good())).ok());

  json p = good();
  p["exp"] = now_s - 61;  // beyond the 60 s leeway
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::expired);
  p["exp"] = now_s - 30;  // within it
  CHECK(verifier.verify(ed(p)).ok());
  p = good();
  p.erase("exp");
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::missing_expiry);
  p = good();
  p["nbf"] = now_s + 120;
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::not_yet_valid);
  p = good();
  p["iat"] = now_s + 120;
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::issued_in_future);
  p = good();
  p["iss"] = "https://evil.example.com";
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::wrong_issuer);
  p.erase("iss");
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::wrong_issuer);
  p = good();
  p["aud"] = "https://other.example.com";
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::wrong_audience);
  p["aud"] = json::array({"https://other.example.com", "https://app.example.com"});
  CHECK(verifier.verify(ed(p)).ok());
  p = good();
  p.erase("sub");
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::missing_subject);
  p["sub"] = "";
  CHECK(failure(verifier.verify(ed(p))) == AuthFailure::missing_subject);

  SECTION("a crit header is refused") {
    json h = header("EdDSA", "ed");
    h["crit"] = json::array({"exp"});
    h["exp"] = now_s;
    CHECK(failure(verifier.verify(compact(ed_key(), "EdDSA", h, good()))) ==
          AuthFailure::unsupported_critical);
  }
}

// --- 3. JWKS parsing --------------------------------------------------------------------------

TEST_CASE("jwks: unusable JWKs are skipped, the others used", "[jwks][parse]") {
  const TestKey small_rsa(KeyType::rsa1024);
  const TestKey& p256 = p256_key();

  json with_private = ed_key().jwk("private");
  with_private["d"] = b64(ed_key().raw_private());
  json for_encryption = ed_key().jwk("enc");
  for_encryption["use"] = "enc";
  json encrypt_ops = ed_key().jwk("ops");
  encrypt_ops["key_ops"] = json::array({"encrypt"});
  json off_curve = p256.jwk("offcurve");
  std::string y = unb64(off_curve["y"].get<std::string>());
  y.back() = static_cast<char>(y.back() ^ 1);  // (x, y^1) is not on P-256
  off_curve["y"] = b64(y);
  json wrong_alg = ed_key().jwk("wrongalg");
  wrong_alg["alg"] = "RS256";  // an alg the key type cannot do
  const json oct = {{"kty", "oct"}, {"kid", "oct"}, {"k", b64(secret)}};
  const json ed448 = {
      {"kty", "OKP"}, {"crv", "Ed448"}, {"kid", "ed448"}, {"x", b64(std::string(57, 'x'))}};
  const json no_kty = {{"kid", "nokty"}, {"x", ed_key().jwk(std::nullopt)["x"]}};

  const std::vector<std::pair<const char*, json>> skipped = {
      {"private d", with_private},
      {"use enc", for_encryption},
      {"key_ops", encrypt_ops},
      {"RSA 1024", small_rsa.jwk("small")},
      {"off-curve", off_curve},
      {"alg for another type", wrong_alg},
      {"oct", oct},
      {"Ed448", ed448},
      {"no kty", no_kty},
      {"not an object", json(42)},
  };

  SECTION("a file whose only key is skipped is a ConfigError") {
    for (const auto& [why, jwk] : skipped) {
      INFO(why);
      const TempFile file(jwks({jwk}));
      CHECK_THROWS_AS(JwtVerifier(file_options(file)), ConfigError);
    }
  }
  SECTION("next to usable keys, skipped keys are unknown") {
    json use_sig = ed_key().jwk("sig");
    use_sig["use"] = "sig";
    json verify_ops = ed_key().jwk("verify");
    verify_ops["key_ops"] = json::array({"verify"});
    std::vector<json> all = {ed_key().jwk("good"), use_sig, verify_ops};
    for (const auto& entry : skipped) all.push_back(entry.second);
    const TempFile file(jwks(all));
    const JwtVerifier verifier(file_options(file));
    CHECK(verifier.key_count() == 3);
    for (const char* kid : {"good", "sig", "verify"}) {
      INFO(kid);
      CHECK(verifier.verify(token(ed_key(), "EdDSA", kid)).ok());
    }
    for (const char* kid : {"private", "enc", "ops"}) {
      INFO(kid);
      CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", kid))) == AuthFailure::unknown_key);
    }
    CHECK(failure(verifier.verify(token(small_rsa, "RS256", "small"))) == AuthFailure::unknown_key);
    CHECK(failure(verifier.verify(token(p256, "ES256", "offcurve"))) == AuthFailure::unknown_key);
    CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", "wrongalg"))) ==
          AuthFailure::unknown_key);
  }
}

TEST_CASE("jwks: alg in a JWK restricts the key to it", "[jwks][parse]") {
  json rs_only = rsa_key().jwk("rs-only");
  rs_only["alg"] = "RS256";
  json ps_only = rsa_key().jwk("ps-only");
  ps_only["alg"] = "PS512";
  json ed = ed_key().jwk("ed");
  ed["alg"] = "EdDSA";
  const TempFile file(jwks({rs_only, ps_only, ed}));
  const JwtVerifier verifier(file_options(file));
  CHECK(verifier.verify(token(rsa_key(), "RS256", "rs-only")).ok());
  CHECK(failure(verifier.verify(token(rsa_key(), "PS256", "rs-only"))) ==
        AuthFailure::unsupported_algorithm);
  CHECK(failure(verifier.verify(token(rsa_key(), "RS512", "rs-only"))) ==
        AuthFailure::unsupported_algorithm);
  CHECK(verifier.verify(token(rsa_key(), "PS512", "ps-only")).ok());
  CHECK(failure(verifier.verify(token(rsa_key(), "RS256", "ps-only"))) ==
        AuthFailure::unsupported_algorithm);
  CHECK(verifier.verify(token(ed_key(), "EdDSA", "ed")).ok());
  // Without kid, RS256 fits only the rs-only key, PS512 only the ps-only key.
  CHECK(verifier.verify(token(rsa_key(), "RS256", std::nullopt)).ok());
  CHECK(verifier.verify(token(rsa_key(), "PS512", std::nullopt)).ok());
}

TEST_CASE("jwks: an unusable JWKS file is a ConfigError", "[jwks][parse][config]") {
  const auto opts = [](const std::string& path) {
    JwtOptions o;
    o.jwks_file = path;
    return o;
  };
  CHECK_THROWS_AS(JwtVerifier(opts("/nonexistent/libtodo-jwks.json")), ConfigError);
  for (const char* doc : {"", "not json", "{\"keys\":", "[]", "{}", R"({"keys":"x"})",
                          R"({"keys":{}})", R"({"keys":[]})", R"({"keys":[{}]})"}) {
    INFO(doc);
    const TempFile file(doc);
    CHECK_THROWS_AS(JwtVerifier(opts(file.path())), ConfigError);
  }
  SECTION("a directory") {
    CHECK_THROWS_AS(JwtVerifier(opts(std::filesystem::temp_directory_path().string())),
                    ConfigError);
  }
  SECTION("refresh intervals") {
    const TempFile file(jwks({ed_key().jwk("ed")}));
    JwtOptions o = opts(file.path());
    CHECK_NOTHROW(JwtVerifier(o));
    o.jwks_ttl = seconds{0};
    CHECK_THROWS_AS(JwtVerifier(o), ConfigError);
    o.jwks_ttl = seconds{600};
    o.jwks_min_refresh = seconds{-1};
    CHECK_THROWS_AS(JwtVerifier(o), ConfigError);
  }
}

TEST_CASE("jwks: refresh_keys rereads the JWKS file", "[jwks][refresh]") {
  const TestKey next(KeyType::ed25519);
  const TempFile file(jwks({ed_key().jwk("old")}));
  JwtVerifier verifier(file_options(file));
  const std::string old_token = token(ed_key(), "EdDSA", "old");
  const std::string new_token = token(next, "EdDSA", "new");
  CHECK(verifier.verify(old_token).ok());
  // No URL: an unknown kid does not reread the file.
  file.write(jwks({next.jwk("new")}));
  CHECK(failure(verifier.verify(new_token)) == AuthFailure::unknown_key);

  CHECK(verifier.refresh_keys());
  CHECK(verifier.key_count() == 1);
  CHECK(verifier.verify(new_token).ok());
  CHECK(failure(verifier.verify(old_token)) == AuthFailure::unknown_key);

  SECTION("an unreadable file keeps the keys") {
    file.write("not json");
    CHECK_FALSE(verifier.refresh_keys());
    CHECK(verifier.key_count() == 1);
    CHECK(verifier.verify(new_token).ok());
    std::filesystem::remove(file.path());
    CHECK_FALSE(verifier.refresh_keys());
    CHECK(verifier.verify(token(next, "EdDSA", "new", claims("someone-else"))).ok());
  }
}

// --- 4. JWKS URL through a fetch stub ---------------------------------------------------------

TEST_CASE("jwks: keys from a URL, refetched on an unknown kid at most once per interval",
          "[jwks][url]") {
  const TestKey key_a(KeyType::ed25519), key_b(KeyType::ed25519), key_c(KeyType::ed25519);
  auto stub = std::make_shared<FetchStub>();
  stub->serve(jwks({key_a.jwk("a")}));
  JwtVerifier verifier(url_options(stub));  // jwks_min_refresh 30 s

  // Loaded at construction, from the configured URL.
  CHECK(stub->calls == 1);
  CHECK(stub->requested() == std::vector<std::string>{stub_url});
  CHECK(verifier.key_count() == 1);
  CHECK(verifier.stats().jwks_fetches == 1);
  CHECK(verifier.verify(token(key_a, "EdDSA", "a")).ok());
  CHECK(stub->calls == 1);  // a known kid fetches nothing

  // Rotation: the issuer publishes b; the first token with kid b fetches once and passes.
  stub->serve(jwks({key_a.jwk("a"), key_b.jwk("b")}));
  CHECK(verifier.verify(token(key_b, "EdDSA", "b")).ok());
  CHECK(stub->calls == 2);
  CHECK(verifier.key_count() == 2);
  CHECK(verifier.stats().jwks_fetches == 2);

  // c is published too, but within jwks_min_refresh an unknown kid does not fetch again.
  stub->serve(jwks({key_a.jwk("a"), key_b.jwk("b"), key_c.jwk("c")}));
  CHECK(failure(verifier.verify(token(key_c, "EdDSA", "c"))) == AuthFailure::unknown_key);
  CHECK(failure(verifier.verify(token(key_c, "EdDSA", "zzz"))) == AuthFailure::unknown_key);
  CHECK(stub->calls == 2);
  CHECK(verifier.stats().jwks_fetches == 2);

  // refresh_keys() is not rate-limited.
  CHECK(verifier.refresh_keys());
  CHECK(stub->calls == 3);
  CHECK(verifier.key_count() == 3);
  CHECK(verifier.verify(token(key_c, "EdDSA", "c")).ok());
  CHECK(verifier.stats().jwks_fetches == 3);
  CHECK(verifier.stats().jwks_fetch_failures == 0);
}

TEST_CASE("jwks: with jwks_min_refresh 0 every unknown kid refetches", "[jwks][url]") {
  auto stub = std::make_shared<FetchStub>();
  stub->serve(jwks({ed_key().jwk("a")}));
  JwtOptions o = url_options(stub);
  o.jwks_min_refresh = seconds{0};
  const JwtVerifier verifier(o);
  REQUIRE(stub->calls == 1);
  for (int i = 1; i <= 3; ++i) {
    CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", "unknown"))) ==
          AuthFailure::unknown_key);
    CHECK(stub->calls == 1 + i);  // exactly one fetch per token
  }
  // A kid over the size limit never fetches.
  CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", std::string(300, 'k')))) ==
        AuthFailure::unknown_key);
  CHECK(stub->calls == 4);
  CHECK(verifier.stats().jwks_fetches == 4);
}

TEST_CASE("jwks: a failed fetch keeps the keys already known", "[jwks][url]") {
  auto stub = std::make_shared<FetchStub>();
  stub->serve(jwks({ed_key().jwk("a")}));
  JwtOptions o = url_options(stub);
  o.cache_capacity = 0;  // every verify below really uses the key
  JwtVerifier verifier(o);
  REQUIRE(verifier.key_count() == 1);

  stub->serve(std::nullopt);
  CHECK_FALSE(verifier.refresh_keys());
  CHECK(verifier.key_count() == 1);
  CHECK(verifier.verify(token(ed_key(), "EdDSA", "a")).ok());
  CHECK(verifier.stats().jwks_fetch_failures == 1);

  // A body that is not a JWKS (an error page) is a failure too.
  for (const char* body : {"<html>502 Bad Gateway</html>", "{}", R"({"keys":7})"}) {
    INFO(body);
    stub->serve(body);
    CHECK_FALSE(verifier.refresh_keys());
    CHECK(verifier.key_count() == 1);
    CHECK(verifier.verify(token(ed_key(), "EdDSA", "a", claims("u2"))).ok());
  }
  CHECK(verifier.stats().jwks_fetch_failures == 4);
  CHECK(verifier.stats().jwks_fetches == 5);

  // An unknown kid while the issuer is down: unknown_key, and the known key still works.
  stub->serve(std::nullopt);
  CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", "b"))) == AuthFailure::unknown_key);
  CHECK(verifier.verify(token(ed_key(), "EdDSA", "a")).ok());
}

TEST_CASE("jwks: an issuer down at construction is not an error", "[jwks][url]") {
  auto stub = std::make_shared<FetchStub>();  // serves nothing yet
  JwtVerifier verifier(url_options(stub));
  CHECK(stub->calls == 1);
  CHECK(verifier.key_count() == 0);
  CHECK(verifier.stats().jwks_fetch_failures == 1);
  // The unknown kid tried once more (the fetch at construction does not count against
  // jwks_min_refresh), in vain.
  CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", "a"))) == AuthFailure::unknown_key);
  CHECK(stub->calls == 2);
  // The issuer comes up: the next reload picks its keys.
  stub->serve(jwks({ed_key().jwk("a")}));
  CHECK(verifier.refresh_keys());
  CHECK(verifier.key_count() == 1);
  CHECK(verifier.verify(token(ed_key(), "EdDSA", "a")).ok());
}

TEST_CASE("jwks: a key gone from a successful fetch stops verifying, cached or not",
          "[jwks][url][cache]") {
  const TestKey key_b(KeyType::ed25519);
  auto stub = std::make_shared<FetchStub>();
  stub->serve(jwks({ed_key().jwk("a"), key_b.jwk("b")}));
  JwtVerifier verifier(url_options(stub));
  const std::string token_a = token(ed_key(), "EdDSA", "a");
  REQUIRE(verifier.verify(token_a).ok());
  REQUIRE(verifier.verify(token_a).ok());
  REQUIRE(verifier.stats().cache_hits == 1);  // token_a is cached

  stub->serve(jwks({key_b.jwk("b")}));
  CHECK(verifier.refresh_keys());
  CHECK(verifier.key_count() == 1);
  CHECK(failure(verifier.verify(token_a)) == AuthFailure::unknown_key);
  CHECK(verifier.stats().cache_hits == 1);
  CHECK(verifier.verify(token(key_b, "EdDSA", "b")).ok());

  SECTION("a kid reused for a new key: tokens of the old key fail") {
    const TestKey key_b2(KeyType::ed25519);
    const std::string token_b = token(key_b, "EdDSA", "b", claims("old-b"));
    REQUIRE(verifier.verify(token_b).ok());
    REQUIRE(verifier.verify(token_b).ok());  // cached
    const auto hits = verifier.stats().cache_hits;
    stub->serve(jwks({key_b2.jwk("b")}));
    CHECK(verifier.refresh_keys());
    CHECK(failure(verifier.verify(token_b)) == AuthFailure::bad_signature);
    CHECK(verifier.stats().cache_hits == hits);
    CHECK(verifier.verify(token(key_b2, "EdDSA", "b")).ok());
  }
  SECTION("an empty but valid JWKS drops every key") {
    stub->serve(jwks({}));
    CHECK(verifier.refresh_keys());
    CHECK(verifier.key_count() == 0);
    CHECK(failure(verifier.verify(token(key_b, "EdDSA", "b"))) == AuthFailure::unknown_key);
  }
}

TEST_CASE("jwks: the JWKS is also refreshed in the background every jwks_ttl",
          "[jwks][url][refresh]") {
  const TestKey next(KeyType::ed25519), spare(KeyType::ed25519);
  auto stub = std::make_shared<FetchStub>();
  stub->serve(jwks({ed_key().jwk("a")}));
  JwtOptions o = url_options(stub);
  o.jwks_ttl = seconds{1};
  const JwtVerifier verifier(o);
  REQUIRE(stub->calls == 1);
  REQUIRE(verifier.key_count() == 1);
  stub->serve(jwks({next.jwk("b"), spare.jwk("c")}));
  // No token asks for the new keys: the refresher alone must pick up the rotation.
  for (int i = 0; i < 500 && verifier.key_count() != 2; ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(verifier.key_count() == 2);
  const int calls = stub->calls;
  CHECK(calls >= 2);
  CHECK(verifier.verify(token(next, "EdDSA", "b")).ok());
  CHECK(stub->calls == calls);  // b was known already: no fetch on its behalf
  CHECK(failure(verifier.verify(token(ed_key(), "EdDSA", "a"))) == AuthFailure::unknown_key);
}

TEST_CASE("jwks: a refresh that changes only a key's alg takes effect", "[jwks][url][refresh]") {
  // Same kid, same key material, but the issuer now pins the key to RS256.
  auto stub = std::make_shared<FetchStub>();
  stub->serve(jwks({rsa_key().jwk("r")}));
  JwtVerifier verifier(url_options(stub));
  CHECK(verifier.verify(token(rsa_key(), "PS256", "r", claims("before"))).ok());

  json pinned = rsa_key().jwk("r");
  pinned["alg"] = "RS256";
  stub->serve(jwks({pinned}));
  CHECK(verifier.refresh_keys());
  CHECK(verifier.verify(token(rsa_key(), "RS256", "r", claims("after"))).ok());
  // A new (uncached) PS256 token must now be refused.
  const Verification ps256 = verifier.verify(token(rsa_key(), "PS256", "r", claims("after")));
  INFO("a PS256 token after the JWKS pinned kid r to RS256");
  REQUIRE_FALSE(ps256.ok());
  CHECK(ps256.failure() == AuthFailure::unsupported_algorithm);
}

TEST_CASE("jwks: a token in flight while its key is removed is not cached afterwards",
          "[jwks][url][cache][threads]") {
  // verify() picks the key, checks the signature, then caches the principal; a refresh that
  // drops the key and empties the cache in between must not let that entry survive.
  const TestKey key_b(KeyType::ed25519);
  std::vector<std::string> tokens;
  for (int i = 0; i < 400; ++i)
    tokens.push_back(token(ed_key(), "EdDSA", "a", claims("user-" + std::to_string(i))));
  auto stub = std::make_shared<FetchStub>();
  const std::string with_a = jwks({ed_key().jwk("a"), key_b.jwk("b")});
  const std::string without_a = jwks({key_b.jwk("b")});
  stub->serve(with_a);
  JwtVerifier verifier(url_options(stub));

  int survivors = 0;
  int round = 0;
  for (; round < 20 && survivors == 0; ++round) {
    stub->serve(with_a);
    REQUIRE(verifier.refresh_keys());
    std::atomic<bool> stop{false};
    std::atomic<int> verified{0};
    std::thread worker([&] {
      // Distinct tokens, so that nearly every call is a full verification.
      for (std::size_t i = 0; !stop; i = (i + 1) % tokens.size())
        if (verifier.verify(tokens[i]).ok()) ++verified;
    });
    while (verified < 20) std::this_thread::yield();
    stub->serve(without_a);
    REQUIRE(verifier.refresh_keys());  // key a gone, cache emptied
    stop = true;
    worker.join();
    for (const std::string& t : tokens) survivors += verifier.verify(t).ok() ? 1 : 0;
  }
  INFO("tokens of the removed key still accepted (from the cache) after round " << round);
  CHECK(survivors == 0);
}

// --- 5. a real HTTP JWKS URL ------------------------------------------------------------------

TEST_CASE("jwks: keys from an http URL served by a real server", "[jwks][url][http]") {
  httplib::Server server;
  std::atomic<int> requests{0};
  const std::string document = jwks({ed_key().jwk("ed"), rsa_key().jwk("rsa")});
  server.Get("/jwks", [&](const httplib::Request&, httplib::Response& res) {
    ++requests;
    res.set_content(document, "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread listener([&] { server.listen_after_bind(); });
  // stop() only works once listening has begun.
  for (int i = 0; i < 500 && !server.is_running(); ++i) std::this_thread::sleep_for(10ms);
  REQUIRE(server.is_running());

  const std::string base = "http://127.0.0.1:" + std::to_string(port);
  {
    JwtOptions o;
    o.jwks_url = base + "/jwks";
    o.jwks_fetch_timeout = seconds{5};
    o.clock = [] { return now_tp; };
    const JwtVerifier verifier(o);
    CHECK(verifier.key_count() == 2);
    CHECK(requests == 1);
    CHECK(verifier.verify(token(ed_key(), "EdDSA", "ed")).ok());
    CHECK(verifier.verify(token(rsa_key(), "PS256", "rsa")).ok());
    CHECK(verifier.stats().jwks_fetches == 1);
    CHECK(verifier.stats().jwks_fetch_failures == 0);
  }
  {
    // A 404 is a failed fetch, not keys.
    JwtOptions o;
    o.jwks_url = base + "/missing";
    const JwtVerifier verifier(o);
    CHECK(verifier.key_count() == 0);
    CHECK(verifier.stats().jwks_fetch_failures == 1);
  }
  server.stop();
  listener.join();
}

TEST_CASE("jwks: a JWKS URL must be http or https; an unreachable one is not fatal",
          "[jwks][url][http]") {
  JwtOptions o;
  for (const char* url : {"ftp://x", "file:///etc/passwd", "127.0.0.1/jwks", "HTTP//x"}) {
    INFO(url);
    o.jwks_url = url;
    CHECK_THROWS_AS(JwtVerifier(o), ConfigError);
  }

  o.jwks_url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/jwks";
  o.jwks_fetch_timeout = seconds{2};
  o.clock = [] { return now_tp; };
  std::optional<JwtVerifier> verifier;
  CHECK_NOTHROW(verifier.emplace(o));
  REQUIRE(verifier);
  CHECK(verifier->key_count() == 0);
  CHECK(failure(verifier->verify(token(ed_key(), "EdDSA", "ed"))) == AuthFailure::unknown_key);
  CHECK(failure(verifier->verify(token(ed_key(), "EdDSA", std::nullopt))) ==
        AuthFailure::unknown_key);
  CHECK_FALSE(verifier->refresh_keys());
  CHECK(verifier->stats().jwks_fetch_failures >= 2);
}

// --- 6. the verified-token cache --------------------------------------------------------------

TEST_CASE("jwks: a repeated token is served from the cache", "[jwks][cache]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  const JwtVerifier verifier(file_options(file));
  json p = claims();
  p["email"] = "ada@example.com";
  const std::string t = token(ed_key(), "EdDSA", "ed", p);
  const Verification first = verifier.verify(t);
  const Verification second = verifier.verify(t);
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(verifier.stats().cache_hits == 1);
  CHECK(verifier.stats().cache_misses == 1);
  // The cached principal is the same one.
  CHECK(second.principal().user_id == first.principal().user_id);
  CHECK(second.principal().email == "ada@example.com");
  CHECK(second.principal().expires_at == first.principal().expires_at);

  SECTION("a tampered variant of a cached token is checked, and fails") {
    std::string forged = t;
    char& c = forged[forged.rfind('.') + 5];
    c = c == 'A' ? 'B' : 'A';
    CHECK(failure(verifier.verify(forged)) == AuthFailure::bad_signature);
    CHECK(verifier.stats().cache_hits == 1);
    CHECK(verifier.verify(t).ok());  // the original is still cached
    CHECK(verifier.stats().cache_hits == 2);
  }
  SECTION("failures are not cached") {
    const std::string bad = token(TestKey(KeyType::ed25519), "EdDSA", "ed");
    CHECK(failure(verifier.verify(bad)) == AuthFailure::bad_signature);
    CHECK(failure(verifier.verify(bad)) == AuthFailure::bad_signature);
    CHECK(verifier.stats().cache_hits == 1);
  }
}

TEST_CASE("jwks: the cache never returns an expired principal", "[jwks][cache][time]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  auto clock_s = std::make_shared<std::atomic<long long>>(now_s);
  JwtOptions o = file_options(file);
  o.clock = [clock_s] { return system_clock::time_point{seconds{clock_s->load()}}; };
  const JwtVerifier verifier(o);
  // exp = now + 900, and the leeway is 60 s.
  const std::string t = token(ed_key(), "EdDSA", "ed");

  REQUIRE(verifier.verify(t).ok());  // cached
  *clock_s = now_s + 900 + 59;       // expired, within the leeway
  CHECK(verifier.verify(t).ok());
  CHECK(verifier.stats().cache_hits == 1);
  *clock_s = now_s + 900 + 60;  // beyond it
  CHECK(failure(verifier.verify(t)) == AuthFailure::expired);
  *clock_s = now_s + 86400;
  CHECK(failure(verifier.verify(t)) == AuthFailure::expired);
  CHECK(verifier.stats().cache_hits == 1);
}

TEST_CASE("jwks: cache_capacity 0 turns the cache off", "[jwks][cache]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  JwtOptions o = file_options(file);
  o.cache_capacity = 0;
  const JwtVerifier verifier(o);
  const std::string t = token(ed_key(), "EdDSA", "ed");
  for (int i = 0; i < 3; ++i) CHECK(verifier.verify(t).ok());
  CHECK(verifier.stats().cache_hits == 0);
}

TEST_CASE("jwks: a token before its nbf (within the leeway) verifies each time",
          "[jwks][cache][time]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  const JwtVerifier verifier(file_options(file));
  json p = claims();
  p["nbf"] = now_s + 30;
  const std::string t = token(ed_key(), "EdDSA", "ed", p);
  for (int i = 0; i < 2; ++i) {
    const Verification v = verifier.verify(t);
    REQUIRE(v.ok());
    CHECK(v.principal().user_id == "user-123");
  }
  p["nbf"] = now_s + 120;  // beyond the leeway
  const std::string early = token(ed_key(), "EdDSA", "ed", p);
  CHECK(failure(verifier.verify(early)) == AuthFailure::not_yet_valid);
  CHECK(failure(verifier.verify(early)) == AuthFailure::not_yet_valid);
}

// --- 7. HS secret and JWKS together -----------------------------------------------------------

TEST_CASE("jwks: an HS secret and a JWKS in one verifier accept both kinds", "[jwks][hs]") {
  const TempFile file(jwks({ed_key().jwk("ed")}));
  JwtOptions o = file_options(file);
  o.hs_secret = secret;
  const JwtVerifier verifier(o);
  const std::string hs = libtodo::sign_hs_compact(
      secret, "HS256", header("HS256", std::nullopt).dump(), claims("hs-user").dump());
  const Verification a = verifier.verify(hs);
  REQUIRE(a.ok());
  CHECK(a.principal().user_id == "hs-user");
  const Verification b = verifier.verify(token(ed_key(), "EdDSA", "ed", claims("ed-user")));
  REQUIRE(b.ok());
  CHECK(b.principal().user_id == "ed-user");
  // An HS token naming a JWKS kid is still checked with the secret.
  CHECK(verifier
            .verify(libtodo::sign_hs_compact(secret, "HS256", header("HS256", "ed").dump(),
                                             claims().dump()))
            .ok());
  CHECK(failure(verifier.verify(token(TestKey(KeyType::ed25519), "EdDSA", "ed"))) ==
        AuthFailure::bad_signature);
}

// --- 8. threads -------------------------------------------------------------------------------

TEST_CASE("jwks: verify from several threads at once", "[jwks][threads]") {
  constexpr int threads = 4;
  constexpr int per_thread = 500;
  const TestKey k1(KeyType::ed25519), k2(KeyType::ed25519), k3(KeyType::ed25519);
  const TestKey stranger(KeyType::ed25519);
  const std::vector<std::string> good = {token(k1, "EdDSA", "k1", claims("user-1")),
                                         token(k2, "EdDSA", "k2", claims("user-2")),
                                         token(k3, "EdDSA", "k3", claims("user-3"))};
  json expired_claims = claims("user-1");
  expired_claims["exp"] = now_s - 3600;
  const std::vector<std::pair<std::string, AuthFailure>> bad = {
      {token(stranger, "EdDSA", "k1"), AuthFailure::bad_signature},
      {token(stranger, "EdDSA", "nobody"), AuthFailure::unknown_key},
      {token(k2, "EdDSA", "k2", expired_claims), AuthFailure::expired},
  };
  const std::string doc = jwks({k1.jwk("k1"), k2.jwk("k2"), k3.jwk("k3")});

  const auto hammer = [&](const JwtVerifier& verifier, std::atomic<int>& wrong) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        for (int i = 0; i < per_thread; ++i) {
          const std::size_t g = static_cast<std::size_t>((i + t) % 3);
          const Verification v = verifier.verify(good[g]);
          if (!v.ok() || v.principal().user_id != "user-" + std::to_string(g + 1)) ++wrong;
          const auto& [bad_token, expected] = bad[static_cast<std::size_t>(i % 3)];
          const Verification f = verifier.verify(bad_token);
          if (f.ok() || f.failure() != expected) ++wrong;
        }
      });
    }
    for (auto& th : pool) th.join();
  };

  SECTION("keys from a file") {
    const TempFile file(doc);
    JwtVerifier verifier(file_options(file));
    std::atomic<int> wrong{0};
    hammer(verifier, wrong);
    CHECK(wrong == 0);
  }
  SECTION("keys from a URL, reloaded concurrently (cache emptied each time)") {
    auto stub = std::make_shared<FetchStub>();
    stub->serve(doc);
    JwtVerifier verifier(url_options(stub));
    const std::string with_extra =
        jwks({k1.jwk("k1"), k2.jwk("k2"), k3.jwk("k3"), stranger.jwk("extra")});
    std::atomic<bool> done{false};
    std::thread reloader([&] {
      for (int i = 0; !done; ++i) {
        stub->serve(i % 2 == 0 ? with_extra : doc);  // the key set changes every time
        verifier.refresh_keys();
        std::this_thread::sleep_for(1ms);
      }
    });
    std::atomic<int> wrong{0};
    hammer(verifier, wrong);
    done = true;
    reloader.join();
    CHECK(wrong == 0);
    CHECK(stub->calls > 1);
  }
}
