#pragma once
// Asymmetric test keys made with OpenSSL 3 directly, independently of the
// library: JWKs of their public halves and JWS signatures with them. Shared by
// the JWKS tests and the token attack suite.

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <nlohmann/json.hpp>

#include <libtodo/jwt_verifier.hpp>

namespace test {

using json = nlohmann::json;

inline std::string unbase64url(std::string_view s) {
  auto v = libtodo::base64url_decode(s);
  if (!v) throw std::runtime_error("test bug: not base64url");
  return *v;
}

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

inline const unsigned char* bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

inline void ossl_check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("OpenSSL failed: ") + what);
}

enum class KeyType { ed25519, p256, p384, p521, rsa2048, rsa1024 };

class TestKey {
 public:
  explicit TestKey(KeyType type) : type_(type), pkey_(generate(type), EVP_PKEY_free) {}
  /// A fixed key from its PEM private key, for runs that must be reproducible.
  TestKey(KeyType type, std::string_view private_pem)
      : type_(type), pkey_(read_pem(private_pem), EVP_PKEY_free) {}

  [[nodiscard]] KeyType type() const { return type_; }

  // The public key as a JWK (RFC 7517/7518/8037), with `kid` when given.
  [[nodiscard]] json jwk(const std::optional<std::string>& kid) const {
    json j;
    switch (type_) {
      case KeyType::ed25519: {
        std::string x(32, '\0');
        std::size_t len = x.size();
        ossl_check(EVP_PKEY_get_raw_public_key(
                       pkey_.get(), reinterpret_cast<unsigned char*>(x.data()), &len) == 1 &&
                       len == 32,
                   "raw Ed25519 key");
        j = {{"kty", "OKP"}, {"crv", "Ed25519"}, {"x", libtodo::base64url_encode(x)}};
        break;
      }
      case KeyType::p256:
      case KeyType::p384:
      case KeyType::p521: {
        const int size = curve_bytes();
        const char* crv = size == 32 ? "P-256" : size == 48 ? "P-384" : "P-521";
        j = {{"kty", "EC"},
             {"crv", crv},
             {"x", libtodo::base64url_encode(bn_param(OSSL_PKEY_PARAM_EC_PUB_X, size))},
             {"y", libtodo::base64url_encode(bn_param(OSSL_PKEY_PARAM_EC_PUB_Y, size))}};
        break;
      }
      case KeyType::rsa2048:
      case KeyType::rsa1024:
        j = {{"kty", "RSA"},
             {"n", libtodo::base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_N, 0))},
             {"e", libtodo::base64url_encode(bn_param(OSSL_PKEY_PARAM_RSA_E, 0))}};
        break;
    }
    if (kid) j["kid"] = *kid;
    return j;
  }

  // The raw Ed25519 private key (for a JWK that wrongly publishes "d").
  [[nodiscard]] std::string raw_private() const {
    std::string d(32, '\0');
    std::size_t len = d.size();
    ossl_check(EVP_PKEY_get_raw_private_key(pkey_.get(), reinterpret_cast<unsigned char*>(d.data()),
                                            &len) == 1,
               "raw private key");
    d.resize(len);
    return d;
  }

  [[nodiscard]] std::string public_pem() const {
    Bio bio(BIO_new(BIO_s_mem()));
    ossl_check(bio && PEM_write_bio_PUBKEY(bio.get(), pkey_.get()) == 1, "PEM");
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
  }

  [[nodiscard]] std::string public_der() const {
    unsigned char* der = nullptr;
    const int len = i2d_PUBKEY(pkey_.get(), &der);
    ossl_check(len > 0, "DER");
    std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
    OPENSSL_free(der);
    return out;
  }

  // The key bytes an attacker would try as an HMAC secret: raw x, the EC point, or RSA's n.
  [[nodiscard]] std::string public_raw() const {
    const json j = jwk(std::nullopt);
    if (j["kty"] == "OKP") return unbase64url(j["x"].get<std::string>());
    if (j["kty"] == "EC")
      return "\x04" + unbase64url(j["x"].get<std::string>()) +
             unbase64url(j["y"].get<std::string>());
    return unbase64url(j["n"].get<std::string>());
  }

  // A JWS signature of `input` with `alg`. ECDSA signatures are JWS's raw r||s unless
  // `raw_ecdsa` is false (then OpenSSL's DER, which JWS forbids).
  [[nodiscard]] std::string sign(std::string_view alg, std::string_view input,
                                 bool raw_ecdsa = true,
                                 int pss_saltlen = RSA_PSS_SALTLEN_DIGEST) const {
    const bool eddsa = alg == "EdDSA" || alg == "Ed25519";
    const EVP_MD* md = nullptr;
    if (!eddsa) {
      const std::string_view bits = alg.substr(2);
      md = bits == "256" ? EVP_sha256() : bits == "384" ? EVP_sha384() : EVP_sha512();
    }
    MdCtx ctx(EVP_MD_CTX_new());
    EVP_PKEY_CTX* pctx = nullptr;
    ossl_check(ctx && EVP_DigestSignInit(ctx.get(), &pctx, md, nullptr, pkey_.get()) == 1,
               "DigestSignInit");
    if (alg.front() == 'P') {  // RSASSA-PSS: MGF1 with the same hash, salt = hash length
      ossl_check(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
                     EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, pss_saltlen) == 1 &&
                     EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) == 1,
                 "PSS parameters");
    }
    std::size_t len = 0;
    ossl_check(EVP_DigestSign(ctx.get(), nullptr, &len, bytes(input), input.size()) == 1,
               "DigestSign size");
    std::string sig(len, '\0');
    ossl_check(EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                              bytes(input), input.size()) == 1,
               "DigestSign");
    sig.resize(len);
    const bool ec_key = type_ == KeyType::p256 || type_ == KeyType::p384 || type_ == KeyType::p521;
    if (alg.front() == 'E' && !eddsa && raw_ecdsa && ec_key) return der_to_raw(sig);
    return sig;
  }

 private:
  static EVP_PKEY* read_pem(std::string_view pem) {
    Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    EVP_PKEY* p = bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr;
    ossl_check(p != nullptr, "PEM private key");
    return p;
  }

  static EVP_PKEY* generate(KeyType type) {
    EVP_PKEY* p = nullptr;
    switch (type) {
      case KeyType::ed25519:
        p = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
        break;
      case KeyType::p256:
        p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
        break;
      case KeyType::p384:
        p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384");
        break;
      case KeyType::p521:
        p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-521");
        break;
      case KeyType::rsa2048:
        p = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
        break;
      case KeyType::rsa1024:
        p = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(1024));
        break;
    }
    ossl_check(p != nullptr, "keygen");
    return p;
  }

  [[nodiscard]] int curve_bytes() const { return (EVP_PKEY_get_bits(pkey_.get()) + 7) / 8; }

  // A big-number parameter, left-padded to `pad` bytes (0: minimal length).
  [[nodiscard]] std::string bn_param(const char* name, int pad) const {
    BIGNUM* raw = nullptr;
    ossl_check(EVP_PKEY_get_bn_param(pkey_.get(), name, &raw) == 1, name);
    const Bignum bn(raw);
    const int size = pad > 0 ? pad : BN_num_bytes(bn.get());
    std::string out(static_cast<std::size_t>(size), '\0');
    auto* to = reinterpret_cast<unsigned char*>(out.data());
    ossl_check((pad > 0 ? BN_bn2binpad(bn.get(), to, pad) : BN_bn2bin(bn.get(), to)) == size,
               "bn2bin");
    return out;
  }

  // DER ECDSA-Sig-Value to JWS's r||s, each left-padded to the curve size.
  [[nodiscard]] std::string der_to_raw(const std::string& der) const {
    const unsigned char* p = bytes(der);
    const EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
    ossl_check(sig != nullptr, "d2i_ECDSA_SIG");
    const int half = curve_bytes();
    std::string raw(static_cast<std::size_t>(2 * half), '\0');
    auto* out = reinterpret_cast<unsigned char*>(raw.data());
    ossl_check(BN_bn2binpad(ECDSA_SIG_get0_r(sig.get()), out, half) == half &&
                   BN_bn2binpad(ECDSA_SIG_get0_s(sig.get()), out + half, half) == half,
               "r||s");
    return raw;
  }

  KeyType type_;
  std::shared_ptr<EVP_PKEY> pkey_;
};

// One key per type shared by the tests (RSA generation is slow).
inline const TestKey& shared_key(KeyType type) {
  static std::mutex mutex;
  static std::array<std::unique_ptr<TestKey>, 6> keys;
  std::lock_guard lock(mutex);
  auto& slot = keys[static_cast<std::size_t>(type)];
  if (!slot) slot = std::make_unique<TestKey>(type);
  return *slot;
}

/// A compact JWS of `payload` under `header`, signed by `key` with `alg`.
inline std::string compact_jws(const TestKey& key, const std::string& alg, const json& header,
                               const json& payload, bool raw_ecdsa = true) {
  const std::string input =
      libtodo::base64url_encode(header.dump()) + "." + libtodo::base64url_encode(payload.dump());
  return input + "." + libtodo::base64url_encode(key.sign(alg, input, raw_ecdsa));
}

}  // namespace test
