#include <libtodo/task.hpp>

namespace libtodo {

std::string_view to_string(Priority p) noexcept {
  switch (p) {
    case Priority::low: return "low";
    case Priority::medium: return "medium";
    case Priority::high: return "high";
  }
  return "medium";
}

std::string_view to_string(Recurrence r) noexcept {
  switch (r) {
    case Recurrence::daily: return "daily";
    case Recurrence::weekly: return "weekly";
    case Recurrence::monthly: return "monthly";
  }
  return "daily";
}

std::optional<Priority> parse_priority(std::string_view s) noexcept {
  if (s == "low") return Priority::low;
  if (s == "medium") return Priority::medium;
  if (s == "high") return Priority::high;
  return std::nullopt;
}

std::optional<Recurrence> parse_recurrence(std::string_view s) noexcept {
  if (s == "daily") return Recurrence::daily;
  if (s == "weekly") return Recurrence::weekly;
  if (s == "monthly") return Recurrence::monthly;
  return std::nullopt;
}

TaskPatch TaskPatch::replacing(const TaskDraft& d) {
  TaskPatch p;
  p.title = d.title;
  p.description = d.description;
  p.completed = d.completed;
  p.priority = d.priority;
  p.tags = d.tags;
  p.due_date = d.due_date;
  p.recurrence = d.recurrence;
  return p;
}

bool TaskPatch::empty() const noexcept {
  return !title && !description && !completed && !priority && !tags && !due_date && !recurrence;
}

bool apply_patch(Task& task, const TaskPatch& patch) {
  const bool was_completed = task.completed;
  if (patch.title) task.title = *patch.title;
  if (patch.description) task.description = *patch.description;
  if (patch.completed) task.completed = *patch.completed;
  if (patch.priority) task.priority = *patch.priority;
  if (patch.tags) task.tags = *patch.tags;
  if (patch.due_date) task.due_date = *patch.due_date;
  if (patch.recurrence) task.recurrence = *patch.recurrence;
  return !was_completed && task.completed;
}

Timestamp next_due_date(Timestamp due, Recurrence r) noexcept {
  using namespace std::chrono;
  switch (r) {
    case Recurrence::daily: return due + days{1};
    case Recurrence::weekly: return due + weeks{1};
    case Recurrence::monthly: break;
  }
  const auto day = floor<days>(due);
  const auto time_of_day = due - day;
  const year_month_day ymd{day};
  year_month_day next = ymd + months{1};
  if (!next.ok()) next = year_month_day{year_month_day_last{next.year(), month_day_last{next.month()}}};
  return sys_days{next} + time_of_day;
}

std::optional<TaskDraft> next_occurrence(const Task& done) {
  if (!done.recurrence || !done.due_date) return std::nullopt;
  TaskDraft next;
  next.title = done.title;
  next.description = done.description;
  next.completed = false;
  next.priority = done.priority;
  next.tags = done.tags;
  next.due_date = next_due_date(*done.due_date, *done.recurrence);
  next.recurrence = done.recurrence;
  return next;
}

}  // namespace libtodo
