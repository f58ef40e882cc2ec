#pragma once
// The JSON mapping of tasks: reading request bodies into drafts and patches
// (collecting every bad field), and writing tasks straight into a buffer.

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <libtodo/errors.hpp>
#include <libtodo/task.hpp>

namespace todo_server {

/// A create or PUT body: `title` required; absent or null optional fields take
/// their defaults. Type and rule failures are appended to `errors`.
[[nodiscard]] libtodo::TaskDraft draft_from_json(const nlohmann::json& body,
                                                 std::vector<libtodo::FieldError>& errors);

/// A PATCH body (RFC 7396): absent fields stay; null clears a nullable field
/// and resets a field with a default; null `title` is an error.
[[nodiscard]] libtodo::TaskPatch patch_from_json(const nlohmann::json& body,
                                                 std::vector<libtodo::FieldError>& errors);

/// Appends the task's JSON object (SPEC §2 field names) to `out`.
void append_task_json(std::string& out, const libtodo::Task& task);

}  // namespace todo_server
