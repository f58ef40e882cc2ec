// A tiny HTTP server of its own on libtodo, without todo-server: cpp-httplib
// serves GET and POST /tasks for one user from an in-memory SQLite
// repository, with nlohmann_json for the bodies. To run with no arguments, it
// listens on a free loopback port, talks to itself, checks the answers and stops.
//
// A real server would take the user from a verified token (see verify_token.cpp
// and todo-server); this one serves a single fixed user.

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <libtodo/errors.hpp>
#include <libtodo/sqlite_repository.hpp>

namespace {

using nlohmann::json;

json to_json(const libtodo::Task& t) {
  return {{"id", t.id},
          {"title", t.title},
          {"status", t.status()},
          {"priority", libtodo::to_string(t.priority)},
          {"tags", t.tags}};
}

void reply(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump(), "application/json");
}

// GET /tasks[?q=text] lists, POST /tasks {"title", "priority"?, "tags"?} creates.
void add_routes(httplib::Server& http, libtodo::TaskRepository& repo, const std::string& user) {
  http.Get("/tasks", [&repo, user](const httplib::Request& req, httplib::Response& res) {
    libtodo::TaskQuery query;
    if (req.has_param("q")) query.text = req.get_param_value("q");
    json tasks = json::array();
    for (const libtodo::Task& t : repo.list(user, query).tasks) tasks.push_back(to_json(t));
    reply(res, 200, {{"tasks", tasks}});
  });
  http.Post("/tasks", [&repo, user](const httplib::Request& req, httplib::Response& res) {
    const json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("title") || !body["title"].is_string())
      return reply(res, 400, {{"error", "expected a JSON object with a string title"}});
    libtodo::TaskDraft draft;
    draft.title = body["title"].get<std::string>();
    if (body.contains("tags")) draft.tags = body["tags"].get<std::vector<std::string>>();
    if (auto p = libtodo::parse_priority(body.value("priority", "medium"))) draft.priority = *p;
    try {
      reply(res, 201, to_json(repo.create(user, std::move(draft))));
    } catch (const libtodo::ValidationError& e) {
      json fields = json::array();
      for (const libtodo::FieldError& f : e.errors())
        fields.push_back({{"field", f.field}, {"message", f.message}});
      reply(res, 422, {{"error", e.what()}, {"fields", fields}});
    }
  });
}

bool check(bool ok, const std::string& what) {
  std::cout << (ok ? "ok: " : "FAILED: ") << what << '\n';
  return ok;
}

}  // namespace

int main() {
  libtodo::SqliteTaskRepository repo(libtodo::SqliteOptions{.path = ":memory:"});
  httplib::Server http;
  http.set_tcp_nodelay(true);  // otherwise every answer waits ~40 ms for Nagle
  add_routes(http, repo, "user-42");
  const int port = http.bind_to_any_port("127.0.0.1");
  if (port < 0) return 1;
  std::thread server([&http] { http.listen_after_bind(); });
  while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  httplib::Client client("127.0.0.1", port);
  const auto created =
      client.Post("/tasks", R"({"title": " Buy milk ", "tags": ["shop"]})", "application/json");
  const auto other = client.Post("/tasks", R"({"title": "Water the plants"})", "application/json");
  const auto invalid = client.Post("/tasks", R"({"title": "   "})", "application/json");
  const auto listed = client.Get("/tasks?q=MILK");

  bool ok =
      check(created && created->status == 201 && json::parse(created->body)["title"] == "Buy milk",
            "POST /tasks creates a task with a trimmed title");
  ok &= check(other && other->status == 201, "POST /tasks creates a second task");
  ok &= check(invalid && invalid->status == 422 &&
                  json::parse(invalid->body)["fields"][0]["field"] == "title",
              "POST /tasks with a blank title is 422 naming the field");
  ok &= check(listed && listed->status == 200 && json::parse(listed->body)["tasks"].size() == 1,
              "GET /tasks?q=MILK finds one task, case-insensitively");
  if (listed) std::cout << listed->body << '\n';

  http.stop();
  server.join();
  return ok ? 0 : 1;
}
