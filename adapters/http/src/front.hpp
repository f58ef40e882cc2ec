#pragma once
// todo-server's connection layer: a few epoll event loops that own every
// socket, read requests into per-connection buffers, and hand only complete
// requests to cpp-httplib's parser, router and handlers (through an in-memory
// Stream). Idle and slow connections cost a buffer, never a thread; limits and
// timeouts are enforced before a byte reaches a handler. See docs/design.md.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace httplib {
class Stream;
}

namespace todo_server {

struct FrontOptions {
  std::string host = "127.0.0.1";
  int port = 8000;
  /// Event loops. Each runs the handlers of its connections' requests
  /// itself, so this is also how many requests run at once.
  std::size_t threads = 8;
  /// Open connections beyond this are closed at once (with a 503).
  std::size_t max_connections = 10000;
  int listen_backlog = 1024;
  std::size_t max_request_line = 8192;   ///< 414 beyond
  std::size_t max_header_bytes = 16384;  ///< request line + headers; 431 beyond
  std::size_t max_headers = 100;         ///< 431 beyond
  std::size_t max_body_bytes = 64 * 1024;  ///< 413 beyond, decided from Content-Length alone
  std::size_t keep_alive_max_requests = 10000;
  /// A connection with no request in progress is closed after this.
  std::chrono::milliseconds idle_timeout{5000};
  /// From a request's first byte to the end of its headers (408 after).
  std::chrono::milliseconds header_timeout{10000};
  /// From the end of the headers to the end of the body (408 after).
  std::chrono::milliseconds body_timeout{10000};
  /// A response the client does not read within this is dropped with the connection.
  std::chrono::milliseconds write_timeout{10000};
};

/// Counters of the connection layer (monotonic except open_connections).
struct FrontStats {
  std::uint64_t open_connections = 0;
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;    ///< closed at once: over max_connections
  std::uint64_t timed_out = 0;  ///< idle, header, body or write timeout
  std::uint64_t rejected = 0;   ///< answered by the loop itself (400, 408, 414, 431, ...)
};

/// Where one request ends in a buffer, and whether it may be served.
struct Framing {
  enum class Kind { incomplete, complete, error };
  Kind kind = Kind::incomplete;
  int status = 0;            ///< for error: 400, 413, 414, 417, 431, 501, 505
  std::string_view message;  ///< for error
  std::size_t header_end = 0;  ///< offset just past the blank line; 0 while unknown
  std::size_t length = 0;      ///< for complete: bytes of the whole request
  bool expect_continue = false;
  bool chunked = false;
  /// For a chunked body: the request rewritten with Content-Length.
  std::string rewritten;
};

/// Incremental request framing (request line, headers, Content-Length or
/// chunked body) over a growing buffer. reset() before the next request.
class RequestFramer {
 public:
  explicit RequestFramer(const FrontOptions& limits) : limits_(&limits) {}
  /// Looks at `buf` (which only ever grows between resets).
  const Framing& feed(std::string_view buf);
  void reset();
  [[nodiscard]] const Framing& state() const { return f_; }
  [[nodiscard]] bool started() const { return line_start_ > 0 || have_request_line_; }

 private:
  const Framing& fail(int status, std::string_view message);
  bool parse_header_line(std::string_view line);
  bool feed_chunked(std::string_view buf);

  const FrontOptions* limits_;
  Framing f_;
  std::size_t line_start_ = 0;
  bool have_request_line_ = false;
  std::size_t headers_ = 0;
  std::optional<std::uint64_t> content_length_;
  // chunked decoding state
  std::size_t chunk_pos_ = 0;
  std::size_t chunk_left_ = 0;
  bool in_chunk_data_ = false;
  bool in_trailers_ = false;
  std::string body_;
};

/// Serves HTTP/1.1 on a listening socket with `threads` epoll loops.
/// Thread-safe: stop(), is_running() and stats().
class Front {
 public:
  /// Answers one complete request read from `stream` (Content-Length framed),
  /// writing the response to it. `close` asks for `Connection: close`; the
  /// handler sets `closed` when the connection must close after the response.
  using Handler = std::function<bool(httplib::Stream& stream, bool close, bool& closed)>;

  Front(FrontOptions options, Handler handler);
  ~Front();
  Front(const Front&) = delete;
  Front& operator=(const Front&) = delete;

  /// Binds and listens; returns the port. Throws libtodo::ConfigError.
  int bind();
  /// Serves until stop(); a request being handled finishes and its response
  /// is written before run() returns.
  void run();
  void stop();
  [[nodiscard]] bool is_running() const;
  [[nodiscard]] FrontStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace todo_server
