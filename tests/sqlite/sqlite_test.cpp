// SQLite-specific behaviour: files, migrations, WAL, locking and error translation (SPEC §6).

#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <latch>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>

#include <libtodo/errors.hpp>
#include <libtodo/sqlite_repository.hpp>
#include <libtodo/time.hpp>
#include <libtodo/uuid.hpp>

// Tasks are compared as CHECK((a == b)): the StringMaker<Task> lives in the contract's
// translation unit, and a second, implicit one here would break the one-definition rule.

namespace {

namespace fs = std::filesystem;
using libtodo::SqliteOptions;
using libtodo::SqliteTaskRepository;
using libtodo::Task;
using libtodo::TaskDraft;
using libtodo::TaskPatch;

// A unique database path under the temp directory, removed (with -wal/-shm) at scope exit.
class TempDb {
 public:
  TempDb()
      : path_(fs::temp_directory_path() / ("libtodo-sqlite-" + libtodo::new_uuid_v7() + ".db")) {}
  ~TempDb() {
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm", "-journal"})
      fs::remove(path_.string() + suffix, ignored);
  }
  TempDb(const TempDb&) = delete;
  TempDb& operator=(const TempDb&) = delete;

  [[nodiscard]] std::string path() const { return path_.string(); }
  [[nodiscard]] SqliteOptions options() const { return SqliteOptions{.path = path()}; }

 private:
  fs::path path_;
};

TaskDraft draft(std::string title) {
  TaskDraft d;
  d.title = std::move(title);
  return d;
}

TaskPatch title_patch(std::string title) {
  TaskPatch p;
  p.title = std::move(title);
  return p;
}

TaskPatch completed_patch() {
  TaskPatch p;
  p.completed = true;
  return p;
}

std::vector<Task> all_tasks(libtodo::TaskRepository& repo, std::string_view user) {
  return repo.list(user, libtodo::TaskQuery{}).tasks;
}

// Runs `f` and records what it threw (Catch2 assertions are not thread-safe).
class ThreadErrors {
 public:
  template <class F>
  void run(F&& f) {
    try {
      f();
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex_);
      messages_.emplace_back(e.what());
    }
  }
  std::vector<std::string> messages() {
    std::lock_guard lock(mutex_);
    return messages_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> messages_;
};

}  // namespace

TEST_CASE("sqlite: data survives closing and reopening a file", "[sqlite]") {
  TempDb db;
  Task kept;
  Task edited;
  std::string removed_id;
  {
    SqliteTaskRepository repo(db.options());
    TaskDraft d = draft("kept");
    d.description = "with every field";
    d.priority = libtodo::Priority::high;
    d.tags = {"a", "b"};
    d.due_date = libtodo::parse_rfc3339("2026-06-01T10:00:00.123Z");
    d.recurrence = libtodo::Recurrence::monthly;
    kept = repo.create("alice", d);
    edited = repo.create("alice", draft("to edit"));
    TaskPatch p;
    p.title = "edited";
    p.completed = true;
    edited = *repo.update("alice", edited.id, p);
    removed_id = repo.create("alice", draft("to remove")).id;
    REQUIRE(repo.remove("alice", removed_id));
  }
  SqliteTaskRepository reopened(db.options());
  CHECK((reopened.find("alice", kept.id) == kept));
  CHECK((reopened.find("alice", edited.id) == edited));
  CHECK_FALSE(reopened.find("alice", removed_id));
  CHECK(all_tasks(reopened, "alice").size() == 2);
  // The store keeps working on the reopened file.
  const auto again = reopened.update("alice", edited.id, title_patch("edited again"));
  REQUIRE(again);
  CHECK(again->version == edited.version + 1);
}

TEST_CASE("sqlite: the synchronous=full setting stores data as well", "[sqlite]") {
  TempDb db;
  SqliteOptions options = db.options();
  options.synchronous = libtodo::SqliteSync::full;
  std::string id;
  {
    SqliteTaskRepository repo(options);
    id = repo.create("alice", draft("durable")).id;
  }
  SqliteTaskRepository reopened(options);
  REQUIRE(reopened.find("alice", id));
  CHECK(reopened.find("alice", id)->title == "durable");
}

