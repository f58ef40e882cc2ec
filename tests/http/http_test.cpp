// End-to-end tests of todo-server's HTTP API against a real server on a free
// loopback port: every endpoint in both route shapes, every status of SPEC §3.

#include <catch2/catch.hpp>

#include <atomic>
#include <set>

#include <libtodo/errors.hpp>

#include "test_server.hpp"

using nlohmann::json;
using test::Client;
using test::Reply;
using test::TestServer;
using test::token_for;

using test::any_shape;
using test::create_task;
using test::require_error_shape;
using test::Shape;

TEST_CASE("health answers without a token", "[http]") {
  TestServer server;
  Client c = server.client();
  const Reply r = c.send("GET", "/health");
  REQUIRE(r.status == 200);
  REQUIRE(r.json() == json{{"status", "ok"}, {"database", "ok"}});
}

TEST_CASE("create, read, list, replace, patch and delete in both route shapes", "[http]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");

  const Reply created = c.as(tok, "POST", s.tasks(),
                             R"({"title":"  Buy milk  ","description":"2 litres","priority":"high",)"
                             R"("tags":["shop","shop","food"],"due_date":"2026-03-01T10:00:00+02:00"})");
  INFO(created.body);
  REQUIRE(created.status == 201);
  const json t = created.json();
  const std::string id = t["id"];
  REQUIRE(created.header("Location") == s.task(id));
  REQUIRE(t["user_id"] == "alice");
  REQUIRE(t["title"] == "Buy milk");
  REQUIRE(t["description"] == "2 litres");
  REQUIRE(t["completed"] == false);
  REQUIRE(t["status"] == "pending");
  REQUIRE(t["priority"] == "high");
  REQUIRE(t["tags"] == json::array({"shop", "food"}));
  REQUIRE(t["due_date"] == "2026-03-01T08:00:00.000Z");
  REQUIRE(t["recurrence"].is_null());
  REQUIRE(t["created_at"] == t["updated_at"]);

  const Reply got = c.as(tok, "GET", s.task(id));
  REQUIRE(got.status == 200);
  REQUIRE(got.json() == t);

  create_task(c, tok, s, {{"title", "second"}});
  const Reply listed = c.as(tok, "GET", s.tasks());
  REQUIRE(listed.status == 200);
  const json l = listed.json();
  REQUIRE(l["next_cursor"].is_null());
  REQUIRE(l["tasks"].size() == 2);
  REQUIRE(l["tasks"][0]["title"] == "second");  // newest first
  REQUIRE(l["tasks"][1]["id"] == id);

  // PUT replaces: absent optional fields go back to their defaults.
  const Reply put = c.as(tok, "PUT", s.task(id), R"({"title":"Buy oat milk","status":"completed"})");
  INFO(put.body);
  REQUIRE(put.status == 200);
  const json p = put.json();
  REQUIRE(p["title"] == "Buy oat milk");
  REQUIRE(p["description"].is_null());
  REQUIRE(p["priority"] == "medium");
  REQUIRE(p["tags"] == json::array());
  REQUIRE(p["due_date"].is_null());
  REQUIRE(p["completed"] == true);
  REQUIRE(p["created_at"] == t["created_at"]);
  REQUIRE(p["updated_at"] != t["updated_at"]);

  // PATCH is a merge patch: absent stays, null resets or clears.
  const Reply patched = c.as(tok, "PATCH", s.task(id), R"({"description":"oat","completed":null})");
  INFO(patched.body);
  REQUIRE(patched.status == 200);
  const json q = patched.json();
  REQUIRE(q["title"] == "Buy oat milk");
  REQUIRE(q["description"] == "oat");
  REQUIRE(q["completed"] == false);
  REQUIRE(q["status"] == "pending");
  const Reply cleared = c.as(tok, "PATCH", s.task(id), R"({"description":null,"priority":"low"})");
  REQUIRE(cleared.json()["description"].is_null());
  REQUIRE(cleared.json()["priority"] == "low");

  const Reply deleted = c.as(tok, "DELETE", s.task(id));
  REQUIRE(deleted.status == 200);
  REQUIRE(deleted.json() == json{{"message", "Task deleted"}, {"id", id}});
  require_error_shape(c.as(tok, "GET", s.task(id)), 404, "not_found");
  require_error_shape(c.as(tok, "DELETE", s.task(id)), 404, "not_found");
}

