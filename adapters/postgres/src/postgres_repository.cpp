#include <libtodo/postgres_repository.hpp>

#include <poll.h>

#include <algorithm>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

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

// The same versions as the SQLite backend, in PostgreSQL's dialect. Never
// edit a migration that has shipped; append a new one.
constexpr Migration migrations[] = {
    {1, "create tasks", R"sql(
CREATE TABLE tasks (
  id          uuid        NOT NULL PRIMARY KEY,
  user_id     text        NOT NULL,
  title       text        NOT NULL,
  description text,
  completed   boolean     NOT NULL DEFAULT false,
  priority    smallint    NOT NULL DEFAULT 1 CHECK (priority BETWEEN 0 AND 2),
  tags        text[]      NOT NULL DEFAULT '{}',
  due_date    timestamptz,
  recurrence  text        CHECK (recurrence IN ('daily', 'weekly', 'monthly')),
  created_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL,
  version     bigint      NOT NULL DEFAULT 1
);
CREATE INDEX tasks_user_created ON tasks (user_id, created_at, id);
)sql"},
    {2, "create users and revoked_tokens", R"sql(
CREATE TABLE users (
  id            text        NOT NULL PRIMARY KEY,
  email         text        NOT NULL UNIQUE,
  name          text,
  password_hash text        NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE TABLE revoked_tokens (
  jti        text        NOT NULL PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
)sql"},
    {3, "index due dates", R"sql(
CREATE INDEX tasks_user_due ON tasks (user_id, due_date, id);
)sql"},
    {4, "create idempotency_keys", R"sql(
CREATE TABLE idempotency_keys (
  user_id     text        NOT NULL,
  route       text        NOT NULL,
  client_key  text        NOT NULL,
  fingerprint text        NOT NULL,
  owner       text,
  lease_until timestamptz,
  status      integer,
  headers     text,
  body        text,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (user_id, route, client_key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
)sql"},
};
static_assert(std::size(migrations) == latest_schema_version &&
              migrations[std::size(migrations) - 1].version == latest_schema_version);


// Any constant will do; it only has to be the same in every libtodo process.
constexpr long long migration_lock_key = 0x6c6962746f646f;  // "libtodo"

// Instants cross the wire as integer milliseconds since the epoch, so no
// text formatting or time zone can change them.
#define TODO_MS(col) "(extract(epoch from " col ") * 1000)::bigint"
#define TODO_TS(param) "(timestamptz 'epoch' + " param "::bigint * interval '1 millisecond')"
#define TODO_TAGS(param) \
  "ARRAY(SELECT e FROM json_array_elements_text(" param "::json) WITH ORDINALITY AS a(e, n) ORDER BY n)"

constexpr const char* select_columns =
    "id::text, user_id, title, description, completed, priority, array_to_json(tags)::text, " TODO_MS(
        "due_date") ", recurrence, " TODO_MS("created_at") ", " TODO_MS("updated_at") ", version";

struct Statement {
  const char* name;
  std::string sql;
};

// Prepared once per connection.
const std::vector<Statement>& statements() {
  static const std::vector<Statement> list = {
      {"find", std::string("SELECT ") + select_columns + " FROM tasks WHERE id = $1::uuid AND user_id = $2"},
      {"insert",
       "INSERT INTO tasks (id, user_id, title, description, completed, priority, tags, due_date, "
       "recurrence, created_at, updated_at, version) VALUES ($1::uuid, $2, $3, $4, $5::boolean, "
       "$6::smallint, " TODO_TAGS("$7") ", " TODO_TS("$8") ", $9, " TODO_TS("$10") ", " TODO_TS("$10") ", 1)"},
      // A merge patch in one statement: each nullable field comes with a "set"
      // flag. The old row is locked first so that its `completed` tells
      // whether this update completes the task; if so, and it recurs and has
      // a due date, its next occurrence is inserted by the same statement.
      // Month arithmetic runs in UTC (set per connection) and clamps to the
      // month's end as the core's next_due_date does. $16 lists the versions
      // a precondition allows (NULL: any); it is checked against the locked
      // row, so of concurrent updates expecting one version exactly one wins.
      // The result has no row for a missing task, and a row whose task
      // columns are NULL (but old_version is set) for a failed precondition.
      {"update",
       std::string("WITH old AS (SELECT id, completed, version FROM tasks WHERE id = $1::uuid AND user_id = $2 "
                   "FOR UPDATE), "
                   "upd AS (UPDATE tasks t SET "
                   "title = COALESCE($3, t.title), "
                   "description = CASE WHEN $4::boolean THEN $5 ELSE t.description END, "
                   "completed = CASE WHEN $15::boolean THEN NOT t.completed ELSE COALESCE($6::boolean, t.completed) END, "
                   "priority = COALESCE($7::smallint, t.priority), "
                   "tags = CASE WHEN $8::text IS NULL THEN t.tags ELSE " TODO_TAGS("$8") " END, "
                   "due_date = CASE WHEN $9::boolean THEN " TODO_TS("$10") " ELSE t.due_date END, "
                   "recurrence = CASE WHEN $11::boolean THEN $12 ELSE t.recurrence END, "
                   "updated_at = GREATEST(" TODO_TS("$13") ", t.updated_at + interval '1 millisecond'), "
                   "version = t.version + 1 "
                   "FROM old WHERE t.id = old.id AND ($16::bigint[] IS NULL OR old.version = ANY($16::bigint[])) "
                   "RETURNING t.*, old.completed AS was_completed), "
                   "spawn AS (INSERT INTO tasks (id, user_id, title, description, completed, priority, tags, "
                   "due_date, recurrence, created_at, updated_at, version) "
                   "SELECT $14::uuid, user_id, title, description, false, priority, tags, "
                   "due_date + CASE recurrence WHEN 'daily' THEN interval '1 day' "
                   "WHEN 'weekly' THEN interval '7 days' ELSE interval '1 month' END, "
                   "recurrence, updated_at, updated_at, 1 FROM upd "
                   "WHERE completed AND NOT was_completed AND recurrence IS NOT NULL AND due_date IS NOT NULL) "
                   "SELECT ") +
           select_columns + ", old_version FROM upd RIGHT JOIN (SELECT version AS old_version FROM old) o ON true"},
      // Deleted rows, and the version the task had before (NULL: no such task).
      {"remove",
       "WITH gone AS (DELETE FROM tasks WHERE id = $1::uuid AND user_id = $2 "
       "AND ($3::bigint[] IS NULL OR version = ANY($3::bigint[])) RETURNING 1) "
       "SELECT (SELECT count(*) FROM gone), (SELECT version FROM tasks WHERE id = $1::uuid AND user_id = $2)"},
      {"owner", "SELECT user_id = $2 FROM tasks WHERE id = $1::uuid"},
      {"ping", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"},
      {"lock_many", "SELECT id::text FROM tasks WHERE user_id = $1 AND id = ANY($2::uuid[]) FOR UPDATE"},
      {"remove_many", "DELETE FROM tasks WHERE user_id = $1 AND id = ANY($2::uuid[])"},
      {"stats",
       "SELECT count(*), count(*) FILTER (WHERE completed), "
       "count(*) FILTER (WHERE NOT completed AND due_date < " TODO_TS("$2") "), "
       "count(*) FILTER (WHERE priority = 0), count(*) FILTER (WHERE priority = 1), "
       "count(*) FILTER (WHERE priority = 2) FROM tasks WHERE user_id = $1"},
      {"insert_user", "INSERT INTO users (id, email, name, password_hash, created_at) VALUES ($1, $2, $3, $4, " TODO_TS(
                          "$5") ") ON CONFLICT (email) DO NOTHING"},
      {"credentials", "SELECT id, email, name, " TODO_MS("created_at") ", password_hash FROM users WHERE email = $1"},
      {"user", "SELECT id, email, name, " TODO_MS("created_at") " FROM users WHERE id = $1"},
      {"revoke", "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1, " TODO_TS("$2") ") ON CONFLICT (jti) DO NOTHING"},
      {"revoked", "SELECT 1 FROM revoked_tokens WHERE jti = $1 AND expires_at > now()"},
      {"purge", "DELETE FROM revoked_tokens WHERE expires_at <= " TODO_TS("$1")},
      // Acquires the key when it is new, expired, or pending past its lease
      // with the same fingerprint; in every case also returns the record as
      // it was (the statement's snapshot), so one round trip decides. A
      // record another transaction is inserting right now makes the insert
      // wait for it, so of concurrent claims exactly one acquires.
      {"key_claim",
       "WITH prior AS (SELECT fingerprint, status, headers, body, expires_at <= " TODO_TS("$6") " AS expired "
       "FROM idempotency_keys WHERE user_id = $1 AND route = $2 AND client_key = $3), "
       "claimed AS (INSERT INTO idempotency_keys (user_id, route, client_key, fingerprint, owner, lease_until, "
       "expires_at) VALUES ($1, $2, $3, $4, $5, " TODO_TS("$6") " + $7::bigint * interval '1 millisecond', "
       TODO_TS("$6") " + $8::bigint * interval '1 millisecond') "
       "ON CONFLICT (user_id, route, client_key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, "
       "owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until, status = NULL, headers = NULL, body = NULL, "
       "expires_at = EXCLUDED.expires_at WHERE idempotency_keys.expires_at <= " TODO_TS("$6") " OR "
       "(idempotency_keys.status IS NULL AND idempotency_keys.lease_until <= " TODO_TS("$6") " AND "
       "idempotency_keys.fingerprint = EXCLUDED.fingerprint) RETURNING 1) "
       "SELECT (SELECT count(*) FROM claimed), p.fingerprint, p.status, p.headers, p.body, p.expired "
       "FROM (SELECT 1) one LEFT JOIN prior p ON true"},
      {"key_complete",
       "UPDATE idempotency_keys SET owner = NULL, lease_until = NULL, status = $5, headers = $6, body = $7 "
       "WHERE user_id = $1 AND route = $2 AND client_key = $3 AND owner = $4"},
      {"key_abandon", "DELETE FROM idempotency_keys WHERE user_id = $1 AND route = $2 AND client_key = $3 AND owner = $4"},
      {"key_purge",
       "DELETE FROM idempotency_keys WHERE ctid = ANY(ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at <= " TODO_TS(
           "$1") " LIMIT $2::bigint))"},
  };
  return list;
}

#undef TODO_MS
#undef TODO_TS
#undef TODO_TAGS


// A nullable text parameter: libpqxx sends a null `const char*` as SQL NULL.
class Param {
 public:
  Param() = default;
  explicit Param(std::string v) : value_(std::move(v)) {}
  template <class T, class F>
  static Param from(const std::optional<T>& v, F&& convert) {
    return v ? Param(convert(*v)) : Param();
  }
  [[nodiscard]] const char* get() const { return value_ ? value_->c_str() : nullptr; }

 private:
  std::optional<std::string> value_;
};

using detail::decode_tags;
using detail::encode_tags;

// The columns of select_columns, in order. One field iterator walks the row:
// in libpqxx 6.4 every row[i] builds a field holding a copy of the result
// (two atomic reference-count updates), which with the result's destructor
// was 9% of a 50-task listing's CPU.
Task read_task(const pqxx::row& r) {
  Task t;
  auto f = r.begin();
  const auto text = [](const pqxx::field& field) { return std::string(field.c_str(), field.size()); };
  t.id = text(*f);
  t.user_id = text(*++f);
  t.title = text(*++f);
  if (!(++f)->is_null()) t.description = text(*f);
  t.completed = (++f)->as<bool>();
  t.priority = static_cast<Priority>(std::clamp((++f)->as<int>(), 0, 2));
  ++f;
  t.tags = decode_tags(std::string_view(f->c_str(), f->size()));
  if (!(++f)->is_null()) t.due_date = from_unix_ms(f->as<std::int64_t>());
  if (!(++f)->is_null()) t.recurrence = parse_recurrence(std::string_view(f->c_str(), f->size()));
  t.created_at = from_unix_ms((++f)->as<std::int64_t>());
  t.updated_at = from_unix_ms((++f)->as<std::int64_t>());
  t.version = (++f)->as<std::int64_t>();
  return t;
}

// SQLSTATE classes that mean "the server cannot serve this now; retry later":
// connection exceptions (08), insufficient resources (53), operator
// intervention such as a shutdown (57), serialization failure and deadlock (40).
bool is_transient(const std::string& sqlstate) {
  const std::string cls = sqlstate.substr(0, 2);
  return cls == "08" || cls == "53" || cls == "57" || cls == "40";
}

std::string with_connect_timeout(const std::string& url, std::chrono::seconds timeout) {
  if (url.find("connect_timeout") != std::string::npos) return url;
  const std::string value = std::to_string(timeout.count());
  const bool is_uri = url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
  if (!is_uri) return url + " connect_timeout=" + value;
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + value;
}

// True when a connection that should be idle has something to read or is
// closed: the server sent a termination notice (restart,
// pg_terminate_backend) or the socket is gone.
bool looks_broken(pqxx::connection& c) {
  if (!c.is_open()) return true;
  pollfd p{c.sock(), POLLIN, 0};
  if (p.fd < 0) return true;
  return ::poll(&p, 1, 0) != 0;
}

}  // namespace

struct PostgresTaskRepository::Impl {
  PostgresOptions options;
  std::string url;
  int version = 0;

  mutable std::mutex mutex;
  std::condition_variable freed;
  std::vector<std::unique_ptr<pqxx::connection>> idle;
  std::size_t open = 0;
  std::size_t waiting = 0;
  std::size_t discarded = 0;
  std::uint64_t waits = 0;  // acquisitions that had to wait, and for how long
  std::chrono::nanoseconds wait_time{0};
  // Listing statements prepared on each connection, by SQL text. Guarded by
  // `mutex`; a connection's entry goes with the connection.
  std::unordered_map<const pqxx::connection*, std::unordered_map<std::string, std::string>> listings;
  std::size_t listing_names = 0;

  // The name of `sql` prepared on `c`, preparing it on first use.
  std::string listing_statement(pqxx::connection& c, const std::string& sql) {
    std::string name;
    {
      std::lock_guard lock(mutex);
      auto& prepared = listings[&c];
      if (auto it = prepared.find(sql); it != prepared.end()) return it->second;
      if (prepared.size() >= 128) return {};  // an unusual spread of shapes: run unprepared
      name = "list_" + std::to_string(++listing_names);
      prepared.emplace(sql, name);
    }
    c.prepare(name, sql);
    return name;
  }

  explicit Impl(PostgresOptions o) : options(std::move(o)) {
    if (options.pool_size == 0) options.pool_size = 1;
    url = with_connect_timeout(options.url, options.connect_timeout);
  }

  std::unique_ptr<pqxx::connection> connect() {
    auto c = std::make_unique<pqxx::connection>(url);
    {
      pqxx::nontransaction tx(*c);
      tx.exec("SET TIME ZONE 'UTC'");  // month arithmetic of recurrences runs in UTC
    }
    for (const Statement& s : statements()) c->prepare(s.name, s.sql);
    return c;
  }

  // A pooled connection for the length of a scope.
  class Lease {
   public:
    explicit Lease(Impl& impl) : impl_(impl) { conn_ = impl_.acquire(); }
    ~Lease() { impl_.release(std::move(conn_), broken_); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    pqxx::connection& operator*() { return *conn_; }
    void mark_broken() { broken_ = true; }

   private:
    Impl& impl_;
    std::unique_ptr<pqxx::connection> conn_;
    bool broken_ = false;
  };

  std::unique_ptr<pqxx::connection> acquire() {
    std::unique_lock lock(mutex);
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + options.acquire_timeout;
    bool waited = false;
    // Called with the lock held whenever the wait below ends.
    const auto done_waiting = [&] {
      --waiting;
      if (!waited) return;
      ++waits;
      wait_time += std::chrono::steady_clock::now() - start;
    };
    ++waiting;
    for (;;) {
      while (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        if (!looks_broken(*c)) {
          done_waiting();
          return c;
        }
        listings.erase(c.get());
        --open;
        ++discarded;
      }
      if (open < options.pool_size) break;
      waited = true;
      if (freed.wait_until(lock, deadline) == std::cv_status::timeout && idle.empty() &&
          open >= options.pool_size) {
        done_waiting();
        throw StorageUnavailable("postgres: no connection free within the acquire timeout");
      }
    }
    done_waiting();
    ++open;
    lock.unlock();
    try {
      return connect();
    } catch (const std::exception& e) {
      lock.lock();
      --open;
      freed.notify_one();
      throw StorageUnavailable(std::string("postgres: cannot connect: ") + e.what());
    }
  }

  void release(std::unique_ptr<pqxx::connection> c, bool broken) {
    {
      std::lock_guard lock(mutex);
      if (broken || !c) {
        listings.erase(c.get());
        --open;
        ++discarded;
      } else {
        idle.push_back(std::move(c));
      }
    }
    freed.notify_one();
  }

  // Runs `f(connection)` on a pooled connection, translating libpqxx's
  // exceptions. A read that meets a broken connection is retried once on a
  // fresh one; a write is not (it may have committed), it reports 503.
  template <class F>
  auto run(bool retry_if_broken, F&& f) -> decltype(f(std::declval<pqxx::connection&>())) {
    for (int attempt = 0;; ++attempt) {
      Lease lease(*this);
      try {
        return f(*lease);
      } catch (const pqxx::broken_connection& e) {
        lease.mark_broken();
        if (retry_if_broken && attempt == 0) continue;
        throw StorageUnavailable(std::string("postgres: connection lost: ") + e.what());
      } catch (const pqxx::sql_error& e) {
        if (is_transient(e.sqlstate())) {
          lease.mark_broken();
          throw StorageUnavailable(std::string("postgres: ") + e.what());
        }
        throw StorageError(std::string("postgres: ") + e.what());
      } catch (const pqxx::failure& e) {
        lease.mark_broken();
        throw StorageError(std::string("postgres: ") + e.what());
      } catch (const nlohmann::json::exception& e) {
        throw StorageError(std::string("postgres: corrupt tags: ") + e.what());
      }
    }
  }

  void migrate() {
    run(false, [&](pqxx::connection& c) {
      pqxx::work tx(c);
      tx.exec("SELECT pg_advisory_xact_lock(" + std::to_string(migration_lock_key) + ")");
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
          "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())");
      int current = tx.exec("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")[0][0].as<int>();
      const int latest = migrations[std::size(migrations) - 1].version;
      if (current > latest)
        throw StorageError("database schema version " + std::to_string(current) +
                           " is newer than this libtodo supports (" + std::to_string(latest) + ")");
      for (const Migration& m : migrations) {
        if (m.version <= current) continue;
        tx.exec(m.sql);
        tx.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name);
        current = m.version;
      }
      tx.commit();
      version = current;
    });
  }

  // An all-or-nothing bulk operation: locks every id of the user's, and runs
  // `act` in the same transaction only when all exist.
  using BulkAction = std::function<std::size_t(pqxx::work&, const std::vector<std::string>&)>;
  BulkResult bulk(std::string_view user_id, const std::vector<std::string>& task_ids, const BulkAction& act);

};

namespace {


std::string text(std::string_view s) { return std::string(s); }

}  // namespace

PostgresTaskRepository::PostgresTaskRepository(PostgresOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->migrate();
}

PostgresTaskRepository::~PostgresTaskRepository() = default;

int PostgresTaskRepository::schema_version() const { return impl_->version; }

PoolStats PostgresTaskRepository::pool_stats() const {
  std::lock_guard lock(impl_->mutex);
  PoolStats s;
  s.open = impl_->open;
  s.idle = impl_->idle.size();
  s.in_use = s.open - std::min(s.idle, s.open);
  s.waiting = impl_->waiting;
  s.discarded = impl_->discarded;
  s.waits = impl_->waits;
  s.wait_time = impl_->wait_time;
  return s;
}

Task PostgresTaskRepository::create(std::string_view user_id, TaskDraft draft) {
  require_valid_user_id(user_id);
  validate(draft);
  Task t = new_task(user_id, std::move(draft), now_ms());
  impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const Param description = Param::from(t.description, [](const std::string& s) { return s; });
    const Param due = Param::from(t.due_date, [](Timestamp d) { return std::to_string(to_unix_ms(d)); });
    const Param recurrence = Param::from(t.recurrence, [](Recurrence r) { return text(to_string(r)); });
    tx.exec_prepared("insert", t.id, t.user_id, t.title, description.get(), t.completed,
                     static_cast<int>(t.priority), encode_tags(t.tags), due.get(), recurrence.get(),
                     to_unix_ms(t.created_at));
  });
  return t;
}

std::optional<Task> PostgresTaskRepository::find(std::string_view user_id, std::string_view task_id) {
  if (!is_canonical_uuid(task_id)) return std::nullopt;
  return impl_->run(true, [&](pqxx::connection& c) -> std::optional<Task> {
    pqxx::nontransaction tx(c);
    const pqxx::result r = tx.exec_prepared("find", text(task_id), text(user_id));
    if (r.empty()) return std::nullopt;
    return read_task(r[0]);
  });
}

namespace {

// The listing SQL for `q` and its parameters ($1, $2, ... in order, as text).
struct ListingSql {
  std::string sql;
  std::vector<std::string> params;
  std::string next() { return "$" + std::to_string(params.size()); }
  std::string add(std::string v) {
    params.push_back(std::move(v));
    return next();
  }
};

std::string ts(const std::string& param) {
  return "(timestamptz 'epoch' + " + param + "::bigint * interval '1 millisecond')";
}

ListingSql listing_sql(std::string_view user_id, const TaskQuery& q, const std::optional<PageCursor>& after) {
  ListingSql out;
  std::string& sql = out.sql;
  sql = std::string("SELECT ") + select_columns + " FROM tasks WHERE user_id = " + out.add(text(user_id));
  if (q.status != StatusFilter::all) sql += q.status == StatusFilter::completed ? " AND completed" : " AND NOT completed";
  if (q.priority) sql += " AND priority = " + out.add(std::to_string(static_cast<int>(*q.priority))) + "::smallint";
  for (const std::string& tag : q.tags) sql += " AND " + out.add(tag) + "::text = ANY(tags)";
  if (q.text) {
    const std::string needle = out.add(*q.text) + "::text";
    sql += " AND (strpos(lower(title), lower(" + needle + ")) > 0 OR strpos(lower(COALESCE(description, '')), lower(" +
           needle + ")) > 0)";
  }
  if (q.due_after) sql += " AND due_date >= " + ts(out.add(std::to_string(to_unix_ms(*q.due_after))));
  if (q.due_before) sql += " AND due_date < " + ts(out.add(std::to_string(to_unix_ms(*q.due_before))));

  std::string col;
  switch (q.sort) {
    case SortKey::created: col = "created_at"; break;
    case SortKey::updated: col = "updated_at"; break;
    case SortKey::title: col = "title COLLATE \"C\""; break;  // code point order, as on SQLite
    case SortKey::due_date: col = "due_date"; break;
    case SortKey::priority: col = "priority"; break;
  }
  const std::string cmp = q.descending ? " < " : " > ";
  if (after) {
    // Keyset: strictly after the last row of the previous page in (key, id) order.
    const std::string id = out.add(after->id) + "::uuid";
    if (q.sort == SortKey::due_date && !after->number) {
      sql += " AND (due_date IS NULL AND id" + cmp + id + ")";
    } else {
      std::string v;
      if (q.sort == SortKey::title)
        v = out.add(after->title) + "::text COLLATE \"C\"";
      else if (q.sort == SortKey::priority)
        v = out.add(std::to_string(*after->number)) + "::smallint";
      else
        v = ts(out.add(std::to_string(*after->number)));
      const std::string nulls_last = q.sort == SortKey::due_date ? "due_date IS NULL OR " : "";
      sql += " AND (" + nulls_last + col + cmp + v + " OR (" + col + " = " + v + " AND id" + cmp + id + "))";
    }
  }
  const char* dir = q.descending ? " DESC" : " ASC";
  sql += " ORDER BY ";
  if (q.sort == SortKey::due_date) sql += "due_date IS NULL, ";  // no due date: last either way
  sql += col + dir + ", id" + dir;
  if (q.limit) sql += " LIMIT " + out.add(std::to_string(*q.limit + 1)) + "::bigint";
  return out;
}

}  // namespace

TaskPage PostgresTaskRepository::list(std::string_view user_id, const TaskQuery& query) {
  std::vector<FieldError> errors;
  check_query(query, errors);
  if (!errors.empty()) throw ValidationError(std::move(errors));
  const auto after = query.cursor ? PageCursor::decode(*query.cursor) : std::nullopt;
  const ListingSql listing = listing_sql(user_id, query, after);
  return impl_->run(true, [&](pqxx::connection& c) {
    // Each combination of filters is prepared once per connection.
    const std::string statement = impl_->listing_statement(c, listing.sql);
    pqxx::nontransaction tx(c);
    const auto params = pqxx::prepare::make_dynamic_params(listing.params);
    const pqxx::result r =
        statement.empty() ? tx.exec_params(listing.sql, params) : tx.exec_prepared(statement, params);
    TaskPage page;
    page.tasks.reserve(r.size());
    for (const pqxx::row& row : r) page.tasks.push_back(read_task(row));
    if (query.limit && page.tasks.size() > *query.limit) {
      page.tasks.pop_back();
      page.next_cursor = PageCursor::after(page.tasks.back(), query.sort, query.descending).encode();
    }
    return page;
  });
}

namespace {

// The parameters of the "update" statement for a merge patch (or a toggle).
// The versions a precondition allows as a bigint[] literal, NULL for any.
Param versions_param(const Precondition& p) {
  if (p.unconditional()) return {};
  std::string a = "{";
  for (std::size_t i = 0; i < p.versions().size(); ++i) a += (i ? "," : "") + std::to_string(p.versions()[i]);
  return Param(a + "}");
}

[[noreturn]] void throw_version_mismatch(std::string_view task_id, const pqxx::field& version) {
  throw PreconditionFailed("task " + std::string(task_id) + " is at version " + version.as<std::string>(""));
}

struct UpdateParams {
  Param title, description, completed, priority, tags, due, recurrence, versions;
  bool set_description = false, set_due = false, set_recurrence = false, toggle = false;

  static UpdateParams of(const TaskPatch& patch) {
    UpdateParams u;
    u.title = Param::from(patch.title, [](const std::string& s) { return s; });
    u.set_description = patch.description.has_value();
    if (u.set_description) u.description = Param::from(*patch.description, [](const std::string& s) { return s; });
    u.completed = Param::from(patch.completed, [](bool b) { return text(b ? "true" : "false"); });
    u.priority = Param::from(patch.priority, [](Priority p) { return std::to_string(static_cast<int>(p)); });
    u.tags = Param::from(patch.tags, encode_tags);
    u.set_due = patch.due_date.has_value();
    if (u.set_due) u.due = Param::from(*patch.due_date, [](Timestamp d) { return std::to_string(to_unix_ms(d)); });
    u.set_recurrence = patch.recurrence.has_value();
    if (u.set_recurrence) u.recurrence = Param::from(*patch.recurrence, [](Recurrence r) { return text(to_string(r)); });
    return u;
  }

  // One round trip: the row after the change, or none when the user has no such task.
  pqxx::result run(pqxx::transaction_base& tx, std::string_view task_id, std::string_view user_id) const {
    return tx.exec_prepared("update", text(task_id), text(user_id), title.get(), set_description, description.get(),
                            completed.get(), priority.get(), tags.get(), set_due, due.get(), set_recurrence,
                            recurrence.get(), to_unix_ms(now_ms()), new_uuid_v7(), toggle, versions.get());
  }

  // Runs the update and reads its result: the task, nullopt for no such task,
  // PreconditionFailed for a version the precondition does not allow.
  std::optional<Task> apply(pqxx::transaction_base& tx, std::string_view task_id, std::string_view user_id) const {
    const pqxx::result r = run(tx, task_id, user_id);
    if (r.empty()) return std::nullopt;
    if (r[0][0].is_null()) throw_version_mismatch(task_id, r[0][12]);
    return read_task(r[0]);
  }
};

// A PostgreSQL array literal of ids already checked to be canonical UUIDs.
std::string uuid_array(const std::vector<std::string>& ids) {
  std::string a = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) a += (i ? "," : "") + ids[i];
  return a + "}";
}

}  // namespace

