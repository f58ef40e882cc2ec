#include <libtodo/errors.hpp>

namespace libtodo {
namespace {

std::string summarize(const std::vector<FieldError>& errors) {
  if (errors.empty()) return "invalid task";
  std::string s = errors.front().field + " " + errors.front().message;
  if (errors.size() > 1) s += " (and " + std::to_string(errors.size() - 1) + " more)";
  return s;
}

}  // namespace

ValidationError::ValidationError(std::vector<FieldError> errors)
    : Error(summarize(errors)), errors_(std::move(errors)) {}

}  // namespace libtodo
