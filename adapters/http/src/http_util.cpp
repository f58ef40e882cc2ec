#include "http_util.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <unordered_set>

#include "log.hpp"

namespace todo_server {

using httplib::Request;
using httplib::Response;
using libtodo::FieldError;

namespace {

bool is_json_media_type(std::string type) {
  type = type.substr(0, type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.pop_back();
  std::transform(type.begin(), type.end(), type.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (type == "application/json") return true;
  return type.rfind("application/", 0) == 0 && type.size() > 17 &&
         type.compare(type.size() - 5, 5, "+json") == 0;
}

}  // namespace

void set_json(Response& res, int status, std::string body) {
  res.status = status;
  res.body = std::move(body);
  res.set_header("Content-Type", "application/json");
}

void send_error(Response& res, int status, std::string_view code, std::string_view message,
                const std::vector<FieldError>& details) {
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

std::optional<nlohmann::json> read_object(const Request& req, BodyProblem& problem) {
  if (req.has_header("Content-Type") && !is_json_media_type(req.get_header_value("Content-Type"))) {
    problem = {415, "unsupported_media_type", "request body must be application/json", {}};
    return std::nullopt;
  }
  // A task is two levels deep; anything far deeper is not a task. Duplicate
  // names are refused: parsers disagree on which one wins.
  constexpr int max_depth = 32;
  struct Refused {
    const char* message;
  };
  std::vector<std::unordered_set<std::string>> names;  // one set per open object
  const auto check = [&](int depth, nlohmann::json::parse_event_t event, nlohmann::json& parsed) {
    using Event = nlohmann::json::parse_event_t;
    if ((event == Event::object_start || event == Event::array_start) && depth >= max_depth)
      throw Refused{"request body is nested too deeply"};
    if (event == Event::object_start) names.emplace_back();
    if (event == Event::object_end) names.pop_back();
    if (event == Event::key && !names.back().insert(parsed.get<std::string>()).second)
      throw Refused{"request body repeats a member name"};
    return true;
  };
  nlohmann::json body;
  try {
    body = nlohmann::json::parse(req.body, check, /*allow_exceptions=*/false);
  } catch (const Refused& r) {
    problem = {400, "invalid_json", r.message, {}};
    return std::nullopt;
  }
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

libtodo::TaskQuery parse_task_query(const Request& req, std::vector<FieldError>& errors) {
  libtodo::TaskQuery q;
  // A parameter that may appear once; nullopt when absent.
  const auto single = [&](const char* name) -> std::optional<std::string> {
    const std::size_t n = req.get_param_value_count(name);
    if (n == 0) return std::nullopt;
    if (n > 1) {
      errors.push_back({name, "must be given at most once"});
      return std::nullopt;
    }
    return req.get_param_value(name);
  };
  if (const auto v = single("status")) {
    if (*v == "all")
      q.status = libtodo::StatusFilter::all;
    else if (*v == "pending")
      q.status = libtodo::StatusFilter::pending;
    else if (*v == "completed")
      q.status = libtodo::StatusFilter::completed;
    else
      errors.push_back({"status", "must be all, pending or completed"});
  }
  if (const auto v = single("priority")) {
    q.priority = libtodo::parse_priority(*v);
    if (!q.priority) errors.push_back({"priority", "must be low, medium or high"});
  }
  for (std::size_t i = 0; i < req.get_param_value_count("tag"); ++i)
    q.tags.push_back(req.get_param_value("tag", i));
  if (const auto v = single("q")) q.text = *v;
  for (const auto& [name, slot] : {std::pair{"due_before", &q.due_before}, std::pair{"due_after", &q.due_after}}) {
    if (const auto v = single(name)) {
      *slot = libtodo::parse_rfc3339(*v);
      if (!*slot) errors.push_back({name, "must be an RFC 3339 date-time with a time zone"});
    }
  }
  if (const auto v = single("sort")) {
    const bool descending = !v->empty() && v->front() == '-';
    const auto key = libtodo::parse_sort_key(descending ? std::string_view(*v).substr(1) : std::string_view(*v));
    if (key) {
      q.sort = *key;
      q.descending = descending;
    } else {
      errors.push_back({"sort", "must be created, updated, title, due_date or priority, optionally prefixed by -"});
    }
  }
  if (const auto v = single("limit")) {
    std::size_t n = 0;
    const auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc{} || p != v->data() + v->size() || n < 1 || n > libtodo::max_page_size)
      errors.push_back({"limit", "must be an integer from 1 to " + std::to_string(libtodo::max_page_size)});
    else
      q.limit = n;
  }
  if (const auto v = single("cursor")) q.cursor = *v;
  // The library's own checks (tag and text lengths, the cursor), without repeating a parameter.
  std::vector<FieldError> more;
  libtodo::check_query(q, more);
  for (auto& e : more)
    if (std::none_of(errors.begin(), errors.end(), [&](const FieldError& f) { return f.field == e.field; }))
      errors.push_back(std::move(e));
  return q;
}

}  // namespace todo_server
