#include <libtodo/sqlite_repository.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <variant>
#include <thread>
#include <vector>

#include <SQLiteCpp/SQLiteCpp.h>
#include <nlohmann/json.hpp>
#include <sqlite3.h>

#include <libtodo/errors.hpp>
#include <libtodo/uuid.hpp>
#include <libtodo/validation.hpp>

#include "tags_json.hpp"

namespace libtodo {
namespace {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

// Never edit a migration that has shipped; append a new one. The PostgreSQL
// backend carries the same versions with its own dialect.
constexpr Migration migrations[] = {
    {1, "create tasks", R"sql(
CREATE TABLE tasks (
  id          TEXT    NOT NULL PRIMARY KEY,
  user_id     TEXT    NOT NULL,
  title       TEXT    NOT NULL,
  description TEXT,
  completed   INTEGER NOT NULL DEFAULT 0 CHECK (completed IN (0, 1)),
  priority    INTEGER NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 2),
  tags        TEXT    NOT NULL DEFAULT '[]',
  due_date    INTEGER,
  recurrence  TEXT    CHECK (recurrence IN ('daily', 'weekly', 'monthly')),
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  version     INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
)sql"},
    {2, "create users and revoked_tokens", R"sql(
CREATE TABLE users (
  id            TEXT    NOT NULL PRIMARY KEY,
  email         TEXT    NOT NULL UNIQUE,
  name          TEXT,
  password_hash TEXT    NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE revoked_tokens (
  jti        TEXT    NOT NULL PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
)sql"},
    {3, "index due dates", R"sql(
CREATE INDEX tasks_user_due ON tasks (user_id, due_date, id);
)sql"},
    {4, "create idempotency_keys", R"sql(
CREATE TABLE idempotency_keys (
  user_id     TEXT    NOT NULL,
  route       TEXT    NOT NULL,
  client_key  TEXT    NOT NULL,
  fingerprint TEXT    NOT NULL,
  owner       TEXT,
  lease_until INTEGER,
  status      INTEGER,
  headers     TEXT,
  body        TEXT,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (user_id, route, client_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
)sql"},
};
static_assert(std::size(migrations) == latest_schema_version &&
              migrations[std::size(migrations) - 1].version == latest_schema_version);


constexpr const char* task_columns =
    "id, user_id, title, description, completed, priority, tags, due_date, recurrence, "
    "created_at, updated_at, version";


using detail::decode_tags;
using detail::encode_tags;

int migrate(SQLite::Database& db);

// One SQLite connection with its statements prepared once.
struct Connection {
  SQLite::Database db;
  SQLite::Statement select_one;
  SQLite::Statement insert;
  SQLite::Statement update;
  SQLite::Statement erase;
  SQLite::Statement owner;
  SQLite::Statement insert_user;
  SQLite::Statement select_credentials;
  SQLite::Statement select_user;
  SQLite::Statement revoke;
  SQLite::Statement revoked;
  SQLite::Statement purge;
  SQLite::Statement stats;
  SQLite::Statement schema_version;
  SQLite::Statement key_select;
  SQLite::Statement key_acquire;
  SQLite::Statement key_complete;
  SQLite::Statement key_abandon;
  SQLite::Statement key_purge;
  // Listing statements by SQL text: each combination of filters is prepared once.
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> listings;

  SQLite::Statement& listing(const std::string& sql) {
    auto& slot = listings[sql];
    if (!slot) {
      if (listings.size() > 256) {  // an unusual spread of shapes: start over rather than grow
        listings.clear();
        return *(listings[sql] = std::make_unique<SQLite::Statement>(db, sql));
      }
      slot = std::make_unique<SQLite::Statement>(db, sql);
    }
    return *slot;
  }

  // The writer (`migrated_version` non-null) also sets WAL mode and applies the
  // migrations, before any statement is prepared against the schema.
  Connection(const SqliteOptions& o, int* migrated_version)
      : db(open(o, migrated_version)),
        select_one(db, std::string("SELECT ") + task_columns +
                           " FROM tasks WHERE id = ?1 AND user_id = ?2"),
        insert(db, std::string("INSERT INTO tasks (") + task_columns +
                       ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"),
        // Compare-and-set on the version read in the same write transaction.
        update(db,
               "UPDATE tasks SET title = ?3, description = ?4, completed = ?5, priority = ?6, "
               "tags = ?7, due_date = ?8, recurrence = ?9, updated_at = ?10, version = ?11 "
               "WHERE id = ?1 AND user_id = ?2 AND version = ?12"),
        // ?3: a JSON array of the versions a precondition allows, or NULL for none.
        erase(db,
              "DELETE FROM tasks WHERE id = ?1 AND user_id = ?2 AND "
              "(?3 IS NULL OR version IN (SELECT value FROM json_each(?3)))"),
        owner(db, "SELECT user_id = ?2 FROM tasks WHERE id = ?1"),
        insert_user(db,
                    "INSERT INTO users (id, email, name, password_hash, created_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (email) DO NOTHING"),
        select_credentials(db,
                           "SELECT id, email, name, created_at, password_hash FROM users WHERE email = ?1"),
        select_user(db, "SELECT id, email, name, created_at FROM users WHERE id = ?1"),
        revoke(db, "INSERT INTO revoked_tokens (jti, expires_at) VALUES (?1, ?2) ON CONFLICT (jti) DO NOTHING"),
        revoked(db, "SELECT 1 FROM revoked_tokens WHERE jti = ?1 AND expires_at > ?2"),
        purge(db, "DELETE FROM revoked_tokens WHERE expires_at <= ?1"),
        stats(db,
              "SELECT COUNT(*), COALESCE(SUM(completed), 0), "
              "COALESCE(SUM(completed = 0 AND due_date IS NOT NULL AND due_date < ?2), 0), "
              "COALESCE(SUM(priority = 0), 0), COALESCE(SUM(priority = 1), 0), COALESCE(SUM(priority = 2), 0) "
              "FROM tasks WHERE user_id = ?1"),
        schema_version(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"),
        key_select(db,
                   "SELECT fingerprint, lease_until, status, headers, body, expires_at FROM idempotency_keys "
                   "WHERE user_id = ?1 AND route = ?2 AND client_key = ?3"),
        key_acquire(db,
                    "INSERT INTO idempotency_keys (user_id, route, client_key, fingerprint, owner, lease_until, "
                    "expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (user_id, route, client_key) "
                    "DO UPDATE SET fingerprint = excluded.fingerprint, owner = excluded.owner, "
                    "lease_until = excluded.lease_until, status = NULL, headers = NULL, body = NULL, "
                    "expires_at = excluded.expires_at"),
        key_complete(db,
                     "UPDATE idempotency_keys SET owner = NULL, lease_until = NULL, status = ?5, headers = ?6, "
                     "body = ?7 WHERE user_id = ?1 AND route = ?2 AND client_key = ?3 AND owner = ?4"),
        key_abandon(db,
                    "DELETE FROM idempotency_keys WHERE user_id = ?1 AND route = ?2 AND client_key = ?3 "
                    "AND owner = ?4"),
        key_purge(db,
                  "DELETE FROM idempotency_keys WHERE rowid IN "
                  "(SELECT rowid FROM idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)") {}

  static SQLite::Database open(const SqliteOptions& o, int* migrated_version);
};

// Resets a statement when the scope ends, however it ends.
class Use {
 public:
  explicit Use(SQLite::Statement& s) : s_(s) {}
  ~Use() {
    try {
      s_.reset();
      s_.clearBindings();
    } catch (...) {  // reset reports the last step's error again; already handled
    }
  }
  Use(const Use&) = delete;
  Use& operator=(const Use&) = delete;
  SQLite::Statement* operator->() { return &s_; }
  SQLite::Statement& operator*() { return s_; }

 private:
  SQLite::Statement& s_;
};

void bind_text(SQLite::Statement& s, int index, std::string_view v) { s.bind(index, std::string(v)); }

template <class T, class F>
void bind_optional(SQLite::Statement& s, int index, const std::optional<T>& v, F&& convert) {
  if (v)
    s.bind(index, convert(*v));
  else
    s.bind(index);
}

Task read_task(SQLite::Statement& s) {
  Task t;
  t.id = s.getColumn(0).getString();
  t.user_id = s.getColumn(1).getString();
  t.title = s.getColumn(2).getString();
  if (!s.getColumn(3).isNull()) t.description = s.getColumn(3).getString();
  t.completed = s.getColumn(4).getInt() != 0;
  t.priority = static_cast<Priority>(std::clamp(s.getColumn(5).getInt(), 0, 2));
  t.tags = decode_tags(s.getColumn(6).getString());
  if (!s.getColumn(7).isNull()) t.due_date = from_unix_ms(s.getColumn(7).getInt64());
  if (!s.getColumn(8).isNull()) t.recurrence = parse_recurrence(s.getColumn(8).getString());
  t.created_at = from_unix_ms(s.getColumn(9).getInt64());
  t.updated_at = from_unix_ms(s.getColumn(10).getInt64());
  t.version = s.getColumn(11).getInt64();
  return t;
}

// Binds every column of `t` in the order of task_columns / the update statement.
void bind_task(SQLite::Statement& s, const Task& t) {
  bind_text(s, 1, t.id);
  bind_text(s, 2, t.user_id);
  bind_text(s, 3, t.title);
  bind_optional(s, 4, t.description, [](const std::string& d) { return d; });
  s.bind(5, t.completed ? 1 : 0);
  s.bind(6, static_cast<int>(t.priority));
  s.bind(7, encode_tags(t.tags));
  bind_optional(s, 8, t.due_date, [](Timestamp d) { return to_unix_ms(d); });
  bind_optional(s, 9, t.recurrence, [](Recurrence r) { return std::string(to_string(r)); });
}

[[noreturn]] void rethrow_storage(const SQLite::Exception& e) {
  switch (e.getErrorCode()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      throw StorageUnavailable(std::string("sqlite: ") + e.what());
    default:
      throw StorageError(std::string("sqlite: ") + e.what());
  }
}

// Runs `f`, turning SQLiteCpp and JSON exceptions into libtodo's.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const SQLite::Exception& e) {
    rethrow_storage(e);
  } catch (const nlohmann::json::exception& e) {
    throw StorageError(std::string("corrupt tags column: ") + e.what());
  }
}

// BEGIN IMMEDIATE takes the write lock up front, so a transaction that reads
// and then writes cannot deadlock against another process doing the same.
class WriteTransaction {
 public:
  explicit WriteTransaction(SQLite::Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
  ~WriteTransaction() {
    if (!done_) {
      try {
        db_.exec("ROLLBACK");
      } catch (...) {  // the connection reports the original error already
      }
    }
  }
  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }
  WriteTransaction(const WriteTransaction&) = delete;
  WriteTransaction& operator=(const WriteTransaction&) = delete;

 private:
  SQLite::Database& db_;
  bool done_ = false;
};

int migrate(SQLite::Database& db) {
  WriteTransaction tx(db);
  db.exec(
      "CREATE TABLE IF NOT EXISTS schema_migrations ("
      " version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)");
  int current = db.execAndGet("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").getInt();
  const int latest = migrations[std::size(migrations) - 1].version;
  if (current > latest)
    throw StorageError("database schema version " + std::to_string(current) +
                       " is newer than this libtodo supports (" + std::to_string(latest) + ")");
  for (const Migration& m : migrations) {
    if (m.version <= current) continue;
    db.exec(m.sql);
    SQLite::Statement record(db, "INSERT INTO schema_migrations (version, name, applied_at) "
                                 "VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))");
    record.bind(1, m.version);
    record.bind(2, m.name);
    record.exec();
    current = m.version;
  }
  tx.commit();
  return current;
}

// Switching a new file to WAL needs an exclusive lock, and SQLite answers
// SQLITE_BUSY at once instead of calling the busy handler when another
// connection is doing the same. Retry within the busy timeout.
void enable_wal(SQLite::Database& db, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() != SQLITE_BUSY || std::chrono::steady_clock::now() >= deadline) throw;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

SQLite::Database Connection::open(const SqliteOptions& o, int* migrated_version) {
  // NOMUTEX (SQLite's multi-thread mode): a connection is only ever used by
  // one thread at a time here (the writer under its mutex, readers leased),
  // so SQLite's own lock around every API call is pure overhead.
  const int flags = (migrated_version ? SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE : SQLite::OPEN_READWRITE) |
                    SQLITE_OPEN_NOMUTEX;
  SQLite::Database db(o.path, flags, static_cast<int>(o.busy_timeout.count()));
  if (migrated_version) {
    if (o.path != ":memory:") enable_wal(db, o.busy_timeout);
    *migrated_version = migrate(db);
  }
  db.exec(o.synchronous == SqliteSync::full ? "PRAGMA synchronous = FULL"
                                            : "PRAGMA synchronous = NORMAL");
  db.exec("PRAGMA cache_size = -" + std::to_string(o.cache_kib));
  return db;
}

}  // namespace

struct SqliteTaskRepository::Impl {
  SqliteOptions options;
  bool in_memory;
  int version = 0;

  std::mutex write_mutex;  // serializes every use of `writer`
  std::unique_ptr<Connection> writer;

  // Group commit. Writers queue their work; one of them (the leader) runs
  // everything queued in one transaction, each piece in its own savepoint,
  // commits once and wakes the others. Every caller still returns only after
  // the COMMIT that made its change durable; a commit costs the same for one
  // change as for fifty, so concurrent writes share it.
  struct WriteJob {
    enum : int { waiting, leading, done };
    const std::function<void(Connection&)>* work;
    std::exception_ptr error;
    std::atomic<int> state{waiting};
  };
  static constexpr std::size_t max_batch = 64;
  std::mutex queue_mutex;
  std::deque<WriteJob*> queue;
  bool leader_busy = false;  // a leader is running or has been named

  std::mutex pool_mutex;
  std::condition_variable pool_cv;
  std::vector<std::unique_ptr<Connection>> idle_readers;
  std::size_t open_readers = 0;
  std::size_t waiting_readers = 0;  // guarded by pool_mutex

  // For pool_stats(); relaxed atomics, touched only when a call has to wait.
  std::atomic<bool> writer_busy{false};
  std::atomic<std::size_t> waiting_writers{0};
  std::atomic<std::uint64_t> waits{0};
  std::atomic<std::int64_t> wait_ns{0};

  void record_wait(std::chrono::steady_clock::duration d) {
    waits.fetch_add(1, std::memory_order_relaxed);
    wait_ns.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count(), std::memory_order_relaxed);
  }

  // The writer connection for the duration of a scope. Uncontended, it costs
  // a try_lock; only a call that has to wait reads the clock.
  class WriteLock {
   public:
    explicit WriteLock(Impl& impl) : impl_(impl), lock_(impl.write_mutex, std::try_to_lock) {
      if (!lock_.owns_lock()) {
        impl_.waiting_writers.fetch_add(1, std::memory_order_relaxed);
        const auto start = std::chrono::steady_clock::now();
        lock_.lock();
        impl_.record_wait(std::chrono::steady_clock::now() - start);
        impl_.waiting_writers.fetch_sub(1, std::memory_order_relaxed);
      }
      impl_.writer_busy.store(true, std::memory_order_relaxed);
    }
    ~WriteLock() { impl_.writer_busy.store(false, std::memory_order_relaxed); }
    WriteLock(const WriteLock&) = delete;
    WriteLock& operator=(const WriteLock&) = delete;
    Connection& operator*() { return *impl_.writer; }
    Connection* operator->() { return impl_.writer.get(); }

   private:
    Impl& impl_;
    std::unique_lock<std::mutex> lock_;
  };

  // Checkpoints run on a thread of their own (file databases): SQLite's
  // automatic checkpoint would run inside a commit, holding up every writer
  // while it copies pages and waits for fsync. Moving it changes nothing
  // about what a commit guarantees; see docs/operations.md.
  static constexpr int checkpoint_frames = 1000;  // SQLite's own default threshold
  int restart_frames = 0;                         // options.wal_limit_kib in pages
  std::thread checkpointer;
  std::mutex checkpoint_mutex;
  std::condition_variable checkpoint_cv;
  bool checkpoint_wanted = false;
  bool stopping = false;

  explicit Impl(SqliteOptions o) : options(std::move(o)) {
    if (options.path.empty()) options.path = ":memory:";
    in_memory = options.path == ":memory:";
    if (options.max_readers == 0) options.max_readers = 1;
    writer = std::make_unique<Connection>(options, &version);
    if (!in_memory) {
      // The WAL is truncated back to this size after a checkpoint restarts it.
      const long long limit = static_cast<long long>(options.wal_limit_kib) * 1024;
      writer->db.exec("PRAGMA journal_size_limit = " + std::to_string(limit));
      const long long page = writer->db.execAndGet("PRAGMA page_size").getInt64();
      restart_frames = static_cast<int>(std::max(1LL, limit / std::max(1LL, page)));
      // A WAL hook replaces the automatic checkpoint on this connection.
      sqlite3_wal_hook(writer->db.getHandle(), &Impl::on_commit, this);
      checkpointer = std::thread([this] { checkpoint_loop(); });
    }
  }

  ~Impl() {
    if (!checkpointer.joinable()) return;
    sqlite3_wal_hook(writer->db.getHandle(), nullptr, nullptr);
    {
      std::lock_guard lock(checkpoint_mutex);
      stopping = true;
    }
    checkpoint_cv.notify_all();
    checkpointer.join();
  }
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;

  static int on_commit(void* self, sqlite3*, const char*, int frames) {
    if (frames >= checkpoint_frames) {
      auto* impl = static_cast<Impl*>(self);
      {
        std::lock_guard lock(impl->checkpoint_mutex);
        impl->checkpoint_wanted = true;
      }
      impl->checkpoint_cv.notify_one();
    }
    return SQLITE_OK;
  }

  void checkpoint_loop() {
    std::unique_ptr<SQLite::Database> db;
    std::unique_lock lock(checkpoint_mutex);
    while (!stopping) {
      // Also once a second: a quiet database still gets its WAL folded in.
      checkpoint_cv.wait_for(lock, std::chrono::seconds(1), [&] { return stopping || checkpoint_wanted; });
      if (stopping) break;
      checkpoint_wanted = false;
      lock.unlock();
      try {
        if (!db) {
          db = std::make_unique<SQLite::Database>(options.path, SQLite::OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                                  static_cast<int>(options.busy_timeout.count()));
          // A connection opens the WAL only when it first reads the database;
          // until then sqlite3_wal_checkpoint_v2 succeeds and copies nothing.
          db->exec("SELECT count(*) FROM sqlite_schema");
        }
        // PASSIVE: copies what it can without waiting for readers or writers.
        int log_frames = 0;
        sqlite3_wal_checkpoint_v2(db->getHandle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_frames, nullptr);
        // Under a steady stream of commits the WAL is never fully copied when
        // the next writer starts, so it never rewinds and grows without bound
        // (measured: 750 MB in 5 s of creates). Past wal_limit_kib, RESTART
        // holds new writers (within the busy timeout) while it copies the few
        // frames PASSIVE left and waits out readers still in the WAL, so the
        // next commit starts the log from the beginning again. It holds this
        // repository's writers on write_mutex first: competing with them for
        // SQLite's write lock, whose busy handler sleeps between attempts, it
        // lost nearly every time while the WAL kept growing.
        if (log_frames > restart_frames) {
          WriteLock writers(*this);
          sqlite3_wal_checkpoint_v2(db->getHandle(), nullptr, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
        }
      } catch (const SQLite::Exception&) {
        db.reset();  // try again next time; commits do not depend on it
      }
      lock.lock();
    }
  }

  // Runs `work` in a write transaction (shared with concurrent writers) and
  // returns after it is committed; rethrows what `work` threw, or the
  // commit's failure, in which case nothing of `work` was stored.
  void write(const std::function<void(Connection&)>& work) {
    WriteJob job{&work, nullptr};
    {
      std::lock_guard lock(queue_mutex);
      queue.push_back(&job);
      if (!leader_busy) {
        leader_busy = true;
        job.state.store(WriteJob::leading, std::memory_order_relaxed);
      }
    }
    // Each waiter sleeps on its own job: one wake-up per write, no herd.
    job.state.wait(WriteJob::waiting, std::memory_order_acquire);
    if (job.state.load(std::memory_order_acquire) == WriteJob::leading) {
      std::vector<WriteJob*> batch;
      {
        std::lock_guard lock(queue_mutex);
        while (!queue.empty() && batch.size() < max_batch) {
          batch.push_back(queue.front());
          queue.pop_front();
        }
      }
      commit_batch(batch);
      for (WriteJob* j : batch) {
        if (j == &job) continue;
        j->state.store(WriteJob::done, std::memory_order_release);
        j->state.notify_one();
      }
      // Hand the lead to the oldest waiting writer, if any.
      std::lock_guard lock(queue_mutex);
      if (queue.empty()) {
        leader_busy = false;
      } else {
        queue.front()->state.store(WriteJob::leading, std::memory_order_release);
        queue.front()->state.notify_one();
      }
    }
    if (job.error) std::rethrow_exception(job.error);
  }

  void commit_batch(const std::vector<WriteJob*>& batch) {
    WriteLock lock(*this);
    Connection& c = *lock;
    try {
      WriteTransaction tx(c.db);
      if (batch.size() == 1) {
        (*batch.front()->work)(c);
      } else {
        for (WriteJob* j : batch) {
          c.db.exec("SAVEPOINT job");
          try {
            (*j->work)(c);
            c.db.exec("RELEASE job");
          } catch (...) {
            j->error = std::current_exception();
            c.db.exec("ROLLBACK TO job");
            c.db.exec("RELEASE job");
          }
        }
      }
      tx.commit();
    } catch (...) {
      // BEGIN, a savepoint or COMMIT failed, or the only job threw: nothing
      // of this batch is stored. A job's own error stays the one it sees.
      const std::exception_ptr e = std::current_exception();
      for (WriteJob* j : batch)
        if (!j->error) j->error = e;
    }
  }

  // A reader connection for the duration of a scope. An in-memory database
  // lives on the writer's connection only, so there the lease is the writer.
  class ReadLease {
   public:
    explicit ReadLease(Impl& impl) : impl_(impl) {
      if (impl_.in_memory) {
        writer_.emplace(impl_);
        conn_ = impl_.writer.get();
        return;
      }
      std::unique_lock lock(impl_.pool_mutex);
      const auto available = [&] {
        return !impl_.idle_readers.empty() || impl_.open_readers < impl_.options.max_readers;
      };
      if (!available()) {
        ++impl_.waiting_readers;
        const auto start = std::chrono::steady_clock::now();
        impl_.pool_cv.wait(lock, available);
        impl_.record_wait(std::chrono::steady_clock::now() - start);
        --impl_.waiting_readers;
      }
      if (!impl_.idle_readers.empty()) {
        owned_ = std::move(impl_.idle_readers.back());
        impl_.idle_readers.pop_back();
      } else {
        ++impl_.open_readers;
        lock.unlock();
        try {
          owned_ = std::make_unique<Connection>(impl_.options, nullptr);
        } catch (...) {
          lock.lock();
          --impl_.open_readers;
          impl_.pool_cv.notify_one();
          throw;
        }
      }
      conn_ = owned_.get();
    }
    ~ReadLease() {
      if (!owned_) return;
      {
        std::lock_guard lock(impl_.pool_mutex);
        impl_.idle_readers.push_back(std::move(owned_));
      }
      impl_.pool_cv.notify_one();
    }
    ReadLease(const ReadLease&) = delete;
    ReadLease& operator=(const ReadLease&) = delete;
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_; }

   private:
    Impl& impl_;
    std::optional<WriteLock> writer_;
    std::unique_ptr<Connection> owned_;
    Connection* conn_ = nullptr;
  };

  static std::optional<Task> select_one(Connection& c, std::string_view user_id,
                                        std::string_view task_id) {
    Use q(c.select_one);
    bind_text(*q, 1, task_id);
    bind_text(*q, 2, user_id);
    if (!q->executeStep()) return std::nullopt;
    return read_task(*q);
  }

  static void insert(Connection& c, const Task& t) {
    Use q(c.insert);
    bind_task(*q, t);
    q->bind(10, to_unix_ms(t.created_at));
    q->bind(11, to_unix_ms(t.updated_at));
    q->bind(12, t.version);
    q->exec();
  }

  // Writes `task` after apply_patch in the open transaction: moves updated_at
  // forward (even within one millisecond), bumps the version, and inserts the
  // next occurrence when this completed a recurring task.
  // The UPDATE is conditional on the version that was read, so a change made
  // behind the transaction's back (impossible under BEGIN IMMEDIATE, but
  // cheap to rule out) is a failed precondition rather than a lost write.
  static void store_change(Connection& c, Task& task, bool completed_now) {
    task.updated_at = std::max(now_ms(), task.updated_at + std::chrono::milliseconds{1});
    task.version += 1;
    {
      Use q(c.update);
      bind_task(*q, task);
      q->bind(10, to_unix_ms(task.updated_at));
      q->bind(11, task.version);
      q->bind(12, task.version - 1);
      if (q->exec() != 1) throw PreconditionFailed("task " + task.id + " changed during the update");
    }
    if (completed_now) {
      if (std::optional<TaskDraft> next = next_occurrence(task))
        insert(c, new_task(task.user_id, std::move(*next), task.updated_at));
    }
  }

};

SqliteTaskRepository::SqliteTaskRepository(SqliteOptions options)
    : impl_(guarded([&] { return std::make_unique<Impl>(std::move(options)); })) {}

SqliteTaskRepository::~SqliteTaskRepository() = default;

int SqliteTaskRepository::schema_version() const { return impl_->version; }

Task SqliteTaskRepository::create(std::string_view user_id, TaskDraft draft) {
  require_valid_user_id(user_id);
  validate(draft);
  Task task = new_task(user_id, std::move(draft), now_ms());
  guarded([&] { impl_->write([&](Connection& c) { Impl::insert(c, task); }); });
  return task;
}

std::optional<Task> SqliteTaskRepository::find(std::string_view user_id, std::string_view task_id) {
  if (!is_canonical_uuid(task_id)) return std::nullopt;
  return guarded([&] {
    Impl::ReadLease c(*impl_);
    return Impl::select_one(*c, user_id, task_id);
  });
}

namespace {

// SQLite's lower() folds ASCII only; fold the needle the same way.
std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// The listing SQL for `q` and the values to bind, in order.
struct ListingSql {
  std::string sql;
  std::vector<std::variant<std::int64_t, std::string>> binds;
};

ListingSql listing_sql(std::string_view user_id, const TaskQuery& q, const std::optional<PageCursor>& after) {
  ListingSql out;
  auto& b = out.binds;
  std::string& sql = out.sql;
  sql = std::string("SELECT ") + task_columns + " FROM tasks WHERE user_id = ?";
  b.emplace_back(std::string(user_id));
  if (q.status != StatusFilter::all) sql += q.status == StatusFilter::completed ? " AND completed = 1" : " AND completed = 0";
  if (q.priority) {
    sql += " AND priority = ?";
    b.emplace_back(static_cast<std::int64_t>(*q.priority));
  }
  for (const std::string& tag : q.tags) {
    sql += " AND EXISTS (SELECT 1 FROM json_each(tasks.tags) WHERE json_each.value = ?)";
    b.emplace_back(tag);
  }
  if (q.text) {
    sql += " AND (instr(lower(title), ?) > 0 OR instr(lower(COALESCE(description, '')), ?) > 0)";
    b.emplace_back(ascii_lower(*q.text));
    b.emplace_back(ascii_lower(*q.text));
  }
  if (q.due_after) {
    sql += " AND due_date >= ?";
    b.emplace_back(to_unix_ms(*q.due_after));
  }
  if (q.due_before) {
    sql += " AND due_date < ?";
    b.emplace_back(to_unix_ms(*q.due_before));
  }
  const char* column = "created_at";
  switch (q.sort) {
    case SortKey::created: column = "created_at"; break;
    case SortKey::updated: column = "updated_at"; break;
    case SortKey::title: column = "title"; break;
    case SortKey::due_date: column = "due_date"; break;
    case SortKey::priority: column = "priority"; break;
  }
  const std::string cmp = q.descending ? " < " : " > ";
  const std::string col = column;
  if (after) {
    // Keyset: strictly after the last row of the previous page in (key, id) order.
    if (q.sort == SortKey::due_date && !after->number) {
      sql += " AND (due_date IS NULL AND id" + cmp + "?)";
      b.emplace_back(after->id);
    } else {
      const std::variant<std::int64_t, std::string> v =
          q.sort == SortKey::title ? std::variant<std::int64_t, std::string>(after->title)
                                   : std::variant<std::int64_t, std::string>(*after->number);
      const std::string nulls_last = q.sort == SortKey::due_date ? "due_date IS NULL OR " : "";
      sql += " AND (" + nulls_last + col + cmp + "? OR (" + col + " = ? AND id" + cmp + "?))";
      b.push_back(v);
      b.push_back(v);
      b.emplace_back(after->id);
    }
  }
  const char* dir = q.descending ? " DESC" : " ASC";
  sql += " ORDER BY ";
  if (q.sort == SortKey::due_date) sql += "due_date IS NULL, ";  // no due date: last either way
  sql += col + dir + ", id" + dir;
  if (q.limit) {
    sql += " LIMIT ?";
    b.emplace_back(static_cast<std::int64_t>(*q.limit + 1));  // one more tells whether a next page exists
  }
  return out;
}

}  // namespace

TaskPage SqliteTaskRepository::list(std::string_view user_id, const TaskQuery& query) {
  std::vector<FieldError> errors;
  check_query(query, errors);
  if (!errors.empty()) throw ValidationError(std::move(errors));
  const auto after = query.cursor ? PageCursor::decode(*query.cursor) : std::nullopt;
  const ListingSql listing = listing_sql(user_id, query, after);
  return guarded([&] {
    Impl::ReadLease c(*impl_);
    TaskPage page;
    Use q(c->listing(listing.sql));
    for (std::size_t i = 0; i < listing.binds.size(); ++i) {
      const int index = static_cast<int>(i + 1);
      if (const auto* n = std::get_if<std::int64_t>(&listing.binds[i]))
        q->bind(index, *n);
      else
        q->bind(index, std::get<std::string>(listing.binds[i]));
    }
    while (q->executeStep()) page.tasks.push_back(read_task(*q));
    if (query.limit && page.tasks.size() > *query.limit) {
      page.tasks.pop_back();
      page.next_cursor = PageCursor::after(page.tasks.back(), query.sort, query.descending).encode();
    }
    return page;
  });
}

std::optional<Task> SqliteTaskRepository::update(std::string_view user_id, std::string_view task_id,
                                                 TaskPatch patch, const Precondition& precondition) {
  validate(patch);
  return modify(user_id, task_id, precondition, [&](const Task&) { return patch; });
}

std::optional<Task> SqliteTaskRepository::toggle(std::string_view user_id, std::string_view task_id,
                                                 const Precondition& precondition) {
  return modify(user_id, task_id, precondition, [](const Task& current) {
    TaskPatch p;
    p.completed = !current.completed;
    return p;
  });
}

namespace {

[[noreturn]] void throw_version_mismatch(std::string_view task_id, std::int64_t version) {
  throw PreconditionFailed("task " + std::string(task_id) + " is at version " + std::to_string(version));
}

// The versions a precondition allows as a JSON array for json_each(), or
// nullopt when it has none.
std::optional<std::string> versions_json(const Precondition& p) {
  if (p.unconditional()) return std::nullopt;
  return nlohmann::json(p.versions()).dump();
}

}  // namespace

std::optional<Task> SqliteTaskRepository::modify(std::string_view user_id, std::string_view task_id,
                                                 const Precondition& precondition,
                                                 const std::function<TaskPatch(const Task&)>& change) {
  if (!is_canonical_uuid(task_id)) return std::nullopt;
  std::optional<Task> task;
  guarded([&] {
    impl_->write([&](Connection& c) {
      task = Impl::select_one(c, user_id, task_id);
      if (!task) return;
      // Checked inside the write transaction: atomic with the UPDATE below.
      if (!precondition.allows(task->version)) throw_version_mismatch(task_id, task->version);
      const bool completed_now = apply_patch(*task, change(*task));
      Impl::store_change(c, *task, completed_now);
    });
  });
  return task;
}

BulkResult SqliteTaskRepository::set_completed(std::string_view user_id, const std::vector<std::string>& task_ids,
                                               bool completed) {
  const std::vector<std::string> ids = distinct_bulk_ids(task_ids);
  BulkResult result;
  guarded([&] {
    impl_->write([&](Connection& c) {
      result = {};
      std::vector<Task> tasks;
      for (const std::string& id : ids) {
        auto task = is_canonical_uuid(id) ? Impl::select_one(c, user_id, id) : std::nullopt;
        if (task)
          tasks.push_back(std::move(*task));
        else
          result.missing.push_back(id);
      }
      if (!result.missing.empty()) return;  // nothing was touched
      TaskPatch patch;
      patch.completed = completed;
      for (Task& task : tasks) Impl::store_change(c, task, apply_patch(task, patch));
      result.affected = tasks.size();
    });
  });
  return result;
}

BulkResult SqliteTaskRepository::remove_all(std::string_view user_id, const std::vector<std::string>& task_ids) {
  const std::vector<std::string> ids = distinct_bulk_ids(task_ids);
  BulkResult result;
  guarded([&] {
    impl_->write([&](Connection& c) {
      result = {};
      for (const std::string& id : ids)
        if (!is_canonical_uuid(id) || !Impl::select_one(c, user_id, id)) result.missing.push_back(id);
      if (!result.missing.empty()) return;
      for (const std::string& id : ids) {
        Use q(c.erase);
        bind_text(*q, 1, id);
        bind_text(*q, 2, user_id);
        result.affected += static_cast<std::size_t>(q->exec());
      }
    });
  });
  return result;
}

TaskStats SqliteTaskRepository::stats(std::string_view user_id, Timestamp now) {
  return guarded([&] {
    Impl::ReadLease c(*impl_);
    Use q(c->stats);
    bind_text(*q, 1, user_id);
    q->bind(2, to_unix_ms(now));
    q->executeStep();
    const auto n = [&](int i) { return static_cast<std::size_t>(q->getColumn(i).getInt64()); };
    TaskStats s;
    s.total = n(0);
    s.completed = n(1);
    s.pending = s.total - s.completed;
    s.overdue = n(2);
    s.low = n(3);
    s.medium = n(4);
    s.high = n(5);
    return s;
  });
}

bool SqliteTaskRepository::remove(std::string_view user_id, std::string_view task_id,
                                  const Precondition& precondition) {
  if (!is_canonical_uuid(task_id)) return false;
  bool removed = false;
  guarded([&] {
    impl_->write([&](Connection& c) {
      {
        Use q(c.erase);
        bind_text(*q, 1, task_id);
        bind_text(*q, 2, user_id);
        bind_optional(*q, 3, versions_json(precondition), [](const std::string& v) { return v; });
        removed = q->exec() > 0;
      }
      if (removed || precondition.unconditional()) return;
      // Nothing deleted: missing, or there at another version.
      if (const std::optional<Task> current = Impl::select_one(c, user_id, task_id))
        throw_version_mismatch(task_id, current->version);
    });
  });
  return removed;
}

Ownership SqliteTaskRepository::ownership(std::string_view user_id, std::string_view task_id) {
  if (!is_canonical_uuid(task_id)) return Ownership::none;
  return guarded([&] {
    Impl::ReadLease c(*impl_);
    Use q(c->owner);
    bind_text(*q, 1, task_id);
    bind_text(*q, 2, user_id);
    if (!q->executeStep()) return Ownership::none;
    return q->getColumn(0).getInt() != 0 ? Ownership::caller : Ownership::other_user;
  });
}

void SqliteTaskRepository::ping() {
  const int version = guarded([&] {
    Impl::ReadLease c(*impl_);
    Use q(c->schema_version);
    q->executeStep();
    return q->getColumn(0).getInt();
  });
  if (version < latest_schema_version)
    throw StorageUnavailable("sqlite: the database is at schema version " + std::to_string(version) +
                             ", this libtodo needs " + std::to_string(latest_schema_version));
}

PoolStats SqliteTaskRepository::pool_stats() const {
  PoolStats s;
  {
    std::lock_guard lock(impl_->pool_mutex);
    s.open = 1 + impl_->open_readers;  // the writer and the readers opened so far
    s.idle = impl_->idle_readers.size();
    s.waiting = impl_->waiting_readers;
  }
  if (!impl_->writer_busy.load(std::memory_order_relaxed)) ++s.idle;
  s.in_use = s.open - std::min(s.idle, s.open);
  s.waiting += impl_->waiting_writers.load(std::memory_order_relaxed);
  s.waits = impl_->waits.load(std::memory_order_relaxed);
  s.wait_time = std::chrono::nanoseconds{impl_->wait_ns.load(std::memory_order_relaxed)};
  return s;
}

namespace {

User read_user(SQLite::Statement& s) {
  User u;
  u.id = s.getColumn(0).getString();
  u.email = s.getColumn(1).getString();
  if (!s.getColumn(2).isNull()) u.name = s.getColumn(2).getString();
  u.created_at = from_unix_ms(s.getColumn(3).getInt64());
  return u;
}

}  // namespace

std::optional<User> SqliteTaskRepository::create_user(std::string_view email,
                                                      std::string_view password_hash,
                                                      const std::optional<std::string>& name) {
  User u{new_uuid_v7(), normalize_email(email), name, now_ms()};
  return guarded([&]() -> std::optional<User> {
    Impl::WriteLock writer(*impl_);
    Use q(writer->insert_user);
    bind_text(*q, 1, u.id);
    bind_text(*q, 2, u.email);
    bind_optional(*q, 3, u.name, [](const std::string& n) { return n; });
    bind_text(*q, 4, password_hash);
    q->bind(5, to_unix_ms(u.created_at));
    if (q->exec() == 0) return std::nullopt;  // the email is taken
    return u;
  });
}

std::optional<Credentials> SqliteTaskRepository::find_credentials(std::string_view email) {
  return guarded([&]() -> std::optional<Credentials> {
    Impl::ReadLease c(*impl_);
    Use q(c->select_credentials);
    bind_text(*q, 1, normalize_email(email));
    if (!q->executeStep()) return std::nullopt;
    return Credentials{read_user(*q), q->getColumn(4).getString()};
  });
}

std::optional<User> SqliteTaskRepository::find_user(std::string_view user_id) {
  return guarded([&]() -> std::optional<User> {
    Impl::ReadLease c(*impl_);
    Use q(c->select_user);
    bind_text(*q, 1, user_id);
    if (!q->executeStep()) return std::nullopt;
    return read_user(*q);
  });
}

void SqliteTaskRepository::revoke_token(std::string_view jti, Timestamp expires_at) {
  guarded([&] {
    Impl::WriteLock writer(*impl_);
    Use q(writer->revoke);
    bind_text(*q, 1, jti);
    q->bind(2, to_unix_ms(expires_at));
    q->exec();
  });
}

bool SqliteTaskRepository::is_token_revoked(std::string_view jti) {
  return guarded([&] {
    Impl::ReadLease c(*impl_);
    Use q(c->revoked);
    bind_text(*q, 1, jti);
    q->bind(2, to_unix_ms(now_ms()));
    return q->executeStep();
  });
}

void SqliteTaskRepository::purge_revocations(Timestamp now) {
  guarded([&] {
    Impl::WriteLock writer(*impl_);
    Use q(writer->purge);
    q->bind(1, to_unix_ms(now));
    q->exec();
  });
}

namespace {

void bind_key(SQLite::Statement& s, const IdempotencyKey& key) {
  bind_text(s, 1, key.user_id);
  bind_text(s, 2, key.route);
  bind_text(s, 3, key.key);
}

}  // namespace

IdempotencyClaim SqliteTaskRepository::claim(const IdempotencyKey& key, std::string_view fingerprint, Timestamp now,
                                             std::chrono::milliseconds lease, std::chrono::milliseconds ttl) {
  check_idempotency_claim(key, fingerprint);
  const std::int64_t now_ms = to_unix_ms(now);
  return guarded([&] {
    Impl::WriteLock writer(*impl_);
    Connection& c = *writer;
    // Read and decide under the write lock: of concurrent claims, one acquires.
    WriteTransaction tx(c.db);
    IdempotencyClaim result;
    bool take = false;
    {
      Use q(c.key_select);
      bind_key(*q, key);
      if (!q->executeStep() || q->getColumn(5).getInt64() <= now_ms) {
        take = true;  // new, or expired
      } else if (q->getColumn(0).getString() != fingerprint) {
        result.outcome = IdempotencyClaim::Outcome::mismatch;
      } else if (!q->getColumn(2).isNull()) {
        result.outcome = IdempotencyClaim::Outcome::replay;
        result.response = StoredResponse{q->getColumn(2).getInt(), decode_stored_headers(q->getColumn(3).getString()),
                                         q->getColumn(4).getString()};
      } else {
        take = q->getColumn(1).getInt64() <= now_ms;  // the owner's lease ran out
      }
    }
    if (take) {
      result.outcome = IdempotencyClaim::Outcome::acquired;
      result.owner = new_uuid_v7();
      Use q(c.key_acquire);
      bind_key(*q, key);
      bind_text(*q, 4, fingerprint);
      bind_text(*q, 5, result.owner);
      q->bind(6, now_ms + lease.count());
      q->bind(7, now_ms + ttl.count());
      q->exec();
    }
    tx.commit();
    return result;
  });
}

bool SqliteTaskRepository::complete(const IdempotencyKey& key, std::string_view owner, const StoredResponse& response) {
  return guarded([&] {
    Impl::WriteLock writer(*impl_);
    Use q(writer->key_complete);
    bind_key(*q, key);
    bind_text(*q, 4, owner);
    q->bind(5, response.status);
    q->bind(6, encode_stored_headers(response.headers));
    q->bind(7, response.body);
    return q->exec() > 0;
  });
}

bool SqliteTaskRepository::abandon(const IdempotencyKey& key, std::string_view owner) {
  return guarded([&] {
    Impl::WriteLock writer(*impl_);
    Use q(writer->key_abandon);
    bind_key(*q, key);
    bind_text(*q, 4, owner);
    return q->exec() > 0;
  });
}

std::size_t SqliteTaskRepository::purge_idempotency_keys(Timestamp now, std::size_t limit) {
  return guarded([&] {
    Impl::WriteLock writer(*impl_);
    Use q(writer->key_purge);
    q->bind(1, to_unix_ms(now));
    q->bind(2, static_cast<std::int64_t>(limit));
    return static_cast<std::size_t>(q->exec());
  });
}

}  // namespace libtodo
