#pragma once
// todo-server's configuration: SPEC §5's environment variables, the same as
// command-line flags, and a `.env` file. Precedence: flag, then environment,
// then .env, then the default.

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <libtodo/sqlite_repository.hpp>

#include "log.hpp"

namespace todo_server {

/// Where the tasks live, parsed from DATABASE_URL.
struct DatabaseConfig {
  enum class Kind { sqlite, postgres } kind = Kind::sqlite;
  std::string sqlite_path;    ///< file path or ":memory:"
  std::string postgres_url;   ///< the URL as given
};

/// Parses `sqlite:///relative`, `sqlite:////absolute`, `sqlite::memory:` and
/// `postgresql://` / `postgres://` URLs. Throws libtodo::ConfigError.
[[nodiscard]] DatabaseConfig parse_database_url(const std::string& url);

/// A token bucket: `burst` requests at once, refilled at `per_second`; off when 0.
struct RateLimit {
  double per_second = 0;
  double burst = 0;
  [[nodiscard]] bool enabled() const noexcept { return per_second > 0; }
};

/// Idempotency-Key handling (see idempotency.hpp).
struct IdempotencyOptions {
  /// How long a stored response is replayed (IDEMPOTENCY_TTL).
  std::chrono::seconds ttl{86400};
  /// How long a first attempt holds its key before a retry may take it over
  /// (its owner is presumed dead): longer than any request takes.
  std::chrono::milliseconds lease{30000};
  /// How long a retry waits for a first attempt still running before it
  /// answers 409 with Retry-After.
  std::chrono::milliseconds wait{10000};
  /// Expired keys are deleted at most this often (at most 1000 at a time) by
  /// the request that finds the time has come.
  std::chrono::seconds purge_interval{300};
};

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  std::size_t max_body_bytes = 64 * 1024;
  /// Event loops; each runs its connections' handlers, so this is also how
  /// many requests are handled at once. Open connections cost no thread.
  std::size_t threads = 8;
  /// Connections beyond this are answered 503 and closed at once.
  std::size_t max_connections = 10000;
  int listen_backlog = 1024;
  std::size_t max_request_line = 8192;   ///< 414 beyond
  std::size_t max_header_bytes = 16384;  ///< request line + headers, 431 beyond
  std::size_t keep_alive_max_requests = 10000;
  /// An idle connection (no request in progress) is closed after this.
  std::chrono::milliseconds keep_alive_timeout{5000};
  /// A request's headers must arrive within this of its first byte (408).
  std::chrono::milliseconds header_timeout{10000};
  /// Its body within this of the end of the headers (408).
  std::chrono::milliseconds body_timeout{10000};
  /// A client that does not read its response within this is disconnected.
  std::chrono::milliseconds write_timeout{10000};
  /// Answer 404 instead of 403 for another user's task (hides existence).
  bool foreign_task_not_found = false;
  /// Origins allowed to call the API from a browser (CORS), exact matches;
  /// "*" allows any origin, without credentials.
  std::vector<std::string> cors_origins;
  /// Directory of the swagger-ui-dist npm package for /docs; empty: /docs is 404.
  std::string docs_dir;
  /// Count requests and serve /metrics (METRICS=on|off).
  bool metrics = true;
  /// Serve /metrics on the API port; false when METRICS_ADDRESS moves it to
  /// a listener of its own.
  bool metrics_on_api_port = true;
  /// Per token subject and per client address (RATE_LIMIT_USER_*, RATE_LIMIT_ADDRESS_*).
  RateLimit user_rate_limit;
  RateLimit address_rate_limit;
  IdempotencyOptions idempotency;
  /// How long /readyz waits for the database before answering 503.
  std::chrono::milliseconds readiness_timeout{1500};
};

struct ServerConfig {
  DatabaseConfig database;
  std::string database_url;
  libtodo::SqliteSync sqlite_synchronous = libtodo::SqliteSync::normal;
  /// Page cache per SQLite connection, KiB (SQLITE_CACHE_KIB).
  std::size_t sqlite_cache_kib = libtodo::SqliteOptions{}.cache_kib;
  /// PostgreSQL connections per process (DB_POOL_SIZE).
  std::size_t db_pool_size = 8;
  std::string secret;  ///< empty when only JWKS keys are configured
  std::string jwks_url;
  std::string jwks_file;
  std::chrono::seconds jwks_min_refresh{30};
  std::chrono::seconds jwks_ttl{600};
  std::optional<std::string> jwt_issuer;
  std::optional<std::string> jwt_audience;
  std::chrono::seconds jwt_leeway{60};
  HttpOptions http;
  LogLevel log_level = LogLevel::info;
  bool auth_accounts = false;  ///< AUTH_ACCOUNTS: the built-in accounts of SPEC §4
  /// METRICS_ADDRESS: host and port of a listener serving only /metrics; empty: none.
  std::string metrics_host;
  int metrics_port = 0;
  std::chrono::seconds auth_token_ttl{3600};
};

/// Reads the variables of a `.env` file (KEY=VALUE lines, `#` comments,
/// optional `export ` prefix and quotes). A missing file gives an empty map.
[[nodiscard]] std::map<std::string, std::string> read_dotenv(const std::string& path);

/// Looks a variable up in the process environment.
using Environment = std::function<std::optional<std::string>(const std::string&)>;
[[nodiscard]] Environment process_environment();

/// Builds the configuration from flags (`args` without the program name),
/// the environment and the .env variables. Throws libtodo::ConfigError with a
/// one-line reason for anything invalid or missing (a secret in particular).
[[nodiscard]] ServerConfig load_config(const std::vector<std::string>& args, const Environment& env,
                                       const std::map<std::string, std::string>& dotenv);

/// The --help text.
[[nodiscard]] std::string usage();


}  // namespace todo_server
