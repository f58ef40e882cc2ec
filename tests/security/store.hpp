#pragma once
// The repository the security tests attack, and a direct look into its
// database past the repository, to see that no statement ran that the API did
// not mean to run. A SQLite file, or PostgreSQL (a fresh schema on the
// fixture's server) when LIBTODO_TEST_BACKEND=postgres.

#include <cstdlib>
#include <functional>
#include <memory>
#include <string>

#include <SQLiteCpp/SQLiteCpp.h>

#include "http/test_server.hpp"

namespace test {

struct Store {
  std::shared_ptr<libtodo::TaskRepository> repo;
  /// Runs a query that returns one integer, on a connection of its own.
  std::function<long long(const std::string& sql)> scalar;
};

inline Store make_store(const std::string& dir) {
  const char* backend = std::getenv("LIBTODO_TEST_BACKEND");
  if (backend != nullptr && std::string(backend) == "postgres") {
#ifdef TODO_TEST_WITH_POSTGRES
    const libtodo::PostgresOptions o = isolated_pg_options();
    return {std::make_shared<libtodo::PostgresTaskRepository>(o),
            [url = o.url](const std::string& sql) {
              pqxx::connection c(url);  // the URL sets search_path to the test's schema
              pqxx::nontransaction tx(c);
              return tx.exec(sql)[0][0].as<long long>();
            }};
#else
    FAIL("LIBTODO_TEST_BACKEND=postgres, but the tests were built without PostgreSQL");
#endif
  }
  libtodo::SqliteOptions o;
  o.path = dir + "/todo.db";
  return {std::make_shared<libtodo::SqliteTaskRepository>(o),
          [path = o.path](const std::string& sql) {
            SQLite::Database db(path, SQLite::OPEN_READONLY);
            return static_cast<long long>(db.execAndGet(sql).getInt64());
          }};
}

}  // namespace test
