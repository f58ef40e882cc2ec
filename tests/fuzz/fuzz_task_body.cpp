// libFuzzer target: a request body to a validated task, the way todo-server
// reads POST, PUT and PATCH bodies (read_object, then draft_from_json or
// patch_from_json in adapters/http/src). The first input byte picks the route
// ('C' create, 'U' PUT, else PATCH); the rest is the body.
//
// What a body that passes must satisfy: validating it again changes nothing
// and finds nothing; the task it makes (or the task it patches) writes JSON
// that reads back into the same fields.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include <libtodo/task_repository.hpp>
#include <libtodo/validation.hpp>

#include "fuzz/fuzz_util.hpp"
#include "http_util.hpp"
#include "task_json.hpp"

namespace {

using libtodo::FieldError;
using libtodo::Task;

Task base_task() {
  libtodo::TaskDraft d;
  d.title = "base";
  d.description = "a description";
  d.tags = {"a", "b"};
  d.due_date = libtodo::from_unix_ms(1767225600000);
  d.recurrence = libtodo::Recurrence::weekly;
  return libtodo::new_task("u", std::move(d), libtodo::from_unix_ms(1767225600000));
}

// The editable fields of `t` as a draft.
libtodo::TaskDraft draft_of(const Task& t) {
  return {t.title, t.description, t.completed, t.priority, t.tags, t.due_date, t.recurrence};
}

bool same_fields(const libtodo::TaskDraft& a, const libtodo::TaskDraft& b) {
  return a.title == b.title && a.description == b.description && a.completed == b.completed &&
         a.priority == b.priority && a.tags == b.tags && a.due_date == b.due_date &&
         a.recurrence == b.recurrence;
}

// A valid task written as JSON reads back as the same, valid draft.
void check_round_trip(const Task& t) {
  libtodo::TaskDraft fields = draft_of(t);
  std::vector<FieldError> errors;
  libtodo::check_draft(fields, errors);
  fuzz::check(errors.empty(), "a task made from a valid body is valid");
  fuzz::check(same_fields(fields, draft_of(t)), "a valid task is already normalized");
  std::string out;
  todo_server::append_task_json(out, t);
  const nlohmann::json j = nlohmann::json::parse(out, nullptr, false);
  fuzz::check(j.is_object(), "a task is written as a JSON object");
  const libtodo::TaskDraft back = todo_server::draft_from_json(j, errors);
  fuzz::check(errors.empty(), "a task's JSON is a valid create body");
  fuzz::check(same_fields(back, draft_of(t)), "a task's JSON reads back into the same fields");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const char route = static_cast<char>(data[0]);
  httplib::Request req;
  req.body.assign(reinterpret_cast<const char*>(data) + 1, size - 1);
  req.set_header("Content-Type", "application/json");
  todo_server::BodyProblem problem;
  const auto body = todo_server::read_object(req, problem);
  if (!body) {
    fuzz::check(problem.status == 400, "an unusable JSON body is a 400");
    return 0;
  }
  std::vector<FieldError> errors;
  if (route == 'C' || route == 'U') {
    libtodo::TaskDraft draft = todo_server::draft_from_json(*body, errors);
    if (!errors.empty()) return 0;
    libtodo::TaskDraft again = draft;
    libtodo::validate(again);  // throws (and so fails the run) if it finds anything
    fuzz::check(same_fields(again, draft), "validating a valid draft again changes nothing");
    if (route == 'C') {
      check_round_trip(libtodo::new_task("u", std::move(draft), libtodo::now_ms()));
    } else {
      Task replaced = base_task();
      libtodo::apply_patch(replaced, libtodo::TaskPatch::replacing(draft));
      fuzz::check(same_fields(draft_of(replaced), draft), "PUT sets every editable field");
      check_round_trip(replaced);
    }
    return 0;
  }
  libtodo::TaskPatch patch = todo_server::patch_from_json(*body, errors);
  if (!errors.empty()) return 0;
  libtodo::TaskPatch again = patch;
  libtodo::validate(again);
  Task patched = base_task();
  const bool was_completed = patched.completed;
  const bool completes = libtodo::apply_patch(patched, patch);
  fuzz::check(completes == (!was_completed && patched.completed),
              "apply_patch reports completing exactly");
  check_round_trip(patched);
  return 0;
}
