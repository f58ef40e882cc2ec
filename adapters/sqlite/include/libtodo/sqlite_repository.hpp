#pragma once
// libtodo::sqlite: the TaskRepository on SQLite (through SQLiteCpp, which stays
// inside this adapter's .cpp files).

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <libtodo/account_store.hpp>
#include <libtodo/sqlite_export.hpp>
#include <libtodo/idempotency_store.hpp>
#include <libtodo/task_repository.hpp>

namespace libtodo {

/// How hard SQLite works to keep a commit across a power loss. In WAL mode
/// both settings keep every acknowledged write across a crash of the process;
/// they differ only when the machine itself loses power or the OS crashes:
/// with `normal` the last commits before that moment may be rolled back (the
/// database stays consistent), with `full` every commit is fsynced first.
enum class SqliteSync { normal, full };

/// Where and how SqliteTaskRepository opens its database.
struct SqliteOptions {
  /// A file path, or ":memory:" for a private in-memory database that lives
  /// as long as the repository.
  std::string path = ":memory:";
  SqliteSync synchronous = SqliteSync::normal;  ///< see SqliteSync
  /// How long a statement waits for a lock held by another connection or
  /// process before giving up with StorageUnavailable.
  std::chrono::milliseconds busy_timeout{5000};
  /// Upper bound of read connections (file databases only); readers beyond it wait.
  std::size_t max_readers = 8;
  /// Page cache of each connection, in KiB (SQLite's own default is 2000).
  /// Every reader keeps its own cache; pages it lacks come from the OS page
  /// cache, so a small cache costs a read() call, not a disk access.
  std::size_t cache_kib = 512;
  /// WAL size (KiB) past which the background checkpointer makes the log
  /// start over (a RESTART checkpoint: new writes wait while it copies what
  /// is left); also SQLite's journal_size_limit. A steady stream of writes
  /// never lets a passive checkpoint finish, so without this the WAL grows
  /// without bound. Smaller means a smaller file and more frequent pauses.
  std::size_t wal_limit_kib = 64 * 1024;
};

/// A TaskRepository (and the AccountStore of the optional built-in accounts,
/// and the IdempotencyStore of todo-server's Idempotency-Key) on one SQLite database.
///
/// Opening applies the schema migrations the database lacks (recorded in
/// `schema_migrations`) inside one write transaction, so two processes
/// opening the same new file at once migrate it once. A file database runs
/// in WAL mode with one writer connection (writes are serialized by a mutex)
/// and a pool of reader connections, so reads never wait for writes. An
/// in-memory database uses one connection for everything.
///
/// Thread-safe: any number of threads may call any method at once.
class LIBTODO_SQLITE_EXPORT SqliteTaskRepository final : public TaskRepository,
                                                         public AccountStore,
                                                         public IdempotencyStore {
 public:
  /// Opens (creating if needed) and migrates the database.
  /// Throws StorageError (or StorageUnavailable) when that fails.
  explicit SqliteTaskRepository(SqliteOptions options);
  ~SqliteTaskRepository() override;
  SqliteTaskRepository(const SqliteTaskRepository&) = delete;
  SqliteTaskRepository& operator=(const SqliteTaskRepository&) = delete;

  Task create(std::string_view user_id, TaskDraft draft) override;
  std::optional<Task> find(std::string_view user_id, std::string_view task_id) override;
  TaskPage list(std::string_view user_id, const TaskQuery& query) override;
  std::optional<Task> update(std::string_view user_id, std::string_view task_id, TaskPatch patch,
                             const Precondition& precondition = {}) override;
  bool remove(std::string_view user_id, std::string_view task_id,
              const Precondition& precondition = {}) override;
  std::optional<Task> toggle(std::string_view user_id, std::string_view task_id,
                             const Precondition& precondition = {}) override;
  BulkResult set_completed(std::string_view user_id, const std::vector<std::string>& task_ids,
                           bool completed) override;
  BulkResult remove_all(std::string_view user_id, const std::vector<std::string>& task_ids) override;
  TaskStats stats(std::string_view user_id, Timestamp now) override;
  Ownership ownership(std::string_view user_id, std::string_view task_id) override;
  void ping() override;
  /// The writer counts as one connection, in use while a write runs; readers
  /// are pooled up to max_readers (an in-memory database has the writer only).
  [[nodiscard]] PoolStats pool_stats() const override;

  std::optional<User> create_user(std::string_view email, std::string_view password_hash,
                                  const std::optional<std::string>& name) override;
  std::optional<Credentials> find_credentials(std::string_view email) override;
  std::optional<User> find_user(std::string_view user_id) override;
  void revoke_token(std::string_view jti, Timestamp expires_at) override;
  bool is_token_revoked(std::string_view jti) override;
  void purge_revocations(Timestamp now) override;

  IdempotencyClaim claim(const IdempotencyKey& key, std::string_view fingerprint, Timestamp now,
                         std::chrono::milliseconds lease, std::chrono::milliseconds ttl) override;
  bool complete(const IdempotencyKey& key, std::string_view owner,
                const StoredResponse& response) override;
  bool abandon(const IdempotencyKey& key, std::string_view owner) override;
  std::size_t purge_idempotency_keys(Timestamp now, std::size_t limit) override;

  /// The highest schema version applied to this database.
  [[nodiscard]] int schema_version() const;


 private:
  struct Impl;
  // Read-modify-write of one task in a write transaction.
  std::optional<Task> modify(std::string_view user_id, std::string_view task_id,
                             const Precondition& precondition,
                             const std::function<TaskPatch(const Task&)>& change);

  std::unique_ptr<Impl> impl_;
};

}  // namespace libtodo
