#pragma once
// The TaskRepository contract (SPEC §2, §3 "Precise rules", §6), written once for every backend.
//
// Usage, in exactly one .cpp per test executable:
//
//   struct MyBackend { static std::unique_ptr<libtodo::TaskRepository> make(); };
//   using ContractBackends = std::tuple<MyBackend, MyOtherBackend>;
//   #include "contract/repository_contract.hpp"
//
// make() must return a fresh, empty repository each time it is called.

#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <libtodo/errors.hpp>
#include <libtodo/task.hpp>
#include <libtodo/task_repository.hpp>
#include <libtodo/time.hpp>
#include <libtodo/uuid.hpp>

namespace libtodo_contract {

using libtodo::Ownership;
using libtodo::Priority;
using libtodo::Recurrence;
using libtodo::Task;
using libtodo::TaskDraft;
using libtodo::TaskPatch;
using libtodo::TaskQuery;
using libtodo::TaskRepository;
using libtodo::Timestamp;

inline Timestamp at(std::string_view text) {
  const auto t = libtodo::parse_rfc3339(text);
  if (!t) throw std::invalid_argument("bad test timestamp");
  return *t;
}

inline TaskDraft draft(std::string title) {
  TaskDraft d;
  d.title = std::move(title);
  return d;
}

// A draft with every field set to a non-default value.
inline TaskDraft full_draft() {
  TaskDraft d;
  d.title = "Water plants";
  d.description = "balcony\nand porch";
  d.priority = Priority::high;
  d.tags = {"home", "garden"};
  d.due_date = at("2026-03-01T12:34:56.789Z");
  d.recurrence = Recurrence::weekly;
  return d;
}

inline TaskDraft recurring(Recurrence r, std::string_view due) {
  TaskDraft d = draft("Recurring");
  d.description = "notes";
  d.priority = Priority::low;
  d.tags = {"r1", "r2"};
  d.recurrence = r;
  d.due_date = at(due);
  return d;
}

inline TaskPatch completed_patch(bool completed) {
  TaskPatch p;
  p.completed = completed;
  return p;
}

inline TaskPatch title_patch(std::string title) {
  TaskPatch p;
  p.title = std::move(title);
  return p;
}

inline std::vector<Task> all_tasks(TaskRepository& repo, std::string_view user) {
  return repo.list(user, TaskQuery{}).tasks;
}

inline std::vector<std::string> ids_of(const std::vector<Task>& tasks) {
  std::vector<std::string> ids;
  for (const auto& t : tasks) ids.push_back(t.id);
  return ids;
}

// The user's tasks other than `id`.
inline std::vector<Task> others(TaskRepository& repo, std::string_view user,
                                const std::string& id) {
  std::vector<Task> out;
  for (auto& t : all_tasks(repo, user))
    if (t.id != id) out.push_back(std::move(t));
  return out;
}

// The fields of the ValidationError that `f` throws; a marker when it throws none.
template <class F>
std::vector<std::string> validation_fields(F&& f) {
  try {
    f();
  } catch (const libtodo::ValidationError& e) {
    std::vector<std::string> fields;
    for (const auto& fe : e.errors()) fields.push_back(fe.field);
    return fields;
  }
  return {"<no ValidationError>"};
}

inline std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; });
  return s;
}

