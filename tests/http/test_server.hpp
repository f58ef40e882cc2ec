#pragma once
// An in-process todo-server on a free loopback port, and a small HTTP client
// for the tests.

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include <catch2/catch.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <libtodo/jwt_verifier.hpp>
#include <libtodo/sqlite_repository.hpp>

#ifdef TODO_TEST_WITH_POSTGRES
#include "postgres/pg_test_env.hpp"
#endif

#include "config.hpp"
#include "log.hpp"
#include "server.hpp"

namespace test {

inline const std::string secret = "test-secret-0123456789abcdef-0123456789";

inline std::string token_for(const std::string& user, std::chrono::seconds ttl = std::chrono::seconds{600}) {
  libtodo::TokenClaims c;
  c.subject = user;
  c.lifetime = ttl;
  return libtodo::mint_hs_token(secret, c);
}

/// The repository the HTTP tests run on: SQLite in memory, or PostgreSQL (a
/// fresh schema on the fixture's server) when LIBTODO_TEST_BACKEND=postgres.
/// The same tests run on both; ctest registers one run per backend.
inline std::unique_ptr<libtodo::TaskRepository> make_repository() {
  const char* backend = std::getenv("LIBTODO_TEST_BACKEND");
  if (backend != nullptr && std::string(backend) == "postgres") {
#ifdef TODO_TEST_WITH_POSTGRES
    return std::make_unique<libtodo::PostgresTaskRepository>(isolated_pg_options());
#else
    FAIL("LIBTODO_TEST_BACKEND=postgres, but the tests were built without PostgreSQL");
#endif
  }
  return std::make_unique<libtodo::SqliteTaskRepository>(libtodo::SqliteOptions{});
}

/// Like make_repository(), but SQLite on a file in `dir` (WAL with one writer
/// connection and a pool of readers, as todo-server runs it) instead of memory.
inline std::unique_ptr<libtodo::TaskRepository> make_file_repository(const std::string& dir) {
  const char* backend = std::getenv("LIBTODO_TEST_BACKEND");
  if (backend != nullptr && std::string(backend) == "postgres") return make_repository();
  libtodo::SqliteOptions o;
  o.path = dir + "/todo.db";
  return std::make_unique<libtodo::SqliteTaskRepository>(o);
}

struct Reply {
  int status = 0;
  httplib::Headers headers;
  std::string body;
  [[nodiscard]] nlohmann::json json() const { return nlohmann::json::parse(body); }
  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  [[nodiscard]] bool has_header(const std::string& name) const { return headers.count(name) > 0; }
};

class Client {
 public:
  explicit Client(int port) : cli_("127.0.0.1", port) {
    cli_.set_read_timeout(10, 0);
    cli_.set_connection_timeout(5, 0);
  }

  Reply send(const std::string& method, const std::string& path, const std::string& body = {},
             httplib::Headers headers = {}, const std::string& content_type = "application/json") {
    httplib::Request req;
    req.method = method;
    req.path = path;
    req.headers = std::move(headers);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
      req.body = body;
      if (!content_type.empty()) req.set_header("Content-Type", content_type);
    }
    auto r = cli_.send(req);
    Reply out;
    if (!r) return out;  // status 0: no answer
    out.status = r->status;
    out.headers = r->headers;
    out.body = r->body;
    return out;
  }

  // The same with a bearer token.
  Reply as(const std::string& token, const std::string& method, const std::string& path,
           const std::string& body = {}) {
    return send(method, path, body, {{"Authorization", "Bearer " + token}});
  }

 private:
  httplib::Client cli_;
};

/// The two route shapes of SPEC §3 for one user.
struct Shape {
  bool user_shape;
  std::string user;
  [[nodiscard]] std::string tasks() const {
    return user_shape ? "/api/" + user + "/tasks" : std::string("/api/tasks");
  }
  [[nodiscard]] std::string task(const std::string& id) const { return tasks() + "/" + id; }
  /// The route template, as the route table and the logs name it.
  [[nodiscard]] std::string name() const { return user_shape ? "/api/{user_id}/tasks" : "/api/tasks"; }
};

/// Both shapes: the calling test case runs once for each (Catch2 GENERATE).
inline Shape any_shape(const std::string& user) {
  const bool user_shape = GENERATE(false, true);
  return Shape{user_shape, user};
}

/// The one error body of SPEC §3, with the expected status and code.
inline void require_error_shape(const Reply& r, int status, const std::string& code) {
  INFO(r.body);
  REQUIRE(r.status == status);
  REQUIRE(r.header("Content-Type") == "application/json");
  const nlohmann::json j = r.json();
  REQUIRE(j["error"]["code"] == code);
  REQUIRE(j["error"]["message"].is_string());
  REQUIRE(j["error"]["details"].is_array());
  REQUIRE(j["detail"] == j["error"]["message"]);
  REQUIRE_FALSE(r.header("X-Request-Id").empty());
}

