// todo-server on PostgreSQL under faults: the database stopped and started
// again, pooled connections killed, and two servers starting at once on an
// empty database. Each test runs a PostgreSQL server of its own, because it
// stops and restarts it.

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdlib>
#include <thread>
#include <vector>

#include "concurrently.hpp"
#include "http/process.hpp"
#include "http/test_server.hpp"
#include "postgres/own_postgres.hpp"

using nlohmann::json;
using test::Client;
using test::Reply;

namespace {

using test::OwnPostgres;

std::unique_ptr<libtodo::PostgresTaskRepository> repository_on(const std::string& url) {
  return std::make_unique<libtodo::PostgresTaskRepository>(test::isolated_pg_options(url));
}

// Sends a request and measures how long the answer took.
std::pair<Reply, std::chrono::milliseconds> timed(const std::function<Reply()>& request) {
  const auto start = std::chrono::steady_clock::now();
  Reply r = request();
  return {r, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start)};
}

}  // namespace

TEST_CASE("database outage: 503 within 2 s, then recovery without a restart", "[postgres][fault]") {
  OwnPostgres pg;
  test::TestServer server({}, repository_on(pg.url()));
  Client c = server.client();
  const std::string tok = test::token_for("alice");
  const Reply created = c.as(tok, "POST", "/api/tasks", R"({"title":"survives the outage"})");
  REQUIRE(created.status == 201);
  const std::string id = created.json()["id"];

  pg.stop();
  for (int i = 0; i < 3; ++i) {
    const auto [list, list_ms] = timed([&] { return c.as(tok, "GET", "/api/tasks"); });
    INFO(list.body);
    CHECK(list.status == 503);
    CHECK(list.header("Retry-After") == "1");
    CHECK(list_ms < std::chrono::milliseconds(2000));
    const auto [post, post_ms] = timed([&] { return c.as(tok, "POST", "/api/tasks", R"({"title":"x"})"); });
    CHECK(post.status == 503);
    CHECK(post_ms < std::chrono::milliseconds(2000));
    const auto [health, health_ms] = timed([&] { return c.send("GET", "/health"); });
    CHECK(health.status == 503);
    CHECK(health.json()["database"] == "unreachable");
    CHECK(health_ms < std::chrono::milliseconds(2000));
    const auto [ready, ready_ms] = timed([&] { return c.send("GET", "/readyz"); });
    CHECK(ready.status == 503);
    CHECK(ready.header("Retry-After") == "1");
    CHECK(ready_ms < std::chrono::milliseconds(2000));
    CHECK(c.send("GET", "/livez").status == 200);
  }

  pg.start();
  const Reply again = c.as(tok, "GET", "/api/tasks/" + id);
  INFO(again.body);
  REQUIRE(again.status == 200);
  REQUIRE(again.json()["title"] == "survives the outage");
  REQUIRE(c.send("GET", "/health").status == 200);
  REQUIRE(c.send("GET", "/readyz").status == 200);
  // Nothing half-written during the outage.
  REQUIRE(c.as(tok, "GET", "/api/tasks").json()["tasks"].size() == 1);
}

TEST_CASE("killed pooled connections are replaced: the next requests succeed", "[postgres][fault]") {
  OwnPostgres pg;
  auto repo = repository_on(pg.url());
  libtodo::PostgresTaskRepository& pg_repo = *repo;
  test::TestServer server({}, std::move(repo));
  const std::string tok = test::token_for("alice");

  // Fill the pool: parallel clients make it open several connections.
  std::vector<std::thread> warm;
  for (int t = 0; t < 4; ++t)
    warm.emplace_back([&] {
      Client c = server.client();
      for (int i = 0; i < 20; ++i) c.as(tok, "POST", "/api/tasks", R"({"title":"warm"})");
    });
  for (auto& th : warm) th.join();
  REQUIRE(pg_repo.pool_stats().open >= 1);

  pqxx::connection admin(pg.url());
  pqxx::nontransaction tx(admin);
  const auto killed = tx.exec(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()")[0][0].as<int>();
  REQUIRE(killed >= 1);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));

  Client c = server.client();
  for (int i = 0; i < 20; ++i) {
    INFO("request " << i);
    REQUIRE(c.as(tok, "GET", "/api/tasks").status == 200);
    REQUIRE(c.as(tok, "POST", "/api/tasks", R"({"title":"after"})").status == 201);
  }
  REQUIRE(pg_repo.pool_stats().discarded >= 1);
  REQUIRE(c.as(tok, "GET", "/api/tasks").json()["tasks"].size() == 100);
}