TEST_CASE("sqlite: schema_version is the latest", "[sqlite][migrations]") {
  SECTION("in memory") {
    CHECK(SqliteTaskRepository(SqliteOptions{}).schema_version() == libtodo::latest_schema_version);
  }
  SECTION("on a file, new and reopened") {
    TempDb db;
    CHECK(SqliteTaskRepository(db.options()).schema_version() == libtodo::latest_schema_version);
    CHECK(SqliteTaskRepository(db.options()).schema_version() == libtodo::latest_schema_version);
  }
}

TEST_CASE("sqlite: each migration is recorded once", "[sqlite][migrations]") {
  TempDb db;
  {
    SqliteTaskRepository first(db.options());
    first.create("alice", draft("before the second open"));
  }
  {
    SqliteTaskRepository second(db.options());
    SqliteTaskRepository third(db.options());  // two open at once
    CHECK(all_tasks(third, "alice").size() == 1);
  }
  SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
  SQLite::Statement rows(raw,
                         "SELECT version, COUNT(*), MIN(name) FROM schema_migrations "
                         "GROUP BY version ORDER BY version");
  std::vector<std::pair<int, int>> counts;
  while (rows.executeStep()) {
    counts.emplace_back(rows.getColumn(0).getInt(), rows.getColumn(1).getInt());
    CHECK_FALSE(rows.getColumn(2).getString().empty());  // every migration has a name
  }
  CHECK(counts == std::vector<std::pair<int, int>>{{1, 1}, {2, 1}, {3, 1}, {4, 1}});
}

TEST_CASE("sqlite: several repositories migrating one new file at once", "[sqlite][migrations]") {
  // Two servers starting together on a fresh file (SPEC §6). A lost race shows up in roughly
  // one round in ten, so run enough rounds to expose it reliably.
  constexpr int rounds = 60;
  constexpr int openers = 4;
  for (int round = 0; round < rounds; ++round) {
    INFO("round " << round);
    TempDb db;
    ThreadErrors errors;
    std::latch start(openers);
    std::atomic<int> versions_seen{0};
    std::vector<std::thread> pool;
    for (int n = 0; n < openers; ++n) {
      pool.emplace_back([&, n] {
        errors.run([&] {
          start.arrive_and_wait();  // open as simultaneously as threads allow
          SqliteTaskRepository repo(db.options());
          if (repo.schema_version() == libtodo::latest_schema_version) ++versions_seen;
          repo.create("user-" + std::to_string(n), draft("t"));
        });
      });
    }
    for (auto& th : pool) th.join();
    REQUIRE(errors.messages() == std::vector<std::string>{});  // prints what was thrown
    CHECK(versions_seen == openers);
    SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
    CHECK(raw.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt() ==
          libtodo::latest_schema_version);
    CHECK(raw.execAndGet("SELECT COUNT(*) FROM tasks").getInt() == openers);
  }
}

TEST_CASE("sqlite: ping fails when the database lost migrations after opening",
          "[sqlite][migrations]") {
  TempDb db;
  SqliteTaskRepository repo(db.options());
  CHECK_NOTHROW(repo.ping());
  {
    // As if the file were replaced by an older backup while the server runs.
    SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
    raw.exec("DELETE FROM schema_migrations WHERE version = " +
             std::to_string(libtodo::latest_schema_version));
  }
  CHECK_THROWS_AS(repo.ping(), libtodo::StorageUnavailable);
}