// Collects exceptions thrown on worker threads (Catch2 assertions are not thread-safe).
class ThreadErrors {
 public:
  template <class F>
  void run(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      add(e.what());
    } catch (...) {
      add("unknown exception");
    }
  }
  void add(std::string what) {
    std::lock_guard lock(mutex_);
    messages_.push_back(std::move(what));
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace libtodo_contract

// Readable failure messages for tasks.
namespace Catch {
template <>
struct StringMaker<libtodo::Task> {
  static std::string convert(const libtodo::Task& t) {
    std::string s = "{id=" + t.id + " user=" + t.user_id + " title=" + t.title;
    s += " description=" + (t.description ? "\"" + *t.description + "\"" : std::string("null"));
    s += std::string(" completed=") + (t.completed ? "true" : "false");
    s += " priority=" + std::string(libtodo::to_string(t.priority)) + " tags=[";
    for (const auto& tag : t.tags) s += "\"" + tag + "\",";
    s += "] due=" + (t.due_date ? libtodo::format_rfc3339(*t.due_date) : std::string("null"));
    s += " recurrence=" +
         (t.recurrence ? std::string(libtodo::to_string(*t.recurrence)) : std::string("null"));
    s += " created=" + libtodo::format_rfc3339(t.created_at);
    s += " updated=" + libtodo::format_rfc3339(t.updated_at);
    return s + " version=" + std::to_string(t.version) + "}";
  }
};
template <>
struct StringMaker<std::optional<libtodo::Task>> {
  static std::string convert(const std::optional<libtodo::Task>& t) {
    return t ? StringMaker<libtodo::Task>::convert(*t) : std::string("nullopt");
  }
};
}  // namespace Catch

// --- create -----------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: create returns and stores every field", "[contract]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();

  SECTION("defaults") {
    const Timestamp before = libtodo::now_ms();
    const Task t = repo->create("alice", draft("  Buy milk  "));
    const Timestamp after = libtodo::now_ms();
    CHECK(libtodo::is_canonical_uuid(t.id));
    CHECK(t.id[14] == '7');  // UUIDv7
    CHECK(t.user_id == "alice");
    CHECK(t.title == "Buy milk");
    CHECK_FALSE(t.description);
    CHECK_FALSE(t.completed);
    CHECK(t.status() == "pending");
    CHECK(t.priority == Priority::medium);
    CHECK(t.tags.empty());
    CHECK_FALSE(t.due_date);
    CHECK_FALSE(t.recurrence);
    CHECK(t.version == 1);
    CHECK(t.created_at == t.updated_at);
    CHECK(t.created_at >= before);
    CHECK(t.created_at <= after);

    const auto found = repo->find("alice", t.id);
    REQUIRE(found);
    CHECK(*found == t);
  }
  SECTION("every field set, tags normalized") {
    TaskDraft d = full_draft();
    d.tags = {" b ", "a", "b", "A"};
    const Task t = repo->create("alice", d);
    CHECK(t.title == "Water plants");
    CHECK(t.description == "balcony\nand porch");
    CHECK(t.priority == Priority::high);
    CHECK(t.tags == std::vector<std::string>{"b", "a", "A"});
    CHECK(t.due_date == at("2026-03-01T12:34:56.789Z"));
    CHECK(t.recurrence == Recurrence::weekly);
    const auto found = repo->find("alice", t.id);
    REQUIRE(found);
    CHECK(*found == t);
  }
  SECTION("a completed task can be created") {
    TaskDraft d = draft("done already");
    d.completed = true;
    const Task t = repo->create("alice", d);
    CHECK(t.completed);
    CHECK(repo->find("alice", t.id)->completed);
  }
  SECTION("ids are distinct and time-ordered") {
    const Task a = repo->create("alice", draft("a"));
    const Task b = repo->create("alice", draft("b"));
    CHECK(a.id != b.id);
    CHECK(a.id < b.id);
  }
}

TEMPLATE_LIST_TEST_CASE("contract: text and instants are stored exactly", "[contract]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  TaskDraft d;
  d.title = "Caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x98\x80 \"quoted\" \\ 'single'";
  d.description = std::string("line 1\r\nline 2\t\xE2\x9C\x93 {\"json\": [1]}");
  d.tags = {"\xF0\x9F\x8F\xA0", "with space", "[\"x\"]", "%_"};
  // Far future, far past, and before the epoch.
  const std::string when =
      GENERATE("9999-12-31T23:59:59.999Z", "0001-01-01T00:00:00.001Z", "1969-12-31T23:59:59.999Z");
  INFO(when);
  d.due_date = at(when);
  const Task t = repo->create("alice", d);
  const auto found = repo->find("alice", t.id);
  REQUIRE(found);
  CHECK(found->title == d.title);
  CHECK(found->description == d.description);
  CHECK(found->tags == d.tags);
  CHECK(found->due_date == d.due_date);
  CHECK(*found == t);
}

// --- find / list ------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: find is scoped by user", "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task t = repo->create("alice", full_draft());

  CHECK(repo->find("alice", t.id) == t);
  CHECK_FALSE(repo->find("bob", t.id));
  CHECK_FALSE(repo->find("ALICE", t.id));  // user ids are exact
  CHECK_FALSE(repo->find("alice", libtodo::new_uuid_v7()));

  SECTION("malformed ids find nothing (and do not throw)") {
    for (const std::string& id :
         {std::string(), std::string("nope"), upper(t.id), t.id + " ", " " + t.id,
          t.id.substr(0, 35), t.id + "0", std::string("' OR '1'='1"),
          std::string("00000000-0000-0000-0000-00000000000%")}) {
      INFO("id: " << id);
      CHECK_FALSE(repo->find("alice", id));
    }
  }
}