TEST_CASE("two servers starting at once on an empty database migrate it once and share it",
          "[postgres][process]") {
  OwnPostgres pg;
  const std::string db = "d_" + std::to_string(std::random_device{}());
  {
    pqxx::connection admin(pg.url());
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE " + db);
  }
  std::string url = pg.url();
  url = url.substr(0, url.rfind('/') + 1) + db;

  test::TempDir dir;
  const std::vector<std::string> env{"BETTER_AUTH_SECRET=" + test::secret, "DATABASE_URL=" + url};
  test::Process a(dir.path, {"--port", "0"}, env);
  test::Process b(dir.path, {"--port", "0"}, env);
  Client ca(a.port());
  Client cb(b.port());

  pqxx::connection check(url);
  pqxx::nontransaction tx(check);
  // Each version once, though both servers tried to migrate.
  REQUIRE(tx.exec("SELECT count(*) FROM schema_migrations")[0][0].as<int>() == libtodo::latest_schema_version);
  REQUIRE(tx.exec("SELECT count(DISTINCT version) FROM schema_migrations")[0][0].as<int>() ==
          libtodo::latest_schema_version);

  const std::string tok = test::token_for("shared");
  const Reply created = ca.as(tok, "POST", "/api/tasks", R"({"title":"made on A"})");
  REQUIRE(created.status == 201);
  const Reply read = cb.as(tok, "GET", "/api/tasks/" + created.json()["id"].get<std::string>());
  REQUIRE(read.status == 200);
  REQUIRE(read.json()["title"] == "made on A");
}

TEST_CASE("/readyz follows the database: 503 within 2 s of it stopping, 200 once it is back",
          "[postgres][fault]") {
  OwnPostgres pg;
  auto repo = repository_on(pg.url());
  test::TestServer server({}, std::move(repo));
  Client c = server.client();
  REQUIRE(c.send("GET", "/readyz").status == 200);
  pg.stop();
  const auto [ready, ms] = timed([&] { return c.send("GET", "/readyz"); });
  CHECK(ready.status == 503);
  CHECK(ms < std::chrono::milliseconds(2000));
  pg.start();
  // Ready again without a restart (the next probe reconnects).
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = c.send("GET", "/readyz").status == 200;
    if (!back) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(back);
}

TEST_CASE("Idempotency-Key holds across two servers on one database", "[postgres][idempotency]") {
  OwnPostgres pg;
  const libtodo::PostgresOptions shared = test::isolated_pg_options(pg.url());
  test::TestServer a({}, std::make_unique<libtodo::PostgresTaskRepository>(shared));
  test::TestServer b({}, std::make_unique<libtodo::PostgresTaskRepository>(shared));
  const std::string tok = test::token_for("alice");
  constexpr int retries = 10;
  std::vector<Reply> replies(retries);
  test::run_concurrently(retries, [&](int i) {
    Client c = (i % 2 == 0 ? a : b).client();  // half the retries reach each instance
    replies[static_cast<std::size_t>(i)] =
        c.send("POST", "/api/tasks", R"({"title":"once across instances"})",
               {{"Authorization", "Bearer " + tok}, {"Idempotency-Key", "multi-1"}});
  });
  for (const Reply& r : replies) {
    INFO(r.body);
    CHECK(r.status == 201);
    CHECK(r.body == replies[0].body);
  }
  CHECK(a.client().as(tok, "GET", "/api/tasks").json()["tasks"].size() == 1);
  CHECK(b.client().as(tok, "GET", "/api/tasks").json()["tasks"].size() == 1);
}
