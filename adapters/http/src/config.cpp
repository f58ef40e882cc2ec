#include "config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>

#include <libtodo/errors.hpp>
#include <libtodo/jwt_verifier.hpp>

namespace todo_server {
namespace {

using libtodo::ConfigError;

struct Setting {
  const char* flag;         // without the leading "--"
  const char* env;          // primary variable name
  const char* env_alias;    // or nullptr
  const char* help;
};

// Every setting, in --help order. Flags and variables are the same setting.
constexpr Setting settings[] = {
    {"database-url", "DATABASE_URL", nullptr,
     "sqlite:///relative/path, sqlite:////absolute/path, sqlite::memory:, or\n      "
     "postgresql://user:pass@host:port/db?sslmode=... (default sqlite:///./todo.db)"},
    {"secret", "BETTER_AUTH_SECRET", "SECRET_KEY",
     "shared secret of HS256/384/512 tokens, at least 32 bytes"},
    {"jwks-url", "JWKS_URL", nullptr,
     "JWKS URL of EdDSA/ES/RS/PS keys, e.g. https://app.example.com/api/auth/jwks"},
    {"jwks-file", "JWKS_FILE", nullptr, "JWKS document on disk"},
    {"jwks-min-refresh", "JWKS_MIN_REFRESH", nullptr,
     "seconds between JWKS refetches caused by unknown key ids (default 30)"},
    {"jwks-ttl", "JWKS_TTL", nullptr, "seconds between background JWKS refreshes (default 600)"},
    {"jwt-issuer", "JWT_ISSUER", nullptr, "required `iss` of tokens (default: not checked)"},
    {"jwt-audience", "JWT_AUDIENCE", nullptr, "required `aud` of tokens (default: not checked)"},
    {"jwt-leeway", "JWT_LEEWAY", nullptr,
     "seconds of clock skew allowed for exp/nbf/iat (default 60)"},
    {"auth-accounts", "AUTH_ACCOUNTS", nullptr,
     "on or off (default): the built-in /api/auth register/login/logout/me routes"},
    {"auth-token-ttl", "AUTH_TOKEN_TTL", nullptr,
     "lifetime in seconds of tokens issued at login (default 3600)"},
    {"host", "HOST", nullptr, "listen address (default 127.0.0.1)"},
    {"port", "PORT", nullptr, "listen port, 0 for any free port (default 8000)"},
    {"log-level", "LOG_LEVEL", nullptr, "debug, info, warn or error (default info)"},
    {"threads", "HTTP_THREADS", nullptr,
     "event loops = requests handled at once; open connections cost no thread (default 8)"},
    {"max-connections", "MAX_CONNECTIONS", nullptr,
     "open connections beyond this are answered 503 and closed (default 10000, capped by the fd limit)"},
    {"max-body-bytes", "MAX_BODY_BYTES", nullptr, "largest accepted request body (default 65536)"},
    {"keep-alive-timeout", "KEEP_ALIVE_TIMEOUT", nullptr,
     "seconds an idle keep-alive connection is kept (default 5)"},
    {"keep-alive-max", "KEEP_ALIVE_MAX", nullptr, "requests per connection before it is closed (default 10000)"},
    {"max-header-bytes", "MAX_HEADER_BYTES", nullptr, "largest request line + headers, 431 beyond (default 16384)"},
    {"header-timeout", "HEADER_TIMEOUT", nullptr,
     "seconds from a request's first byte to the end of its headers, 408 after (default 10)"},
    {"body-timeout", "BODY_TIMEOUT", nullptr, "seconds to receive a request body after its headers (default 10)"},
    {"write-timeout", "WRITE_TIMEOUT", nullptr,
     "seconds a client may take to read a response before it is disconnected (default 10)"},
    {"foreign-task-status", "FOREIGN_TASK_STATUS", nullptr,
     "403 (default) or 404: the answer for another user's task id"},
    {"db-pool-size", "DB_POOL_SIZE", nullptr,
     "PostgreSQL connections per server process (default 8)"},
    {"cors-origins", "CORS_ORIGINS", nullptr,
     "comma-separated origins allowed to call the API from browsers, e.g. https://app.example.com"},
    {"docs-dir", "DOCS_DIR", nullptr,
     "directory of the swagger-ui-dist npm package served at /docs (default: the one the project's "
     "scripts install, when present)"},
    {"sqlite-synchronous", "SQLITE_SYNCHRONOUS", nullptr,
     "normal (default) or full: see docs/configuration.md for the durability each gives"},
    {"sqlite-cache-kib", "SQLITE_CACHE_KIB", nullptr,
     "page cache of each SQLite connection in KiB (default 512; one writer and up to HTTP_THREADS "
     "readers)"},
    {"metrics", "METRICS", nullptr, "on (default) or off: count requests and serve GET /metrics"},
    {"metrics-address", "METRICS_ADDRESS", nullptr,
     "HOST:PORT of a listener serving only /metrics, instead of the API port (default: the API "
     "port)"},
    {"rate-limit-user-rps", "RATE_LIMIT_USER_RPS", nullptr,
     "requests per second allowed per user (token subject); 0 = off (default)"},
    {"rate-limit-user-burst", "RATE_LIMIT_USER_BURST", nullptr,
     "requests a user may send at once (default: the per-second rate, at least 1)"},
    {"rate-limit-address-rps", "RATE_LIMIT_ADDRESS_RPS", nullptr,
     "requests per second allowed per client address; 0 = off (default)"},
    {"rate-limit-address-burst", "RATE_LIMIT_ADDRESS_BURST", nullptr,
     "requests a client address may send at once (default: the per-second rate, at least 1)"},
    {"idempotency-ttl", "IDEMPOTENCY_TTL", nullptr,
     "seconds a response to an Idempotency-Key is kept for retries (default 86400)"},
};

long long parse_int(const std::string& name, const std::string& v, long long lo, long long hi) {
  long long n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size() || n < lo || n > hi)
    throw ConfigError(name + " must be an integer from " + std::to_string(lo) + " to " +
                      std::to_string(hi) + ", got \"" + v + "\"");
  return n;
}

double parse_number(const std::string& name, const std::string& v, double lo, double hi) {
  double n = 0;
  const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc{} || p != v.data() + v.size() || !(n >= lo && n <= hi))
    throw ConfigError(name + " must be a number from " +
                      std::to_string(static_cast<long long>(lo)) + " to " +
                      std::to_string(static_cast<long long>(hi)) + ", got \"" + v + "\"");
  return n;
}

