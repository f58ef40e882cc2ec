// The OpenAPI document (adapters/http/openapi.json) against the server:
// every route and method of route_table() is documented and nothing else is,
// the document is served at /openapi.json with or without the accounts'
// routes, the operations list the errors they can answer, the values the
// document allows are the ones the server accepts, and /docs serves the
// Swagger UI page and its assets from the installed npm package.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "openapi.hpp"
#include "test_server.hpp"

using nlohmann::json;
using test::Client;
using test::Reply;
using test::TestServer;
using test::token_for;

namespace {

const std::set<std::string> http_methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

json document(bool with_accounts) { return json::parse(todo_server::openapi_json(with_accounts)); }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// "{user_id}", "{id}", "{file}" -> "{}", so that only the shape of a template counts.
std::string normalize(const std::string& path) {
  static const std::regex param(R"(\{[^/}]+\})");
  return std::regex_replace(path, param, "{}");
}

using MethodMap = std::map<std::string, std::set<std::string>>;

// The routes as the server routes them: HEAD is implied by GET, as in OpenAPI.
MethodMap server_routes(bool with_accounts) {
  MethodMap out;
  for (const auto& r : todo_server::route_table()) {
    if (r.accounts_only && !with_accounts) continue;
    auto& methods = out[normalize(r.path)];
    std::stringstream allow(r.allow);
    std::string m;
    while (std::getline(allow, m, ',')) {
      m.erase(0, m.find_first_not_of(' '));
      m.erase(m.find_last_not_of(' ') + 1);
      methods.insert(m);
    }
    if (methods.count("GET")) methods.erase("HEAD");
  }
  return out;
}

MethodMap documented_routes(const json& doc) {
  MethodMap out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    auto& methods = out[normalize(path)];
    for (const auto& [key, op] : item.items())
      if (http_methods.count(key)) {
        std::string m = key;
        std::transform(m.begin(), m.end(), m.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        methods.insert(m);
      }
  }
  return out;
}

// Follows a local "$ref" ("#/components/...").
const json& resolve(const json& doc, const json& node) {
  const json* n = &node;
  for (int depth = 0; n->is_object() && n->contains("$ref"); ++depth) {
    REQUIRE(depth < 8);
    const std::string ref = n->at("$ref").get<std::string>();
    REQUIRE(ref.rfind("#/", 0) == 0);
    n = &doc.at(json::json_pointer(ref.substr(1)));
  }
  return *n;
}

struct Operation {
  std::string path, method;
  const json* item;
  const json* op;
};

std::vector<Operation> operations(const json& doc) {
  std::vector<Operation> out;
  for (const auto& [path, item] : doc.at("paths").items())
    for (const auto& [key, op] : item.items())
      if (http_methods.count(key)) out.push_back({path, key, &item, &op});
  return out;
}

// Path-level and operation-level parameters, resolved.
std::vector<json> parameters_of(const json& doc, const Operation& o) {
  std::vector<json> out;
  for (const json* list : {o.item, o.op})
    if (list->contains("parameters"))
      for (const auto& p : list->at("parameters")) out.push_back(resolve(doc, p));
  return out;
}

bool has_header(const json& doc, const json& response, const std::string& name) {
  const json& r = resolve(doc, response);
  return r.contains("headers") && r.at("headers").contains(name);
}

std::set<std::string> property_names(const json& doc, const std::string& schema) {
  std::set<std::string> out;
  for (const auto& [name, _] : doc.at("components").at("schemas").at(schema).at("properties").items()) out.insert(name);
  return out;
}

std::set<std::string> keys_of(const json& object) {
  std::set<std::string> out;
  for (const auto& [k, _] : object.items()) out.insert(k);
  return out;
}

std::string enum_text(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

}  // namespace

TEST_CASE("the OpenAPI document is OpenAPI 3 and describes every route of the server, and only those") {
  const json doc = document(true);
  REQUIRE(doc.at("openapi").get<std::string>().rfind("3.", 0) == 0);
  REQUIRE(doc.at("info").contains("title"));

  const MethodMap server = server_routes(true);
  const MethodMap documented = documented_routes(doc);
  for (const auto& [path, methods] : server) {
    INFO("server route " << path << " (" << enum_text(methods) << ")");
    CHECK(documented.count(path) == 1);
    if (documented.count(path) == 1) CHECK(documented.at(path) == methods);
  }
  for (const auto& [path, methods] : documented) {
    INFO("documented path " << path << " (" << enum_text(methods) << ")");
    CHECK(server.count(path) == 1);
  }

  // The accounts' routes are marked, and only they.
  for (const auto& r : todo_server::route_table()) {
    for (const auto& [path, item] : doc.at("paths").items()) {
      if (normalize(path) != normalize(r.path)) continue;
      INFO(path);
      const bool marked = item.value("x-requires", "") == "AUTH_ACCOUNTS";
      CHECK(marked == r.accounts_only);
    }
  }

  // Without the accounts, the document leaves their routes out, as the server does.
  CHECK(documented_routes(document(false)) == server_routes(false));
}

TEST_CASE("every templated path segment is a declared path parameter") {
  const json doc = document(true);
  static const std::regex param(R"(\{([^/}]+)\})");
  for (const Operation& o : operations(doc)) {
    INFO(o.method << " " << o.path);
    std::set<std::string> in_path, declared;
    for (std::sregex_iterator it(o.path.begin(), o.path.end(), param), end; it != end; ++it) in_path.insert((*it)[1]);
    for (const json& p : parameters_of(doc, o))
      if (p.at("in") == "path") {
        declared.insert(p.at("name").get<std::string>());
        CHECK(p.at("required") == true);
      }
    CHECK(in_path == declared);
  }
}

TEST_CASE("every operation lists the errors it can answer") {
  const json doc = document(true);
  std::set<std::string> ids;
  for (const Operation& o : operations(doc)) {
    INFO(o.method << " " << o.path);
    const json& op = *o.op;
    REQUIRE(op.contains("operationId"));
    CHECK(ids.insert(op.at("operationId").get<std::string>()).second);
    CHECK(!op.value("summary", "").empty());
    const json& responses = op.at("responses");
    const auto has = [&](int status) { return responses.contains(std::to_string(status)); };

    // X-Request-Id on every response; 500 on every operation.
    for (const auto& [status, response] : responses.items()) {
      INFO("status " << status);
      CHECK(has_header(doc, response, "X-Request-Id"));
      const json& r = resolve(doc, response);
      if (status[0] >= '4' && r.contains("content") && o.path != "/health")
        CHECK(r.at("content").at("application/json").at("schema").at("$ref") == "#/components/schemas/Error");
    }
    CHECK(has(500));

    // Bearer-protected operations: 401 with WWW-Authenticate.
    const json& security = op.contains("security") ? op.at("security") : doc.at("security");
    const bool bearer = std::any_of(security.begin(), security.end(),
                                    [](const json& s) { return s.contains("bearerAuth"); });
    CHECK(bearer == (o.path.rfind("/api/", 0) == 0 && o.path != "/api/auth/register" && o.path != "/api/auth/login"));
    if (bearer) {
      REQUIRE(has(401));
      CHECK(has_header(doc, responses.at("401"), "WWW-Authenticate"));
    }
    if (o.path.rfind("/api/", 0) == 0) {
      REQUIRE(has(503));
      CHECK(has_header(doc, responses.at("503"), "Retry-After"));
    }
    if (o.path.find("{user_id}") != std::string::npos) CHECK(has(403));
    if (o.path.find("{id}") != std::string::npos) {
      CHECK(has(403));
      CHECK(has(404));
    }
    if (op.contains("requestBody")) {
      for (int s : {400, 413, 415}) {
        INFO("body error " << s);
        CHECK(has(s));
      }
      // Login answers bad credentials of any shape with 401, never 422.
      CHECK(has(422) == (o.path != "/api/auth/login"));
    }
    // A created task says where it is.
    if (o.method == "post" && (o.path == "/api/tasks" || o.path == "/api/{user_id}/tasks"))
      CHECK(has_header(doc, responses.at("201"), "Location"));
    if (has(429)) CHECK(has_header(doc, responses.at("429"), "Retry-After"));
  }
  CHECK(doc.at("components").at("securitySchemes").at("bearerAuth").at("scheme") == "bearer");
  CHECK(doc.at("components").at("securitySchemes").at("bearerAuth").at("bearerFormat") == "JWT");
  // Login throttles with 429.
  CHECK(doc.at("paths").at("/api/auth/login").at("post").at("responses").contains("429"));
}

TEST_CASE("the list operations document exactly the query parameters the server reads") {
  const json doc = document(false);
  for (const std::string& path : {std::string("/api/tasks"), std::string("/api/{user_id}/tasks")}) {
    INFO(path);
    std::set<std::string> query;
    for (const json& p : parameters_of(doc, Operation{path, "get", &doc.at("paths").at(path),
                                                       &doc.at("paths").at(path).at("get")}))
      if (p.at("in") == "query") query.insert(p.at("name").get<std::string>());
    CHECK(query == std::set<std::string>{"status", "priority", "tag", "q", "due_before", "due_after", "sort",
                                         "limit", "cursor"});
  }
  const json& tag = doc.at("components").at("parameters").at("tag");
  CHECK(tag.at("schema").at("type") == "array");
  CHECK(tag.value("explode", false));
  const json& merge = doc.at("components").at("requestBodies").at("TaskPatch").at("content");
  CHECK(merge.contains("application/json"));
  CHECK(merge.contains("application/merge-patch+json"));
}

TEST_CASE("the values the document allows are the ones the server accepts, and the bodies have its fields") {
  const json doc = document(false);
  TestServer server;
  Client c = server.client();
  const std::string alice = token_for("alice");
  const auto list = [&](const std::string& query) { return c.as(alice, "GET", "/api/tasks?" + query).status; };
  const json& params = doc.at("components").at("parameters");
  for (const char* name : {"status", "priority", "sort"}) {
    for (const auto& v : params.at(name).at("schema").at("enum")) {
      INFO(name << "=" << v);
      CHECK(list(std::string(name) + "=" + v.get<std::string>()) == 200);
    }
    INFO(name << "=bogus");
    CHECK(list(std::string(name) + "=bogus") == 422);
  }
  const json& limit = params.at("limit").at("schema");
  CHECK(list("limit=" + std::to_string(limit.at("minimum").get<int>())) == 200);
  CHECK(list("limit=" + std::to_string(limit.at("maximum").get<int>())) == 200);
  CHECK(list("limit=" + std::to_string(limit.at("minimum").get<int>() - 1)) == 422);
  CHECK(list("limit=" + std::to_string(limit.at("maximum").get<int>() + 1)) == 422);
  CHECK(list("tag=a&tag=b&q=x&due_before=2030-01-01T00:00:00Z&due_after=2020-01-01T00:00:00Z") == 200);

  // A created task has exactly the fields of Task; the documented defaults hold.
  const Reply created = c.as(alice, "POST", "/api/tasks", R"({"title":"x"})");
  REQUIRE(created.status == 201);
  CHECK(keys_of(created.json()) == property_names(doc, "Task"));
  const json& create = doc.at("components").at("schemas").at("TaskCreate").at("properties");
  for (const char* field : {"completed", "priority", "tags"}) {
    INFO(field);
    CHECK(created.json().at(field) == create.at(field).at("default"));
  }
  const std::string id = created.json().at("id").get<std::string>();

  const Reply page = c.as(alice, "GET", "/api/tasks?limit=1");
  CHECK(keys_of(page.json()) == property_names(doc, "TaskList"));
  const Reply stats = c.as(alice, "GET", "/api/tasks/stats");
  CHECK(keys_of(stats.json()) == property_names(doc, "TaskStats"));
  CHECK(keys_of(stats.json().at("by_priority")) ==
        keys_of(doc.at("components").at("schemas").at("TaskStats").at("properties").at("by_priority").at("properties")));
  const Reply bulk = c.as(alice, "POST", "/api/tasks/bulk/complete", json{{"ids", json::array({id})}}.dump());
  CHECK(keys_of(bulk.json()) == property_names(doc, "BulkUpdated"));
  const Reply missing = c.as(alice, "GET", "/api/tasks/nope");
  CHECK(keys_of(missing.json()) == property_names(doc, "Error"));
  CHECK(keys_of(missing.json().at("error")) == property_names(doc, "ErrorInfo"));
  const Reply removed = c.as(alice, "DELETE", "/api/tasks/" + id);
  CHECK(keys_of(removed.json()) == property_names(doc, "TaskDeleted"));
  const Reply health = c.send("GET", "/health");
  CHECK(keys_of(health.json()) == property_names(doc, "Health"));
}

TEST_CASE("GET /openapi.json serves the document, with the accounts' routes only when they are on") {
  SECTION("accounts off") {
    TestServer server;
    const Reply r = server.client().send("GET", "/openapi.json");
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type") == "application/json");
    CHECK(!r.header("X-Request-Id").empty());
    const json served = r.json();
    CHECK(served == document(false));
    CHECK(served.at("openapi").get<std::string>().rfind("3.", 0) == 0);
    for (const auto& [path, _] : served.at("paths").items()) CHECK(path.rfind("/api/auth", 0) != 0);
    CHECK(served.at("paths").contains("/api/tasks/{id}"));
    // Nothing that only the accounts use is left over.
    const std::string text = served.dump();
    CHECK(text.find("AUTH_ACCOUNTS\"") == std::string::npos);
    CHECK(!served.at("components").at("schemas").contains("LoginRequest"));
    CHECK(std::none_of(served.at("tags").begin(), served.at("tags").end(),
                       [](const json& t) { return t.at("name") == "Accounts"; }));
    // Every $ref still resolves.
    std::function<void(const json&)> walk = [&](const json& n) {
      if (n.is_object()) {
        if (n.contains("$ref")) {
          INFO(n.at("$ref"));
          CHECK(served.contains(json::json_pointer(n.at("$ref").get<std::string>().substr(1))));
        }
        for (const auto& [k, v] : n.items()) walk(v);
      } else if (n.is_array()) {
        for (const auto& v : n) walk(v);
      }
    };
    walk(served);
    CHECK(server.client().send("HEAD", "/openapi.json").status == 200);
  }
  SECTION("accounts on") {
    TestServer server({}, nullptr, todo_server::AccountsOptions{});
    const Reply r = server.client().send("GET", "/openapi.json");
    REQUIRE(r.status == 200);
    const json served = r.json();
    CHECK(served == document(true));
    for (const char* path : {"/api/auth/register", "/api/auth/login", "/api/auth/logout", "/api/auth/me"})
      CHECK(served.at("paths").contains(path));
  }
  // The embedded document is the one in the source tree.
  CHECK(document(true) == json::parse(read_text(TODO_OPENAPI_JSON)));
}

TEST_CASE("docs/http-api.md names every documented path") {
  const std::string md = read_text(TODO_HTTP_API_MD);
  const json doc = document(true);
  REQUIRE(doc.at("paths").size() >= 20);
  for (const auto& [path, _] : doc.at("paths").items()) {
    INFO(path);
    CHECK(md.find("`" + path + "`") != std::string::npos);
  }
}

TEST_CASE("docs_asset serves the page and the allow-listed files of the package only") {
  const std::string dir = TODO_TEST_DOCS_DIR;
  INFO("swagger-ui-dist in " << dir << " (npm ci --prefix adapters/http/docs-ui)");
  REQUIRE(todo_server::docs_asset("", dir).has_value());
  for (const char* bad : {"../package.json", "..", ".", "/etc/passwd", "package.json", "index.js",
                          "swagger-ui.js", "oauth2-redirect.html", "swagger-ui.css/", "./swagger-ui.css",
                          "SWAGGER-UI.CSS", "absolute-path.js", "swagger-initializer.js/"}) {
    INFO(bad);
    CHECK_FALSE(todo_server::docs_asset(bad, dir).has_value());
  }
  CHECK_FALSE(todo_server::docs_asset("", "").has_value());
  CHECK_FALSE(todo_server::docs_asset("swagger-ui.css", "").has_value());
  CHECK_FALSE(todo_server::docs_asset("", dir + "/no-such-dir").has_value());
  CHECK_FALSE(todo_server::docs_asset("swagger-ui.css", dir + "/no-such-dir").has_value());
  CHECK_FALSE(todo_server::docs_asset("swagger-ui.css", dir + "/..").has_value());
}

TEST_CASE("/docs serves Swagger UI from the installed package") {
  todo_server::HttpOptions options;
  options.docs_dir = TODO_TEST_DOCS_DIR;
  TestServer server(options);
  Client c = server.client();

  for (const char* page : {"/docs", "/docs/index.html"}) {
    INFO(page);
    const Reply r = c.send("GET", page);
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type").rfind("text/html", 0) == 0);
    CHECK(!r.header("X-Request-Id").empty());
    for (const char* asset : {"/docs/swagger-ui.css", "/docs/swagger-ui-bundle.js",
                              "/docs/swagger-ui-standalone-preset.js", "/docs/swagger-initializer.js"})
      CHECK(r.body.find(std::string("\"") + asset + "\"") != std::string::npos);
    // Nothing from elsewhere.
    CHECK(r.body.find("http://") == std::string::npos);
    CHECK(r.body.find("https://") == std::string::npos);
  }
  CHECK(c.send("HEAD", "/docs").status == 200);

  const Reply init = c.send("GET", "/docs/swagger-initializer.js");
  REQUIRE(init.status == 200);
  CHECK(init.header("Content-Type").rfind("text/javascript", 0) == 0);
  CHECK(init.body.find("\"/openapi.json\"") != std::string::npos);
  CHECK(init.body.find("petstore") == std::string::npos);

  const std::vector<std::pair<std::string, std::string>> assets = {
      {"swagger-ui.css", "text/css"},
      {"swagger-ui-bundle.js", "text/javascript"},
      {"swagger-ui-standalone-preset.js", "text/javascript"},
      {"favicon-32x32.png", "image/png"},
      {"favicon-16x16.png", "image/png"},
      {"swagger-ui.css.map", "application/json"},
  };
  for (const auto& [file, type] : assets) {
    INFO(file);
    const Reply r = c.send("GET", "/docs/" + file);
    REQUIRE(r.status == 200);
    CHECK(r.header("Content-Type").rfind(type, 0) == 0);
    CHECK(r.body == read_text(std::string(TODO_TEST_DOCS_DIR) + "/" + file));
  }

  // Every file the document names is served.
  const json doc = document(false);  // kept alive: the loop walks into it
  for (const auto& file : doc.at("components").at("parameters").at("file").at("schema").at("enum")) {
    INFO(file);
    CHECK(c.send("GET", "/docs/" + file.get<std::string>()).status == 200);
  }

  for (const char* path : {"/docs/package.json", "/docs/index.js", "/docs/..%2Fpackage.json", "/docs/%2e%2e",
                           "/docs/oauth2-redirect.html", "/docs/swagger-ui.js"}) {
    INFO(path);
    const Reply r = c.send("GET", path);
    CHECK(r.status == 404);
    CHECK(r.header("Content-Type") == "application/json");
  }
}

TEST_CASE("/docs is 404 with the error body when the package is not configured or not installed") {
  for (const std::string& dir : {std::string(), std::string(TODO_TEST_DOCS_DIR) + "/no-such-dir"}) {
    INFO("docs_dir=" << dir);
    todo_server::HttpOptions options;
    options.docs_dir = dir;
    TestServer server(options);
    Client c = server.client();
    for (const char* path : {"/docs", "/docs/swagger-ui.css", "/docs/swagger-initializer.js"}) {
      INFO(path);
      const Reply r = c.send("GET", path);
      REQUIRE(r.status == 404);
      CHECK(r.header("Content-Type") == "application/json");
      const json body = r.json();
      CHECK(body.at("error").at("code") == "not_found");
      CHECK(body.at("detail").is_string());
    }
    // The rest of the server works.
    CHECK(c.send("GET", "/openapi.json").status == 200);
    CHECK(c.send("GET", "/health").status == 200);
  }
}

TEST_CASE("the document has the conditional, idempotency and rate-limit parts the server implements") {
  const json doc = document(true);
  const auto names_of = [&](const Operation& o) {
    std::set<std::string> names;
    for (const json& p : parameters_of(doc, o)) names.insert(p.at("name").get<std::string>());
    return names;
  };
  for (const Operation& o : operations(doc)) {
    INFO(o.method << " " << o.path);
    const json& responses = o.op->at("responses");
    const auto has = [&](const char* status) { return responses.contains(status); };
    const bool item = o.path.size() > 5 && (o.path.substr(o.path.size() - 5) == "/{id}" ||
                                            o.path.find("/{id}/complete") != std::string::npos);
    const bool idempotent = o.method == "post" && o.path.rfind("/api/", 0) == 0 &&
                            o.path.find("/tasks") != std::string::npos;
    CHECK(names_of(o).count("If-Match") == (item && o.method != "get"));
    CHECK(names_of(o).count("If-None-Match") == (item && o.method == "get"));
    CHECK(has("412") == (item && o.method != "get"));
    CHECK(has("304") == (item && o.method == "get"));
    CHECK(names_of(o).count("Idempotency-Key") == idempotent);
    CHECK(has("409") == (idempotent || o.path == "/api/auth/register"));
    // Probes and /metrics are never rate-limited; everything else may be.
    const bool probe = o.path == "/health" || o.path == "/livez" || o.path == "/readyz" || o.path == "/metrics";
    CHECK(has("429") == !probe);
    if (item && o.method != "delete") CHECK(has_header(doc, responses.at("200"), "ETag"));
  }
  CHECK(doc.at("paths").at("/metrics").at("get").at("responses").at("200").at("content").contains("text/plain"));
}
