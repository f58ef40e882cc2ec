// libFuzzer target: parsing a JWKS document into verification keys (the
// library's internal jwt_detail::parse_jwks, which JwtVerifier runs on every
// JWKS file and fetched document), then verifying with each key it kept.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz/fuzz_util.hpp"
#include "jwk.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view doc(reinterpret_cast<const char*>(data), size);
  libtodo::jwt_detail::KeySet set;
  try {
    set = libtodo::jwt_detail::parse_jwks(doc);
  } catch (const std::runtime_error&) {
    return 0;  // not a JWKS at all: documented
  }
  for (const auto& key : set.keys) {
    fuzz::check(key.pkey != nullptr, "a kept key has an OpenSSL key");
    fuzz::check(!key.algorithms.empty(), "a kept key allows some algorithm");
    for (const std::string& alg : key.algorithms) {
      fuzz::check(key.allows(alg), "a key allows its own algorithms");
      fuzz::check(libtodo::jwt_detail::is_asymmetric_algorithm(alg), "JWKS keys are asymmetric");
      // No key verifies a signature nobody made (of any of the usual sizes).
      for (const std::size_t bytes : {0u, 64u, 96u, 132u, 256u, 512u})
        fuzz::check(
            !libtodo::jwt_detail::verify_signature(key, alg, "e30.e30", std::string(bytes, '\x01')),
            "a made-up signature does not verify");
    }
    fuzz::check(
        !libtodo::jwt_detail::verify_signature(key, "HS256", "e30.e30", std::string(32, '\x01')),
        "a JWKS key never verifies HMAC");
  }
  return 0;
}