TEMPLATE_LIST_TEST_CASE("contract: list returns the caller's tasks, newest first", "[contract]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  std::vector<std::string> created;
  for (int i = 0; i < 5; ++i) {
    created.push_back(repo->create("alice", draft("a" + std::to_string(i))).id);
    repo->create("bob", draft("b" + std::to_string(i)));
    // Spread some tasks over several milliseconds so both sort keys matter.
    if (i % 2 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }

  const auto page = repo->list("alice", TaskQuery{});
  CHECK_FALSE(page.next_cursor);
  REQUIRE(page.tasks.size() == 5);
  for (const auto& t : page.tasks) CHECK(t.user_id == "alice");
  std::vector<std::string> newest_first(created.rbegin(), created.rend());
  CHECK(ids_of(page.tasks) == newest_first);
  for (std::size_t i = 1; i < page.tasks.size(); ++i) {
    const Task& prev = page.tasks[i - 1];
    const Task& cur = page.tasks[i];
    CHECK((prev.created_at > cur.created_at ||
           (prev.created_at == cur.created_at && prev.id > cur.id)));
  }

  CHECK(all_tasks(*repo, "bob").size() == 5);
  CHECK(all_tasks(*repo, "carol").empty());

  SECTION("an update does not reorder (the order is by creation)") {
    REQUIRE(repo->update("alice", created.front(), title_patch("touched")));
    CHECK(ids_of(all_tasks(*repo, "alice")) == newest_first);
  }
  SECTION("listed tasks equal found tasks") {
    for (const auto& t : page.tasks) CHECK(repo->find("alice", t.id) == t);
  }
}

// --- update / replace -------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: update applies a merge patch", "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task original = repo->create("alice", full_draft());

  // What the task must look like after `u`, given the fields the patch changed.
  const auto expect_only = [&](const Task& u, const auto& change) {
    Task expected = original;
    change(expected);
    expected.version = original.version + 1;
    expected.updated_at = u.updated_at;
    CHECK(u == expected);
    CHECK(u.updated_at > original.updated_at);
    CHECK(repo->find("alice", original.id) == u);
  };

  SECTION("title only") {
    const auto u = repo->update("alice", original.id, title_patch("  Water all plants "));
    REQUIRE(u);
    expect_only(*u, [](Task& t) { t.title = "Water all plants"; });
  }
  SECTION("description cleared with an engaged empty optional") {
    TaskPatch p;
    p.description.emplace(std::nullopt);
    const auto u = repo->update("alice", original.id, p);
    REQUIRE(u);
    expect_only(*u, [](Task& t) { t.description.reset(); });
  }
  SECTION("due date and recurrence cleared") {
    TaskPatch p;
    p.due_date.emplace(std::nullopt);
    p.recurrence.emplace(std::nullopt);
    const auto u = repo->update("alice", original.id, p);
    REQUIRE(u);
    expect_only(*u, [](Task& t) {
      t.due_date.reset();
      t.recurrence.reset();
    });
  }
  SECTION("priority, tags (normalized), due date and recurrence set") {
    TaskPatch p;
    p.priority = Priority::low;
    p.tags = std::vector<std::string>{" x ", "y", "x"};
    p.due_date.emplace(at("2027-01-01T00:00:00.001Z"));
    p.recurrence.emplace(Recurrence::daily);
    const auto u = repo->update("alice", original.id, p);
    REQUIRE(u);
    expect_only(*u, [&](Task& t) {
      t.priority = Priority::low;
      t.tags = {"x", "y"};
      t.due_date = at("2027-01-01T00:00:00.001Z");
      t.recurrence = Recurrence::daily;
    });
  }
  SECTION("tags emptied") {
    TaskPatch p;
    p.tags = std::vector<std::string>{};
    const auto u = repo->update("alice", original.id, p);
    REQUIRE(u);
    expect_only(*u, [](Task& t) { t.tags.clear(); });
  }
  SECTION("completed") {
    TaskPatch p = completed_patch(true);
    p.recurrence.emplace(std::nullopt);  // keep recurrence out of this case
    const auto u = repo->update("alice", original.id, p);
    REQUIRE(u);
    CHECK(u->completed);
    CHECK(u->status() == "completed");
    expect_only(*u, [](Task& t) {
      t.completed = true;
      t.recurrence.reset();
    });
  }
}

