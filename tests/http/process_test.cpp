// Tests of the todo-server executable itself: start-up refusals, --help, the
// token subcommand, clean shutdown on SIGTERM, and data surviving a restart.

#include <catch2/catch.hpp>

#include "process.hpp"
#include "test_server.hpp"

namespace fs = std::filesystem;
using nlohmann::json;
using test::Process;
using test::TempDir;

namespace {

const std::string secret_env = "BETTER_AUTH_SECRET=" + test::secret;

// Every line on stderr must be one JSON object.
void require_json_lines(const std::string& text) {
  std::istringstream lines(text);
  int count = 0;
  for (std::string line; std::getline(lines, line); ++count) {
    INFO(line);
    REQUIRE(json::parse(line, nullptr, false).is_object());
  }
  REQUIRE(count > 0);
}

}  // namespace

TEST_CASE("refuses to start without a secret, with a one-line JSON reason", "[process]") {
  TempDir dir;
  Process p(dir.path, {"--port", "0"}, {});
  REQUIRE(p.wait() == 2);
  const std::string err = p.err();
  require_json_lines(err);
  REQUIRE(std::count(err.begin(), err.end(), '\n') == 1);
  REQUIRE(err.find("BETTER_AUTH_SECRET") != std::string::npos);
}

TEST_CASE("refuses a secret shorter than 32 bytes", "[process]") {
  TempDir dir;
  Process p(dir.path, {"--port", "0"}, {"BETTER_AUTH_SECRET=short"});
  REQUIRE(p.wait() == 2);
  REQUIRE(p.err().find("32") != std::string::npos);
}

TEST_CASE("refuses a database it cannot open", "[process]") {
  TempDir dir;
  Process p(dir.path, {"--port", "0"},
            {secret_env, "DATABASE_URL=sqlite:///no/such/directory/todo.db"});
  REQUIRE(p.wait() == 2);
  require_json_lines(p.err());
  REQUIRE(p.err().find("cannot open the database") != std::string::npos);
}

TEST_CASE("refuses unknown flags and bad values", "[process]") {
  TempDir dir;
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--no-such-flag", "1"},
                                             {"--port", "99999"},
                                             {"--log-level", "loud"},
                                             {"--database-url", "mysql://x"},
                                             {"--metrics", "maybe"},
                                             {"--metrics-address", "9100"},
                                             {"--rate-limit-user-rps", "-1"},
                                             {"--rate-limit-user-burst", "5"},
                                             {"--rate-limit-address-rps", "fast"},
                                             {"--idempotency-ttl", "5"},
                                             {"--sqlite-cache-kib", "8"},
                                             {"--sqlite-synchronous", "off"}}) {
    INFO(args[0] << " " << args[1]);
    Process p(dir.path, args, {secret_env});
    REQUIRE(p.wait() == 2);
    require_json_lines(p.err());
  }
}

TEST_CASE("--help documents every setting", "[process]") {
  TempDir dir;
  Process p(dir.path, {"--help"}, {});
  REQUIRE(p.wait() == 0);
  for (const char* name :
       {"DATABASE_URL", "BETTER_AUTH_SECRET", "SECRET_KEY", "HOST", "PORT", "LOG_LEVEL", "METRICS",
        "METRICS_ADDRESS", "RATE_LIMIT_USER_RPS", "RATE_LIMIT_ADDRESS_BURST", "IDEMPOTENCY_TTL",
        "SQLITE_CACHE_KIB"})
    REQUIRE(p.out().find(name) != std::string::npos);
}

TEST_CASE("reads .env, and the environment wins over it", "[process]") {
  TempDir dir;
  std::ofstream(dir.path / ".env") << "# comment\nexport BETTER_AUTH_SECRET=\"" << test::secret
                                   << "\"\nPORT=1\nDATABASE_URL=sqlite::memory:\n";
  Process p(dir.path, {}, {"PORT=0"});
  const int port = p.port();
  REQUIRE(port != 1);
  test::Client c(port);
  REQUIRE(c.as(test::token_for("alice"), "GET", "/api/tasks").status == 200);
  p.signal(SIGTERM);
  REQUIRE(p.wait() == 0);
}

TEST_CASE("the token subcommand mints a token the server accepts", "[process]") {
  TempDir dir;
  Process mint(dir.path, {"token", "--sub", "carol", "--ttl", "120"}, {secret_env});
  REQUIRE(mint.wait() == 0);
  std::string token = mint.out();
  while (!token.empty() && token.back() == '\n') token.pop_back();
  REQUIRE(std::count(token.begin(), token.end(), '.') == 2);

  Process server(dir.path, {"--port", "0", "--database-url", "sqlite::memory:"}, {secret_env});
  test::Client c(server.port());
  REQUIRE(c.as(token, "POST", "/api/carol/tasks", R"({"title":"hi"})").status == 201);
}