bool parse_switch(const std::string& name, const std::string& v) {
  if (v == "on" || v == "true" || v == "1") return true;
  if (v == "off" || v == "false" || v == "0") return false;
  throw ConfigError(name + " must be on or off, got \"" + v + "\"");
}

std::string strip_quotes(std::string v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front())
    return v.substr(1, v.size() - 2);
  return v;
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

}  // namespace

DatabaseConfig parse_database_url(const std::string& url) {
  DatabaseConfig db;
  if (url == "sqlite::memory:" || url == "sqlite:///:memory:" || url == "sqlite://") {
    db.sqlite_path = ":memory:";
    return db;
  }
  if (url.rfind("sqlite:///", 0) == 0) {
    // SQLAlchemy's form: three slashes and a relative path, or four and an absolute one.
    db.sqlite_path = url.substr(10);
    if (db.sqlite_path.empty()) throw ConfigError("DATABASE_URL: sqlite URL has no path: " + url);
    return db;
  }
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    db.kind = DatabaseConfig::Kind::postgres;
    db.postgres_url = url;
    return db;
  }
  throw ConfigError(
      "DATABASE_URL must start with sqlite:///, sqlite::memory:, postgresql:// or postgres://");
}

std::map<std::string, std::string> read_dotenv(const std::string& path) {
  std::map<std::string, std::string> vars;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = trim(line.substr(7));
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    vars[trim(line.substr(0, eq))] = strip_quotes(trim(line.substr(eq + 1)));
  }
  return vars;
}

Environment process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (const char* v = std::getenv(name.c_str())) return std::string(v);
    return std::nullopt;
  };
}

std::string usage() {
  std::string s =
      "usage: todo-server [options]\n"
      "       todo-server token --sub USER_ID [--ttl SECONDS] [--email E] [--name N]\n"
      "\n"
      "Serves the libtodo REST API. Every option is also an environment variable\n"
      "(shown in brackets) and may be set in a .env file in the working directory;\n"
      "flags win over the environment, which wins over .env.\n\n";
  for (const Setting& st : settings) {
    std::string line = std::string("  --") + st.flag + " VALUE  [" + st.env;
    if (st.env_alias) line += std::string(", ") + st.env_alias;
    line += "]\n      ";
    s += line + st.help + "\n";
  }
  s += "  --help     this text\n  --version  print the version\n\n"
       "`token` prints an HS256 token for USER_ID signed with the configured secret,\n"
       "valid for --ttl seconds (default 3600): handy for trying the API with curl.\n";
  return s;
}

