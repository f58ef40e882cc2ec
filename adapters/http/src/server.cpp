#include "server.hpp"

#include <strings.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <deque>
#include <chrono>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <libtodo/errors.hpp>
#include <libtodo/idempotency_store.hpp>
#include <libtodo/jwt_verifier.hpp>
#include <libtodo/uuid.hpp>

#include "conditional.hpp"
#include "http_util.hpp"
#include "front.hpp"
#include "idempotency.hpp"
#include "metrics.hpp"
#include "openapi.hpp"
#include "probes.hpp"
#include "rate_limit.hpp"
#include "task_json.hpp"

namespace todo_server {
namespace {

using httplib::Request;
using httplib::Response;
using libtodo::FieldError;

// cpp-httplib's parser, router and handlers, driven by the Front's event
// loops one complete request at a time (its own sockets and threads unused).
class Engine : public httplib::Server {
 public:
  bool handle(httplib::Stream& stream, bool close, bool& closed) {
    return process_request(stream, close, closed, nullptr);
  }
};

FrontOptions front_options(const HttpOptions& o) {
  FrontOptions f;
  f.host = o.host;
  f.port = o.port;
  f.threads = o.threads;
  f.max_connections = o.max_connections;
  f.listen_backlog = o.listen_backlog;
  f.max_request_line = o.max_request_line;
  f.max_header_bytes = o.max_header_bytes;
  f.max_body_bytes = o.max_body_bytes;
  f.keep_alive_max_requests = o.keep_alive_max_requests;
  f.idle_timeout = o.keep_alive_timeout;
  f.header_timeout = o.header_timeout;
  f.body_timeout = o.body_timeout;
  f.write_timeout = o.write_timeout;
  return f;
}

struct Route;

// Per-request facts the access log and the metrics need. cpp-httplib runs a
// request's pre-routing handler, route handler, post-routing handler and
// logger on one thread.
struct RequestState {
  std::chrono::steady_clock::time_point start;
  const char* route = nullptr;
  std::string user_id;
  const Route* matched = nullptr;  // the route table's answer for the path
  bool started = false;            // pre-routing ran (cpp-httplib skips it for unparsable requests)
};
thread_local RequestState request_state;

// The routes, in matching priority: `/api/tasks...` always means the token
// shape. Used to tell 405 (known path) from 404 and to fill `Allow`.
struct Route {
  std::string_view name;  // segments; `{...}` matches any one non-empty segment
  const char* allow;
  bool accounts_only = false;  // exists only with AUTH_ACCOUNTS=on
};

constexpr std::array<Route, 23> routes{{
    {"/health", "GET, HEAD"},
    {"/livez", "GET, HEAD"},
    {"/readyz", "GET, HEAD"},
    {"/metrics", "GET, HEAD"},
    {"/openapi.json", "GET, HEAD"},
    {"/docs", "GET, HEAD"},
    {"/docs/{file}", "GET, HEAD"},
    {"/api/auth/register", "POST", true},
    {"/api/auth/login", "POST", true},
    {"/api/auth/logout", "POST", true},
    {"/api/auth/me", "GET, HEAD", true},
    {"/api/tasks", "GET, HEAD, POST"},
    {"/api/tasks/stats", "GET, HEAD"},
    {"/api/tasks/bulk/complete", "POST"},
    {"/api/tasks/bulk/delete", "POST"},
    {"/api/tasks/{id}", "GET, HEAD, PUT, PATCH, DELETE"},
    {"/api/tasks/{id}/complete", "PATCH"},
    {"/api/{user_id}/tasks", "GET, HEAD, POST"},
    {"/api/{user_id}/tasks/stats", "GET, HEAD"},
    {"/api/{user_id}/tasks/bulk/complete", "POST"},
    {"/api/{user_id}/tasks/bulk/delete", "POST"},
    {"/api/{user_id}/tasks/{id}", "GET, HEAD, PUT, PATCH, DELETE"},
    {"/api/{user_id}/tasks/{id}/complete", "PATCH"},
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

const Route* match_route(std::string_view path, bool with_accounts) {
  for (const Route& r : routes)
    if ((with_accounts || !r.accounts_only) && route_matches(r.name, path)) return &r;
  return nullptr;
}

// Probes and scrapes are never rate-limited: load balancers and Prometheus
// call them from one address, and must see the truth.
bool is_probe(const Route* r) {
  return r != nullptr && (r->name == "/health" || r->name == "/livez" || r->name == "/readyz" ||
                          r->name == "/metrics");
}

// The labels of todo_auth_failures_total: every libtodo::AuthFailure, in
// enum order, then the two the server adds.
constexpr std::size_t auth_failure_kinds =
    static_cast<std::size_t>(libtodo::AuthFailure::unsupported_critical) + 1;
constexpr std::size_t auth_missing = auth_failure_kinds;
constexpr std::size_t auth_revoked = auth_failure_kinds + 1;

std::vector<std::string> auth_failure_labels() {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < auth_failure_kinds; ++i)
    out.emplace_back(libtodo::to_string(static_cast<libtodo::AuthFailure>(i)));
  out.emplace_back("missing");
  out.emplace_back("revoked");
  return out;
}

std::vector<std::string> route_labels() {
  std::vector<std::string> out;
  for (const Route& r : routes) out.emplace_back(r.name);
  return out;
}

// Appends a member to a structured-field List header (one line, comma-separated).
void append_list_header(Response& res, const char* name, const std::string& item) {
  const std::string current = res.get_header_value(name);
  res.headers.erase(name);
  res.set_header(name, current.empty() ? item : current + ", " + item);
}

bool valid_request_id(const std::string& id) {
  return !id.empty() && id.size() <= 128 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

enum class Shape { token, user };

}  // namespace

std::vector<RouteInfo> route_table() {
  std::vector<RouteInfo> out;
  for (const Route& r : routes) out.push_back({std::string(r.name), r.allow, r.accounts_only});
  return out;
}

struct Server::Impl {
  libtodo::TaskRepository& repo;
  const libtodo::TokenVerifier& verifier;
  const Logger& log;
  HttpOptions options;
  Accounts* accounts;
  std::unique_ptr<Metrics> metrics;            // null with METRICS=off
  std::unique_ptr<RateLimiter> user_limit;     // null when off
  std::unique_ptr<RateLimiter> address_limit;  // null when off
  std::unique_ptr<Idempotency> idempotency;    // null when the repository keeps no keys
  ReadinessProbe readiness;
  Engine http;
  Front front;

  Impl(libtodo::TaskRepository& r, const libtodo::TokenVerifier& v, const Logger& l, HttpOptions o,
       Accounts* a)
      : repo(r),
        verifier(v),
        log(l),
        options(std::move(o)),
        accounts(a),
        readiness([&r] { r.ping(); }),
        front(front_options(options), [this](httplib::Stream& stream, bool close, bool& closed) {
          return http.handle(stream, close, closed);
        }) {
    if (options.metrics)
      metrics = std::make_unique<Metrics>(route_labels(), auth_failure_labels(), LIBTODO_VERSION);
    if (options.user_rate_limit.enabled())
      user_limit = std::make_unique<RateLimiter>(options.user_rate_limit);
    if (options.address_rate_limit.enabled())
      address_limit = std::make_unique<RateLimiter>(options.address_rate_limit);
    if (auto* store = dynamic_cast<libtodo::IdempotencyStore*>(&repo))
      idempotency = std::make_unique<Idempotency>(*store, options.idempotency, log, metrics.get());
    configure();
    install_routes();
  }

  void configure() {
    http.set_payload_max_length(options.max_body_bytes);
    // Only for the Keep-Alive response header: the Front enforces both.
    http.set_keep_alive_max_count(options.keep_alive_max_requests);
    http.set_keep_alive_timeout(std::chrono::duration_cast<std::chrono::seconds>(options.keep_alive_timeout).count());
    http.set_default_headers({{"Cache-Control", "no-store"}});

    http.set_pre_routing_handler([this](const Request& req, Response& res) {
      request_state.start = std::chrono::steady_clock::now();
      request_state.started = true;
      request_state.matched = match_route(req.path, accounts != nullptr);
      request_state.route = nullptr;
      request_state.user_id.clear();
      if (metrics) metrics->started();
      const std::string given = req.get_header_value("X-Request-Id");
      res.set_header("X-Request-Id", valid_request_id(given) ? given : libtodo::new_uuid_v7());
      add_cors_headers(req, res);  // on every answer, errors included
      if (address_limit && !is_probe(request_state.matched) &&
          !within_limit(*address_limit, "address", req.remote_addr, res, false)) {
        request_state.route = request_state.matched ? request_state.matched->name.data() : nullptr;
        return httplib::Server::HandlerResponse::Handled;
      }
      return httplib::Server::HandlerResponse::Unhandled;
    });

    // Called for every response, after the error handler and before the
    // response is written, so a client that has its answer sees it counted.
    http.set_post_routing_handler([this](const Request& req, Response& res) {
      if (!metrics) return;
      const bool started = request_state.started;
      request_state.started = false;
      const std::size_t route =
          started && request_state.matched != nullptr
              ? static_cast<std::size_t>(request_state.matched - routes.data())
              : metrics->unmatched_route();
      const auto elapsed = started ? std::chrono::steady_clock::now() - request_state.start
                                   : std::chrono::steady_clock::duration::zero();
      metrics->finished(route, Metrics::method_of(req.method), res.status,
                        std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed), started);
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
          if (const Route* r = match_route(req.path, accounts != nullptr)) {
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

  // CORS (Fetch standard): an allowed Origin is echoed, with credentials
  // only for listed origins; never `*` with credentials.
  void add_cors_headers(const Request& req, Response& res) const {
    if (options.cors_origins.empty()) return;
    res.set_header("Vary", "Origin");
    const std::string origin = req.get_header_value("Origin");
    if (origin.empty()) return;
    const bool listed =
        std::find(options.cors_origins.begin(), options.cors_origins.end(), origin) != options.cors_origins.end();
    const bool any = std::find(options.cors_origins.begin(), options.cors_origins.end(), "*") != options.cors_origins.end();
    if (!listed && !any) return;
    res.set_header("Access-Control-Allow-Origin", listed ? origin : "*");
    if (listed) res.set_header("Access-Control-Allow-Credentials", "true");
    res.set_header("Access-Control-Expose-Headers",
                   "Location, X-Request-Id, ETag, Retry-After, RateLimit, RateLimit-Policy, "
                   "Idempotent-Replayed");
  }

  // OPTIONS: the route's methods in Allow, and a CORS preflight answer when
  // the origin is allowed (the Allow-Origin header comes from pre-routing).
  void options_request(const Request& req, Response& res) {
    const Route* r = match_route(req.path, accounts != nullptr);
    if (r == nullptr) return send_error(res, 404, "not_found", "no such route");
    const std::string allow = std::string(r->allow) + ", OPTIONS";
    res.set_header("Allow", allow);
    if (res.has_header("Access-Control-Allow-Origin") && req.has_header("Access-Control-Request-Method")) {
      res.set_header("Access-Control-Allow-Methods", allow);
      res.set_header("Access-Control-Allow-Headers",
                     "Authorization, Content-Type, X-Request-Id, If-Match, If-None-Match, Idempotency-Key");
      res.set_header("Access-Control-Max-Age", "600");
    }
    res.status = 204;
  }

  // Runs a route handler with the error mapping every route shares.
  template <class F>
  void guarded(const Request& req, Response& res, const char* route, F&& handler) {
    request_state.route = route;
    try {
      handler();
    } catch (const libtodo::ValidationError& e) {
      send_validation(res, e.errors());
    } catch (const libtodo::PreconditionFailed&) {
      send_error(res, 412, "precondition_failed",
                 "the task has changed since the version given in If-Match");
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

  // The caller from the bearer token, or nullopt after a 401.
  std::optional<libtodo::Principal> authenticate(const Request& req, Response& res) {
    const std::string header = req.get_header_value("Authorization");
    if (header.empty()) {
      if (metrics) metrics->auth_failed(auth_missing);
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
    const bool revoked = v && accounts != nullptr && accounts->is_revoked(v.principal());
    if (!v || revoked) {
      if (metrics)
        metrics->auth_failed(revoked ? auth_revoked : static_cast<std::size_t>(v.failure()));
      log.log(LogLevel::debug, "token rejected",
              {{"request_id", res.get_header_value("X-Request-Id")},
               {"reason", revoked ? "revoked" : libtodo::to_string(v.failure())}});
      res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
      send_error(res, 401, "unauthorized", "invalid or expired token");
      return std::nullopt;
    }
    request_state.user_id = v.principal().user_id;
    if (user_limit && !within_limit(*user_limit, "user", v.principal().user_id, res, true))
      return std::nullopt;
    return std::move(v).principal();
  }

  // Takes a token from `limiter` for `key` and adds the RateLimit-Policy and
  // RateLimit members of this policy; answers 429 when there was none.
  bool within_limit(RateLimiter& limiter, const char* policy, const std::string& key, Response& res,
                    bool per_user) {
    const RateDecision d = limiter.take(key);
    append_list_header(res, "RateLimit-Policy", limiter.policy_item(policy));
    append_list_header(res, "RateLimit", RateLimiter::limit_item(policy, d));
    if (d.allowed) return true;
    if (metrics) metrics->rate_limited(per_user);
    res.set_header("Retry-After", std::to_string(d.retry_after));
    send_error(res, 429, "rate_limited",
               std::string("too many requests (per ") + policy + "); retry after " +
                   std::to_string(d.retry_after) + " s");
    return false;
  }

  // Token, then the path's {user_id} (403). Returns the acting user.
  std::optional<std::string> identify(const Request& req, Response& res, Shape shape) {
    auto principal = authenticate(req, res);
    if (!principal) return std::nullopt;
    if (shape == Shape::user && req.matches[1].str() != principal->user_id) {
      send_error(res, 403, "forbidden", "the path's user id is not the token's subject");
      return std::nullopt;
    }
    return std::move(principal->user_id);
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
    res.set_header("ETag", etag_for(t.version));
    std::string body;
    body.reserve(512);
    append_task_json(body, t);
    set_json(res, status, std::move(body));
  }

  void list(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    std::vector<FieldError> errors;
    const libtodo::TaskQuery query = parse_task_query(req, errors);
    if (!errors.empty()) return send_validation(res, errors);
    const libtodo::TaskPage page = repo.list(*user, query);
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

  // Runs `act` once per Idempotency-Key of the request (see idempotency.hpp).
  // A repository that keeps no keys makes the header a no-op.
  template <class F>
  void once(const Request& req, Response& res, const std::string& user, const nlohmann::json& body,
            F&& act) {
    if (!idempotency) return act();
    idempotency->run(req, res, user, std::string("POST ") + request_state.route, body, act);
  }

  void create(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    BodyProblem problem;
    const auto body = read_object(req, problem);
    if (!body) return send_error(res, problem.status, problem.code, problem.message);
    once(req, res, *user, *body, [&] {
      std::vector<FieldError> errors;
      libtodo::TaskDraft draft = draft_from_json(*body, errors);
      if (!errors.empty()) return send_validation(res, errors);
      const libtodo::Task task = repo.create(*user, std::move(draft));
      res.set_header("Location", task_location(req, shape, task.id));
      send_task(res, 201, task);
    });
  }

  // A conditional header that is neither `*` nor a list of entity tags.
  static void malformed_condition(BodyProblem& problem, const char* header) {
    problem = {400,
               "invalid_header",
               std::string(header) + " must be * or a comma-separated list of entity tags",
               {}};
  }

  // The request's If-Match as a precondition (none without the header);
  // nullopt, with `problem` filled, when it is malformed.
  static std::optional<libtodo::Precondition> if_match(const Request& req, BodyProblem& problem) {
    const auto value = joined_header(req, "If-Match");
    if (!value) return libtodo::Precondition{};
    const auto tags = parse_entity_tags(*value);
    if (!tags) {
      malformed_condition(problem, "If-Match");
      return std::nullopt;
    }
    return if_match_precondition(*tags);
  }

  // A request problem found before acting on a task: the task's absence
  // (404/403) comes first (SPEC §3 order), then the problem.
  void send_problem(Response& res, const std::string& user, const std::string& id,
                    const BodyProblem& problem) {
    if (repo.ownership(user, id) != libtodo::Ownership::caller) return send_missing(res, user, id);
    if (problem.status == 422) return send_validation(res, problem.details);
    send_error(res, problem.status, problem.code, problem.message);
  }

  void get(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const std::string id = req.matches[shape == Shape::token ? 1 : 2].str();
    const auto task = repo.find(*user, id);
    if (!task) return send_missing(res, *user, id);
    if (const auto value = joined_header(req, "If-None-Match")) {
      const auto tags = parse_entity_tags(*value);
      if (!tags) {
        BodyProblem problem;
        malformed_condition(problem, "If-None-Match");
        return send_error(res, problem.status, problem.code, problem.message);
      }
      if (none_match_fails(*tags, task->version)) {  // the client's copy is current
        res.status = 304;
        res.set_header("ETag", etag_for(task->version));
        return;
      }
    }
    send_task(res, 200, *task);
  }

  // PUT (replace) and PATCH (merge patch). The task's existence is checked
  // before the body's validity (SPEC §3 order), at no cost when both are fine.
  void modify(const Request& req, Response& res, Shape shape, bool replace) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const std::string id = req.matches[shape == Shape::token ? 1 : 2].str();
    BodyProblem problem;
    std::optional<libtodo::TaskPatch> patch;
    const auto precondition = if_match(req, problem);
    if (precondition) {
      if (const auto body = read_object(req, problem)) {
        std::vector<FieldError> errors;
        patch = replace ? libtodo::TaskPatch::replacing(draft_from_json(*body, errors))
                        : patch_from_json(*body, errors);
        if (!errors.empty()) problem = {422, "validation_error", "", std::move(errors)};
      }
    }
    if (problem.status != 0) return send_problem(res, *user, id, problem);
    if (const auto task = repo.update(*user, id, std::move(*patch), *precondition))
      return send_task(res, 200, *task);
    send_missing(res, *user, id);
  }

  void remove(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const std::string id = req.matches[shape == Shape::token ? 1 : 2].str();
    BodyProblem problem;
    const auto precondition = if_match(req, problem);
    if (!precondition) return send_problem(res, *user, id, problem);
    if (!repo.remove(*user, id, *precondition)) return send_missing(res, *user, id);
    std::string body = "{\"message\":\"Task deleted\",\"id\":";
    append_json_string(body, id);
    body += '}';
    set_json(res, 200, std::move(body));
  }

  void toggle(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const std::string id = req.matches[shape == Shape::token ? 1 : 2].str();
    BodyProblem problem;
    const auto precondition = if_match(req, problem);
    if (!precondition) return send_problem(res, *user, id, problem);
    if (const auto task = repo.toggle(*user, id, *precondition)) return send_task(res, 200, *task);
    send_missing(res, *user, id);
  }

  void stats(const Request& req, Response& res, Shape shape) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    const libtodo::TaskStats st = repo.stats(*user, libtodo::now_ms());
    const auto n = [](std::size_t v) { return std::to_string(v); };
    set_json(res, 200,
             "{\"total\":" + n(st.total) + ",\"completed\":" + n(st.completed) + ",\"pending\":" + n(st.pending) +
                 ",\"overdue\":" + n(st.overdue) + ",\"by_priority\":{\"low\":" + n(st.low) +
                 ",\"medium\":" + n(st.medium) + ",\"high\":" + n(st.high) + "}}");
  }

  // POST .../bulk/complete and .../bulk/delete: all or nothing.
  void bulk(const Request& req, Response& res, Shape shape, bool remove_them) {
    const auto user = identify(req, res, shape);
    if (!user) return;
    BodyProblem problem;
    const auto body = read_object(req, problem);
    if (!body) return send_error(res, problem.status, problem.code, problem.message);
    once(req, res, *user, *body, [&] { bulk_act(res, *user, *body, remove_them); });
  }

  void bulk_act(Response& res, const std::string& user, const nlohmann::json& body,
                bool remove_them) {
    std::vector<FieldError> errors;
    std::vector<std::string> ids;
    const auto it = body.find("ids");
    if (it == body.end() || !it->is_array() || it->empty() || it->size() > libtodo::max_bulk_ids) {
      errors.push_back({"ids", "must be an array of 1 to " + std::to_string(libtodo::max_bulk_ids) + " task ids"});
    } else {
      for (std::size_t i = 0; i < it->size(); ++i) {
        if ((*it)[i].is_string())
          ids.push_back((*it)[i].get<std::string>());
        else
          errors.push_back({"ids[" + std::to_string(i) + "]", "must be a string"});
      }
    }
    bool completed = true;
    if (!remove_them) {
      if (const auto c = body.find("completed"); c != body.end()) {
        if (c->is_boolean())
          completed = c->get<bool>();
        else
          errors.push_back({"completed", "must be true or false"});
      }
    }
    if (!errors.empty()) return send_validation(res, errors);
    const libtodo::BulkResult result =
        remove_them ? repo.remove_all(user, ids) : repo.set_completed(user, ids, completed);
    if (!result.missing.empty()) {
      // Name every id that stopped the operation; nothing was changed.
      bool foreign = false;
      std::vector<FieldError> details;
      for (const std::string& id : result.missing) {
        const auto at = std::find(ids.begin(), ids.end(), id) - ids.begin();
        const bool other = !options.foreign_task_not_found &&
                           repo.ownership(user, id) == libtodo::Ownership::other_user;
        foreign = foreign || other;
        details.push_back({"ids[" + std::to_string(at) + "]",
                           other ? "belongs to another user" : "no such task"});
      }
      return send_error(res, foreign ? 403 : 404, foreign ? "forbidden" : "not_found",
                        "nothing was changed: " + details.front().field + " " + details.front().message, details);
    }
    set_json(res, 200, std::string(remove_them ? "{\"deleted\":" : "{\"updated\":") +
                           std::to_string(result.affected) + "}");
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

  // /readyz: the database answers and carries every migration of this
  // libtodo, within readiness_timeout.
  void readyz(Response& res) {
    if (const auto reason = readiness.check(options.readiness_timeout)) {
      log.log(LogLevel::warn, "not ready", {{"error", *reason}});
      res.set_header("Retry-After", "1");
      return send_error(res, 503, "service_unavailable", "not ready: the database is unavailable");
    }
    set_json(res, 200, R"({"status":"ready"})");
  }

  std::string metrics_text() const {
    Metrics::Snapshot s;
    s.pool = repo.pool_stats();
    if (const auto* jwt = dynamic_cast<const libtodo::JwtVerifier*>(&verifier)) {
      const auto st = jwt->stats();
      s.token_cache_hits = st.cache_hits;
      s.token_cache_misses = st.cache_misses;
    }
    return metrics->render(s);
  }

  void metrics_route(Response& res) {
    if (!metrics) return send_error(res, 404, "not_found", "metrics are off (METRICS=off)");
    if (!options.metrics_on_api_port)
      return send_error(res, 404, "not_found",
                        "metrics are served on the METRICS_ADDRESS listener");
    res.status = 200;
    res.body = metrics_text();
    res.set_header("Content-Type", Metrics::content_type);
  }

  void install_routes() {
    using Handler = void (Impl::*)(const Request&, Response&, Shape);
    const auto bind = [this](const char* route, Shape shape, Handler h) {
      return [this, route, shape, h](const Request& req, Response& res) {
        guarded(req, res, route, [&] {
          // cpp-httplib picks the first pattern that matches the method and
          // path; the route table decides which route a path really is
          // (`/api/tasks/stats` is not a task id, `/api/tasks/...` is never a
          // user id). When they differ, the error handler answers 404 or 405.
          const Route* r = request_state.matched;  // match_route() of pre-routing
          if (r == nullptr || r->name != route) {
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
    http.Get("/livez", [this](const Request& req, Response& res) {
      guarded(req, res, "/livez", [&] { set_json(res, 200, R"({"status":"ok"})"); });
    });
    http.Get("/readyz", [this](const Request& req, Response& res) {
      guarded(req, res, "/readyz", [&] { readyz(res); });
    });
    http.Get("/metrics", [this](const Request& req, Response& res) {
      guarded(req, res, "/metrics", [&] { metrics_route(res); });
    });
    http.Get("/openapi.json", [this](const Request& req, Response& res) {
      guarded(req, res, "/openapi.json", [&] { set_json(res, 200, openapi_json(accounts != nullptr)); });
    });
    const auto docs = [this](const Request& req, Response& res) {
      guarded(req, res, "/docs", [&] {
        const std::string file = req.matches.size() > 1 ? req.matches[1].str() : std::string();
        if (auto asset = docs_asset(file, options.docs_dir)) {
          res.status = 200;
          res.body = std::move(asset->body);
          res.set_header("Content-Type", asset->content_type);
          res.headers.erase("Cache-Control");
          res.set_header("Cache-Control", "public, max-age=3600");
          return;
        }
        send_error(res, 404, "not_found",
                   options.docs_dir.empty() ? "the /docs page is not installed" : "no such file");
      });
    };
    http.Get("/docs", docs);
    http.Get("/docs/([A-Za-z0-9._-]+)", docs);
    if (accounts != nullptr) install_account_routes();
    http.Options(".*", [this](const Request& req, Response& res) {
      guarded(req, res, "OPTIONS", [&] { options_request(req, res); });
    });
    for (const Shape shape : {Shape::token, Shape::user}) {
      const bool t = shape == Shape::token;
      const char* collection = t ? "/api/tasks" : "/api/{user_id}/tasks";
      const char* item = t ? "/api/tasks/{id}" : "/api/{user_id}/tasks/{id}";
      const std::string collection_re = t ? "/api/tasks" : "/api/([^/]+)/tasks";
      const std::string item_re = t ? "/api/tasks/([^/]+)" : "/api/([^/]+)/tasks/([^/]+)";
      // Fixed paths before the {id} patterns they would otherwise match.
      const std::string base = t ? "/api/tasks" : "/api/{user_id}/tasks";
      static std::deque<std::string> names;  // route names must outlive the handlers (stable addresses)
      const auto name = [&](const std::string& suffix) { return names.emplace_back(base + suffix).c_str(); };
      http.Get(collection_re, bind(collection, shape, &Impl::list));
      http.Post(collection_re, bind(collection, shape, &Impl::create));
      http.Get(collection_re + "/stats", bind(name("/stats"), shape, &Impl::stats));
      http.Post(collection_re + "/bulk/complete", bind(name("/bulk/complete"), shape, &Impl::bulk_complete));
      http.Post(collection_re + "/bulk/delete", bind(name("/bulk/delete"), shape, &Impl::bulk_delete));
      http.Patch(item_re + "/complete", bind(name("/{id}/complete"), shape, &Impl::toggle));
      http.Get(item_re, bind(item, shape, &Impl::get));
      http.Put(item_re, bind(item, shape, &Impl::put));
      http.Patch(item_re, bind(item, shape, &Impl::patch));
      http.Delete(item_re, bind(item, shape, &Impl::remove));
    }
  }

  void install_account_routes() {
    http.Post("/api/auth/register", [this](const Request& req, Response& res) {
      guarded(req, res, "/api/auth/register", [&] { accounts->register_user(req, res); });
    });
    http.Post("/api/auth/login", [this](const Request& req, Response& res) {
      guarded(req, res, "/api/auth/login", [&] { accounts->login(req, res); });
    });
    http.Post("/api/auth/logout", [this](const Request& req, Response& res) {
      guarded(req, res, "/api/auth/logout", [&] {
        if (const auto who = authenticate(req, res)) accounts->logout(*who, res);
      });
    });
    http.Get("/api/auth/me", [this](const Request& req, Response& res) {
      guarded(req, res, "/api/auth/me", [&] {
        if (const auto who = authenticate(req, res)) accounts->me(*who, res);
      });
    });
  }

  void put(const Request& req, Response& res, Shape shape) { modify(req, res, shape, true); }
  void bulk_complete(const Request& req, Response& res, Shape shape) { bulk(req, res, shape, false); }
  void bulk_delete(const Request& req, Response& res, Shape shape) { bulk(req, res, shape, true); }
  void patch(const Request& req, Response& res, Shape shape) { modify(req, res, shape, false); }
};

Server::Server(libtodo::TaskRepository& repository, const libtodo::TokenVerifier& verifier,
               const Logger& logger, HttpOptions options, Accounts* accounts)
    : impl_(std::make_unique<Impl>(repository, verifier, logger, std::move(options), accounts)) {}

Server::~Server() = default;

int Server::bind() { return impl_->options.port = impl_->front.bind(); }

void Server::run() { impl_->front.run(); }

void Server::stop() { impl_->front.stop(); }

bool Server::is_running() const { return impl_->front.is_running(); }

FrontStats Server::connection_stats() const { return impl_->front.stats(); }

std::string Server::metrics_text() const {
  return impl_->metrics ? impl_->metrics_text() : std::string();
}

}  // namespace todo_server
