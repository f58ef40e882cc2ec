// JwtVerifier with HS256/384/512 (SPEC §4): accepted tokens, every typed failure, base64url.

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <libtodo/errors.hpp>
#include <libtodo/jwt_verifier.hpp>
#include <libtodo/token_verifier.hpp>

namespace Catch {
template <>
struct StringMaker<libtodo::AuthFailure> {
  static std::string convert(libtodo::AuthFailure f) { return std::string(libtodo::to_string(f)); }
};
}  // namespace Catch

namespace {

using namespace std::chrono;
using libtodo::AuthFailure;
using libtodo::JwtOptions;
using libtodo::JwtVerifier;
using libtodo::TokenClaims;
using libtodo::Verification;

const std::string secret = "test-secret-0123456789abcdef-0123456789abcdef";  // 46 bytes
const std::string other_secret = "another-secret-0123456789abcdef-0123456789ab";

// Every test runs at this instant, through JwtOptions::clock.
const system_clock::time_point now_tp = sys_days{year{2026} / 1 / 6} + hours{9} + minutes{30};
const long long now_s = duration_cast<seconds>(now_tp.time_since_epoch()).count();

JwtOptions options() {
  JwtOptions o;
  o.hs_secret = secret;
  o.clock = [] { return now_tp; };
  return o;
}

TokenClaims claims(std::string subject = "user-123") {
  TokenClaims c;
  c.subject = std::move(subject);
  c.issued_at = now_tp;
  c.lifetime = seconds{900};
  return c;
}

std::string header_for(std::string_view alg) {
  return std::string(R"({"alg":")") + std::string(alg) + R"(","typ":"JWT"})";
}

// A token with a hand-written payload (and header), HMAC-signed with `key`.
std::string signed_token(const std::string& payload, std::string_view alg = "HS256",
                         const std::string& key = secret) {
  return libtodo::sign_hs_compact(key, alg, header_for(alg), payload);
}

std::string with_header(const std::string& header, const std::string& payload) {
  return libtodo::sign_hs_compact(secret, "HS256", header, payload);
}

// A payload that passes every check, plus `extra` members.
std::string payload(const std::string& extra = "") {
  std::string p = R"({"sub":"user-123","exp":)" + std::to_string(now_s + 900) + R"(,"iat":)" +
                  std::to_string(now_s);
  if (!extra.empty()) p += "," + extra;
  return p + "}";
}

AuthFailure failure(const Verification& v) {
  REQUIRE_FALSE(v.ok());
  return v.failure();
}

std::string b64(std::string_view s) {
  return libtodo::base64url_encode(s);
}

}  // namespace

// --- accepted tokens --------------------------------------------------------------------------

TEST_CASE("jwt: valid HS256/384/512 tokens give a Principal", "[jwt]") {
  const JwtVerifier verifier(options());
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    INFO(alg);
    TokenClaims c = claims("Xk3v9QpR2mN8wL5tY7hJ4bF6cD1gS0aZ");
    c.email = "ada@example.com";
    c.name = "Ada Lovelace";
    c.jwt_id = "jti-1";
    const std::string token = libtodo::mint_hs_token(secret, c, alg);
    const Verification v = verifier.verify(token);
    REQUIRE(v.ok());
    CHECK(static_cast<bool>(v));
    const libtodo::Principal& p = v.principal();
    CHECK(p.user_id == "Xk3v9QpR2mN8wL5tY7hJ4bF6cD1gS0aZ");
    CHECK(p.email == "ada@example.com");
    CHECK(p.name == "Ada Lovelace");
    CHECK(libtodo::format_rfc3339(p.expires_at) == "2026-01-06T09:45:00.000Z");
  }
}

TEST_CASE("jwt: email and name are optional", "[jwt]") {
  const JwtVerifier verifier(options());
  const Verification v = verifier.verify(libtodo::mint_hs_token(secret, claims()));
  REQUIRE(v.ok());
  CHECK(v.principal().user_id == "user-123");
  CHECK_FALSE(v.principal().email);
  CHECK_FALSE(v.principal().name);
  SECTION("non-string email and name are left out") {
    const Verification w = verifier.verify(signed_token(payload(R"("email":1,"name":null)")));
    REQUIRE(w.ok());
    CHECK_FALSE(w.principal().email);
    CHECK_FALSE(w.principal().name);
  }
}

