// Token attacks through the HTTP server (issue 10): forged, confused, stale,
// misaddressed and malformed bearer tokens, against a server configured with
// an HS256 secret, with a JWKS URL, and with both (a JWKS file). Every one must
// get 401 with the same body (the client learns nothing about why), create
// nothing, and never make the server fetch a key the token points to.

#include <catch2/catch.hpp>

#include <atomic>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include <httplib.h>
#include <openssl/hmac.h>

#include "http/temp_dir.hpp"
#include "http/test_server.hpp"
#include "jwt/test_keys.hpp"

namespace {

using json = nlohmann::json;
using test::KeyType;
using test::Reply;
using test::shared_key;

const std::string issuer = "https://issuer.test";
const std::string audience = "https://app.test";
const std::string victim = "victim";

// A JWKS document of the server's keys: Ed25519 "ed", RSA "rsa", P-256 "ec".
std::string server_jwks() {
  return json{{"keys",
               {shared_key(KeyType::ed25519).jwk("ed"), shared_key(KeyType::rsa2048).jwk("rsa"),
                shared_key(KeyType::p256).jwk("ec")}}}
      .dump();
}

// A loopback HTTP server that serves one document and counts requests: the
// legitimate issuer's JWKS URL, or an attacker's key URL that must never be hit.
class KeyHost {
 public:
  explicit KeyHost(std::string body) : body_(std::move(body)) {
    server_.Get(".*", [this](const httplib::Request&, httplib::Response& res) {
      ++hits_;
      res.set_content(body_, "application/json");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~KeyHost() {
    server_.stop();
    thread_.join();
  }
  KeyHost(const KeyHost&) = delete;
  KeyHost& operator=(const KeyHost&) = delete;

  [[nodiscard]] std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/jwks";
  }
  [[nodiscard]] int hits() const { return hits_; }

 private:
  std::string body_;
  httplib::Server server_;
  std::atomic<int> hits_{0};
  int port_ = 0;
  std::thread thread_;
};

enum class Keys { hs, jwks_url, hs_and_jwks_file };

// One way to make a correctly signed token in a configuration.
struct Signer {
  std::string name;
  std::function<std::string(const json& header, const json& payload)> sign;
  json header;  // a header it accepts (alg, kid)
};

// An HMAC-SHA256 JWS signature made with OpenSSL directly: unlike the
// library's minting, it takes any key, the empty one included.
std::string mac(const std::string& input, const std::string& key) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
               reinterpret_cast<const unsigned char*>(input.data()), input.size(), out,
               &len) != nullptr);
  return libtodo::base64url_encode(std::string(reinterpret_cast<const char*>(out), len));
}

std::string hs256(const json& header, const json& payload, const std::string& key = test::secret) {
  const std::string input =
      libtodo::base64url_encode(header.dump()) + "." + libtodo::base64url_encode(payload.dump());
  return input + "." + mac(input, key);
}

std::vector<Signer> signers(Keys keys) {
  std::vector<Signer> out;
  if (keys != Keys::jwks_url)
    out.push_back({"HS256",
                   [](const json& h, const json& p) { return hs256(h, p); },
                   {{"alg", "HS256"}, {"typ", "JWT"}}});
  if (keys != Keys::hs) {
    for (const auto& [alg, kid, type] :
         {std::tuple{"EdDSA", "ed", KeyType::ed25519}, std::tuple{"RS256", "rsa", KeyType::rsa2048},
          std::tuple{"ES256", "ec", KeyType::p256}}) {
      const test::TestKey& key = shared_key(type);
      const std::string a = alg;
      out.push_back(
          {a,
           [&key, a](const json& h, const json& p) { return test::compact_jws(key, a, h, p); },
           {{"alg", a}, {"kid", kid}}});
    }
  }
  return out;
}

long long now_s() {
  return static_cast<long long>(std::time(nullptr));
}

json good_claims() {
  return {{"sub", victim},
          {"iss", issuer},
          {"aud", audience},
          {"iat", now_s()},
          {"exp", now_s() + 600}};
}

json with(json j, const std::string& name, const json& value) {
  j[name] = value;
  return j;
}

json without(json j, const std::string& name) {
  j.erase(name);
  return j;
}

struct Attack {
  std::string name;
  std::string token;
};