std::optional<Task> PostgresTaskRepository::update(std::string_view user_id, std::string_view task_id,
                                                   TaskPatch patch, const Precondition& precondition) {
  validate(patch);
  if (!is_canonical_uuid(task_id)) return std::nullopt;
  UpdateParams params = UpdateParams::of(patch);
  params.versions = versions_param(precondition);
  return impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return params.apply(tx, task_id, user_id);
  });
}

std::optional<Task> PostgresTaskRepository::toggle(std::string_view user_id, std::string_view task_id,
                                                   const Precondition& precondition) {
  if (!is_canonical_uuid(task_id)) return std::nullopt;
  UpdateParams params;
  params.toggle = true;
  params.versions = versions_param(precondition);
  return impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return params.apply(tx, task_id, user_id);
  });
}

BulkResult PostgresTaskRepository::set_completed(std::string_view user_id, const std::vector<std::string>& task_ids,
                                                 bool completed) {
  return impl_->bulk(user_id, task_ids, [&](pqxx::work& tx, const std::vector<std::string>& ids) {
    TaskPatch patch;
    patch.completed = completed;
    const UpdateParams params = UpdateParams::of(patch);
    for (const std::string& id : ids) params.run(tx, id, user_id);
    return ids.size();
  });
}

BulkResult PostgresTaskRepository::remove_all(std::string_view user_id, const std::vector<std::string>& task_ids) {
  return impl_->bulk(user_id, task_ids, [&](pqxx::work& tx, const std::vector<std::string>& ids) {
    return static_cast<std::size_t>(tx.exec_prepared("remove_many", text(user_id), uuid_array(ids)).affected_rows());
  });
}

