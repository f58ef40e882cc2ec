// Crash durability (SPEC §6): the real todo-server, on a SQLite file or on
// PostgreSQL, runs under concurrent create and PATCH load from several
// clients and is killed with SIGKILL at a random moment, again and again. After
// each kill it is restarted, and every write whose 2xx a client received must
// be there with exactly the content that 2xx showed. A write that got no answer
// may or may not be there, but only in the form the client asked for.
//
// The number of kills per test is LIBTODO_CRASH_ROUNDS when set (the long run
// in bench/crash_durability.sh), otherwise a default that keeps ctest quick.

#include <catch2/catch.hpp>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "http/process.hpp"
#include "http/test_server.hpp"
#ifdef TODO_TEST_WITH_POSTGRES
#include "postgres/own_postgres.hpp"
#endif

namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

int rounds_or(int fallback) {
  const char* v = std::getenv("LIBTODO_CRASH_ROUNDS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : fallback;
}

// The editable fields, in the form the server answers with, so that a
// response can be compared with what was sent field by field.
json random_fields(std::mt19937& rng, bool all) {
  static const char* const priorities[] = {"low", "medium", "high"};
  static const char* const tag_pool[] = {"home", "work", "urgent", "later", "x"};
  json f = json::object();
  const auto pick = [&] { return all || rng() % 2 == 0; };
  if (pick())
    f["description"] = rng() % 3 == 0 ? json(nullptr) : json("d" + std::to_string(rng() % 1000));
  if (pick()) f["priority"] = priorities[rng() % 3];
  if (pick()) {
    json tags = json::array();
    for (const char* t : tag_pool)
      if (rng() % 3 == 0) tags.push_back(t);
    f["tags"] = tags;
  }
  if (pick()) f["completed"] = rng() % 2 == 0;
  if (pick()) {
    if (rng() % 3 == 0) {
      f["due_date"] = nullptr;
    } else {
      char buf[32];
      const auto n = [&](unsigned range, unsigned from) {
        return static_cast<unsigned>(from + rng() % range);
      };
      std::snprintf(buf, sizeof buf, "2026-%02u-%02uT%02u:%02u:00.000Z", n(12, 1), n(28, 1),
                    n(24, 0), n(60, 0));
      f["due_date"] = buf;
    }
  }
  return f;
}

// `task` with `fields` applied the way the server applies them.
json with_fields(json task, const json& fields) {
  for (const auto& [name, value] : fields.items()) task[name] = value;
  task["status"] = task["completed"].get<bool>() ? "completed" : "pending";
  return task;
}

json without_updated_at(json task) {
  task.erase("updated_at");
  return task;
}

// What one client knows about one of its tasks.
struct Known {
  json acked;                      // the last state a 2xx (or a check after a restart) showed
  std::optional<json> unanswered;  // a PATCH sent after that which got no 2xx
};

// Figures of a whole run.
struct Totals {
  long kills = 0;
  long acked_writes = 0;
  long unanswered_writes = 0;
  long unanswered_applied = 0;  // unanswered writes found applied after the restart
  long lost = 0;                // acknowledged writes missing or changed: must stay 0
};

// One client thread: creates tasks and patches them, one request at a time,
// until the server stops answering with a 2xx.
class Writer {
 public:
  Writer(int index, std::string user)
      : index_(index),
        user_(std::move(user)),
        token_(test::token_for(user_, 24h)),
        rng_(std::random_device{}()) {}

  [[nodiscard]] const std::string& user() const { return user_; }

  void run(int port, std::atomic<long>& round_acked, std::vector<std::string>& problems,
           std::mutex& problems_mutex) {
    httplib::Client cli("127.0.0.1", port);
    cli.set_connection_timeout(2s);
    cli.set_read_timeout(10s);
    const httplib::Headers auth{{"Authorization", "Bearer " + token_}};
    for (;;) {
      const bool create = tasks_.size() < 6 || rng_() % 8 == 0;
      httplib::Result res{nullptr, httplib::Error::Unknown};
      json body;
      std::string id;
      if (create) {
        body = random_fields(rng_, true);
        body["title"] = "w" + std::to_string(index_) + "-" + std::to_string(++sequence_);
        res = cli.Post("/api/tasks", auth, body.dump(), "application/json");
      } else {
        auto it = tasks_.begin();
        std::advance(it, static_cast<long>(rng_() % tasks_.size()));
        id = it->first;
        body = random_fields(rng_, false);
        if (rng_() % 2 == 0)
          body["title"] = "w" + std::to_string(index_) + "-" + std::to_string(++sequence_);
        res = cli.Patch(("/api/tasks/" + id).c_str(), auth, body.dump(), "application/json");
      }
      const int expected = create ? 201 : 200;
      if (!res || res->status != expected) {
        // No answer (the server died), or 503 (the database died): either
        // may or may not have been applied. Anything else is a bug.
        if (res && res->status != 503) {
          std::lock_guard lock(problems_mutex);
          problems.push_back("unexpected " + std::to_string(res->status) + ": " + res->body);
        }
        if (create)
          unanswered_creates_.push_back(body);
        else
          tasks_[id].unanswered = body;
        ++unanswered_;
        return;
      }
      json task = json::parse(res->body);
      if (create) id = task["id"];
      tasks_[id] = Known{std::move(task), std::nullopt};
      ++acked_;
      ++round_acked;
    }
  }

  // Checks every task this writer knows against `found` (the user's tasks by
  // id, after a restart), removing the ones it accounts for, and takes the
  // found state as the new known state.
  void check(std::map<std::string, json>& found, Totals& totals,
             std::vector<std::string>& problems) {
    for (auto& [id, known] : tasks_) {
      const auto it = found.find(id);
      if (it == found.end()) {
        ++totals.lost;
        problems.push_back("acknowledged task " + id + " is gone: " + known.acked.dump());
        continue;
      }
      const json& got = it->second;
      if (got == known.acked) {
        // The unanswered PATCH, if any, was not applied (or changed nothing).
      } else if (known.unanswered &&
                 without_updated_at(got) ==
                     without_updated_at(with_fields(known.acked, *known.unanswered)) &&
                 got["updated_at"].get<std::string>() >=
                     known.acked["updated_at"].get<std::string>()) {
        ++totals.unanswered_applied;
      } else {
        ++totals.lost;
        problems.push_back(
            "task " + id + " is neither its acknowledged state " + known.acked.dump() +
            (known.unanswered ? " nor that with the unanswered patch " + known.unanswered->dump()
                              : "") +
            " but " + got.dump());
      }
      known = Known{got, std::nullopt};
      found.erase(it);
    }
    totals.acked_writes += acked_;
    totals.unanswered_writes += unanswered_;
    acked_ = unanswered_ = 0;
  }

  // A task nobody acknowledged: fine when it is one of this writer's
  // unanswered creates, exactly as sent. Adopts it and returns true then.
  bool adopt(const json& task, Totals& totals) {
    for (auto it = unanswered_creates_.begin(); it != unanswered_creates_.end(); ++it) {
      const json sent = with_fields(json{{"recurrence", nullptr}}, *it);
      bool same = true;
      for (const auto& [name, value] : sent.items())
        same = same && task.value(name, json()) == value;
      if (!same) continue;
      tasks_[task["id"]] = Known{task, std::nullopt};
      unanswered_creates_.erase(it);
      ++totals.unanswered_applied;
      return true;
    }
    return false;
  }

  void forget_unanswered_creates() { unanswered_creates_.clear(); }

 private:
  int index_;
  std::string user_;
  std::string token_;
  std::mt19937 rng_;
  int sequence_ = 0;
  std::map<std::string, Known> tasks_;
  std::vector<json> unanswered_creates_;
  long acked_ = 0, unanswered_ = 0;
};

// Several writers on two users, the kill, and the checks after each restart.
class CrashRun {
 public:
  CrashRun() : rng_(std::random_device{}()) {
    std::signal(SIGPIPE, SIG_IGN);
    for (int i = 0; i < 6; ++i) writers_.emplace_back(i, "crash-user-" + std::to_string(i % 2));
  }

  // Runs the writers against `port` and calls `kill` at a random moment of
  // the load, 0..500 ms after the first acknowledged write (counting from the
  // start instead made rounds without any write on a busy machine); returns
  // when every writer has stopped.
  void load_and_kill(int port, const std::function<void()>& kill) {
    std::atomic<long> round_acked{0};
    std::vector<std::thread> threads;
    for (Writer& w : writers_)
      threads.emplace_back([&, port] { w.run(port, round_acked, problems_, problems_mutex_); });
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (round_acked == 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(1ms);
    const bool loaded = round_acked > 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng_() % 500));
    kill();
    for (auto& t : threads) t.join();
    ++totals_.kills;
    std::lock_guard lock(problems_mutex_);
    INFO("round " << totals_.kills);
    for (const auto& p : problems_) FAIL_CHECK(p);
    REQUIRE(problems_.empty());
    REQUIRE(loaded);  // the load got going within 20 s
  }

  // After a restart on `port`: every user's tasks against what the writers know.
  void verify(int port) {
    test::Client c(port);
    wait_until_healthy(c);
    std::vector<std::string> problems;
    for (const std::string user : {"crash-user-0", "crash-user-1"}) {
      test::Reply r;
      for (int attempt = 0; attempt < 50; ++attempt) {  // the database may just have restarted
        r = c.as(test::token_for(user), "GET", "/api/tasks");
        if (r.status != 503) break;
        std::this_thread::sleep_for(100ms);
      }
      INFO(r.body);
      REQUIRE(r.status == 200);
      std::map<std::string, json> found;
      const json listing = r.json();  // not a temporary: the loop outlives it otherwise
      for (const json& t : listing["tasks"]) found[t["id"]] = t;
      for (Writer& w : writers_)
        if (w.user() == user) w.check(found, totals_, problems);
      for (const auto& [id, task] : found) {
        bool adopted = false;
        for (Writer& w : writers_)
          if (!adopted && w.user() == user) adopted = w.adopt(task, totals_);
        if (!adopted) problems.push_back("a task nobody wrote: " + task.dump());
      }
    }
    // An unanswered create that is not there now never will be.
    for (Writer& w : writers_) w.forget_unanswered_creates();
    INFO("after kill " << totals_.kills);
    for (const auto& p : problems) FAIL_CHECK(p);
    REQUIRE(problems.empty());
    REQUIRE(totals_.lost == 0);
  }

  void report(const std::string& name) const {
    // The figures bench/crash_durability.sh and the issue ask for.
    std::cout << "crash durability (" << name << "): " << totals_.kills << " kills, "
              << totals_.acked_writes << " acknowledged writes, " << totals_.lost << " lost, "
              << totals_.unanswered_writes << " unanswered writes, " << totals_.unanswered_applied
              << " of them applied\n";
  }

 private:
  static void wait_until_healthy(test::Client& c) {
    for (int i = 0; i < 100; ++i) {
      if (c.send("GET", "/health").status == 200) return;
      std::this_thread::sleep_for(100ms);
    }
    FAIL("the server did not become healthy after the restart");
  }

  std::mt19937 rng_;
  std::vector<Writer> writers_;
  Totals totals_;
  std::vector<std::string> problems_;
  std::mutex problems_mutex_;
};