TEST_CASE("jwt: the principal can be moved out", "[jwt]") {
  const JwtVerifier verifier(options());
  libtodo::Principal p = verifier.verify(libtodo::mint_hs_token(secret, claims())).principal();
  CHECK(p.user_id == "user-123");
}

TEST_CASE("jwt: JwtVerifier is a TokenVerifier", "[jwt]") {
  const JwtVerifier verifier(options());
  const libtodo::TokenVerifier& port = verifier;
  CHECK(port.verify(libtodo::mint_hs_token(secret, claims())).ok());
  CHECK_FALSE(port.verify("nope").ok());
}

// --- time claims ------------------------------------------------------------------------------

TEST_CASE("jwt: exp is required and honoured with leeway", "[jwt][time]") {
  const JwtVerifier verifier(options());  // leeway 60 s
  const auto exp_token = [](long long exp) {
    return signed_token(R"({"sub":"u","exp":)" + std::to_string(exp) + "}");
  };
  CHECK(verifier.verify(exp_token(now_s + 1)).ok());
  CHECK(verifier.verify(exp_token(now_s - 30)).ok());  // expired, within leeway
  CHECK(verifier.verify(exp_token(now_s - 59)).ok());
  CHECK(failure(verifier.verify(exp_token(now_s - 60))) == AuthFailure::expired);
  CHECK(failure(verifier.verify(exp_token(now_s - 61))) == AuthFailure::expired);
  CHECK(failure(verifier.verify(exp_token(now_s - 86400))) == AuthFailure::expired);
  CHECK(failure(verifier.verify(exp_token(0))) == AuthFailure::expired);

  SECTION("missing or non-numeric exp") {
    CHECK(failure(verifier.verify(signed_token(R"({"sub":"u"})"))) == AuthFailure::missing_expiry);
    for (const char* bad : {R"("exp":"9999999999")", R"("exp":null)", R"("exp":true)",
                            R"("exp":[9999999999])", R"("exp":{})"}) {
      INFO(bad);
      CHECK(failure(verifier.verify(signed_token(std::string(R"({"sub":"u",)") + bad + "}"))) ==
            AuthFailure::missing_expiry);
    }
  }
  SECTION("a fractional exp is a number") {
    CHECK(verifier.verify(signed_token(R"({"sub":"u","exp":)" + std::to_string(now_s + 10) + ".5}"))
              .ok());
  }
  SECTION("zero leeway") {
    JwtOptions o = options();
    o.leeway = seconds{0};
    const JwtVerifier strict(o);
    CHECK(strict.verify(exp_token(now_s + 1)).ok());
    CHECK(failure(strict.verify(exp_token(now_s))) == AuthFailure::expired);
    CHECK(failure(strict.verify(exp_token(now_s - 30))) == AuthFailure::expired);
  }
}

TEST_CASE("jwt: nbf and iat in the future", "[jwt][time]") {
  const JwtVerifier verifier(options());
  const auto future = [](long long delta) { return std::to_string(now_s + delta); };
  SECTION("nbf") {
    CHECK(verifier.verify(signed_token(payload(R"("nbf":)" + future(-10)))).ok());
    CHECK(verifier.verify(signed_token(payload(R"("nbf":)" + future(30)))).ok());  // leeway
    CHECK(failure(verifier.verify(signed_token(payload(R"("nbf":)" + future(120))))) ==
          AuthFailure::not_yet_valid);
  }
  SECTION("iat") {
    const auto iat_token = [&](long long delta) {
      return signed_token(R"({"sub":"u","exp":)" + future(3600) + R"(,"iat":)" + future(delta) +
                          "}");
    };
    CHECK(verifier.verify(iat_token(-10)).ok());
    CHECK(verifier.verify(iat_token(30)).ok());  // leeway
    CHECK(failure(verifier.verify(iat_token(120))) == AuthFailure::issued_in_future);
  }
  SECTION("non-numeric nbf / iat are refused") {
    CHECK_FALSE(verifier.verify(signed_token(payload(R"("nbf":"soon")"))).ok());
    CHECK_FALSE(
        verifier.verify(signed_token(R"({"sub":"u","exp":)" + future(60) + R"(,"iat":"x"})")).ok());
  }
}