// Tokens signed correctly whose claims must not be accepted (leeway: 60 s).
std::vector<Attack> claim_attacks(const Signer& s) {
  const json c = good_claims();
  const long long now = now_s();
  std::vector<Attack> out;
  const auto add = [&](const std::string& name, const json& claims) {
    out.push_back({s.name + ": " + name, s.sign(s.header, claims)});
  };
  add("expired beyond the leeway", with(c, "exp", now - 75));
  add("expired long ago", with(c, "exp", 1));
  add("exp missing", without(c, "exp"));
  add("exp a string", with(c, "exp", std::to_string(now + 600)));
  add("nbf in the future beyond the leeway", with(c, "nbf", now + 180));
  add("iat in the future beyond the leeway", with(c, "iat", now + 180));
  add("wrong iss", with(c, "iss", "https://evil.test"));
  add("iss missing", without(c, "iss"));
  add("iss in an array", with(c, "iss", json::array({issuer})));
  add("wrong aud", with(c, "aud", "https://evil.test"));
  add("aud missing", without(c, "aud"));
  add("aud array without ours", with(c, "aud", json::array({"https://evil.test", "x"})));
  add("empty sub", with(c, "sub", ""));
  add("sub missing", without(c, "sub"));
  add("sub a number", with(c, "sub", 42));
  add("sub null", with(c, "sub", nullptr));
  add("sub of 256 bytes", with(c, "sub", std::string(256, 'u')));
  add("sub with a NUL", with(c, "sub", std::string("vic\0tim", 7)));
  add("claims not an object", json::array({c}));
  return out;
}

