// The connection layer (adapters/http/src/front.cpp): request framing, and
// the real todo-server under idle, trickling and excess connections.

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "front.hpp"
#include "process.hpp"
#include "raw_socket.hpp"
#include "test_server.hpp"

using namespace std::chrono_literals;
using todo_server::Framing;
using todo_server::FrontOptions;
using todo_server::RequestFramer;

namespace {

Framing frame(const std::string& bytes, const FrontOptions& limits = {}) {
  RequestFramer f(limits);
  return f.feed(bytes);
}

// A value from /proc/PID/status ("Threads", "VmRSS" in kB).
long proc_status(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

void raise_fd_limit() {
  rlimit r{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &r) == 0);
  r.rlim_cur = r.rlim_max;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &r) == 0);
  REQUIRE(r.rlim_cur >= 2600);
}

std::vector<std::string> server_env(const test::TempDir& dir, std::vector<std::string> extra = {}) {
  std::vector<std::string> env{"BETTER_AUTH_SECRET=" + test::secret,
                               "DATABASE_URL=sqlite:///" + (dir.path / "todo.db").string()};
  env.insert(env.end(), extra.begin(), extra.end());
  return env;
}

}  // namespace

TEST_CASE("framing: complete, incomplete and content-length requests", "[front]") {
  CHECK(frame("GET / HTTP/1.1\r\nHost: x\r\n").kind == Framing::Kind::incomplete);
  const Framing get = frame("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next");
  REQUIRE(get.kind == Framing::Kind::complete);
  CHECK(get.length == 27);
  const Framing post = frame("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloEXTRA");
  REQUIRE(post.kind == Framing::Kind::complete);
  CHECK(post.length == 43);
  CHECK(frame("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhell").kind == Framing::Kind::incomplete);
  // Blank lines before a request and bare LF line ends are tolerated.
  CHECK(frame("\r\nGET / HTTP/1.0\nHost: x\n\n").kind == Framing::Kind::complete);
}

TEST_CASE("framing: the same result however the bytes are split", "[front]") {
  const std::string req = "POST /api/tasks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "4\r\nab\"}\r\n3;x=y\r\nxyz\r\n0\r\nTrailer: t\r\n\r\n";
  FrontOptions limits;
  for (std::size_t step = 1; step <= req.size(); ++step) {
    RequestFramer f(limits);
    std::string buf;
    Framing last;
    for (std::size_t i = 0; i < req.size(); i += step) {
      buf += req.substr(i, step);
      last = f.feed(buf);
      if (last.kind != Framing::Kind::incomplete) break;
    }
    INFO("step " << step);
    REQUIRE(last.kind == Framing::Kind::complete);
    REQUIRE(last.length == req.size());
    REQUIRE(last.chunked);
    // Rewritten with the decoded body and a Content-Length.
    REQUIRE(last.rewritten.find("Transfer-Encoding") == std::string::npos);
    REQUIRE(last.rewritten.size() >= 7);
    REQUIRE(last.rewritten.substr(last.rewritten.size() - 7) == "ab\"}xyz");
    REQUIRE(last.rewritten.find("Content-Length: 7\r\n\r\n") != std::string::npos);
  }
}