TEST_CASE("jwt: the clock comes from JwtOptions::clock", "[jwt][time]") {
  // Minted for 2001; valid at the injected 2001 clock, long expired by the real one.
  const system_clock::time_point then = sys_days{year{2001} / 9 / 9};
  TokenClaims c = claims();
  c.issued_at = then;
  c.lifetime = seconds{3600};
  const std::string token = libtodo::mint_hs_token(secret, c);

  JwtOptions at_then = options();
  at_then.clock = [then] { return then + minutes{10}; };
  CHECK(JwtVerifier(at_then).verify(token).ok());

  JwtOptions later = options();
  later.clock = [then] { return then + hours{2}; };
  CHECK(failure(JwtVerifier(later).verify(token)) == AuthFailure::expired);

  JwtOptions real = options();
  real.clock = nullptr;  // system_clock::now
  CHECK(failure(JwtVerifier(real).verify(token)) == AuthFailure::expired);
  TokenClaims fresh = claims();
  fresh.issued_at.reset();  // now
  CHECK(JwtVerifier(real).verify(libtodo::mint_hs_token(secret, fresh)).ok());
}

// --- signature and algorithm ------------------------------------------------------------------

TEST_CASE("jwt: a bad signature is refused", "[jwt][signature]") {
  const JwtVerifier verifier(options());
  const std::string token = libtodo::mint_hs_token(secret, claims());
  const auto dot1 = token.find('.');
  const auto dot2 = token.rfind('.');
  REQUIRE(verifier.verify(token).ok());

  SECTION("payload tampered") {
    const std::string forged_payload =
        b64(R"({"sub":"admin","exp":)" + std::to_string(now_s + 900) + "}");
    const std::string forged = token.substr(0, dot1 + 1) + forged_payload + token.substr(dot2);
    CHECK(failure(verifier.verify(forged)) == AuthFailure::bad_signature);
  }
  SECTION("signature tampered") {
    std::string forged = token;
    char& c = forged[dot2 + 5];
    c = c == 'A' ? 'B' : 'A';
    CHECK(failure(verifier.verify(forged)) == AuthFailure::bad_signature);
  }
  SECTION("signature truncated or empty") {
    CHECK_FALSE(verifier.verify(token.substr(0, token.size() - 4)).ok());
    CHECK(failure(verifier.verify(token.substr(0, dot2 + 1))) == AuthFailure::bad_signature);
  }
  SECTION("signed with another secret") {
    TokenClaims c = claims();
    CHECK(failure(verifier.verify(libtodo::mint_hs_token(other_secret, c))) ==
          AuthFailure::bad_signature);
  }
  SECTION("a signature made with another HS algorithm") {
    // HS512's MAC under an HS256 header.
    const std::string hs512 = signed_token(payload(), "HS512");
    const std::string mixed = token.substr(0, dot2) + hs512.substr(hs512.rfind('.'));
    CHECK(failure(verifier.verify(mixed)) == AuthFailure::bad_signature);
  }
}

TEST_CASE("jwt: alg none is never accepted", "[jwt][algorithm]") {
  const JwtVerifier verifier(options());
  for (const char* alg : {"none", "None", "NONE", "nOnE"}) {
    INFO(alg);
    const std::string unsigned_token =
        b64(std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})") + "." + b64(payload()) + ".";
    CHECK(failure(verifier.verify(unsigned_token)) == AuthFailure::unsupported_algorithm);
  }
  SECTION("with a signature appended anyway") {
    const std::string t = b64(R"({"alg":"none"})") + "." + b64(payload()) + ".c2ln";
    CHECK(failure(verifier.verify(t)) == AuthFailure::unsupported_algorithm);
  }
}