TEMPLATE_LIST_TEST_CASE("contract: every update advances updated_at and version", "[contract]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  Task last = repo->create("alice", draft("t"));
  const Timestamp created_at = last.created_at;
  // Quick successive updates, most within one millisecond.
  for (int i = 0; i < 5; ++i) {
    const auto u = repo->update("alice", last.id, title_patch("t" + std::to_string(i)));
    REQUIRE(u);
    CHECK(u->version == last.version + 1);
    CHECK(u->updated_at > last.updated_at);
    CHECK(u->created_at == created_at);
    last = *u;
  }
  CHECK(last.version == 6);
  CHECK(repo->find("alice", last.id) == last);
}

TEMPLATE_LIST_TEST_CASE("contract: update and replace of a task the user does not have",
                        "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task original = repo->create("alice", full_draft());

  SECTION("another user's task: nullopt and unchanged") {
    CHECK_FALSE(repo->update("bob", original.id, title_patch("hijacked")));
    CHECK_FALSE(repo->replace("bob", original.id, draft("hijacked")));
    CHECK_FALSE(repo->update("bob", original.id, completed_patch(true)));
    CHECK(repo->find("alice", original.id) == original);
    CHECK(all_tasks(*repo, "alice").size() == 1);  // no occurrence spawned either
    CHECK(all_tasks(*repo, "bob").empty());
  }
  SECTION("unknown and malformed ids") {
    CHECK_FALSE(repo->update("alice", libtodo::new_uuid_v7(), title_patch("x")));
    CHECK_FALSE(repo->update("alice", "not-a-uuid", title_patch("x")));
    CHECK_FALSE(repo->update("alice", upper(original.id), title_patch("x")));
    CHECK_FALSE(repo->replace("alice", "not-a-uuid", draft("x")));
    CHECK(repo->find("alice", original.id) == original);
  }
}

TEMPLATE_LIST_TEST_CASE("contract: replace resets absent optional fields", "[contract]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  TaskDraft full = full_draft();
  full.completed = true;
  const Task original = repo->create("alice", full);

  const auto r = repo->replace("alice", original.id, draft("  Fresh start "));
  REQUIRE(r);
  CHECK(r->id == original.id);
  CHECK(r->user_id == "alice");
  CHECK(r->title == "Fresh start");
  CHECK_FALSE(r->description);
  CHECK_FALSE(r->completed);
  CHECK(r->priority == Priority::medium);
  CHECK(r->tags.empty());
  CHECK_FALSE(r->due_date);
  CHECK_FALSE(r->recurrence);
  CHECK(r->created_at == original.created_at);
  CHECK(r->updated_at > original.updated_at);
  CHECK(r->version == 2);
  CHECK(repo->find("alice", original.id) == r);
  CHECK(all_tasks(*repo, "alice").size() == 1);
}

// --- remove / ownership -----------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: remove", "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task mine = repo->create("alice", draft("mine"));
  const Task keep = repo->create("alice", draft("keep"));
  const Task theirs = repo->create("bob", draft("theirs"));

  SECTION("own task: true, then gone") {
    CHECK(repo->remove("alice", mine.id));
    CHECK_FALSE(repo->find("alice", mine.id));
    CHECK(repo->ownership("alice", mine.id) == Ownership::none);
    CHECK(ids_of(all_tasks(*repo, "alice")) == std::vector<std::string>{keep.id});
    CHECK_FALSE(repo->remove("alice", mine.id));  // already gone
    CHECK_FALSE(repo->update("alice", mine.id, title_patch("zombie")));
  }
  SECTION("foreign task: false, and still there") {
    CHECK_FALSE(repo->remove("alice", theirs.id));
    CHECK(repo->find("bob", theirs.id) == theirs);
  }
  SECTION("unknown and malformed ids: false") {
    CHECK_FALSE(repo->remove("alice", libtodo::new_uuid_v7()));
    CHECK_FALSE(repo->remove("alice", "' OR '1'='1"));
    CHECK_FALSE(repo->remove("alice", upper(mine.id)));
    CHECK(all_tasks(*repo, "alice").size() == 2);
  }
}