// Tokens whose header or signature is forged, confused or malformed.
std::vector<Attack> forgery_attacks(Keys keys, const std::string& attacker_key_url) {
  const json c = good_claims();
  const std::string payload = libtodo::base64url_encode(c.dump());
  std::vector<Attack> out;
  const auto add = [&](const std::string& name, std::string token) {
    out.push_back({name, std::move(token)});
  };
  const auto input_of = [&](const json& header) {
    return libtodo::base64url_encode(header.dump()) + "." + payload;
  };

  // alg none and friends, with no signature and with an HMAC made with our secret.
  for (const json& alg : {json("none"), json("None"), json("NONE"), json("nOnE"), json(""),
                          json(nullptr), json::array({"HS256"}), json(256)}) {
    const std::string input = input_of({{"alg", alg}, {"typ", "JWT"}});
    add("alg " + alg.dump() + ", no signature", input + ".");
    add("alg " + alg.dump() + ", HMAC signature", input + "." + mac(input, test::secret));
  }
  add("alg missing", input_of({{"typ", "JWT"}}) + ".");
  add("HS256 with another secret",
      hs256({{"alg", "HS256"}}, c, "another-secret-0123456789abcdef-0123456789"));
  add("HS384 header over an HS256 signature", [&] {
    std::string t = hs256({{"alg", "HS256"}}, c);
    const std::string h384 = libtodo::base64url_encode(json{{"alg", "HS384"}}.dump());
    return h384 + t.substr(t.find('.'));
  }());
  add("crit extension", hs256({{"alg", "HS256"}, {"crit", {"exp"}}, {"exp", 1}}, c));

  // HS/asymmetric confusion: the server's public keys as HMAC secrets, in
  // every form an attacker can get them, with and without the key's kid.
  for (const auto& [kid, type] :
       {std::pair{"ed", KeyType::ed25519}, std::pair{"rsa", KeyType::rsa2048},
        std::pair{"ec", KeyType::p256}}) {
    const test::TestKey& key = shared_key(type);
    for (const auto& [form, bytes] :
         {std::pair{"PEM", key.public_pem()}, std::pair{"DER", key.public_der()},
          std::pair{"raw", key.public_raw()}, std::pair{"JWK", key.jwk(kid).dump()},
          std::pair{"JWKS", server_jwks()}}) {
      for (const bool with_kid : {false, true}) {
        json h = {{"alg", "HS256"}, {"typ", "JWT"}};
        if (with_kid) h["kid"] = kid;
        add(std::string("HS256 signed with the ") + kid + " public key (" + form + ")" +
                (with_kid ? " and its kid" : ""),
            hs256(h, c, bytes));
      }
    }
    // An asymmetric alg whose "signature" is an HMAC with our own secret.
    for (const char* alg : {"RS256", "ES256", "EdDSA", "PS256"}) {
      const std::string input = input_of({{"alg", alg}, {"kid", kid}});
      add(std::string(alg) + " header with an HMAC signature, kid " + kid,
          input + "." + mac(input, test::secret));
    }
  }

  // Keys the token brings along: an attacker's own Ed25519 key, offered in
  // the header (jwk), by URL (jku, x5u) or as a certificate (x5c).
  const test::TestKey attacker(KeyType::ed25519);
  const json attacker_jwk = attacker.jwk("attacker");
  for (const char* kid : {"attacker", "ed"}) {
    for (const json& h : {json{{"alg", "EdDSA"}, {"kid", kid}, {"jwk", attacker_jwk}},
                          json{{"alg", "EdDSA"}, {"kid", kid}, {"jku", attacker_key_url}},
                          json{{"alg", "EdDSA"}, {"kid", kid}, {"x5u", attacker_key_url}},
                          json{{"alg", "EdDSA"}, {"kid", kid}, {"x5c", {"MIIBattacker"}}},
                          json{{"alg", "EdDSA"}, {"kid", kid}}}) {
      add("signed by the attacker's key, header " + h.dump().substr(0, 60),
          test::compact_jws(attacker, "EdDSA", h, c));
    }
  }
  const std::string hmac_jwk_secret = "attacker-secret-0123456789abcdef-0123";
  add("HS256 with an oct jwk in the header",
      hs256({{"alg", "HS256"},
             {"jwk", {{"kty", "oct"}, {"k", libtodo::base64url_encode(hmac_jwk_secret)}}}},
            c, hmac_jwk_secret));

  // Unknown and hostile kids on otherwise well-signed asymmetric tokens.
  for (const std::string& kid :
       {std::string("nope"), std::string("../../../../etc/passwd"), std::string("/dev/null"),
        std::string("../../../../../../dev/null"), std::string("' OR '1'='1"),
        std::string("x'; DROP TABLE tasks; --"), std::string("ed' --"), std::string("ed\0", 3),
        std::string(300, 'k'), std::string("%00ed"), std::string("ed/../rsa")}) {
    add("EdDSA with kid " + json(kid).dump().substr(0, 40),
        test::compact_jws(shared_key(KeyType::ed25519), "EdDSA", {{"alg", "EdDSA"}, {"kid", kid}},
                          c));
    // The classic: a kid naming an empty file, HMAC'ed with the empty key.
    add("HS256 with kid " + json(kid).dump().substr(0, 40) + " and an empty key",
        hs256({{"alg", "HS256"}, {"kid", kid}}, c, std::string()));
  }
  for (const json& kid : {json(1), json(nullptr), json::object(), json::array({"ed"})})
    add("kid " + kid.dump(), test::compact_jws(shared_key(KeyType::ed25519), "EdDSA",
                                               {{"alg", "EdDSA"}, {"kid", kid}}, c));
  // A key used with an algorithm it is not for.
  add("ES256 under the RSA kid",
      test::compact_jws(shared_key(KeyType::p256), "ES256", {{"alg", "ES256"}, {"kid", "rsa"}}, c));
  add("RS256 under the Ed25519 kid", test::compact_jws(shared_key(KeyType::rsa2048), "RS256",
                                                       {{"alg", "RS256"}, {"kid", "ed"}}, c));
  add("PS256 by the RSA key signed as RS256", [&] {
    const std::string t = test::compact_jws(shared_key(KeyType::rsa2048), "RS256",
                                            {{"alg", "RS256"}, {"kid", "rsa"}}, c);
    return libtodo::base64url_encode(json{{"alg", "PS256"}, {"kid", "rsa"}}.dump()) +
           t.substr(t.find('.'));
  }());
  add("ES256 signature in DER instead of r||s",
      test::compact_jws(shared_key(KeyType::p256), "ES256", {{"alg", "ES256"}, {"kid", "ec"}}, c,
                        false));

  // Structure: truncated, extended, re-encoded.
  for (const Signer& s : signers(keys)) {
    const std::string good = s.sign(s.header, c);
    const std::size_t dot2 = good.rfind('.');
    for (std::size_t n = 0; n < good.size(); n += (n < dot2 - 4 || n > dot2 + 4) ? 7 : 1)
      add(s.name + " truncated to " + std::to_string(n) + " bytes", good.substr(0, n));
    add(s.name + " without its signature", good.substr(0, dot2 + 1));
    add(s.name + " without its signature part", good.substr(0, dot2));
    add(s.name + " with a fourth part", good + ".e30");
    add(s.name + " with a byte appended", good + "A");
    add(s.name + " with its signature's last byte changed",
        good.substr(0, good.size() - 1) + (good.back() == 'A' ? "B" : "A"));
    add(s.name + " with padding", good + "==");
    add(s.name + " with spaces inside", good.substr(0, 10) + " " + good.substr(10));
    add(s.name + " with the payload swapped for another user's",
        good.substr(0, good.find('.') + 1) +
            libtodo::base64url_encode(with(c, "sub", "admin").dump()) +
            good.substr(good.rfind('.')));
    std::string standard = good;  // base64 instead of base64url, where they differ
    for (char& ch : standard) ch = ch == '-' ? '+' : ch == '_' ? '/' : ch;
    if (standard != good) add(s.name + " in standard base64", standard);
  }
  add("empty", "");
  add("dots only", "..");
  add("JSON instead of a JWS", c.dump());
  add("8000 bytes of base64url", std::string(8000, 'A'));
  add("8000 bytes in three parts",
      std::string(2000, 'e') + "." + std::string(4000, 'e') + "." + std::string(1990, 'e'));
  return out;
}