TEST_CASE("sqlite: opening a database from a newer schema is refused", "[sqlite][migrations]") {
  TempDb db;
  SECTION("a libtodo database with a future migration recorded") {
    std::string id;
    {
      SqliteTaskRepository repo(db.options());
      id = repo.create("alice", draft("old data")).id;
    }
    {
      SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
      raw.exec(
          "INSERT INTO schema_migrations (version, name, applied_at) "
          "VALUES (999, 'from the future', '2099-01-01T00:00:00Z')");
    }
    CHECK_THROWS_AS(SqliteTaskRepository(db.options()), libtodo::StorageError);
    // Nothing was touched: the rows are still there.
    SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
    CHECK(raw.execAndGet("SELECT COUNT(*) FROM tasks").getInt() == 1);
    CHECK(raw.execAndGet("SELECT COUNT(*) FROM schema_migrations").getInt() ==
          libtodo::latest_schema_version + 1);
  }
  SECTION("a file that only has schema_migrations at version 999") {
    {
      SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
      raw.exec(
          "CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, "
          "name TEXT NOT NULL, applied_at TEXT NOT NULL)");
      raw.exec("INSERT INTO schema_migrations VALUES (999, 'future', '2099-01-01T00:00:00Z')");
    }
    CHECK_THROWS_AS(SqliteTaskRepository(db.options()), libtodo::StorageError);
    SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
    CHECK_FALSE(raw.tableExists("tasks"));  // the migration did not run
  }
}

TEST_CASE("sqlite: a file database runs in WAL mode", "[sqlite]") {
  TempDb db;
  SqliteTaskRepository repo(db.options());
  repo.create("alice", draft("t"));
  SQLite::Database raw(db.path(), SQLite::OPEN_READONLY);
  CHECK(raw.execAndGet("PRAGMA journal_mode").getString() == "wal");
}

TEST_CASE("sqlite: committed pages reach the main file without another write", "[sqlite][wal]") {
  TempDb db;
  SqliteTaskRepository repo(db.options());
  for (int i = 0; i < 20; ++i) repo.create("alice", draft("t" + std::to_string(i)));
  // The checkpointer runs at least once a second; the schema and the tasks
  // then live in the main file, not only in the WAL.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fs::file_size(db.path()) <= 4096 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(fs::file_size(db.path()) > 4096);
}

TEST_CASE("sqlite: the WAL stays bounded under a steady stream of writes and reads",
          "[sqlite][wal][threads]") {
  TempDb db;
  SqliteOptions options = db.options();
  options.wal_limit_kib = 4 * 1024;
  SqliteTaskRepository repo(options);
  std::atomic<bool> stop{false};
  std::atomic<std::uintmax_t> largest_wal{0};
  ThreadErrors errors;
  std::vector<std::thread> threads;
  // Writers never pause, so a checkpoint never finds the log fully copied
  // when the next commit starts; readers keep snapshots open in the WAL.
  for (int w = 0; w < 4; ++w)
    threads.emplace_back([&, w] {
      errors.run([&] {
        const std::string user = "writer" + std::to_string(w);
        while (!stop.load()) (void)repo.create(user, draft(std::string(200, 'x')));
      });
    });
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&] {
      errors.run([&] {
        libtodo::TaskQuery q;
        q.limit = 20;
        while (!stop.load()) (void)repo.list("writer0", q);
      });
    });
  const std::string wal = db.path() + "-wal";
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  while (std::chrono::steady_clock::now() < end) {
    std::error_code ec;
    const auto size = fs::file_size(wal, ec);
    if (!ec && size > largest_wal.load()) largest_wal.store(size);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop.store(true);
  for (auto& t : threads) t.join();
  CHECK(errors.messages() == std::vector<std::string>{});
  // Without the RESTART checkpoint this grew to 190 MB in 4 s (Debug build);
  // with it the log rewinds soon after it passes the 4 MiB limit (measured:
  // 5.8 to 8.0 MB).
  INFO("largest WAL: " << largest_wal.load() << " bytes");
  CHECK(largest_wal.load() <= 16u * 1024 * 1024);
}