TEMPLATE_LIST_TEST_CASE("contract: ownership", "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task t = repo->create("alice", draft("t"));
  CHECK(repo->ownership("alice", t.id) == Ownership::caller);
  CHECK(repo->ownership("bob", t.id) == Ownership::other_user);
  CHECK(repo->ownership("alice", libtodo::new_uuid_v7()) == Ownership::none);
  CHECK(repo->ownership("alice", "not-a-uuid") == Ownership::none);
  CHECK(repo->ownership("alice", upper(t.id)) == Ownership::none);
  CHECK(repo->ownership("alice", "") == Ownership::none);
}

// --- validation -------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: invalid input is rejected and nothing is stored", "[contract]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();

  SECTION("create") {
    CHECK(validation_fields([&] { repo->create("alice", draft(" \t ")); }) ==
          std::vector<std::string>{"title"});
    TaskDraft bad;
    bad.title = "";
    bad.description = std::string(2001, 'd');
    bad.tags = {"ok", ""};
    CHECK(validation_fields([&] { repo->create("alice", bad); }) ==
          std::vector<std::string>{"title", "description", "tags[1]"});
    TaskDraft too_many = draft("t");
    for (int i = 0; i < 21; ++i) too_many.tags.push_back("tag" + std::to_string(i));
    CHECK_THROWS_AS(repo->create("alice", too_many), libtodo::ValidationError);
    CHECK_THROWS_AS(repo->create("alice", draft("\xC0\x80")), libtodo::ValidationError);
    CHECK(all_tasks(*repo, "alice").empty());
  }
  SECTION("update and replace") {
    const Task original = repo->create("alice", full_draft());
    CHECK(validation_fields([&] { repo->update("alice", original.id, title_patch("  ")); }) ==
          std::vector<std::string>{"title"});
    TaskPatch p;
    p.tags.emplace();
    for (int i = 0; i < 21; ++i) p.tags->push_back(std::to_string(i));
    p.completed = true;  // must not take effect either
    CHECK(validation_fields([&] { repo->update("alice", original.id, p); }) ==
          std::vector<std::string>{"tags"});
    TaskPatch long_description;
    long_description.description.emplace(std::string(2001, 'd'));
    CHECK_THROWS_AS(repo->update("alice", original.id, long_description), libtodo::ValidationError);
    CHECK_THROWS_AS(repo->replace("alice", original.id, draft("")), libtodo::ValidationError);
    CHECK(repo->find("alice", original.id) == original);
    CHECK(all_tasks(*repo, "alice").size() == 1);
  }
}

TEMPLATE_LIST_TEST_CASE("contract: invalid user ids are rejected", "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  CHECK_THROWS_AS(repo->create("", draft("t")), libtodo::ValidationError);
  CHECK_THROWS_AS(repo->create(std::string(256, 'u'), draft("t")), libtodo::ValidationError);
  CHECK_THROWS_AS(repo->create("\xC0\x80", draft("t")), libtodo::ValidationError);
  CHECK_THROWS_AS(repo->create(std::string("a\0b", 3), draft("t")), libtodo::ValidationError);

  const std::string longest(255, 'u');
  const Task t = repo->create(longest, draft("t"));
  CHECK(t.user_id == longest);
  CHECK(repo->find(longest, t.id) == t);
  CHECK(all_tasks(*repo, longest).size() == 1);
}

