// Optimistic concurrency over HTTP: strong ETags from the stored version,
// If-Match on PUT, PATCH, DELETE and the toggle (412 on a mismatch, nothing
// changed), If-None-Match on GET (304), in both route shapes, against a real
// server on a loopback port (SQLite or PostgreSQL, as test_server.hpp picks).

#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "concurrently.hpp"
#include "conditional.hpp"
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

Reply with_headers(Client& c, const std::string& token, const std::string& method,
                   const std::string& path, httplib::Headers headers,
                   const std::string& body = {}) {
  headers.emplace("Authorization", "Bearer " + token);
  return c.send(method, path, body, std::move(headers));
}

}  // namespace

TEST_CASE("every single-task response carries a strong ETag that changes with each write",
          "[http][etag]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");

  const Reply created = c.as(tok, "POST", s.tasks(), R"({"title":"a"})");
  REQUIRE(created.status == 201);
  const std::string id = created.json()["id"];
  const std::string e1 = created.header("ETag");
  CHECK(e1 == "\"1\"");  // strong: no W/ prefix

  const Reply got = c.as(tok, "GET", s.task(id));
  CHECK(got.header("ETag") == e1);
  CHECK(c.as(tok, "HEAD", s.task(id)).header("ETag") == e1);

  const Reply patched = c.as(tok, "PATCH", s.task(id), R"({"title":"b"})");
  const Reply put = c.as(tok, "PUT", s.task(id), R"({"title":"c"})");
  const Reply toggled = c.as(tok, "PATCH", s.task(id) + "/complete");
  CHECK(patched.header("ETag") == "\"2\"");
  CHECK(put.header("ETag") == "\"3\"");
  CHECK(toggled.header("ETag") == "\"4\"");
  // The same task has the same tag in both route shapes.
  CHECK(c.as(tok, "GET", "/api/alice/tasks/" + id).header("ETag") == "\"4\"");
  CHECK(c.as(tok, "GET", "/api/tasks/" + id).header("ETag") == "\"4\"");
  // Lists and deletes carry none (there is no single representation).
  CHECK_FALSE(c.as(tok, "GET", s.tasks()).has_header("ETag"));
}

TEST_CASE("two clients edit one task: the stale PUT gets 412 and the first write stays",
          "[http][etag]") {
  TestServer server;
  Client first = server.client();
  Client second = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");
  const std::string id = create_task(first, tok, s, {{"title", "shared"}});

  // Both read the task.
  const std::string etag_a = first.as(tok, "GET", s.task(id)).header("ETag");
  const std::string etag_b = second.as(tok, "GET", s.task(id)).header("ETag");
  REQUIRE(etag_a == etag_b);

  const Reply win =
      with_headers(first, tok, "PUT", s.task(id), {{"If-Match", etag_a}}, R"({"title":"first"})");
  INFO(win.body);
  REQUIRE(win.status == 200);
  CHECK(win.header("ETag") != etag_a);

  const Reply lose =
      with_headers(second, tok, "PUT", s.task(id), {{"If-Match", etag_b}}, R"({"title":"second"})");
  require_error_shape(lose, 412, "precondition_failed");
  const Reply now = first.as(tok, "GET", s.task(id));
  CHECK(now.json()["title"] == "first");
  CHECK(now.header("ETag") == win.header("ETag"));

  // The same for PATCH, the toggle and DELETE: nothing changes.
  for (const auto& [method, path, body] :
       {std::tuple{"PATCH", s.task(id), R"({"title":"x"})"},
        std::tuple{"PATCH", s.task(id) + "/complete", ""}, std::tuple{"DELETE", s.task(id), ""}}) {
    INFO(method << " " << path);
    require_error_shape(with_headers(second, tok, method, path, {{"If-Match", etag_b}}, body), 412,
                        "precondition_failed");
  }
  const Reply after = first.as(tok, "GET", s.task(id));
  CHECK(after.json() == now.json());

  // With the current tag each of them works.
  std::string etag = after.header("ETag");
  const Reply p =
      with_headers(second, tok, "PATCH", s.task(id), {{"If-Match", etag}}, R"({"title":"second"})");
  REQUIRE(p.status == 200);
  const Reply t = with_headers(second, tok, "PATCH", s.task(id) + "/complete",
                               {{"If-Match", p.header("ETag")}});
  REQUIRE(t.status == 200);
  CHECK(t.json()["completed"] == true);
  const Reply d = with_headers(second, tok, "DELETE", s.task(id), {{"If-Match", t.header("ETag")}});
  REQUIRE(d.status == 200);
  CHECK(first.as(tok, "GET", s.task(id)).status == 404);
}

