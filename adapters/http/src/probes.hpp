#pragma once
// The readiness check behind /readyz, with a deadline: the database check
// runs on a thread of its own, so that a database that does not answer (a
// connect or a query hanging on a lost network) yields 503 within the
// deadline instead of a hanging probe.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace todo_server {

class ReadinessProbe {
 public:
  /// `check` throws (anything) when the service is not ready.
  explicit ReadinessProbe(std::function<void()> check);
  /// Waits for a check that is running to end (bounded by the database's
  /// own timeouts).
  ~ReadinessProbe();
  ReadinessProbe(const ReadinessProbe&) = delete;
  ReadinessProbe& operator=(const ReadinessProbe&) = delete;

  /// Runs a fresh check and waits for it at most `timeout`: nullopt when
  /// ready, otherwise why not. Concurrent callers share one check. Thread-safe.
  [[nodiscard]] std::optional<std::string> check(std::chrono::milliseconds timeout);

 private:
  void loop();

  std::function<void()> check_;
  std::mutex mutex_;
  std::condition_variable cv_;
  unsigned long long requested_ = 0;  // checks asked for
  unsigned long long started_ = 0;    // the request count when the running/last check began
  unsigned long long finished_ = 0;   // the request count the last finished check covers
  std::optional<std::string> result_;
  bool stop_ = false;
  std::thread worker_;
};

}  // namespace todo_server
