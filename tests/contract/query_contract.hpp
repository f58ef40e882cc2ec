#pragma once
// The TaskRepository contract for listing queries (filters, sort keys, keyset pages), toggle,
// the all-or-nothing bulk calls, stats and recurrence dates (SPEC §2, §3 "Precise rules").
//
// Included at the end of repository_contract.hpp, so every backend that runs the contract
// runs this too; it uses that file's helpers and its ContractBackends.

#include <cstddef>
#include <map>
#include <string>
#include <tuple>
#include <utility>

namespace libtodo_contract {

using libtodo::BulkResult;
using libtodo::PageCursor;
using libtodo::SortKey;
using libtodo::StatusFilter;
using libtodo::TaskPage;
using libtodo::TaskStats;

inline constexpr SortKey all_sort_keys[] = {SortKey::created, SortKey::updated, SortKey::title,
                                            SortKey::due_date, SortKey::priority};

inline TaskQuery sorted_by(SortKey key, bool descending) {
  TaskQuery q;
  q.sort = key;
  q.descending = descending;
  return q;
}

// "title" / "-title", as the HTTP parameter spells it.
inline std::string sort_name(SortKey key, bool descending) {
  return (descending ? "-" : "") + std::string(libtodo::to_string(key));
}

// Three-way comparison of the sort values of two tasks (not their ids), ascending.
// Titles compare by bytes, which for UTF-8 is code point order. For due_date both
// tasks must have one.
inline int compare_sort_values(const Task& a, const Task& b, SortKey key) {
  const auto three = [](const auto& x, const auto& y) { return x < y ? -1 : (y < x ? 1 : 0); };
  switch (key) {
    case SortKey::created: return three(a.created_at, b.created_at);
    case SortKey::updated: return three(a.updated_at, b.updated_at);
    case SortKey::title: {
      const int c = a.title.compare(b.title);  // char_traits<char>: unsigned bytes, like memcmp
      return c < 0 ? -1 : (c > 0 ? 1 : 0);
    }
    case SortKey::due_date: return three(*a.due_date, *b.due_date);
    case SortKey::priority: return three(static_cast<int>(a.priority), static_cast<int>(b.priority));
  }
  return 0;
}

// Whether `a` is listed before `b` (SPEC §3): by the sort value in the query's direction,
// ties by id in the same direction; tasks without a due date last in both directions of
// due_date; priority low < medium < high.
inline bool listed_before(const Task& a, const Task& b, SortKey key, bool descending) {
  if (key == SortKey::due_date && a.due_date.has_value() != b.due_date.has_value())
    return a.due_date.has_value();
  if (key != SortKey::due_date || a.due_date) {
    const int c = compare_sort_values(a, b, key);
    if (c != 0) return descending ? c > 0 : c < 0;
  }
  return descending ? a.id > b.id : a.id < b.id;
}

// `tasks` in the order a listing sorted by `key` must return them.
inline std::vector<Task> in_listing_order(std::vector<Task> tasks, SortKey key, bool descending) {
  std::sort(tasks.begin(), tasks.end(),
            [&](const Task& a, const Task& b) { return listed_before(a, b, key, descending); });
  return tasks;
}

inline bool is_url_safe(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_' || c == '~';
  });
}

// Every page of `query` with pages of `page_size`, concatenated. Checks that only a full
// page has a next cursor and that cursors are URL-safe; `pages` receives the page count.
inline std::vector<Task> walk_pages(TaskRepository& repo, std::string_view user, TaskQuery query,
                                    std::size_t page_size, std::size_t* pages = nullptr) {
  query.limit = page_size;
  query.cursor.reset();
  std::vector<Task> all;
  std::size_t count = 0;
  for (;;) {
    const TaskPage page = repo.list(user, query);
    ++count;
    REQUIRE(count <= 1000);  // a cursor that never ends
    CHECK(page.tasks.size() <= page_size);
    all.insert(all.end(), page.tasks.begin(), page.tasks.end());
    if (!page.next_cursor) break;
    CHECK(page.tasks.size() == page_size);
    CHECK(is_url_safe(*page.next_cursor));
    query.cursor = *page.next_cursor;
  }
  if (pages) *pages = count;
  return all;
}

inline std::set<std::string> id_set(const std::vector<Task>& tasks) {
  std::set<std::string> ids;
  for (const auto& t : tasks) ids.insert(t.id);
  return ids;
}

inline std::set<std::string> listed_ids(TaskRepository& repo, std::string_view user, const TaskQuery& q) {
  return id_set(repo.list(user, q).tasks);
}

