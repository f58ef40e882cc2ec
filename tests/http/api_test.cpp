// End-to-end tests of the list query parameters, keyset pages, toggle, bulk and stats
// routes of SPEC §3, in both route shapes, against a real server on a loopback port.

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include <libtodo/uuid.hpp>

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

namespace {

// Percent-encodes everything but RFC 3986 unreserved characters.
std::string enc(const std::string& s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

// The `field` of every entry of an error's details.
std::vector<std::string> detail_fields(const Reply& r) {
  std::vector<std::string> fields;
  const json j = json::parse(r.body);
  for (const auto& d : j["error"]["details"]) fields.push_back(d["field"].get<std::string>());
  return fields;
}

std::set<std::string> detail_field_set(const Reply& r) {
  const auto v = detail_fields(r);
  return {v.begin(), v.end()};
}

// GET of a listing; requires 200 and the listing's shape.
json list_json(Client& c, const std::string& token, const std::string& path) {
  const Reply r = c.as(token, "GET", path);
  INFO(path << " -> " << r.body);
  REQUIRE(r.status == 200);
  const json j = r.json();
  REQUIRE(j.is_object());
  REQUIRE(j.size() == 2);
  REQUIRE(j["tasks"].is_array());
  REQUIRE((j["next_cursor"].is_null() || j["next_cursor"].is_string()));
  return j;
}

std::vector<std::string> ids_in(const json& listing) {
  std::vector<std::string> ids;
  for (const auto& t : listing["tasks"]) ids.push_back(t["id"].get<std::string>());
  return ids;
}

std::set<std::string> id_set_in(const json& listing) {
  const auto v = ids_in(listing);
  return {v.begin(), v.end()};
}

std::string with_query(const std::string& path, const std::string& query) {
  return query.empty() ? path : path + "?" + query;
}

// Every page of `query` with `limit`, concatenated. Requires null next_cursor on the last page.
std::vector<std::string> walk(Client& c, const std::string& token, const std::string& path,
                              const std::string& query, int limit, int* pages = nullptr) {
  std::vector<std::string> ids;
  std::string cursor;
  int count = 0;
  for (;;) {
    std::string q = query.empty() ? "" : query + "&";
    q += "limit=" + std::to_string(limit);
    if (!cursor.empty()) q += "&cursor=" + enc(cursor);
    const json page = list_json(c, token, with_query(path, q));
    REQUIRE(++count < 200);
    REQUIRE(page["tasks"].size() <= static_cast<std::size_t>(limit));
    for (const auto& id : ids_in(page)) ids.push_back(id);
    if (page["next_cursor"].is_null()) break;
    REQUIRE(page["tasks"].size() == static_cast<std::size_t>(limit));
    cursor = page["next_cursor"].get<std::string>();
    REQUIRE_FALSE(cursor.empty());
  }
  if (pages) *pages = count;
  return ids;
}

json stats_of(Client& c, const std::string& token, const std::string& path) {
  const Reply r = c.as(token, "GET", path);
  INFO(r.body);
  REQUIRE(r.status == 200);
  REQUIRE(r.header("Content-Type") == "application/json");
  return r.json();
}

json stats_body(int total, int completed, int pending, int overdue, int low, int medium, int high) {
  return json{{"total", total},
              {"completed", completed},
              {"pending", pending},
              {"overdue", overdue},
              {"by_priority", {{"low", low}, {"medium", medium}, {"high", high}}}};
}

}  // namespace

// --- list query parameters --------------------------------------------------------------------

TEST_CASE("api: every list query parameter filters and sorts", "[http][api][list]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");

  const std::string milk = create_task(c, tok, s,
                                       {{"title", "Buy MILK"},
                                        {"priority", "high"},
                                        {"tags", {"home", "urgent"}},
                                        {"due_date", "2026-03-01T10:00:00Z"}});
  const std::string farm = create_task(c, tok, s,
                                       {{"title", "Groceries"},
                                        {"description", "fresh Milk from the farm"},
                                        {"priority", "low"},
                                        {"tags", {"home"}},
                                        {"due_date", "2026-03-02T10:00:00Z"},
                                        {"completed", true}});
  const std::string report = create_task(c, tok, s,
                                         {{"title", "Report"},
                                          {"priority", "medium"},
                                          {"tags", {"Home", "work"}},
                                          {"due_date", "2026-03-03T10:00:00Z"}});
  const std::string undated = create_task(c, tok, s, {{"title", "a plain one"}, {"tags", {"urgent"}}});
  create_task(c, token_for("bob"), Shape{false, "bob"}, {{"title", "bob's milk"}, {"tags", {"home"}}});