ServerConfig load_config(const std::vector<std::string>& args, const Environment& env,
                         const std::map<std::string, std::string>& dotenv) {
  std::map<std::string, std::string> flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a.rfind("--", 0) != 0) throw ConfigError("unexpected argument \"" + a + "\" (see --help)");
    a = a.substr(2);
    std::string value;
    if (const auto eq = a.find('='); eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else {
      if (i + 1 >= args.size()) throw ConfigError("--" + a + " needs a value");
      value = args[++i];
    }
    bool known = false;
    for (const Setting& st : settings) known = known || a == st.flag;
    if (!known) throw ConfigError("unknown option --" + a + " (see --help)");
    flags[a] = value;
  }

  // flag > environment (primary name, then alias) > .env > nothing
  const auto get = [&](const char* flag) -> std::optional<std::string> {
    if (auto it = flags.find(flag); it != flags.end()) return it->second;
    for (const Setting& st : settings) {
      if (std::string(st.flag) != flag) continue;
      for (const char* name : {st.env, st.env_alias}) {
        if (!name) continue;
        if (auto v = env(name)) return v;
      }
      for (const char* name : {st.env, st.env_alias}) {
        if (!name) continue;
        if (auto it = dotenv.find(name); it != dotenv.end()) return it->second;
      }
    }
    return std::nullopt;
  };

  ServerConfig c;
  c.database_url = get("database-url").value_or("sqlite:///./todo.db");
  c.database = parse_database_url(c.database_url);

  c.secret = get("secret").value_or("");
  c.jwks_url = get("jwks-url").value_or("");
  c.jwks_file = get("jwks-file").value_or("");
  if (c.secret.empty() && c.jwks_url.empty() && c.jwks_file.empty())
    throw ConfigError(
        "no token key configured: set BETTER_AUTH_SECRET (or SECRET_KEY) to the shared secret "
        "(at least 32 bytes), and/or JWKS_URL or JWKS_FILE");
  if (!c.secret.empty() && c.secret.size() < libtodo::min_hs_secret_bytes)
    throw ConfigError("BETTER_AUTH_SECRET is " + std::to_string(c.secret.size()) +
                      " bytes; use at least 32 random bytes (e.g. `openssl rand -hex 32`)");
  if (auto v = get("jwks-min-refresh"))
    c.jwks_min_refresh = std::chrono::seconds{parse_int("JWKS_MIN_REFRESH", *v, 0, 86400)};
  if (auto v = get("jwks-ttl")) c.jwks_ttl = std::chrono::seconds{parse_int("JWKS_TTL", *v, 1, 86400 * 7)};
  if (auto v = get("jwt-issuer"); v && !v->empty()) c.jwt_issuer = v;
  if (auto v = get("jwt-audience"); v && !v->empty()) c.jwt_audience = v;
  if (auto v = get("jwt-leeway")) c.jwt_leeway = std::chrono::seconds{parse_int("JWT_LEEWAY", *v, 0, 3600)};

  if (auto v = get("auth-accounts")) c.auth_accounts = parse_switch("AUTH_ACCOUNTS", *v);
  if (auto v = get("auth-token-ttl"))
    c.auth_token_ttl = std::chrono::seconds{parse_int("AUTH_TOKEN_TTL", *v, 60, 86400 * 30)};
  if (c.auth_accounts && c.secret.empty())
    throw ConfigError("AUTH_ACCOUNTS=on needs BETTER_AUTH_SECRET: it signs the tokens issued at login");
  if (auto v = get("host")) c.http.host = *v;
  if (auto v = get("port")) c.http.port = static_cast<int>(parse_int("PORT", *v, 0, 65535));
  if (auto v = get("log-level")) {
    const auto level = parse_log_level(*v);
    if (!level) throw ConfigError("LOG_LEVEL must be debug, info, warn or error, got \"" + *v + "\"");
    c.log_level = *level;
  }
  if (auto v = get("threads")) c.http.threads = static_cast<std::size_t>(parse_int("HTTP_THREADS", *v, 1, 256));
  if (auto v = get("max-connections"))
    c.http.max_connections = static_cast<std::size_t>(parse_int("MAX_CONNECTIONS", *v, 1, 1000000));
  if (auto v = get("max-header-bytes"))
    c.http.max_header_bytes = static_cast<std::size_t>(parse_int("MAX_HEADER_BYTES", *v, 1024, 1 << 20));
  if (auto v = get("max-body-bytes"))
    c.http.max_body_bytes = static_cast<std::size_t>(parse_int("MAX_BODY_BYTES", *v, 1024, 64LL << 20));
  if (auto v = get("keep-alive-timeout"))
    c.http.keep_alive_timeout = std::chrono::seconds{parse_int("KEEP_ALIVE_TIMEOUT", *v, 1, 3600)};
  if (auto v = get("header-timeout"))
    c.http.header_timeout = std::chrono::seconds{parse_int("HEADER_TIMEOUT", *v, 1, 3600)};
  if (auto v = get("body-timeout"))
    c.http.body_timeout = std::chrono::seconds{parse_int("BODY_TIMEOUT", *v, 1, 3600)};
  if (auto v = get("write-timeout"))
    c.http.write_timeout = std::chrono::seconds{parse_int("WRITE_TIMEOUT", *v, 1, 3600)};
  if (auto v = get("keep-alive-max"))
    c.http.keep_alive_max_requests = static_cast<std::size_t>(parse_int("KEEP_ALIVE_MAX", *v, 1, 1000000));
  if (auto v = get("foreign-task-status")) {
    if (*v != "403" && *v != "404") throw ConfigError("FOREIGN_TASK_STATUS must be 403 or 404");
    c.http.foreign_task_not_found = *v == "404";
  }
  if (auto v = get("db-pool-size"))
    c.db_pool_size = static_cast<std::size_t>(parse_int("DB_POOL_SIZE", *v, 1, 1000));
  if (auto v = get("cors-origins")) {
    std::size_t start = 0;
    while (start <= v->size()) {
      const std::size_t end = std::min(v->find(',', start), v->size());
      const std::string origin = trim(v->substr(start, end - start));
      if (!origin.empty()) {
        const bool ok = origin == "*" || ((origin.rfind("http://", 0) == 0 || origin.rfind("https://", 0) == 0) &&
                                          origin.find('/', origin.find("//") + 2) == std::string::npos);
        if (!ok) throw ConfigError("CORS_ORIGINS: \"" + origin + "\" is not an origin like https://app.example.com");
        c.http.cors_origins.push_back(origin);
      }
      start = end + 1;
    }
  }