inline std::vector<std::string> sorted_strings(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

inline std::string ascii_fold(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

// The filters of SPEC §3 evaluated in the test, for ASCII data: the oracle the
// backends' SQL is compared with.
inline bool query_matches(const Task& t, const TaskQuery& q) {
  if (q.status == StatusFilter::pending && t.completed) return false;
  if (q.status == StatusFilter::completed && !t.completed) return false;
  if (q.priority && t.priority != *q.priority) return false;
  for (const auto& tag : q.tags)
    if (std::find(t.tags.begin(), t.tags.end(), tag) == t.tags.end()) return false;
  if (q.text) {
    const std::string needle = ascii_fold(*q.text);
    const bool in_title = ascii_fold(t.title).find(needle) != std::string::npos;
    const bool in_description =
        t.description && ascii_fold(*t.description).find(needle) != std::string::npos;
    if (!in_title && !in_description) return false;
  }
  if ((q.due_after || q.due_before) && !t.due_date) return false;
  if (q.due_after && *t.due_date < *q.due_after) return false;
  if (q.due_before && !(*t.due_date < *q.due_before)) return false;
  return true;
}

// Twelve tasks for `user` whose titles, priorities and due dates repeat; eight have a
// due date (two pairs equal), four have none. Three of them are updated afterwards, so
// the `updated` order differs from the `created` one. Another user gets a task for each,
// which no listing of `user` may show. Returns the user's tasks as stored.
inline std::vector<Task> make_sort_fixture(TaskRepository& repo, std::string_view user) {
  struct Row {
    const char* title;
    Priority priority;
    const char* due;
  };
  static const Row rows[] = {
      {"b", Priority::high, "2026-05-01T10:00:00Z"},
      {"a", Priority::low, "2026-05-01T10:00:00Z"},
      {"B", Priority::medium, nullptr},
      {"\xC3\xA9", Priority::high, "2026-04-01T00:00:00Z"},             // é U+00E9
      {"a", Priority::medium, "2026-06-01T00:00:00Z"},
      {"\xEF\xBD\x9E", Priority::low, nullptr},                         // ～ U+FF5E
      {"\xF0\x9F\x98\x80", Priority::medium, "2026-04-01T00:00:00Z"},   // 😀 U+1F600
      {"ab", Priority::high, "1969-12-31T23:59:59.999Z"},
      {"b", Priority::low, nullptr},
      {"Z", Priority::medium, "2026-05-01T10:00:00.001Z"},
      {"z", Priority::high, nullptr},
      {"a b", Priority::low, "2027-01-01T00:00:00Z"},
  };
  std::vector<Task> made;
  for (const Row& r : rows) {
    TaskDraft d = draft(r.title);
    d.priority = r.priority;
    if (r.due) d.due_date = at(r.due);
    made.push_back(repo.create(user, d));
    (void)repo.create(std::string(user) + "-other", d);
    if (made.size() % 3 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (const std::size_t k : {std::size_t{0}, std::size_t{5}, std::size_t{3}}) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    TaskPatch p;
    p.priority = made[k].priority;  // a change that keeps every other sort value
    REQUIRE(repo.update(user, made[k].id, p));
  }
  auto stored = all_tasks(repo, user);
  REQUIRE(stored.size() == std::size(rows));
  return stored;
}

// The only pending task of `user` (after completing one, the spawned occurrence).
inline Task only_pending(TaskRepository& repo, std::string_view user) {
  TaskQuery q;
  q.status = StatusFilter::pending;
  const auto tasks = repo.list(user, q).tasks;
  REQUIRE(tasks.size() == 1);
  return tasks.front();
}

// Completes `id` with update() and returns the occurrence that spawned.
inline Task complete_and_get_next(TaskRepository& repo, std::string_view user, const std::string& id) {
  const auto done = repo.update(user, id, completed_patch(true));
  REQUIRE(done);
  REQUIRE(done->completed);
  const Task next = only_pending(repo, user);
  REQUIRE(next.id != id);
  return next;
}

inline std::string due_text(const Task& t) {
  return t.due_date ? libtodo::format_rfc3339(*t.due_date) : std::string("null");
}

}  // namespace libtodo_contract

// --- filters ----------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: query filters by status, priority and tags", "[contract][query]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const auto make = [&](const std::string& user, const std::string& title, bool completed, Priority p,
                        std::vector<std::string> tags) {
    TaskDraft d = draft(title);
    d.completed = completed;
    d.priority = p;
    d.tags = std::move(tags);
    return repo->create(user, d);
  };
  const Task a = make("alice", "a", false, Priority::high, {"home", "urgent"});
  const Task b = make("alice", "b", true, Priority::low, {"home"});
  const Task c = make("alice", "c", false, Priority::medium, {"Home"});
  const Task d = make("alice", "d", true, Priority::high, {"work", "urgent", "with space"});
  const Task e = make("alice", "e", false, Priority::low, {});
  const Task f = make("alice", "f", false, Priority::medium, {"%_", "[\"x\"]", "home2", "'"});
  make("bob", "bob's", false, Priority::high, {"home", "urgent"});

  const auto ids = [](std::initializer_list<const Task*> tasks) {
    std::set<std::string> s;
    for (const Task* t : tasks) s.insert(t->id);
    return s;
  };
  const auto with = [](auto&& set) {
    TaskQuery q;
    set(q);
    return q;
  };
  const auto status = [&](StatusFilter s) { return with([&](TaskQuery& q) { q.status = s; }); };
  const auto priority = [&](Priority p) { return with([&](TaskQuery& q) { q.priority = p; }); };
  const auto tags = [&](std::vector<std::string> t) { return with([&](TaskQuery& q) { q.tags = t; }); };

  SECTION("status") {
    CHECK(listed_ids(*repo, "alice", status(StatusFilter::all)) == ids({&a, &b, &c, &d, &e, &f}));
    CHECK(listed_ids(*repo, "alice", status(StatusFilter::pending)) == ids({&a, &c, &e, &f}));
    CHECK(listed_ids(*repo, "alice", status(StatusFilter::completed)) == ids({&b, &d}));
    // Newest first within a filter too.
    CHECK(ids_of(repo->list("alice", status(StatusFilter::completed)).tasks) ==
          std::vector<std::string>{d.id, b.id});
  }
  SECTION("priority") {
    CHECK(listed_ids(*repo, "alice", priority(Priority::high)) == ids({&a, &d}));
    CHECK(listed_ids(*repo, "alice", priority(Priority::medium)) == ids({&c, &f}));
    CHECK(listed_ids(*repo, "alice", priority(Priority::low)) == ids({&b, &e}));
  }
  SECTION("tags: every one must be on the task, exactly and case-sensitively") {
    CHECK(listed_ids(*repo, "alice", tags({"home"})) == ids({&a, &b}));
    CHECK(listed_ids(*repo, "alice", tags({"urgent"})) == ids({&a, &d}));
    CHECK(listed_ids(*repo, "alice", tags({"home", "urgent"})) == ids({&a}));
    CHECK(listed_ids(*repo, "alice", tags({"urgent", "home"})) == ids({&a}));
    CHECK(listed_ids(*repo, "alice", tags({"home", "work"})).empty());
    CHECK(listed_ids(*repo, "alice", tags({"Home"})) == ids({&c}));
    CHECK(listed_ids(*repo, "alice", tags({"HOME"})).empty());
    CHECK(listed_ids(*repo, "alice", tags({"hom"})).empty());   // no substring match
    CHECK(listed_ids(*repo, "alice", tags({"home2"})) == ids({&f}));
    CHECK(listed_ids(*repo, "alice", tags({"with space"})) == ids({&d}));
    CHECK(listed_ids(*repo, "alice", tags({"%_"})) == ids({&f}));
    CHECK(listed_ids(*repo, "alice", tags({"%"})).empty());       // no LIKE patterns
    CHECK(listed_ids(*repo, "alice", tags({"_"})).empty());
    CHECK(listed_ids(*repo, "alice", tags({"[\"x\"]"})) == ids({&f}));
    CHECK(listed_ids(*repo, "alice", tags({"x"})).empty());       // no JSON text match
    CHECK(listed_ids(*repo, "alice", tags({"'"})) == ids({&f}));
    CHECK(listed_ids(*repo, "alice", tags({"\""})).empty());
    CHECK(listed_ids(*repo, "alice", tags({"home", "home"})) == ids({&a, &b}));
  }
  SECTION("combined with AND") {
    CHECK(listed_ids(*repo, "alice", with([](TaskQuery& q) {
            q.status = StatusFilter::pending;
            q.priority = Priority::high;
          })) == ids({&a}));
    CHECK(listed_ids(*repo, "alice", with([](TaskQuery& q) {
            q.status = StatusFilter::completed;
            q.tags = {"urgent"};
          })) == ids({&d}));
    CHECK(listed_ids(*repo, "alice", with([](TaskQuery& q) {
            q.priority = Priority::low;
            q.tags = {"home"};
          })) == ids({&b}));
    CHECK(listed_ids(*repo, "alice", with([](TaskQuery& q) {
            q.status = StatusFilter::pending;
            q.priority = Priority::low;
            q.tags = {"home"};
          })).empty());
  }
  SECTION("never another user's tasks") {
    CHECK(listed_ids(*repo, "bob", tags({"home", "urgent"})).size() == 1);
    CHECK(listed_ids(*repo, "carol", tags({"home"})).empty());
    CHECK_FALSE(listed_ids(*repo, "alice", tags({"home", "urgent"})).count(
        repo->list("bob", TaskQuery{}).tasks.front().id));
  }
}