/// Creates a task (201 required) and returns its id.
inline std::string create_task(Client& c, const std::string& token, const Shape& s, const nlohmann::json& body) {
  const Reply r = c.as(token, "POST", s.tasks(), body.dump());
  INFO(r.body);
  REQUIRE(r.status == 201);
  return r.json()["id"];
}

/// A repository whose every call fails the way a broken (StorageError) or
/// unreachable (StorageUnavailable) database does; `ping_delay` makes ping
/// hang that long first, as a connect or query does on a lost network.
class FailingRepository final : public libtodo::TaskRepository {
 public:
  explicit FailingRepository(bool unavailable, std::chrono::milliseconds ping_delay = {})
      : unavailable_(unavailable), ping_delay_(ping_delay) {}
  libtodo::Task create(std::string_view, libtodo::TaskDraft) override { fail(); }
  std::optional<libtodo::Task> find(std::string_view, std::string_view) override { fail(); }
  libtodo::TaskPage list(std::string_view, const libtodo::TaskQuery&) override { fail(); }
  std::optional<libtodo::Task> update(std::string_view, std::string_view, libtodo::TaskPatch,
                                      const libtodo::Precondition&) override {
    fail();
  }
  bool remove(std::string_view, std::string_view, const libtodo::Precondition&) override { fail(); }
  std::optional<libtodo::Task> toggle(std::string_view, std::string_view,
                                      const libtodo::Precondition&) override {
    fail();
  }
  libtodo::BulkResult set_completed(std::string_view, const std::vector<std::string>&,
                                    bool) override {
    fail();
  }
  libtodo::BulkResult remove_all(std::string_view, const std::vector<std::string>&) override {
    fail();
  }
  libtodo::TaskStats stats(std::string_view, libtodo::Timestamp) override { fail(); }
  libtodo::Ownership ownership(std::string_view, std::string_view) override { fail(); }
  void ping() override {
    std::this_thread::sleep_for(ping_delay_);
    fail();
  }

 private:
  [[noreturn]] void fail() const {
    if (unavailable_) throw libtodo::StorageUnavailable("connection refused at 10.0.0.7:5432");
    throw libtodo::StorageError("sqlite: disk I/O error in /var/lib/secret/path.db");
  }
  bool unavailable_;
  std::chrono::milliseconds ping_delay_;
};

// A server with its own repository (SQLite :memory: unless given) running on a thread.
class TestServer {
 public:
  /// `accounts`: also serve the built-in accounts (AUTH_ACCOUNTS=on) with these options.
  /// `jwt`: the verifier's options; default: HS256 tokens of token_for().
  explicit TestServer(todo_server::HttpOptions options = {},
                      std::shared_ptr<libtodo::TaskRepository> repo = nullptr,
                      std::optional<todo_server::AccountsOptions> accounts = std::nullopt,
                      std::optional<libtodo::JwtOptions> jwt = std::nullopt)
      : repo_(repo ? std::move(repo) : make_repository()),
        verifier_(jwt ? std::move(*jwt) : jwt_options()),
        logger_(todo_server::LogLevel::error) {
    options.host = "127.0.0.1";
    options.port = 0;
    if (accounts) {
      auto* store = dynamic_cast<libtodo::AccountStore*>(repo_.get());
      REQUIRE(store != nullptr);
      accounts->secret = secret;
      accounts_ = std::make_unique<todo_server::Accounts>(*store, *accounts, logger_);
    }
    server_ = std::make_unique<todo_server::Server>(*repo_, verifier_, logger_, options, accounts_.get());
    port_ = server_->bind();
    thread_ = std::thread([this] { server_->run(); });
    while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~TestServer() {
    server_->stop();
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] libtodo::TaskRepository& repository() { return *repo_; }
  [[nodiscard]] std::shared_ptr<libtodo::TaskRepository> shared_repository() { return repo_; }
  [[nodiscard]] Client client() const { return Client(port_); }
  [[nodiscard]] todo_server::Server& server() { return *server_; }

 private:
  static libtodo::JwtOptions jwt_options() {
    libtodo::JwtOptions o;
    o.hs_secret = secret;
    return o;
  }
  std::shared_ptr<libtodo::TaskRepository> repo_;  // shared: several servers may use one store
  libtodo::JwtVerifier verifier_;
  todo_server::Logger logger_;
  std::unique_ptr<todo_server::Accounts> accounts_;
  std::unique_ptr<todo_server::Server> server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace test
