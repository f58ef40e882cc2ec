#pragma once
// The OpenAPI 3 document of todo-server's API, and the offline documentation
// page (/docs) that renders it.

#include <optional>
#include <string>
#include <string_view>

namespace todo_server {

/// The OpenAPI 3 document (adapters/http/openapi.json, embedded at build time).
/// With `with_accounts` false, the /api/auth routes are left out, as the
/// server leaves them out.
[[nodiscard]] const std::string& openapi_json(bool with_accounts);

/// A file of the /docs page.
struct DocsAsset {
  std::string content_type;
  std::string body;
};

/// The file `relative_path` of the /docs page ("" for the page itself),
/// served from `assets_dir` (the npm package's directory, installed by the
/// project's scripts). nullopt when the path is not part of the page or the
/// assets are not installed: the server then answers 404, and everything
/// else works.
[[nodiscard]] std::optional<DocsAsset> docs_asset(std::string_view relative_path, const std::string& assets_dir);

}  // namespace todo_server
