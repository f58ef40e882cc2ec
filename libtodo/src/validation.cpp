#include <libtodo/validation.hpp>

#include <algorithm>
#include <cstdint>

namespace libtodo {
namespace {

// Decodes one code point starting at s[i]; returns its length in bytes, or 0
// when the bytes there are not well-formed UTF-8 (RFC 3629, Unicode table 3-7).
std::size_t decode(std::string_view s, std::size_t i, char32_t& cp) noexcept {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (std::size_t k = 1; k < len; ++k) {
    const unsigned char b = byte(i + k);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return len;
}

// The White_Space property of Unicode (PropList.txt).
bool is_unicode_space(char32_t c) noexcept {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

class Checker {
 public:
  explicit Checker(std::vector<FieldError>& errors) : errors_(errors) {}

  void title(std::string& t) { text(t, "title", max_title_chars, true, true); }

  void description(std::optional<std::string>& d) {
    if (d) text(*d, "description", max_description_chars, false, true);
  }

  void tags(std::vector<std::string>& tags) {
    bool ok = true;
    for (std::size_t i = 0; i < tags.size(); ++i)
      ok = text(tags[i], "tags[" + std::to_string(i) + "]", max_tag_chars, true, false) && ok;
    if (!ok) return;  // leave the (trimmed) input as it was
    std::vector<std::string> unique;
    unique.reserve(tags.size());
    for (std::string& tag : tags)
      if (std::find(unique.begin(), unique.end(), tag) == unique.end()) unique.push_back(std::move(tag));
    if (unique.size() > max_tags) {
      add("tags", "must have at most " + std::to_string(max_tags) + " distinct tags");
      return;
    }
    tags = std::move(unique);
  }

 private:
  // Trims (when asked) and checks one text field; false when it failed.
  bool text(std::string& value, const std::string& field, std::size_t max_chars, bool trim,
            bool allow_line_breaks) {
    const auto length = utf8_length(value);
    if (!length) {
      add(field, "must be valid UTF-8");
      return false;
    }
    std::size_t chars = *length;
    if (trim) {
      const std::string_view trimmed = trim_unicode(value);
      if (trimmed.size() != value.size()) {
        value = std::string(trimmed);
        chars = *utf8_length(value);
      }
      if (chars == 0) {
        add(field, "must not be empty");
        return false;
      }
    }
    if (chars > max_chars) {
      add(field, "must be at most " + std::to_string(max_chars) + " characters");
      return false;
    }
    if (has_control_characters(value, allow_line_breaks)) {
      add(field, allow_line_breaks ? "must not contain control characters other than tab and line breaks"
                                   : "must not contain control characters");
      return false;
    }
    return true;
  }

  void add(std::string field, std::string message) {
    errors_.push_back({std::move(field), std::move(message)});
  }

  std::vector<FieldError>& errors_;
};

}  // namespace

std::optional<std::size_t> utf8_length(std::string_view s) noexcept {
  std::size_t count = 0;
  for (std::size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {  // ASCII fast path
      ++i;
      ++count;
      continue;
    }
    char32_t cp = 0;
    const std::size_t n = decode(s, i, cp);
    if (n == 0) return std::nullopt;
    i += n;
    ++count;
  }
  return count;
}

std::string_view trim_unicode(std::string_view s) noexcept {
  std::size_t begin = 0;
  while (begin < s.size()) {
    char32_t cp = 0;
    const std::size_t n = decode(s, begin, cp);
    if (n == 0 || !is_unicode_space(cp)) break;
    begin += n;
  }
  std::size_t end = s.size();
  while (end > begin) {
    // Step back to the first byte of the last code point.
    std::size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
    char32_t cp = 0;
    if (decode(s, start, cp) != end - start || !is_unicode_space(cp)) break;
    end = start;
  }
  return s.substr(begin, end - begin);
}

void check_draft(TaskDraft& draft, std::vector<FieldError>& errors) {
  Checker check(errors);
  check.title(draft.title);
  check.description(draft.description);
  check.tags(draft.tags);
}

void check_patch(TaskPatch& patch, std::vector<FieldError>& errors) {
  Checker check(errors);
  if (patch.title) check.title(*patch.title);
  if (patch.description) check.description(*patch.description);
  if (patch.tags) check.tags(*patch.tags);
}

void validate(TaskDraft& draft) {
  std::vector<FieldError> errors;
  check_draft(draft, errors);
  if (!errors.empty()) throw ValidationError(std::move(errors));
}

void validate(TaskPatch& patch) {
  std::vector<FieldError> errors;
  check_patch(patch, errors);
  if (!errors.empty()) throw ValidationError(std::move(errors));
}

// Text fields may hold tabs and line breaks but no other control characters:
// C0 (NUL in particular, which many consumers truncate at), DEL, and C1
// (U+0080..U+009F, encoded as C2 80..C2 9F).
bool has_control_characters(std::string_view s, bool allow_line_breaks) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == 0x7F) return true;
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) <= 0x9F) return true;
    if (c >= 0x20) continue;
    if (!(allow_line_breaks && (c == '\t' || c == '\n' || c == '\r'))) return true;
  }
  return false;
}

bool is_valid_user_id(std::string_view user_id) noexcept {
  return !user_id.empty() && user_id.size() <= max_user_id_bytes && utf8_length(user_id) &&
         !has_control_characters(user_id, false);
}

}  // namespace libtodo