TEST_CASE("completing a recurring task over HTTP creates the next occurrence", "[http]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("rita");
  const std::string tok = token_for("rita");
  const std::string id = create_task(c, tok, s,
                                {{"title", "rent"}, {"due_date", "2027-01-31T09:00:00Z"}, {"recurrence", "monthly"}});
  REQUIRE(c.as(tok, "PATCH", s.task(id), R"({"status":"completed"})").status == 200);
  const json tasks = c.as(tok, "GET", s.tasks()).json()["tasks"];
  REQUIRE(tasks.size() == 2);
  REQUIRE(tasks[0]["completed"] == false);
  REQUIRE(tasks[0]["due_date"] == "2027-02-28T09:00:00.000Z");
  REQUIRE(tasks[0]["recurrence"] == "monthly");
}

TEST_CASE("401 for missing, malformed, expired and badly signed tokens", "[http][auth]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");

  const Reply missing = c.send("GET", s.tasks());
  require_error_shape(missing, 401, "unauthorized");
  REQUIRE(missing.header("WWW-Authenticate") == "Bearer");

  libtodo::TokenClaims expired;
  expired.subject = "alice";
  expired.issued_at = std::chrono::system_clock::now() - std::chrono::hours(2);
  expired.lifetime = std::chrono::seconds(60);
  const std::string forged = libtodo::mint_hs_token("another-secret-0123456789abcdef-0123", {"alice"});
  std::string tampered = token_for("alice");
  tampered.back() = tampered.back() == 'A' ? 'B' : 'A';
  const std::string bad = GENERATE_COPY(as<std::string>{}, "Bearer garbage", "Bearer a.b.c", "Basic dXNlcjpwYXNz",
                                        "Bearer ", "Bearer " + libtodo::mint_hs_token(test::secret, expired),
                                        "Bearer " + forged, "Bearer " + tampered);
  INFO(bad);
  const Reply r = c.send("GET", s.tasks(), {}, {{"Authorization", bad}});
  require_error_shape(r, 401, "unauthorized");
  REQUIRE(r.header("WWW-Authenticate") == R"(Bearer error="invalid_token")");
  // The body never says which check failed.
  REQUIRE(r.body == c.send("GET", s.tasks(), {}, {{"Authorization", "Bearer x"}}).body);
}

TEST_CASE("every 401 has the same body, whatever the failure", "[http][auth]") {
  TestServer server;
  Client c = server.client();
  const std::string forged = libtodo::mint_hs_token("another-secret-0123456789abcdef-0123", {"alice"});
  const Reply a = c.send("GET", "/api/tasks", {}, {{"Authorization", "Bearer " + forged}});
  const Reply b = c.send("GET", "/api/tasks", {}, {{"Authorization", "Bearer not-a-token"}});
  REQUIRE(a.status == 401);
  REQUIRE(a.body == b.body);
}

TEST_CASE("the bearer scheme is case-insensitive", "[http][auth]") {
  TestServer server;
  Client c = server.client();
  const Reply r = c.send("GET", "/api/tasks", {}, {{"Authorization", "bearer " + token_for("alice")}});
  REQUIRE(r.status == 200);
}

TEST_CASE("403 when the path's user id is not the token's subject", "[http]") {
  TestServer server;
  Client c = server.client();
  const std::string tok = token_for("alice");
  const std::string id = create_task(c, tok, Shape{false, "alice"}, {{"title", "mine"}});
  require_error_shape(c.as(tok, "GET", "/api/bob/tasks"), 403, "forbidden");
  require_error_shape(c.as(tok, "POST", "/api/bob/tasks", R"({"title":"x"})"), 403, "forbidden");
  require_error_shape(c.as(tok, "GET", "/api/bob/tasks/" + id), 403, "forbidden");
  require_error_shape(c.as(tok, "DELETE", "/api/bob/tasks/" + id), 403, "forbidden");
  // The token check comes first.
  require_error_shape(c.send("GET", "/api/bob/tasks"), 401, "unauthorized");
  REQUIRE(c.as(tok, "GET", "/api/tasks/" + id).status == 200);
}