// --- recurrence -------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: completing a recurring task creates the next occurrence",
                        "[contract][recurrence]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();

  const auto check_next = [&](const Task& done, const TaskDraft& expected_fields,
                              std::string_view expected_due) {
    const auto rest = others(*repo, "alice", done.id);
    REQUIRE(rest.size() == 1);
    const Task& next = rest.front();
    CHECK(libtodo::is_canonical_uuid(next.id));
    CHECK(next.user_id == "alice");
    CHECK(next.title == expected_fields.title);
    CHECK(next.description == expected_fields.description);
    CHECK_FALSE(next.completed);
    CHECK(next.priority == expected_fields.priority);
    CHECK(next.tags == expected_fields.tags);
    CHECK(next.recurrence == expected_fields.recurrence);
    REQUIRE(next.due_date);
    CHECK(libtodo::format_rfc3339(*next.due_date) == expected_due);
    CHECK(next.version == 1);
    CHECK(next.created_at == next.updated_at);
    CHECK(next.created_at >= done.created_at);
    CHECK(all_tasks(*repo, "bob").empty());
    return next;
  };

  SECTION("daily, via update") {
    const TaskDraft d = recurring(Recurrence::daily, "2026-01-06T09:30:00Z");
    const Task t = repo->create("alice", d);
    const auto done = repo->update("alice", t.id, completed_patch(true));
    REQUIRE(done);
    CHECK(done->completed);
    CHECK(done->due_date == t.due_date);  // the completed one keeps its date
    check_next(*done, d, "2026-01-07T09:30:00.000Z");
  }
  SECTION("weekly, via update") {
    const TaskDraft d = recurring(Recurrence::weekly, "2026-01-06T09:30:00.250Z");
    const Task t = repo->create("alice", d);
    const auto done = repo->update("alice", t.id, completed_patch(true));
    REQUIRE(done);
    check_next(*done, d, "2026-01-13T09:30:00.250Z");
  }
  SECTION("monthly clamps, and the next one continues from the clamped date") {
    const TaskDraft d = recurring(Recurrence::monthly, "2027-01-31T09:00:00Z");
    const Task t = repo->create("alice", d);
    const auto done = repo->update("alice", t.id, completed_patch(true));
    REQUIRE(done);
    const Task feb = check_next(*done, d, "2027-02-28T09:00:00.000Z");
    REQUIRE(repo->update("alice", feb.id, completed_patch(true)));
    const auto tasks = all_tasks(*repo, "alice");
    REQUIRE(tasks.size() == 3);
    std::set<std::string> dues;
    for (const auto& task : tasks) dues.insert(libtodo::format_rfc3339(*task.due_date));
    CHECK(dues == std::set<std::string>{"2027-01-31T09:00:00.000Z", "2027-02-28T09:00:00.000Z",
                                        "2027-03-28T09:00:00.000Z"});
  }
  SECTION("via replace: the new fields are the ones repeated") {
    const Task t = repo->create("alice", recurring(Recurrence::daily, "2026-01-06T09:30:00Z"));
    TaskDraft r = recurring(Recurrence::weekly, "2026-02-01T08:00:00Z");
    r.title = "Replaced";
    r.completed = true;
    const auto done = repo->replace("alice", t.id, r);
    REQUIRE(done);
    CHECK(done->completed);
    check_next(*done, r, "2026-02-08T08:00:00.000Z");
  }
  SECTION("with other changes in the same patch") {
    const Task t = repo->create("alice", recurring(Recurrence::daily, "2026-01-06T09:30:00Z"));
    TaskPatch p = completed_patch(true);
    p.title = "Renamed";
    p.due_date.emplace(at("2026-05-10T10:00:00Z"));
    const auto done = repo->update("alice", t.id, p);
    REQUIRE(done);
    TaskDraft expected = recurring(Recurrence::daily, "2026-05-10T10:00:00Z");
    expected.title = "Renamed";
    check_next(*done, expected, "2026-05-11T10:00:00.000Z");
  }
}

TEMPLATE_LIST_TEST_CASE("contract: only a real completion spawns an occurrence",
                        "[contract][recurrence]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const auto count = [&] { return all_tasks(*repo, "alice").size(); };

  SECTION("re-completing, editing a completed task, reopening") {
    const Task t = repo->create("alice", recurring(Recurrence::daily, "2026-01-06T09:30:00Z"));
    REQUIRE(repo->update("alice", t.id, completed_patch(true)));
    REQUIRE(count() == 2);
    REQUIRE(repo->update("alice", t.id, completed_patch(true)));  // already completed
    CHECK(count() == 2);
    TaskDraft again = recurring(Recurrence::daily, "2026-01-06T09:30:00Z");
    again.completed = true;
    REQUIRE(repo->replace("alice", t.id, again));  // still completed
    CHECK(count() == 2);
    REQUIRE(repo->update("alice", t.id, title_patch("edited while done")));
    CHECK(count() == 2);
    const auto reopened = repo->update("alice", t.id, completed_patch(false));
    REQUIRE(reopened);
    CHECK_FALSE(reopened->completed);
    CHECK(count() == 2);
    // Completing it again is a new change from pending to completed (SPEC §3).
    REQUIRE(repo->update("alice", t.id, completed_patch(true)));
    CHECK(count() == 3);
  }
  SECTION("creating an already completed recurring task") {
    TaskDraft d = recurring(Recurrence::daily, "2026-01-06T09:30:00Z");
    d.completed = true;
    const Task t = repo->create("alice", d);
    CHECK(t.completed);
    CHECK(count() == 1);
  }
  SECTION("recurrence without a due date") {
    TaskDraft d = draft("no date");
    d.recurrence = Recurrence::weekly;
    const Task t = repo->create("alice", d);
    const auto done = repo->update("alice", t.id, completed_patch(true));
    REQUIRE(done);
    CHECK(done->completed);
    CHECK(count() == 1);
  }
  SECTION("a due date without recurrence") {
    TaskDraft d = draft("one-off");
    d.due_date = at("2026-01-06T09:30:00Z");
    const Task t = repo->create("alice", d);
    REQUIRE(repo->update("alice", t.id, completed_patch(true)));
    CHECK(count() == 1);
  }
  SECTION("a completion that also removes the recurrence") {
    const Task t = repo->create("alice", recurring(Recurrence::daily, "2026-01-06T09:30:00Z"));
    TaskPatch p = completed_patch(true);
    p.recurrence.emplace(std::nullopt);
    REQUIRE(repo->update("alice", t.id, p));
    CHECK(count() == 1);
  }
}

