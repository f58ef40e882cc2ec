#pragma once
// HTTP helpers shared by todo-server's route handlers: the one error body of
// SPEC §3, JSON responses, and reading a JSON object body.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <libtodo/errors.hpp>
#include <libtodo/task_repository.hpp>

namespace todo_server {

/// Sets status, body and `Content-Type: application/json`.
void set_json(httplib::Response& res, int status, std::string body);

/// The error shape of SPEC §3, plus FastAPI's `detail`.
void send_error(httplib::Response& res, int status, std::string_view code, std::string_view message,
                const std::vector<libtodo::FieldError>& details = {});

/// 422 listing every failing field.
void send_validation(httplib::Response& res, const std::vector<libtodo::FieldError>& errors);

/// 503 with Retry-After.
void send_unavailable(httplib::Response& res);

/// A path segment with everything but RFC 3986 unreserved characters escaped.
std::string encode_segment(std::string_view s);

/// Why a body cannot be used, as the status and error it answers with.
struct BodyProblem {
  int status = 0;
  const char* code = "";
  std::string message;
  std::vector<libtodo::FieldError> details;
};

/// Parses a request body that must be a JSON object; on failure fills `problem`
/// (415 for a non-JSON content type, 400 for anything that is not a JSON object).
std::optional<nlohmann::json> read_object(const httplib::Request& req, BodyProblem& problem);

/// The list query of SPEC §3 from the request's query string. Unknown
/// parameter names are ignored; every malformed value is reported, named by
/// its parameter.
libtodo::TaskQuery parse_task_query(const httplib::Request& req, std::vector<libtodo::FieldError>& errors);

}  // namespace todo_server
