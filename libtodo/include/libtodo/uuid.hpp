#pragma once
// Task ids: UUID version 7 (RFC 9562), time-ordered, in canonical lower-case form.

#include <string>
#include <string_view>

#include <libtodo/core_export.hpp>

namespace libtodo {

/// A new UUIDv7. Ids made by one process are strictly increasing. Thread-safe.
[[nodiscard]] LIBTODO_CORE_EXPORT std::string new_uuid_v7();

/// True for the canonical 36-character form 8-4-4-4-12 with lower-case hex
/// digits, the only form the store issues. Anything else names no task.
[[nodiscard]] LIBTODO_CORE_EXPORT bool is_canonical_uuid(std::string_view s) noexcept;

}  // namespace libtodo