TEST_CASE("framing: limits and malformed input", "[front]") {
  FrontOptions small;
  small.max_request_line = 64;
  small.max_header_bytes = 256;
  small.max_headers = 4;
  small.max_body_bytes = 10;
  const auto status = [&](const std::string& bytes) {
    const Framing f = frame(bytes, small);
    return f.kind == Framing::Kind::error ? f.status : 0;
  };
  CHECK(status("GET /" + std::string(100, 'a')) == 414);  // even before the line ends
  CHECK(status("GET / HTTP/1.1\r\nX: " + std::string(300, 'a')) == 431);
  CHECK(status("GET / HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n") == 431);
  CHECK(status("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n") == 413);
  CHECK(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nb\r\n") == 413);
  CHECK(status("POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n") == 400);
  CHECK(status("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n") == 400);
  CHECK(status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n") == 501);
  CHECK(status("POST / HTTP/1.1\r\nExpect: magic\r\n\r\n") == 417);
  CHECK(status("GET / HTTP/2.0\r\n\r\n") == 505);
  CHECK(status("GET /\r\n\r\n") == 400);
  CHECK(status("GET  / HTTP/1.1\r\n\r\n") == 400);
  CHECK(status("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n") == 400);
  CHECK(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n") == 400);
  CHECK(status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabX") == 400);
  CHECK(status(std::string(100, '\n')) == 400);
}

TEST_CASE("1000 idle and 200 trickling connections do not starve a normal client", "[front][slow]") {
  raise_fd_limit();
  test::TempDir dir;
  // Timeouts longer than the test: every hostile connection stays open throughout.
  test::Process server(dir.path, {"--port", "0"},
                       server_env(dir, {"KEEP_ALIVE_TIMEOUT=120", "HEADER_TIMEOUT=120"}));
  const int port = server.port();

  std::vector<std::unique_ptr<test::RawConnection>> idle, trickle;
  for (int i = 0; i < 1000; ++i) idle.push_back(std::make_unique<test::RawConnection>(port));
  for (int i = 0; i < 200; ++i) trickle.push_back(std::make_unique<test::RawConnection>(port));

  std::atomic<bool> done{false};
  std::thread trickler([&] {
    const std::string head = "GET /api/tasks HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer x\r\n";
    for (std::size_t i = 0; !done; ++i) {
      for (auto& c : trickle) c->send_all(head.substr(i % head.size(), 1));
      for (int t = 0; t < 10 && !done; ++t) std::this_thread::sleep_for(100ms);  // one byte a second
    }
  });

  long max_threads = 0, max_rss_kb = 0;
  std::vector<double> latencies_ms;
  int failures = 0;
  {
    test::Client c(port);
    const std::string tok = test::token_for("alice");
    const auto end = std::chrono::steady_clock::now() + 8s;
    int n = 0;
    while (std::chrono::steady_clock::now() < end) {
      const auto start = std::chrono::steady_clock::now();
      const test::Reply r = (n++ % 4 == 0) ? c.as(tok, "POST", "/api/tasks", R"({"title":"still served"})")
                                           : c.as(tok, "GET", "/api/tasks?limit=20");
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
      if (r.status != 200 && r.status != 201) ++failures;
      max_threads = std::max(max_threads, proc_status(server.pid(), "Threads"));
      max_rss_kb = std::max(max_rss_kb, proc_status(server.pid(), "VmRSS"));
      std::this_thread::sleep_for(5ms);
    }
  }
  done = true;
  trickler.join();

  std::sort(latencies_ms.begin(), latencies_ms.end());
  const double p99 = latencies_ms[latencies_ms.size() * 99 / 100];
  WARN("normal client: " << latencies_ms.size() << " requests, p99 " << p99 << " ms; server peak " << max_threads
                         << " threads, " << max_rss_kb / 1024 << " MiB RSS");
  REQUIRE(latencies_ms.size() > 100);
  REQUIRE(failures == 0);
  REQUIRE(p99 < 1000.0);
  REQUIRE(max_threads <= 512);
  REQUIRE(max_rss_kb <= 512 * 1024);
  // The hostile connections were held open, not dropped to make room.
  int still_open = 0;
  for (auto& c : idle) still_open += c->closed_by_server(0ms) ? 0 : 1;
  REQUIRE(still_open == 1000);
}

TEST_CASE("connections beyond MAX_CONNECTIONS are answered 503 and closed at once", "[front][slow]") {
  raise_fd_limit();
  test::TempDir dir;
  test::Process server(dir.path, {"--port", "0"}, server_env(dir, {"MAX_CONNECTIONS=50"}));
  const int port = server.port();
  std::vector<std::unique_ptr<test::RawConnection>> held;
  for (int i = 0; i < 50; ++i) held.push_back(std::make_unique<test::RawConnection>(port));
  std::this_thread::sleep_for(300ms);  // all 50 accepted
  test::RawConnection extra(port);
  const auto start = std::chrono::steady_clock::now();
  const test::RawReply r = extra.read_response(2s);
  INFO(r.head << r.body);
  REQUIRE(r.status == 503);
  REQUIRE(r.header("Retry-After") == "1");
  REQUIRE(extra.closed_by_server(1s));
  REQUIRE(std::chrono::steady_clock::now() - start < 1s);
  // Room again once some close.
  held.resize(40);
  std::this_thread::sleep_for(300ms);
  test::Client c(port);
  REQUIRE(c.send("GET", "/health").status == 200);
}

TEST_CASE("header, idle and body timeouts close slow connections", "[front][slow]") {
  test::TempDir dir;
  test::Process server(dir.path, {"--port", "0"},
                       server_env(dir, {"HEADER_TIMEOUT=1", "BODY_TIMEOUT=1", "KEEP_ALIVE_TIMEOUT=1"}));
  const int port = server.port();
  SECTION("a head that never ends: 408") {
    test::RawConnection c(port);
    c.send_all("GET /health HTTP/1.1\r\nHost: x\r\n");
    const auto start = std::chrono::steady_clock::now();
    const test::RawReply r = c.read_response(5s);
    REQUIRE(r.status == 408);
    REQUIRE(c.closed_by_server(2s));
    REQUIRE(std::chrono::steady_clock::now() - start < 3s);
  }
  SECTION("a body that never ends: 408") {
    test::RawConnection c(port);
    c.send_all("POST /api/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"title\":");
    REQUIRE(c.read_response(5s).status == 408);
    REQUIRE(c.closed_by_server(2s));
  }
  SECTION("an idle keep-alive connection is closed") {
    test::RawConnection c(port);
    c.send_all("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    REQUIRE(c.read_response().status == 200);
    REQUIRE(c.closed_by_server(4s));
  }
}