BulkResult PostgresTaskRepository::Impl::bulk(std::string_view user_id, const std::vector<std::string>& task_ids,
                                              const BulkAction& act) {
  const std::vector<std::string> ids = distinct_bulk_ids(task_ids);
  std::vector<std::string> valid;
  for (const std::string& id : ids)
    if (is_canonical_uuid(id)) valid.push_back(id);
  return run(false, [&](pqxx::connection& c) {
    pqxx::work tx(c);
    // Lock every row first: all exist and stay until commit, or nothing happens.
    const pqxx::result found = tx.exec_prepared("lock_many", text(user_id), uuid_array(valid));
    std::vector<std::string> present;
    for (const pqxx::row& row : found) present.push_back(row[0].as<std::string>());
    BulkResult r;
    for (const std::string& id : ids)  // in request order, malformed ids included
      if (std::find(present.begin(), present.end(), id) == present.end()) r.missing.push_back(id);
    if (!r.missing.empty()) return r;  // the transaction is aborted unused
    r.affected = act(tx, valid);
    tx.commit();
    return r;
  });
}

TaskStats PostgresTaskRepository::stats(std::string_view user_id, Timestamp now) {
  return impl_->run(true, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const pqxx::row r = tx.exec_prepared("stats", text(user_id), to_unix_ms(now))[0];
    TaskStats s;
    s.total = r[0].as<std::size_t>();
    s.completed = r[1].as<std::size_t>();
    s.pending = s.total - s.completed;
    s.overdue = r[2].as<std::size_t>();
    s.low = r[3].as<std::size_t>();
    s.medium = r[4].as<std::size_t>();
    s.high = r[5].as<std::size_t>();
    return s;
  });
}

