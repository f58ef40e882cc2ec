#include "task_json.hpp"

#include <algorithm>

#include <libtodo/validation.hpp>

#include "log.hpp"

namespace todo_server {
namespace {

using libtodo::FieldError;
using nlohmann::json;

// Reads the fields of a body one by one, noting each that has the wrong type
// or value, so that one answer lists every problem.
class Reader {
 public:
  Reader(const json& body, std::vector<FieldError>& errors) : body_(body), errors_(errors) {}

  [[nodiscard]] const json* field(const char* name) const {
    const auto it = body_.find(name);
    return it == body_.end() ? nullptr : &*it;
  }

  std::optional<std::string> string(const char* name, const json& v) {
    if (v.is_string()) return v.get<std::string>();
    fail(name, "must be a string");
    return std::nullopt;
  }

  std::optional<bool> boolean(const char* name, const json& v) {
    if (v.is_boolean()) return v.get<bool>();
    fail(name, "must be true or false");
    return std::nullopt;
  }

  std::optional<libtodo::Priority> priority(const json& v) {
    if (v.is_string())
      if (auto p = libtodo::parse_priority(v.get_ref<const std::string&>())) return p;
    fail("priority", "must be one of low, medium, high");
    return std::nullopt;
  }

  std::optional<libtodo::Recurrence> recurrence(const json& v) {
    if (v.is_string())
      if (auto r = libtodo::parse_recurrence(v.get_ref<const std::string&>())) return r;
    fail("recurrence", "must be null or one of daily, weekly, monthly");
    return std::nullopt;
  }

  std::optional<libtodo::Timestamp> due_date(const json& v) {
    if (v.is_string())
      if (auto t = libtodo::parse_rfc3339(v.get_ref<const std::string&>())) return t;
    fail("due_date", "must be null or an RFC 3339 date-time with a time zone, e.g. 2026-01-31T17:00:00Z");
    return std::nullopt;
  }

