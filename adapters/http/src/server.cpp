#include "server.hpp"

#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <libtodo/errors.hpp>
#include <libtodo/uuid.hpp>

#include "task_json.hpp"

namespace todo_server {
namespace {

using httplib::Request;
using httplib::Response;
using libtodo::FieldError;

// cpp-httplib compiles a listen backlog of 5 into its .so; a burst of
// connections overflows that queue. Linux lets a second listen() raise it.
class Listener : public httplib::Server {
 public:
  bool raise_backlog(int backlog) { return ::listen(svr_sock_, backlog) == 0; }
};

// Per-request facts the access log needs. cpp-httplib runs a request's
// pre-routing handler, route handler and logger on one thread.
struct RequestState {
  std::chrono::steady_clock::time_point start;
  const char* route = nullptr;
  std::string user_id;
};
thread_local RequestState request_state;

// The routes, in matching priority: `/api/tasks...` always means the token
// shape. Used to tell 405 (known path) from 404 and to fill `Allow`.
struct Route {
  std::string_view name;  // segments; `{...}` matches any one non-empty segment
  const char* allow;
};

constexpr std::array<Route, 5> routes{{
    {"/health", "GET, HEAD"},
    {"/api/tasks", "GET, HEAD, POST"},
    {"/api/tasks/{id}", "GET, HEAD, PUT, PATCH, DELETE"},
    {"/api/{user_id}/tasks", "GET, HEAD, POST"},
    {"/api/{user_id}/tasks/{id}", "GET, HEAD, PUT, PATCH, DELETE"},
}};

bool route_matches(std::string_view pattern, std::string_view path) {
  while (!pattern.empty() && !path.empty()) {
    if (pattern[0] != '/' || path[0] != '/') return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    const std::string_view p = pattern.substr(0, pattern.find('/'));
    const std::string_view s = path.substr(0, path.find('/'));
    if (p.front() == '{' ? s.empty() : p != s) return false;
    pattern.remove_prefix(p.size());
    path.remove_prefix(s.size());
  }
  return pattern.empty() && path.empty();
}

const Route* match_route(std::string_view path) {
  for (const Route& r : routes)
    if (route_matches(r.name, path)) return &r;
  return nullptr;
}

bool valid_request_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

void set_json(Response& res, int status, std::string body) {
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", "application/json");
}

// The one error shape of SPEC §3, plus FastAPI's `detail`.
void send_error(Response& res, int status, std::string_view code, std::string_view message,
                const std::vector<FieldError>& details = {}) {
  std::string b;
  b.reserve(160 + details.size() * 64);
  b += "{\"error\":{\"code\":";
  append_json_string(b, code);
  b += ",\"message\":";
  append_json_string(b, message);
  b += ",\"details\":[";
  for (std::size_t i = 0; i < details.size(); ++i) {
    if (i) b += ',';
    b += "{\"field\":";
    append_json_string(b, details[i].field);
    b += ",\"message\":";
    append_json_string(b, details[i].message);
    b += '}';
  }
  b += "]},\"detail\":";
  append_json_string(b, message);
  b += '}';
  set_json(res, status, std::move(b));
}

void send_validation(Response& res, const std::vector<FieldError>& errors) {
  const std::string message =
      errors.empty() ? "invalid request" : errors.front().field + " " + errors.front().message;
  send_error(res, 422, "validation_error", message, errors);
}

void send_unavailable(Response& res) {
  res.set_header("Retry-After", "1");
  send_error(res, 503, "service_unavailable", "the database is unavailable, retry shortly");
}

// A path segment with everything but RFC 3986 unreserved characters escaped.
std::string encode_segment(std::string_view s) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xF];
    }
  }
  return out;
}

bool is_json_media_type(std::string type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (type == "application/json") return true;
  return type.rfind("application/", 0) == 0 && type.size() > 17 &&
         type.compare(type.size() - 5, 5, "+json") == 0;
}

// Why a body cannot be used, as the status and error it answers with.
struct BodyProblem {
  int status = 0;
  const char* code = "";
  std::string message;
  std::vector<FieldError> details;
};

// Parses a request body that must be a JSON object; on failure fills `problem`.
std::optional<nlohmann::json> read_object(const Request& req, BodyProblem& problem) {
  if (req.has_header("Content-Type") && !is_json_media_type(req.get_header_value("Content-Type"))) {
    problem = {415, "unsupported_media_type", "request body must be application/json", {}};
    return std::nullopt;
  }
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    problem = {400, "invalid_json", "request body is not valid JSON", {}};
    return std::nullopt;
  }
  if (!body.is_object()) {
    problem = {400, "invalid_json", "request body must be a JSON object", {}};
    return std::nullopt;
  }
  return body;
}

