// The validation rules of the task model (SPEC §2 and §3 "Precise rules").

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <libtodo/errors.hpp>
#include <libtodo/task.hpp>
#include <libtodo/validation.hpp>

namespace {

using libtodo::FieldError;
using libtodo::TaskDraft;
using libtodo::TaskPatch;

const std::string e_acute = "\xC3\xA9";                // U+00E9, 2 bytes
const std::string cjk = "\xE6\x97\xA5";                // U+65E5, 3 bytes
const std::string grinning = "\xF0\x9F\x98\x80";       // U+1F600, 4 bytes
const std::string ideographic_space = "\xE3\x80\x80";  // U+3000
const std::string nbsp = "\xC2\xA0";                   // U+00A0
const std::string em_space = "\xE2\x80\x83";           // U+2003
const std::string zero_width_space = "\xE2\x80\x8B";   // U+200B, not White_Space

std::string repeat(const std::string& unit, std::size_t n) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += unit;
  return s;
}

std::vector<FieldError> errors_of(TaskDraft& d) {
  std::vector<FieldError> errors;
  libtodo::check_draft(d, errors);
  return errors;
}

std::vector<FieldError> errors_of(TaskDraft&& d) {
  return errors_of(d);
}

std::vector<FieldError> errors_of(TaskPatch& p) {
  std::vector<FieldError> errors;
  libtodo::check_patch(p, errors);
  return errors;
}

std::vector<std::string> fields(const std::vector<FieldError>& errors) {
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.field);
  return out;
}

TaskDraft titled(std::string title) {
  TaskDraft d;
  d.title = std::move(title);
  return d;
}

TaskDraft tagged(std::vector<std::string> tags) {
  TaskDraft d = titled("t");
  d.tags = std::move(tags);
  return d;
}

TaskDraft described(std::string description) {
  TaskDraft d = titled("t");
  d.description = std::move(description);
  return d;
}

std::vector<std::string> numbered_tags(std::size_t n) {
  std::vector<std::string> tags;
  for (std::size_t i = 0; i < n; ++i) tags.push_back("tag" + std::to_string(i));
  return tags;
}

}  // namespace

// --- utf8_length / trim_unicode / is_valid_user_id -------------------------------------------

TEST_CASE("utf8_length counts code points", "[validation][utf8]") {
  CHECK(libtodo::utf8_length("") == 0u);
  CHECK(libtodo::utf8_length("abc") == 3u);
  CHECK(libtodo::utf8_length(e_acute) == 1u);
  CHECK(libtodo::utf8_length(cjk) == 1u);
  CHECK(libtodo::utf8_length(grinning) == 1u);
  CHECK(libtodo::utf8_length("a" + e_acute + cjk + grinning + "z") == 5u);
  CHECK(libtodo::utf8_length("\xF4\x8F\xBF\xBF") == 1u);  // U+10FFFF, the last code point
  CHECK(libtodo::utf8_length("\xEF\xBF\xBD") == 1u);      // U+FFFD
  CHECK(libtodo::utf8_length(std::string("a\0b", 3)) == 3u);
}

TEST_CASE("utf8_length rejects ill-formed UTF-8", "[validation][utf8]") {
  const char* bad[] = {
      "\x80",              // lone continuation byte
      "a\xBF",             // continuation without a lead
      "\xC3\x28",          // bad continuation
      "\xC3",              // truncated 2-byte sequence
      "\xE2\x82",          // truncated 3-byte sequence
      "\xF0\x9F\x98",      // truncated 4-byte sequence
      "\xC0\x80",          // overlong NUL
      "\xC1\xBF",          // overlong 2-byte
      "\xE0\x80\xAF",      // overlong 3-byte
      "\xF0\x80\x80\xAF",  // overlong 4-byte
      "\xED\xA0\x80",      // U+D800, a surrogate
      "\xED\xBF\xBF",      // U+DFFF, a surrogate
      "\xF4\x90\x80\x80",  // U+110000, beyond Unicode
      "\xF5\x80\x80\x80",  // invalid lead byte
      "\xFE",              // never valid
      "\xFF",              // never valid
      "ok\xE6\x97",        // truncated at the end after valid text
  };
  for (const char* s : bad) {
    INFO("bytes: " << Catch::Detail::stringify(std::string(s)));
    CHECK_FALSE(libtodo::utf8_length(s));
  }
}

