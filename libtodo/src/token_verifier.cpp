#include <libtodo/token_verifier.hpp>

namespace libtodo {

std::string_view to_string(AuthFailure f) noexcept {
  switch (f) {
    case AuthFailure::malformed: return "malformed";
    case AuthFailure::unsupported_algorithm: return "unsupported_algorithm";
    case AuthFailure::unknown_key: return "unknown_key";
    case AuthFailure::bad_signature: return "bad_signature";
    case AuthFailure::missing_expiry: return "missing_expiry";
    case AuthFailure::expired: return "expired";
    case AuthFailure::not_yet_valid: return "not_yet_valid";
    case AuthFailure::issued_in_future: return "issued_in_future";
    case AuthFailure::wrong_issuer: return "wrong_issuer";
    case AuthFailure::wrong_audience: return "wrong_audience";
    case AuthFailure::missing_subject: return "missing_subject";
    case AuthFailure::unsupported_critical: return "unsupported_critical";
  }
  return "unknown";
}

}  // namespace libtodo
