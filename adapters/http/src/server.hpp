#pragma once
// todo-server's HTTP layer: the routes of SPEC §3 on cpp-httplib, wired to a
// TaskRepository and a TokenVerifier that main() builds and hands in.

#include <memory>
#include <string>
#include <vector>

#include <libtodo/task_repository.hpp>
#include <libtodo/token_verifier.hpp>

#include "accounts.hpp"
#include "config.hpp"
#include "front.hpp"
#include "log.hpp"

namespace todo_server {

/// One route of the API, as the server routes it: the path template (e.g.
/// "/api/tasks/{id}") and the methods it answers.
struct RouteInfo {
  std::string path;
  std::string allow;  ///< "GET, HEAD, POST", as in a 405's Allow header
  bool accounts_only = false;
};

/// Every route todo-server serves (for the OpenAPI consistency test).
[[nodiscard]] std::vector<RouteInfo> route_table();

/// Serves the REST API until stop(). The repository, verifier and logger must
/// outlive the server. stop() may be called from any thread; the other
/// members from the thread that owns the server.
class Server {
 public:
  /// `accounts`, when given, adds the /api/auth routes of the built-in
  /// accounts and makes revoked tokens fail.
  Server(libtodo::TaskRepository& repository, const libtodo::TokenVerifier& verifier,
         const Logger& logger, HttpOptions options, Accounts* accounts = nullptr);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds the listening socket; returns the port (useful with port 0).
  /// Throws libtodo::ConfigError when the address cannot be bound.
  int bind();
  /// Serves until stop(); requests in flight finish before it returns.
  void run();
  /// Stops accepting and makes run() return. Thread-safe.
  void stop();
  [[nodiscard]] bool is_running() const;
  /// Counters of the connection layer.
  [[nodiscard]] FrontStats connection_stats() const;

  /// The Prometheus exposition of this server's metrics (empty with
  /// METRICS=off), for a listener of its own (METRICS_ADDRESS). Thread-safe.
  [[nodiscard]] std::string metrics_text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace todo_server
