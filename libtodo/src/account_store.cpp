#include <libtodo/account_store.hpp>

#include <algorithm>

#include <libtodo/validation.hpp>

namespace libtodo {

std::string normalize_email(std::string_view email) {
  std::string s(trim_unicode(utf8_length(email) ? email : std::string_view{}));
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : static_cast<char>(c);
  });
  return s;
}

bool is_plausible_email(std::string_view e) {
  if (e.size() < 3 || e.size() > 254 || !utf8_length(e)) return false;
  if (std::any_of(e.begin(), e.end(), [](unsigned char c) { return c <= 0x20 || c == 0x7F; })) return false;
  const std::size_t at = e.find('@');
  if (at == std::string_view::npos || at == 0 || e.find('@', at + 1) != std::string_view::npos) return false;
  const std::string_view domain = e.substr(at + 1);
  const std::size_t dot = domain.find('.');
  return dot != std::string_view::npos && dot > 0 && dot + 1 < domain.size();
}

}  // namespace libtodo
