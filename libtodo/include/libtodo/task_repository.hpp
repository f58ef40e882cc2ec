#pragma once
// The storage port. Backends (libtodo::sqlite, libtodo::postgres) implement it;
// the contract suite in tests/contract defines what "correct" means.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <libtodo/core_export.hpp>
#include <libtodo/errors.hpp>
#include <libtodo/task.hpp>

namespace libtodo {

/// The schema version this libtodo writes. Both backends carry migrations
/// 1..latest_schema_version with the same numbers and names, recorded in a
/// `schema_migrations` table; a database at a higher version is refused.
inline constexpr int latest_schema_version = 4;

/// Which tasks a listing returns, and in which order.
enum class StatusFilter { all, pending, completed };
enum class SortKey { created, updated, title, due_date, priority };

/// The `sort` parameter's name: "created", "updated", "title", "due_date", "priority".
[[nodiscard]] LIBTODO_CORE_EXPORT std::string_view to_string(SortKey k) noexcept;
/// The SortKey named `s` exactly (no `-` prefix), or nullopt.
[[nodiscard]] LIBTODO_CORE_EXPORT std::optional<SortKey> parse_sort_key(
    std::string_view s) noexcept;

/// What to list. Default: all of the user's tasks, newest first. Filters
/// combine with AND; the database does the filtering, sorting and paging.
struct TaskQuery {
  StatusFilter status = StatusFilter::all;
  std::optional<Priority> priority;
  /// Every tag listed must be on the task (exact, case-sensitive).
  std::vector<std::string> tags;
  /// Case-insensitive substring of the title or the description.
  std::optional<std::string> text;
  /// `due_after` is inclusive, `due_before` exclusive; either one excludes
  /// tasks without a due date.
  std::optional<Timestamp> due_after;
  std::optional<Timestamp> due_before;
  /// Ties are broken by id in the same direction, so pages are stable.
  /// Tasks without a due date sort last in both directions of due_date;
  /// priority sorts low < medium < high; title by code points.
  SortKey sort = SortKey::created;
  bool descending = true;
  /// Page size (1..max_page_size); empty returns every match in one page.
  std::optional<std::size_t> limit;
  /// The `next_cursor` of the previous page of the same query.
  std::optional<std::string> cursor;
};

inline constexpr std::size_t max_page_size = 1000;

/// Where a page ended: the sort value and id of its last task. Encoded as an
/// opaque, URL-safe string; a cursor only fits the sort it was made for.
struct LIBTODO_CORE_EXPORT PageCursor {
  SortKey sort = SortKey::created;
  bool descending = true;
  std::optional<std::int64_t> number;  ///< created/updated/due_date (ms) or priority; empty = null
  std::string title;                   ///< for SortKey::title
  std::string id;

  /// The cursor of a page whose last task is `last`.
  [[nodiscard]] static PageCursor after(const Task& last, SortKey sort, bool descending);
  /// The opaque, URL-safe text form (TaskPage::next_cursor).
  [[nodiscard]] std::string encode() const;
  /// The cursor encoded in `text`, or nullopt when it is not one.
  [[nodiscard]] static std::optional<PageCursor> decode(std::string_view text);
};

/// Appends every problem of `query` (limit range, tags, text, a cursor that is
/// malformed or made for another sort) to `errors`, named by the HTTP
/// parameter it came from.
LIBTODO_CORE_EXPORT void check_query(const TaskQuery& query, std::vector<FieldError>& errors);

/// The ids of a bulk call without duplicates, in first-seen order. Throws
/// ValidationError for an empty list or more than max_bulk_ids. For backends.
[[nodiscard]] LIBTODO_CORE_EXPORT std::vector<std::string> distinct_bulk_ids(
    const std::vector<std::string>& ids);

/// One page of a listing. `next_cursor` is empty when there is no further page.
struct TaskPage {
  std::vector<Task> tasks;
  std::optional<std::string> next_cursor;
};

/// The outcome of an all-or-nothing bulk operation.
struct BulkResult {
  /// Tasks changed or deleted; 0 when anything was missing.
  std::size_t affected = 0;
  /// The requested ids the user has no task for (unknown, malformed or
  /// another user's). When not empty, nothing was changed.
  std::vector<std::string> missing;
};

/// Counts over all of one user's tasks.
struct TaskStats {
  std::size_t total = 0;
  std::size_t completed = 0;
  std::size_t pending = 0;
  std::size_t overdue = 0;  ///< not completed and due before the given instant
  std::size_t low = 0;
  std::size_t medium = 0;
  std::size_t high = 0;
};

/// Largest number of ids one bulk call accepts.
inline constexpr std::size_t max_bulk_ids = 1000;

/// A new task of `user_id` from a validated draft: a fresh UUIDv7, both
/// timestamps `now`, version 1. For backends.
[[nodiscard]] LIBTODO_CORE_EXPORT Task new_task(std::string_view user_id, TaskDraft&& draft,
                                                Timestamp now);

/// Throws ValidationError unless is_valid_user_id(user_id). For backends.
LIBTODO_CORE_EXPORT void require_valid_user_id(std::string_view user_id);

/// A condition on the stored version of a task that a write checks in the
/// same atomic step as the write itself (optimistic concurrency; HTTP
/// If-Match). The default is no condition. When the task exists at a version
/// the condition does not allow, the write throws PreconditionFailed and
/// changes nothing; a missing task answers nullopt/false as without one.
class Precondition {
 public:
  Precondition() = default;
  /// The task must be at exactly `version`: `update(user, id, patch, task.version)`.
  Precondition(std::int64_t version)
      : versions_{version}, conditional_(true) {}  // NOLINT: implicit by design
  /// The task must be at one of `versions`; an empty list is never satisfied.
  [[nodiscard]] static Precondition any_of(std::vector<std::int64_t> versions) {
    Precondition p;
    p.versions_ = std::move(versions);
    p.conditional_ = true;
    return p;
  }
  [[nodiscard]] bool unconditional() const noexcept { return !conditional_; }
  /// The versions allowed (empty when unconditional).
  [[nodiscard]] const std::vector<std::int64_t>& versions() const noexcept { return versions_; }
  [[nodiscard]] bool allows(std::int64_t version) const noexcept {
    if (!conditional_) return true;
    for (const std::int64_t v : versions_)
      if (v == version) return true;
    return false;
  }

