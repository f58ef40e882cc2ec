#pragma once
// The validation rules of the task model. Repositories run them on every
// write, so an embedding program gets exactly the rules HTTP clients get.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libtodo/core_export.hpp>
#include <libtodo/errors.hpp>
#include <libtodo/task.hpp>

namespace libtodo {

inline constexpr std::size_t max_title_chars = 500;
inline constexpr std::size_t max_description_chars = 2000;
inline constexpr std::size_t max_tags = 20;
inline constexpr std::size_t max_tag_chars = 50;
inline constexpr std::size_t max_user_id_bytes = 255;

/// Number of Unicode code points in `s`, or nullopt when `s` is not valid
/// UTF-8 (overlong forms, surrogates and values above U+10FFFF are invalid).
[[nodiscard]] LIBTODO_CORE_EXPORT std::optional<std::size_t> utf8_length(
    std::string_view s) noexcept;

/// `s` without leading and trailing Unicode white space. `s` must be valid UTF-8.
[[nodiscard]] LIBTODO_CORE_EXPORT std::string_view trim_unicode(std::string_view s) noexcept;

/// Normalizes `draft` in place (trims the title and tags, removes duplicate
/// tags keeping the first) and appends every broken rule to `errors`.
LIBTODO_CORE_EXPORT void check_draft(TaskDraft& draft, std::vector<FieldError>& errors);
/// The same for the fields a patch sets.
LIBTODO_CORE_EXPORT void check_patch(TaskPatch& patch, std::vector<FieldError>& errors);

/// check_draft / check_patch, throwing ValidationError when anything fails.
LIBTODO_CORE_EXPORT void validate(TaskDraft& draft);
LIBTODO_CORE_EXPORT void validate(TaskPatch& patch);

/// Whether `s` holds a control character no stored text may hold: C0 (NUL in
/// particular), DEL or C1; tab, line feed and carriage return count only
/// unless `allow_line_breaks` (titles and descriptions may hold them, tags
/// and user ids not). `s` must be valid UTF-8.
[[nodiscard]] bool has_control_characters(std::string_view s, bool allow_line_breaks) noexcept;

/// A user id is opaque text of 1..255 bytes of valid UTF-8.
[[nodiscard]] LIBTODO_CORE_EXPORT bool is_valid_user_id(std::string_view user_id) noexcept;

}  // namespace libtodo