TEST_CASE("users are isolated: another user's task can be neither read, listed, changed nor deleted",
          "[http][isolation]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("bob");
  const std::string alice = token_for("alice");
  const std::string bob = token_for("bob");
  const std::string id = create_task(c, alice, Shape{false, "alice"},
                                {{"title", "alice's secret"}, {"description", "private"}});

  REQUIRE(c.as(bob, "GET", s.tasks()).json()["tasks"].empty());
  require_error_shape(c.as(bob, "GET", s.task(id)), 403, "forbidden");
  require_error_shape(c.as(bob, "PUT", s.task(id), R"({"title":"pwned"})"), 403, "forbidden");
  require_error_shape(c.as(bob, "PATCH", s.task(id), R"({"title":"pwned"})"), 403, "forbidden");
  // Even a broken body does not reveal more than the 403.
  require_error_shape(c.as(bob, "PATCH", s.task(id), R"({"title":)"), 403, "forbidden");
  require_error_shape(c.as(bob, "DELETE", s.task(id)), 403, "forbidden");

  const Reply still = c.as(alice, "GET", "/api/tasks/" + id);
  REQUIRE(still.status == 200);
  REQUIRE(still.json()["title"] == "alice's secret");
  REQUIRE(still.json()["description"] == "private");
  REQUIRE(still.json()["updated_at"] == still.json()["created_at"]);
}

TEST_CASE("foreign tasks answer 404 when the server is set to hide them", "[http][isolation]") {
  todo_server::HttpOptions o;
  o.foreign_task_not_found = true;
  TestServer server(o);
  Client c = server.client();
  const std::string id = create_task(c, token_for("alice"), Shape{false, "alice"}, {{"title", "hidden"}});
  require_error_shape(c.as(token_for("bob"), "GET", "/api/tasks/" + id), 404, "not_found");
  require_error_shape(c.as(token_for("bob"), "DELETE", "/api/tasks/" + id), 404, "not_found");
  REQUIRE(c.as(token_for("alice"), "GET", "/api/tasks/" + id).status == 200);
}

TEST_CASE("404 for malformed and unknown ids and unknown routes", "[http]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");
  for (const std::string id : {"not-a-uuid", "01900000-0000-7000-8000-000000000000", "%27%20OR%201=1--",
                               "0190ABCD-0000-7000-8000-000000000000"}) {
    INFO(id);
    require_error_shape(c.as(tok, "GET", s.task(id)), 404, "not_found");
    require_error_shape(c.as(tok, "PATCH", s.task(id), R"({"title":"x"})"), 404, "not_found");
    require_error_shape(c.as(tok, "PUT", s.task(id), R"({"title":"x"})"), 404, "not_found");
    require_error_shape(c.as(tok, "DELETE", s.task(id)), 404, "not_found");
  }
  require_error_shape(c.as(tok, "GET", "/api/nothing"), 404, "not_found");
  require_error_shape(c.send("GET", "/"), 404, "not_found");
  require_error_shape(c.as(tok, "GET", "/api/tasks/x/y"), 404, "not_found");
}

TEST_CASE("405 with Allow for a known path and a wrong method", "[http]") {
  TestServer server;
  Client c = server.client();
  const Reply a = c.send("DELETE", "/api/tasks");
  require_error_shape(a, 405, "method_not_allowed");
  REQUIRE(a.header("Allow") == "GET, HEAD, POST");
  const Reply b = c.send("POST", "/api/tasks/01900000-0000-7000-8000-000000000000", "{}");
  require_error_shape(b, 405, "method_not_allowed");
  REQUIRE(b.header("Allow") == "GET, HEAD, PUT, PATCH, DELETE");
  const Reply h = c.send("POST", "/health", "{}");
  require_error_shape(h, 405, "method_not_allowed");
  REQUIRE(h.header("Allow") == "GET, HEAD");
  // `/api/tasks/...` is always the token shape, even when it could read as a user id.
  const Reply t = c.as(token_for("tasks"), "POST", "/api/tasks/tasks", R"({"title":"x"})");
  require_error_shape(t, 405, "method_not_allowed");
}

