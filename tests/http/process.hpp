#pragma once
// Running the todo-server executable from tests: a scratch directory and a
// child process with its own environment, output captured to files.

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "temp_dir.hpp"

namespace test {

// A todo-server child process run in `dir` with exactly `env` as its environment.
class Process {
 public:
  /// Runs `program` (todo-server unless given) in `dir` with exactly `env`.
  Process(const fs::path& dir, const std::vector<std::string>& args, const std::vector<std::string>& env,
          const std::string& program = TODO_SERVER_PATH)
      : stdout_(dir / ("stdout-" + std::to_string(counter_) + ".txt")),
        stderr_(dir / ("stderr-" + std::to_string(counter_) + ".txt")) {
    ++counter_;
    pid_ = fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      if (chdir(dir.c_str()) != 0) _exit(127);
      const int out = open(stdout_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      const int err = open(stderr_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> argv{const_cast<char*>(program.c_str())};
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      std::vector<char*> envp;
      for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
      envp.push_back(nullptr);
      execve(program.c_str(), argv.data(), envp.data());
      _exit(127);
    }
  }
  ~Process() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Waits up to `limit` for the process to end; returns its exit code, or -1.
  int wait(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

  // The port from the "listening" log line (or another with a port), waiting for it to appear.
  int port(const std::string& message = "listening") {
    for (int i = 0; i < 1000; ++i) {
      std::istringstream lines(read_file(stderr_));
      for (std::string line; std::getline(lines, line);) {
        const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
        if (!j.is_discarded() && j.value("msg", "") == message) return j["port"];
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL("todo-server did not start: " << read_file(stderr_));
    return 0;
  }

  void signal(int sig) { kill(pid_, sig); }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::string out() const { return read_file(stdout_); }
  [[nodiscard]] std::string err() const { return read_file(stderr_); }

 private:
  static inline int counter_ = 0;
  fs::path stdout_, stderr_;
  pid_t pid_ = -1;
  bool exited_ = false;
};

}  // namespace test
