#pragma once
// A private PostgreSQL server (tests/postgres/pg_server.sh) for tests that
// stop, restart or kill it, which they must not do to the fixture's shared
// server. Needs PG_SERVER_SCRIPT (the script's path) defined by CMake.

#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "http/process.hpp"
#include "postgres/pg_test_env.hpp"

namespace test {

class OwnPostgres {
 public:
  OwnPostgres() { REQUIRE(run("setup") == 0); }
  ~OwnPostgres() { run("teardown"); }
  OwnPostgres(const OwnPostgres&) = delete;
  OwnPostgres& operator=(const OwnPostgres&) = delete;

  void stop() { REQUIRE(run("stop") == 0); }
  void start() { REQUIRE(run("start") == 0); }
  [[nodiscard]] std::string url() const { return read_state(state_.path.string(), "url"); }

  /// Crashes the server: SIGKILL to the postmaster and every backend at once,
  /// with no shutdown checkpoint, so start() has to run crash recovery.
  ///
  /// pg_ctl makes the postmaster a process-group leader (setsid), and its
  /// backends inherit the group, so one kill(-pgid) reaches exactly them. The
  /// calling process must have called adopt_orphans() before setup: the
  /// daemonized postmaster and its orphaned backends are then its children,
  /// and it reaps them here. Unreaped zombies would make the next postmaster
  /// believe the old one still runs (postmaster.pid).
  void kill9() {
    const pid_t pm = postmaster_pid();
    REQUIRE(pm > 1);
    REQUIRE(getpgid(pm) == pm);
    REQUIRE(::kill(-pm, SIGKILL) == 0);
    while (waitpid(-pm, nullptr, 0) > 0) {
    }
    REQUIRE(errno == ECHILD);
    // Everything of the group must be gone (not merely ours to reap).
    REQUIRE(group_members(pm) == 0);
  }

  /// Makes orphaned descendants (the postmaster that pg_ctl daemonizes) this
  /// process's children, so that kill9() can reap them. Once per process.
  static void adopt_orphans() { REQUIRE(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0); }

 private:
  // Processes (zombies included) in process group `pgid`, from /proc.
  static int group_members(pid_t pgid) {
    int n = 0;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      std::ifstream stat(entry.path() / "stat");
      std::string line;
      if (!std::getline(stat, line)) continue;
      // pid (comm) state ppid pgrp ...: comm may hold spaces, so start after its ')'.
      std::istringstream rest(line.substr(line.rfind(')') + 1));
      char state = 0;
      long ppid = 0, pgrp = 0;
      if (rest >> state >> ppid >> pgrp && pgrp == pgid) ++n;
    }
    return n;
  }
  [[nodiscard]] pid_t postmaster_pid() const {
    std::ifstream in(read_state(state_.path.string(), "datadir") + "/postmaster.pid");
    long pid = 0;
    in >> pid;
    return static_cast<pid_t>(pid);
  }
  int run(const std::string& command) const {
    const std::string cmd = std::string(PG_SERVER_SCRIPT) + " " + command + " '" +
                            state_.path.string() + "' >/dev/null";
    return std::system(cmd.c_str());
  }
  TempDir state_;
};

}  // namespace test