enum class Shape { token, user };

}  // namespace

struct Server::Impl {
  libtodo::TaskRepository& repo;
  const libtodo::TokenVerifier& verifier;
  const Logger& log;
  HttpOptions options;
  Listener http;

  Impl(libtodo::TaskRepository& r, const libtodo::TokenVerifier& v, const Logger& l, HttpOptions o)
      : repo(r), verifier(v), log(l), options(std::move(o)) {
    configure();
    install_routes();
  }

  void configure() {
    http.set_tcp_nodelay(true);
    http.set_payload_max_length(options.max_body_bytes);
    http.set_keep_alive_max_count(options.keep_alive_max_requests);
    http.set_keep_alive_timeout(options.keep_alive_timeout.count());
    http.set_read_timeout(options.read_timeout.count(), 0);
    http.set_write_timeout(options.write_timeout.count(), 0);
    const std::size_t threads = options.threads;
    http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
    http.set_default_headers({{"Cache-Control", "no-store"}});

    http.set_pre_routing_handler([](const Request& req, Response& res) {
      request_state.start = std::chrono::steady_clock::now();
      request_state.route = nullptr;
      request_state.user_id.clear();
      const std::string given = req.get_header_value("X-Request-Id");
      res.set_header("X-Request-Id", valid_request_id(given) ? given : libtodo::new_uuid_v7());
      return httplib::Server::HandlerResponse::Unhandled;
    });

    // Called for every response with status >= 400. Our handlers always
    // write a body; an empty one means cpp-httplib itself answered (no route,
    // body too large, unparsable request), and gets the error shape here.
    http.set_error_handler(httplib::Server::HandlerWithResponse([this](const Request& req,
                                                                       Response& res) {
      if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
      if (!res.has_header("X-Request-Id")) res.set_header("X-Request-Id", libtodo::new_uuid_v7());
      switch (res.status) {
        case 404:
          if (const Route* r = match_route(req.path)) {
            res.set_header("Allow", r->allow);
            send_error(res, 405, "method_not_allowed", "method not allowed on this route");
          } else {
            send_error(res, 404, "not_found", "no such route");
          }
          break;
        case 413:
          send_error(res, 413, "payload_too_large",
                     "request body exceeds " + std::to_string(options.max_body_bytes) + " bytes");
          break;
        case 414: send_error(res, 414, "uri_too_long", "request URI too long"); break;
        case 431: send_error(res, 431, "headers_too_large", "request headers too large"); break;
        case 400: send_error(res, 400, "bad_request", "malformed HTTP request"); break;
        default: send_error(res, res.status, "error", "request failed"); break;
      }
      return httplib::Server::HandlerResponse::Handled;
    }));

    http.set_exception_handler([this](const Request& req, Response& res, std::exception_ptr) {
      log.log(LogLevel::error, "unhandled exception", {{"path", req.path}});
      send_error(res, 500, "internal_error", "internal server error");
    });

    http.set_logger([this](const Request& req, const Response& res) {
      if (!log.enabled(LogLevel::info)) return;
      const auto elapsed = std::chrono::steady_clock::now() - request_state.start;
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count();
      log.log(LogLevel::info, "request",
              {{"request_id", res.get_header_value("X-Request-Id")},
               {"method", req.method},
               {"route", request_state.route ? LogValue(request_state.route) : LogValue(nullptr)},
               {"path", req.path},
               {"status", res.status},
               {"duration_us", static_cast<long long>(micros)},
               {"user_id", request_state.user_id.empty() ? LogValue(nullptr)
                                                         : LogValue(request_state.user_id)}});
    });
  }

  // Runs a route handler with the error mapping every route shares.
  template <class F>
  void guarded(const Request& req, Response& res, const char* route, F&& handler) {
    request_state.route = route;
    try {
      handler();
    } catch (const libtodo::ValidationError& e) {
      send_validation(res, e.errors());
    } catch (const libtodo::StorageUnavailable& e) {
      log.log(LogLevel::warn, "database unavailable",
              {{"request_id", res.get_header_value("X-Request-Id")}, {"error", e.what()}});
      send_unavailable(res);
    } catch (const std::exception& e) {
      log.log(LogLevel::error, "internal error",
              {{"request_id", res.get_header_value("X-Request-Id")},
               {"route", route},
               {"method", req.method},
               {"error", e.what()}});
      send_error(res, 500, "internal_error", "internal server error");
    }
  }

