#include "openapi.hpp"

#include <sys/stat.h>

#include <array>
#include <cstddef>
#include <fstream>
#include <iterator>
#include <sstream>

#include <nlohmann/json.hpp>

namespace todo_server {

namespace embedded {
// adapters/http/openapi.json, embedded by CMake (todo_embed_file).
extern const unsigned char openapi_json[];
extern const std::size_t openapi_json_size;
}  // namespace embedded

namespace {

using ordered_json = nlohmann::ordered_json;

constexpr std::string_view accounts_marker = "AUTH_ACCOUNTS";

bool requires_accounts(const ordered_json& node) {
  const auto it = node.find("x-requires");
  return it != node.end() && it->is_string() && it->get_ref<const std::string&>() == accounts_marker;
}

// Removes the members of `object` marked `x-requires: AUTH_ACCOUNTS`.
void drop_marked_members(ordered_json& object) {
  if (!object.is_object()) return;
  for (auto it = object.begin(); it != object.end();) {
    if (it->is_object() && requires_accounts(*it))
      it = object.erase(it);
    else
      ++it;
  }
}

// The document as the server serves it (insertion order kept, so paths and
// tags appear as written): without accounts, every path, tag and component
// marked `x-requires: AUTH_ACCOUNTS` is left out, as the server leaves the
// routes out.
std::string build_document(bool with_accounts) {
  const auto* begin = reinterpret_cast<const char*>(embedded::openapi_json);
  ordered_json doc = ordered_json::parse(begin, begin + embedded::openapi_json_size);
  if (!with_accounts) {
    drop_marked_members(doc["paths"]);
    if (auto tags = doc.find("tags"); tags != doc.end() && tags->is_array()) {
      ordered_json kept = ordered_json::array();
      for (auto& tag : *tags)
        if (!requires_accounts(tag)) kept.push_back(std::move(tag));
      *tags = std::move(kept);
    }
    if (auto components = doc.find("components"); components != doc.end() && components->is_object())
      for (auto& [kind, entries] : components->items()) drop_marked_members(entries);
  }
  return doc.dump();
}

// The page. Absolute URLs, so that /docs and /docs/ both work.
constexpr std::string_view index_html = R"html(<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>todo-server API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css">
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32">
    <link rel="icon" type="image/png" href="/docs/favicon-16x16.png" sizes="16x16">
    <style>html { box-sizing: border-box; overflow-y: scroll; } body { margin: 0; background: #fafafa; }</style>
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="utf-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="utf-8"></script>
    <script src="/docs/swagger-initializer.js" charset="utf-8"></script>
  </body>
</html>
)html";

// Replaces the package's swagger-initializer.js, which points at a public
// demo document: this one loads ours and nothing from elsewhere.
constexpr std::string_view initializer_js = R"js(window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayRequestDuration: true,
    persistAuthorization: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
};
)js";

struct PackageFile {
  std::string_view name;
  std::string_view content_type;
};

// The only files of the package that are served: fixed names, so no path
// from a request ever reaches the file system.
constexpr std::array<PackageFile, 8> package_files{{
    {"swagger-ui.css", "text/css; charset=utf-8"},
    {"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
    {"swagger-ui-standalone-preset.js", "text/javascript; charset=utf-8"},
    {"favicon-32x32.png", "image/png"},
    {"favicon-16x16.png", "image/png"},
    {"swagger-ui.css.map", "application/json"},
    {"swagger-ui-bundle.js.map", "application/json"},
    {"swagger-ui-standalone-preset.js.map", "application/json"},
}};

bool is_regular_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::optional<std::string> read_file(const std::string& path) {
  if (!is_regular_file(path)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(out).str();
}

// The package is there when its main script is.
bool package_installed(const std::string& dir) {
  return !dir.empty() && is_regular_file(dir + "/swagger-ui-bundle.js");
}

}  // namespace

const std::string& openapi_json(bool with_accounts) {
  // Built once each, on first use; C++ makes the initialization thread-safe.
  static const std::string full = build_document(true);
  static const std::string without_accounts = build_document(false);
  return with_accounts ? full : without_accounts;
}

std::optional<DocsAsset> docs_asset(std::string_view relative_path, const std::string& assets_dir) {
  if (!package_installed(assets_dir)) return std::nullopt;
  if (relative_path.empty() || relative_path == "index.html")
    return DocsAsset{"text/html; charset=utf-8", std::string(index_html)};
  if (relative_path == "swagger-initializer.js")
    return DocsAsset{"text/javascript; charset=utf-8", std::string(initializer_js)};
  for (const PackageFile& f : package_files) {
    if (f.name != relative_path) continue;
    auto body = read_file(assets_dir + "/" + std::string(f.name));
    if (!body) return std::nullopt;
    return DocsAsset{std::string(f.content_type), std::move(*body)};
  }
  return std::nullopt;
}

}  // namespace todo_server