// A server with `keys` and the expectations shared by every attack.
class AttackBench {
 public:
  explicit AttackBench(Keys keys)
      : keys_(keys),
        issuer_host_(server_jwks()),
        attacker_host_(json{{"keys", {test::TestKey(KeyType::ed25519).jwk("attacker")}}}.dump()) {
    libtodo::JwtOptions o;
    o.issuer = issuer;
    o.audience = audience;
    if (keys != Keys::jwks_url) o.hs_secret = test::secret;
    if (keys == Keys::jwks_url) o.jwks_url = issuer_host_.url();
    if (keys == Keys::hs_and_jwks_file) {
      jwks_file_ = (dir_.path / "jwks.json").string();
      std::ofstream(jwks_file_) << server_jwks();
      o.jwks_file = jwks_file_;
    }
    server_ = std::make_unique<test::TestServer>(todo_server::HttpOptions{},
                                                 test::make_repository(), std::nullopt, o);
  }

  [[nodiscard]] Keys keys() const { return keys_; }
  [[nodiscard]] std::string attacker_key_url() const { return attacker_host_.url(); }
  [[nodiscard]] int attacker_hits() const { return attacker_host_.hits(); }
  [[nodiscard]] int issuer_hits() const { return issuer_host_.hits(); }
  [[nodiscard]] libtodo::TaskRepository& repository() { return server_->repository(); }

  Reply call(const std::string& token, const std::string& method, const std::string& path,
             const std::string& body = {}) {
    test::Client c = server_->client();
    return c.send(method, path, body, {{"Authorization", "Bearer " + token}});
  }

 private:
  Keys keys_;
  test::TempDir dir_;
  std::string jwks_file_;
  KeyHost issuer_host_;
  KeyHost attacker_host_;
  std::unique_ptr<test::TestServer> server_;
};

const char* name_of(Keys k) {
  return k == Keys::hs         ? "HS256 secret"
         : k == Keys::jwks_url ? "JWKS URL"
                               : "HS256 secret and JWKS file";
}

}  // namespace