bool PostgresTaskRepository::remove(std::string_view user_id, std::string_view task_id,
                                    const Precondition& precondition) {
  if (!is_canonical_uuid(task_id)) return false;
  const Param versions = versions_param(precondition);
  return impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const pqxx::row r = tx.exec_prepared("remove", text(task_id), text(user_id), versions.get())[0];
    if (r[0].as<std::int64_t>() > 0) return true;
    if (!r[1].is_null()) throw_version_mismatch(task_id, r[1]);
    return false;
  });
}

Ownership PostgresTaskRepository::ownership(std::string_view user_id, std::string_view task_id) {
  if (!is_canonical_uuid(task_id)) return Ownership::none;
  return impl_->run(true, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const pqxx::result r = tx.exec_prepared("owner", text(task_id), text(user_id));
    if (r.empty()) return Ownership::none;
    return r[0][0].as<bool>() ? Ownership::caller : Ownership::other_user;
  });
}

void PostgresTaskRepository::ping() {
  const int version = impl_->run(true, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared("ping")[0][0].as<int>();
  });
  if (version < latest_schema_version)
    throw StorageUnavailable("postgres: the database is at schema version " + std::to_string(version) +
                             ", this libtodo needs " + std::to_string(latest_schema_version));
}

namespace {

User read_user(const pqxx::row& r) {
  User u;
  u.id = r[0].as<std::string>();
  u.email = r[1].as<std::string>();
  if (!r[2].is_null()) u.name = r[2].as<std::string>();
  u.created_at = from_unix_ms(r[3].as<std::int64_t>());
  return u;
}

}  // namespace

