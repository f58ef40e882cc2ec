#include "jwk.hpp"

#include <algorithm>
#include <stdexcept>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include <libtodo/jwt_verifier.hpp>

namespace libtodo::jwt_detail {
namespace {

using json = nlohmann::json;

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const noexcept { Free(p); }
};
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using Params = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using Bignum = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

std::string member(const json& jwk, const char* name) {
  const auto it = jwk.find(name);
  if (it == jwk.end() || !it->is_string()) throw std::runtime_error(std::string("missing \"") + name + "\"");
  return it->get<std::string>();
}

std::string decoded(const json& jwk, const char* name) {
  auto v = base64url_decode(member(jwk, name));
  if (!v || v->empty()) throw std::runtime_error(std::string("\"") + name + "\" is not base64url");
  return *v;
}

Pkey from_params(const char* type, OSSL_PARAM_BLD* bld) {
  Params params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    throw std::runtime_error(std::string("OpenSSL rejected the ") + type + " key");
  return Pkey(pkey);
}

Pkey okp_key(const json& jwk, std::vector<std::string>& algs) {
  if (member(jwk, "crv") != "Ed25519") throw std::runtime_error("unsupported OKP curve");
  const std::string x = decoded(jwk, "x");
  EVP_PKEY* p = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(x), x.size());
  if (p == nullptr) throw std::runtime_error("invalid Ed25519 key");
  algs = {"EdDSA", "Ed25519"};
  return Pkey(p);
}

Pkey ec_key(const json& jwk, std::vector<std::string>& algs) {
  const std::string crv = member(jwk, "crv");
  const char* group = nullptr;
  std::size_t size = 0;
  if (crv == "P-256") {
    group = "P-256", size = 32, algs = {"ES256"};
  } else if (crv == "P-384") {
    group = "P-384", size = 48, algs = {"ES384"};
  } else if (crv == "P-521") {
    group = "P-521", size = 66, algs = {"ES512"};
  } else {
    throw std::runtime_error("unsupported EC curve " + crv);
  }
  const std::string x = decoded(jwk, "x"), y = decoded(jwk, "y");
  if (x.size() != size || y.size() != size) throw std::runtime_error("EC coordinates of the wrong size");
  const std::string point = std::string(1, '\x04') + x + y;  // uncompressed SEC1 point
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
    throw std::runtime_error("out of memory");
  Pkey key = from_params("EC", bld.get());
  PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) throw std::runtime_error("EC point not on the curve");
  return key;
}

Pkey rsa_key(const json& jwk, std::vector<std::string>& algs) {
  const std::string n = decoded(jwk, "n"), e = decoded(jwk, "e");
  Bignum bn_n(BN_bin2bn(bytes(n), static_cast<int>(n.size()), nullptr));
  Bignum bn_e(BN_bin2bn(bytes(e), static_cast<int>(e.size()), nullptr));
  if (!bn_n || !bn_e) throw std::runtime_error("out of memory");
  if (BN_num_bits(bn_n.get()) < 2048) throw std::runtime_error("RSA key under 2048 bits");
  ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()))
    throw std::runtime_error("out of memory");
  algs = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
  return from_params("RSA", bld.get());
}