TEST_CASE("400 for bodies that are not JSON objects", "[http]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");
  const std::string id = create_task(c, tok, s, {{"title", "x"}});
  for (const std::string body : {"", "{", "[1,2]", "\"title\"", "42", "null", "{\"title\":\"\xff\"}"}) {
    INFO(body);
    require_error_shape(c.as(tok, "POST", s.tasks(), body), 400, "invalid_json");
    require_error_shape(c.as(tok, "PUT", s.task(id), body), 400, "invalid_json");
    require_error_shape(c.as(tok, "PATCH", s.task(id), body), 400, "invalid_json");
  }
}

TEST_CASE("415 for a body that is not JSON by its content type", "[http]") {
  TestServer server;
  Client c = server.client();
  const std::string tok = token_for("alice");
  const httplib::Headers auth{{"Authorization", "Bearer " + tok}};
  require_error_shape(c.send("POST", "/api/tasks", R"({"title":"x"})", auth, "text/plain"), 415,
                      "unsupported_media_type");
  require_error_shape(
      c.send("POST", "/api/tasks", "title=x", auth, "application/x-www-form-urlencoded"), 415,
      "unsupported_media_type");
  REQUIRE(c.send("POST", "/api/tasks", R"({"title":"x"})", auth, "application/json; charset=utf-8").status == 201);
  REQUIRE(c.send("POST", "/api/tasks", R"({"title":"x"})", auth, "Application/JSON").status == 201);
  REQUIRE(c.send("POST", "/api/tasks", R"({"title":"x"})", auth, "application/merge-patch+json").status == 201);
}

TEST_CASE("422 lists every failing field", "[http]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  const std::string tok = token_for("alice");
  const Reply r = c.as(tok, "POST", s.tasks(),
                       json{{"title", "   "},
                            {"description", std::string(2001, 'd')},
                            {"priority", "urgent"},
                            {"tags", {"ok", "", std::string(51, 't')}},
                            {"due_date", "2026-01-01T10:00:00"},
                            {"recurrence", "yearly"},
                            {"completed", "yes"}}
                           .dump());
  require_error_shape(r, 422, "validation_error");
  std::set<std::string> fields;
  const json body = r.json();
  for (const auto& d : body["error"]["details"]) fields.insert(d["field"].get<std::string>());
  REQUIRE(fields == std::set<std::string>{"title", "description", "priority", "tags[1]", "tags[2]",
                                          "due_date", "recurrence", "completed"});
  REQUIRE(c.as(tok, "GET", s.tasks()).json()["tasks"].empty());  // nothing stored

  require_error_shape(c.as(tok, "POST", s.tasks(), "{}"), 422, "validation_error");
  require_error_shape(c.as(tok, "POST", s.tasks(), R"({"title":5})"), 422, "validation_error");
  require_error_shape(c.as(tok, "POST", s.tasks(), R"({"title":"x","completed":true,"status":"pending"})"),
                      422, "validation_error");
  const std::string id = create_task(c, tok, s, {{"title", "x"}});
  require_error_shape(c.as(tok, "PATCH", s.task(id), R"({"title":null})"), 422, "validation_error");
  require_error_shape(c.as(tok, "PUT", s.task(id), R"({"description":"no title"})"), 422, "validation_error");
  REQUIRE(c.as(tok, "GET", s.task(id)).json()["title"] == "x");
}

TEST_CASE("title length counts code points: 500 pass, 501 fail", "[http]") {
  TestServer server;
  Client c = server.client();
  const std::string tok = token_for("alice");
  std::string emoji500;
  for (int i = 0; i < 500; ++i) emoji500 += "\xF0\x9F\x98\x80";
  REQUIRE(c.as(tok, "POST", "/api/tasks", json{{"title", emoji500}}.dump()).status == 201);
  require_error_shape(c.as(tok, "POST", "/api/tasks", json{{"title", emoji500 + "x"}}.dump()), 422,
                      "validation_error");
}

