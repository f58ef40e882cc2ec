#pragma once
// libtodo::postgres: the TaskRepository on PostgreSQL (through libpqxx, which
// stays inside this adapter's .cpp files).

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include <libtodo/account_store.hpp>
#include <libtodo/postgres_export.hpp>
#include <libtodo/idempotency_store.hpp>
#include <libtodo/task_repository.hpp>

namespace libtodo {

/// Which database PostgresTaskRepository uses, and its connection pool.
struct PostgresOptions {
  /// A libpq connection string or URI, e.g.
  /// `postgresql://user:pass@host:5432/db?sslmode=require` (Neon URLs work as given).
  std::string url;
  /// Connections this process keeps at most. Each request holds one only for
  /// its statement, so a handful saturates a small server; keep
  /// instances x pool_size under the server's max_connections.
  std::size_t pool_size = 8;
  /// How long a call waits for a free connection before StorageUnavailable.
  std::chrono::milliseconds acquire_timeout{2000};
  /// libpq's connect_timeout, added to the URL unless it sets one.
  std::chrono::seconds connect_timeout{2};
};

/// A TaskRepository (and the AccountStore of the optional built-in accounts,
/// and the IdempotencyStore of todo-server's Idempotency-Key) on one PostgreSQL database.
///
/// Connections are pooled and created lazily; each prepares its statements
/// once. A connection found broken (server restart, pg_terminate_backend,
/// network loss) is discarded and never lent out again; an idle connection is
/// checked before use, so a killed backend costs nothing but a reconnect.
/// When the database cannot be reached, or no connection frees up within
/// acquire_timeout, calls throw StorageUnavailable quickly instead of hanging,
/// and succeed again as soon as the database is back.
///
/// Every single-row operation, including a merge-patch update that completes
/// a recurring task and creates its next occurrence, is one statement and one
/// round trip. Opening applies the schema migrations under an advisory lock,
/// so several processes starting at once on an empty database migrate it once.
///
/// Thread-safe: any number of threads may call any method at once.
class LIBTODO_POSTGRES_EXPORT PostgresTaskRepository final : public TaskRepository,
                                                             public AccountStore,
                                                             public IdempotencyStore {
 public:
  /// Connects once, applies migrations, and keeps that connection in the pool.
  /// Throws StorageUnavailable when the server cannot be reached, StorageError
  /// when migrating fails.
  explicit PostgresTaskRepository(PostgresOptions options);
  ~PostgresTaskRepository() override;
  PostgresTaskRepository(const PostgresTaskRepository&) = delete;
  PostgresTaskRepository& operator=(const PostgresTaskRepository&) = delete;

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

  [[nodiscard]] PoolStats pool_stats() const override;
  /// The highest schema version applied to the database.
  [[nodiscard]] int schema_version() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace libtodo
