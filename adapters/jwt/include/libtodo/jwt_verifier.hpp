#pragma once
// libtodo::jwt: verification (and, for tests and tools, minting) of JSON Web
// Tokens with OpenSSL 3, which stays inside this adapter's .cpp files.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libtodo/jwt_export.hpp>
#include <libtodo/token_verifier.hpp>

namespace libtodo {

/// The shortest shared secret JwtVerifier accepts (RFC 7518 §3.2 for HS256).
inline constexpr std::size_t min_hs_secret_bytes = 32;

/// Fetches a URL and returns the body of a 200 answer, or nullopt. Used for
/// JWKS URLs; JwtOptions::fetch replaces the built-in HTTP(S) client.
using Fetcher = std::function<std::optional<std::string>(const std::string& url)>;

/// What JwtVerifier accepts. Key sources are additive: the shared secret
/// verifies HS* tokens, the JWKS keys verify EdDSA/ES*/RS*/PS* tokens, and at
/// least one source must be configured.
struct JwtOptions {
  /// Shared secret for HS256/HS384/HS512 (Better Auth's BETTER_AUTH_SECRET),
  /// at least min_hs_secret_bytes long; empty for none.
  std::string hs_secret;
  /// The HMAC algorithms accepted with hs_secret.
  std::vector<std::string> hs_algorithms{"HS256", "HS384", "HS512"};

  /// A JWKS document on disk (read at construction and at every refresh).
  std::string jwks_file;
  /// A JWKS URL, http or https, e.g. Better Auth's `<site>/api/auth/jwks`.
  std::string jwks_url;
  /// A token naming an unknown `kid` makes the verifier refetch the JWKS, at
  /// most once per this interval (so garbage tokens cannot hammer the issuer).
  std::chrono::seconds jwks_min_refresh{30};
  /// The JWKS is also refreshed in the background this often.
  std::chrono::seconds jwks_ttl{600};
  /// Connect and read timeout of one JWKS fetch.
  std::chrono::seconds jwks_fetch_timeout{5};
  /// Replaces the built-in HTTP client for jwks_url (tests, custom transports).
  Fetcher fetch;

  /// Verified tokens remembered (keyed by a SHA-256 of the whole token) so a
  /// repeated token skips parsing and signature checks; 0 turns this off.
  /// An entry is never used once its token has expired, and the cache is
  /// emptied whenever the key set changes.
  std::size_t cache_capacity = 16384;

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
/// Asymmetric keys are chosen by the token's `kid`, or, when it has none, the
/// only configured key that fits its `alg`. A failed JWKS fetch keeps the
/// keys already known; a key missing from a successful fetch is dropped.
///
/// Thread-safe: verify() may be called from any number of threads.
class LIBTODO_JWT_EXPORT JwtVerifier final : public TokenVerifier {
 public:
  /// Throws ConfigError when no key source is configured, an option is
  /// invalid, or jwks_file cannot be read. An unreachable jwks_url is not an
  /// error here (the issuer may start later): see key_count() and refresh_keys().
  explicit JwtVerifier(JwtOptions options);
  ~JwtVerifier() override;
  JwtVerifier(const JwtVerifier&) = delete;
  JwtVerifier& operator=(const JwtVerifier&) = delete;

  /// See TokenVerifier::verify and the checks above.
  [[nodiscard]] Verification verify(std::string_view token) const override;

  /// Reloads jwks_file and jwks_url now; false when a source failed (its
  /// previous keys are kept). Not rate-limited.
  bool refresh_keys();
  /// Asymmetric keys currently known.
  [[nodiscard]] std::size_t key_count() const;

  /// Counters for logs and metrics.
  struct Stats {
    std::uint64_t cache_hits = 0;
    std::uint64_t cache_misses = 0;
    std::uint64_t jwks_fetches = 0;
    std::uint64_t jwks_fetch_failures = 0;
  };
  /// The counters now.
  [[nodiscard]] Stats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The claims of a token minted by mint_hs_token.
struct TokenClaims {
  std::string subject;                  ///< `sub`
  std::chrono::seconds lifetime{3600};  ///< `exp` = issue time + lifetime
  std::optional<std::string> issuer;    ///< `iss`
  std::optional<std::string> audience;  ///< `aud`
  std::optional<std::string> email;     ///< `email`
  std::optional<std::string> name;      ///< `name`
  std::optional<std::string> jwt_id;    ///< `jti`
  /// Issue time; empty means now.
  std::optional<std::chrono::system_clock::time_point> issued_at;
};

/// A compact HS256/HS384/HS512 token for `claims`, signed with `secret`.
/// Throws ConfigError for an unknown algorithm or an empty secret.
[[nodiscard]] LIBTODO_JWT_EXPORT std::string mint_hs_token(std::string_view secret,
                                                           const TokenClaims& claims,
                                                           std::string_view algorithm = "HS256");

/// Signs arbitrary header and payload JSON texts with an HMAC algorithm named
/// in `header_json`'s sense by `algorithm` (HS256/384/512) and returns the
/// compact form. Nothing is checked: this exists to build test tokens,
/// including deliberately broken ones.
[[nodiscard]] LIBTODO_JWT_EXPORT std::string sign_hs_compact(std::string_view secret,
                                                             std::string_view algorithm,
                                                             std::string_view header_json,
                                                             std::string_view payload_json);

/// base64url without padding (RFC 4648 §5), as JWS uses it.
[[nodiscard]] LIBTODO_JWT_EXPORT std::string base64url_encode(std::string_view bytes);
/// Decodes unpadded base64url; nullopt for any other input.
[[nodiscard]] LIBTODO_JWT_EXPORT std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace libtodo
