#include <libtodo/time.hpp>

#include <array>
#include <cstdint>

namespace libtodo {
namespace {

using namespace std::chrono;

void put_digits(std::string& out, int value, int width) {
  std::array<char, 8> buf{};
  for (int i = width - 1; i >= 0; --i) {
    buf[static_cast<std::size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf.data(), static_cast<std::size_t>(width));
}

// Reads exactly `width` decimal digits at `pos`.
bool read_digits(std::string_view s, std::size_t pos, int width, int& value) noexcept {
  if (pos + static_cast<std::size_t>(width) > s.size()) return false;
  value = 0;
  for (int i = 0; i < width; ++i) {
    const char c = s[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

}  // namespace

Timestamp now_ms() noexcept { return floor<milliseconds>(system_clock::now()); }

void append_rfc3339(std::string& out, Timestamp t) {
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  put_digits(out, static_cast<int>(ymd.year()), 4);
  out += '-';
  put_digits(out, static_cast<int>(static_cast<unsigned>(ymd.month())), 2);
  out += '-';
  put_digits(out, static_cast<int>(static_cast<unsigned>(ymd.day())), 2);
  out += 'T';
  put_digits(out, static_cast<int>(hms.hours().count()), 2);
  out += ':';
  put_digits(out, static_cast<int>(hms.minutes().count()), 2);
  out += ':';
  put_digits(out, static_cast<int>(hms.seconds().count()), 2);
  out += '.';
  put_digits(out, static_cast<int>(hms.subseconds().count()), 3);
  out += 'Z';
}

std::string format_rfc3339(Timestamp t) {
  std::string s;
  s.reserve(24);
  append_rfc3339(s, t);
  return s;
}

// date-time = YYYY-MM-DD ("T" / "t" / " ") hh:mm:ss [.frac] ("Z" / "z" / (+/-)hh:mm)
std::optional<Timestamp> parse_rfc3339(std::string_view s) noexcept {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (!read_digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !read_digits(s, 5, 2, mo) ||
      s[7] != '-' || !read_digits(s, 8, 2, d) ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !read_digits(s, 11, 2, h) ||
      s[13] != ':' || !read_digits(s, 14, 2, mi) || s[16] != ':' || !read_digits(s, 17, 2, se))
    return std::nullopt;
  const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!ymd.ok() || h > 23 || mi > 59 || se > 59) return std::nullopt;

  std::size_t pos = 19;
  int millis = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    const std::size_t start = pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      millis += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;  // the zone is required

  int offset_minutes = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh = 0, om = 0;
    if (!read_digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !read_digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return std::nullopt;
    offset_minutes = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;

  const Timestamp local = sys_days{ymd} + hours{h} + minutes{mi} + seconds{se} + milliseconds{millis};
  const Timestamp utc = local - minutes{offset_minutes};
  // Keep every stored instant printable as a four-digit year.
  const year_month_day utc_day{floor<days>(utc)};
  if (utc_day.year() < year{1} || utc_day.year() > year{9999}) return std::nullopt;
  return utc;
}

}  // namespace libtodo
