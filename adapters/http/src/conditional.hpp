#pragma once
// Conditional requests (RFC 9110 §8.8.3, §13): the strong ETag of a task,
// built from its stored version, and the If-Match / If-None-Match lists.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>

#include <libtodo/task_repository.hpp>

namespace todo_server {

/// The strong entity tag of a task at `version`: `"<version>"`. The version
/// changes on every modification, so the tag does; the same version always
/// has the same representation.
[[nodiscard]] std::string etag_for(std::int64_t version);

/// An If-Match / If-None-Match field value: `*`, or a list of entity tags.
struct EntityTags {
  struct Tag {
    bool weak = false;
    std::string opaque;  ///< without the quotes
  };
  bool any = false;  ///< `*`
  std::vector<Tag> tags;
};

/// Parses a field value; nullopt when it is neither `*` nor a
/// comma-separated list of (possibly weak) entity tags.
[[nodiscard]] std::optional<EntityTags> parse_entity_tags(std::string_view value);

/// Every field line of `name`, joined by ", " (a list may be split over
/// lines); nullopt when the request has none.
[[nodiscard]] std::optional<std::string> joined_header(const httplib::Request& req,
                                                       const char* name);

/// If-Match as a repository precondition: `*` is none (the task must merely
/// exist); otherwise the versions of the strong tags of our form. Strong
/// comparison: a weak tag never matches, so a list of only weak or foreign
/// tags is a precondition no version satisfies.
[[nodiscard]] libtodo::Precondition if_match_precondition(const EntityTags& tags);

/// If-None-Match on a read: true when the task at `version` matches the list
/// (weak comparison), i.e. the client's copy is current and 304 is the answer.
[[nodiscard]] bool none_match_fails(const EntityTags& tags, std::int64_t version);

}  // namespace todo_server
