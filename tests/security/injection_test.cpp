// SQL injection through every input that reaches a statement (issue 10):
// title, description and tags of creates, PUTs and PATCHes; the list
// parameters q, tag, sort, cursor and the rest; task ids and user ids in
// paths, bulk id lists, and a token's sub. Each string must be stored and
// given back verbatim, or refused with 4xx, and never executed: the tables
// stay, the row counts are what the API calls explain, and another user's
// tasks are untouched.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <set>
#include <string>
#include <vector>

#include <libtodo/uuid.hpp>
#include <libtodo/validation.hpp>

#include "http/temp_dir.hpp"
#include "http/test_server.hpp"
#include "http_util.hpp"
#include "store.hpp"

namespace {

using json = nlohmann::json;
using test::Reply;
using todo_server::encode_segment;

const std::vector<std::string>& payloads() {
  static const std::vector<std::string> p = {
      "'; DROP TABLE tasks; --",
      "\"; DROP TABLE tasks; --",
      "' OR '1'='1",
      "' OR 1=1 --",
      "1; DELETE FROM tasks",
      "'); DELETE FROM tasks WHERE ('1'='1",
      "' UNION SELECT id, user_id, title, description FROM tasks --",
      "$$; DROP TABLE tasks; $$",
      "\\'; DROP TABLE tasks; --",
      "Robert'); DROP TABLE schema_migrations;--",
      "x' AND (SELECT pg_sleep(5)) IS NULL --",
      "'||(SELECT user_id FROM tasks LIMIT 1)||'",
      "admin'--",
      "1' ORDER BY 1--",
      "/* comment */ OR 1=1",
      "%' OR '%'='",
      "%",
      "_",
      "\\",
      "*",
      "[a-z]",
      "''",
      "\"\"",
      ";",
      "E'\\x27'",
      "ʼ OR ʼ1ʼ=ʼ1",  // U+02BC, which some normalizations turn into an apostrophe
  };
  return p;
}

// The payload as a tag, with a plain one, where it fits the 50-character limit.
json tags_with(const std::string& p) {
  return p.size() <= libtodo::max_tag_chars ? json::array({p, "plain"}) : json::array({"plain"});
}

// A payload with a '/' cannot be one path segment: cpp-httplib decodes %2F
// before routing, so such a "user id" or "task id" names no route at all.
int status_for_segment(const std::string& p, int status) {
  return p.find('/') == std::string::npos ? status : 404;
}

std::string lower_ascii(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool contains_folded(const json& text, const std::string& needle) {
  return text.is_string() &&
         lower_ascii(text.get<std::string>()).find(lower_ascii(needle)) != std::string::npos;
}

// Ids of a listing's tasks, in order; requires 200 and tasks of `user` only.
std::vector<std::string> list_ids(test::Client& c, const std::string& token,
                                  const std::string& user, const std::string& query) {
  const Reply r = c.as(token, "GET", "/api/tasks?" + query);
  INFO(query << " -> " << r.body);
  REQUIRE(r.status == 200);
  const json page = r.json();
  std::vector<std::string> ids;
  for (const json& t : page["tasks"]) {
    REQUIRE(t["user_id"] == user);
    ids.push_back(t["id"]);
  }
  return ids;
}

}  // namespace

TEST_CASE("SQL injection: stored verbatim or refused, never executed", "[security][injection]") {
  test::TempDir dir;
  const test::Store store = test::make_store(dir.path.string());
  test::TestServer server({}, store.repo);
  test::Client c = server.client();
  const std::string mallory = "mallory";
  const std::string tok = test::token_for(mallory);

  // Another user's tasks, which nothing below may reach.
  std::vector<libtodo::Task> bystander;
  for (int i = 0; i < 3; ++i) {
    libtodo::TaskDraft d;
    d.title = "bystander " + std::to_string(i);
    d.tags = {"x"};
    bystander.push_back(store.repo->create("bystander", d));
  }
  long long rows = 3;

  // Creates: every payload as title, description and (when short enough) tag.
  std::map<std::string, json> mine;  // id -> task as stored
  for (const std::string& p : payloads()) {
    INFO("payload " << p);
    json body = {{"title", p}, {"description", p}, {"tags", tags_with(p)}};
    const Reply r = c.as(tok, "POST", "/api/tasks", body.dump());
    INFO(r.body);
    REQUIRE(r.status == 201);
    const json t = r.json();
    CHECK(t["title"] == p);
    CHECK(t["description"] == p);
    CHECK(t["tags"] == tags_with(p));
    const Reply again = c.as(tok, "GET", "/api/tasks/" + t["id"].get<std::string>());
    REQUIRE(again.status == 200);
    CHECK(again.json() == t);
    mine[t["id"]] = t;
    ++rows;
  }
  // PUT and PATCH store them verbatim too (on copies, so the creates above stay).
  for (const std::string& p : payloads()) {
    INFO("payload " << p);
    const Reply created = c.as(tok, "POST", "/api/tasks", json{{"title", "to change"}}.dump());
    REQUIRE(created.status == 201);
    ++rows;
    const std::string path = "/api/tasks/" + created.json()["id"].get<std::string>();
    const Reply put =
        c.as(tok, "PUT", path, json{{"title", p + " put"}, {"tags", tags_with(p)}}.dump());
    REQUIRE(put.status == 200);
    CHECK(put.json()["title"] == p + " put");
    CHECK(put.json()["tags"] == tags_with(p));
    const Reply patched =
        c.as(tok, "PATCH", path, json{{"description", p}, {"title", p + " patched"}}.dump());
    REQUIRE(patched.status == 200);
    CHECK(patched.json()["description"] == p);
    CHECK(c.as(tok, "GET", path).json() == patched.json());
    mine[patched.json()["id"]] = patched.json();
  }
  // A tag longer than 50 characters is refused, not truncated into SQL.
  REQUIRE(c.as(tok, "POST", "/api/tasks",
               json{{"title", "t"}, {"tags", {std::string(41, '\'') + " OR 1=1 --"}}}.dump())
              .status == 422);

  // Listing filters: q and tag match literally (no LIKE or GLOB wildcards),
  // and every other parameter refuses what it does not know.
  for (const std::string& p : payloads()) {
    INFO("payload " << p);
    const std::string e = encode_segment(p);
    std::set<std::string> expect_q, expect_tag;
    for (const auto& [id, t] : mine) {
      if (contains_folded(t["title"], p) || contains_folded(t["description"], p))
        expect_q.insert(id);
      if (std::find(t["tags"].begin(), t["tags"].end(), json(p)) != t["tags"].end())
        expect_tag.insert(id);
    }
    REQUIRE_FALSE(expect_q.empty());
    const auto q_ids = list_ids(c, tok, mallory, "q=" + e);
    CHECK(std::set<std::string>(q_ids.begin(), q_ids.end()) == expect_q);
    if (p.size() <= libtodo::max_tag_chars) {
      const auto tag_ids = list_ids(c, tok, mallory, "tag=" + e + "&tag=plain");
      CHECK(std::set<std::string>(tag_ids.begin(), tag_ids.end()) == expect_tag);
    } else {
      test::require_error_shape(c.as(tok, "GET", "/api/tasks?tag=" + e), 422, "validation_error");
    }
    for (const char* name :
         {"sort", "cursor", "status", "priority", "limit", "due_before", "due_after"}) {
      const Reply r = c.as(tok, "GET", "/api/tasks?" + std::string(name) + "=" + e);
      INFO(name << " -> " << r.body);
      test::require_error_shape(r, 422, "validation_error");
      CHECK(r.json()["error"]["details"][0]["field"] == name);
    }
    // A well-formed title cursor whose value is the payload: a bound value
    // that pages after it in code point order, as any title would.
    libtodo::PageCursor cursor;
    cursor.sort = libtodo::SortKey::title;
    cursor.descending = false;
    cursor.title = p;
    cursor.id = "00000000-0000-7000-8000-000000000000";
    const auto page = list_ids(c, tok, mallory, "sort=title&limit=1000&cursor=" + cursor.encode());
    std::vector<std::string> expect_page;
    std::vector<std::pair<std::string, std::string>> by_title;
    for (const auto& [id, t] : mine) by_title.emplace_back(t["title"], id);
    std::sort(by_title.begin(), by_title.end());
    for (const auto& [title, id] : by_title)
      if (title > p || (title == p && id > cursor.id)) expect_page.push_back(id);
    // The "to change" tasks were all renamed; the listing has only the ones in `mine`.
    CHECK(page == expect_page);
  }

  // Values that a statement could not take as they are: a NUL (libpq passes
  // parameters as C strings and would cut it off), and cursors whose sort
  // value is no instant or priority a task can have (PostgreSQL fails to
  // compute them as bounds). Refused, naming the parameter; never a 500.
  const std::string id0 = libtodo::new_uuid_v7();
  for (const auto& [query, field] : std::vector<std::pair<std::string, std::string>>{
           {"q=%00", "q"},
           {"q=a%00zzz", "q"},
           {"q=%01", "q"},
           {"tag=x%00", "tag"},
           {"sort=-created&cursor=created.d.9223372036854775807." + id0, "cursor"},
           {"sort=-created&cursor=created.d.-9223372036854775808." + id0, "cursor"},
           {"sort=-due_date&cursor=due_date.d.9223372036854775807." + id0, "cursor"},
           {"sort=-priority&cursor=priority.d.99999." + id0, "cursor"},
           {"sort=-priority&cursor=priority.d.3." + id0, "cursor"},
           {"sort=title&cursor=title.a.t00." + id0, "cursor"}}) {
    const Reply r = c.as(tok, "GET", "/api/tasks?" + query);
    INFO(query << " -> " << r.body);
    test::require_error_shape(r, 422, "validation_error");
    CHECK(r.json()["error"]["details"][0]["field"] == field);
  }

  // Ids in paths and in bulk lists: never a task, never a statement.
  for (const std::string& p : payloads()) {
    INFO("payload " << p);
    const std::string id = encode_segment(p);
    for (const auto& [method, suffix] :
         {std::pair{"GET", ""}, std::pair{"PUT", ""}, std::pair{"PATCH", ""},
          std::pair{"DELETE", ""}, std::pair{"PATCH", "/complete"}}) {
      const Reply r = c.as(tok, method, "/api/tasks/" + id + suffix, R"({"title":"x"})");
      test::require_error_shape(r, 404, "not_found");
    }
    // The path's user id is compared with the token's sub, never looked up.
    const int other_user = status_for_segment(p, 403);
    const char* code = other_user == 403 ? "forbidden" : "not_found";
    test::require_error_shape(c.as(tok, "GET", "/api/" + id + "/tasks"), other_user, code);
    test::require_error_shape(c.as(tok, "POST", "/api/" + id + "/tasks", R"({"title":"x"})"),
                              other_user, code);
    for (const char* op : {"complete", "delete"}) {
      const Reply r = c.as(tok, "POST", std::string("/api/tasks/bulk/") + op,
                           json{{"ids", {p, mine.begin()->first}}}.dump());
      test::require_error_shape(r, 404, "not_found");
    }
  }

  // A user whose id is the payload (a token's sub is any text): stored and scoped verbatim.
  for (const std::string& p : payloads()) {
    INFO("payload " << p);
    const std::string their = test::token_for(p);
    const Reply r = c.as(their, "POST", "/api/tasks", R"({"title":"mine"})");
    REQUIRE(r.status == 201);
    CHECK(r.json()["user_id"] == p);
    ++rows;
    const auto ids = list_ids(c, their, p, "");
    CHECK(ids == std::vector<std::string>{r.json()["id"]});
    CHECK(c.as(their, "GET", "/api/" + encode_segment(p) + "/tasks").status ==
          status_for_segment(p, 200));
  }

  // Nothing ran that the calls above do not explain.
  CHECK(store.scalar("SELECT count(*) FROM tasks") == rows);
  CHECK(store.scalar("SELECT count(*) FROM schema_migrations") == libtodo::latest_schema_version);
  CHECK(store.scalar("SELECT count(*) FROM tasks WHERE user_id = 'bystander'") == 3);
  CHECK(store.repo->list("bystander", {}).tasks.size() == 3);
  for (const libtodo::Task& t : bystander) CHECK(store.repo->find("bystander", t.id) == t);
  CHECK(store.repo->list(mallory, {}).tasks.size() == mine.size());
}