  const auto ids = [&](const std::string& query) { return id_set_in(list_json(c, tok, with_query(s.tasks(), query))); };
  const auto order = [&](const std::string& query) { return ids_in(list_json(c, tok, with_query(s.tasks(), query))); };
  using Ids = std::set<std::string>;

  SECTION("status") {
    CHECK(ids("status=all") == Ids{milk, farm, report, undated});
    CHECK(ids("status=pending") == Ids{milk, report, undated});
    CHECK(ids("status=completed") == Ids{farm});
  }
  SECTION("priority") {
    CHECK(ids("priority=high") == Ids{milk});
    CHECK(ids("priority=medium") == Ids{report, undated});
    CHECK(ids("priority=low") == Ids{farm});
  }
  SECTION("tag, repeatable: every one must match, case-sensitively") {
    CHECK(ids("tag=home") == Ids{milk, farm});
    CHECK(ids("tag=urgent") == Ids{milk, undated});
    CHECK(ids("tag=home&tag=urgent") == Ids{milk});
    CHECK(ids("tag=urgent&tag=home") == Ids{milk});
    CHECK(ids("tag=Home") == Ids{report});
    CHECK(ids("tag=HOME").empty());
    CHECK(ids("tag=home&tag=work").empty());
  }
  SECTION("q: case-insensitive substring of title or description") {
    CHECK(ids("q=milk") == Ids{milk, farm});
    CHECK(ids("q=MiLk") == Ids{milk, farm});
    CHECK(ids("q=FARM") == Ids{farm});
    CHECK(ids("q=buy%20milk") == Ids{milk});
    CHECK(ids("q=nothing-like-this").empty());
  }
  SECTION("due_after inclusive, due_before exclusive, undated excluded") {
    CHECK(ids("due_after=2026-03-02T10:00:00Z") == Ids{farm, report});
    CHECK(ids("due_before=2026-03-02T10:00:00Z") == Ids{milk});
    CHECK(ids("due_after=2026-03-02T10:00:00Z&due_before=2026-03-03T10:00:00Z") == Ids{farm});
    CHECK(ids("due_after=2026-03-02T12:00:00%2B02:00") == Ids{farm, report});  // +02:00, the same instant
    CHECK(ids("due_before=9999-12-31T23:59:59Z") == Ids{milk, farm, report});
  }
  SECTION("combined") {
    CHECK(ids("status=pending&tag=home") == Ids{milk});
    CHECK(ids("status=completed&q=milk&priority=low&tag=home&due_before=2026-03-03T00:00:00Z") == Ids{farm});
    CHECK(ids("status=pending&q=milk&priority=low").empty());
  }
  SECTION("sort, with - for descending; the default is -created") {
    CHECK(order("") == std::vector<std::string>{undated, report, farm, milk});
    CHECK(order("sort=-created") == std::vector<std::string>{undated, report, farm, milk});
    CHECK(order("sort=created") == std::vector<std::string>{milk, farm, report, undated});
    CHECK(order("sort=title") == std::vector<std::string>{milk, farm, report, undated});  // B < G < R < a
    CHECK(order("sort=-title") == std::vector<std::string>{undated, report, farm, milk});
    CHECK(order("sort=priority") == std::vector<std::string>{farm, report, undated, milk});  // ties by id
    CHECK(order("sort=-priority") == std::vector<std::string>{milk, undated, report, farm});
    CHECK(order("sort=due_date") == std::vector<std::string>{milk, farm, report, undated});
    CHECK(order("sort=-due_date") == std::vector<std::string>{report, farm, milk, undated});  // undated last
    REQUIRE(c.as(tok, "PATCH", s.task(milk), R"({"title":"Buy milk!"})").status == 200);
    CHECK(order("sort=-updated").front() == milk);
    CHECK(order("sort=updated").back() == milk);
  }
  SECTION("unknown parameter names are ignored") {
    CHECK(order("_=1700000000000") == order(""));
    CHECK(ids("status=pending&_=123&utm_source=x&Status=bogus") == Ids{milk, report, undated});
  }
}