TEST_CASE("SIGTERM stops cleanly and a file database keeps its data across restarts", "[process]") {
  TempDir dir;
  const std::vector<std::string> env{secret_env, "DATABASE_URL=sqlite:///./data/todo.db"};
  fs::create_directories(dir.path / "data");
  const std::string tok = test::token_for("dora");
  std::string id;
  {
    Process p(dir.path, {"--port", "0"}, env);
    test::Client c(p.port());
    const test::Reply r = c.as(tok, "POST", "/api/tasks", R"({"title":"persist me","tags":["x"]})");
    REQUIRE(r.status == 201);
    id = r.json()["id"];
    REQUIRE(c.as(tok, "PATCH", "/api/tasks/" + id, R"({"priority":"high"})").status == 200);
    p.signal(SIGTERM);
    REQUIRE(p.wait() == 0);
    require_json_lines(p.err());
    REQUIRE(p.err().find("\"stopped\"") != std::string::npos);
  }
  REQUIRE(fs::exists(dir.path / "data" / "todo.db"));
  {
    Process p(dir.path, {"--port", "0"}, env);
    test::Client c(p.port());
    const test::Reply r = c.as(tok, "GET", "/api/tasks/" + id);
    REQUIRE(r.status == 200);
    REQUIRE(r.json()["title"] == "persist me");
    REQUIRE(r.json()["priority"] == "high");
    REQUIRE(r.json()["tags"] == json::array({"x"}));
    p.signal(SIGINT);
    REQUIRE(p.wait() == 0);
  }
}

TEST_CASE("request logs: one JSON line per request with the request id, never the token", "[process][logs]") {
  TempDir dir;
  Process p(dir.path, {"--port", "0", "--database-url", "sqlite::memory:"}, {secret_env});
  test::Client c(p.port());
  const std::string tok = test::token_for("logger");
  const test::Reply r = c.send("GET", "/api/tasks?q=secret-query-value", {},
                               {{"Authorization", "Bearer " + tok}, {"X-Request-Id", "trace-42.a"}});
  REQUIRE(r.status == 200);
  REQUIRE(r.header("X-Request-Id") == "trace-42.a");
  const test::Reply bad = c.send("GET", "/api/tasks", {}, {{"Authorization", "Bearer " + tok + "x"}});
  REQUIRE(bad.status == 401);
  p.signal(SIGTERM);
  REQUIRE(p.wait() == 0);

  const std::string err = p.err();
  require_json_lines(err);
  REQUIRE(err.find(tok) == std::string::npos);
  REQUIRE(err.find(tok.substr(tok.rfind('.') + 1)) == std::string::npos);  // not even the signature
  REQUIRE(err.find("secret-query-value") == std::string::npos);
  std::istringstream lines(err);
  bool found = false;
  for (std::string line; std::getline(lines, line);) {
    const json j = json::parse(line);
    if (j.value("request_id", "") != "trace-42.a") continue;
    found = true;
    REQUIRE(j["msg"] == "request");
    REQUIRE(j["level"] == "info");
    REQUIRE(j["method"] == "GET");
    REQUIRE(j["route"] == "/api/tasks");
    REQUIRE(j["status"] == 200);
    REQUIRE(j["user_id"] == "logger");
    REQUIRE(j["duration_us"].is_number());
    REQUIRE(j["time"].is_string());
  }
  REQUIRE(found);
}

TEST_CASE(
    "METRICS_ADDRESS moves /metrics to a listener of its own; rate limits come from the "
    "environment",
    "[process][metrics]") {
  TempDir dir;
  Process p(dir.path, {"--port", "0", "--database-url", "sqlite::memory:"},
            {secret_env, "METRICS_ADDRESS=127.0.0.1:0", "RATE_LIMIT_USER_RPS=0.5",
             "RATE_LIMIT_USER_BURST=2"});
  test::Client api(p.port());
  test::Client scraper(p.port("serving metrics"));
  const std::string tok = test::token_for("alice");
  CHECK(api.as(tok, "GET", "/api/tasks").status == 200);
  CHECK(api.as(tok, "GET", "/api/tasks").status == 200);
  const test::Reply limited = api.as(tok, "GET", "/api/tasks");
  CHECK(limited.status == 429);
  CHECK(limited.header("RateLimit-Policy") == "\"user\";q=2;w=4");
  CHECK(api.send("GET", "/metrics").status == 404);
  const test::Reply m = scraper.send("GET", "/metrics");
  REQUIRE(m.status == 200);
  CHECK(m.body.find(
            "todo_http_requests_total{route=\"/api/tasks\",method=\"GET\",status=\"429\"} 1\n") !=
        std::string::npos);
  CHECK(m.body.find("todo_build_info{version=\"") != std::string::npos);
  p.signal(SIGTERM);
  REQUIRE(p.wait() == 0);
}