TEST_CASE("sqlite: in-memory repositories are private", "[sqlite]") {
  SqliteTaskRepository a(SqliteOptions{.path = ":memory:"});
  SqliteTaskRepository b(SqliteOptions{.path = ":memory:"});
  const Task t = a.create("alice", draft("only in a"));
  CHECK(a.find("alice", t.id));
  CHECK_FALSE(b.find("alice", t.id));
  CHECK(all_tasks(b, "alice").empty());
}

TEST_CASE("sqlite: two repositories on one file, written from two threads", "[sqlite][threads]") {
  TempDb db;
  SqliteTaskRepository first(db.options());
  SqliteTaskRepository second(db.options());
  constexpr int per_thread = 100;
  ThreadErrors errors;
  const Task shared = first.create("shared", draft("counter"));

  // Each thread creates tasks, updates each once, and bumps one shared task through its
  // own connection, so the two writers contend for SQLite's file lock.
  const auto work = [&](SqliteTaskRepository& repo, const std::string& user) {
    errors.run([&] {
      for (int i = 0; i < per_thread; ++i) {
        const Task t = repo.create(user, draft(user + " " + std::to_string(i)));
        if (!repo.update(user, t.id, completed_patch()))
          throw std::runtime_error("update lost a task");
        if (!repo.update("shared", shared.id, title_patch(user + std::to_string(i))))
          throw std::runtime_error("update lost the shared task");
        (void)repo.list(user, libtodo::TaskQuery{});
      }
    });
  };
  std::thread a([&] { work(first, "alice"); });
  std::thread b([&] { work(second, "bob"); });
  a.join();
  b.join();

  CHECK(errors.messages() == std::vector<std::string>{});  // prints what was thrown
  for (auto* repo : {&first, &second}) {
    for (const char* user : {"alice", "bob"}) {
      const auto tasks = all_tasks(*repo, user);
      CHECK(tasks.size() == per_thread);
      std::set<std::string> ids;
      for (const auto& t : tasks) {
        ids.insert(t.id);
        CHECK(t.completed);
        CHECK(t.version == 2);
      }
      CHECK(ids.size() == per_thread);
    }
    const auto counter = repo->find("shared", shared.id);
    REQUIRE(counter);
    CHECK(counter->version == 1 + 2 * per_thread);  // no lost update across connections
  }
}