TEST_CASE("trim_unicode strips Unicode white space at both ends", "[validation][trim]") {
  CHECK(libtodo::trim_unicode("") == "");
  CHECK(libtodo::trim_unicode("   ") == "");
  CHECK(libtodo::trim_unicode("  hello  ") == "hello");
  CHECK(libtodo::trim_unicode("\t\n\r\v\f x \r\n") == "x");
  CHECK(libtodo::trim_unicode("a  b") == "a  b");
  CHECK(libtodo::trim_unicode(ideographic_space + "hello" + nbsp) == "hello");
  CHECK(libtodo::trim_unicode(em_space + nbsp + "x" + ideographic_space + em_space) == "x");
  CHECK(libtodo::trim_unicode(" " + cjk + cjk + " ") == cjk + cjk);
  CHECK(libtodo::trim_unicode(grinning + nbsp) == grinning);
  CHECK(libtodo::trim_unicode(nbsp + e_acute) == e_acute);
  // Inner white space is kept; zero-width space is not White_Space.
  CHECK(libtodo::trim_unicode(nbsp + "a" + nbsp + "b" + nbsp) == "a" + nbsp + "b");
  CHECK(libtodo::trim_unicode(zero_width_space + "a") == zero_width_space + "a");
}

TEST_CASE("is_valid_user_id takes 1..255 bytes of text", "[validation][user_id]") {
  CHECK_FALSE(libtodo::is_valid_user_id(""));
  CHECK(libtodo::is_valid_user_id("a"));
  CHECK(libtodo::is_valid_user_id("Xk3v9QpR2mN8wL5tY7hJ4bF6cD1gS0aZ"));  // Better Auth style
  CHECK(libtodo::is_valid_user_id(std::string(255, 'u')));
  CHECK_FALSE(libtodo::is_valid_user_id(std::string(256, 'u')));
  // The limit is bytes, not code points: 85 three-byte characters = 255 bytes.
  CHECK(libtodo::is_valid_user_id(repeat(cjk, 85)));
  CHECK_FALSE(libtodo::is_valid_user_id(repeat(cjk, 85) + "x"));
  CHECK_FALSE(libtodo::is_valid_user_id("\xC0\x80"));
  CHECK_FALSE(libtodo::is_valid_user_id(std::string("a\0b", 3)));
}

// --- title ------------------------------------------------------------------------------------

TEST_CASE("title is trimmed", "[validation][title]") {
  SECTION("ASCII white space") {
    TaskDraft d = titled("  \t Buy milk \n ");
    CHECK(errors_of(d).empty());
    CHECK(d.title == "Buy milk");
  }
  SECTION("Unicode white space") {
    TaskDraft d = titled(ideographic_space + nbsp + "Buy milk" + nbsp + ideographic_space);
    CHECK(errors_of(d).empty());
    CHECK(d.title == "Buy milk");
  }
  SECTION("inner white space is kept") {
    TaskDraft d = titled(" a  b ");
    CHECK(errors_of(d).empty());
    CHECK(d.title == "a  b");
  }
}

TEST_CASE("title must not be empty", "[validation][title]") {
  for (const std::string& t : {std::string(), std::string("   "), std::string("\t\r\n"),
                               ideographic_space + nbsp + em_space}) {
    INFO("title: " << Catch::Detail::stringify(t));
    const auto errors = errors_of(titled(t));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "title");
    CHECK(errors[0].message == "must not be empty");
  }
}

TEST_CASE("title is at most 500 code points", "[validation][title]") {
  for (const std::string& unit : {std::string("a"), e_acute, cjk, grinning}) {
    INFO("unit: " << Catch::Detail::stringify(unit));
    CHECK(errors_of(titled(repeat(unit, 500))).empty());
    const auto errors = errors_of(titled(repeat(unit, 501)));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "title");
    CHECK(errors[0].message == "must be at most 500 characters");
  }
  SECTION("the limit applies after trimming") {
    TaskDraft d = titled("   " + repeat("a", 500) + "   ");
    CHECK(errors_of(d).empty());
    CHECK(d.title.size() == 500);
  }
}

TEST_CASE("title must be valid UTF-8", "[validation][title]") {
  for (const char* bad :
       {"\xC3\x28", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "abc\xE2\x82", "\xFF"}) {
    INFO("bytes: " << Catch::Detail::stringify(std::string(bad)));
    const auto errors = errors_of(titled(bad));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "title");
    CHECK(errors[0].message == "must be valid UTF-8");
  }
}

TEST_CASE("title control characters", "[validation][title]") {
  SECTION("NUL and other control characters are rejected") {
    for (const std::string& t : {std::string("a\0b", 3), std::string("a\x01z"),
                                 std::string("a\x1B[31mred"), std::string("a\x7F")}) {
      INFO("title: " << Catch::Detail::stringify(t));
      CHECK(fields(errors_of(titled(t))) == std::vector<std::string>{"title"});
    }
  }
  SECTION("tab and line breaks inside are allowed") {
    TaskDraft d = titled("line 1\nline 2\r\n\tindented");
    CHECK(errors_of(d).empty());
    CHECK(d.title == "line 1\nline 2\r\n\tindented");
  }
}