TEST_CASE("413 above the body limit; exactly the limit passes", "[http]") {
  TestServer server;
  Client c = server.client();
  const std::string tok = token_for("alice");
  const std::string base = R"({"title":"big"})";
  std::string exact = base;
  exact.insert(1, 65536 - base.size(), ' ');  // JSON allows the padding
  REQUIRE(exact.size() == 65536);
  REQUIRE(c.as(tok, "POST", "/api/tasks", exact).status == 201);
  std::string over = exact;
  over.insert(1, " ");
  require_error_shape(c.as(tok, "POST", "/api/tasks", over), 413, "payload_too_large");
  // The server keeps serving afterwards.
  REQUIRE(c.send("GET", "/health").status == 200);
}

TEST_CASE("X-Request-Id is echoed when sane and generated otherwise", "[http]") {
  TestServer server;
  Client c = server.client();
  REQUIRE(c.send("GET", "/health", {}, {{"X-Request-Id", "abc-123:x.y_z"}}).header("X-Request-Id") ==
          "abc-123:x.y_z");
  const std::string generated =
      c.send("GET", "/health", {}, {{"X-Request-Id", "bad id with spaces"}}).header("X-Request-Id");
  REQUIRE(generated != "bad id with spaces");
  REQUIRE(generated.size() == 36);
  REQUIRE(c.send("GET", "/nowhere").has_header("X-Request-Id"));
}

TEST_CASE("500 says nothing of internals; 503 sets Retry-After", "[http]") {
  SECTION("internal fault") {
    TestServer server({}, std::make_unique<test::FailingRepository>(false));
    Client c = server.client();
    const Reply r = c.as(token_for("alice"), "GET", "/api/tasks");
    require_error_shape(r, 500, "internal_error");
    REQUIRE(r.body.find("secret") == std::string::npos);
    REQUIRE(r.body.find("sqlite") == std::string::npos);
  }
  SECTION("database unreachable") {
    TestServer server({}, std::make_unique<test::FailingRepository>(true));
    Client c = server.client();
    const Reply r = c.as(token_for("alice"), "POST", "/api/tasks", R"({"title":"x"})");
    require_error_shape(r, 503, "service_unavailable");
    REQUIRE(r.header("Retry-After") == "1");
    REQUIRE(r.body.find("10.0.0.7") == std::string::npos);
    const Reply h = c.send("GET", "/health");
    REQUIRE(h.status == 503);
    REQUIRE(h.json()["database"] == "unreachable");
    REQUIRE(h.header("Retry-After") == "1");
    // Not ready, but alive: a load balancer stops sending, nobody restarts the process.
    const Reply ready = c.send("GET", "/readyz");
    require_error_shape(ready, 503, "service_unavailable");
    REQUIRE(ready.header("Retry-After") == "1");
    REQUIRE(ready.body.find("10.0.0.7") == std::string::npos);
    REQUIRE(c.send("GET", "/livez").status == 200);
  }
}

TEST_CASE("concurrent clients are all served", "[http]") {
  TestServer server;
  std::vector<std::thread> threads;
  std::atomic<int> created{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      Client c = server.client();
      const std::string tok = token_for("user" + std::to_string(t));
      for (int i = 0; i < 25; ++i)
        if (c.as(tok, "POST", "/api/tasks", R"({"title":"t"})").status == 201) ++created;
    });
  }
  for (auto& th : threads) th.join();
  REQUIRE(created == 200);
  Client c = server.client();
  REQUIRE(c.as(token_for("user3"), "GET", "/api/tasks").json()["tasks"].size() == 25);
}