TEST_CASE("sqlite: a write lock held elsewhere ends in StorageUnavailable after busy_timeout",
          "[sqlite]") {
  TempDb db;
  SqliteOptions options = db.options();
  options.busy_timeout = std::chrono::milliseconds(200);
  SqliteTaskRepository repo(options);
  const Task t = repo.create("alice", draft("t"));

  SQLite::Database other(db.path(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");  // another process holds the write lock

  const auto start = std::chrono::steady_clock::now();
  CHECK_THROWS_AS(repo.create("alice", draft("blocked")), libtodo::StorageUnavailable);
  const auto waited = std::chrono::steady_clock::now() - start;
  CHECK(waited >= std::chrono::milliseconds(150));  // it waited, then gave up
  CHECK(waited < std::chrono::seconds(5));
  CHECK_THROWS_AS(repo.update("alice", t.id, title_patch("blocked")), libtodo::StorageUnavailable);
  // Readers are not blocked by a writer in WAL mode.
  CHECK((repo.find("alice", t.id) == t));

  other.exec("ROLLBACK");
  CHECK_NOTHROW(repo.create("alice", draft("after")));
  const auto u = repo.update("alice", t.id, title_patch("after"));
  REQUIRE(u);
  CHECK(u->version == 2);  // the failed update left nothing behind
  CHECK(all_tasks(repo, "alice").size() == 2);
}

TEST_CASE("sqlite: a busy writer is waited for within busy_timeout", "[sqlite][threads]") {
  TempDb db;
  SqliteTaskRepository repo(db.options());  // default 5 s timeout
  SQLite::Database other(db.path(), SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  std::thread releaser([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    other.exec("COMMIT");
  });
  Task t;
  CHECK_NOTHROW(t = repo.create("alice", draft("waited")));
  releaser.join();
  CHECK(repo.find("alice", t.id));
}

TEST_CASE("sqlite: a path in a missing directory throws StorageError", "[sqlite]") {
  const fs::path dir = fs::temp_directory_path() / ("libtodo-missing-" + libtodo::new_uuid_v7());
  REQUIRE_FALSE(fs::exists(dir));
  const SqliteOptions options{.path = (dir / "todo.db").string()};
  CHECK_THROWS_AS(SqliteTaskRepository(options), libtodo::StorageError);
  // The adapter's own exception type, never SQLiteCpp's.
  try {
    SqliteTaskRepository repo(options);
    FAIL("opened a database in a missing directory");
  } catch (const libtodo::Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("sqlite"));
  }
  CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("sqlite: SQL injection strings are stored verbatim", "[sqlite]") {
  SqliteTaskRepository repo(SqliteOptions{});
  const Task victim = repo.create("bob", draft("bob's task"));
  TaskDraft d;
  d.title = "Robert'); DROP TABLE tasks;--";
  d.description = "' OR '1'='1' --";
  d.tags = {"' OR 1=1 --", "\"; DELETE FROM tasks; --", "%", "_", "\\", "x'); --"};
  const Task t = repo.create("alice", d);
  CHECK(t.title == d.title);

  const auto found = repo.find("alice", t.id);
  REQUIRE(found);
  CHECK(found->title == d.title);
  CHECK(found->description == d.description);
  CHECK(found->tags == d.tags);
  CHECK((repo.find("bob", victim.id) == victim));

  SECTION("injection in user ids reaches no one else's tasks") {
    for (const char* user : {"' OR '1'='1", "bob' --", "%", "bob%", "_ob"}) {
      INFO(user);
      CHECK(all_tasks(repo, user).empty());
      CHECK_FALSE(repo.find(user, victim.id));
      CHECK_FALSE(repo.update(user, victim.id, title_patch("pwned")));
      CHECK_FALSE(repo.remove(user, victim.id));
    }
    const Task odd = repo.create("' OR '1'='1", draft("odd user"));
    CHECK(all_tasks(repo, "' OR '1'='1").size() == 1);
    CHECK(repo.find("' OR '1'='1", odd.id));
    CHECK((repo.find("bob", victim.id) == victim));
    CHECK(all_tasks(repo, "bob").size() == 1);
  }
}

TEST_CASE("sqlite: corrupt rows surface as StorageError", "[sqlite]") {
  TempDb db;
  SqliteTaskRepository repo(db.options());
  const Task t = repo.create("alice", draft("t"));
  {
    SQLite::Database raw(db.path(), SQLite::OPEN_READWRITE);
    raw.exec("UPDATE tasks SET tags = 'not json'");
  }
  CHECK_THROWS_AS(repo.find("alice", t.id), libtodo::StorageError);
  CHECK_THROWS_AS(all_tasks(repo, "alice"), libtodo::StorageError);
  CHECK_THROWS_AS(repo.update("alice", t.id, title_patch("x")), libtodo::StorageError);
  // The repository still works for healthy rows afterwards.
  const Task fine = repo.create("bob", draft("fine"));
  CHECK((repo.find("bob", fine.id) == fine));
}

TEST_CASE("sqlite: many readers share a small reader pool", "[sqlite][threads]") {
  TempDb db;
  SqliteOptions options = db.options();
  options.max_readers = 1;
  SqliteTaskRepository repo(options);
  for (int i = 0; i < 10; ++i) repo.create("alice", draft("t" + std::to_string(i)));
  ThreadErrors errors;
  std::atomic<int> wrong{0};
  std::vector<std::thread> pool;
  for (int n = 0; n < 4; ++n) {
    pool.emplace_back([&] {
      errors.run([&] {
        for (int i = 0; i < 50; ++i)
          if (all_tasks(repo, "alice").size() != 10) ++wrong;
      });
    });
  }
  for (auto& th : pool) th.join();
  CHECK(errors.messages() == std::vector<std::string>{});  // prints what was thrown
  CHECK(wrong == 0);
}