TEST_CASE("api: malformed list parameter values are 422 naming the parameter", "[http][api][list]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  create_task(c, tok, s, {{"title", "one"}});
  create_task(c, tok, s, {{"title", "two"}});

  SECTION("each malformed value") {
    struct Case {
      const char* query;
      const char* field;
    };
    const Case cases[] = {
        {"status=bogus", "status"},
        {"status=", "status"},
        {"status=Pending", "status"},
        {"status=pending&status=completed", "status"},
        {"priority=urgent", "priority"},
        {"priority=HIGH", "priority"},
        {"sort=bogus", "sort"},
        {"sort=--created", "sort"},
        {"sort=-", "sort"},
        {"sort=", "sort"},
        {"sort=%2Bcreated", "sort"},
        {"sort=Title", "sort"},
        {"limit=0", "limit"},
        {"limit=1001", "limit"},
        {"limit=abc", "limit"},
        {"limit=-1", "limit"},
        {"limit=1.5", "limit"},
        {"limit=", "limit"},
        {"limit=99999999999999999999999", "limit"},
        {"due_before=2026-01-01", "due_before"},
        {"due_before=2026-01-01T00:00:00", "due_before"},
        {"due_after=tomorrow", "due_after"},
        {"due_after=2026-13-01T00:00:00Z", "due_after"},
        {"cursor=garbage", "cursor"},
        {"limit=2&cursor=garbage", "cursor"},
        {"tag=", "tag"},
        {"q=a&q=b", "q"},
        {"sort=title&sort=-title", "sort"},
        {"limit=1&limit=2", "limit"},
        {"due_after=2026-01-01T00:00:00Z&due_after=2026-01-02T00:00:00Z", "due_after"},
    };
    for (const Case& k : cases) {
      INFO("query: " << k.query);
      const Reply r = c.as(tok, "GET", s.tasks() + "?" + k.query);
      require_error_shape(r, 422, "validation_error");
      CHECK(detail_field_set(r).count(k.field) == 1);
    }
  }
  SECTION("over-long values") {
    std::string many_tags;
    for (int i = 0; i < 21; ++i) many_tags += "tag=t" + std::to_string(i) + "&";
    struct Case {
      std::string query;
      const char* field;
    };
    const Case cases[] = {
        {many_tags, "tag"},
        {"tag=" + std::string(51, 't'), "tag"},
        {"q=" + std::string(501, 'q'), "q"},
    };
    for (const Case& k : cases) {
      INFO("query: " << k.query);
      const Reply r = c.as(tok, "GET", s.tasks() + "?" + k.query);
      require_error_shape(r, 422, "validation_error");
      CHECK(detail_field_set(r).count(k.field) == 1);
    }
  }
  SECTION("a cursor made for another sort") {
    const json first = list_json(c, tok, s.tasks() + "?sort=title&limit=1");
    REQUIRE(first["next_cursor"].is_string());
    const std::string cursor = enc(first["next_cursor"].get<std::string>());
    for (const std::string sort : {"-title", "created", "-created", "priority", "due_date", "updated"}) {
      INFO("sort " << sort);
      const Reply r = c.as(tok, "GET", s.tasks() + "?sort=" + sort + "&limit=1&cursor=" + cursor);
      require_error_shape(r, 422, "validation_error");
      CHECK(detail_fields(r) == std::vector<std::string>{"cursor"});
    }
    // Without sort, the default -created.
    const Reply d = c.as(tok, "GET", s.tasks() + "?limit=1&cursor=" + cursor);
    require_error_shape(d, 422, "validation_error");
    CHECK(detail_fields(d) == std::vector<std::string>{"cursor"});
    // With its own sort it continues.
    const json second = list_json(c, tok, s.tasks() + "?sort=title&limit=1&cursor=" + cursor);
    CHECK(second["tasks"].size() == 1);
    CHECK(second["next_cursor"].is_null());
  }
  SECTION("every malformed parameter is listed at once") {
    const Reply r = c.as(tok, "GET", s.tasks() + "?status=bogus&priority=urgent&sort=x&limit=0&due_before=x&cursor=x");
    require_error_shape(r, 422, "validation_error");
    CHECK(detail_field_set(r) ==
          std::set<std::string>{"status", "priority", "sort", "limit", "due_before", "cursor"});
  }
}