TEST_CASE("CORS: allowed origins get the headers, on errors too; others get none", "[http][cors]") {
  todo_server::HttpOptions o;
  o.cors_origins = {"https://app.example.com"};
  TestServer server(o);
  Client c = server.client();
  const httplib::Headers allowed{{"Origin", "https://app.example.com"},
                                 {"Authorization", "Bearer " + token_for("alice")}};

  const Reply ok = c.send("GET", "/api/tasks", {}, allowed);
  REQUIRE(ok.status == 200);
  REQUIRE(ok.header("Access-Control-Allow-Origin") == "https://app.example.com");
  REQUIRE(ok.header("Access-Control-Allow-Credentials") == "true");
  REQUIRE(ok.header("Vary") == "Origin");
  const std::string exposed = ok.header("Access-Control-Expose-Headers");
  for (const char* h : {"Location", "X-Request-Id", "ETag", "Retry-After", "RateLimit", "RateLimit-Policy",
                        "Idempotent-Replayed"})
    REQUIRE(exposed.find(h) != std::string::npos);

  // Errors carry them too, so the browser lets the app read the error body.
  const Reply unauthorized = c.send("GET", "/api/tasks", {}, {{"Origin", "https://app.example.com"}});
  REQUIRE(unauthorized.status == 401);
  REQUIRE(unauthorized.header("Access-Control-Allow-Origin") == "https://app.example.com");
  const Reply missing = c.send("GET", "/nowhere", {}, {{"Origin", "https://app.example.com"}});
  REQUIRE(missing.status == 404);
  REQUIRE(missing.header("Access-Control-Allow-Origin") == "https://app.example.com");

  const Reply other = c.send("GET", "/api/tasks", {}, {{"Origin", "https://evil.example.com"},
                                                        {"Authorization", "Bearer " + token_for("alice")}});
  REQUIRE(other.status == 200);  // CORS is the browser's to enforce; the answer just lacks the grant
  REQUIRE_FALSE(other.has_header("Access-Control-Allow-Origin"));
  REQUIRE_FALSE(other.has_header("Access-Control-Allow-Credentials"));
  REQUIRE(other.header("Vary") == "Origin");
}

TEST_CASE("CORS preflight answers with the route's methods and the allowed headers", "[http][cors]") {
  todo_server::HttpOptions o;
  o.cors_origins = {"https://app.example.com", "http://localhost:3000"};
  TestServer server(o);
  Client c = server.client();
  const Reply pre = c.send("OPTIONS", "/api/tasks/01900000-0000-7000-8000-000000000000", {},
                           {{"Origin", "http://localhost:3000"},
                            {"Access-Control-Request-Method", "PATCH"},
                            {"Access-Control-Request-Headers", "authorization, content-type"}});
  REQUIRE(pre.status == 204);
  REQUIRE(pre.header("Access-Control-Allow-Origin") == "http://localhost:3000");
  REQUIRE(pre.header("Access-Control-Allow-Credentials") == "true");
  REQUIRE(pre.header("Access-Control-Allow-Methods") == "GET, HEAD, PUT, PATCH, DELETE, OPTIONS");
  const std::string headers = pre.header("Access-Control-Allow-Headers");
  REQUIRE(headers.find("Authorization") != std::string::npos);
  REQUIRE(headers.find("Content-Type") != std::string::npos);
  REQUIRE(pre.header("Access-Control-Max-Age") == "600");

  const Reply denied = c.send("OPTIONS", "/api/tasks", {},
                              {{"Origin", "https://evil.example.com"}, {"Access-Control-Request-Method", "POST"}});
  REQUIRE_FALSE(denied.has_header("Access-Control-Allow-Origin"));
  REQUIRE_FALSE(denied.has_header("Access-Control-Allow-Methods"));
  REQUIRE(c.send("OPTIONS", "/no/such/route", {}, {{"Origin", "http://localhost:3000"}}).status == 404);
}

TEST_CASE("CORS wildcard allows any origin but never with credentials", "[http][cors]") {
  todo_server::HttpOptions o;
  o.cors_origins = {"*"};
  TestServer server(o);
  Client c = server.client();
  const Reply r = c.send("GET", "/health", {}, {{"Origin", "https://anywhere.example"}});
  REQUIRE(r.header("Access-Control-Allow-Origin") == "*");
  REQUIRE_FALSE(r.has_header("Access-Control-Allow-Credentials"));
}

TEST_CASE("without CORS_ORIGINS no CORS headers are sent", "[http][cors]") {
  TestServer server;
  Client c = server.client();
  const Reply r = c.send("GET", "/health", {}, {{"Origin", "https://app.example.com"}});
  REQUIRE_FALSE(r.has_header("Access-Control-Allow-Origin"));
  REQUIRE_FALSE(r.has_header("Vary"));
}