// --- concurrency ------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: concurrent creates for different users", "[contract][threads]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  constexpr int threads = 8;
  constexpr int per_thread = 50;
  ThreadErrors errors;
  {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        errors.run([&] {
          const std::string user = "user-" + std::to_string(t);
          for (int i = 0; i < per_thread; ++i)
            (void)repo->create(user, draft(user + " task " + std::to_string(i)));
        });
      });
    }
    for (auto& th : pool) th.join();
  }
  CHECK(errors.messages() == std::vector<std::string>{});  // prints what was thrown
  std::set<std::string> all_ids;
  for (int t = 0; t < threads; ++t) {
    const std::string user = "user-" + std::to_string(t);
    const auto tasks = all_tasks(*repo, user);
    CHECK(tasks.size() == per_thread);
    for (const auto& task : tasks) {
      CHECK(task.user_id == user);
      all_ids.insert(task.id);
    }
  }
  CHECK(all_ids.size() == threads * per_thread);
}

TEMPLATE_LIST_TEST_CASE("contract: concurrent updates of one task lose nothing",
                        "[contract][threads]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task t = repo->create("alice", draft("counter"));
  constexpr int threads = 8;
  constexpr int per_thread = 25;
  ThreadErrors errors;
  std::mutex versions_mutex;
  std::vector<std::int64_t> versions;
  std::atomic<int> missing{0};
  {
    std::vector<std::thread> pool;
    for (int n = 0; n < threads; ++n) {
      pool.emplace_back([&, n] {
        errors.run([&] {
          for (int i = 0; i < per_thread; ++i) {
            TaskPatch p;
            if (i % 2 == 0)
              p.title = "t" + std::to_string(n) + "-" + std::to_string(i);
            else
              p.priority = n % 2 == 0 ? Priority::high : Priority::low;
            const auto u = repo->update("alice", t.id, p);
            if (!u) {
              ++missing;
              continue;
            }
            std::lock_guard lock(versions_mutex);
            versions.push_back(u->version);
          }
          // Readers run alongside the writers.
          if (!repo->find("alice", t.id)) ++missing;
        });
      });
    }
    for (auto& th : pool) th.join();
  }
  CHECK(errors.messages() == std::vector<std::string>{});  // prints what was thrown
  CHECK(missing == 0);
  constexpr int updates = threads * per_thread;
  // Every update saw a distinct version: 2, 3, ..., 1 + updates.
  std::sort(versions.begin(), versions.end());
  std::vector<std::int64_t> expected(updates);
  for (int i = 0; i < updates; ++i) expected[static_cast<std::size_t>(i)] = 2 + i;
  CHECK(versions == expected);
  const auto final_state = repo->find("alice", t.id);
  REQUIRE(final_state);
  CHECK(final_state->version == 1 + updates);
  CHECK(final_state->updated_at > t.updated_at);
  CHECK(final_state->created_at == t.created_at);
}

// --- health -----------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: ping", "[contract]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  CHECK_NOTHROW(repo->ping());
  repo->create("alice", draft("t"));
  CHECK_NOTHROW(repo->ping());
}
#include "contract/query_contract.hpp"
#include "contract/concurrency_contract.hpp"
