// GET /metrics, /livez and /readyz against a real server. The exposition is
// parsed by a real Prometheus text-format parser (Debian's
// python3-prometheus-client), and its counters are compared with the
// requests the test made.

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>

#include <libtodo/uuid.hpp>

#include "metrics.hpp"
#include "test_server.hpp"

using nlohmann::json;
using test::Client;
using test::Reply;
using test::require_error_shape;
using test::TestServer;
using test::token_for;

namespace {

namespace fs = std::filesystem;

// Parses exposition text with prometheus_client's parser; returns
// [[family, type, sample name, {labels}, value], ...].
json parse_with_prometheus_client(const std::string& text) {
  const fs::path dir = fs::temp_directory_path() / ("libtodo-metrics-" + libtodo::new_uuid_v7());
  fs::create_directories(dir);
  {
    std::ofstream(dir / "metrics.txt") << text;
    std::ofstream(dir / "parse.py")
        << "import json, sys\n"
           "from prometheus_client.parser import text_string_to_metric_families\n"
           "out = []\n"
           "for f in text_string_to_metric_families(sys.stdin.read()):\n"
           "    for s in f.samples:\n"
           "        out.append([f.name, f.type, s.name, s.labels, s.value])\n"
           "print(json.dumps(out))\n";
  }
  const std::string cmd = std::string(TODO_TEST_PYTHON) + " " + (dir / "parse.py").string() +
                          " < " + (dir / "metrics.txt").string() + " 2>&1";
  std::string output;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
    const int rc = pclose(p);
    fs::remove_all(dir);
    INFO("the parser said: " << output);
    INFO("(needs Debian's python3-prometheus-client for " << TODO_TEST_PYTHON << ")");
    REQUIRE(rc == 0);
  }
  return json::parse(output);
}

// The value of the sample `name` whose labels include `labels`; -1 when there is none.
double sample(const json& samples, const std::string& name,
              const std::map<std::string, std::string>& labels = {}) {
  for (const auto& s : samples) {
    if (s[2] != name) continue;
    bool all = true;
    for (const auto& [k, v] : labels) all = all && s[3].contains(k) && s[3][k] == v;
    if (all) return s[4].get<double>();
  }
  return -1;
}

std::string family_type(const json& samples, const std::string& family) {
  for (const auto& s : samples)
    if (s[0] == family) return s[1];
  return {};
}

}  // namespace

