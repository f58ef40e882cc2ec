#pragma once
// The one exception hierarchy of libtodo. Backend exceptions (SQLite, libpq,
// OpenSSL) never cross the library's interfaces: adapters translate them into
// these types, so callers catch libtodo::Error and nothing else.

#include <stdexcept>
#include <string>
#include <vector>

#include <libtodo/core_export.hpp>

namespace libtodo {

/// Root of every exception libtodo throws.
class LIBTODO_CORE_EXPORT Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One failing field of a validation: `field` is the JSON name ("title",
/// "tags[2]"), `message` says what is wrong with it.
struct FieldError {
  std::string field;
  std::string message;
  friend bool operator==(const FieldError&, const FieldError&) = default;
};

/// Input broke one or more rules of the task model; lists every failing field.
class LIBTODO_CORE_EXPORT ValidationError : public Error {
 public:
  /// `what()` reads "<field> <message>" of the first error, and how many more there are.
  explicit ValidationError(std::vector<FieldError> errors);
  /// Every failing field, in the order the rules were checked.
  [[nodiscard]] const std::vector<FieldError>& errors() const noexcept { return errors_; }

 private:
  std::vector<FieldError> errors_;
};

/// The storage backend failed (a bug, corruption, a constraint). Maps to 500.
class LIBTODO_CORE_EXPORT StorageError : public Error {
 public:
  using Error::Error;
};

/// The storage backend cannot be reached or is too busy right now; retrying
/// later may succeed. Maps to 503 with Retry-After.
class LIBTODO_CORE_EXPORT StorageUnavailable : public StorageError {
 public:
  using StorageError::StorageError;
};

/// A conditional write found the task at another version than the caller
/// expected (a Precondition; HTTP If-Match): nothing was changed. Maps to 412.
class LIBTODO_CORE_EXPORT PreconditionFailed : public Error {
 public:
  using Error::Error;
};

/// Configuration that cannot work (missing secret, bad URL, ...).
class LIBTODO_CORE_EXPORT ConfigError : public Error {
 public:
  using Error::Error;
};

}  // namespace libtodo
