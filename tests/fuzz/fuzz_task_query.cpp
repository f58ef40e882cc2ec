// libFuzzer target: the list query string of GET /api/tasks, parsed the way
// todo-server parses it (cpp-httplib's parse_query_text, then
// parse_task_query in adapters/http/src/http_util.cpp), and run on a small
// SQLite store. A query the parser accepts must pass the library's own
// check and list without any error.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <httplib.h>

#include <libtodo/task_repository.hpp>

#include "fuzz/fuzz_util.hpp"
#include "http_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  httplib::Request req;
  httplib::detail::parse_query_text(std::string(reinterpret_cast<const char*>(data), size),
                                    req.params);
  std::vector<libtodo::FieldError> errors;
  const libtodo::TaskQuery query = todo_server::parse_task_query(req, errors);
  if (!errors.empty()) {
    for (const auto& e : errors)
      fuzz::check(!e.field.empty() && !e.message.empty(), "errors name a field");
    return 0;
  }
  std::vector<libtodo::FieldError> more;
  libtodo::check_query(query, more);
  fuzz::check(more.empty(), "an accepted query passes check_query");
  try {
    const libtodo::TaskPage page = fuzz::sample_store().list("u", query);
    if (query.limit)
      fuzz::check(page.tasks.size() <= *query.limit, "a page holds at most limit tasks");
    if (page.next_cursor) {
      libtodo::TaskQuery next = query;
      next.cursor = page.next_cursor;
      (void)fuzz::sample_store().list("u", next);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "list failed: %s\n", e.what());
    fuzz::check(false, "an accepted query lists without error");
  }
  return 0;
}
