#pragma once
// The authentication port: something that turns a bearer token into the
// identity of a user. libtodo::JwtVerifier (libtodo::jwt) implements it.

#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <libtodo/core_export.hpp>
#include <libtodo/errors.hpp>
#include <libtodo/time.hpp>

namespace libtodo {

/// The verified identity behind a token.
struct Principal {
  std::string user_id;               ///< the token's `sub`
  std::optional<std::string> email;  ///< `email` claim, when present
  std::optional<std::string> name;   ///< `name` claim, when present
  Timestamp expires_at{};            ///< `exp`
  std::optional<std::string> token_id;  ///< `jti`, when present (revocable tokens)
};

/// Why a token was refused. For logs and metrics; an HTTP client only ever
/// learns "401".
enum class AuthFailure {
  malformed,              ///< not three base64url parts of JSON objects, or too long
  unsupported_algorithm,  ///< `alg` missing, `none`, or not allowed for any configured key
  unknown_key,            ///< no configured key matches the header (`kid`)
  bad_signature,
  missing_expiry,         ///< no numeric `exp`
  expired,
  not_yet_valid,          ///< `nbf` in the future beyond the leeway
  issued_in_future,       ///< `iat` in the future beyond the leeway
  wrong_issuer,
  wrong_audience,
  missing_subject,        ///< `sub` absent, empty, not a string or over 255 bytes
  unsupported_critical,   ///< a `crit` header names an extension we do not implement
};

/// The enumerator's name, e.g. "bad_signature", for logs.
[[nodiscard]] LIBTODO_CORE_EXPORT std::string_view to_string(AuthFailure f) noexcept;

/// The outcome of a verification: a principal, or the reason there is none.
class Verification {
 public:
  Verification(Principal p) : principal_(std::move(p)) {}  // NOLINT: implicit by design
  Verification(AuthFailure f) : failure_(f) {}             // NOLINT: implicit by design

  /// Whether the token was accepted.
  [[nodiscard]] bool ok() const noexcept { return principal_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  /// Precondition: ok().
  [[nodiscard]] const Principal& principal() const& { return *principal_; }
  [[nodiscard]] Principal&& principal() && { return std::move(*principal_); }
  /// Meaningful only when !ok().
  [[nodiscard]] AuthFailure failure() const noexcept { return failure_; }

 private:
  std::optional<Principal> principal_;
  AuthFailure failure_ = AuthFailure::malformed;
};

/// Verifies bearer tokens. Implementations are safe to call from many threads.
class LIBTODO_CORE_EXPORT TokenVerifier {
 public:
  virtual ~TokenVerifier() = default;
  /// The principal of a valid compact token (without "Bearer "), or why it is not valid.
  [[nodiscard]] virtual Verification verify(std::string_view token) const = 0;
};

/// Thrown by callers that prefer exceptions to Verification results.
class LIBTODO_CORE_EXPORT AuthenticationError : public Error {
 public:
  explicit AuthenticationError(AuthFailure f)
      : Error(std::string("token rejected: ").append(to_string(f))), failure_(f) {}
  /// Why the token was refused.
  [[nodiscard]] AuthFailure failure() const noexcept { return failure_; }

 private:
  AuthFailure failure_;
};

}  // namespace libtodo