TEST_CASE("jwt: algorithms outside hs_algorithms are refused", "[jwt][algorithm]") {
  JwtOptions o = options();
  o.hs_algorithms = {"HS256"};
  const JwtVerifier only_hs256(o);
  CHECK(only_hs256.verify(signed_token(payload(), "HS256")).ok());
  CHECK(failure(only_hs256.verify(signed_token(payload(), "HS384"))) ==
        AuthFailure::unsupported_algorithm);
  CHECK(failure(only_hs256.verify(signed_token(payload(), "HS512"))) ==
        AuthFailure::unsupported_algorithm);

  SECTION("missing, non-string and unknown alg") {
    const JwtVerifier verifier(options());
    CHECK(failure(verifier.verify(with_header(R"({"typ":"JWT"})", payload()))) ==
          AuthFailure::unsupported_algorithm);
    CHECK(failure(verifier.verify(with_header(R"({"alg":256})", payload()))) ==
          AuthFailure::unsupported_algorithm);
    CHECK(failure(verifier.verify(with_header(R"({"alg":null})", payload()))) ==
          AuthFailure::unsupported_algorithm);
    for (const char* alg : {"hs256", "HS256 ", "HS1", "HS", ""}) {
      INFO(alg);
      CHECK(failure(verifier.verify(with_header(std::string(R"({"alg":")") + alg + R"("})",
                                                payload()))) == AuthFailure::unsupported_algorithm);
    }
  }
}

TEST_CASE("jwt: no HS/asymmetric confusion", "[jwt][algorithm]") {
  // An RS256/ES256/EdDSA header with an HMAC made from our secret must not pass.
  const JwtVerifier verifier(options());
  for (const char* alg : {"RS256", "ES256", "PS256", "EdDSA"}) {
    INFO(alg);
    const std::string t =
        with_header(std::string(R"({"alg":")") + alg + R"(","typ":"JWT"})", payload());
    const Verification v = verifier.verify(t);
    REQUIRE_FALSE(v.ok());
    CHECK((v.failure() == AuthFailure::unsupported_algorithm ||
           v.failure() == AuthFailure::unknown_key));
  }
}

TEST_CASE("jwt: a crit header is refused", "[jwt][header]") {
  const JwtVerifier verifier(options());
  CHECK(failure(verifier.verify(with_header(R"({"alg":"HS256","crit":["exp"],"exp":1})",
                                            payload()))) == AuthFailure::unsupported_critical);
  CHECK(failure(verifier.verify(with_header(R"({"alg":"HS256","b64":false,"crit":["b64"]})",
                                            payload()))) == AuthFailure::unsupported_critical);
}

TEST_CASE("jwt: keys named in the header are ignored", "[jwt][header]") {
  const JwtVerifier verifier(options());
  const std::string jwk = R"("jwk":{"kty":"oct","k":")" + b64(other_secret) + R"("})";
  const std::string hdr = R"({"alg":"HS256","kid":"attacker",)" + jwk +
                          R"(,"jku":"https://evil.example/jwks","x5u":"https://evil.example/c",)"
                          R"("x5c":["MIIB"]})";
  SECTION("still verified with our secret") {
    CHECK(verifier.verify(with_header(hdr, payload())).ok());
  }
  SECTION("a token signed with the embedded key is refused") {
    const std::string forged = libtodo::sign_hs_compact(other_secret, "HS256", hdr, payload());
    CHECK(failure(verifier.verify(forged)) == AuthFailure::bad_signature);
  }
}

// --- claims -----------------------------------------------------------------------------------

TEST_CASE("jwt: sub must be a non-empty string of at most 255 bytes", "[jwt][claims]") {
  const JwtVerifier verifier(options());
  const std::string exp = R"("exp":)" + std::to_string(now_s + 900);
  const auto with_sub = [&](const std::string& sub_member) {
    return verifier.verify(signed_token("{" + exp + sub_member + "}"));
  };
  CHECK(failure(with_sub("")) == AuthFailure::missing_subject);
  CHECK(failure(with_sub(R"(,"sub":"")")) == AuthFailure::missing_subject);
  CHECK(failure(with_sub(R"(,"sub":123)")) == AuthFailure::missing_subject);
  CHECK(failure(with_sub(R"(,"sub":null)")) == AuthFailure::missing_subject);
  CHECK(failure(with_sub(R"(,"sub":["u"])")) == AuthFailure::missing_subject);
  CHECK(failure(with_sub(R"(,"sub":")" + std::string(256, 's') + "\"")) ==
        AuthFailure::missing_subject);
  const Verification longest = with_sub(R"(,"sub":")" + std::string(255, 's') + "\"");
  REQUIRE(longest.ok());
  CHECK(longest.principal().user_id == std::string(255, 's'));
}

