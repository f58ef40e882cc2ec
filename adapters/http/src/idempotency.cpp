#include "idempotency.hpp"

#include <array>
#include <thread>

#include <sodium.h>

#include "http_util.hpp"

namespace todo_server {

using libtodo::IdempotencyClaim;

namespace {

// The headers of a response that a replay repeats.
constexpr std::array<const char*, 3> replayed_headers = {"Content-Type", "Location", "ETag"};

// A key as sent: a structured-field String ("..." as the draft has it), or
// the bare token many clients send.
std::string unquote(std::string v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') return v.substr(1, v.size() - 2);
  return v;
}

}  // namespace

Idempotency::Idempotency(libtodo::IdempotencyStore& store, IdempotencyOptions options,
                         const Logger& log, Metrics* metrics)
    : store_(store), options_(options), log_(log), metrics_(metrics) {
  if (sodium_init() < 0) throw libtodo::ConfigError("libsodium failed to initialize");
}

std::string Idempotency::fingerprint(std::string_view route, const nlohmann::json& body) {
  // nlohmann::json keeps object keys sorted, so dump() is canonical.
  const std::string text = std::string(route) + "\n" + body.dump();
  std::array<unsigned char, crypto_generichash_BYTES> hash{};
  crypto_generichash(hash.data(), hash.size(), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  std::array<char, crypto_generichash_BYTES * 2 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), hash.data(), hash.size());
  return std::string(hex.data());
}

void Idempotency::run(const httplib::Request& req, httplib::Response& res,
                      const std::string& user_id, std::string_view route,
                      const nlohmann::json& body, const std::function<void()>& act) {
  if (!req.has_header("Idempotency-Key")) return act();
  const libtodo::IdempotencyKey key{user_id, std::string(route),
                                    unquote(req.get_header_value("Idempotency-Key"))};
  if (!libtodo::is_valid_idempotency_key(key.key))
    return send_error(res, 400, "invalid_idempotency_key",
                      "Idempotency-Key must be 1 to 255 visible ASCII characters");
  const std::string print = fingerprint(route, body);
  const auto deadline = std::chrono::steady_clock::now() + options_.wait;
  auto pause = std::chrono::milliseconds(5);
  for (;;) {
    const libtodo::Timestamp now = libtodo::now_ms();
    purge_now_and_then(now);
    IdempotencyClaim claim = store_.claim(key, print, now, options_.lease, options_.ttl);
    switch (claim.outcome) {
      case IdempotencyClaim::Outcome::acquired: {
        // A failure a retry may fix (5xx) stores nothing: the next attempt acts.
        const auto abandon = [&] {
          try {
            store_.abandon(key, claim.owner);
          } catch (const libtodo::Error& e) {  // the lease runs out instead
            log_.log(LogLevel::warn, "could not release an idempotency key", {{"error", e.what()}});
          }
        };
        try {
          act();
        } catch (...) {
          abandon();
          throw;
        }
        if (res.status >= 500) return abandon();
        libtodo::StoredResponse stored{res.status, {}, res.body};
        for (const char* name : replayed_headers)
          if (res.has_header(name)) stored.headers.emplace_back(name, res.get_header_value(name));
        try {
          if (!store_.complete(key, claim.owner, stored))
            log_.log(LogLevel::warn,
                     "idempotency key was taken over before the response was stored",
                     {{"request_id", res.get_header_value("X-Request-Id")}, {"route", route}});
        } catch (const libtodo::Error& e) {
          // The action happened and its answer goes out; only a retry after
          // the lease may act again. Logged, not turned into an error.
          log_.log(LogLevel::warn, "could not store the response of an idempotent request",
                   {{"request_id", res.get_header_value("X-Request-Id")}, {"error", e.what()}});
        }
        return;
      }
      case IdempotencyClaim::Outcome::replay:
        res.status = claim.response->status;
        res.body = std::move(claim.response->body);
        for (const auto& [name, value] : claim.response->headers) {
          res.headers.erase(name);
          res.set_header(name, value);
        }
        res.set_header("Idempotent-Replayed", "true");
        if (metrics_) metrics_->replayed();
        return;
      case IdempotencyClaim::Outcome::mismatch:
        return send_error(res, 422, "idempotency_key_reused",
                          "this Idempotency-Key was used with a different request body");
      case IdempotencyClaim::Outcome::in_progress:
        break;
    }
    if (std::chrono::steady_clock::now() + pause > deadline) {
      res.set_header("Retry-After", "1");
      return send_error(
          res, 409, "idempotency_key_in_use",
          "a request with this Idempotency-Key is still being processed; retry shortly");
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(100));
  }
}

void Idempotency::purge_now_and_then(libtodo::Timestamp now) {
  const std::int64_t now_ms = libtodo::to_unix_ms(now);
  std::int64_t due = next_purge_ms_.load(std::memory_order_relaxed);
  if (now_ms < due) return;
  const std::int64_t next =
      now_ms +
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.purge_interval).count();
  if (!next_purge_ms_.compare_exchange_strong(due, next)) return;  // another request does it
  try {
    const std::size_t n = store_.purge_idempotency_keys(now, 1000);
    if (n > 0)
      log_.log(LogLevel::debug, "expired idempotency keys deleted",
               {{"count", static_cast<long long>(n)}});
  } catch (const libtodo::Error& e) {
    log_.log(LogLevel::warn, "could not delete expired idempotency keys", {{"error", e.what()}});
  }
}

}  // namespace todo_server