TEST_CASE("api: next_cursor is null without limit and on the last page; pages walk the listing",
          "[http][api][list]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  const char* titles[] = {"m", "c", "x", "c", "q", "a", "m"};
  for (int i = 0; i < 7; ++i) {
    json body{{"title", titles[i]}, {"priority", i % 2 ? "low" : "high"}};
    if (i % 3 != 2) body["due_date"] = "2026-05-0" + std::to_string(1 + i % 3) + "T00:00:00Z";
    create_task(c, tok, s, body);
  }
  create_task(c, token_for("bob"), Shape{false, "bob"}, {{"title", "bob's"}});

  const json all = list_json(c, tok, s.tasks());
  CHECK(all["tasks"].size() == 7);
  CHECK(all["next_cursor"].is_null());
  CHECK(list_json(c, tok, s.tasks() + "?limit=7")["next_cursor"].is_null());
  CHECK(list_json(c, tok, s.tasks() + "?limit=1000")["next_cursor"].is_null());
  CHECK(list_json(c, tok, s.tasks() + "?limit=6")["next_cursor"].is_string());

  for (const std::string sort : {"", "sort=created", "sort=title", "sort=-title", "sort=priority", "sort=-priority",
                                 "sort=due_date", "sort=-due_date", "sort=-updated"}) {
    const auto full = ids_in(list_json(c, tok, with_query(s.tasks(), sort)));
    REQUIRE(full.size() == 7);
    for (const int limit : {1, 2, 3, 7}) {
      INFO("sort '" << sort << "', limit " << limit);
      int pages = 0;
      CHECK(walk(c, tok, s.tasks(), sort, limit, &pages) == full);
      CHECK(pages == (7 + limit - 1) / limit);
    }
  }
  SECTION("filters apply on every page") {
    const auto full = ids_in(list_json(c, tok, s.tasks() + "?priority=high&sort=title"));
    REQUIRE(full.size() == 4);
    CHECK(walk(c, tok, s.tasks(), "priority=high&sort=title", 3) == full);
  }
  SECTION("a cursor with an unknown parameter added still works") {
    const json first = list_json(c, tok, s.tasks() + "?limit=4&_=1");
    REQUIRE(first["next_cursor"].is_string());
    const json rest =
        list_json(c, tok, s.tasks() + "?limit=4&_=2&cursor=" + enc(first["next_cursor"].get<std::string>()));
    CHECK(rest["tasks"].size() == 3);
    CHECK(rest["next_cursor"].is_null());
  }
}

// --- toggle -----------------------------------------------------------------------------------

