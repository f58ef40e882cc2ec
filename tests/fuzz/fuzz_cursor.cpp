// libFuzzer target: pagination cursors (PageCursor::decode, then check_query
// and a listing on a small SQLite store). A cursor that decodes must encode
// back to one that decodes to the same position, hold only values a task can
// have, and page a listing of its sort without any error.

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <libtodo/task_repository.hpp>
#include <libtodo/validation.hpp>

#include "fuzz/fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const auto cursor = libtodo::PageCursor::decode(text);
  if (!cursor) return 0;
  const std::string encoded = cursor->encode();
  const auto again = libtodo::PageCursor::decode(encoded);
  fuzz::check(again.has_value(), "an encoded cursor decodes");
  fuzz::check(again->sort == cursor->sort && again->descending == cursor->descending &&
                  again->number == cursor->number && again->title == cursor->title &&
                  again->id == cursor->id,
              "a cursor survives encode and decode");
  fuzz::check(again->encode() == encoded, "encoding is canonical");
  for (const char c : encoded)
    fuzz::check(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_',
                "a cursor needs no URL escaping");
  if (cursor->number && cursor->sort == libtodo::SortKey::priority)
    fuzz::check(*cursor->number >= 0 && *cursor->number <= 2, "a priority cursor holds a priority");
  if (cursor->number && cursor->sort != libtodo::SortKey::priority) {
    // An instant a task can hold is one that RFC 3339 text (years 1..9999) can carry.
    const libtodo::Timestamp t = libtodo::from_unix_ms(*cursor->number);
    fuzz::check(libtodo::parse_rfc3339(libtodo::format_rfc3339(t)) == t,
                "an instant cursor holds a possible instant");
  }
  if (cursor->sort == libtodo::SortKey::title)
    fuzz::check(!libtodo::has_control_characters(cursor->title, true),
                "a title cursor holds a possible title");

  libtodo::TaskQuery q;
  q.sort = cursor->sort;
  q.descending = cursor->descending;
  q.limit = 2;
  q.cursor = text;
  std::vector<libtodo::FieldError> errors;
  libtodo::check_query(q, errors);
  fuzz::check(errors.empty(), "a decodable cursor fits its own sort");
  try {
    (void)fuzz::sample_store().list("u", q);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "list failed: %s\n", e.what());
    fuzz::check(false, "a decodable cursor lists without error");
  }
  return 0;
}
