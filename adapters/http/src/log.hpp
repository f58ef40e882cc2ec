#pragma once
// JSON-lines logging to stderr: every line the server writes is one JSON object.

#include <atomic>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace todo_server {

enum class LogLevel { debug = 0, info = 1, warn = 2, error = 3 };

[[nodiscard]] std::optional<LogLevel> parse_log_level(std::string_view s) noexcept;

/// A value in a log line: text, a number, or JSON null.
struct LogValue {
  enum class Kind { text, number, null } kind;
  std::string text;
  long long number = 0;
  LogValue(std::string_view s) : kind(Kind::text), text(s) {}  // NOLINT: implicit by design
  LogValue(const char* s) : kind(Kind::text), text(s) {}       // NOLINT
  LogValue(const std::string& s) : kind(Kind::text), text(s) {}  // NOLINT
  LogValue(long long n) : kind(Kind::number), number(n) {}     // NOLINT
  LogValue(int n) : kind(Kind::number), number(n) {}           // NOLINT
  LogValue(std::nullptr_t) : kind(Kind::null) {}               // NOLINT
};

using LogField = std::pair<std::string_view, LogValue>;

/// Writes one JSON object per line to stderr with a single write(2), so lines
/// from concurrent threads never interleave. Thread-safe.
class Logger {
 public:
  explicit Logger(LogLevel level = LogLevel::info) : level_(level) {}
  [[nodiscard]] bool enabled(LogLevel l) const noexcept { return l >= level_.load(); }
  void set_level(LogLevel l) noexcept { level_ = l; }
  void log(LogLevel l, std::string_view msg, std::initializer_list<LogField> fields = {}) const;

 private:
  std::atomic<LogLevel> level_;
};

/// Appends `s` as a JSON string literal (quotes included). `s` must be valid
/// UTF-8; control characters are escaped.
void append_json_string(std::string& out, std::string_view s);

}  // namespace todo_server