  // The caller's user id from the bearer token, or nullopt after a 401.
  std::optional<std::string> authenticate(const Request& req, Response& res) {
    const std::string header = req.get_header_value("Authorization");
    if (header.empty()) {
      res.set_header("WWW-Authenticate", "Bearer");
      send_error(res, 401, "unauthorized", "missing bearer token");
      return std::nullopt;
    }
    std::string_view token;
    if (header.size() > 7 && strncasecmp(header.c_str(), "Bearer ", 7) == 0) {
      token = std::string_view(header).substr(7);
      while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
      while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    }
    libtodo::Verification v = token.empty() ? libtodo::Verification(libtodo::AuthFailure::malformed)
                                             : verifier.verify(token);
    if (!v) {
      log.log(LogLevel::debug, "token rejected",
              {{"request_id", res.get_header_value("X-Request-Id")},
               {"reason", libtodo::to_string(v.failure())}});
      res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      send_error(res, 401, "unauthorized", "invalid or expired token");
      return std::nullopt;
    }
    request_state.user_id = v.principal().user_id;
    return std::move(v).principal().user_id;
  }

  // Token, then the path's {user_id} (403). Returns the acting user.
  std::optional<std::string> identify(const Request& req, Response& res, Shape shape) {
    auto user = authenticate(req, res);
    if (!user) return std::nullopt;
    if (shape == Shape::user && req.matches[1].str() != *user) {
      send_error(res, 403, "forbidden", "the path's user id is not the token's subject");
      return std::nullopt;
    }
    return user;
  }

  std::string task_location(const Request& req, Shape shape, const std::string& id) const {
    if (shape == Shape::token) return "/api/tasks/" + id;
    return "/api/" + encode_segment(req.matches[1].str()) + "/tasks/" + id;
  }

  // The answer for a task id the caller cannot use: 404, or 403 when the id
  // is another user's and the server is set to say so.
  void send_missing(Response& res, const std::string& user, const std::string& id) {
    if (!options.foreign_task_not_found &&
        repo.ownership(user, id) == libtodo::Ownership::other_user) {
      send_error(res, 403, "forbidden", "the task belongs to another user");
      return;
    }
    send_error(res, 404, "not_found", "task not found");
  }

  void send_task(Response& res, int status, const libtodo::Task& t) {
    std::string body;
    body.reserve(512);
    append_task_json(body, t);
    set_json(res, status, std::move(body));
  }

  void list(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const libtodo::TaskPage page = repo.list(*user, libtodo::TaskQuery{});
    std::string body;
    body.reserve(64 + page.tasks.size() * 400);
    body += "{\"tasks\":[";
    for (std::size_t i = 0; i < page.tasks.size(); ++i) {
      if (i) body += ',';
      append_task_json(body, page.tasks[i]);
    }
    body += "],\"next_cursor\":";
    if (page.next_cursor)
      append_json_string(body, *page.next_cursor);
    else
      body += "null";
    body += '}';
    set_json(res, 200, std::move(body));
  }

  void create(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    BodyProblem problem;
    const auto body = read_object(req, problem);
    if (!body) return send_error(res, problem.status, problem.code, problem.message);
    std::vector<FieldError> errors;
    libtodo::TaskDraft draft = draft_from_json(*body, errors);
    if (!errors.empty()) return send_validation(res, errors);
    const libtodo::Task task = repo.create(*user, std::move(draft));
    res.set_header("Location", task_location(req, shape, task.id));
    send_task(res, 201, task);
  }

  void get(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const std::string id = req.matches[shape == Shape::token ? 1 : 2].str();
    if (const auto task = repo.find(*user, id)) return send_task(res, 200, *task);
    send_missing(res, *user, id);
  }