TEST_CASE("If-Match: *, lists and weak tags", "[http][etag]") {
  TestServer server;
  Client c = server.client();
  const Shape s{false, "alice"};
  const std::string tok = token_for("alice");
  const std::string id = create_task(c, tok, s, {{"title", "t"}});

  // `*`: the task exists, so the write happens.
  CHECK(with_headers(c, tok, "PATCH", s.task(id), {{"If-Match", "*"}}, R"({"title":"u"})").status ==
        200);
  // A list matches when any member does; members may come on several lines.
  CHECK(with_headers(c, tok, "PATCH", s.task(id), {{"If-Match", R"("9", "2", "abc")"}},
                     R"({"title":"v"})")
            .status == 200);
  CHECK(with_headers(c, tok, "PATCH", s.task(id), {{"If-Match", "\"7\""}, {"If-Match", "\"3\""}},
                     R"({"title":"w"})")
            .status == 200);
  // If-Match compares strongly: a weak tag never matches.
  require_error_shape(
      with_headers(c, tok, "PATCH", s.task(id), {{"If-Match", "W/\"4\""}}, R"({"title":"x"})"), 412,
      "precondition_failed");
  require_error_shape(
      with_headers(c, tok, "PATCH", s.task(id), {{"If-Match", "\"other\""}}, R"({"title":"x"})"),
      412, "precondition_failed");
  CHECK(c.as(tok, "GET", s.task(id)).json()["title"] == "w");

  // Malformed: 400, after the task's own checks.
  for (const char* bad : {"4", "\"4", "W/4", "\"4\" \"5\"", ","}) {
    INFO(bad);
    require_error_shape(
        with_headers(c, tok, "PATCH", s.task(id), {{"If-Match", bad}}, R"({"title":"x"})"), 400,
        "invalid_header");
    require_error_shape(with_headers(c, tok, "DELETE", s.task(id), {{"If-Match", bad}}), 400,
                        "invalid_header");
  }
  // A missing task is 404 whatever the precondition (RFC 9110 §13.2.1).
  const std::string unknown = libtodo::new_uuid_v7();
  require_error_shape(
      with_headers(c, tok, "PUT", s.task(unknown), {{"If-Match", "\"1\""}}, R"({"title":"x"})"),
      404, "not_found");
  require_error_shape(with_headers(c, tok, "DELETE", s.task(unknown), {{"If-Match", "*"}}), 404,
                      "not_found");
  require_error_shape(with_headers(c, tok, "DELETE", s.task(unknown), {{"If-Match", "bad"}}), 404,
                      "not_found");
  // Another user's task: 403 as without a precondition, and no hint about its version.
  const std::string bobs = create_task(c, token_for("bob"), Shape{false, "bob"}, {{"title", "b"}});
  require_error_shape(with_headers(c, tok, "DELETE", s.task(bobs), {{"If-Match", "\"1\""}}), 403,
                      "forbidden");
  CHECK(c.as(token_for("bob"), "GET", "/api/tasks/" + bobs).status == 200);
}

TEST_CASE("If-None-Match on GET answers 304 while the client's copy is current", "[http][etag]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");
  const std::string id = create_task(c, tok, s, {{"title", "t"}});
  const std::string etag = c.as(tok, "GET", s.task(id)).header("ETag");

  for (const std::string& value : {etag, "W/" + etag, "\"99\", " + etag, std::string("*")}) {
    INFO(value);
    const Reply r = with_headers(c, tok, "GET", s.task(id), {{"If-None-Match", value}});
    CHECK(r.status == 304);
    CHECK(r.body.empty());
    CHECK(r.header("ETag") == etag);
    CHECK_FALSE(r.header("X-Request-Id").empty());
  }
  const Reply other = with_headers(c, tok, "GET", s.task(id), {{"If-None-Match", "\"99\""}});
  CHECK(other.status == 200);
  CHECK(other.json()["title"] == "t");

  REQUIRE(c.as(tok, "PATCH", s.task(id), R"({"title":"changed"})").status == 200);
  const Reply changed = with_headers(c, tok, "GET", s.task(id), {{"If-None-Match", etag}});
  CHECK(changed.status == 200);
  CHECK(changed.json()["title"] == "changed");
  CHECK(changed.header("ETag") != etag);

  require_error_shape(with_headers(c, tok, "GET", s.task(id), {{"If-None-Match", "nope"}}), 400,
                      "invalid_header");
  require_error_shape(
      with_headers(c, tok, "GET", s.task(libtodo::new_uuid_v7()), {{"If-None-Match", "*"}}), 404,
      "not_found");
}

TEST_CASE("32 concurrent PUTs with one ETag: exactly one succeeds", "[http][etag][threads]") {
  todo_server::HttpOptions options;
  options.threads = 40;
  TestServer server(options);
  Client setup = server.client();
  const Shape s{false, "alice"};
  const std::string tok = token_for("alice");
  const std::string id = create_task(setup, tok, s, {{"title", "contended"}});
  const std::string etag = setup.as(tok, "GET", s.task(id)).header("ETag");

  constexpr int clients = 32;
  std::atomic<int> ok{0}, precondition_failed{0}, other{0};
  test::run_concurrently(clients, [&](int n) {
    Client c = server.client();
    const Reply r = with_headers(c, tok, "PUT", s.task(id), {{"If-Match", etag}},
                                 json{{"title", "writer " + std::to_string(n)}}.dump());
    if (r.status == 200)
      ++ok;
    else if (r.status == 412)
      ++precondition_failed;
    else
      ++other;
  });
  CHECK(ok == 1);
  CHECK(precondition_failed == clients - 1);
  CHECK(other == 0);
  const Reply final_state = setup.as(tok, "GET", s.task(id));
  CHECK(final_state.header("ETag") == "\"2\"");
}

TEST_CASE("entity-tag lists parse as RFC 9110 has them", "[http][etag][unit]") {
  using todo_server::parse_entity_tags;
  const auto any = parse_entity_tags(" * ");
  REQUIRE(any);
  CHECK(any->any);
  const auto list = parse_entity_tags(R"("1", W/"2",,"x-y" )");
  REQUIRE(list);
  REQUIRE(list->tags.size() == 3);
  CHECK(list->tags[1].weak);
  CHECK(list->tags[1].opaque == "2");
  CHECK(list->tags[2].opaque == "x-y");
  for (const char* bad : {"", "1", "\"1", "\"1\" x", "W/", "*, \"1\"", "\"a\"b\""}) {
    INFO(bad);
    CHECK_FALSE(parse_entity_tags(bad));
  }
  const auto p = todo_server::if_match_precondition(*list);
  CHECK(p.allows(1));
  CHECK_FALSE(p.allows(2));                        // weak
  CHECK(todo_server::none_match_fails(*list, 2));  // weak comparison
  CHECK_FALSE(todo_server::none_match_fails(*list, 3));
}