// todo-server's environment for `database_url`.
std::vector<std::string> server_env(const std::string& database_url) {
  return {"BETTER_AUTH_SECRET=" + test::secret, "DATABASE_URL=" + database_url, "LOG_LEVEL=info"};
}

// Kills todo-server `rounds` times on `database_url`, checking after each restart.
// `after_kill` runs while no server is up (the SQLite file check).
void crash_server_repeatedly(const std::string& name, const std::string& database_url, int rounds,
                             const std::function<void()>& after_kill) {
  test::TempDir dir;
  CrashRun run;
  for (int round = 0; round < rounds; ++round) {
    auto server = std::make_unique<test::Process>(dir.path, std::vector<std::string>{"--port", "0"},
                                                  server_env(database_url));
    const int port = server->port();
    if (round > 0) run.verify(port);  // the previous kill's aftermath, on a fresh process
    run.load_and_kill(port, [&] { server->signal(SIGKILL); });
    REQUIRE(server->wait() == 128 + SIGKILL);
    server.reset();
    after_kill();
  }
  test::Process last(dir.path, {"--port", "0"}, server_env(database_url));
  run.verify(last.port());
  run.report(name);
}

}  // namespace

TEST_CASE("crash durability: SQLite file, todo-server killed under load", "[crash][sqlite]") {
  test::TempDir db_dir;
  const std::string path = (db_dir.path / "todo.db").string();
  crash_server_repeatedly("sqlite", "sqlite:///" + path, rounds_or(20), [&] {
    // Opening the file replays the WAL the killed server left, as the next
    // server will; the whole database must be consistent.
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    REQUIRE(db.execAndGet("PRAGMA integrity_check").getString() == "ok");
    REQUIRE(db.execAndGet("PRAGMA journal_mode").getString() == "wal");
  });
}