  std::optional<std::vector<std::string>> tags(const json& v) {
    if (!v.is_array()) {
      fail("tags", "must be an array of strings");
      return std::nullopt;
    }
    std::vector<std::string> out;
    out.reserve(v.size());
    bool ok = true;
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i].is_string()) {
        out.push_back(v[i].get<std::string>());
      } else {
        errors_.push_back({"tags[" + std::to_string(i) + "]", "must be a string"});
        ok = false;
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // `completed` and `status` say the same thing; either may be sent, and both
  // when they agree. Returns the requested value; `reset` is set when the
  // body asks for the default (null).
  std::optional<bool> completion(bool& reset) {
    std::optional<bool> from_completed, from_status;
    bool any_null = false;
    if (const json* v = field("completed")) {
      if (v->is_null())
        any_null = true;
      else
        from_completed = boolean("completed", *v);
    }
    if (const json* v = field("status")) {
      if (v->is_null()) {
        any_null = true;
      } else if (v->is_string() && *v == "completed") {
        from_status = true;
      } else if (v->is_string() && *v == "pending") {
        from_status = false;
      } else {
        fail("status", "must be pending or completed");
      }
    }
    if (from_completed && from_status && *from_completed != *from_status) {
      fail("status", "must agree with completed");
      return std::nullopt;
    }
    reset = any_null && !from_completed && !from_status;
    return from_completed ? from_completed : from_status;
  }

  void fail(const char* name, std::string message) { errors_.push_back({name, std::move(message)}); }

 private:
  const json& body_;
  std::vector<FieldError>& errors_;
};

}  // namespace

libtodo::TaskDraft draft_from_json(const json& body, std::vector<FieldError>& errors) {
  Reader r(body, errors);
  libtodo::TaskDraft d;
  const std::size_t before = errors.size();
  if (const json* v = r.field("title"); v == nullptr) {
    r.fail("title", "is required");
  } else if (auto s = r.string("title", *v)) {
    d.title = std::move(*s);
  }
  if (const json* v = r.field("description"); v && !v->is_null())
    d.description = r.string("description", *v);
  bool reset = false;
  if (auto c = r.completion(reset)) d.completed = *c;
  if (const json* v = r.field("priority"); v && !v->is_null())
    d.priority = r.priority(*v).value_or(libtodo::Priority::medium);
  if (const json* v = r.field("tags"); v && !v->is_null())
    d.tags = r.tags(*v).value_or(std::vector<std::string>{});
  if (const json* v = r.field("due_date"); v && !v->is_null()) d.due_date = r.due_date(*v);
  if (const json* v = r.field("recurrence"); v && !v->is_null()) d.recurrence = r.recurrence(*v);

  // Rule checks only where the types were right, so no field is reported twice.
  std::vector<FieldError> rules;
  libtodo::check_draft(d, rules);
  for (auto& e : rules) {
    const bool already = std::any_of(errors.begin() + static_cast<std::ptrdiff_t>(before), errors.end(),
                                     [&](const FieldError& f) { return f.field == e.field; });
    if (!already) errors.push_back(std::move(e));
  }
  return d;
}

libtodo::TaskPatch patch_from_json(const json& body, std::vector<FieldError>& errors) {
  Reader r(body, errors);
  libtodo::TaskPatch p;
  if (const json* v = r.field("title")) {
    if (v->is_null())
      r.fail("title", "must not be null");
    else
      p.title = r.string("title", *v);
  }
  if (const json* v = r.field("description")) {
    if (v->is_null())
      p.description = std::optional<std::string>{};
    else if (auto s = r.string("description", *v))
      p.description = std::move(s);
  }
  bool reset = false;
  if (auto c = r.completion(reset))
    p.completed = *c;
  else if (reset)
    p.completed = false;
  if (const json* v = r.field("priority")) {
    if (v->is_null())
      p.priority = libtodo::Priority::medium;
    else
      p.priority = r.priority(*v);
  }
  if (const json* v = r.field("tags")) {
    if (v->is_null())
      p.tags = std::vector<std::string>{};
    else
      p.tags = r.tags(*v);
  }
  if (const json* v = r.field("due_date")) {
    if (v->is_null())
      p.due_date = std::optional<libtodo::Timestamp>{};
    else if (auto t = r.due_date(*v))
      p.due_date = t;
  }
  if (const json* v = r.field("recurrence")) {
    if (v->is_null())
      p.recurrence = std::optional<libtodo::Recurrence>{};
    else if (auto rec = r.recurrence(*v))
      p.recurrence = rec;
  }
  libtodo::check_patch(p, errors);
  return p;
}

void append_task_json(std::string& out, const libtodo::Task& t) {
  out += "{\"id\":";
  append_json_string(out, t.id);
  out += ",\"user_id\":";
  append_json_string(out, t.user_id);
  out += ",\"title\":";
  append_json_string(out, t.title);
  out += ",\"description\":";
  if (t.description)
    append_json_string(out, *t.description);
  else
    out += "null";
  out += t.completed ? ",\"completed\":true,\"status\":\"completed\"" : ",\"completed\":false,\"status\":\"pending\"";
  out += ",\"priority\":\"";
  out += libtodo::to_string(t.priority);
  out += "\",\"tags\":[";
  for (std::size_t i = 0; i < t.tags.size(); ++i) {
    if (i) out += ',';
    append_json_string(out, t.tags[i]);
  }
  out += "],\"due_date\":";
  if (t.due_date) {
    out += '"';
    libtodo::append_rfc3339(out, *t.due_date);
    out += '"';
  } else {
    out += "null";
  }
  out += ",\"recurrence\":";
  if (t.recurrence) {
    out += '"';
    out += libtodo::to_string(*t.recurrence);
    out += '"';
  } else {
    out += "null";
  }
  out += ",\"created_at\":\"";
  libtodo::append_rfc3339(out, t.created_at);
  out += "\",\"updated_at\":\"";
  libtodo::append_rfc3339(out, t.updated_at);
  out += "\"}";
}

}  // namespace todo_server
