#pragma once
// The optional built-in accounts of todo-server (SPEC §4, AUTH_ACCOUNTS):
// users with password hashes, and revoked token ids. Both storage backends
// implement this port next to TaskRepository, in the same database.

#include <optional>
#include <string>
#include <string_view>

#include <libtodo/core_export.hpp>
#include <libtodo/time.hpp>

namespace libtodo {

/// A user of the built-in accounts.
struct User {
  std::string id;     ///< UUIDv7; the `sub` of the tokens issued for this user
  std::string email;  ///< normalized (see normalize_email)
  std::optional<std::string> name;  ///< display name, when given at registration
  Timestamp created_at{};
};

/// A user with the stored password hash (an Argon2id string).
struct Credentials {
  User user;
  std::string password_hash;
};

/// Users and token revocations. Thread-safe like the repositories.
class LIBTODO_CORE_EXPORT AccountStore {
 public:
  virtual ~AccountStore() = default;

  /// Stores a new user; nullopt when the (normalized) email is taken.
  virtual std::optional<User> create_user(std::string_view email, std::string_view password_hash,
                                          const std::optional<std::string>& name) = 0;
  /// The user with this email (normalized first) and the password hash, or nullopt.
  virtual std::optional<Credentials> find_credentials(std::string_view email) = 0;
  /// The user with this id, or nullopt.
  virtual std::optional<User> find_user(std::string_view user_id) = 0;

  /// Records that the token `jti` is revoked until `expires_at`.
  virtual void revoke_token(std::string_view jti, Timestamp expires_at) = 0;
  /// Whether `jti` was revoked and has not expired yet.
  virtual bool is_token_revoked(std::string_view jti) = 0;
  /// Forgets revocations of tokens that have expired (they are refused anyway).
  virtual void purge_revocations(Timestamp now) = 0;
};

/// Trimmed and ASCII-lower-cased: emails are unique case-insensitively.
[[nodiscard]] LIBTODO_CORE_EXPORT std::string normalize_email(std::string_view email);

/// A plausible address: 3..254 bytes of UTF-8, one '@' with text on both
/// sides, a dot in the domain, no spaces or control characters.
[[nodiscard]] LIBTODO_CORE_EXPORT bool is_plausible_email(std::string_view normalized_email);

}  // namespace libtodo
