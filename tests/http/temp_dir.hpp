#pragma once
// A scratch directory for tests, and reading a whole file.

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

namespace test {

namespace fs = std::filesystem;

// A scratch directory, removed with everything in it at the end.
struct TempDir {
  fs::path path;
  TempDir() {
    std::random_device rd;
    path = fs::temp_directory_path() /
           ("libtodo-process-" + std::to_string(rd()) + std::to_string(rd()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace test