TEMPLATE_LIST_TEST_CASE("contract: query text is a case-insensitive substring of title or description",
                        "[contract][query]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const auto make = [&](const std::string& title, std::optional<std::string> description) {
    TaskDraft d = draft(title);
    d.description = std::move(description);
    return repo->create("alice", d);
  };
  const Task milk = make("Buy MILK", std::nullopt);
  const Task farm = make("Groceries", "fresh milk from the Farm");
  const Task cafe = make("Caf\xC3\xA9 \xC3\x9Cn\xC3\xAF" "code", "na\xC3\xAFve r\xC3\xA9sum\xC3\xA9");
  const Task percent = make("100% done", "a_b c");
  const Task japanese = make("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE\xE3\x83\xA1\xE3\x83\xA2", std::nullopt);
  const Task plain = make("Nothing here", std::nullopt);
  TaskDraft bobs = draft("bob's milk");
  repo->create("bob", bobs);

  const auto text = [&](const std::string& needle) {
    TaskQuery q;
    q.text = needle;
    return listed_ids(*repo, "alice", q);
  };
  const auto ids = [](std::initializer_list<const Task*> tasks) {
    std::set<std::string> s;
    for (const Task* t : tasks) s.insert(t->id);
    return s;
  };

  SECTION("ASCII letters in any case, in the title or the description") {
    CHECK(text("milk") == ids({&milk, &farm}));
    CHECK(text("MILK") == ids({&milk, &farm}));
    CHECK(text("mIlK") == ids({&milk, &farm}));
    CHECK(text("buy milk") == ids({&milk}));
    CHECK(text("farm") == ids({&farm}));          // description only
    CHECK(text("FRESH MILK FROM") == ids({&farm}));
    CHECK(text("groceries") == ids({&farm}));
    CHECK(text("NOTHING") == ids({&plain}));
    CHECK(text("xyz").empty());
    CHECK(text("Groceriesfresh").empty());       // title and description are not joined
  }
  SECTION("non-ASCII text in its exact case, ASCII letters around it in any case") {
    CHECK(text("\xC3\x9Cn\xC3\xAF") == ids({&cafe}));               // Ünï
    CHECK(text("CAF\xC3\xA9") == ids({&cafe}));                      // CAFé
    CHECK(text("caf\xC3\xA9 \xC3\x9Cn\xC3\xAF" "CODE") == ids({&cafe}));
    CHECK(text("r\xC3\xA9sum\xC3\xA9") == ids({&cafe}));              // in the description
    CHECK(text("\xE6\x9C\xAC\xE8\xAA\x9E") == ids({&japanese}));     // 本語
    CHECK(text("\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x83\xA1").empty());
  }
  SECTION("no pattern characters: %, _ and quotes are literal") {
    CHECK(text("%") == ids({&percent}));
    CHECK(text("_") == ids({&percent}));
    CHECK(text("a_b") == ids({&percent}));
    CHECK(text("100%") == ids({&percent}));
    CHECK(text("1_0").empty());
    CHECK(text("%done").empty());
    CHECK(text("a%c").empty());
    CHECK(text("' OR '1'='1").empty());
    CHECK(text("\\").empty());
  }
  SECTION("control characters no task text can hold are refused, not cut off") {
    // PostgreSQL would see "a\0zzz" as "a" (libpq's C strings) and list "100% done".
    const auto fields = [&](const std::string& needle) {
      TaskQuery q;
      q.text = needle;
      return validation_fields([&] { (void)repo->list("alice", q); });
    };
    for (const std::string& bad :
         {std::string("a\0zzz", 5), std::string(1, '\0'), std::string("a\x01"), std::string("\x7f"),
          std::string("\xC2\x85")})
      CHECK(fields(bad) == std::vector<std::string>{"q"});
    CHECK(text("done\tx").empty());  // tab and line breaks are text titles may hold
    CHECK(text("\n").empty());
    TaskQuery q;
    q.tags = {std::string("x\0y", 3)};
    CHECK(validation_fields([&] { (void)repo->list("alice", q); }) ==
          std::vector<std::string>{"tag"});
    q.tags = {"x\ty"};
    CHECK(validation_fields([&] { (void)repo->list("alice", q); }) ==
          std::vector<std::string>{"tag"});
  }
  SECTION("combined with other filters") {
    TaskQuery q;
    q.text = "MILK";
    q.status = StatusFilter::pending;
    REQUIRE(repo->update("alice", milk.id, completed_patch(true)));
    CHECK(listed_ids(*repo, "alice", q) == ids({&farm}));
    q.status = StatusFilter::completed;
    CHECK(listed_ids(*repo, "alice", q) == ids({&milk}));
  }
}

TEMPLATE_LIST_TEST_CASE("contract: query due_after is inclusive, due_before exclusive, both skip undated tasks",
                        "[contract][query]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const auto make = [&](const char* due) {
    TaskDraft d = draft(due ? due : "undated");
    if (due) d.due_date = at(due);
    return repo->create("alice", d);
  };
  const Task d1 = make("2026-03-01T00:00:00.000Z");
  const Task d2 = make("2026-03-02T00:00:00.000Z");
  const Task d3 = make("2026-03-02T00:00:00.001Z");
  const Task d4 = make("2026-03-03T00:00:00.000Z");
  const Task undated = make(nullptr);
  TaskDraft bobs = draft("bob");
  bobs.due_date = at("2026-03-02T00:00:00.000Z");
  repo->create("bob", bobs);

  const auto range = [&](const char* after, const char* before) {
    TaskQuery q;
    if (after) q.due_after = at(after);
    if (before) q.due_before = at(before);
    return listed_ids(*repo, "alice", q);
  };
  const auto ids = [](std::initializer_list<const Task*> tasks) {
    std::set<std::string> s;
    for (const Task* t : tasks) s.insert(t->id);
    return s;
  };

  CHECK(range(nullptr, nullptr) == ids({&d1, &d2, &d3, &d4, &undated}));
  CHECK(range("2026-03-02T00:00:00Z", nullptr) == ids({&d2, &d3, &d4}));
  CHECK(range("2026-03-02T00:00:00.001Z", nullptr) == ids({&d3, &d4}));
  CHECK(range("2026-03-02T01:00:00+01:00", nullptr) == ids({&d2, &d3, &d4}));  // the same instant
  CHECK(range(nullptr, "2026-03-02T00:00:00Z") == ids({&d1}));
  CHECK(range(nullptr, "2026-03-02T00:00:00.001Z") == ids({&d1, &d2}));
  CHECK(range(nullptr, "2026-03-02T00:00:00.002Z") == ids({&d1, &d2, &d3}));
  CHECK(range("2026-03-02T00:00:00Z", "2026-03-02T00:00:00.001Z") == ids({&d2}));
  CHECK(range("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z") == ids({&d2, &d3}));
  CHECK(range("2026-03-02T00:00:00Z", "2026-03-02T00:00:00Z").empty());
  CHECK(range("2026-03-03T00:00:00Z", "2026-03-01T00:00:00Z").empty());
  CHECK(range("0001-01-01T00:00:00Z", nullptr) == ids({&d1, &d2, &d3, &d4}));   // undated excluded
  CHECK(range(nullptr, "9999-12-31T23:59:59.999Z") == ids({&d1, &d2, &d3, &d4}));
  CHECK(range("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z") == ids({&d1, &d2, &d3, &d4}));
  CHECK(range("2026-03-03T00:00:00.001Z", nullptr).empty());
}

TEMPLATE_LIST_TEST_CASE("contract: query filters combined, sorted and paged agree with the rules",
                        "[contract][query]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  // 36 tasks spreading every attribute a filter looks at; ASCII only, so the test's
  // oracle folds case exactly as every backend must.
  static const char* const words[] = {"Alpha report", "beta REPORT", "Gamma", "delta plan", "Epsilon Plan", "zeta"};
  static const char* const descriptions[] = {"needs REVIEW", "", "call Bob", "review later"};
  for (int i = 0; i < 36; ++i) {
    TaskDraft d = draft(words[i % 6]);
    if (i % 4 != 1) d.description = descriptions[i % 4];
    d.completed = i % 3 == 0;
    d.priority = static_cast<Priority>(i % 5 % 3);
    if (i % 2 == 0) d.tags.push_back("even");
    if (i % 3 == 1) d.tags.push_back("third");
    if (i % 7 == 0) d.tags.push_back("Even");
    if (i % 5 != 4) d.due_date = at("2026-01-01T00:00:00Z") + std::chrono::hours(12 * (i % 9));
    repo->create("alice", d);
    if (i % 9 == 0) repo->create("bob", d);
  }
  const auto everything = all_tasks(*repo, "alice");
  REQUIRE(everything.size() == 36);

  std::vector<std::pair<std::string, TaskQuery>> queries;
  const auto add = [&](std::string name, auto&& set) {
    TaskQuery q;
    set(q);
    queries.emplace_back(std::move(name), q);
  };
  add("pending, tag even", [](TaskQuery& q) {
    q.status = StatusFilter::pending;
    q.tags = {"even"};
  });
  add("text report, priority high", [](TaskQuery& q) {
    q.text = "rEpOrT";
    q.priority = Priority::high;
  });
  add("text review (description), due range", [](TaskQuery& q) {
    q.text = "REVIEW";
    q.due_after = at("2026-01-02T00:00:00Z");
    q.due_before = at("2026-01-04T00:00:00Z");
  });
  add("completed, tags even+Even", [](TaskQuery& q) {
    q.status = StatusFilter::completed;
    q.tags = {"even", "Even"};
  });
  add("everything at once", [](TaskQuery& q) {
    q.status = StatusFilter::pending;
    q.priority = Priority::low;
    q.tags = {"third"};
    q.text = "PLAN";
    q.due_after = at("2026-01-01T00:00:00Z");
    q.due_before = at("2026-01-05T00:00:00Z");
  });
  add("due before only", [](TaskQuery& q) { q.due_before = at("2026-01-03T00:00:00Z"); });

  for (const auto& [name, base] : queries) {
    std::vector<Task> expected_set;
    for (const auto& t : everything)
      if (query_matches(t, base)) expected_set.push_back(t);
    INFO("query: " << name << ", matches " << expected_set.size());
    CHECK_FALSE(expected_set.empty());  // the data makes every query meaningful
    CHECK(expected_set.size() < everything.size());
    for (const SortKey key : {SortKey::created, SortKey::title, SortKey::due_date, SortKey::priority}) {
      for (const bool descending : {false, true}) {
        INFO("sort: " << sort_name(key, descending));
        TaskQuery q = base;
        q.sort = key;
        q.descending = descending;
        const auto expected = ids_of(in_listing_order(expected_set, key, descending));
        const TaskPage page = repo->list("alice", q);
        CHECK_FALSE(page.next_cursor);
        CHECK(ids_of(page.tasks) == expected);
        for (const std::size_t size : {std::size_t{2}, std::size_t{5}}) {
          INFO("page size " << size);
          CHECK(ids_of(walk_pages(*repo, "alice", q, size)) == expected);
        }
      }
    }
  }
}