TEST_CASE("token attacks: every forged, stale or malformed token gets the same 401",
          "[security][tokens]") {
  const Keys keys = GENERATE(Keys::hs, Keys::jwks_url, Keys::hs_and_jwks_file);
  INFO("keys: " << name_of(keys));
  AttackBench bench(keys);
  const std::string path = "/api/tasks";
  const std::string user_path = "/api/" + victim + "/tasks";

  // The victim's own task, made through the repository.
  libtodo::TaskDraft draft;
  draft.title = "the victim's secret plan";
  const libtodo::Task planted = bench.repository().create(victim, draft);

  // Controls: every signer's good token is accepted, so the 401s below are
  // the checks' doing, not a broken set-up.
  for (const Signer& s : signers(keys)) {
    INFO(s.name);
    const Reply ok = bench.call(s.sign(s.header, good_claims()), "GET", path);
    REQUIRE(ok.status == 200);
    REQUIRE(ok.body.find(planted.id) != std::string::npos);
    // Within the leeway (60 s) and with aud in an array: still accepted.
    REQUIRE(bench.call(s.sign(s.header, with(good_claims(), "exp", now_s() - 30)), "GET", path)
                .status == 200);
    REQUIRE(bench.call(s.sign(s.header, with(good_claims(), "nbf", now_s() + 30)), "GET", path)
                .status == 200);
    REQUIRE(bench.call(s.sign(s.header, with(good_claims(), "aud", {"x", audience})), "GET", path)
                .status == 200);
  }

  const Reply reference = bench.call("garbage", "GET", path);
  REQUIRE(reference.status == 401);
  REQUIRE(reference.json()["error"]["code"] == "unauthorized");

  std::vector<Attack> attacks = forgery_attacks(keys, bench.attacker_key_url());
  for (const Signer& s : signers(keys))
    for (Attack& a : claim_attacks(s)) attacks.push_back(std::move(a));
  REQUIRE(attacks.size() > 150);
  const auto started = std::chrono::steady_clock::now();
  for (const Attack& a : attacks) {
    INFO(a.name << ": " << a.token.substr(0, 120));
    for (const auto& [method, where, body] :
         {std::tuple{"GET", path, ""}, std::tuple{"POST", path, R"({"title":"forged"})"},
          std::tuple{"GET", user_path + "/" + planted.id, ""},
          std::tuple{"DELETE", path + "/" + planted.id, ""}}) {
      const Reply r = bench.call(a.token, method, where, body);
      REQUIRE(r.status == 401);
      REQUIRE(r.body == reference.body);
      REQUIRE(r.header("WWW-Authenticate") == "Bearer error=\"invalid_token\"");
    }
  }
  std::cout << "token attacks (" << name_of(keys) << "): " << attacks.size()
            << " tokens x 4 requests, each 401 with the same body\n";
  // Nothing was created, changed or deleted, and no key URL a token named was fetched.
  const auto tasks = bench.repository().list(victim, {}).tasks;
  REQUIRE(tasks.size() == 1);
  REQUIRE(tasks.front() == planted);
  REQUIRE(bench.repository().list("admin", {}).tasks.empty());
  CHECK(bench.attacker_hits() == 0);
  if (keys == Keys::jwks_url) {
    // Unknown kids refetch the JWKS at most once per JWKS_MIN_REFRESH (30 s):
    // the fetch at start-up plus one per 30 s begun, however many tokens came.
    const auto periods = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::steady_clock::now() - started) /
                         std::chrono::seconds{30};
    CHECK(bench.issuer_hits() >= 1);
    CHECK(bench.issuer_hits() <= 2 + periods);
  }
}

TEST_CASE("token attacks: tokens too long for the header limit are refused before authentication",
          "[security][tokens]") {
  AttackBench bench(Keys::hs_and_jwks_file);
  const json c = good_claims();
  // A 10 KB kid and a correctly signed 9 KB token: the request's header line
  // is longer than the HTTP layer reads. SPEC §3 says 431; cpp-httplib's own
  // parser answers 400. Either way in the one error shape, and nothing runs.
  for (const std::string& token :
       {test::compact_jws(shared_key(KeyType::ed25519), "EdDSA",
                          {{"alg", "EdDSA"}, {"kid", std::string(10 * 1024, 'k')}}, c),
        hs256({{"alg", "HS256"}}, with(c, "name", std::string(9000, 'n'))),
        hs256({{"alg", "HS256"}, {"kid", std::string(10 * 1024, 'k')}}, c)}) {
    INFO(token.size() << " bytes");
    for (const char* method : {"GET", "POST"}) {
      const Reply r = bench.call(token, method, "/api/tasks", R"({"title":"forged"})");
      CHECK((r.status == 431 || r.status == 400));
      CHECK(r.json()["error"]["code"].is_string());
    }
  }
  REQUIRE(bench.repository().list(victim, {}).tasks.empty());
}
