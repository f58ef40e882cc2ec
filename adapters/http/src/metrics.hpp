#pragma once
// todo-server's metrics in the Prometheus text format (version 0.0.4):
// requests by route template, method and status, latency histograms,
// requests in flight, the database pool, token verification failures, the
// verified-token cache, rate limiting and idempotent replays, build info.
//
// Counting is a few relaxed atomic increments into fixed arrays indexed by
// (route, method, status): no lock and no map lookup per request.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <libtodo/task_repository.hpp>

#include "log.hpp"

namespace httplib {
class Server;
}

namespace todo_server {

class Metrics {
 public:
  enum class Method : std::uint8_t { get, head, post, put, patch, del, options, other };
  static constexpr std::size_t method_count = 8;
  [[nodiscard]] static Method method_of(std::string_view method) noexcept;

  /// `routes` are the route templates (labels); index routes.size() counts
  /// requests that matched no route. `auth_reasons` label the failures
  /// counted by auth_failed(index).
  Metrics(std::vector<std::string> routes, std::vector<std::string> auth_reasons,
          std::string version);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  [[nodiscard]] std::size_t unmatched_route() const noexcept { return routes_.size(); }

  /// A request began (requests in flight).
  void started() noexcept { in_flight_.fetch_add(1, std::memory_order_relaxed); }
  /// A request was answered. `started` says whether started() was called
  /// for it (requests cpp-httplib refuses before routing are not).
  void finished(std::size_t route, Method method, int status, std::chrono::nanoseconds duration,
                bool started) noexcept;
  void auth_failed(std::size_t reason) noexcept;
  void rate_limited(bool per_user) noexcept;
  void replayed() noexcept { replays_.fetch_add(1, std::memory_order_relaxed); }

  /// Values read at scrape time from the parts that own them.
  struct Snapshot {
    libtodo::PoolStats pool;
    std::optional<std::uint64_t> token_cache_hits;
    std::optional<std::uint64_t> token_cache_misses;
  };
  /// The exposition text.
  [[nodiscard]] std::string render(const Snapshot& snapshot) const;

  /// The Content-Type of render()'s text.
  static constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Counters;
  std::vector<std::string> routes_;
  std::vector<std::string> auth_reasons_;
  std::string version_;
  double start_time_;
  std::unique_ptr<Counters> c_;
  std::atomic<std::int64_t> in_flight_{0};
  std::atomic<std::uint64_t> replays_{0};
  std::atomic<std::uint64_t> limited_user_{0}, limited_address_{0};
};

/// Serves GET /metrics alone on an address of its own (METRICS_ADDRESS), so
/// that the API port need not expose it.
class MetricsListener {
 public:
  MetricsListener(std::string host, int port, std::function<std::string()> render,
                  const Logger& log);
  ~MetricsListener();
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;
  /// Binds and starts serving on a thread of its own; returns the port.
  /// Throws libtodo::ConfigError when the address cannot be bound.
  int start();
  void stop();

 private:
  std::string host_;
  int port_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace todo_server