TEST_CASE("api: PATCH .../{id}/complete toggles completion", "[http][api][toggle]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  const std::string id = create_task(c, tok, s, {{"title", "toggle me"}, {"priority", "high"}});
  const json before = c.as(tok, "GET", s.task(id)).json();

  const Reply on = c.as(tok, "PATCH", s.task(id) + "/complete");
  INFO(on.body);
  REQUIRE(on.status == 200);
  const json t = on.json();
  CHECK(t["id"] == id);
  CHECK(t["completed"] == true);
  CHECK(t["status"] == "completed");
  CHECK(t["title"] == "toggle me");
  CHECK(t["priority"] == "high");
  CHECK(t["updated_at"] != before["updated_at"]);
  CHECK(t["created_at"] == before["created_at"]);
  CHECK(c.as(tok, "GET", s.task(id)).json() == t);

  const Reply off = c.as(tok, "PATCH", s.task(id) + "/complete");
  REQUIRE(off.status == 200);
  CHECK(off.json()["completed"] == false);
  CHECK(off.json()["status"] == "pending");
  CHECK(off.json()["updated_at"] != t["updated_at"]);

  SECTION("neither a body nor a content type is needed") {
    const Reply r = c.send("PATCH", s.task(id) + "/complete", "", {{"Authorization", "Bearer " + tok}}, "");
    REQUIRE(r.status == 200);
    CHECK(r.json()["completed"] == true);
  }
  SECTION("unknown and malformed ids: 404") {
    require_error_shape(c.as(tok, "PATCH", s.task(libtodo::new_uuid_v7()) + "/complete"), 404, "not_found");
    require_error_shape(c.as(tok, "PATCH", s.task("not-a-uuid") + "/complete"), 404, "not_found");
  }
  SECTION("another user's task: 403, unchanged") {
    const std::string bob = token_for("bob");
    const Shape bs{s.user_shape, "bob"};
    require_error_shape(c.as(bob, "PATCH", bs.task(id) + "/complete"), 403, "forbidden");
    CHECK(c.as(tok, "GET", s.task(id)).json() == off.json());
  }
  SECTION("path user id other than the token's: 403; no token: 401") {
    if (s.user_shape) {
      require_error_shape(c.as(token_for("mallory"), "PATCH", s.task(id) + "/complete"), 403, "forbidden");
    } else {
      require_error_shape(c.send("PATCH", s.task(id) + "/complete"), 401, "unauthorized");
    }
    CHECK(c.as(tok, "GET", s.task(id)).json() == off.json());
  }
  SECTION("a recurring task spawns its next occurrence once") {
    const std::string r = create_task(
        c, tok, s, {{"title", "rent"}, {"due_date", "2028-01-31T09:00:00Z"}, {"recurrence", "monthly"}});
    REQUIRE(c.as(tok, "PATCH", s.task(r) + "/complete").status == 200);
    const json pending = list_json(c, tok, s.tasks() + "?status=pending&q=rent");
    REQUIRE(pending["tasks"].size() == 1);
    CHECK(pending["tasks"][0]["due_date"] == "2028-02-29T09:00:00.000Z");
    REQUIRE(c.as(tok, "PATCH", s.task(r) + "/complete").status == 200);  // reopened: nothing spawns
    CHECK(list_json(c, tok, s.tasks() + "?q=rent")["tasks"].size() == 2);
  }
}

// --- bulk -------------------------------------------------------------------------------------

TEST_CASE("api: bulk complete and bulk delete", "[http][api][bulk]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  const std::string a = create_task(c, tok, s, {{"title", "a"}});
  const std::string b = create_task(c, tok, s, {{"title", "b"}});
  const std::string keep = create_task(c, tok, s, {{"title", "keep"}});
  const auto completed = [&](const std::string& id) { return c.as(tok, "GET", s.task(id)).json()["completed"]; };

  const Reply done = c.as(tok, "POST", s.tasks() + "/bulk/complete", json{{"ids", {a, b}}, {"completed", true}}.dump());
  INFO(done.body);
  REQUIRE(done.status == 200);
  CHECK(done.json() == json{{"updated", 2}});
  CHECK(done.header("Content-Type") == "application/json");
  CHECK(completed(a) == true);
  CHECK(completed(b) == true);
  CHECK(completed(keep) == false);

  const Reply reopened =
      c.as(tok, "POST", s.tasks() + "/bulk/complete", json{{"ids", {b, a, b}}, {"completed", false}}.dump());
  REQUIRE(reopened.status == 200);
  CHECK(reopened.json() == json{{"updated", 2}});  // duplicates count once
  CHECK(completed(a) == false);
  CHECK(completed(b) == false);

  const Reply deleted = c.as(tok, "POST", s.tasks() + "/bulk/delete", json{{"ids", {a, b, a}}}.dump());
  INFO(deleted.body);
  REQUIRE(deleted.status == 200);
  CHECK(deleted.json() == json{{"deleted", 2}});
  CHECK(ids_in(list_json(c, tok, s.tasks())) == std::vector<std::string>{keep});
  require_error_shape(c.as(tok, "GET", s.task(a)), 404, "not_found");

  SECTION("completing recurring tasks in bulk spawns their next occurrences") {
    const std::string r = create_task(
        c, tok, s, {{"title", "daily"}, {"due_date", "2026-12-31T20:00:00Z"}, {"recurrence", "daily"}});
    const Reply rr = c.as(tok, "POST", s.tasks() + "/bulk/complete", json{{"ids", {r, keep}}, {"completed", true}}.dump());
    REQUIRE(rr.status == 200);
    const json pending = list_json(c, tok, s.tasks() + "?status=pending");
    REQUIRE(pending["tasks"].size() == 1);
    CHECK(pending["tasks"][0]["title"] == "daily");
    CHECK(pending["tasks"][0]["due_date"] == "2027-01-01T20:00:00.000Z");
  }
}