// --- sorting ----------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: query sorts by every key in both directions, ties by id",
                        "[contract][query]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const auto tasks = make_sort_fixture(*repo, "alice");
  const auto listing = [&](SortKey key, bool descending) {
    const TaskPage page = repo->list("alice", sorted_by(key, descending));
    CHECK_FALSE(page.next_cursor);
    return page.tasks;
  };

  SECTION("every key and direction: the order of SPEC §3") {
    for (const SortKey key : all_sort_keys) {
      for (const bool descending : {false, true}) {
        INFO("sort: " << sort_name(key, descending));
        const auto listed = listing(key, descending);
        CHECK(ids_of(listed) == ids_of(in_listing_order(tasks, key, descending)));
        for (const auto& t : listed) CHECK(t.user_id == "alice");
      }
    }
  }
  SECTION("descending is ascending reversed, ties included (every key but due_date)") {
    for (const SortKey key : {SortKey::created, SortKey::updated, SortKey::title, SortKey::priority}) {
      INFO("sort: " << sort_name(key, false));
      auto asc = ids_of(listing(key, false));
      std::reverse(asc.begin(), asc.end());
      CHECK(ids_of(listing(key, true)) == asc);
    }
  }
  SECTION("title by code point, not by locale or UTF-16") {
    std::vector<std::string> titles;
    for (const auto& t : listing(SortKey::title, false)) titles.push_back(t.title);
    CHECK(titles == std::vector<std::string>{"B", "Z", "a", "a", "a b", "ab", "b", "b", "z", "\xC3\xA9",
                                             "\xEF\xBD\x9E", "\xF0\x9F\x98\x80"});
    const auto asc = listing(SortKey::title, false);
    CHECK(asc[2].id < asc[3].id);  // equal titles: by id in the same direction
    const auto desc = listing(SortKey::title, true);
    CHECK(desc.front().title == "\xF0\x9F\x98\x80");
    CHECK(desc[8].title == "a");
    CHECK(desc[8].id > desc[9].id);
  }
  SECTION("priority low < medium < high") {
    std::vector<Priority> asc;
    for (const auto& t : listing(SortKey::priority, false)) asc.push_back(t.priority);
    const auto l = Priority::low, m = Priority::medium, h = Priority::high;
    CHECK(asc == std::vector<Priority>{l, l, l, l, m, m, m, m, h, h, h, h});
    std::vector<Priority> desc;
    for (const auto& t : listing(SortKey::priority, true)) desc.push_back(t.priority);
    CHECK(desc == std::vector<Priority>{h, h, h, h, m, m, m, m, l, l, l, l});
  }
  SECTION("due_date: undated tasks last in both directions") {
    std::vector<std::string> asc;
    const auto a = listing(SortKey::due_date, false);
    for (const auto& t : a) asc.push_back(due_text(t));
    CHECK(asc == std::vector<std::string>{"1969-12-31T23:59:59.999Z", "2026-04-01T00:00:00.000Z",
                                          "2026-04-01T00:00:00.000Z", "2026-05-01T10:00:00.000Z",
                                          "2026-05-01T10:00:00.000Z", "2026-05-01T10:00:00.001Z",
                                          "2026-06-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z", "null",
                                          "null", "null", "null"});
    std::vector<std::string> desc;
    const auto d = listing(SortKey::due_date, true);
    for (const auto& t : d) desc.push_back(due_text(t));
    CHECK(desc == std::vector<std::string>{"2027-01-01T00:00:00.000Z", "2026-06-01T00:00:00.000Z",
                                           "2026-05-01T10:00:00.001Z", "2026-05-01T10:00:00.000Z",
                                           "2026-05-01T10:00:00.000Z", "2026-04-01T00:00:00.000Z",
                                           "2026-04-01T00:00:00.000Z", "1969-12-31T23:59:59.999Z", "null",
                                           "null", "null", "null"});
    // The undated ones by id, in the direction of the sort.
    CHECK(a[8].id < a[9].id);
    CHECK(a[10].id < a[11].id);
    CHECK(d[8].id > d[9].id);
    CHECK(d[10].id > d[11].id);
    // Equal due dates by id too.
    CHECK(a[1].id < a[2].id);
    CHECK(d[3].id > d[4].id);
  }
  SECTION("updated follows the last change, created does not") {
    const auto by_updated = listing(SortKey::updated, true);
    const auto by_created = listing(SortKey::created, true);
    CHECK(ids_of(by_updated) != ids_of(by_created));
    for (std::size_t i = 1; i < by_updated.size(); ++i)
      CHECK(by_updated[i - 1].updated_at >= by_updated[i].updated_at);
    CHECK(by_updated.front().version == 2);  // the last one updated
  }
}

// --- pages ------------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: query pages of 1, 2, 3 and 7 walk exactly the full listing",
                        "[contract][query][pages]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const auto tasks = make_sort_fixture(*repo, "alice");
  for (const SortKey key : all_sort_keys) {
    for (const bool descending : {false, true}) {
      const auto full = repo->list("alice", sorted_by(key, descending)).tasks;
      REQUIRE(full.size() == 12);
      for (const std::size_t size : {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}}) {
        INFO("sort: " << sort_name(key, descending) << ", page size " << size);
        std::size_t pages = 0;
        const auto walked = walk_pages(*repo, "alice", sorted_by(key, descending), size, &pages);
        CHECK(ids_of(walked) == ids_of(full));
        CHECK(walked == full);
        // No empty page after a full last one: its next_cursor is already empty.
        CHECK(pages == (full.size() + size - 1) / size);
      }
    }
  }

  SECTION("a page boundary between tasks with the same sort value") {
    // Priority ascending: 4 low, 4 medium, 4 high; pages of 3 split every group.
    TaskQuery q = sorted_by(SortKey::priority, false);
    q.limit = 3;
    const TaskPage first = repo->list("alice", q);
    REQUIRE(first.next_cursor);
    REQUIRE(first.tasks.size() == 3);
    q.cursor = first.next_cursor;
    const TaskPage second = repo->list("alice", q);
    REQUIRE(second.tasks.size() == 3);
    CHECK(second.tasks.front().priority == Priority::low);  // the fourth low one
    CHECK(second.tasks.front().id > first.tasks.back().id);
    CHECK(second.tasks[1].priority == Priority::medium);
  }
  SECTION("a page boundary inside the undated tasks, and one right before them") {
    for (const bool descending : {false, true}) {
      INFO("descending " << descending);
      TaskQuery q = sorted_by(SortKey::due_date, descending);
      q.limit = 9;  // 8 dated + 1 undated
      const TaskPage first = repo->list("alice", q);
      REQUIRE(first.next_cursor);
      CHECK_FALSE(first.tasks.back().due_date);
      q.cursor = first.next_cursor;
      const TaskPage rest = repo->list("alice", q);
      CHECK_FALSE(rest.next_cursor);
      REQUIRE(rest.tasks.size() == 3);
      for (const auto& t : rest.tasks) CHECK_FALSE(t.due_date);

      q.limit = 8;  // exactly the dated ones
      q.cursor.reset();
      const TaskPage dated = repo->list("alice", q);
      REQUIRE(dated.next_cursor);
      for (const auto& t : dated.tasks) CHECK(t.due_date);
      q.cursor = dated.next_cursor;
      const TaskPage undated = repo->list("alice", q);
      CHECK_FALSE(undated.next_cursor);
      REQUIRE(undated.tasks.size() == 4);
      for (const auto& t : undated.tasks) CHECK_FALSE(t.due_date);
    }
  }
  SECTION("another user's listing and an empty one") {
    CHECK(walk_pages(*repo, "alice-other", sorted_by(SortKey::title, false), 5).size() == 12);
    std::size_t pages = 0;
    CHECK(walk_pages(*repo, "nobody", TaskQuery{}, 3, &pages).empty());
    CHECK(pages == 1);
  }
}

