#pragma once
// Token-bucket rate limits per key (a user id or a client address), and the
// RateLimit-Policy / RateLimit fields of the IETF httpapi rate-limit draft
// (structured-field syntax of draft -08 and later).

#include <array>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config.hpp"

namespace todo_server {

/// The outcome of one request against a bucket.
struct RateDecision {
  bool allowed = true;
  long long remaining = 0;    ///< whole tokens left after this request
  long long reset = 0;        ///< seconds until the bucket is full again
  long long retry_after = 0;  ///< when refused: seconds until one token is there
};

/// Buckets per key, in shards with a mutex each, so that concurrent requests
/// of different keys rarely meet. The number of buckets is bounded: when a
/// shard is full, buckets that have refilled completely (which are the same
/// as no bucket) are dropped first, then the least recently used one.
/// Thread-safe. Per process: instances behind a load balancer limit separately.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(RateLimit limit, std::size_t max_keys = 100000);
  ~RateLimiter();
  RateLimiter(const RateLimiter&) = delete;
  RateLimiter& operator=(const RateLimiter&) = delete;

  /// Takes one token for `key` at `now`.
  RateDecision take(std::string_view key, Clock::time_point now = Clock::now());
  [[nodiscard]] const RateLimit& limit() const noexcept { return limit_; }
  /// Buckets currently kept (for tests).
  [[nodiscard]] std::size_t size() const;

  /// The policy as a RateLimit-Policy list member: `"name";q=<burst>;w=<seconds to refill>`.
  [[nodiscard]] std::string policy_item(std::string_view name) const;
  /// A RateLimit list member for a decision: `"name";r=<remaining>;t=<reset>`.
  [[nodiscard]] static std::string limit_item(std::string_view name, const RateDecision& d);

 private:
  struct Shard;
  RateLimit limit_;
  std::size_t max_per_shard_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace todo_server
