#pragma once
// Internal to libtodo::jwt: public keys from JSON Web Keys (RFC 7517/7518/8037)
// as OpenSSL EVP_PKEYs, and JWS signature verification with them.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace libtodo::jwt_detail {

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

/// One verification key and the JWS algorithms it may verify.
struct PublicKey {
  std::string kid;                   ///< empty when the JWK has none
  std::vector<std::string> algorithms;
  std::shared_ptr<EVP_PKEY> pkey;
  [[nodiscard]] bool allows(std::string_view alg) const;
};

/// The keys of a JWKS document. Keys that are not for signatures, are of an
/// unsupported type or curve, are malformed, or are RSA under 2048 bits are
/// skipped and named in `skipped`. Throws std::runtime_error when the document
/// itself is not a JWKS (not JSON, no "keys" array).
struct KeySet {
  std::vector<PublicKey> keys;
  std::vector<std::string> skipped;  ///< one reason per skipped key
};
KeySet parse_jwks(std::string_view document);

/// Verifies `signature` over `signing_input` with `key` for the JWS algorithm
/// `alg` (EdDSA, ES256/384/512, RS256/384/512, PS256/384/512). ECDSA
/// signatures are JWS's raw r||s form.
bool verify_signature(const PublicKey& key, std::string_view alg, std::string_view signing_input,
                      std::string_view signature);

/// True for the asymmetric algorithm names we implement.
bool is_asymmetric_algorithm(std::string_view alg);

}  // namespace libtodo::jwt_detail