TEST_CASE("api: a bulk call with a foreign or unknown id changes nothing and names it", "[http][api][bulk]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  const std::string a = create_task(c, tok, s, {{"title", "a"}});
  const std::string b = create_task(c, tok, s, {{"title", "b"}});
  const std::string foreign = create_task(c, token_for("bob"), Shape{false, "bob"}, {{"title", "bob's"}});
  const json before = list_json(c, tok, s.tasks());
  const json bob_before = list_json(c, token_for("bob"), "/api/tasks");
  const auto unchanged = [&] {
    CHECK(list_json(c, tok, s.tasks()) == before);
    CHECK(list_json(c, token_for("bob"), "/api/tasks") == bob_before);
  };
  const std::string route = GENERATE(as<std::string>{}, "/bulk/complete", "/bulk/delete");
  INFO(route);

  SECTION("one foreign id: 403 naming it") {
    const Reply r = c.as(tok, "POST", s.tasks() + route, json{{"ids", {a, foreign, b}}, {"completed", true}}.dump());
    require_error_shape(r, 403, "forbidden");
    CHECK(detail_fields(r) == std::vector<std::string>{"ids[1]"});
    unchanged();
  }
  SECTION("one unknown id: 404 naming it") {
    const Reply r = c.as(tok, "POST", s.tasks() + route,
                         json{{"ids", {a, b, libtodo::new_uuid_v7()}}, {"completed", true}}.dump());
    require_error_shape(r, 404, "not_found");
    CHECK(detail_fields(r) == std::vector<std::string>{"ids[2]"});
    unchanged();
  }
  SECTION("one malformed id: 404 naming it") {
    const Reply r = c.as(tok, "POST", s.tasks() + route, json{{"ids", {"not-a-uuid", a}}}.dump());
    require_error_shape(r, 404, "not_found");
    CHECK(detail_fields(r) == std::vector<std::string>{"ids[0]"});
    unchanged();
  }
  SECTION("a foreign, an unknown and a malformed id: 403 naming all three") {
    const std::string unknown = libtodo::new_uuid_v7();
    const Reply r = c.as(tok, "POST", s.tasks() + route, json{{"ids", {a, "nope", unknown, foreign}}}.dump());
    require_error_shape(r, 403, "forbidden");
    CHECK(detail_field_set(r) == std::set<std::string>{"ids[1]", "ids[2]", "ids[3]"});
    unchanged();
  }
  SECTION("the server set to hide foreign tasks answers 404") {
    todo_server::HttpOptions o;
    o.foreign_task_not_found = true;
    TestServer hiding(o, server.shared_repository());
    Client h = hiding.client();
    const Reply r = h.as(tok, "POST", s.tasks() + route, json{{"ids", {a, foreign}}}.dump());
    require_error_shape(r, 404, "not_found");
    CHECK(detail_fields(r) == std::vector<std::string>{"ids[1]"});
    unchanged();
  }
}

