// libFuzzer target: JwtVerifier::verify with an HS256 secret and a JWKS key
// set (Ed25519, P-256, RSA), at a fixed time.
//
// The first input byte says how the rest becomes a token, so that the fuzzer
// also gets past the signature to the header, claim and cache logic:
//   'S'  "header\npayload": signed here with the HS secret (HS256)
//   'E'  "header\npayload": signed here with the Ed25519 key (EdDSA)
//   'P'  "header\npayload": signed here with the P-256 key (ES256)
//   else the rest is the token as a client would send it
// The header and payload bytes are signed as given, not re-serialized.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include <libtodo/jwt_verifier.hpp>
#include <libtodo/validation.hpp>

#include "fuzz/fuzz_util.hpp"
#include "jwt/test_keys.hpp"

namespace {

using namespace std::chrono;

const std::string secret = "fuzz-secret-0123456789abcdef-0123456789";
// 2026-01-06T09:30:00Z, the instant the seed tokens are made for.
const system_clock::time_point now = sys_days{year{2026} / 1 / 6} + hours{9} + minutes{30};

// Fixed keys, so that a crash reproduces with the same signatures.
const test::TestKey& ed_key() {
  static const test::TestKey key(test::KeyType::ed25519, R"(-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEILXKihI+1iagUh78SJ/5/oE/WzxITqREvAEUkIUP4sb2
-----END PRIVATE KEY-----
)");
  return key;
}

const test::TestKey& ec_key() {
  static const test::TestKey key(test::KeyType::p256, R"(-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgLZUBwn7ChLGAdsG9
f9siwYdn4CbUI50smQKFIJt/+wmhRANCAARiD6mJ7EEd/N3wIfRdAcrOSs8yLtwq
9xoFyWjCdhDzGy922gLy5s2x+C9aThoOAuwUtX/ng3f/lwURcL1nbm6T
-----END PRIVATE KEY-----
)");
  return key;
}

const libtodo::JwtVerifier& verifier() {
  static const libtodo::JwtVerifier v = [] {
    libtodo::JwtOptions o;
    o.hs_secret = secret;
    // The JWKS comes through the fetch hook: no network, no file. The RSA key
    // is made at start-up; no input can sign with it, only fail to.
    const std::string jwks = nlohmann::json{{"keys",
                                             {ed_key().jwk("ed"), ec_key().jwk("ec"),
                                              test::TestKey(test::KeyType::rsa2048).jwk("rsa")}}}
                                 .dump();
    o.jwks_url = "http://jwks.invalid/keys";
    o.fetch = [jwks](const std::string&) { return std::optional<std::string>(jwks); };
    o.issuer = "https://issuer.test";
    o.audience = "https://app.test";
    o.cache_capacity = 64;  // small: eviction runs too
    o.clock = [] { return now; };
    return libtodo::JwtVerifier(o);
  }();
  return v;
}

std::string token_from(std::string_view data) {
  if (data.empty()) return {};
  const char mode = data.front();
  const std::string_view rest = data.substr(1);
  if (mode != 'S' && mode != 'E' && mode != 'P') return std::string(data);
  const std::size_t nl = rest.find('\n');
  const std::string_view header = rest.substr(0, nl);
  const std::string_view payload =
      nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  if (mode == 'S') return libtodo::sign_hs_compact(secret, "HS256", header, payload);
  const std::string input =
      libtodo::base64url_encode(header) + "." + libtodo::base64url_encode(payload);
  const test::TestKey& key = mode == 'E' ? ed_key() : ec_key();
  return input + "." + libtodo::base64url_encode(key.sign(mode == 'E' ? "EdDSA" : "ES256", input));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string token = token_from({reinterpret_cast<const char*>(data), size});
  const libtodo::Verification first = verifier().verify(token);
  if (first.ok()) {
    const libtodo::Principal& p = first.principal();
    fuzz::check(libtodo::is_valid_user_id(p.user_id), "an accepted token has a valid sub");
    fuzz::check(token.size() <= 8192, "an accepted token is within max_token_bytes");
    // exp + leeway is after now; expires_at is exp truncated to milliseconds.
    fuzz::check(p.expires_at + seconds{60} >= time_point_cast<milliseconds>(now),
                "an accepted token has not expired");
  }
  // Again, now possibly from the cache: the same answer.
  const libtodo::Verification second = verifier().verify(token);
  fuzz::check(first.ok() == second.ok(), "a repeated token gets the same verdict");
  if (first.ok()) {
    const libtodo::Principal &a = first.principal(), &b = second.principal();
    fuzz::check(a.user_id == b.user_id && a.email == b.email && a.name == b.name &&
                    a.expires_at == b.expires_at && a.token_id == b.token_id,
                "a repeated token gets the same principal");
  } else {
    fuzz::check(first.failure() == second.failure(), "a repeated token fails for the same reason");
  }
  return 0;
}
