#include "conditional.hpp"

#include <charconv>

namespace todo_server {

std::string etag_for(std::int64_t version) {
  return "\"" + std::to_string(version) + "\"";
}

namespace {

bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

// etagc = %x21 / %x23-7E / obs-text (RFC 9110 §8.8.3)
bool is_etagc(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == 0x21 || (u >= 0x23 && u != 0x7F);
}

std::optional<std::int64_t> version_of(const EntityTags::Tag& t) {
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(t.opaque.data(), t.opaque.data() + t.opaque.size(), v);
  if (ec != std::errc{} || p != t.opaque.data() + t.opaque.size() || t.opaque.empty() || v < 1)
    return std::nullopt;
  return v;
}

}  // namespace

std::optional<EntityTags> parse_entity_tags(std::string_view value) {
  const auto trim = [](std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
  };
  EntityTags out;
  value = trim(value);
  if (value == "*") {
    out.any = true;
    return out;
  }
  // 1#entity-tag; empty list elements are allowed and ignored (RFC 9110 §5.6.1).
  while (!value.empty()) {
    if (value.front() == ',') {
      value = trim(value.substr(1));
      continue;
    }
    EntityTags::Tag tag;
    if (value.substr(0, 2) == "W/") {
      tag.weak = true;
      value.remove_prefix(2);
    }
    if (value.empty() || value.front() != '"') return std::nullopt;
    const auto close = value.find('"', 1);
    if (close == std::string_view::npos) return std::nullopt;
    tag.opaque = std::string(value.substr(1, close - 1));
    for (const char c : tag.opaque)
      if (!is_etagc(c)) return std::nullopt;
    out.tags.push_back(std::move(tag));
    value = trim(value.substr(close + 1));
    if (!value.empty() && value.front() != ',') return std::nullopt;
  }
  if (out.tags.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> joined_header(const httplib::Request& req, const char* name) {
  const auto [begin, end] = req.headers.equal_range(name);
  if (begin == end) return std::nullopt;
  std::string joined;
  for (auto it = begin; it != end; ++it) {
    if (!joined.empty()) joined += ", ";
    joined += it->second;
  }
  return joined;
}

libtodo::Precondition if_match_precondition(const EntityTags& tags) {
  if (tags.any) return {};
  std::vector<std::int64_t> versions;
  for (const auto& t : tags.tags)
    if (!t.weak)
      if (const auto v = version_of(t)) versions.push_back(*v);
  return libtodo::Precondition::any_of(std::move(versions));
}

bool none_match_fails(const EntityTags& tags, std::int64_t version) {
  if (tags.any) return true;
  for (const auto& t : tags.tags)
    if (version_of(t) == version) return true;
  return false;
}

}  // namespace todo_server