TEMPLATE_LIST_TEST_CASE("contract: query pages skip nothing and repeat nothing while tasks come and go",
                        "[contract][query][pages]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  int round = 0;
  for (const SortKey key : all_sort_keys) {
    for (const bool descending : {false, true}) {
      const std::string user = "walker-" + std::to_string(round++);
      INFO("sort: " << sort_name(key, descending) << ", user " << user);
      std::vector<Task> originals;
      static const char* const titles[] = {"m", "c", "x", "c", "q", "a", "m", "t", "e", "m", "b", "y", "k", "c", "n"};
      for (int i = 0; i < 15; ++i) {
        TaskDraft d = draft(titles[i]);
        d.priority = static_cast<Priority>(i % 3);
        if (i % 4 != 3) d.due_date = at("2026-02-01T00:00:00Z") + std::chrono::hours(24 * (i % 5));
        originals.push_back(repo->create(user, d));
        if (i % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      const auto order = in_listing_order(originals, key, descending);

      std::set<std::string> seen;
      std::set<std::string> deleted_unseen;
      std::vector<Task> walked;
      bool duplicate = false;
      TaskQuery q = sorted_by(key, descending);
      q.limit = 3;
      int page_no = 0;
      for (;;) {
        const TaskPage page = repo->list(user, q);
        REQUIRE(++page_no < 100);
        for (const auto& t : page.tasks) {
          duplicate = duplicate || !seen.insert(t.id).second;
          walked.push_back(t);
        }
        if (!page.next_cursor) break;
        q.cursor = page.next_cursor;
        // Between pages: delete an original not listed yet (the very next one on odd
        // pages, the last one on even pages), now and then the task the cursor points
        // at, and add tasks that sort anywhere.
        std::vector<const Task*> unseen;
        for (const auto& t : order)
          if (!seen.count(t.id) && !deleted_unseen.count(t.id)) unseen.push_back(&t);
        if (!unseen.empty()) {
          const Task* victim = page_no % 2 == 1 ? unseen.front() : unseen.back();
          REQUIRE(repo->remove(user, victim->id));
          deleted_unseen.insert(victim->id);
        }
        if (page_no % 3 == 0) REQUIRE(repo->remove(user, page.tasks.back().id));
        if (page_no < 8) {
          for (const char* title : {"a", "zz"}) {
            TaskDraft d = draft(title);
            d.priority = page_no % 2 ? Priority::low : Priority::high;
            if (title[0] == 'a') d.due_date = at("2026-02-03T00:00:00Z");
            repo->create(user, d);
          }
        }
      }
      CHECK_FALSE(duplicate);
      std::vector<std::string> gaps;
      for (const auto& t : originals)
        if (!deleted_unseen.count(t.id) && !seen.count(t.id)) gaps.push_back(t.id);
      CHECK(gaps == std::vector<std::string>{});
      for (const auto& id : deleted_unseen) CHECK_FALSE(seen.count(id));
      CHECK_FALSE(deleted_unseen.empty());
      // Whatever was listed, was listed in order.
      for (std::size_t i = 1; i < walked.size(); ++i) {
        INFO("position " << i);
        CHECK(listed_before(walked[i - 1], walked[i], key, descending));
      }
    }
  }
}

TEMPLATE_LIST_TEST_CASE("contract: query limit and cursor are checked", "[contract][query][pages]",
                        ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  for (int i = 0; i < 3; ++i) repo->create("alice", draft("t" + std::to_string(i)));
  const auto fields_of = [&](const TaskQuery& q) {
    return validation_fields([&] { (void)repo->list("alice", q); });
  };
  const auto page_cursor = [&](SortKey key, bool descending) {
    TaskQuery q = sorted_by(key, descending);
    q.limit = 1;
    const TaskPage p = repo->list("alice", q);
    REQUIRE(p.next_cursor);
    return *p.next_cursor;
  };

  SECTION("limit 1..1000") {
    TaskQuery q;
    q.limit = 0;
    CHECK(fields_of(q) == std::vector<std::string>{"limit"});
    q.limit = 1001;
    CHECK(fields_of(q) == std::vector<std::string>{"limit"});
    q.limit = libtodo::max_page_size;
    const TaskPage all = repo->list("alice", q);
    CHECK(all.tasks.size() == 3);
    CHECK_FALSE(all.next_cursor);
    q.limit = 1;
    const TaskPage one = repo->list("alice", q);
    CHECK(one.tasks.size() == 1);
    CHECK(one.next_cursor);
  }
  SECTION("a cursor only fits the sort it was made for") {
    const std::string title_asc = page_cursor(SortKey::title, false);
    for (const auto& [key, descending] : std::vector<std::pair<SortKey, bool>>{
             {SortKey::created, true}, {SortKey::title, true}, {SortKey::created, false},
             {SortKey::priority, false}, {SortKey::due_date, false}, {SortKey::updated, false}}) {
      INFO("used with sort " << sort_name(key, descending));
      TaskQuery q = sorted_by(key, descending);
      q.limit = 1;
      q.cursor = title_asc;
      CHECK(fields_of(q) == std::vector<std::string>{"cursor"});
    }
    TaskQuery q = sorted_by(SortKey::title, false);
    q.limit = 1;
    q.cursor = title_asc;
    CHECK(repo->list("alice", q).tasks.size() == 1);
    // The default sort (-created) with a created ascending cursor.
    TaskQuery d;
    d.limit = 1;
    d.cursor = page_cursor(SortKey::created, false);
    CHECK(fields_of(d) == std::vector<std::string>{"cursor"});
  }
  SECTION("malformed cursors") {
    const std::string good = page_cursor(SortKey::created, true);
    const std::string id = libtodo::new_uuid_v7();
    std::vector<std::string> bad = {"garbage", "", ".", "...", good + "x", good + ".x", "x" + good,
                                    upper(good), "created.d.12x." + id, "created.d..", "created.d." + id,
                                    "created.x.1." + id, "created.d.1.2." + id, "created.d.1." + id + "0",
                                    "title.a.tzz." + id, "title.a.t6." + id, "title.a.6162." + id,
                                    "title.a.tc080." + id,  // hex of invalid UTF-8
                                    "priority.a.n." + id, "created.d.n." + id,
                                    "created.d.99999999999999999999." + id, std::string(5000, 'a'),
                                    std::string("created.d.1.") + '\0' + id};
    for (const std::string& cursor : bad) {
      INFO("cursor: " << cursor);
      TaskQuery q;
      q.limit = 2;
      q.cursor = cursor;
      CHECK(fields_of(q) == std::vector<std::string>{"cursor"});
    }
  }
  SECTION("cursor values no task can have are refused") {
    // Well-formed, but made by no page: instants outside the years 1..9999,
    // priorities outside low..high, titles with NUL. PostgreSQL could not
    // compute some of them as bounds at all.
    const std::string id = libtodo::new_uuid_v7();
    for (const auto& [key, descending, cursor] :
         std::vector<std::tuple<SortKey, bool, std::string>>{
             {SortKey::created, true, "created.d.9223372036854775807." + id},
             {SortKey::created, true, "created.d.-9223372036854775808." + id},
             {SortKey::created, false, "created.a.253402300800000." + id},
             {SortKey::updated, true, "updated.d.-62135596800001." + id},
             {SortKey::due_date, true, "due_date.d.9223372036854775807." + id},
             {SortKey::priority, true, "priority.d.3." + id},
             {SortKey::priority, false, "priority.a.-1." + id},
             {SortKey::priority, true, "priority.d.99999." + id},
             {SortKey::title, false, "title.a.t00." + id},
             {SortKey::title, false, "title.a.t6101." + id}}) {
      INFO("cursor: " << cursor);
      TaskQuery q = sorted_by(key, descending);
      q.limit = 2;
      q.cursor = cursor;
      CHECK(fields_of(q) == std::vector<std::string>{"cursor"});
    }
    // The extremes tasks can have are fine.
    for (const auto& [key, cursor] : std::vector<std::pair<SortKey, std::string>>{
             {SortKey::created, "created.a.-62135596800000." + id},
             {SortKey::due_date, "due_date.a.253402300799999." + id},
             {SortKey::priority, "priority.a.2." + id},
             {SortKey::title, "title.a.t0961." + id}}) {
      INFO("cursor: " << cursor);
      TaskQuery q = sorted_by(key, false);
      q.limit = 2;
      q.cursor = cursor;
      CHECK_NOTHROW(repo->list("alice", q));
    }
  }
  SECTION("every problem is named at once") {
    TaskQuery q;
    q.limit = 0;
    q.cursor = "garbage";
    const auto fields = fields_of(q);
    CHECK(std::set<std::string>(fields.begin(), fields.end()) == std::set<std::string>{"limit", "cursor"});
  }
  SECTION("a cursor whose task was deleted still continues the walk") {
    TaskQuery q = sorted_by(SortKey::title, false);
    q.limit = 1;
    const TaskPage first = repo->list("alice", q);
    REQUIRE(first.next_cursor);
    REQUIRE(repo->remove("alice", first.tasks.front().id));
    q.cursor = first.next_cursor;
    q.limit = 10;
    const TaskPage rest = repo->list("alice", q);
    REQUIRE(rest.tasks.size() == 2);
    CHECK(rest.tasks[0].title == "t1");
    CHECK(rest.tasks[1].title == "t2");
  }
}

// --- toggle -----------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: toggle flips completion", "[contract][toggle]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task original = repo->create("alice", full_draft());
  const Task other = repo->create("alice", draft("other"));

  SECTION("both ways, moving version and updated_at, nothing else") {
    const auto done = repo->toggle("alice", original.id);
    REQUIRE(done);
    CHECK(done->completed);
    CHECK(done->status() == "completed");
    CHECK(done->version == original.version + 1);
    CHECK(done->updated_at > original.updated_at);
    Task expected = original;
    expected.completed = true;
    expected.version = done->version;
    expected.updated_at = done->updated_at;
    CHECK(*done == expected);
    CHECK(repo->find("alice", original.id) == done);

    const auto reopened = repo->toggle("alice", original.id);
    REQUIRE(reopened);
    CHECK_FALSE(reopened->completed);
    CHECK(reopened->version == done->version + 1);
    CHECK(reopened->updated_at > done->updated_at);
    CHECK(reopened->created_at == original.created_at);
    CHECK(repo->find("alice", original.id) == reopened);
    CHECK(repo->find("alice", other.id) == other);
  }
  SECTION("another user's task: nullopt, unchanged") {
    CHECK_FALSE(repo->toggle("bob", original.id));
    CHECK(repo->find("alice", original.id) == original);
    CHECK(all_tasks(*repo, "alice").size() == 2);
    CHECK(all_tasks(*repo, "bob").empty());
  }
  SECTION("unknown and malformed ids: nullopt") {
    CHECK_FALSE(repo->toggle("alice", libtodo::new_uuid_v7()));
    CHECK_FALSE(repo->toggle("alice", "not-a-uuid"));
    CHECK_FALSE(repo->toggle("alice", upper(original.id)));
    CHECK_FALSE(repo->toggle("alice", ""));
    CHECK(repo->find("alice", original.id) == original);
  }
}

TEMPLATE_LIST_TEST_CASE("contract: toggling a recurring task to completed spawns one occurrence",
                        "[contract][toggle][recurrence]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task t = repo->create("alice", recurring(Recurrence::weekly, "2026-12-29T08:15:00Z"));

  const auto done = repo->toggle("alice", t.id);
  REQUIRE(done);
  CHECK(done->completed);
  CHECK(done->due_date == t.due_date);
  const auto after_first = others(*repo, "alice", t.id);
  REQUIRE(after_first.size() == 1);
  const Task& next = after_first.front();
  CHECK_FALSE(next.completed);
  CHECK(due_text(next) == "2027-01-05T08:15:00.000Z");
  CHECK(next.title == t.title);
  CHECK(next.description == t.description);
  CHECK(next.priority == t.priority);
  CHECK(next.tags == t.tags);
  CHECK(next.recurrence == Recurrence::weekly);

  // Back to pending: nothing spawns.
  const auto reopened = repo->toggle("alice", t.id);
  REQUIRE(reopened);
  CHECK_FALSE(reopened->completed);
  CHECK(all_tasks(*repo, "alice").size() == 2);

  // Completing again is a new completion (SPEC §3).
  REQUIRE(repo->toggle("alice", t.id));
  CHECK(all_tasks(*repo, "alice").size() == 3);
  CHECK(all_tasks(*repo, "bob").empty());
}

// --- bulk -------------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: set_completed is all or nothing", "[contract][bulk]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task a = repo->create("alice", draft("a"));
  const Task b = repo->create("alice", draft("b"));
  const Task c = repo->create("alice", draft("c"));
  const Task f = repo->create("bob", draft("bob's"));
  const std::string unknown = libtodo::new_uuid_v7();
  const auto nothing_changed = [&] {
    CHECK(repo->find("alice", a.id) == a);
    CHECK(repo->find("alice", b.id) == b);
    CHECK(repo->find("alice", c.id) == c);
    CHECK(repo->find("bob", f.id) == f);
    CHECK(all_tasks(*repo, "alice").size() == 3);
    CHECK(all_tasks(*repo, "bob").size() == 1);
  };

  SECTION("the user's tasks: every one changes, the others do not") {
    const BulkResult r = repo->set_completed("alice", {a.id, b.id}, true);
    CHECK(r.affected == 2);
    CHECK(r.missing.empty());
    for (const Task* t : {&a, &b}) {
      const auto now = repo->find("alice", t->id);
      REQUIRE(now);
      CHECK(now->completed);
      CHECK(now->version == t->version + 1);
      CHECK(now->updated_at > t->updated_at);
      CHECK(now->title == t->title);
    }
    CHECK(repo->find("alice", c.id) == c);
    CHECK(repo->find("bob", f.id) == f);

    const BulkResult back = repo->set_completed("alice", {b.id, a.id}, false);
    CHECK(back.affected == 2);
    CHECK(back.missing.empty());
    CHECK_FALSE(repo->find("alice", a.id)->completed);
    CHECK_FALSE(repo->find("alice", b.id)->completed);
  }
  SECTION("one foreign id: nothing changes, it is the one missing") {
    const BulkResult r = repo->set_completed("alice", {a.id, f.id, b.id}, true);
    CHECK(r.affected == 0);
    CHECK(r.missing == std::vector<std::string>{f.id});
    nothing_changed();
  }
  SECTION("one unknown id") {
    const BulkResult r = repo->set_completed("alice", {a.id, b.id, unknown}, true);
    CHECK(r.affected == 0);
    CHECK(r.missing == std::vector<std::string>{unknown});
    nothing_changed();
  }
  SECTION("one malformed id") {
    for (const std::string& bad : {std::string("not-a-uuid"), upper(a.id), std::string()}) {
      INFO("id: " << bad);
      const BulkResult r = repo->set_completed("alice", {a.id, bad}, true);
      CHECK(r.affected == 0);
      CHECK(r.missing == std::vector<std::string>{bad});
    }
    nothing_changed();
  }
  SECTION("several missing of every kind: all of them listed, once each") {
    const BulkResult r =
        repo->set_completed("alice", {a.id, "nope", f.id, unknown, b.id, unknown, "nope"}, true);
    CHECK(r.affected == 0);
    CHECK(sorted_strings(r.missing) == sorted_strings({"nope", f.id, unknown}));
    nothing_changed();
  }
  SECTION("another user cannot complete them") {
    const BulkResult r = repo->set_completed("bob", {a.id}, true);
    CHECK(r.affected == 0);
    CHECK(r.missing == std::vector<std::string>{a.id});
    nothing_changed();
  }
  SECTION("duplicates count once") {
    const BulkResult r = repo->set_completed("alice", {a.id, a.id, b.id, a.id}, true);
    CHECK(r.affected == 2);
    CHECK(r.missing.empty());
    CHECK(repo->find("alice", a.id)->version == a.version + 1);
    CHECK(repo->find("alice", a.id)->completed);
  }
  SECTION("empty and too many ids are a ValidationError") {
    CHECK(validation_fields([&] { repo->set_completed("alice", {}, true); }) == std::vector<std::string>{"ids"});
    std::vector<std::string> many(libtodo::max_bulk_ids + 1);
    for (auto& id : many) id = libtodo::new_uuid_v7();
    many.front() = a.id;
    CHECK(validation_fields([&] { repo->set_completed("alice", many, true); }) ==
          std::vector<std::string>{"ids"});
    nothing_changed();
    // Exactly the maximum is accepted (and here names all but one as missing).
    many.pop_back();
    const BulkResult r = repo->set_completed("alice", many, true);
    CHECK(r.affected == 0);
    CHECK(r.missing.size() == libtodo::max_bulk_ids - 1);
    nothing_changed();
  }
}

