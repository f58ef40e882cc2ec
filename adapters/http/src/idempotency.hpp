#pragma once
// Idempotency-Key on POST routes (draft-ietf-httpapi-idempotency-key-header):
// the first response to a key is stored per user, route and key, and a retry
// with an equal JSON body gets it again without acting again; concurrent
// retries wait for the first; a different body with the same key is 422.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <libtodo/idempotency_store.hpp>

#include "config.hpp"
#include "log.hpp"
#include "metrics.hpp"

namespace todo_server {

/// Thread-safe.
class Idempotency {
 public:
  Idempotency(libtodo::IdempotencyStore& store, IdempotencyOptions options, const Logger& log,
              Metrics* metrics);

  /// Calls `act` (which answers into `res`) once per key: directly when the
  /// request has no Idempotency-Key; otherwise only when this request holds
  /// the key, and answers with the stored response when an earlier request
  /// with the key finished. `route` names the route ("POST /api/tasks").
  void run(const httplib::Request& req, httplib::Response& res, const std::string& user_id,
           std::string_view route, const nlohmann::json& body, const std::function<void()>& act);

  /// BLAKE2b-256 (hex) of the route and the canonical JSON text of `body`
  /// (keys sorted, no white space): equal JSON gives an equal fingerprint.
  [[nodiscard]] static std::string fingerprint(std::string_view route, const nlohmann::json& body);

 private:
  void purge_now_and_then(libtodo::Timestamp now);

  libtodo::IdempotencyStore& store_;
  IdempotencyOptions options_;
  const Logger& log_;
  Metrics* metrics_;
  std::atomic<std::int64_t> next_purge_ms_{0};
};

}  // namespace todo_server
