#include <algorithm>
#include <charconv>

#include <libtodo/task_repository.hpp>
#include <libtodo/uuid.hpp>
#include <libtodo/validation.hpp>

namespace libtodo {
namespace {

constexpr char hex_digits[] = "0123456789abcdef";

// The instants a task can hold: parse_rfc3339 keeps them within the years
// 1..9999 (0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999Z, in Unix ms).
constexpr std::int64_t min_instant_ms = -62135596800000;
constexpr std::int64_t max_instant_ms = 253402300799999;

// Whether a cursor's sort value is one a task can have. Anything else was not
// made by PageCursor::after, and PostgreSQL cannot even compute it as a bound
// (a timestamp or smallint out of range is a 500, not an empty page).
bool fits_sort(SortKey sort, std::int64_t n) {
  if (sort == SortKey::priority)
    return n >= static_cast<std::int64_t>(Priority::low) &&
           n <= static_cast<std::int64_t>(Priority::high);
  return n >= min_instant_ms && n <= max_instant_ms;
}

std::string to_hex(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    out += hex_digits[c >> 4];
    out += hex_digits[c & 0xF];
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view s) {
  if (s.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(s.size() / 2);
  for (std::size_t i = 0; i < s.size(); i += 2) {
    unsigned v = 0;
    const auto [p, ec] = std::from_chars(s.data() + i, s.data() + i + 2, v, 16);
    if (ec != std::errc{} || p != s.data() + i + 2) return std::nullopt;
    out += static_cast<char>(v);
  }
  return out;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const std::size_t end = s.find(sep, start);
    parts.push_back(s.substr(start, end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

}  // namespace

std::string_view to_string(SortKey k) noexcept {
  switch (k) {
    case SortKey::created: return "created";
    case SortKey::updated: return "updated";
    case SortKey::title: return "title";
    case SortKey::due_date: return "due_date";
    case SortKey::priority: return "priority";
  }
  return "created";
}

std::optional<SortKey> parse_sort_key(std::string_view s) noexcept {
  for (const SortKey k : {SortKey::created, SortKey::updated, SortKey::title, SortKey::due_date, SortKey::priority})
    if (to_string(k) == s) return k;
  return std::nullopt;
}

PageCursor PageCursor::after(const Task& last, SortKey sort, bool descending) {
  PageCursor c;
  c.sort = sort;
  c.descending = descending;
  c.id = last.id;
  switch (sort) {
    case SortKey::created: c.number = last.created_at.time_since_epoch().count(); break;
    case SortKey::updated: c.number = last.updated_at.time_since_epoch().count(); break;
    case SortKey::title: c.title = last.title; break;
    case SortKey::due_date:
      if (last.due_date) c.number = last.due_date->time_since_epoch().count();
      break;
    case SortKey::priority: c.number = static_cast<std::int64_t>(last.priority); break;
  }
  return c;
}

// "<sort>.<a|d>.<value>.<id>": value is a decimal number, "n" for null, or
// the title in hex. Only unreserved URL characters, so it needs no escaping.
std::string PageCursor::encode() const {
  std::string s(to_string(sort));
  s += descending ? ".d." : ".a.";
  if (sort == SortKey::title)
    s += "t" + to_hex(title);
  else if (number)
    s += std::to_string(*number);
  else
    s += "n";
  s += '.';
  s += id;
  return s;
}

std::optional<PageCursor> PageCursor::decode(std::string_view text) {
  if (text.size() > 4096) return std::nullopt;
  const auto parts = split(text, '.');
  if (parts.size() != 4) return std::nullopt;
  PageCursor c;
  const auto sort = parse_sort_key(parts[0]);
  if (!sort || (parts[1] != "a" && parts[1] != "d") || !is_canonical_uuid(parts[3])) return std::nullopt;
  c.sort = *sort;
  c.descending = parts[1] == "d";
  c.id = std::string(parts[3]);
  const std::string_view v = parts[2];
  if (c.sort == SortKey::title) {
    if (v.empty() || v[0] != 't') return std::nullopt;
    auto title = from_hex(v.substr(1));
    // No title holds control characters other than tab and line breaks; a
    // NUL would even be cut off on its way to PostgreSQL (libpq's C strings).
    if (!title || !utf8_length(*title) || has_control_characters(*title, true)) return std::nullopt;
    c.title = std::move(*title);
  } else if (v == "n") {
    if (c.sort != SortKey::due_date) return std::nullopt;  // only due dates are nullable
  } else {
    std::int64_t n = 0;
    const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || p != v.data() + v.size() || !fits_sort(c.sort, n)) return std::nullopt;
    c.number = n;
  }
  return c;
}

void check_query(const TaskQuery& q, std::vector<FieldError>& errors) {
  if (q.limit && (*q.limit < 1 || *q.limit > max_page_size))
    errors.push_back({"limit", "must be an integer from 1 to " + std::to_string(max_page_size)});
  // Filters may hold only what the fields they match can hold: a control
  // character can never match, and PostgreSQL would not even see a NUL and
  // what follows it (libpq passes parameters as C strings).
  for (const std::string& tag : q.tags) {
    const auto chars = utf8_length(tag);
    if (!chars || *chars == 0 || *chars > max_tag_chars || has_control_characters(tag, false)) {
      errors.push_back({"tag", "each tag must be 1.." + std::to_string(max_tag_chars) +
                                   " characters of text without control characters"});
      break;
    }
  }
  if (q.tags.size() > max_tags) errors.push_back({"tag", "at most " + std::to_string(max_tags) + " tags"});
  if (q.text) {
    const auto chars = utf8_length(*q.text);
    if (!chars || *chars > max_title_chars || has_control_characters(*q.text, true))
      errors.push_back(
          {"q",
           "must be at most " + std::to_string(max_title_chars) +
               " characters of text without control characters other than tab and line breaks"});
  }
  if (q.cursor) {
    const auto c = PageCursor::decode(*q.cursor);
    if (!c)
      errors.push_back({"cursor", "is not a cursor this server issued"});
    else if (c->sort != q.sort || c->descending != q.descending)
      errors.push_back({"cursor", "belongs to another sort order; pass the same sort as the first page"});
  }
}

std::vector<std::string> distinct_bulk_ids(const std::vector<std::string>& ids) {
  if (ids.empty() || ids.size() > max_bulk_ids)
    throw ValidationError(std::vector<FieldError>{
        {"ids", "must list 1 to " + std::to_string(max_bulk_ids) + " task ids"}});
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (const std::string& id : ids)
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  return out;
}

Task new_task(std::string_view user_id, TaskDraft&& d, Timestamp now) {
  Task t;
  t.id = new_uuid_v7();
  t.user_id = std::string(user_id);
  t.title = std::move(d.title);
  t.description = std::move(d.description);
  t.completed = d.completed;
  t.priority = d.priority;
  t.tags = std::move(d.tags);
  t.due_date = d.due_date;
  t.recurrence = d.recurrence;
  t.created_at = now;
  t.updated_at = now;
  t.version = 1;
  return t;
}

void require_valid_user_id(std::string_view user_id) {
  if (!is_valid_user_id(user_id))
    throw ValidationError(std::vector<FieldError>{
        {"user_id", "must be 1..255 bytes of UTF-8 text without control characters"}});
}

}  // namespace libtodo
