#pragma once
// Access to the PostgreSQL server that the CTest fixture (pg_server.sh)
// started: its URL, and a fresh schema per repository so tests never see each
// other's rows. Fails the test, never skips, when the server is not there.

#include <cstdlib>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <pqxx/pqxx>

#include <libtodo/postgres_repository.hpp>
#include <libtodo/uuid.hpp>

namespace test {

/// The state directory written by `pg_server.sh setup` (from LIBTODO_PG_STATE).
inline std::string pg_state_dir() {
  const char* dir = std::getenv("LIBTODO_PG_STATE");
  if (dir == nullptr || *dir == '\0')
    FAIL("LIBTODO_PG_STATE is not set: run this test through ctest, whose fixture starts PostgreSQL");
  return dir;
}

inline std::string read_state(const std::string& dir, const std::string& name) {
  std::ifstream in(dir + "/" + name);
  std::string value;
  std::getline(in, value);
  if (value.empty()) FAIL("no " << name << " in " << dir << ": did the postgres fixture start?");
  return value;
}

/// The server's URL (database `postgres`, superuser, loopback).
inline std::string pg_url() { return read_state(pg_state_dir(), "url"); }

/// `url` with every connection's search_path set to `schema`.
inline std::string with_schema(const std::string& url, const std::string& schema) {
  return url + (url.find('?') == std::string::npos ? "?" : "&") + "options=-csearch_path%3D" + schema;
}

/// A new, empty schema on the server at `url`, named after a fresh UUID.
inline std::string fresh_schema(const std::string& url) {
  std::string name = "t_" + libtodo::new_uuid_v7();
  for (char& c : name)
    if (c == '-') c = '_';
  pqxx::connection c(url);
  pqxx::nontransaction tx(c);
  tx.exec("CREATE SCHEMA " + name);
  return name;
}

/// Options for a repository in a schema of its own.
inline libtodo::PostgresOptions isolated_pg_options(const std::string& url = pg_url()) {
  libtodo::PostgresOptions o;
  o.url = with_schema(url, fresh_schema(url));
  o.pool_size = 4;
  return o;
}

}  // namespace test