TEMPLATE_LIST_TEST_CASE("contract: set_completed spawns the next occurrence of each task it completes",
                        "[contract][bulk][recurrence]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task daily = repo->create("alice", recurring(Recurrence::daily, "2026-01-31T23:30:00Z"));
  const Task monthly = repo->create("alice", recurring(Recurrence::monthly, "2028-01-31T08:00:00Z"));
  TaskDraft done_draft = recurring(Recurrence::weekly, "2026-03-01T00:00:00Z");
  done_draft.completed = true;
  const Task done = repo->create("alice", done_draft);
  TaskDraft plain_draft = draft("plain");
  plain_draft.due_date = at("2026-03-01T00:00:00Z");
  const Task plain = repo->create("alice", plain_draft);
  const std::set<std::string> originals{daily.id, monthly.id, done.id, plain.id};
  const auto spawned = [&] {
    std::vector<Task> out;
    for (auto& t : all_tasks(*repo, "alice"))
      if (!originals.count(t.id)) out.push_back(std::move(t));
    return out;
  };

  SECTION("completing spawns for the pending recurring ones only") {
    const BulkResult r = repo->set_completed("alice", {daily.id, monthly.id, done.id, plain.id}, true);
    CHECK(r.missing.empty());
    for (const auto& id : originals) CHECK(repo->find("alice", id)->completed);
    const auto next = spawned();
    REQUIRE(next.size() == 2);
    std::set<std::string> dues;
    for (const auto& t : next) {
      CHECK_FALSE(t.completed);
      CHECK(t.title == "Recurring");
      dues.insert(due_text(t));
    }
    CHECK(dues == std::set<std::string>{"2026-02-01T23:30:00.000Z", "2028-02-29T08:00:00.000Z"});

    // Reopening spawns nothing; completing them again is a new completion.
    const BulkResult back = repo->set_completed("alice", {daily.id, monthly.id}, false);
    CHECK(back.affected == 2);
    CHECK(spawned().size() == 2);
    REQUIRE(repo->set_completed("alice", {daily.id}, true).missing.empty());
    CHECK(spawned().size() == 3);
  }
  SECTION("already completed ones spawn nothing") {
    const BulkResult r = repo->set_completed("alice", {done.id}, true);
    CHECK(r.missing.empty());
    CHECK(spawned().empty());
    CHECK(repo->find("alice", done.id)->completed);
  }
  SECTION("a bulk that fails spawns nothing") {
    const Task foreign = repo->create("bob", recurring(Recurrence::daily, "2026-01-01T00:00:00Z"));
    const BulkResult r = repo->set_completed("alice", {daily.id, monthly.id, foreign.id}, true);
    CHECK(r.affected == 0);
    CHECK(r.missing == std::vector<std::string>{foreign.id});
    CHECK(spawned().empty());
    CHECK_FALSE(repo->find("alice", daily.id)->completed);
    CHECK(all_tasks(*repo, "bob").size() == 1);
  }
}

