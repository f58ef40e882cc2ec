// The task model: enum names, merge-patch application and recurrence (SPEC §2, §3).

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <libtodo/task.hpp>
#include <libtodo/time.hpp>

namespace {

using namespace std::chrono;
using libtodo::Priority;
using libtodo::Recurrence;
using libtodo::Task;
using libtodo::TaskDraft;
using libtodo::TaskPatch;
using libtodo::Timestamp;

Timestamp at(std::string_view text) {
  const auto t = libtodo::parse_rfc3339(text);
  if (!t) throw std::invalid_argument("bad test timestamp");
  return *t;
}

std::string fmt(Timestamp t) {
  return libtodo::format_rfc3339(t);
}

// A task with every field set, as a store would return it.
Task full_task() {
  Task t;
  t.id = "0190a0f0-0000-7000-8000-000000000001";
  t.user_id = "user-1";
  t.title = "Water plants";
  t.description = "balcony";
  t.completed = false;
  t.priority = Priority::high;
  t.tags = {"home", "garden"};
  t.due_date = at("2026-01-06T09:30:00Z");
  t.recurrence = Recurrence::weekly;
  t.created_at = at("2026-01-01T00:00:00Z");
  t.updated_at = at("2026-01-02T00:00:00Z");
  t.version = 3;
  return t;
}

}  // namespace

TEST_CASE("Priority names", "[task][enum]") {
  CHECK(libtodo::to_string(Priority::low) == "low");
  CHECK(libtodo::to_string(Priority::medium) == "medium");
  CHECK(libtodo::to_string(Priority::high) == "high");
  CHECK(libtodo::parse_priority("low") == Priority::low);
  CHECK(libtodo::parse_priority("medium") == Priority::medium);
  CHECK(libtodo::parse_priority("high") == Priority::high);
  for (Priority p : {Priority::low, Priority::medium, Priority::high})
    CHECK(libtodo::parse_priority(libtodo::to_string(p)) == p);
  SECTION("only exact lower-case names") {
    for (const char* s : {"", "Low", "HIGH", "Medium", " low", "low ", "urgent", "1", "med"}) {
      INFO(s);
      CHECK_FALSE(libtodo::parse_priority(s));
    }
  }
}

TEST_CASE("Recurrence names", "[task][enum]") {
  CHECK(libtodo::to_string(Recurrence::daily) == "daily");
  CHECK(libtodo::to_string(Recurrence::weekly) == "weekly");
  CHECK(libtodo::to_string(Recurrence::monthly) == "monthly");
  for (Recurrence r : {Recurrence::daily, Recurrence::weekly, Recurrence::monthly})
    CHECK(libtodo::parse_recurrence(libtodo::to_string(r)) == r);
  SECTION("only exact lower-case names") {
    for (const char* s : {"", "Daily", "WEEKLY", "Monthly", "yearly", "none", "null", "daily "}) {
      INFO(s);
      CHECK_FALSE(libtodo::parse_recurrence(s));
    }
  }
}

TEST_CASE("status follows completed", "[task]") {
  Task t;
  CHECK(t.status() == "pending");
  t.completed = true;
  CHECK(t.status() == "completed");
}

TEST_CASE("defaults of a new draft and task", "[task]") {
  const TaskDraft d;
  CHECK_FALSE(d.completed);
  CHECK(d.priority == Priority::medium);
  CHECK(d.tags.empty());
  CHECK_FALSE(d.description);
  CHECK_FALSE(d.due_date);
  CHECK_FALSE(d.recurrence);
  CHECK(Task{}.version == 1);
}

TEST_CASE("TaskPatch::empty", "[task][patch]") {
  TaskPatch p;
  CHECK(p.empty());
  SECTION("a cleared field is not empty") {
    p.description.emplace(std::nullopt);
    CHECK_FALSE(p.empty());
  }
  SECTION("any set field is not empty") {
    p.completed = false;
    CHECK_FALSE(p.empty());
  }
  SECTION("due date") {
    p.due_date.emplace(std::nullopt);
    CHECK_FALSE(p.empty());
  }
}

