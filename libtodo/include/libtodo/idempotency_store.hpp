#pragma once
// The idempotency port: remembers the response to a request that carried an
// Idempotency-Key, so that a retry of it gets the same answer instead of
// acting twice. Both storage backends implement it next to TaskRepository,
// in the same database, so it holds across server instances sharing one.

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <libtodo/core_export.hpp>
#include <libtodo/time.hpp>

namespace libtodo {

/// One use of a key: whose it is, on which route, and the client's key.
struct IdempotencyKey {
  std::string user_id;
  std::string route;  ///< e.g. "POST /api/tasks": the same key on another route is another key
  std::string key;    ///< 1..255 bytes of visible ASCII (is_valid_idempotency_key)
};

/// A response as stored for replay.
struct StoredResponse {
  int status = 0;
  /// The headers worth replaying (Location, ETag, ...); names and values
  /// without line breaks.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  friend bool operator==(const StoredResponse&, const StoredResponse&) = default;
};

/// What IdempotencyStore::claim found.
struct IdempotencyClaim {
  enum class Outcome {
    acquired,     ///< the caller holds the key now: act, then complete() or abandon()
    replay,       ///< an earlier request with this key finished: answer `response`
    in_progress,  ///< a request with this key and body is being served: wait, then claim again
    mismatch,     ///< the key was used with a different request (another fingerprint)
  };
  Outcome outcome = Outcome::in_progress;
  std::string owner;                       ///< with acquired: what complete()/abandon() need
  std::optional<StoredResponse> response;  ///< with replay
};

/// Thread-safe like the repositories; every call is one atomic step in the
/// database, so concurrent requests on several server instances agree.
class LIBTODO_CORE_EXPORT IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;

  /// Claims `key` for a request whose (canonical) body hashes to
  /// `fingerprint`. A key never seen, or whose record expired, is acquired:
  /// held for `lease` and remembered until `now + ttl`. Of many concurrent
  /// claims of one key exactly one acquires it. A claim still pending when
  /// its lease ran out (its owner died or hung) is taken over by the next
  /// claim with the same fingerprint. Throws ValidationError for an invalid
  /// user id, key or empty route/fingerprint.
  virtual IdempotencyClaim claim(const IdempotencyKey& key, std::string_view fingerprint,
                                 Timestamp now, std::chrono::milliseconds lease,
                                 std::chrono::milliseconds ttl) = 0;

  /// Stores the response of the request that acquired the key; false (and
  /// nothing stored) when `owner` no longer holds the claim.
  virtual bool complete(const IdempotencyKey& key, std::string_view owner,
                        const StoredResponse& response) = 0;

  /// Forgets a pending claim, so that a retry acts (the first attempt failed
  /// in a way a retry may fix, e.g. the database was unavailable). false when
  /// `owner` no longer holds the claim.
  virtual bool abandon(const IdempotencyKey& key, std::string_view owner) = 0;

  /// Deletes at most `limit` records that expired at or before `now`;
  /// returns how many it deleted.
  virtual std::size_t purge_idempotency_keys(Timestamp now, std::size_t limit) = 0;
};

/// 1..255 bytes of visible ASCII (0x21..0x7E): what a client may use as a key.
[[nodiscard]] LIBTODO_CORE_EXPORT bool is_valid_idempotency_key(std::string_view key) noexcept;

/// Throws ValidationError unless the parts of a claim are usable. For backends.
LIBTODO_CORE_EXPORT void check_idempotency_claim(const IdempotencyKey& key, std::string_view fingerprint);

/// Stored headers as text ("Name: value" lines) and back. For backends.
[[nodiscard]] LIBTODO_CORE_EXPORT std::string encode_stored_headers(
    const std::vector<std::pair<std::string, std::string>>& headers);
[[nodiscard]] LIBTODO_CORE_EXPORT std::vector<std::pair<std::string, std::string>> decode_stored_headers(
    std::string_view text);

}  // namespace libtodo