 private:
  std::vector<std::int64_t> versions_;
  bool conditional_ = false;
};

/// Counters of a repository's database connections, for health checks and metrics.
struct PoolStats {
  std::size_t open = 0;       ///< connections currently established
  std::size_t in_use = 0;     ///< of those, lent out right now
  std::size_t waiting = 0;    ///< calls waiting for a connection right now
  std::size_t discarded = 0;  ///< broken connections dropped since start
  std::size_t idle = 0;       ///< open and not lent out
  std::uint64_t waits = 0;    ///< calls that found no free connection and waited, since start
  std::chrono::nanoseconds wait_time{0};  ///< the total time those calls waited
};

/// Who owns a task id, as far as a given user may know.
enum class Ownership {
  none,        ///< no task has this id
  caller,      ///< the task belongs to the asking user
  other_user,  ///< the task exists and belongs to someone else
};

/// Per-user task storage. Every method takes the acting user's id and can
/// read or change only that user's tasks; a task id of another user behaves
/// exactly like an unknown id (except for ownership(), which exists so that a
/// server can choose between 403 and 404 and reveals nothing but existence).
///
/// Writes validate their input (ValidationError) and set ids, timestamps and
/// versions. Backend failures surface as StorageError, or StorageUnavailable
/// when retrying later may help.
///
/// Thread safety: every implementation in libtodo may be called from many
/// threads at once.
class LIBTODO_CORE_EXPORT TaskRepository {
 public:
  virtual ~TaskRepository() = default;

  /// Stores a new task for `user_id`. When the draft is already completed and
  /// recurring, no next occurrence is created (nothing was completed).
  virtual Task create(std::string_view user_id, TaskDraft draft) = 0;

  /// The user's task with this id, or nullopt (unknown, malformed or foreign id).
  virtual std::optional<Task> find(std::string_view user_id, std::string_view task_id) = 0;

  /// The user's tasks matching `query`.
  virtual TaskPage list(std::string_view user_id, const TaskQuery& query) = 0;

  /// Applies a merge patch atomically and returns the new state, or nullopt
  /// when the user has no such task. Completing a recurring task with a due
  /// date creates its next occurrence in the same transaction. Throws
  /// PreconditionFailed when `precondition` does not allow the stored version.
  virtual std::optional<Task> update(std::string_view user_id, std::string_view task_id,
                                     TaskPatch patch, const Precondition& precondition = {}) = 0;

  /// Replaces every editable field (PUT): update() with TaskPatch::replacing.
  std::optional<Task> replace(std::string_view user_id, std::string_view task_id,
                              const TaskDraft& draft, const Precondition& precondition = {}) {
    return update(user_id, task_id, TaskPatch::replacing(draft), precondition);
  }

  /// Deletes the user's task; false when the user has no such task. Throws
  /// PreconditionFailed when `precondition` does not allow the stored version.
  virtual bool remove(std::string_view user_id, std::string_view task_id,
                      const Precondition& precondition = {}) = 0;

  /// Flips `completed` atomically; nullopt when the user has no such task.
  /// Completing a recurring task creates its next occurrence, as update() does.
  /// Throws PreconditionFailed when `precondition` does not allow the stored version.
  virtual std::optional<Task> toggle(std::string_view user_id, std::string_view task_id,
                                     const Precondition& precondition = {}) = 0;

  /// Sets `completed` on every listed task (duplicates count once) in one
  /// transaction, spawning recurrences as update() does; if any id is not
  /// the user's task, nothing changes. Throws ValidationError for an empty
  /// list or more than max_bulk_ids ids.
  virtual BulkResult set_completed(std::string_view user_id, const std::vector<std::string>& task_ids,
                                   bool completed) = 0;

  /// Deletes every listed task in one transaction; all or nothing, as set_completed.
  virtual BulkResult remove_all(std::string_view user_id, const std::vector<std::string>& task_ids) = 0;

  /// Counts of the user's tasks; overdue means not completed and due before `now`.
  virtual TaskStats stats(std::string_view user_id, Timestamp now) = 0;

  /// Whether `task_id` exists, and if so whether it is the caller's.
  virtual Ownership ownership(std::string_view user_id, std::string_view task_id) = 0;

  /// Throws StorageUnavailable when the store cannot serve requests now: the
  /// database does not answer, or lacks migrations of this libtodo (it was
  /// replaced or restored from an older backup since opening).
  virtual void ping() = 0;

  /// The connection pool's counters; all zero for a backend without a pool.
  [[nodiscard]] virtual PoolStats pool_stats() const { return {}; }
};

}  // namespace libtodo