TEST_CASE("apply_patch changes only the fields present", "[task][patch]") {
  const Task original = full_task();
  Task t = original;

  SECTION("an empty patch changes nothing") {
    CHECK_FALSE(libtodo::apply_patch(t, TaskPatch{}));
    CHECK(t == original);
  }
  SECTION("title only") {
    TaskPatch p;
    p.title = "Water all plants";
    CHECK_FALSE(libtodo::apply_patch(t, p));
    Task expected = original;
    expected.title = "Water all plants";
    CHECK(t == expected);
  }
  SECTION("clearing nullable fields with an engaged empty optional") {
    TaskPatch p;
    p.description.emplace(std::nullopt);
    p.due_date.emplace(std::nullopt);
    p.recurrence.emplace(std::nullopt);
    libtodo::apply_patch(t, p);
    CHECK_FALSE(t.description);
    CHECK_FALSE(t.due_date);
    CHECK_FALSE(t.recurrence);
    CHECK(t.title == original.title);
    CHECK(t.tags == original.tags);
    CHECK(t.priority == original.priority);
  }
  SECTION("setting nullable fields") {
    TaskPatch p;
    p.description.emplace("porch too");
    p.due_date.emplace(at("2026-02-01T08:00:00Z"));
    p.recurrence.emplace(Recurrence::monthly);
    p.priority = Priority::low;
    p.tags = std::vector<std::string>{"x"};
    libtodo::apply_patch(t, p);
    CHECK(t.description == "porch too");
    CHECK(t.due_date == at("2026-02-01T08:00:00Z"));
    CHECK(t.recurrence == Recurrence::monthly);
    CHECK(t.priority == Priority::low);
    CHECK(t.tags == std::vector<std::string>{"x"});
  }
  SECTION("identity, timestamps and version are the store's") {
    TaskPatch p = TaskPatch::replacing(TaskDraft{});
    libtodo::apply_patch(t, p);
    CHECK(t.id == original.id);
    CHECK(t.user_id == original.user_id);
    CHECK(t.created_at == original.created_at);
    CHECK(t.updated_at == original.updated_at);
    CHECK(t.version == original.version);
  }
}

TEST_CASE("apply_patch reports a completion only for false -> true", "[task][patch]") {
  Task t = full_task();
  TaskPatch complete;
  complete.completed = true;
  TaskPatch reopen;
  reopen.completed = false;
  TaskPatch retitle;
  retitle.title = "x";

  CHECK(libtodo::apply_patch(t, complete));  // false -> true
  CHECK(t.completed);
  CHECK_FALSE(libtodo::apply_patch(t, complete));  // true -> true
  CHECK_FALSE(libtodo::apply_patch(t, retitle));   // stays true, no completion
  CHECK(t.completed);
  CHECK_FALSE(libtodo::apply_patch(t, reopen));  // true -> false
  CHECK_FALSE(t.completed);
  CHECK_FALSE(libtodo::apply_patch(t, reopen));  // false -> false
  CHECK(libtodo::apply_patch(t, complete));      // again false -> true
}

TEST_CASE("TaskPatch::replacing resets every field", "[task][patch]") {
  TaskDraft d;
  d.title = "Fresh";
  const TaskPatch p = TaskPatch::replacing(d);
  // Every field is present: absent optional fields of the draft clear the task's.
  REQUIRE(p.title);
  REQUIRE(p.description);
  REQUIRE(p.completed);
  REQUIRE(p.priority);
  REQUIRE(p.tags);
  REQUIRE(p.due_date);
  REQUIRE(p.recurrence);
  CHECK_FALSE(*p.description);
  CHECK_FALSE(*p.due_date);
  CHECK_FALSE(*p.recurrence);

  Task t = full_task();
  t.completed = true;
  CHECK_FALSE(libtodo::apply_patch(t, p));
  CHECK(t.title == "Fresh");
  CHECK_FALSE(t.description);
  CHECK_FALSE(t.completed);
  CHECK(t.priority == Priority::medium);
  CHECK(t.tags.empty());
  CHECK_FALSE(t.due_date);
  CHECK_FALSE(t.recurrence);

  SECTION("a replacement that completes reports the completion") {
    Task open = full_task();
    TaskDraft done = d;
    done.completed = true;
    CHECK(libtodo::apply_patch(open, TaskPatch::replacing(done)));
  }
  SECTION("a full draft is copied") {
    TaskDraft full;
    full.title = "T";
    full.description = "D";
    full.completed = true;
    full.priority = Priority::low;
    full.tags = {"a"};
    full.due_date = at("2026-05-05T05:05:05.005Z");
    full.recurrence = Recurrence::daily;
    Task u;
    libtodo::apply_patch(u, TaskPatch::replacing(full));
    CHECK(u.title == "T");
    CHECK(u.description == "D");
    CHECK(u.completed);
    CHECK(u.priority == Priority::low);
    CHECK(u.tags == std::vector<std::string>{"a"});
    CHECK(u.due_date == full.due_date);
    CHECK(u.recurrence == Recurrence::daily);
  }
}

