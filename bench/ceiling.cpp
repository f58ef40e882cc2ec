// The storage ceiling of one request, without HTTP, JSON or tokens: how many
// times per second N threads, each on its own connection with a prepared
// statement, can run the SELECTs that GET /api/tasks (one user's tasks, every
// column, newest first) and GET /api/tasks/{id} need, reading every column.
// bench/run.sh states the server's figures as a fraction of these.
//
//   todo-bench-ceiling sqlite PATH USER_ID TASK_ID THREADS SECONDS
//   todo-bench-ceiling postgres URL USER_ID TASK_ID THREADS SECONDS
// prints: "list <ops/s>" and "get <ops/s>".

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#ifdef TODO_BENCH_WITH_POSTGRES
#include <pqxx/pqxx>
#endif

namespace {

constexpr const char* columns =
    "id, user_id, title, description, completed, priority, tags, due_date, recurrence, created_at, "
    "updated_at, version";

// One thread's work: `op` runs one query and returns the bytes it read (so
// the reads cannot be optimized away).
using Op = std::function<std::size_t()>;
using MakeOps = std::function<std::pair<Op, Op>()>;  // list, get (per thread: own connection)

double rate(const MakeOps& make, bool list, int threads, double seconds) {
  std::atomic<bool> stop{false};
  std::atomic<long> done{0};
  std::atomic<std::size_t> bytes{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&] {
      auto ops = make();
      const Op& op = list ? ops.first : ops.second;
      long n = 0;
      std::size_t b = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        b += op();
        ++n;
      }
      done += n;
      bytes += b;
    });
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& th : pool) th.join();
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (bytes.load() == 0) std::fprintf(stderr, "ceiling: the queries read nothing\n");
  return static_cast<double>(done.load()) / elapsed;
}

MakeOps sqlite_ops(const std::string& path, const std::string& user, const std::string& task) {
  return [=] {
    auto db = std::make_shared<SQLite::Database>(path, SQLite::OPEN_READONLY);
    db->exec("PRAGMA query_only=1");
    auto list = std::make_shared<SQLite::Statement>(
        *db, std::string("SELECT ") + columns + " FROM tasks WHERE user_id = ? ORDER BY created_at DESC, id DESC");
    auto get = std::make_shared<SQLite::Statement>(
        *db, std::string("SELECT ") + columns + " FROM tasks WHERE id = ? AND user_id = ?");
    const auto read = [](SQLite::Statement& s) {
      std::size_t b = 0;
      while (s.executeStep())
        for (int c = 0; c < s.getColumnCount(); ++c) b += std::string(s.getColumn(c).getText()).size() + 1;
      s.reset();
      return b;
    };
    Op l = [db, list, user, read] {
      list->bind(1, user);
      return read(*list);
    };
    Op g = [db, get, user, task, read] {
      get->bind(1, task);
      get->bind(2, user);
      return read(*get);
    };
    return std::make_pair(l, g);
  };
}

#ifdef TODO_BENCH_WITH_POSTGRES
MakeOps postgres_ops(const std::string& url, const std::string& user, const std::string& task) {
  return [=] {
    auto conn = std::make_shared<pqxx::connection>(url);
    conn->prepare("list", std::string("SELECT ") + columns +
                              " FROM tasks WHERE user_id = $1 ORDER BY created_at DESC, id DESC");
    conn->prepare("get", std::string("SELECT ") + columns + " FROM tasks WHERE id = $1 AND user_id = $2");
    const auto read = [](const pqxx::result& r) {
      std::size_t b = 0;
      for (const auto& row : r)
        for (const auto& f : row) b += std::string(f.c_str()).size() + 1;
      return b;
    };
    // Autocommit, one round trip each: what the repository does for reads.
    Op l = [conn, user, read] {
      pqxx::nontransaction tx(*conn);
      return read(tx.exec_prepared("list", user));
    };
    Op g = [conn, user, task, read] {
      pqxx::nontransaction tx(*conn);
      return read(tx.exec_prepared("get", task, user));
    };
    return std::make_pair(l, g);
  };
}
#endif

}  // namespace

int main(int argc, char** argv) {
  if (argc != 7) {
    std::fprintf(stderr, "usage: %s sqlite|postgres PATH_OR_URL USER_ID TASK_ID THREADS SECONDS\n", argv[0]);
    return 2;
  }
  const std::string kind = argv[1];
  const int threads = std::atoi(argv[5]);
  const double seconds = std::atof(argv[6]);
  MakeOps make;
  if (kind == "sqlite") {
    make = sqlite_ops(argv[2], argv[3], argv[4]);
#ifdef TODO_BENCH_WITH_POSTGRES
  } else if (kind == "postgres") {
    make = postgres_ops(argv[2], argv[3], argv[4]);
#endif
  } else {
    std::fprintf(stderr, "ceiling: unknown backend %s\n", kind.c_str());
    return 2;
  }
  try {
    std::printf("list %.0f\n", rate(make, true, threads, seconds));
    std::printf("get %.0f\n", rate(make, false, threads, seconds));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ceiling: %s\n", e.what());
    return 1;
  }
  return 0;
}
