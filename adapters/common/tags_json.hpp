#pragma once
// Tags as a JSON array of strings: the SQLite column's format and what the
// PostgreSQL backend selects (array_to_json). Shared by the two bundled
// backends; not installed.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include <libtodo/errors.hpp>

namespace libtodo::detail {

inline std::string encode_tags(const std::vector<std::string>& tags) { return nlohmann::json(tags).dump(); }

// Read with nlohmann's SAX interface straight into the vector: listings
// decode the tags of every row, and a DOM per row was a tenth of a SQLite
// listing's CPU time (and 3% of a PostgreSQL one's, with the DOM's frees).
class TagsReader final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit TagsReader(std::vector<std::string>& out) : out_(out) {}
  bool string(string_t& v) override {
    if (depth_ != 1) return false;
    out_.push_back(std::move(v));
    return true;
  }
  bool start_array(std::size_t) override { return ++depth_ == 1; }
  bool end_array() override { return --depth_ == 0; }
  bool null() override { return false; }
  bool boolean(bool) override { return false; }
  bool number_integer(number_integer_t) override { return false; }
  bool number_unsigned(number_unsigned_t) override { return false; }
  bool number_float(number_float_t, const string_t&) override { return false; }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override { return false; }
  bool key(string_t&) override { return false; }
  bool end_object() override { return false; }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  std::vector<std::string>& out_;
  int depth_ = 0;
};

// Throws StorageError unless `text` is a JSON array of strings.
inline std::vector<std::string> decode_tags(std::string_view text) {
  std::vector<std::string> tags;
  if (text == "[]") return tags;
  TagsReader reader(tags);
  if (!nlohmann::json::sax_parse(text, &reader))
    throw StorageError("a task's tags column is not a JSON array of strings");
  return tags;
}

}  // namespace libtodo::detail
