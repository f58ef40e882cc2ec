// The repository contract on SQLite: in memory and on a fresh file (WAL, reader pool).

#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <tuple>

#include <libtodo/sqlite_repository.hpp>
#include <libtodo/uuid.hpp>

namespace {

namespace fs = std::filesystem;

// One scratch directory for the whole run, removed (with every database file,
// WAL and shared-memory file in it) when the program ends.
const fs::path& scratch_dir() {
  struct Dir {
    fs::path path = fs::temp_directory_path() / ("libtodo-contract-" + libtodo::new_uuid_v7());
    Dir() { fs::create_directories(path); }
    ~Dir() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
  };
  static const Dir dir;
  return dir.path;
}

struct SqliteMemory {
  static std::unique_ptr<libtodo::TaskRepository> make() {
    return std::make_unique<libtodo::SqliteTaskRepository>(libtodo::SqliteOptions{.path = ":memory:"});
  }
};

struct SqliteFile {
  static std::unique_ptr<libtodo::TaskRepository> make() {
    const fs::path file = scratch_dir() / (libtodo::new_uuid_v7() + ".db");
    return std::make_unique<libtodo::SqliteTaskRepository>(libtodo::SqliteOptions{.path = file.string()});
  }
};

}  // namespace

using ContractBackends = std::tuple<SqliteMemory, SqliteFile>;

#include "contract/repository_contract.hpp"
