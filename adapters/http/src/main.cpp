// todo-server: builds the repository and the token verifier from the
// configuration, hands them to the HTTP server, and stops cleanly on
// SIGINT/SIGTERM.

#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>

#include <pthread.h>

#include <libtodo/jwt_verifier.hpp>
#include <libtodo/sqlite_repository.hpp>
#ifdef TODO_SERVER_WITH_POSTGRES
#include <libtodo/postgres_repository.hpp>
#endif

#include "config.hpp"
#include "log.hpp"
#include "metrics.hpp"
#include "server.hpp"

namespace {

using namespace todo_server;

std::vector<std::string> arguments(int argc, char** argv) { return {argv + 1, argv + argc}; }

// `todo-server token --sub ID [--ttl S] [--email E] [--name N] [server options]`
int mint_token(std::vector<std::string> args, const Logger& log) {
  libtodo::TokenClaims claims;
  claims.lifetime = std::chrono::seconds{3600};
  std::vector<std::string> rest;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const bool has_value = i + 1 < args.size();
    if (a == "--sub" && has_value) {
      claims.subject = args[++i];
    } else if (a == "--ttl" && has_value) {
      claims.lifetime = std::chrono::seconds{std::stoll(args[++i])};
    } else if (a == "--email" && has_value) {
      claims.email = args[++i];
    } else if (a == "--name" && has_value) {
      claims.name = args[++i];
    } else {
      rest.push_back(a);
    }
  }
  if (claims.subject.empty()) throw libtodo::ConfigError("token: --sub USER_ID is required");
  const ServerConfig config = load_config(rest, process_environment(), read_dotenv(".env"));
  if (config.secret.empty())
    throw libtodo::ConfigError("token: minting needs the shared secret (BETTER_AUTH_SECRET)");
  claims.issuer = config.jwt_issuer;
  claims.audience = config.jwt_audience;
  std::cout << libtodo::mint_hs_token(config.secret, claims) << '\n';
  (void)log;
  return 0;
}

std::unique_ptr<libtodo::TaskRepository> open_repository(const ServerConfig& c) {
  if (c.database.kind == DatabaseConfig::Kind::postgres) {
#ifdef TODO_SERVER_WITH_POSTGRES
    libtodo::PostgresOptions o;
    o.url = c.database.postgres_url;
    o.pool_size = c.db_pool_size;
    return std::make_unique<libtodo::PostgresTaskRepository>(o);
#else
    throw libtodo::ConfigError("DATABASE_URL names PostgreSQL, but this build has no PostgreSQL backend "
                               "(configure with -DTODO_WITH_POSTGRES=ON)");
#endif
  }
  libtodo::SqliteOptions o;
  o.path = c.database.sqlite_path;
  o.synchronous = c.sqlite_synchronous;
  o.cache_kib = c.sqlite_cache_kib;
  // Every loop thread may read at once; fewer readers would make loops wait.
  o.max_readers = std::max(o.max_readers, c.http.threads);
  return std::make_unique<libtodo::SqliteTaskRepository>(o);
}

int serve(const std::vector<std::string>& args, Logger& log) {
  const ServerConfig config = load_config(args, process_environment(), read_dotenv(".env"));
  log.set_level(config.log_level);

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::unique_ptr<libtodo::TaskRepository> repo;
  try {
    repo = open_repository(config);
  } catch (const libtodo::StorageError& e) {
    throw libtodo::ConfigError(std::string("cannot open the database: ") + e.what());
  }
  libtodo::JwtOptions jwt;
  jwt.hs_secret = config.secret;
  jwt.jwks_url = config.jwks_url;
  jwt.jwks_file = config.jwks_file;
  jwt.jwks_min_refresh = config.jwks_min_refresh;
  jwt.jwks_ttl = config.jwks_ttl;
  jwt.issuer = config.jwt_issuer;
  jwt.audience = config.jwt_audience;
  jwt.leeway = config.jwt_leeway;
  libtodo::JwtVerifier verifier(jwt);
  if (!config.jwks_url.empty() && verifier.key_count() == 0)
    log.log(LogLevel::warn, "no JWKS keys yet: the JWKS URL did not answer; retrying on demand",
            {{"jwks_url", config.jwks_url}});

  std::unique_ptr<Accounts> accounts;
  if (config.auth_accounts) {
    auto* store = dynamic_cast<libtodo::AccountStore*>(repo.get());
    if (store == nullptr) throw libtodo::ConfigError("AUTH_ACCOUNTS=on, but this storage backend keeps no accounts");
    AccountsOptions o;
    o.secret = config.secret;
    o.token_ttl = config.auth_token_ttl;
    o.issuer = config.jwt_issuer;
    o.audience = config.jwt_audience;
    accounts = std::make_unique<Accounts>(*store, o, log);
  }

  Server server(*repo, verifier, log, config.http, accounts.get());
  const int port = server.bind();
  // METRICS_ADDRESS: /metrics on a listener of its own, off the public port.
  std::unique_ptr<MetricsListener> metrics;
  if (config.http.metrics && !config.metrics_host.empty()) {
    metrics = std::make_unique<MetricsListener>(
        config.metrics_host, config.metrics_port, [&server] { return server.metrics_text(); }, log);
    const int metrics_port = metrics->start();
    log.log(LogLevel::info, "serving metrics",
            {{"host", config.metrics_host}, {"port", metrics_port}});
  }
  log.log(LogLevel::info, "listening",
          {{"host", config.http.host},
           {"port", port},
           {"database", config.database.kind == DatabaseConfig::Kind::sqlite ? "sqlite" : "postgres"},
           {"version", LIBTODO_VERSION}});

  std::thread signal_waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log.log(LogLevel::info, "stopping", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
    server.stop();
  });
  server.run();
  // run() also returns when listening fails; wake the waiter either way.
  pthread_kill(signal_waiter.native_handle(), SIGTERM);
  signal_waiter.join();
  if (metrics) metrics->stop();
  repo.reset();
  log.log(LogLevel::info, "stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Logger log;
  std::vector<std::string> args = arguments(argc, argv);
  try {
    for (const std::string& a : args) {
      if (a == "--help" || a == "-h") {
        std::cout << usage();
        return 0;
      }
      if (a == "--version") {
        std::cout << "todo-server " << LIBTODO_VERSION << '\n';
        return 0;
      }
    }
    if (!args.empty() && args.front() == "token") return mint_token({args.begin() + 1, args.end()}, log);
    return serve(args, log);
  } catch (const libtodo::Error& e) {
    log.log(LogLevel::error, e.what());
    return 2;
  } catch (const std::exception& e) {
    log.log(LogLevel::error, std::string("fatal: ") + e.what());
    return 1;
  }
}