#ifdef TODO_DEFAULT_DOCS_DIR
  c.http.docs_dir = TODO_DEFAULT_DOCS_DIR;
#endif
  if (auto v = get("docs-dir")) c.http.docs_dir = *v;
  if (auto v = get("metrics")) c.http.metrics = parse_switch("METRICS", *v);
  if (auto v = get("metrics-address"); v && !v->empty()) {
    const auto colon = v->rfind(':');
    if (colon == std::string::npos || colon == 0)
      throw ConfigError("METRICS_ADDRESS must be HOST:PORT, e.g. 127.0.0.1:9100, got \"" + *v +
                        "\"");
    c.metrics_host = v->substr(0, colon);
    c.metrics_port =
        static_cast<int>(parse_int("METRICS_ADDRESS's port", v->substr(colon + 1), 0, 65535));
    c.http.metrics_on_api_port = false;
  }
  // A token bucket per user and per client address: RPS turns it on; the
  // burst defaults to one second's worth.
  const auto rate_limit = [&](const char* rps_flag, const char* burst_flag,
                              const std::string& prefix) {
    RateLimit limit;
    if (auto v = get(rps_flag)) limit.per_second = parse_number(prefix + "_RPS", *v, 0, 1e6);
    if (auto v = get(burst_flag)) {
      if (!limit.enabled()) throw ConfigError(prefix + "_BURST needs " + prefix + "_RPS");
      limit.burst = parse_number(prefix + "_BURST", *v, 1, 1e6);
    } else {
      limit.burst = std::max(1.0, std::ceil(limit.per_second));
    }
    return limit;
  };
  c.http.user_rate_limit =
      rate_limit("rate-limit-user-rps", "rate-limit-user-burst", "RATE_LIMIT_USER");
  c.http.address_rate_limit =
      rate_limit("rate-limit-address-rps", "rate-limit-address-burst", "RATE_LIMIT_ADDRESS");
  if (auto v = get("idempotency-ttl"))
    c.http.idempotency.ttl = std::chrono::seconds{parse_int("IDEMPOTENCY_TTL", *v, 60, 86400 * 30)};
  if (auto v = get("sqlite-synchronous")) {
    if (*v != "normal" && *v != "full") throw ConfigError("SQLITE_SYNCHRONOUS must be normal or full");
    c.sqlite_synchronous = *v == "full" ? libtodo::SqliteSync::full : libtodo::SqliteSync::normal;
  }
  if (auto v = get("sqlite-cache-kib"))
    c.sqlite_cache_kib = static_cast<std::size_t>(parse_int("SQLITE_CACHE_KIB", *v, 64, 1 << 20));
  return c;
}

}  // namespace todo_server