TEMPLATE_LIST_TEST_CASE("contract: remove_all is all or nothing", "[contract][bulk]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Task a = repo->create("alice", draft("a"));
  const Task b = repo->create("alice", draft("b"));
  const Task c = repo->create("alice", draft("c"));
  const Task f = repo->create("bob", draft("bob's"));
  const std::string unknown = libtodo::new_uuid_v7();
  const auto nothing_changed = [&] {
    CHECK(repo->find("alice", a.id) == a);
    CHECK(repo->find("alice", b.id) == b);
    CHECK(repo->find("alice", c.id) == c);
    CHECK(repo->find("bob", f.id) == f);
    CHECK(all_tasks(*repo, "alice").size() == 3);
  };

  SECTION("the user's tasks: all deleted, the others stay") {
    const BulkResult r = repo->remove_all("alice", {a.id, c.id});
    CHECK(r.affected == 2);
    CHECK(r.missing.empty());
    CHECK(ids_of(all_tasks(*repo, "alice")) == std::vector<std::string>{b.id});
    CHECK(repo->find("bob", f.id) == f);
    // Gone now: a second call names them.
    const BulkResult again = repo->remove_all("alice", {a.id, b.id});
    CHECK(again.affected == 0);
    CHECK(again.missing == std::vector<std::string>{a.id});
    CHECK(repo->find("alice", b.id) == b);
  }
  SECTION("one foreign id") {
    const BulkResult r = repo->remove_all("alice", {a.id, b.id, f.id});
    CHECK(r.affected == 0);
    CHECK(r.missing == std::vector<std::string>{f.id});
    nothing_changed();
  }
  SECTION("one unknown id") {
    const BulkResult r = repo->remove_all("alice", {unknown, a.id});
    CHECK(r.affected == 0);
    CHECK(r.missing == std::vector<std::string>{unknown});
    nothing_changed();
  }
  SECTION("one malformed id") {
    const BulkResult r = repo->remove_all("alice", {a.id, "' OR '1'='1"});
    CHECK(r.affected == 0);
    CHECK(r.missing == std::vector<std::string>{"' OR '1'='1"});
    nothing_changed();
  }
  SECTION("several missing of every kind: all of them listed, once each") {
    const BulkResult r = repo->remove_all("alice", {"nope", a.id, f.id, unknown, f.id});
    CHECK(r.affected == 0);
    CHECK(sorted_strings(r.missing) == sorted_strings({"nope", f.id, unknown}));
    nothing_changed();
  }
  SECTION("another user cannot delete them") {
    const BulkResult r = repo->remove_all("bob", {a.id, b.id});
    CHECK(r.affected == 0);
    CHECK(sorted_strings(r.missing) == sorted_strings({a.id, b.id}));
    nothing_changed();
  }
  SECTION("duplicates count once") {
    const BulkResult r = repo->remove_all("alice", {b.id, b.id, a.id});
    CHECK(r.affected == 2);
    CHECK(r.missing.empty());
    CHECK(ids_of(all_tasks(*repo, "alice")) == std::vector<std::string>{c.id});
  }
  SECTION("empty and too many ids are a ValidationError") {
    CHECK(validation_fields([&] { repo->remove_all("alice", {}); }) == std::vector<std::string>{"ids"});
    std::vector<std::string> many(libtodo::max_bulk_ids + 1, a.id);
    for (std::size_t i = 1; i < many.size(); ++i) many[i] = libtodo::new_uuid_v7();
    CHECK(validation_fields([&] { repo->remove_all("alice", many); }) == std::vector<std::string>{"ids"});
    nothing_changed();
  }
}

