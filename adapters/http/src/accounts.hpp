#pragma once
// The optional built-in accounts of SPEC §4 (AUTH_ACCOUNTS=on): register,
// login, logout and me, with Argon2id password hashes (libsodium), login
// throttling, and token revocation stored in the database.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include <httplib.h>

#include <libtodo/account_store.hpp>
#include <libtodo/token_verifier.hpp>

#include "log.hpp"

namespace todo_server {

struct AccountsOptions {
  std::string secret;  ///< signs the HS256 tokens issued at login
  std::chrono::seconds token_ttl{3600};
  std::optional<std::string> issuer;    ///< `iss` of issued tokens (JWT_ISSUER)
  std::optional<std::string> audience;  ///< `aud` of issued tokens (JWT_AUDIENCE)
  /// Failed logins allowed per account and per client address within the window.
  int max_failures_per_account = 5;
  int max_failures_per_address = 20;
  std::chrono::seconds failure_window{900};
};

/// Argon2id (libsodium's crypto_pwhash_str) with OWASP's parameters: 2
/// passes over 19 MiB. At most two hashes run at once, bounding memory.
[[nodiscard]] std::string hash_password(std::string_view password);
[[nodiscard]] bool verify_password(const std::string& hash, std::string_view password);

/// The /api/auth routes. Thread-safe.
class Accounts {
 public:
  Accounts(libtodo::AccountStore& store, AccountsOptions options, const Logger& log);
  ~Accounts();
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  void register_user(const httplib::Request& req, httplib::Response& res);
  void login(const httplib::Request& req, httplib::Response& res);
  void logout(const libtodo::Principal& who, httplib::Response& res);
  void me(const libtodo::Principal& who, httplib::Response& res);

  /// True when the principal's token was revoked by a logout (here or on any
  /// instance sharing the database).
  [[nodiscard]] bool is_revoked(const libtodo::Principal& who);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace todo_server
