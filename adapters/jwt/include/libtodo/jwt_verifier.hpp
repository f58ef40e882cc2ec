#pragma once
// libtodo::jwt: verification (and, for tests and tools, minting) of JSON Web
// Tokens with OpenSSL 3, which stays inside this adapter's .cpp files.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libtodo/token_verifier.hpp>

namespace libtodo {

/// The shortest shared secret JwtVerifier accepts (RFC 7518 §3.2 for HS256).
inline constexpr std::size_t min_hs_secret_bytes = 32;

/// What JwtVerifier accepts. Key sources are additive: every configured
/// source contributes keys, and a token must be signed by one of them with an
/// algorithm that source allows.
struct JwtOptions {
  /// Shared secret for HS256/HS384/HS512 (Better Auth's BETTER_AUTH_SECRET),
  /// at least min_hs_secret_bytes long.
  std::string hs_secret;
  /// The HMAC algorithms accepted with hs_secret.
  std::vector<std::string> hs_algorithms{"HS256", "HS384", "HS512"};

  /// When set, `iss` must equal it.
  std::optional<std::string> issuer;
  /// When set, `aud` (a string or an array of strings) must contain it.
  std::optional<std::string> audience;
  /// Tolerance for clock differences in the exp, nbf and iat checks.
  std::chrono::seconds leeway{60};
  /// Tokens longer than this are refused unread.
  std::size_t max_token_bytes = 8192;

  /// The clock; empty means std::chrono::system_clock::now. For tests.
  std::function<std::chrono::system_clock::time_point()> clock;
};

/// Verifies compact JWS tokens (RFC 7515/7519) against the configured keys.
///
/// Checks, in order: shape and size, header (`alg` allowed for a configured
/// key, never `none`; unknown `crit` extensions refused; `jwk`, `jku`, `x5u`
/// and `x5c` ignored), signature, `exp` (required), `nbf`, `iat`, `iss`,
/// `aud`, and a non-empty `sub` of at most 255 bytes.
///
/// Thread-safe: verify() may be called from any number of threads.
class JwtVerifier final : public TokenVerifier {
 public:
  /// Throws ConfigError when no key source is configured or an option is invalid.
  explicit JwtVerifier(JwtOptions options);
  ~JwtVerifier() override;
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  [[nodiscard]] Verification verify(std::string_view token) const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The claims of a token minted by mint_hs_token.
struct TokenClaims {
  std::string subject;
  std::chrono::seconds lifetime{3600};
  std::optional<std::string> issuer;
  std::optional<std::string> audience;
  std::optional<std::string> email;
  std::optional<std::string> name;
  std::optional<std::string> jwt_id;
  /// Issue time; empty means now.
  std::optional<std::chrono::system_clock::time_point> issued_at;
};

/// A compact HS256/HS384/HS512 token for `claims`, signed with `secret`.
/// Throws ConfigError for an unknown algorithm or an empty secret.
[[nodiscard]] std::string mint_hs_token(std::string_view secret, const TokenClaims& claims,
                                        std::string_view algorithm = "HS256");

/// Signs arbitrary header and payload JSON texts with an HMAC algorithm named
/// in `header_json`'s sense by `algorithm` (HS256/384/512) and returns the
/// compact form. Nothing is checked: this exists to build test tokens,
/// including deliberately broken ones.
[[nodiscard]] std::string sign_hs_compact(std::string_view secret, std::string_view algorithm,
                                          std::string_view header_json,
                                          std::string_view payload_json);

/// base64url without padding (RFC 4648 §5), as JWS uses it.
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
/// Decodes unpadded base64url; nullopt for any other input.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace libtodo
