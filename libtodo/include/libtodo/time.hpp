#pragma once
// Timestamps of the task model: UTC instants with millisecond precision, and
// their RFC 3339 text form.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <libtodo/core_export.hpp>

namespace libtodo {

/// A UTC instant with millisecond precision.
using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

/// Milliseconds since the Unix epoch, and back: how the backends store instants.
[[nodiscard]] constexpr std::int64_t to_unix_ms(Timestamp t) noexcept { return t.time_since_epoch().count(); }
[[nodiscard]] constexpr Timestamp from_unix_ms(std::int64_t ms) noexcept {
  return Timestamp{std::chrono::milliseconds{ms}};
}

/// The current time, truncated to milliseconds.
[[nodiscard]] LIBTODO_CORE_EXPORT Timestamp now_ms() noexcept;

/// "2026-01-06T09:30:00.000Z": always UTC, always three fraction digits.
[[nodiscard]] LIBTODO_CORE_EXPORT std::string format_rfc3339(Timestamp t);
/// Appends format_rfc3339(t) to `out` without a temporary string.
LIBTODO_CORE_EXPORT void append_rfc3339(std::string& out, Timestamp t);

/// Parses an RFC 3339 date-time. The time zone (`Z` or `+hh:mm`/`-hh:mm`) is
/// required; fractions beyond milliseconds are truncated. Returns nullopt for
/// anything else, including out-of-range fields and leap seconds.
[[nodiscard]] LIBTODO_CORE_EXPORT std::optional<Timestamp> parse_rfc3339(
    std::string_view text) noexcept;

}  // namespace libtodo