  // PUT (replace) and PATCH (merge patch). The task's existence is checked
  // before the body's validity (SPEC §3 order), at no cost when both are fine.
  void modify(const Request& req, Response& res, Shape shape, bool replace) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const std::string id = req.matches[shape == Shape::token ? 1 : 2].str();
    BodyProblem problem;
    std::optional<libtodo::TaskPatch> patch;
    if (const auto body = read_object(req, problem)) {
      std::vector<FieldError> errors;
      patch = replace ? libtodo::TaskPatch::replacing(draft_from_json(*body, errors))
                      : patch_from_json(*body, errors);
      if (!errors.empty()) problem = {422, "validation_error", "", std::move(errors)};
    }
    if (problem.status != 0) {
      if (repo.ownership(*user, id) != libtodo::Ownership::caller) return send_missing(res, *user, id);
      if (problem.status == 422) return send_validation(res, problem.details);
      return send_error(res, problem.status, problem.code, problem.message);
    }
    if (const auto task = repo.update(*user, id, std::move(*patch))) return send_task(res, 200, *task);
    send_missing(res, *user, id);
  }

  void remove(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const std::string id = req.matches[shape == Shape::token ? 1 : 2].str();
    if (!repo.remove(*user, id)) return send_missing(res, *user, id);
    std::string body = "{\"message\":\"Task deleted\",\"id\":";
    append_json_string(body, id);
    body += '}';
    set_json(res, 200, std::move(body));
  }

  void health(Response& res) {
    try {
      repo.ping();
      set_json(res, 200, R"({"status":"ok","database":"ok"})");
    } catch (const libtodo::Error& e) {
      log.log(LogLevel::warn, "health check failed", {{"error", e.what()}});
      res.set_header("Retry-After", "1");
      set_json(res, 503,
               R"({"status":"unavailable","database":"unreachable","error":{"code":"service_unavailable",)"
               R"("message":"the database is unavailable","details":[]},"detail":"the database is unavailable"})");
    }
  }

  void install_routes() {
    using Handler = void (Impl::*)(const Request&, Response&, Shape);
    const auto bind = [this](const char* route, Shape shape, Handler h) {
      return [this, route, shape, h](const Request& req, Response& res) {
        guarded(req, res, route, [&] {
          // `/api/tasks...` is always the token shape: a user id of "tasks" is no user route.
          if (shape == Shape::user && req.matches[1].str() == "tasks") {
            res.status = 404;
            return;
          }
          (this->*h)(req, res, shape);
        });
      };
    };
    http.Get("/health", [this](const Request& req, Response& res) {
      guarded(req, res, "/health", [&] { health(res); });
    });
    for (const Shape shape : {Shape::token, Shape::user}) {
      const bool t = shape == Shape::token;
      const char* collection = t ? "/api/tasks" : "/api/{user_id}/tasks";
      const char* item = t ? "/api/tasks/{id}" : "/api/{user_id}/tasks/{id}";
      const std::string collection_re = t ? "/api/tasks" : "/api/([^/]+)/tasks";
      const std::string item_re = t ? "/api/tasks/([^/]+)" : "/api/([^/]+)/tasks/([^/]+)";
      http.Get(collection_re, bind(collection, shape, &Impl::list));
      http.Post(collection_re, bind(collection, shape, &Impl::create));
      http.Get(item_re, bind(item, shape, &Impl::get));
      http.Put(item_re, bind(item, shape, &Impl::put));
      http.Patch(item_re, bind(item, shape, &Impl::patch));
      http.Delete(item_re, bind(item, shape, &Impl::remove));
    }
  }

  void put(const Request& req, Response& res, Shape shape) { modify(req, res, shape, true); }
  void patch(const Request& req, Response& res, Shape shape) { modify(req, res, shape, false); }
};

Server::Server(libtodo::TaskRepository& repository, const libtodo::TokenVerifier& verifier,
               const Logger& logger, HttpOptions options)
    : impl_(std::make_unique<Impl>(repository, verifier, logger, std::move(options))) {}

Server::~Server() = default;

int Server::bind() {
  auto& o = impl_->options;
  int port = o.port;
  if (port == 0) {
    port = impl_->http.bind_to_any_port(o.host);
    if (port < 0) throw libtodo::ConfigError("cannot listen on " + o.host + ": no free port");
  } else if (!impl_->http.bind_to_port(o.host, port)) {
    throw libtodo::ConfigError("cannot listen on " + o.host + ":" + std::to_string(port) +
                               " (address in use or not available)");
  }
  if (!impl_->http.raise_backlog(o.listen_backlog))
    impl_->log.log(LogLevel::warn, "could not raise the listen backlog");
  o.port = port;
  return port;
}

void Server::run() { impl_->http.listen_after_bind(); }

void Server::stop() { impl_->http.stop(); }

bool Server::is_running() const { return impl_->http.is_running(); }

}  // namespace todo_server