std::optional<User> PostgresTaskRepository::create_user(std::string_view email,
                                                        std::string_view password_hash,
                                                        const std::optional<std::string>& name) {
  User u{new_uuid_v7(), normalize_email(email), name, now_ms()};
  const Param name_param = Param::from(u.name, [](const std::string& n) { return n; });
  return impl_->run(false, [&](pqxx::connection& c) -> std::optional<User> {
    pqxx::nontransaction tx(c);
    const pqxx::result r = tx.exec_prepared("insert_user", u.id, u.email, name_param.get(),
                                            text(password_hash), to_unix_ms(u.created_at));
    if (r.affected_rows() == 0) return std::nullopt;  // the email is taken
    return u;
  });
}

std::optional<Credentials> PostgresTaskRepository::find_credentials(std::string_view email) {
  return impl_->run(true, [&](pqxx::connection& c) -> std::optional<Credentials> {
    pqxx::nontransaction tx(c);
    const pqxx::result r = tx.exec_prepared("credentials", normalize_email(email));
    if (r.empty()) return std::nullopt;
    return Credentials{read_user(r[0]), r[0][4].as<std::string>()};
  });
}

std::optional<User> PostgresTaskRepository::find_user(std::string_view user_id) {
  return impl_->run(true, [&](pqxx::connection& c) -> std::optional<User> {
    pqxx::nontransaction tx(c);
    const pqxx::result r = tx.exec_prepared("user", text(user_id));
    if (r.empty()) return std::nullopt;
    return read_user(r[0]);
  });
}