// --- description ------------------------------------------------------------------------------

TEST_CASE("description is optional and at most 2000 code points", "[validation][description]") {
  CHECK(errors_of(titled("t")).empty());
  CHECK(errors_of(described("")).empty());
  for (const std::string& unit : {std::string("d"), e_acute, grinning}) {
    INFO("unit: " << Catch::Detail::stringify(unit));
    CHECK(errors_of(described(repeat(unit, 2000))).empty());
    const auto errors = errors_of(described(repeat(unit, 2001)));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "description");
    CHECK(errors[0].message == "must be at most 2000 characters");
  }
}

TEST_CASE("description characters", "[validation][description]") {
  SECTION("tab and line breaks allowed") {
    TaskDraft d = described("step 1:\n\tdo it\r\n");
    CHECK(errors_of(d).empty());
    CHECK(d.description == "step 1:\n\tdo it\r\n");
  }
  SECTION("NUL rejected") {
    CHECK(fields(errors_of(described(std::string("a\0b", 3)))) ==
          std::vector<std::string>{"description"});
  }
  SECTION("invalid UTF-8 rejected") {
    CHECK(fields(errors_of(described("\xED\xA0\x80"))) == std::vector<std::string>{"description"});
  }
}

// --- tags -------------------------------------------------------------------------------------

TEST_CASE("tags are trimmed", "[validation][tags]") {
  TaskDraft d = tagged({"  work ", ideographic_space + "home" + nbsp, "a b"});
  CHECK(errors_of(d).empty());
  CHECK(d.tags == std::vector<std::string>{"work", "home", "a b"});
}

TEST_CASE("an empty tag is rejected with its index", "[validation][tags]") {
  for (const std::string& empty : {std::string(), std::string("  "), nbsp}) {
    INFO("tag: " << Catch::Detail::stringify(empty));
    const auto errors = errors_of(tagged({"ok", empty}));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "tags[1]");
    CHECK(errors[0].message == "must not be empty");
  }
}

TEST_CASE("a tag is at most 50 code points", "[validation][tags]") {
  for (const std::string& unit : {std::string("x"), e_acute, grinning}) {
    INFO("unit: " << Catch::Detail::stringify(unit));
    CHECK(errors_of(tagged({repeat(unit, 50)})).empty());
    const auto errors = errors_of(tagged({"ok", repeat(unit, 51)}));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "tags[1]");
    CHECK(errors[0].message == "must be at most 50 characters");
  }
}

TEST_CASE("at most 20 distinct tags", "[validation][tags]") {
  SECTION("20 is fine") {
    TaskDraft d = tagged(numbered_tags(20));
    CHECK(errors_of(d).empty());
    CHECK(d.tags.size() == 20);
  }
  SECTION("21 distinct is too many") {
    const auto errors = errors_of(tagged(numbered_tags(21)));
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].field == "tags");
  }
  SECTION("the limit counts the de-duplicated list") {
    auto tags = numbered_tags(20);
    tags.push_back("tag0");
    tags.push_back(" tag5 ");  // a duplicate once trimmed
    TaskDraft d = tagged(tags);
    CHECK(errors_of(d).empty());
    CHECK(d.tags == numbered_tags(20));
  }
}

TEST_CASE("duplicate tags are removed keeping the first, case-sensitively", "[validation][tags]") {
  SECTION("order kept") {
    TaskDraft d = tagged({"b", "a", "b", "c", "a"});
    CHECK(errors_of(d).empty());
    CHECK(d.tags == std::vector<std::string>{"b", "a", "c"});
  }
  SECTION("duplicates after trimming") {
    TaskDraft d = tagged({" a", "a ", nbsp + "a"});
    CHECK(errors_of(d).empty());
    CHECK(d.tags == std::vector<std::string>{"a"});
  }
  SECTION("case matters") {
    TaskDraft d = tagged({"Work", "work", "WORK", "work"});
    CHECK(errors_of(d).empty());
    CHECK(d.tags == std::vector<std::string>{"Work", "work", "WORK"});
  }
}

TEST_CASE("a tag may hold no control character at all", "[validation][tags]") {
  for (const std::string& tag :
       {std::string("a\tb"), std::string("a\nb"), std::string("a\rb"), std::string("a\0b", 3),
        std::string("a\x01"), std::string("a\x7F")}) {
    INFO("tag: " << Catch::Detail::stringify(tag));
    CHECK(fields(errors_of(tagged({"ok", tag}))) == std::vector<std::string>{"tags[1]"});
  }
}