PublicKey parse_key(const json& jwk) {
  if (!jwk.is_object()) throw std::runtime_error("not an object");
  if (jwk.contains("d")) throw std::runtime_error("a private key; publish public keys only");
  if (const auto use = jwk.find("use"); use != jwk.end() && *use != "sig")
    throw std::runtime_error("not a signature key (use)");
  if (const auto ops = jwk.find("key_ops"); ops != jwk.end()) {
    if (!ops->is_array() || std::find(ops->begin(), ops->end(), "verify") == ops->end())
      throw std::runtime_error("key_ops lacks verify");
  }
  PublicKey key;
  if (const auto kid = jwk.find("kid"); kid != jwk.end()) {
    if (!kid->is_string()) throw std::runtime_error("kid is not a string");
    key.kid = kid->get<std::string>();
  }
  const std::string kty = member(jwk, "kty");
  Pkey pkey;
  if (kty == "OKP")
    pkey = okp_key(jwk, key.algorithms);
  else if (kty == "EC")
    pkey = ec_key(jwk, key.algorithms);
  else if (kty == "RSA")
    pkey = rsa_key(jwk, key.algorithms);
  else
    throw std::runtime_error("unsupported kty " + kty);
  // A JWK that names its algorithm may be used with that algorithm only.
  if (const auto alg = jwk.find("alg"); alg != jwk.end()) {
    if (!alg->is_string() || std::find(key.algorithms.begin(), key.algorithms.end(), *alg) == key.algorithms.end())
      throw std::runtime_error("alg does not fit the key type");
    key.algorithms = {alg->get<std::string>()};
    if (key.algorithms.front() == "EdDSA") key.algorithms.push_back("Ed25519");
  }
  key.pkey = std::shared_ptr<EVP_PKEY>(pkey.release(), EVP_PKEY_free);
  return key;
}

const EVP_MD* digest_for(std::string_view alg) {
  const std::string_view bits = alg.substr(2);
  if (bits == "256") return EVP_sha256();
  if (bits == "384") return EVP_sha384();
  if (bits == "512") return EVP_sha512();
  return nullptr;
}

// JWS ECDSA signatures are r||s, each the curve's size; OpenSSL wants DER.
std::optional<std::string> ecdsa_der(std::string_view raw, std::string_view alg) {
  const std::size_t half = alg == "ES256" ? 32 : alg == "ES384" ? 48 : 66;
  if (raw.size() != 2 * half) return std::nullopt;
  EcdsaSig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(bytes(raw), static_cast<int>(half), nullptr);
  BIGNUM* s = BN_bin2bn(bytes(raw.substr(half)), static_cast<int>(half), nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  const int len = i2d_ECDSA_SIG(sig.get(), &der);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace

bool PublicKey::allows(std::string_view alg) const {
  return std::find(algorithms.begin(), algorithms.end(), alg) != algorithms.end();
}

bool is_asymmetric_algorithm(std::string_view alg) {
  static constexpr std::string_view names[] = {"EdDSA", "Ed25519", "ES256", "ES384", "ES512", "RS256",
                                               "RS384", "RS512",   "PS256", "PS384", "PS512"};
  return std::find(std::begin(names), std::end(names), alg) != std::end(names);
}

KeySet parse_jwks(std::string_view document) {
  const json doc = json::parse(document, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("keys") || !doc["keys"].is_array())
    throw std::runtime_error("not a JWKS document (an object with a \"keys\" array)");
  KeySet set;
  for (const json& jwk : doc["keys"]) {
    try {
      set.keys.push_back(parse_key(jwk));
    } catch (const std::exception& e) {
      std::string kid = jwk.is_object() && jwk.contains("kid") && jwk["kid"].is_string() ? jwk["kid"].get<std::string>() : "?";
      set.skipped.push_back("kid " + kid + ": " + e.what());
    }
  }
  return set;
}

bool verify_signature(const PublicKey& key, std::string_view alg, std::string_view signing_input,
                      std::string_view signature) {
  if (!key.allows(alg)) return false;
  const bool eddsa = alg == "EdDSA" || alg == "Ed25519";
  const EVP_MD* md = eddsa ? nullptr : digest_for(alg);
  if (!eddsa && md == nullptr) return false;

  std::string der;
  if (alg.front() == 'E' && !eddsa) {
    auto converted = ecdsa_der(signature, alg);
    if (!converted) return false;
    der = std::move(*converted);
    signature = der;
  }
  MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, key.pkey.get()) != 1) return false;
  if (alg.front() == 'P') {  // RSASSA-PSS with MGF1 of the same hash and a salt of the hash's length
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
        EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) != 1 ||
        EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) != 1)
      return false;
  }
  return EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(signing_input),
                          signing_input.size()) == 1;
}

}  // namespace libtodo::jwt_detail