void PostgresTaskRepository::revoke_token(std::string_view jti, Timestamp expires_at) {
  impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("revoke", text(jti), to_unix_ms(expires_at));
  });
}

bool PostgresTaskRepository::is_token_revoked(std::string_view jti) {
  return impl_->run(true, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return !tx.exec_prepared("revoked", text(jti)).empty();
  });
}

void PostgresTaskRepository::purge_revocations(Timestamp now) {
  impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    tx.exec_prepared("purge", to_unix_ms(now));
  });
}

IdempotencyClaim PostgresTaskRepository::claim(const IdempotencyKey& key, std::string_view fingerprint,
                                               Timestamp now, std::chrono::milliseconds lease,
                                               std::chrono::milliseconds ttl) {
  check_idempotency_claim(key, fingerprint);
  const std::string owner = new_uuid_v7();
  return impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    const pqxx::row r = tx.exec_prepared("key_claim", key.user_id, key.route, key.key, text(fingerprint), owner,
                                         to_unix_ms(now), static_cast<std::int64_t>(lease.count()),
                                         static_cast<std::int64_t>(ttl.count()))[0];
    IdempotencyClaim result;
    if (r[0].as<std::int64_t>() > 0) {
      result.outcome = IdempotencyClaim::Outcome::acquired;
      result.owner = owner;
    } else if (r[1].is_null() || r[5].as<bool>()) {
      // Not acquired, and the snapshot shows no live record: another claim
      // is inserting it right now. Ask again.
      result.outcome = IdempotencyClaim::Outcome::in_progress;
    } else if (r[1].as<std::string>() != fingerprint) {
      result.outcome = IdempotencyClaim::Outcome::mismatch;
    } else if (!r[2].is_null()) {
      result.outcome = IdempotencyClaim::Outcome::replay;
      result.response = StoredResponse{r[2].as<int>(), decode_stored_headers(r[3].as<std::string>()),
                                       r[4].as<std::string>()};
    }
    return result;
  });
}

bool PostgresTaskRepository::complete(const IdempotencyKey& key, std::string_view owner,
                                      const StoredResponse& response) {
  return impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared("key_complete", key.user_id, key.route, key.key, text(owner), response.status,
                            encode_stored_headers(response.headers), response.body)
               .affected_rows() > 0;
  });
}

bool PostgresTaskRepository::abandon(const IdempotencyKey& key, std::string_view owner) {
  return impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return tx.exec_prepared("key_abandon", key.user_id, key.route, key.key, text(owner)).affected_rows() > 0;
  });
}

std::size_t PostgresTaskRepository::purge_idempotency_keys(Timestamp now, std::size_t limit) {
  return impl_->run(false, [&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return static_cast<std::size_t>(
        tx.exec_prepared("key_purge", to_unix_ms(now), static_cast<std::int64_t>(limit)).affected_rows());
  });
}

}  // namespace libtodo
