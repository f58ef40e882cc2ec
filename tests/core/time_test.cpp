// RFC 3339 parsing and formatting of libtodo::Timestamp (SPEC §2, §3 "Date-times").

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>

#include <libtodo/time.hpp>

namespace {

using namespace std::chrono;
using libtodo::format_rfc3339;
using libtodo::parse_rfc3339;
using libtodo::Timestamp;

Timestamp utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, int ms = 0) {
  return sys_days{year{y} / month{mo} / day{d}} + hours{h} + minutes{mi} + seconds{s} +
         milliseconds{ms};
}

// The parsed instant printed back, or "<nullopt>", so failures show both sides.
std::string reparsed(std::string_view text) {
  const auto t = parse_rfc3339(text);
  return t ? format_rfc3339(*t) : std::string("<nullopt>");
}

}  // namespace

TEST_CASE("format_rfc3339 always prints UTC with three fraction digits", "[time]") {
  CHECK(format_rfc3339(utc(2026, 1, 6, 9, 30)) == "2026-01-06T09:30:00.000Z");
  CHECK(format_rfc3339(utc(2026, 12, 31, 23, 59, 59, 999)) == "2026-12-31T23:59:59.999Z");
  CHECK(format_rfc3339(utc(2026, 1, 6, 9, 30, 5, 7)) == "2026-01-06T09:30:05.007Z");
  CHECK(format_rfc3339(Timestamp{}) == "1970-01-01T00:00:00.000Z");
  // Before the epoch the fields must still be positive (floor, not truncation).
  CHECK(format_rfc3339(Timestamp{milliseconds{-1}}) == "1969-12-31T23:59:59.999Z");
  CHECK(format_rfc3339(utc(1, 1, 1)) == "0001-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(utc(9999, 12, 31, 23, 59, 59, 999)) == "9999-12-31T23:59:59.999Z");
}

TEST_CASE("append_rfc3339 appends to what is already there", "[time]") {
  std::string out = "due: ";
  libtodo::append_rfc3339(out, utc(2026, 2, 3, 4, 5, 6, 78));
  CHECK(out == "due: 2026-02-03T04:05:06.078Z");
}

TEST_CASE("now_ms has millisecond precision and is current", "[time]") {
  const auto before = floor<milliseconds>(system_clock::now());
  const Timestamp now = libtodo::now_ms();
  const auto after = system_clock::now();
  CHECK(now >= before);
  CHECK(now <= after);
}

TEST_CASE("parse_rfc3339 accepts Z and z", "[time]") {
  CHECK(parse_rfc3339("2026-01-06T09:30:00Z") == utc(2026, 1, 6, 9, 30));
  CHECK(parse_rfc3339("2026-01-06T09:30:00z") == utc(2026, 1, 6, 9, 30));
  CHECK(parse_rfc3339("2026-01-06t09:30:00Z") == utc(2026, 1, 6, 9, 30));
  CHECK(parse_rfc3339("2026-01-06T09:30:00.123Z") == utc(2026, 1, 6, 9, 30, 0, 123));
}

TEST_CASE("parse_rfc3339 converts offsets to UTC", "[time]") {
  CHECK(reparsed("2026-01-06T15:00:00+05:30") == "2026-01-06T09:30:00.000Z");
  CHECK(reparsed("2026-01-06T01:30:00-08:00") == "2026-01-06T09:30:00.000Z");
  CHECK(reparsed("2026-01-06T09:30:00+00:00") == "2026-01-06T09:30:00.000Z");
  // Offsets may move the instant across a day, month and year boundary.
  CHECK(reparsed("2026-01-01T02:00:00+05:30") == "2025-12-31T20:30:00.000Z");
  CHECK(reparsed("2025-12-31T20:00:00-08:00") == "2026-01-01T04:00:00.000Z");
  CHECK(reparsed("2026-01-06T09:30:00.250+01:00") == "2026-01-06T08:30:00.250Z");
}

TEST_CASE("parse_rfc3339 rejects malformed offsets", "[time]") {
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+0530"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+05"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+5:30"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+24:00"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+05:60"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00 05:30"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+aa:bb"));
}

TEST_CASE("parse_rfc3339 truncates fractions to milliseconds", "[time]") {
  CHECK(reparsed("2026-01-06T09:30:00.1Z") == "2026-01-06T09:30:00.100Z");
  CHECK(reparsed("2026-01-06T09:30:00.12Z") == "2026-01-06T09:30:00.120Z");
  CHECK(reparsed("2026-01-06T09:30:00.123Z") == "2026-01-06T09:30:00.123Z");
  CHECK(reparsed("2026-01-06T09:30:00.1239Z") == "2026-01-06T09:30:00.123Z");
  CHECK(reparsed("2026-01-06T09:30:00.999999Z") == "2026-01-06T09:30:00.999Z");
  SECTION("nine fraction digits are accepted") {
    CHECK(reparsed("2026-01-06T09:30:00.123456789Z") == "2026-01-06T09:30:00.123Z");
    CHECK(reparsed("2026-01-06T09:30:00.999999999+01:00") == "2026-01-06T08:30:00.999Z");
  }
  SECTION("ten fraction digits are rejected") {
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00.1234567890Z"));
  }
  SECTION("a dot without digits is rejected") {
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00.Z"));
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00.+01:00"));
  }
}

TEST_CASE("parse_rfc3339 requires a time zone", "[time]") {
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00.123"));
  CHECK_FALSE(parse_rfc3339("2026-01-06"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:30Z"));
}

TEST_CASE("parse_rfc3339 knows leap years", "[time]") {
  CHECK(parse_rfc3339("2028-02-29T00:00:00Z") == utc(2028, 2, 29));
  CHECK(parse_rfc3339("2000-02-29T12:00:00Z") == utc(2000, 2, 29, 12));
  CHECK_FALSE(parse_rfc3339("2027-02-29T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("1900-02-29T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2028-02-30T00:00:00Z"));
}

TEST_CASE("parse_rfc3339 rejects out-of-range fields", "[time]") {
  CHECK_FALSE(parse_rfc3339("2026-00-10T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-13-10T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-00T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-32T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-04-31T00:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T24:00:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09:60:00Z"));
  SECTION("leap seconds are rejected") {
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:60Z"));
    CHECK_FALSE(parse_rfc3339("2016-12-31T23:59:60Z"));
  }
  CHECK(parse_rfc3339("2026-01-31T23:59:59Z") == utc(2026, 1, 31, 23, 59, 59));
}

TEST_CASE("parse_rfc3339 rejects malformed text", "[time]") {
  CHECK_FALSE(parse_rfc3339(""));
  CHECK_FALSE(parse_rfc3339("now"));
  CHECK_FALSE(parse_rfc3339("2026-1-6T09:30:00Z"));
  CHECK_FALSE(parse_rfc3339("2026/01/06T09:30:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-06X09:30:00Z"));
  CHECK_FALSE(parse_rfc3339("2026-01-06T09-30-00Z"));
  CHECK_FALSE(parse_rfc3339("+2026-01-06T09:30:00Z"));
  CHECK_FALSE(parse_rfc3339(" 2026-01-06T09:30:00Z"));
  CHECK_FALSE(parse_rfc3339("1767691800"));
  SECTION("trailing garbage") {
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00Zx"));
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00Z "));
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00ZZ"));
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+05:30x"));
    CHECK_FALSE(parse_rfc3339("2026-01-06T09:30:00+05:30:00"));
    CHECK_FALSE(parse_rfc3339(std::string_view("2026-01-06T09:30:00Z\0", 21)));
  }
}

TEST_CASE("parse_rfc3339 keeps instants within years 1..9999", "[time]") {
  CHECK(parse_rfc3339("0001-01-01T00:00:00Z") == utc(1, 1, 1));
  CHECK(parse_rfc3339("9999-12-31T23:59:59.999Z") == utc(9999, 12, 31, 23, 59, 59, 999));
  CHECK_FALSE(parse_rfc3339("0000-12-31T00:00:00Z"));
  // In range locally, out of range once converted to UTC.
  CHECK_FALSE(parse_rfc3339("9999-12-31T23:30:00-01:00"));
  CHECK_FALSE(parse_rfc3339("0001-01-01T00:30:00+01:00"));
  CHECK_FALSE(parse_rfc3339("10000-01-01T00:00:00Z"));
}

TEST_CASE("format and parse round-trip", "[time]") {
  SECTION("text -> instant -> text") {
    for (const char* text :
         {"2026-01-06T09:30:00.000Z", "1970-01-01T00:00:00.000Z", "1969-07-20T20:17:40.123Z",
          "2028-02-29T23:59:59.999Z", "0001-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z"}) {
      INFO(text);
      CHECK(reparsed(text) == text);
    }
  }
  SECTION("instant -> text -> instant") {
    const Timestamp now = libtodo::now_ms();
    for (const Timestamp t :
         {now, Timestamp{}, Timestamp{milliseconds{-1}}, utc(2026, 3, 29, 1, 59, 59, 1),
          utc(1, 1, 1), utc(9999, 12, 31, 23, 59, 59, 999)}) {
      const std::string text = format_rfc3339(t);
      INFO(text);
      CHECK(parse_rfc3339(text) == t);
    }
  }
}
