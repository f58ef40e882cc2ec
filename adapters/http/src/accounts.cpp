#include "accounts.hpp"

#include <sodium.h>

#include <mutex>
#include <semaphore>
#include <stdexcept>
#include <unordered_map>

#include <libtodo/jwt_verifier.hpp>
#include <libtodo/uuid.hpp>
#include <libtodo/validation.hpp>

#include "http_util.hpp"

namespace todo_server {
namespace {

using Clock = std::chrono::steady_clock;

constexpr unsigned long long argon2_ops = 2;
constexpr std::size_t argon2_memory = 19u << 20;  // 19 MiB
constexpr std::size_t max_password_bytes = 1024;   // bounds the hashing work per request

std::counting_semaphore<2>& hashing_slots() {
  static std::counting_semaphore<2> slots(2);
  return slots;
}

void init_sodium() {
  static const int ready = sodium_init();
  if (ready < 0) throw std::runtime_error("libsodium failed to initialize");
}

// Failed logins per key ("a:<email>" / "i:<address>") in a fixed window.
class Throttle {
 public:
  // Seconds until `key` may try again, or 0.
  long long blocked_for(const std::string& key, int limit, std::chrono::seconds window) {
    std::lock_guard lock(mutex_);
    const auto it = entries_.find(key);
    if (it == entries_.end()) return 0;
    const auto elapsed = Clock::now() - it->second.start;
    if (elapsed >= window) {
      entries_.erase(it);
      return 0;
    }
    if (it->second.failures < limit) return 0;
    return std::chrono::duration_cast<std::chrono::seconds>(window - elapsed).count() + 1;
  }

  void fail(const std::string& key, std::chrono::seconds window) {
    std::lock_guard lock(mutex_);
    if (entries_.size() > 100000) prune(window);  // bound memory under a spray of keys
    auto& e = entries_[key];
    if (e.failures == 0 || Clock::now() - e.start >= window) e = {Clock::now(), 0};
    ++e.failures;
  }

  void reset(const std::string& key) {
    std::lock_guard lock(mutex_);
    entries_.erase(key);
  }

 private:
  struct Entry {
    Clock::time_point start;
    int failures = 0;
  };
  void prune(std::chrono::seconds window) {
    const auto now = Clock::now();
    std::erase_if(entries_, [&](const auto& kv) { return now - kv.second.start >= window; });
  }
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
};

std::string user_json(const libtodo::User& u) {
  std::string out = "{\"id\":";
  append_json_string(out, u.id);
  out += ",\"email\":";
  append_json_string(out, u.email);
  out += ",\"name\":";
  if (u.name)
    append_json_string(out, *u.name);
  else
    out += "null";
  out += '}';
  return out;
}

// A string member of the body, or nullopt (absent or not a string).
std::optional<std::string> string_field(const nlohmann::json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || !it->is_string()) return std::nullopt;
  return it->get<std::string>();
}

}  // namespace

std::string hash_password(std::string_view password) {
  init_sodium();
  char out[crypto_pwhash_STRBYTES];
  hashing_slots().acquire();
  const int rc = crypto_pwhash_str_alg(out, password.data(), password.size(), argon2_ops, argon2_memory,
                                       crypto_pwhash_ALG_ARGON2ID13);
  hashing_slots().release();
  if (rc != 0) throw std::runtime_error("password hashing ran out of memory");
  return out;
}

bool verify_password(const std::string& hash, std::string_view password) {
  init_sodium();
  hashing_slots().acquire();
  const int rc = crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size());
  hashing_slots().release();
  return rc == 0;
}

struct Accounts::Impl {
  libtodo::AccountStore& store;
  AccountsOptions options;
  const Logger& log;
  Throttle throttle;
  std::string dummy_hash;  // verified against for unknown emails, so both failures cost the same

  // Tokens revoked by this instance, consulted before the database so that a
  // logout takes effect here at once.
  std::mutex revoked_mutex;
  std::unordered_map<std::string, libtodo::Timestamp> revoked_here;

  Impl(libtodo::AccountStore& s, AccountsOptions o, const Logger& l)
      : store(s), options(std::move(o)), log(l), dummy_hash(hash_password(libtodo::new_uuid_v7())) {}
};

Accounts::Accounts(libtodo::AccountStore& store, AccountsOptions options, const Logger& log)
    : impl_(std::make_unique<Impl>(store, std::move(options), log)) {}

Accounts::~Accounts() = default;