TEST_CASE("api: bulk bodies that break the rules are 422, 400 or 415", "[http][api][bulk]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  const std::string a = create_task(c, tok, s, {{"title", "a"}});
  const json before = list_json(c, tok, s.tasks());
  const std::string route = GENERATE(as<std::string>{}, "/bulk/complete", "/bulk/delete");
  INFO(route);

  std::vector<std::string> too_many;
  for (std::size_t i = 0; i < libtodo::max_bulk_ids + 1; ++i) too_many.push_back(libtodo::new_uuid_v7());
  too_many.front() = a;
  struct Case {
    std::string body;
    std::string field;
  };
  const std::vector<Case> cases = {
      {R"({})", "ids"},
      {R"({"ids":null})", "ids"},
      {R"({"ids":"x"})", "ids"},
      {json{{"ids", a}}.dump(), "ids"},
      {R"({"ids":{"0":"x"}})", "ids"},
      {R"({"ids":5})", "ids"},
      {R"({"ids":[]})", "ids"},
      {json{{"ids", too_many}}.dump(), "ids"},
      {R"({"ids":[1]})", "ids[0]"},
      {json{{"ids", {a, 5}}}.dump(), "ids[1]"},
      {json{{"ids", {a, nullptr}}}.dump(), "ids[1]"},
      {json{{"ids", {a, json::array({a})}}}.dump(), "ids[1]"},
  };
  for (const Case& k : cases) {
    INFO("body: " << k.body.substr(0, 200));
    const Reply r = c.as(tok, "POST", s.tasks() + route, k.body);
    require_error_shape(r, 422, "validation_error");
    CHECK(detail_field_set(r).count(k.field) == 1);
  }
  if (route == "/bulk/complete") {
    for (const std::string value : {"\"yes\"", "1", "[true]", "\"true\""}) {
      INFO("completed: " << value);
      const Reply r = c.as(tok, "POST", s.tasks() + route, R"({"ids":[")" + a + R"("],"completed":)" + value + "}");
      require_error_shape(r, 422, "validation_error");
      CHECK(detail_fields(r) == std::vector<std::string>{"completed"});
    }
  }
  for (const std::string& body : std::vector<std::string>{"", "[", "[\"" + a + "\"]", "null"}) {
    INFO("body: " << body);
    require_error_shape(c.as(tok, "POST", s.tasks() + route, body), 400, "invalid_json");
  }
  require_error_shape(c.send("POST", s.tasks() + route, json{{"ids", {a}}}.dump(), {{"Authorization", "Bearer " + tok}},
                     "text/plain"),
              415, "unsupported_media_type");
  CHECK(list_json(c, tok, s.tasks()) == before);

  SECTION("the token and the path's user come before the body") {
    require_error_shape(c.send("POST", s.tasks() + route, "{"), 401, "unauthorized");
    require_error_shape(c.as(tok, "POST", "/api/bob/tasks" + route, "{"), 403, "forbidden");
    CHECK(list_json(c, tok, s.tasks()) == before);
  }
}

// --- stats ------------------------------------------------------------------------------------

TEST_CASE("api: GET .../stats counts the caller's tasks in the exact shape", "[http][api][stats]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  const std::string stats = s.tasks() + "/stats";

  const json empty = stats_of(c, tok, stats);
  CHECK(empty == stats_body(0, 0, 0, 0, 0, 0, 0));

  create_task(c, tok, s, {{"title", "late"}, {"priority", "low"}, {"due_date", "2000-01-01T00:00:00Z"}});
  create_task(c, tok, s, {{"title", "late too"}, {"priority", "high"}, {"due_date", "2020-06-01T12:00:00+02:00"}});
  create_task(c, tok, s, {{"title", "future"}, {"due_date", "2999-01-01T00:00:00Z"}});
  create_task(c, tok, s, {{"title", "undated"}});
  create_task(c, tok, s,
              {{"title", "done late"}, {"priority", "high"}, {"completed", true}, {"due_date", "2000-01-01T00:00:00Z"}});
  for (int i = 0; i < 2; ++i)
    create_task(c, token_for("bob"), Shape{false, "bob"},
                {{"title", "bob's"}, {"priority", "low"}, {"due_date", "2000-01-01T00:00:00Z"}});

  const json j = stats_of(c, tok, stats);
  INFO(j.dump());
  REQUIRE(j.is_object());
  std::set<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.insert(k);
  CHECK(keys == std::set<std::string>{"total", "completed", "pending", "overdue", "by_priority"});
  REQUIRE(j["by_priority"].is_object());
  std::set<std::string> priority_keys;
  for (const auto& [k, v] : j["by_priority"].items()) {
    priority_keys.insert(k);
    CHECK(v.is_number_unsigned());
  }
  CHECK(priority_keys == std::set<std::string>{"low", "medium", "high"});
  for (const char* k : {"total", "completed", "pending", "overdue"}) CHECK(j[k].is_number_unsigned());
  CHECK(j == stats_body(5, 1, 4, 2, 1, 2, 2));

  CHECK(stats_of(c, token_for("bob"), "/api/bob/tasks/stats") == stats_body(2, 0, 2, 2, 2, 0, 0));
  CHECK(stats_of(c, token_for("bob"), "/api/tasks/stats") == stats_body(2, 0, 2, 2, 2, 0, 0));
  CHECK(stats_of(c, token_for("carol"), "/api/tasks/stats") == stats_body(0, 0, 0, 0, 0, 0, 0));

  SECTION("HEAD answers like GET, without a body") {
    const Reply h = c.as(tok, "HEAD", stats);
    CHECK(h.status == 200);
    CHECK(h.body.empty());
  }
  SECTION("another user's path: 403; no token: 401") {
    if (s.user_shape) require_error_shape(c.as(token_for("bob"), "GET", stats), 403, "forbidden");
    require_error_shape(c.send("GET", stats), 401, "unauthorized");
  }
}

