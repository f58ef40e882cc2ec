#include "metrics.hpp"

#include <algorithm>
#include <array>
#include <cstdio>

#include <httplib.h>

#include <libtodo/errors.hpp>

namespace todo_server {

namespace {

constexpr std::array<const char*, Metrics::method_count> method_names = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "other"};

// The statuses the server answers get a series each; anything else is
// counted under its class ("1xx".."5xx").
constexpr std::array<int, 19> exact_statuses = {200, 201, 204, 304, 400, 401, 403, 404, 405, 409,
                                                412, 413, 414, 415, 422, 429, 431, 500, 503};
constexpr std::size_t status_slots = exact_statuses.size() + 5;

std::size_t status_slot(int status) noexcept {
  for (std::size_t i = 0; i < exact_statuses.size(); ++i)
    if (exact_statuses[i] == status) return i;
  const int cls = std::clamp(status / 100, 1, 5);
  return exact_statuses.size() + static_cast<std::size_t>(cls - 1);
}

std::string status_label(std::size_t slot) {
  if (slot < exact_statuses.size()) return std::to_string(exact_statuses[slot]);
  return std::to_string(slot - exact_statuses.size() + 1) + "xx";
}

// Upper bounds in seconds; the last bucket is +Inf.
constexpr std::array<double, 14> bucket_bounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                  0.1,    0.25,  0.5,    1,     2.5,  5,     10};
constexpr std::size_t bucket_count = bucket_bounds.size() + 1;

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

// Label values here are route templates and fixed words; escape anyway.
std::string label(std::string_view v) {
  std::string out;
  for (const char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void family(std::string& out, const char* name, const char* type, const char* help) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n");
  out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

using Counter = std::atomic<std::uint64_t>;

struct Metrics::Counters {
  std::size_t routes;
  std::unique_ptr<Counter[]> requests;  // [route][method][status slot]
  std::unique_ptr<Counter[]> buckets;   // [route][method][bucket], not cumulative
  std::unique_ptr<Counter[]> sum_ns;    // [route][method]
  std::unique_ptr<Counter[]> auth;      // [reason]

  Counters(std::size_t r, std::size_t reasons)
      : routes(r),
        requests(std::make_unique<Counter[]>(r * method_count * status_slots)),
        buckets(std::make_unique<Counter[]>(r * method_count * bucket_count)),
        sum_ns(std::make_unique<Counter[]>(r * method_count)),
        auth(std::make_unique<Counter[]>(reasons)) {}
};

Metrics::Method Metrics::method_of(std::string_view m) noexcept {
  for (std::size_t i = 0; i + 1 < method_names.size(); ++i)
    if (m == method_names[i]) return static_cast<Method>(i);
  return Method::other;
}

Metrics::Metrics(std::vector<std::string> routes, std::vector<std::string> auth_reasons,
                 std::string version)
    : routes_(std::move(routes)),
      auth_reasons_(std::move(auth_reasons)),
      version_(std::move(version)),
      start_time_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()),
      c_(std::make_unique<Counters>(routes_.size() + 1, auth_reasons_.size())) {}

Metrics::~Metrics() = default;

void Metrics::finished(std::size_t route, Method method, int status,
                       std::chrono::nanoseconds duration, bool started) noexcept {
  if (started) in_flight_.fetch_sub(1, std::memory_order_relaxed);
  route = std::min(route, routes_.size());
  const std::size_t rm = route * method_count + static_cast<std::size_t>(method);
  c_->requests[rm * status_slots + status_slot(status)].fetch_add(1, std::memory_order_relaxed);
  if (!started) return;  // no start time: no latency
  const double seconds = std::chrono::duration<double>(duration).count();
  std::size_t b = 0;
  while (b < bucket_bounds.size() && seconds > bucket_bounds[b]) ++b;
  c_->buckets[rm * bucket_count + b].fetch_add(1, std::memory_order_relaxed);
  c_->sum_ns[rm].fetch_add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, duration.count())),
                           std::memory_order_relaxed);
}

void Metrics::auth_failed(std::size_t reason) noexcept {
  if (reason < auth_reasons_.size()) c_->auth[reason].fetch_add(1, std::memory_order_relaxed);
}

