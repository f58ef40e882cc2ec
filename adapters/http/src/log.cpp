#include "log.hpp"

#include <unistd.h>

#include <libtodo/time.hpp>
#include <libtodo/validation.hpp>

namespace todo_server {

std::optional<LogLevel> parse_log_level(std::string_view s) noexcept {
  if (s == "debug") return LogLevel::debug;
  if (s == "info") return LogLevel::info;
  if (s == "warn" || s == "warning") return LogLevel::warn;
  if (s == "error") return LogLevel::error;
  return std::nullopt;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  std::size_t run = 0;  // start of the pending run of bytes that need no escape
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex[c >> 4];
        out += hex[c & 0xF];
    }
  }
  out.append(s.data() + run, s.size() - run);
  out += '"';
}

namespace {

// Log values may hold client bytes (a path, say) that are not UTF-8; such a
// value is written with every non-ASCII byte escaped, so the line stays JSON.
void append_log_text(std::string& out, std::string_view s) {
  if (libtodo::utf8_length(s)) {
    append_json_string(out, s);
    return;
  }
  std::string ascii;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      ascii += ch;
    } else {
      static constexpr char hex[] = "0123456789abcdef";
      ascii += "\\x";
      ascii += hex[c >> 4];
      ascii += hex[c & 0xF];
    }
  }
  append_json_string(out, ascii);
}

}  // namespace

void Logger::log(LogLevel l, std::string_view msg, std::initializer_list<LogField> fields) const {
  if (!enabled(l)) return;
  static constexpr std::string_view names[] = {"debug", "info", "warn", "error"};
  std::string line;
  line.reserve(256);
  line += "{\"time\":\"";
  libtodo::append_rfc3339(line, libtodo::now_ms());
  line += "\",\"level\":\"";
  line += names[static_cast<int>(l)];
  line += "\",\"msg\":";
  append_log_text(line, msg);
  for (const auto& [key, value] : fields) {
    line += ',';
    append_json_string(line, key);
    line += ':';
    switch (value.kind) {
      case LogValue::Kind::text: append_log_text(line, value.text); break;
      case LogValue::Kind::number: line += std::to_string(value.number); break;
      case LogValue::Kind::null: line += "null"; break;
    }
  }
  line += "}\n";
  // One write per line keeps concurrent lines whole; a short write is retried.
  const char* p = line.data();
  std::size_t left = line.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace todo_server