TEST_CASE("/metrics parses as Prometheus text and counts exactly the requests made",
          "[http][metrics]") {
  TestServer server;
  Client c = server.client();
  const std::string tok = token_for("alice");
  std::string id;
  for (int i = 0; i < 3; ++i) {
    const Reply r = c.as(tok, "POST", "/api/tasks", R"({"title":"t"})");
    REQUIRE(r.status == 201);
    id = r.json()["id"];
  }
  REQUIRE(c.as(tok, "GET", "/api/tasks/" + id).status == 200);
  REQUIRE(c.as(tok, "GET", "/api/alice/tasks/" + id).status == 200);
  REQUIRE(c.as(tok, "HEAD", "/api/tasks/" + id).status == 200);
  REQUIRE(c.as(tok, "GET", "/api/tasks/" + libtodo::new_uuid_v7()).status == 404);
  REQUIRE(c.send("GET", "/api/tasks").status == 401);
  REQUIRE(c.as("not-a-token", "GET", "/api/tasks").status == 401);
  REQUIRE(c.as(tok, "PUT", "/api/tasks").status == 405);
  REQUIRE(c.send("GET", "/nowhere").status == 404);
  REQUIRE(c.send("GET", "/livez").status == 200);

  const Reply scrape = c.send("GET", "/metrics");
  REQUIRE(scrape.status == 200);
  CHECK(scrape.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8");
  const json m = parse_with_prometheus_client(scrape.body);

  const auto requests = [&](const std::string& route, const std::string& method,
                            const std::string& status) {
    return sample(m, "todo_http_requests_total",
                  {{"route", route}, {"method", method}, {"status", status}});
  };
  CHECK(family_type(m, "todo_http_requests") == "counter");
  CHECK(requests("/api/tasks", "POST", "201") == 3);
  CHECK(requests("/api/tasks/{id}", "GET", "200") == 1);
  CHECK(requests("/api/{user_id}/tasks/{id}", "GET", "200") == 1);
  CHECK(requests("/api/tasks/{id}", "HEAD", "200") == 1);
  CHECK(requests("/api/tasks/{id}", "GET", "404") == 1);
  CHECK(requests("/api/tasks", "GET", "401") == 2);
  CHECK(requests("/api/tasks", "PUT", "405") == 1);
  CHECK(requests("unmatched", "GET", "404") == 1);
  CHECK(requests("/livez", "GET", "200") == 1);
  // The scrape itself is counted after it has been answered.
  CHECK(requests("/metrics", "GET", "200") == -1);
  double total = 0;
  for (const auto& s : m)
    if (s[2] == "todo_http_requests_total") total += s[4].get<double>();
  CHECK(total == 12);

  // Latency histograms: one observation per request, cumulative buckets.
  CHECK(family_type(m, "todo_http_request_duration_seconds") == "histogram");
  const std::map<std::string, std::string> posts{{"route", "/api/tasks"}, {"method", "POST"}};
  CHECK(sample(m, "todo_http_request_duration_seconds_count", posts) == 3);
  CHECK(sample(m, "todo_http_request_duration_seconds_sum", posts) > 0);
  double previous = 0;
  for (const char* le : {"0.0005", "0.001", "0.01", "0.1", "1", "10", "+Inf"}) {
    auto labels = posts;
    labels["le"] = le;
    const double v = sample(m, "todo_http_request_duration_seconds_bucket", labels);
    INFO("le=" << le);
    CHECK(v >= previous);
    previous = v;
  }
  CHECK(previous == 3);

  CHECK(sample(m, "todo_http_requests_in_flight") == 1);  // the scrape
  CHECK(sample(m, "todo_auth_failures_total", {{"reason", "missing"}}) == 1);
  CHECK(sample(m, "todo_auth_failures_total", {{"reason", "malformed"}}) == 1);
  CHECK(sample(m, "todo_auth_failures_total", {{"reason", "expired"}}) == 0);
  CHECK(sample(m, "todo_token_cache_hits_total") + sample(m, "todo_token_cache_misses_total") >= 7);
  CHECK(sample(m, "todo_db_pool_connections", {{"state", "idle"}}) >= 1);
  CHECK(sample(m, "todo_db_pool_connections", {{"state", "in_use"}}) == 0);
  CHECK(sample(m, "todo_db_pool_waiting") == 0);
  CHECK(sample(m, "todo_db_pool_wait_seconds_total") >= 0);
  CHECK(sample(m, "todo_build_info", {{"version", LIBTODO_VERSION}}) == 1);
  CHECK(sample(m, "todo_start_time_seconds") > 1.7e9);

  // The next scrape counts the first.
  const json again = parse_with_prometheus_client(c.send("GET", "/metrics").body);
  CHECK(sample(again, "todo_http_requests_total",
               {{"route", "/metrics"}, {"method", "GET"}, {"status", "200"}}) == 1);
}

TEST_CASE("METRICS=off: nothing is counted and /metrics is 404", "[http][metrics]") {
  todo_server::HttpOptions options;
  options.metrics = false;
  TestServer server(options);
  Client c = server.client();
  REQUIRE(c.as(token_for("alice"), "GET", "/api/tasks").status == 200);
  require_error_shape(c.send("GET", "/metrics"), 404, "not_found");
  CHECK(server.server().metrics_text().empty());
}

TEST_CASE("METRICS_ADDRESS serves /metrics on a listener of its own", "[http][metrics]") {
  todo_server::HttpOptions options;
  options.metrics_on_api_port = false;
  TestServer server(options);
  todo_server::Logger log(todo_server::LogLevel::error);
  todo_server::MetricsListener listener(
      "127.0.0.1", 0, [&] { return server.server().metrics_text(); }, log);
  const int port = listener.start();
  Client api = server.client();
  REQUIRE(api.as(token_for("alice"), "GET", "/api/tasks").status == 200);
  require_error_shape(api.send("GET", "/metrics"), 404, "not_found");

  Client scraper(port);
  const Reply r = scraper.send("GET", "/metrics");
  REQUIRE(r.status == 200);
  const json m = parse_with_prometheus_client(r.body);
  CHECK(sample(m, "todo_http_requests_total",
               {{"route", "/api/tasks"}, {"method", "GET"}, {"status", "200"}}) == 1);
  CHECK(sample(m, "todo_http_requests_total",
               {{"route", "/metrics"}, {"method", "GET"}, {"status", "404"}}) == 1);
  CHECK(scraper.send("GET", "/api/tasks").status == 404);  // nothing else there
  listener.stop();
}

TEST_CASE("/livez and /readyz answer without a token", "[http][probes]") {
  TestServer server;
  Client c = server.client();
  const Reply live = c.send("GET", "/livez");
  CHECK(live.status == 200);
  CHECK(live.json() == json{{"status", "ok"}});
  const Reply ready = c.send("GET", "/readyz");
  CHECK(ready.status == 200);
  CHECK(ready.json() == json{{"status", "ready"}});
  CHECK(c.send("HEAD", "/readyz").status == 200);
  CHECK(c.send("POST", "/readyz").status == 405);
}

TEST_CASE("/readyz answers 503 within 2 s when the database hangs", "[http][probes]") {
  TestServer server({}, std::make_unique<test::FailingRepository>(true, std::chrono::seconds(3)));
  Client c = server.client();
  for (int i = 0; i < 2; ++i) {
    const auto start = std::chrono::steady_clock::now();
    const Reply r = c.send("GET", "/readyz");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    require_error_shape(r, 503, "service_unavailable");
    CHECK(r.header("Retry-After") == "1");
    CHECK(elapsed < std::chrono::seconds(2));
  }
  CHECK(c.send("GET", "/livez").status == 200);
}