TEST_CASE("jwt: iss is checked only when configured", "[jwt][claims]") {
  TokenClaims c = claims();
  c.issuer = "https://app.example.com";
  const std::string right = libtodo::mint_hs_token(secret, c);
  c.issuer = "https://evil.example.com";
  const std::string wrong = libtodo::mint_hs_token(secret, c);
  const std::string none = libtodo::mint_hs_token(secret, claims());

  JwtOptions o = options();
  o.issuer = "https://app.example.com";
  const JwtVerifier checking(o);
  CHECK(checking.verify(right).ok());
  CHECK(failure(checking.verify(wrong)) == AuthFailure::wrong_issuer);
  CHECK(failure(checking.verify(none)) == AuthFailure::wrong_issuer);
  CHECK(failure(checking.verify(signed_token(payload(R"("iss":["https://app.example.com"])")))) ==
        AuthFailure::wrong_issuer);

  const JwtVerifier lenient(options());
  CHECK(lenient.verify(right).ok());
  CHECK(lenient.verify(wrong).ok());
  CHECK(lenient.verify(none).ok());
}

TEST_CASE("jwt: aud is checked only when configured", "[jwt][claims]") {
  JwtOptions o = options();
  o.audience = "https://app.example.com";
  const JwtVerifier checking(o);
  const JwtVerifier lenient(options());
  const auto aud = [](const std::string& value) {
    return signed_token(payload(R"("aud":)" + value));
  };

  CHECK(checking.verify(aud(R"("https://app.example.com")")).ok());
  CHECK(checking.verify(aud(R"(["https://other.example","https://app.example.com"])")).ok());
  CHECK(failure(checking.verify(aud(R"("https://other.example")"))) == AuthFailure::wrong_audience);
  CHECK(failure(checking.verify(aud(R"(["https://other.example"])"))) ==
        AuthFailure::wrong_audience);
  CHECK(failure(checking.verify(aud(R"([])"))) == AuthFailure::wrong_audience);
  CHECK(failure(checking.verify(aud(R"(42)"))) == AuthFailure::wrong_audience);
  CHECK(failure(checking.verify(signed_token(payload()))) == AuthFailure::wrong_audience);

  CHECK(lenient.verify(aud(R"("https://other.example")")).ok());
  CHECK(lenient.verify(aud(R"(["x","y"])")).ok());

  SECTION("minted audience") {
    TokenClaims c = claims();
    c.audience = "https://app.example.com";
    CHECK(checking.verify(libtodo::mint_hs_token(secret, c)).ok());
  }
}

// --- malformed input --------------------------------------------------------------------------

TEST_CASE("jwt: garbage is malformed", "[jwt][malformed]") {
  const JwtVerifier verifier(options());
  const std::string good = libtodo::mint_hs_token(secret, claims());
  const std::string h = b64(header_for("HS256"));
  const std::string p = b64(payload());
  for (const std::string& t : {
           std::string(), std::string("abc"), std::string("a.b"), std::string("a.b.c.d"),
           std::string(".."), std::string("..."), good + ".", "." + good, good + ".x",
           std::string("!!!.") + p + ".c2ln",               // non-base64 header
           h.substr(0, h.size() - 1) + "=." + p + ".c2ln",  // padded base64
           b64("not json") + "." + p + ".c2ln",             // header not JSON
           b64(R"(["alg","HS256"])") + "." + p + ".c2ln",   // header a JSON array
           b64(R"("HS256")") + "." + p + ".c2ln",           // header a JSON string
           b64("") + "." + p + ".c2ln",                     // empty header
           std::string("Bearer ") + good,                   // scheme not stripped
       }) {
    INFO("token: " << t);
    CHECK(failure(verifier.verify(t)) == AuthFailure::malformed);
  }
  SECTION("a signed payload that is not a JSON object") {
    for (const char* body : {"not json", "[1,2]", "\"sub\"", "", "{\"sub\":\"u\""}) {
      INFO(body);
      CHECK(failure(verifier.verify(signed_token(body))) == AuthFailure::malformed);
    }
  }
  SECTION("a non-base64 payload under a forged signature") {
    // The signature is checked before the payload is read, so either answer is right.
    const Verification v = verifier.verify(h + ".$$$.c2ln");
    REQUIRE_FALSE(v.ok());
    CHECK((v.failure() == AuthFailure::malformed || v.failure() == AuthFailure::bad_signature));
  }
  SECTION("a signature that is not base64url") {
    CHECK(failure(verifier.verify(h + "." + p + ".***")) == AuthFailure::malformed);
  }
}

TEST_CASE("jwt: over-long tokens are refused unread", "[jwt][malformed]") {
  const JwtVerifier verifier(options());
  TokenClaims c = claims();
  c.name = std::string(9000, 'n');
  const std::string huge = libtodo::mint_hs_token(secret, c);
  REQUIRE(huge.size() > 8192);
  CHECK(failure(verifier.verify(huge)) == AuthFailure::malformed);
  CHECK(failure(verifier.verify(std::string(100'000, 'a'))) == AuthFailure::malformed);

  SECTION("the limit is max_token_bytes, inclusive") {
    const std::string token = libtodo::mint_hs_token(secret, claims());
    JwtOptions o = options();
    o.max_token_bytes = token.size();
    CHECK(JwtVerifier(o).verify(token).ok());
    o.max_token_bytes = token.size() - 1;
    CHECK(failure(JwtVerifier(o).verify(token)) == AuthFailure::malformed);
  }
}

// --- configuration ----------------------------------------------------------------------------

TEST_CASE("jwt: unusable options are a ConfigError", "[jwt][config]") {
  CHECK_THROWS_AS(JwtVerifier(JwtOptions{}), libtodo::ConfigError);
  JwtOptions o = options();
  SECTION("unknown HMAC algorithm") {
    o.hs_algorithms = {"HS256", "RS256"};
    CHECK_THROWS_AS(JwtVerifier(o), libtodo::ConfigError);
  }
  SECTION("negative leeway") {
    o.leeway = seconds{-1};
    CHECK_THROWS_AS(JwtVerifier(o), libtodo::ConfigError);
  }
  SECTION("a valid configuration does not throw") {
    CHECK_NOTHROW(JwtVerifier(o));
  }
}

TEST_CASE("jwt: minting refuses unusable input", "[jwt][config]") {
  CHECK_THROWS_AS(libtodo::mint_hs_token("", claims()), libtodo::ConfigError);
  CHECK_THROWS_AS(libtodo::mint_hs_token(secret, claims(), "RS256"), libtodo::ConfigError);
  CHECK_THROWS_AS(libtodo::mint_hs_token(secret, claims(), "none"), libtodo::ConfigError);
  CHECK_THROWS_AS(libtodo::sign_hs_compact(secret, "HS1", "{}", "{}"), libtodo::ConfigError);
  CHECK_THROWS_AS(libtodo::sign_hs_compact("", "HS256", "{}", "{}"), libtodo::ConfigError);
}

TEST_CASE("jwt: AuthFailure names", "[jwt]") {
  CHECK(libtodo::to_string(AuthFailure::expired) == "expired");
  CHECK(libtodo::to_string(AuthFailure::bad_signature) == "bad_signature");
  CHECK(libtodo::to_string(AuthFailure::unsupported_critical) == "unsupported_critical");
  const libtodo::AuthenticationError e(AuthFailure::wrong_audience);
  CHECK(e.failure() == AuthFailure::wrong_audience);
  CHECK_THAT(e.what(), Catch::Contains("wrong_audience"));
}

// --- base64url --------------------------------------------------------------------------------

TEST_CASE("base64url encodes RFC 4648 vectors without padding", "[jwt][base64url]") {
  CHECK(libtodo::base64url_encode("") == "");
  CHECK(libtodo::base64url_encode("f") == "Zg");
  CHECK(libtodo::base64url_encode("fo") == "Zm8");
  CHECK(libtodo::base64url_encode("foo") == "Zm9v");
  CHECK(libtodo::base64url_encode("foob") == "Zm9vYg");
  CHECK(libtodo::base64url_encode("fooba") == "Zm9vYmE");
  CHECK(libtodo::base64url_encode("foobar") == "Zm9vYmFy");
  // The URL-safe alphabet: '-' and '_' instead of '+' and '/'.
  CHECK(libtodo::base64url_encode("\xFB\xFF") == "-_8");
  CHECK(libtodo::base64url_encode("\xFF\xFF\xFF") == "____");
  CHECK(libtodo::base64url_encode("\xFB\xEF\xBE") == "----");
}

TEST_CASE("base64url round-trips every byte value", "[jwt][base64url]") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t len = 0; len <= all.size(); ++len) {
    const std::string bytes = all.substr(all.size() - len);  // different lengths and contents
    const std::string text = libtodo::base64url_encode(bytes);
    CHECK(text.find_first_of("+/=") == std::string::npos);
    const auto back = libtodo::base64url_decode(text);
    REQUIRE(back);
    CHECK(*back == bytes);
  }
}

TEST_CASE("base64url_decode accepts only canonical unpadded base64url", "[jwt][base64url]") {
  CHECK(libtodo::base64url_decode("") == std::string());
  CHECK(libtodo::base64url_decode("Zm9vYmFy") == std::string("foobar"));
  CHECK(libtodo::base64url_decode("-_8") == std::string("\xFB\xFF"));
  const auto rejects = [](std::initializer_list<const char*> texts) {
    for (const char* text : texts) {
      INFO("text: " << Catch::Detail::stringify(std::string(text)));
      CHECK_FALSE(libtodo::base64url_decode(text));
    }
  };
  rejects({"Zg==", "Zm8=", "Zg=", "=", "Zm9v===="});        // padding
  rejects({"+/8", "Zm9v+g", "Zm9v/g"});                     // the standard alphabet
  rejects({"Zm 9v", "Zm9v\n", " Zm9v", "Zm9v.", "Zm9v*"});  // stray characters
  rejects({"a", "Zm9vY"});                                  // impossible lengths
  rejects({"Zh", "Zm9"});                                   // non-zero leftover bits
  CHECK_FALSE(libtodo::base64url_decode(std::string_view("Zm\0v", 4)));
}

// --- concurrency ------------------------------------------------------------------------------

TEST_CASE("jwt: verify from several threads at once", "[jwt][threads]") {
  JwtOptions o = options();
  o.audience = "aud";
  const JwtVerifier verifier(o);
  constexpr int threads = 4;
  constexpr int per_thread = 1000;
  std::vector<std::string> good;
  for (const char* alg : {"HS256", "HS384", "HS512"}) {
    TokenClaims c = claims("user-" + std::string(alg));
    c.audience = "aud";
    good.push_back(libtodo::mint_hs_token(secret, c, alg));
  }
  const std::string bad = libtodo::mint_hs_token(other_secret, claims());

  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        const std::string& token = good[static_cast<std::size_t>((i + t) % 3)];
        const Verification v = verifier.verify(token);
        if (!v.ok() || v.principal().user_id.rfind("user-HS", 0) != 0) ++wrong;
        const Verification f = verifier.verify(bad);
        if (f.ok() || f.failure() != AuthFailure::bad_signature) ++wrong;
      }
    });
  }
  for (auto& th : pool) th.join();
  CHECK(wrong == 0);
}
