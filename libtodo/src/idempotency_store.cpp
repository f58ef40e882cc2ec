#include <libtodo/idempotency_store.hpp>

#include <algorithm>

#include <libtodo/errors.hpp>
#include <libtodo/task_repository.hpp>

namespace libtodo {

bool is_valid_idempotency_key(std::string_view key) noexcept {
  return !key.empty() && key.size() <= 255 &&
         std::all_of(key.begin(), key.end(), [](char c) { return c >= 0x21 && c <= 0x7E; });
}

void check_idempotency_claim(const IdempotencyKey& key, std::string_view fingerprint) {
  require_valid_user_id(key.user_id);
  std::vector<FieldError> errors;
  if (key.route.empty() || key.route.size() > 255)
    errors.push_back({"route", "must be 1..255 bytes"});
  if (!is_valid_idempotency_key(key.key))
    errors.push_back({"key", "must be 1..255 visible ASCII characters"});
  if (fingerprint.empty() || fingerprint.size() > 255)
    errors.push_back({"fingerprint", "must be 1..255 bytes"});
  if (!errors.empty()) throw ValidationError(std::move(errors));
}

std::string encode_stored_headers(const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out;
  for (const auto& [name, value] : headers)
    out.append(name).append(": ").append(value).append("\n");
  return out;
}

std::vector<std::pair<std::string, std::string>> decode_stored_headers(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!text.empty()) {
    const std::string_view line = text.substr(0, text.find('\n'));
    text.remove_prefix(std::min(text.size(), line.size() + 1));
    const auto colon = line.find(": ");
    if (colon == std::string_view::npos) continue;
    out.emplace_back(std::string(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
  return out;
}

}  // namespace libtodo