void Accounts::register_user(const httplib::Request& req, httplib::Response& res) {
  BodyProblem problem;
  const auto body = read_object(req, problem);
  if (!body) return send_error(res, problem.status, problem.code, problem.message);
  std::vector<libtodo::FieldError> errors;
  const std::string email = libtodo::normalize_email(string_field(*body, "email").value_or(""));
  if (!libtodo::is_plausible_email(email)) errors.push_back({"email", "must be a valid email address"});
  const auto password = string_field(*body, "password");
  const auto password_chars = password ? libtodo::utf8_length(*password) : std::nullopt;
  if (!password_chars || *password_chars < 8 || password->size() > max_password_bytes)
    errors.push_back({"password", "must be 8 to 1024 bytes of text, at least 8 characters"});
  std::optional<std::string> name;
  if (const auto it = body->find("name"); it != body->end() && !it->is_null()) {
    name = string_field(*body, "name");
    const auto chars = name ? libtodo::utf8_length(*name) : std::nullopt;
    if (!chars || *chars > 200) errors.push_back({"name", "must be a string of at most 200 characters"});
  }
  if (!errors.empty()) return send_validation(res, errors);

  const auto user = impl_->store.create_user(email, hash_password(*password), name);
  if (!user) return send_error(res, 409, "email_taken", "an account with this email already exists");
  set_json(res, 201, "{\"user\":" + user_json(*user) + "}");
}

void Accounts::login(const httplib::Request& req, httplib::Response& res) {
  BodyProblem problem;
  const auto body = read_object(req, problem);
  if (!body) return send_error(res, problem.status, problem.code, problem.message);
  const std::string email = libtodo::normalize_email(string_field(*body, "email").value_or(""));
  const std::string password = string_field(*body, "password").value_or("");
  const AccountsOptions& o = impl_->options;
  const std::string account_key = "a:" + email;
  const std::string address_key = "i:" + req.remote_addr;
  const long long wait = std::max(impl_->throttle.blocked_for(account_key, o.max_failures_per_account, o.failure_window),
                                  impl_->throttle.blocked_for(address_key, o.max_failures_per_address, o.failure_window));
  if (wait > 0) {
    res.set_header("Retry-After", std::to_string(wait));
    return send_error(res, 429, "too_many_attempts", "too many failed logins, retry later");
  }

  const auto credentials = password.size() <= max_password_bytes ? impl_->store.find_credentials(email) : std::nullopt;
  const bool ok = verify_password(credentials ? credentials->password_hash : impl_->dummy_hash, password) &&
                  credentials.has_value();
  if (!ok) {
    impl_->throttle.fail(account_key, o.failure_window);
    impl_->throttle.fail(address_key, o.failure_window);
    res.set_header("WWW-Authenticate", "Bearer");
    return send_error(res, 401, "invalid_credentials", "wrong email or password");
  }
  impl_->throttle.reset(account_key);

  libtodo::TokenClaims claims;
  claims.subject = credentials->user.id;
  claims.email = credentials->user.email;
  claims.name = credentials->user.name;
  claims.jwt_id = libtodo::new_uuid_v7();
  claims.lifetime = o.token_ttl;
  claims.issuer = o.issuer;
  claims.audience = o.audience;
  std::string out = "{\"access_token\":";
  append_json_string(out, libtodo::mint_hs_token(o.secret, claims));
  out += ",\"token_type\":\"Bearer\",\"expires_in\":" + std::to_string(o.token_ttl.count());
  out += ",\"user\":" + user_json(credentials->user) + "}";
  set_json(res, 200, std::move(out));
}

void Accounts::logout(const libtodo::Principal& who, httplib::Response& res) {
  if (who.token_id) {
    {
      std::lock_guard lock(impl_->revoked_mutex);
      std::erase_if(impl_->revoked_here, [](const auto& kv) { return kv.second <= libtodo::now_ms(); });
      impl_->revoked_here[*who.token_id] = who.expires_at;
    }
    impl_->store.revoke_token(*who.token_id, who.expires_at);
    impl_->store.purge_revocations(libtodo::now_ms());
  }
  res.status = 204;
}

void Accounts::me(const libtodo::Principal& who, httplib::Response& res) {
  const auto user = impl_->store.find_user(who.user_id);
  if (!user) {
    res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
    return send_error(res, 401, "unauthorized", "invalid or expired token");
  }
  set_json(res, 200, user_json(*user));
}

bool Accounts::is_revoked(const libtodo::Principal& who) {
  if (!who.token_id) return false;
  {
    std::lock_guard lock(impl_->revoked_mutex);
    if (impl_->revoked_here.contains(*who.token_id)) return true;
  }
  return impl_->store.is_token_revoked(*who.token_id);
}

}  // namespace todo_server