TEST_CASE("api: /api/tasks/stats is the stats route, not a task id", "[http][api][stats]") {
  TestServer server;
  Client c = server.client();
  const std::string tok = token_for("alice");
  create_task(c, tok, Shape{false, "alice"}, {{"title", "one"}});
  const Reply r = c.as(tok, "GET", "/api/tasks/stats");
  INFO(r.body);
  REQUIRE(r.status == 200);
  CHECK(r.json() == stats_body(1, 0, 1, 0, 0, 1, 0));
  const Reply u = c.as(tok, "GET", "/api/alice/tasks/stats");
  REQUIRE(u.status == 200);
  CHECK(u.json() == r.json());
  // A user whose id is "stats" still has a collection of their own.
  const Reply other = c.as(token_for("stats"), "GET", "/api/stats/tasks");
  REQUIRE(other.status == 200);
  CHECK(other.json()["tasks"].empty());
}

// --- 405 --------------------------------------------------------------------------------------

TEST_CASE("api: wrong methods on the new routes are 405 with Allow", "[http][api]") {
  TestServer server;
  Client c = server.client();
  const Shape s = any_shape("alice");
  INFO(s.name());
  const std::string tok = token_for("alice");
  const std::string id = create_task(c, tok, s, {{"title", "x"}});
  struct Case {
    std::string method;
    std::string path;
    std::string allow;
  };
  const std::vector<Case> cases = {
      {"GET", s.tasks() + "/bulk/delete", "POST"},
      {"GET", s.tasks() + "/bulk/complete", "POST"},
      {"PUT", s.tasks() + "/bulk/complete", "POST"},
      {"DELETE", s.tasks() + "/bulk/delete", "POST"},
      {"PATCH", s.tasks() + "/bulk/delete", "POST"},
      {"PATCH", s.tasks() + "/bulk/complete", "POST"},
      {"DELETE", s.tasks() + "/stats", "GET, HEAD"},
      {"POST", s.tasks() + "/stats", "GET, HEAD"},
      {"PUT", s.tasks() + "/stats", "GET, HEAD"},
      {"PATCH", s.tasks() + "/stats", "GET, HEAD"},
      {"PUT", s.task(id) + "/complete", "PATCH"},
      {"GET", s.task(id) + "/complete", "PATCH"},
      {"POST", s.task(id) + "/complete", "PATCH"},
      {"DELETE", s.task(id) + "/complete", "PATCH"},
  };
  for (const Case& k : cases) {
    INFO(k.method << " " << k.path);
    const std::string body = k.method == "GET" || k.method == "DELETE" ? "" : "{}";
    // With a valid token: a wrong method is 405 whoever asks.
    const Reply r = c.as(tok, k.method, k.path, body);
    INFO(r.body);
    CHECK(r.status == 405);
    CHECK(r.header("Allow") == k.allow);
    if (r.status == 405) require_error_shape(r, 405, "method_not_allowed");
  }
  // Nothing was changed by any of them.
  const json t = c.as(tok, "GET", s.task(id)).json();
  CHECK(t["completed"] == false);
  CHECK(t["updated_at"] == t["created_at"]);
  CHECK(list_json(c, tok, s.tasks())["tasks"].size() == 1);
}
