// Idempotency-Key on POST /tasks and the bulk routes, against a real server
// (SQLite or PostgreSQL, as test_server.hpp picks): retries replay the first
// response without acting again, concurrent retries wait for the first, a
// different body is 422.

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <libtodo/idempotency_store.hpp>

#include "concurrently.hpp"
#include "idempotency.hpp"
#include "test_server.hpp"

using nlohmann::json;
using test::any_shape;
using test::Client;
using test::create_task;
using test::Reply;
using test::require_error_shape;
using test::Shape;
using test::TestServer;
using test::token_for;

namespace {

Reply post_with_key(Client& c, const std::string& token, const std::string& path,
                    const std::string& key, const std::string& body) {
  return c.send("POST", path, body,
                {{"Authorization", "Bearer " + token}, {"Idempotency-Key", key}});
}

std::size_t task_count(Client& c, const std::string& token) {
  return c.as(token, "GET", "/api/tasks").json()["tasks"].size();
}

libtodo::IdempotencyStore& store_of(TestServer& server) {
  auto* store = dynamic_cast<libtodo::IdempotencyStore*>(&server.repository());
  REQUIRE(store != nullptr);
  return *store;
}

}  // namespace

TEST_CASE(
    "the same create retried 10 times at once with one key: one task, ten identical responses",
    "[http][idempotency][threads]") {
  TestServer server;
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");
  const std::string body = R"({"title":"exactly once","tags":["a","b"]})";
  constexpr int retries = 10;
  std::vector<Reply> replies(retries);
  test::run_concurrently(retries, [&](int i) {
    Client c = server.client();
    replies[static_cast<std::size_t>(i)] = post_with_key(c, tok, s.tasks(), "create-once-1", body);
  });
  Client c = server.client();
  CHECK(task_count(c, tok) == 1);
  int replayed = 0;
  for (const Reply& r : replies) {
    INFO(r.body);
    CHECK(r.status == 201);
    CHECK(r.body == replies[0].body);
    CHECK(r.header("Location") == replies[0].header("Location"));
    CHECK(r.header("ETag") == replies[0].header("ETag"));
    if (r.header("Idempotent-Replayed") == "true") ++replayed;
  }
  CHECK(replayed == retries - 1);
  CHECK(replies[0].json()["title"] == "exactly once");
}

TEST_CASE("a retry with an equal JSON body replays; a different body is 422",
          "[http][idempotency]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");

  const Reply first = post_with_key(c, tok, s.tasks(), "k1", R"({"title":"t","priority":"high"})");
  REQUIRE(first.status == 201);
  CHECK_FALSE(first.has_header("Idempotent-Replayed"));
  // Key order and white space do not make another request; a quoted key is the same key.
  const Reply again =
      post_with_key(c, tok, s.tasks(), "\"k1\"", "{ \"priority\" : \"high\", \"title\":\"t\" }");
  REQUIRE(again.status == 201);
  CHECK(again.body == first.body);
  CHECK(again.header("Idempotent-Replayed") == "true");
  CHECK(task_count(c, tok) == 1);

  require_error_shape(post_with_key(c, tok, s.tasks(), "k1", R"({"title":"t","priority":"low"})"),
                      422, "idempotency_key_reused");
  CHECK(task_count(c, tok) == 1);

  // Another key, another user, or no key: acts.
  CHECK(post_with_key(c, tok, s.tasks(), "k2", R"({"title":"t","priority":"high"})").status == 201);
  CHECK(post_with_key(c, token_for("bob"), "/api/tasks", "k1", R"({"title":"t","priority":"high"})")
            .status == 201);
  CHECK(c.as(tok, "POST", s.tasks(), R"({"title":"t","priority":"high"})").status == 201);
  CHECK(task_count(c, tok) == 3);
  CHECK(task_count(c, token_for("bob")) == 1);
}