TEST_CASE("next_due_date daily and weekly", "[task][recurrence]") {
  CHECK(fmt(libtodo::next_due_date(at("2026-01-06T09:30:00.123Z"), Recurrence::daily)) ==
        "2026-01-07T09:30:00.123Z");
  CHECK(fmt(libtodo::next_due_date(at("2026-12-31T23:59:59Z"), Recurrence::daily)) ==
        "2027-01-01T23:59:59.000Z");
  CHECK(fmt(libtodo::next_due_date(at("2028-02-28T10:00:00Z"), Recurrence::daily)) ==
        "2028-02-29T10:00:00.000Z");
  CHECK(fmt(libtodo::next_due_date(at("2026-01-06T09:30:00Z"), Recurrence::weekly)) ==
        "2026-01-13T09:30:00.000Z");
  CHECK(fmt(libtodo::next_due_date(at("2026-12-29T18:00:00Z"), Recurrence::weekly)) ==
        "2027-01-05T18:00:00.000Z");
}

TEST_CASE("next_due_date monthly clamps to the month's last day", "[task][recurrence]") {
  const auto monthly = [](std::string_view due) {
    return fmt(libtodo::next_due_date(at(due), Recurrence::monthly));
  };
  CHECK(monthly("2026-01-15T09:30:00Z") == "2026-02-15T09:30:00.000Z");
  CHECK(monthly("2027-01-31T10:15:30.250Z") == "2027-02-28T10:15:30.250Z");
  CHECK(monthly("2028-01-31T10:15:30.250Z") == "2028-02-29T10:15:30.250Z");
  CHECK(monthly("2027-01-29T00:00:00Z") == "2027-02-28T00:00:00.000Z");
  CHECK(monthly("2026-03-31T23:59:59.999Z") == "2026-04-30T23:59:59.999Z");
  CHECK(monthly("2026-08-31T12:00:00Z") == "2026-09-30T12:00:00.000Z");
  CHECK(monthly("2026-12-31T08:00:00Z") == "2027-01-31T08:00:00.000Z");
  CHECK(monthly("2026-12-15T08:00:00Z") == "2027-01-15T08:00:00.000Z");
  SECTION("the clamp does not stick: Jan 31 -> Feb 28 -> Mar 28") {
    CHECK(monthly("2027-02-28T07:00:00Z") == "2027-03-28T07:00:00.000Z");
  }
}

TEST_CASE("next_occurrence", "[task][recurrence]") {
  Task done = full_task();
  done.completed = true;

  SECTION("same fields, not completed, due one period later") {
    const auto next = libtodo::next_occurrence(done);
    REQUIRE(next);
    CHECK(next->title == done.title);
    CHECK(next->description == done.description);
    CHECK_FALSE(next->completed);
    CHECK(next->priority == done.priority);
    CHECK(next->tags == done.tags);
    CHECK(next->recurrence == Recurrence::weekly);
    REQUIRE(next->due_date);
    CHECK(fmt(*next->due_date) == "2026-01-13T09:30:00.000Z");
  }
  SECTION("monthly uses the clamp") {
    done.recurrence = Recurrence::monthly;
    done.due_date = at("2026-01-31T09:00:00Z");
    const auto next = libtodo::next_occurrence(done);
    REQUIRE(next);
    CHECK(next->due_date == at("2026-02-28T09:00:00Z"));
  }
  SECTION("nothing without recurrence") {
    done.recurrence.reset();
    CHECK_FALSE(libtodo::next_occurrence(done));
  }
  SECTION("nothing without due date") {
    done.due_date.reset();
    CHECK_FALSE(libtodo::next_occurrence(done));
  }
}
