// The repository contract on PostgreSQL: a real server started by the CTest
// fixture, a fresh schema for every repository.

#include <memory>
#include <tuple>

#include <libtodo/postgres_repository.hpp>

#include "postgres/pg_test_env.hpp"

namespace {

struct Postgres {
  static std::unique_ptr<libtodo::TaskRepository> make() {
    return std::make_unique<libtodo::PostgresTaskRepository>(test::isolated_pg_options());
  }
};

}  // namespace

using ContractBackends = std::tuple<Postgres>;

#include "contract/repository_contract.hpp"