void Metrics::rate_limited(bool per_user) noexcept {
  (per_user ? limited_user_ : limited_address_).fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render(const Snapshot& s) const {
  std::string out;
  out.reserve(16384);
  const auto route_label = [&](std::size_t r) {
    return r < routes_.size() ? label(routes_[r]) : "unmatched";
  };

  family(out, "todo_http_requests_total", "counter",
         "HTTP requests answered, by route template, method and status.");
  for (std::size_t r = 0; r <= routes_.size(); ++r)
    for (std::size_t m = 0; m < method_count; ++m)
      for (std::size_t st = 0; st < status_slots; ++st) {
        const std::uint64_t n = c_->requests[(r * method_count + m) * status_slots + st].load(
            std::memory_order_relaxed);
        if (n == 0) continue;
        out += "todo_http_requests_total{route=\"" + route_label(r) + "\",method=\"" +
               method_names[m] + "\",status=\"" + status_label(st) + "\"} " + std::to_string(n) +
               "\n";
      }

  family(out, "todo_http_request_duration_seconds", "histogram",
         "Time from reading a request's head to handing its response to the connection, by route "
         "and method.");
  for (std::size_t r = 0; r <= routes_.size(); ++r)
    for (std::size_t m = 0; m < method_count; ++m) {
      const std::size_t rm = r * method_count + m;
      std::array<std::uint64_t, bucket_count> counts{};
      std::uint64_t total = 0;
      for (std::size_t b = 0; b < bucket_count; ++b)
        total += counts[b] = c_->buckets[rm * bucket_count + b].load(std::memory_order_relaxed);
      if (total == 0) continue;
      const std::string labels =
          "route=\"" + route_label(r) + "\",method=\"" + method_names[m] + "\"";
      std::uint64_t cumulative = 0;
      for (std::size_t b = 0; b < bucket_count; ++b) {
        cumulative += counts[b];
        out += "todo_http_request_duration_seconds_bucket{" + labels + ",le=\"" +
               (b < bucket_bounds.size() ? number(bucket_bounds[b]) : std::string("+Inf")) +
               "\"} " + std::to_string(cumulative) + "\n";
      }
      out += "todo_http_request_duration_seconds_sum{" + labels + "} " +
             number(static_cast<double>(c_->sum_ns[rm].load(std::memory_order_relaxed)) / 1e9) +
             "\n";
      out += "todo_http_request_duration_seconds_count{" + labels + "} " +
             std::to_string(cumulative) + "\n";
    }

  family(out, "todo_http_requests_in_flight", "gauge", "Requests being served right now.");
  out += "todo_http_requests_in_flight " +
         std::to_string(in_flight_.load(std::memory_order_relaxed)) + "\n";

  family(out, "todo_db_pool_connections", "gauge",
         "Database connections of this process, by state.");
  out += "todo_db_pool_connections{state=\"in_use\"} " + std::to_string(s.pool.in_use) + "\n";
  out += "todo_db_pool_connections{state=\"idle\"} " + std::to_string(s.pool.idle) + "\n";
  family(out, "todo_db_pool_waiting", "gauge",
         "Calls waiting for a database connection right now.");
  out += "todo_db_pool_waiting " + std::to_string(s.pool.waiting) + "\n";
  family(out, "todo_db_pool_waits_total", "counter",
         "Calls that found no free database connection and waited.");
  out += "todo_db_pool_waits_total " + std::to_string(s.pool.waits) + "\n";
  family(out, "todo_db_pool_wait_seconds_total", "counter",
         "Total time calls waited for a database connection.");
  out += "todo_db_pool_wait_seconds_total " +
         number(std::chrono::duration<double>(s.pool.wait_time).count()) + "\n";
  family(out, "todo_db_pool_discarded_total", "counter", "Broken database connections dropped.");
  out += "todo_db_pool_discarded_total " + std::to_string(s.pool.discarded) + "\n";

  family(out, "todo_auth_failures_total", "counter", "Bearer tokens refused, by reason.");
  for (std::size_t i = 0; i < auth_reasons_.size(); ++i)
    out += "todo_auth_failures_total{reason=\"" + label(auth_reasons_[i]) + "\"} " +
           std::to_string(c_->auth[i].load(std::memory_order_relaxed)) + "\n";
  if (s.token_cache_hits && s.token_cache_misses) {
    family(out, "todo_token_cache_hits_total", "counter",
           "Tokens found in the verified-token cache.");
    out += "todo_token_cache_hits_total " + std::to_string(*s.token_cache_hits) + "\n";
    family(out, "todo_token_cache_misses_total", "counter",
           "Tokens verified in full (not in the cache).");
    out += "todo_token_cache_misses_total " + std::to_string(*s.token_cache_misses) + "\n";
  }

  family(out, "todo_rate_limited_total", "counter",
         "Requests refused with 429 by a rate limit, by scope.");
  out += "todo_rate_limited_total{scope=\"user\"} " +
         std::to_string(limited_user_.load(std::memory_order_relaxed)) + "\n";
  out += "todo_rate_limited_total{scope=\"address\"} " +
         std::to_string(limited_address_.load(std::memory_order_relaxed)) + "\n";
  family(out, "todo_idempotent_replays_total", "counter",
         "Requests answered with the stored response of an earlier request with the same "
         "Idempotency-Key.");
  out += "todo_idempotent_replays_total " +
         std::to_string(replays_.load(std::memory_order_relaxed)) + "\n";

  family(out, "todo_build_info", "gauge",
         "The running todo-server's version (the value is always 1).");
  out += "todo_build_info{version=\"" + label(version_) + "\"} 1\n";
  family(out, "todo_start_time_seconds", "gauge",
         "When this process started, in seconds since the Unix epoch.");
  out += "todo_start_time_seconds " + number(start_time_) + "\n";
  return out;
}

MetricsListener::MetricsListener(std::string host, int port, std::function<std::string()> render,
                                 const Logger& log)
    : host_(std::move(host)), port_(port), http_(std::make_unique<httplib::Server>()) {
  http_->set_tcp_nodelay(true);
  http_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  http_->set_keep_alive_max_count(100);
  http_->Get("/metrics",
             [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
               res.set_content(render(), Metrics::content_type);
             });
  http_->set_exception_handler(
      [&log](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
        log.log(LogLevel::error, "metrics listener: unhandled exception");
        res.status = 500;
      });
}

MetricsListener::~MetricsListener() {
  stop();
}

int MetricsListener::start() {
  int port = port_;
  if (port == 0) {
    port = http_->bind_to_any_port(host_);
    if (port < 0) throw libtodo::ConfigError("METRICS_ADDRESS: cannot listen on " + host_);
  } else if (!http_->bind_to_port(host_, port)) {
    throw libtodo::ConfigError("METRICS_ADDRESS: cannot listen on " + host_ + ":" +
                               std::to_string(port));
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  while (!http_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return port;
}

void MetricsListener::stop() {
  if (!thread_.joinable()) return;
  http_->stop();
  thread_.join();
}

}  // namespace todo_server