// --- stats ------------------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: stats counts the user's tasks", "[contract][stats]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  const Timestamp now = at("2026-06-01T00:00:00Z");
  const auto make = [&](const std::string& user, bool completed, Priority p, const char* due) {
    TaskDraft d = draft("t");
    d.completed = completed;
    d.priority = p;
    if (due) d.due_date = at(due);
    return repo->create(user, d);
  };
  const Task overdue1 = make("alice", false, Priority::low, "2026-05-01T00:00:00Z");
  make("alice", false, Priority::high, "2026-05-31T23:59:59.999Z");  // overdue by 1 ms
  make("alice", false, Priority::medium, "2026-06-01T00:00:00Z");    // due exactly now: not overdue
  make("alice", false, Priority::medium, "2026-07-01T00:00:00Z");
  make("alice", false, Priority::medium, nullptr);
  make("alice", true, Priority::high, "2026-01-01T00:00:00Z");       // past but completed
  make("alice", true, Priority::low, nullptr);
  for (int i = 0; i < 3; ++i) make("bob", false, Priority::high, "2020-01-01T00:00:00Z");

  const auto expect = [](const TaskStats& s, std::size_t total, std::size_t completed, std::size_t pending,
                         std::size_t overdue, std::size_t low, std::size_t medium, std::size_t high) {
    CHECK(s.total == total);
    CHECK(s.completed == completed);
    CHECK(s.pending == pending);
    CHECK(s.overdue == overdue);
    CHECK(s.low == low);
    CHECK(s.medium == medium);
    CHECK(s.high == high);
  };

  SECTION("every number, for the given now") {
    expect(repo->stats("alice", now), 7, 2, 5, 2, 2, 3, 2);
    expect(repo->stats("alice", at("1970-01-01T00:00:00Z")), 7, 2, 5, 0, 2, 3, 2);
    expect(repo->stats("alice", at("2026-06-01T00:00:00.001Z")), 7, 2, 5, 3, 2, 3, 2);
    expect(repo->stats("alice", at("9999-01-01T00:00:00Z")), 7, 2, 5, 4, 2, 3, 2);
  }
  SECTION("other users' tasks are not counted, and they get their own") {
    expect(repo->stats("bob", now), 3, 0, 3, 3, 0, 0, 3);
    expect(repo->stats("carol", now), 0, 0, 0, 0, 0, 0, 0);
    expect(repo->stats("ALICE", now), 0, 0, 0, 0, 0, 0, 0);
  }
  SECTION("changes show at once") {
    REQUIRE(repo->toggle("alice", overdue1.id));
    expect(repo->stats("alice", now), 7, 3, 4, 1, 2, 3, 2);
    TaskPatch p;
    p.priority = Priority::high;
    REQUIRE(repo->update("alice", overdue1.id, p));
    expect(repo->stats("alice", now), 7, 3, 4, 1, 1, 3, 3);
    REQUIRE(repo->remove("alice", overdue1.id));
    expect(repo->stats("alice", now), 6, 2, 4, 1, 1, 3, 2);
  }
}

// --- recurrence dates -------------------------------------------------------------------------

TEMPLATE_LIST_TEST_CASE("contract: recurrence dates across month ends, leap years and year ends",
                        "[contract][recurrence]", ContractBackends) {
  using namespace libtodo_contract;
  auto repo = TestType::make();
  // Completes each occurrence in turn (with update) and returns the due dates of the
  // spawned ones. Each chain runs for a user of its own.
  int chains = 0;
  const auto chain = [&](Recurrence r, const char* first, int steps) {
    const std::string user = "alice-" + std::to_string(chains++);
    Task current = repo->create(user, recurring(r, first));
    std::vector<std::string> dues;
    for (int i = 0; i < steps; ++i) {
      current = complete_and_get_next(*repo, user, current.id);
      dues.push_back(due_text(current));
    }
    CHECK(all_tasks(*repo, user).size() == static_cast<std::size_t>(steps + 1));
    return dues;
  };

  SECTION("monthly from Jan 31 2027: Feb 28, then Mar 28") {
    CHECK(chain(Recurrence::monthly, "2027-01-31T09:00:00Z", 2) ==
          std::vector<std::string>{"2027-02-28T09:00:00.000Z", "2027-03-28T09:00:00.000Z"});
  }
  SECTION("monthly from Jan 31 2028 (leap year): Feb 29, then Mar 29") {
    CHECK(chain(Recurrence::monthly, "2028-01-31T23:59:59.999Z", 2) ==
          std::vector<std::string>{"2028-02-29T23:59:59.999Z", "2028-03-29T23:59:59.999Z"});
  }
  SECTION("monthly over the year end and from the 31st into a 30-day month") {
    CHECK(chain(Recurrence::monthly, "2026-12-31T00:00:00Z", 4) ==
          std::vector<std::string>{"2027-01-31T00:00:00.000Z", "2027-02-28T00:00:00.000Z",
                                   "2027-03-28T00:00:00.000Z", "2027-04-28T00:00:00.000Z"});
    const auto from_march = chain(Recurrence::monthly, "2027-03-31T12:00:00Z", 1);
    CHECK(from_march == std::vector<std::string>{"2027-04-30T12:00:00.000Z"});
  }
  SECTION("daily across a month end") {
    CHECK(chain(Recurrence::daily, "2026-01-31T23:30:00Z", 1) ==
          std::vector<std::string>{"2026-02-01T23:30:00.000Z"});
  }
  SECTION("daily across a leap day") {
    CHECK(chain(Recurrence::daily, "2028-02-28T10:00:00Z", 2) ==
          std::vector<std::string>{"2028-02-29T10:00:00.000Z", "2028-03-01T10:00:00.000Z"});
  }
  SECTION("daily across the year end") {
    CHECK(chain(Recurrence::daily, "2026-12-31T23:59:59.999Z", 1) ==
          std::vector<std::string>{"2027-01-01T23:59:59.999Z"});
  }
  SECTION("weekly across the year end") {
    CHECK(chain(Recurrence::weekly, "2026-12-28T08:00:00Z", 1) ==
          std::vector<std::string>{"2027-01-04T08:00:00.000Z"});
  }
  SECTION("weekly across a leap February") {
    CHECK(chain(Recurrence::weekly, "2028-02-26T08:00:00.123Z", 2) ==
          std::vector<std::string>{"2028-03-04T08:00:00.123Z", "2028-03-11T08:00:00.123Z"});
  }
  SECTION("an offset due date is stored as UTC and the period counts in UTC") {
    CHECK(chain(Recurrence::monthly, "2027-02-01T01:00:00+02:00", 1) ==
          std::vector<std::string>{"2027-02-28T23:00:00.000Z"});
  }
}