TEST_CASE("a validation failure is stored and replayed; malformed keys are 400",
          "[http][idempotency]") {
  TestServer server;
  Client c = server.client();
  const std::string tok = token_for("alice");
  const Reply bad = post_with_key(c, tok, "/api/tasks", "v1", R"({"title":""})");
  require_error_shape(bad, 422, "validation_error");
  const Reply bad_again = post_with_key(c, tok, "/api/tasks", "v1", R"({"title":""})");
  CHECK(bad_again.status == 422);
  CHECK(bad_again.body == bad.body);

  for (const std::string& key :
       {std::string("has space"), std::string(256, 'k'), std::string("\"\"")}) {
    INFO(key);
    require_error_shape(post_with_key(c, tok, "/api/tasks", key, R"({"title":"x"})"), 400,
                        "invalid_idempotency_key");
  }
  // Not JSON: 400 before any key is taken; the key stays free.
  CHECK(post_with_key(c, tok, "/api/tasks", "v2", "not json").status == 400);
  CHECK(post_with_key(c, tok, "/api/tasks", "v2", R"({"title":"x"})").status == 201);
  CHECK(task_count(c, tok) == 1);
}

TEST_CASE("the bulk routes honour Idempotency-Key", "[http][idempotency]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");
  const std::string a = create_task(c, tok, s, {{"title", "a"}});
  const std::string b = create_task(c, tok, s, {{"title", "b"}});

  const std::string complete = json{{"ids", {a}}, {"completed", true}}.dump();
  const Reply done = post_with_key(c, tok, s.tasks() + "/bulk/complete", "bulk-1", complete);
  REQUIRE(done.status == 200);
  CHECK(done.json()["updated"] == 1);
  // Reopened in between: the retry replays and does not complete it again.
  REQUIRE(c.as(tok, "PATCH", s.task(a), R"({"completed":false})").status == 200);
  const Reply replay = post_with_key(c, tok, s.tasks() + "/bulk/complete", "bulk-1", complete);
  CHECK(replay.status == 200);
  CHECK(replay.body == done.body);
  CHECK(c.as(tok, "GET", s.task(a)).json()["completed"] == false);

  const std::string remove = json{{"ids", {a, b}}}.dump();
  const Reply deleted = post_with_key(c, tok, s.tasks() + "/bulk/delete", "bulk-2", remove);
  REQUIRE(deleted.status == 200);
  CHECK(deleted.json()["deleted"] == 2);
  const Reply deleted_again = post_with_key(c, tok, s.tasks() + "/bulk/delete", "bulk-2", remove);
  CHECK(deleted_again.status == 200);
  CHECK(deleted_again.body == deleted.body);
  // The same key on another route is another key.
  CHECK(post_with_key(c, tok, s.tasks(), "bulk-2", R"({"title":"c"})").status == 201);
}

TEST_CASE("a retry waits for a first attempt in progress, and gives up with 409",
          "[http][idempotency]") {
  todo_server::HttpOptions options;
  options.idempotency.wait = std::chrono::milliseconds(2000);
  TestServer server(options);
  Client c = server.client();
  const std::string tok = token_for("alice");
  const std::string body = R"({"title":"slow"})";
  libtodo::IdempotencyStore& store = store_of(server);
  const libtodo::IdempotencyKey key{"alice", "POST /api/tasks", "slow-1"};
  const std::string print = todo_server::Idempotency::fingerprint(key.route, json::parse(body));

  // Another instance holds the key and finishes 300 ms later.
  const auto claim =
      store.claim(key, print, libtodo::now_ms(), std::chrono::seconds(30), std::chrono::hours(1));
  REQUIRE(claim.outcome == libtodo::IdempotencyClaim::Outcome::acquired);
  std::thread other([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    store.complete(key, claim.owner,
                   {201, {{"Location", "/api/tasks/elsewhere"}}, R"({"made":"elsewhere"})"});
  });
  const Reply waited = post_with_key(c, tok, "/api/tasks", "slow-1", body);
  other.join();
  CHECK(waited.status == 201);
  CHECK(waited.body == R"({"made":"elsewhere"})");
  CHECK(waited.header("Location") == "/api/tasks/elsewhere");
  CHECK(task_count(c, tok) == 0);  // this server did not act

  // A first attempt that never finishes within the wait: 409 with Retry-After.
  const libtodo::IdempotencyKey stuck{"alice", "POST /api/tasks", "stuck-1"};
  REQUIRE(
      store.claim(stuck, print, libtodo::now_ms(), std::chrono::seconds(30), std::chrono::hours(1))
          .outcome == libtodo::IdempotencyClaim::Outcome::acquired);
  const auto start = std::chrono::steady_clock::now();
  const Reply busy = post_with_key(c, tok, "/api/tasks", "stuck-1", body);
  require_error_shape(busy, 409, "idempotency_key_in_use");
  CHECK(busy.header("Retry-After") == "1");
  CHECK(std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(1500));
  CHECK(task_count(c, tok) == 0);
}