// U+0080..U+009F are control characters too (category Cc).
TEST_CASE("a tag rejects C1 control characters", "[validation][tags]") {
  for (const std::string& tag : {std::string("a\xC2\x80z"), std::string("a\xC2\x9Bz")}) {
    INFO("tag: " << Catch::Detail::stringify(tag));
    CHECK(fields(errors_of(tagged({tag}))) == std::vector<std::string>{"tags[0]"});
  }
}

TEST_CASE("a tag must be valid UTF-8", "[validation][tags]") {
  const auto errors = errors_of(tagged({"\xC0\x80"}));
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].field == "tags[0]");
  CHECK(errors[0].message == "must be valid UTF-8");
}

// --- all errors at once / validate ------------------------------------------------------------

TEST_CASE("every failing field is reported at once", "[validation]") {
  TaskDraft d;
  d.title = "   ";
  d.description = std::string(2001, 'd');
  d.tags = {"fine", "", "also fine", std::string(51, 't')};
  const auto errors = errors_of(d);
  CHECK(fields(errors) == std::vector<std::string>{"title", "description", "tags[1]", "tags[3]"});

  SECTION("the three-field case") {
    TaskDraft e;
    e.title = std::string("\0", 1);
    e.description = "\xED\xA0\x80";
    e.tags = {"ok", std::string(51, 'x')};
    CHECK(fields(errors_of(e)) == std::vector<std::string>{"title", "description", "tags[1]"});
  }
}

TEST_CASE("validate throws ValidationError listing every error", "[validation]") {
  TaskDraft d;
  d.title = "";
  d.description = std::string(2001, 'd');
  d.tags = {"ok", "  "};
  try {
    libtodo::validate(d);
    FAIL("validate did not throw");
  } catch (const libtodo::ValidationError& e) {
    CHECK(fields(e.errors()) == std::vector<std::string>{"title", "description", "tags[1]"});
    CHECK(e.errors()[0] == FieldError{"title", "must not be empty"});
    CHECK_THAT(e.what(), Catch::Contains("title"));
  }
  SECTION("it is a libtodo::Error") {
    TaskDraft bad = titled("");
    CHECK_THROWS_AS(libtodo::validate(bad), libtodo::Error);
  }
}

TEST_CASE("validate normalizes a valid draft and does not throw", "[validation]") {
  TaskDraft d = titled("  Title  ");
  d.tags = {" x ", "x", "y"};
  REQUIRE_NOTHROW(libtodo::validate(d));
  CHECK(d.title == "Title");
  CHECK(d.tags == std::vector<std::string>{"x", "y"});
}

// --- patches ----------------------------------------------------------------------------------

TEST_CASE("check_patch checks only the fields present", "[validation][patch]") {
  SECTION("an empty patch is valid") {
    TaskPatch p;
    CHECK(errors_of(p).empty());
  }
  SECTION("absent title is not 'empty'") {
    TaskPatch p;
    p.priority = libtodo::Priority::high;
    CHECK(errors_of(p).empty());
  }
  SECTION("a present title is checked and trimmed") {
    TaskPatch p;
    p.title = " New ";
    CHECK(errors_of(p).empty());
    CHECK(p.title == "New");
    p.title = "  ";
    CHECK(fields(errors_of(p)) == std::vector<std::string>{"title"});
  }
  SECTION("clearing the description is valid") {
    TaskPatch p;
    p.description.emplace(std::nullopt);
    CHECK(errors_of(p).empty());
  }
  SECTION("a present description is checked") {
    TaskPatch p;
    p.description.emplace(std::string(2001, 'd'));
    CHECK(fields(errors_of(p)) == std::vector<std::string>{"description"});
  }
  SECTION("present tags are checked and normalized") {
    TaskPatch p;
    p.tags = std::vector<std::string>{" a ", "a", "b"};
    CHECK(errors_of(p).empty());
    CHECK(p.tags == std::vector<std::string>{"a", "b"});
    p.tags = numbered_tags(21);
    CHECK(fields(errors_of(p)) == std::vector<std::string>{"tags"});
  }
  SECTION("every failing field at once") {
    TaskPatch p;
    p.title = "";
    p.description.emplace(std::string(2001, 'd'));
    p.tags = std::vector<std::string>{"ok", ""};
    CHECK(fields(errors_of(p)) == std::vector<std::string>{"title", "description", "tags[1]"});
    CHECK_THROWS_AS(libtodo::validate(p), libtodo::ValidationError);
  }
}