#ifdef TODO_TEST_WITH_POSTGRES
TEST_CASE("crash durability: PostgreSQL, todo-server killed under load", "[crash][postgres]") {
  const std::string url = test::pg_url();
  crash_server_repeatedly("postgres", test::with_schema(url, test::fresh_schema(url)),
                          rounds_or(20), [] {});
}

TEST_CASE("crash durability: PostgreSQL itself killed under load, and both at once",
          "[crash][postgres][own]") {
  test::OwnPostgres::adopt_orphans();
  test::OwnPostgres pg;
  const std::string database_url = pg.url();
  test::TempDir dir;
  CrashRun run;
  auto server = std::make_unique<test::Process>(dir.path, std::vector<std::string>{"--port", "0"},
                                                server_env(database_url));
  int port = server->port();
  // Rounds cycle through: the server killed; the database killed (the
  // server stays up and must reconnect); both killed at once.
  const int rounds = rounds_or(9);
  for (int round = 0; round < rounds; ++round) {
    const int kind = round % 3;
    run.load_and_kill(port, [&] {
      if (kind != 1) server->signal(SIGKILL);
      if (kind != 0) pg.kill9();
    });
    if (kind != 1) {
      REQUIRE(server->wait() == 128 + SIGKILL);
      server.reset();
    }
    if (kind != 0) pg.start();
    if (!server) {
      server = std::make_unique<test::Process>(dir.path, std::vector<std::string>{"--port", "0"},
                                               server_env(database_url));
      port = server->port();
    }
    run.verify(port);
  }
  run.report("postgres, database killed too");
}
#endif
