#include "front.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include <libtodo/errors.hpp>
#include <libtodo/uuid.hpp>

#include "log.hpp"

namespace todo_server {

using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- framing

namespace {

bool is_tchar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20) && ((x >= 'A' && x <= 'Z') || (x >= 'a' && x <= 'z') || x == y);
         });
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The request's head without the framing headers the loop has dealt with
// (Expect, Transfer-Encoding, Content-Length), ready for a new Content-Length.
std::string head_without_framing(std::string_view buf, std::size_t header_end) {
  std::string out;
  out.reserve(header_end + 32);
  std::size_t pos = 0;
  bool first = true;
  while (pos < header_end) {
    const std::size_t nl = buf.find('\n', pos);
    std::string_view line = buf.substr(pos, nl - pos);
    pos = nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) {
      if (first) continue;  // leading blank lines
      break;
    }
    first = false;
    const std::string_view name = line.substr(0, line.find(':'));
    if (iequals(name, "expect") || iequals(name, "transfer-encoding") || iequals(name, "content-length"))
      continue;
    out.append(line);
    out.append("\r\n");
  }
  return out;
}

// The blank lines some clients send between requests are skipped, within reason.
constexpr std::size_t max_leading_blank_bytes = 64;
constexpr std::size_t max_chunk_line = 256;
constexpr std::size_t max_header_line = 8192;

}  // namespace

void RequestFramer::reset() {
  f_ = Framing{};
  line_start_ = 0;
  have_request_line_ = false;
  headers_ = 0;
  content_length_.reset();
  chunk_pos_ = chunk_left_ = 0;
  in_chunk_data_ = in_trailers_ = false;
  body_.clear();
}

const Framing& RequestFramer::fail(int status, std::string_view message) {
  f_.kind = Framing::Kind::error;
  f_.status = status;
  f_.message = message;
  return f_;
}

bool RequestFramer::parse_header_line(std::string_view line) {
  if (line.front() == ' ' || line.front() == '\t') return fail(400, "folded header lines are not accepted"), false;
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return fail(400, "malformed header line"), false;
  const std::string_view name = line.substr(0, colon);
  if (!std::all_of(name.begin(), name.end(), is_tchar)) return fail(400, "malformed header name"), false;
  const std::string_view value = trim_ows(line.substr(colon + 1));
  for (const char c : value)
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
      return fail(400, "control character in a header value"), false;
  if (++headers_ > limits_->max_headers) return fail(431, "too many request headers"), false;
  if (iequals(name, "content-length")) {
    if (value.empty() || value.size() > 18 ||
        !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return fail(400, "malformed Content-Length"), false;
    std::uint64_t n = 0;
    for (const char c : value) n = n * 10 + static_cast<std::uint64_t>(c - '0');
    if (content_length_ && *content_length_ != n) return fail(400, "conflicting Content-Length headers"), false;
    content_length_ = n;
  } else if (iequals(name, "transfer-encoding")) {
    if (!iequals(value, "chunked") || f_.chunked)
      return fail(501, "only the chunked transfer coding is supported"), false;
    f_.chunked = true;
  } else if (iequals(name, "expect")) {
    if (!iequals(value, "100-continue")) return fail(417, "only Expect: 100-continue is supported"), false;
    f_.expect_continue = true;
  }
  return true;
}

bool RequestFramer::feed_chunked(std::string_view buf) {
  const std::size_t max_body = limits_->max_body_bytes;
  // Chunk framing around a body may not dwarf the body itself.
  const std::size_t max_raw = 8 * max_body + 4096;
  for (;;) {
    if (chunk_pos_ - f_.header_end > max_raw) return fail(413, "chunked body too large"), false;
    if (in_chunk_data_) {
      const std::size_t take = std::min(buf.size() - chunk_pos_, chunk_left_);
      body_.append(buf.substr(chunk_pos_, take));
      chunk_pos_ += take;
      chunk_left_ -= take;
      if (chunk_left_ > 0) return false;
      const std::string_view rest = buf.substr(chunk_pos_);
      if (rest.empty() || (rest[0] == '\r' && rest.size() < 2)) return false;
      if (rest.substr(0, 2) == "\r\n") chunk_pos_ += 2;
      else if (rest[0] == '\n') chunk_pos_ += 1;
      else return fail(400, "malformed chunked body"), false;
      in_chunk_data_ = false;
      continue;
    }
    const std::size_t nl = buf.find('\n', chunk_pos_);
    if (nl == std::string_view::npos) {
      if (buf.size() - chunk_pos_ > max_chunk_line) return fail(400, "malformed chunked body"), false;
      return false;
    }
    std::string_view line = buf.substr(chunk_pos_, nl - chunk_pos_);
    if (line.size() > max_chunk_line) return fail(400, "malformed chunked body"), false;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    chunk_pos_ = nl + 1;
    if (in_trailers_) {
      if (line.empty()) {
        f_.kind = Framing::Kind::complete;
        f_.length = chunk_pos_;
        f_.rewritten = head_without_framing(buf, f_.header_end) + "Content-Length: " +
                       std::to_string(body_.size()) + "\r\n\r\n" + body_;
        return true;
      }
      continue;  // trailer fields are read and dropped
    }
    const std::string_view size_text = trim_ows(line.substr(0, line.find(';')));
    if (size_text.empty() || size_text.size() > 8) return fail(400, "malformed chunk size"), false;
    std::size_t size = 0;
    for (const char c : size_text) {
      const int d = (c >= '0' && c <= '9') ? c - '0'
                    : ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') ? (c | 0x20) - 'a' + 10
                                                                : -1;
      if (d < 0) return fail(400, "malformed chunk size"), false;
      size = size * 16 + static_cast<std::size_t>(d);
    }
    if (size == 0) {
      in_trailers_ = true;
      continue;
    }
    if (body_.size() + size > max_body) return fail(413, "request body too large"), false;
    chunk_left_ = size;
    in_chunk_data_ = true;
  }
}

const Framing& RequestFramer::feed(std::string_view buf) {
  if (f_.kind != Framing::Kind::incomplete) return f_;
  const FrontOptions& lim = *limits_;
  while (f_.header_end == 0) {
    const std::size_t nl = buf.find('\n', line_start_);
    if (nl == std::string_view::npos) {
      if (!have_request_line_) {
        if (buf.size() - line_start_ > lim.max_request_line) return fail(414, "request line too long");
      } else if (buf.size() > lim.max_header_bytes) {
        return fail(431, "request headers too large");
      }
      return f_;
    }
    std::string_view line = buf.substr(line_start_, nl - line_start_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line_start_ = nl + 1;
    if (!have_request_line_) {
      if (line.empty()) {
        if (line_start_ > max_leading_blank_bytes) return fail(400, "malformed request line");
        continue;
      }
      if (line.size() > lim.max_request_line) return fail(414, "request line too long");
      const std::size_t sp1 = line.find(' ');
      const std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
      if (sp2 == std::string_view::npos || sp1 == 0 || sp2 == sp1 + 1 ||
          line.find(' ', sp2 + 1) != std::string_view::npos)
        return fail(400, "malformed request line");
      const std::string_view method = line.substr(0, sp1);
      const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      const std::string_view version = line.substr(sp2 + 1);
      if (!std::all_of(method.begin(), method.end(), is_tchar)) return fail(400, "malformed request line");
      for (const char c : target)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return fail(400, "malformed request target");
      if (version != "HTTP/1.1" && version != "HTTP/1.0") {
        if (version.substr(0, 5) == "HTTP/") return fail(505, "only HTTP/1.0 and HTTP/1.1 are supported");
        return fail(400, "malformed request line");
      }
      have_request_line_ = true;
      continue;
    }
    if (line_start_ > lim.max_header_bytes) return fail(431, "request headers too large");
    // cpp-httplib's parser refuses longer lines; say why here instead.
    if (line.size() > max_header_line) return fail(431, "request header line too long");
    if (line.empty()) {
      f_.header_end = line_start_;
      break;
    }
    if (!parse_header_line(line)) return f_;
  }
  if (f_.chunked) {
    if (content_length_) return fail(400, "both Content-Length and Transfer-Encoding");
    if (chunk_pos_ == 0) chunk_pos_ = f_.header_end;
    feed_chunked(buf);
    return f_;
  }
  const std::uint64_t n = content_length_.value_or(0);
  if (n > lim.max_body_bytes) return fail(413, "request body too large");
  if (buf.size() - f_.header_end >= n) {
    f_.kind = Framing::Kind::complete;
    f_.length = f_.header_end + static_cast<std::size_t>(n);
  }
  return f_;
}

namespace {

const char* reason(int status) {
  switch (status) {
    case 400: return "Bad Request";
    case 408: return "Request Timeout";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Error";
  }
}

const char* error_code(int status) {
  switch (status) {
    case 400: return "bad_request";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 414: return "uri_too_long";
    case 417: return "expectation_failed";
    case 431: return "headers_too_large";
    case 501: return "not_implemented";
    case 503: return "service_unavailable";
    case 505: return "http_version_not_supported";
    default: return "error";
  }
}

// A complete response with SPEC §3's error body, for what the loop answers
// itself (the request never reached a handler). The connection closes after it.
std::string error_response(int status, std::string_view message) {
  std::string body = "{\"error\":{\"code\":\"";
  body += error_code(status);
  body += "\",\"message\":";
  append_json_string(body, message);
  body += ",\"details\":[]},\"detail\":";
  append_json_string(body, message);
  body += '}';
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) +
                    "\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nConnection: close\r\n";
  if (status == 503) out += "Retry-After: 1\r\n";
  out += "X-Request-Id: " + libtodo::new_uuid_v7() + "\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n";
  out += body;
  return out;
}

// One request, already complete in memory, as cpp-httplib's Stream.
class MemoryStream final : public httplib::Stream {
 public:
  MemoryStream(std::string_view in, std::string& out, int fd, const std::string& peer_ip, int peer_port,
               const std::string& local_ip, int local_port)
      : in_(in),
        out_(out),
        fd_(fd),
        peer_ip_(peer_ip),
        peer_port_(peer_port),
        local_ip_(local_ip),
        local_port_(local_port) {}

  bool is_readable() const override { return pos_ < in_.size(); }
  bool is_writable() const override { return true; }
  ssize_t read(char* ptr, size_t size) override {
    const std::size_t n = std::min(size, in_.size() - pos_);
    std::memcpy(ptr, in_.data() + pos_, n);
    pos_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    out_.append(ptr, size);
    return static_cast<ssize_t>(size);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    ip = peer_ip_;
    port = peer_port_;
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = local_ip_;
    port = local_port_;
  }
  socket_t socket() const override { return fd_; }

 private:
  std::string_view in_;
  std::size_t pos_ = 0;
  std::string& out_;
  int fd_;
  const std::string& peer_ip_;
  int peer_port_;
  const std::string& local_ip_;
  int local_port_;
};

void peer_address(const sockaddr_storage& addr, std::string& ip, int& port) {
  char host[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(addr);
    ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof(host));
    port = ntohs(a.sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(addr);
    ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof(host));
    port = ntohs(a.sin6_port);
  }
  ip = host;
}

constexpr std::size_t read_chunk = 64 * 1024;
// Connection buffers larger than this are released once empty.
constexpr std::size_t keep_buffer = 4096;
// After an error the loop reads and drops what the client still sends, for a
// while, so the client sees the response instead of a reset.
constexpr std::size_t max_linger_bytes = 256 * 1024;
constexpr std::chrono::milliseconds linger_time{1000};
constexpr std::chrono::milliseconds sweep_interval{100};

// Stable addresses that tag the listening socket and the wake-up eventfd in
// epoll_event::data.ptr (connections use their own address).
char listen_tag;
char wake_tag;

}  // namespace

// ---------------------------------------------------------------- the loops

struct Front::Impl {
  struct Conn {
    Conn(int f, const FrontOptions& o) : fd(f), framer(o) {}
    int fd;
    std::size_t index = 0;  // in Loop::conns
    std::string in;
    std::string out;
    std::size_t out_pos = 0;
    RequestFramer framer;
    std::string peer_ip;
    int peer_port = 0;
    std::string local_ip;
    int local_port = 0;
    Clock::time_point idle_since, request_start, body_start, write_start, linger_start;
    std::size_t served = 0;
    bool close_after_write = false;
    bool lingering = false;
    bool sent_continue = false;
    bool want_out = false;
    bool peer_eof = false;
    bool body_started = false;
    std::size_t drained = 0;
  };

  struct Accepted {
    int fd;
    sockaddr_storage addr;
  };

  struct Loop {
    int ep = -1;
    std::vector<std::unique_ptr<Conn>> conns;
    Clock::time_point last_sweep;
    Clock::time_point now;
    // Connections another loop accepted for this one (round robin).
    int inbox_fd = -1;  // eventfd; its address tags it in epoll
    std::mutex inbox_mutex;
    std::vector<Accepted> inbox;
    // Shared by the loop's connections, so an idle connection holds no
    // buffer: reads land here first, responses are built here and copied to
    // the connection only when the socket cannot take them at once.
    std::vector<char> read_buf = std::vector<char>(read_chunk);
    std::string response;
  };

  FrontOptions options;
  Handler handler;
  int listen_fd = -1;
  int wake_fd = -1;
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  std::atomic<std::uint64_t> open{0}, accepted{0}, refused{0}, timed_out{0}, rejected{0};
  std::vector<std::unique_ptr<Loop>> loops;
  std::atomic<std::size_t> next_loop{0};

  Impl(FrontOptions o, Handler h) : options(std::move(o)), handler(std::move(h)) {}
  ~Impl() {
    if (listen_fd >= 0) ::close(listen_fd);
    if (wake_fd >= 0) ::close(wake_fd);
  }

  // --- connections

  void add(Loop& l, int fd, const sockaddr_storage& addr) {
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto c = std::make_unique<Conn>(fd, options);
    peer_address(addr, c->peer_ip, c->peer_port);
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) == 0)
      peer_address(local, c->local_ip, c->local_port);
    c->idle_since = l.now;
    c->index = l.conns.size();
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP;
    ev.data.ptr = c.get();
    if (::epoll_ctl(l.ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      return;
    }
    l.conns.push_back(std::move(c));
    open.fetch_add(1, std::memory_order_relaxed);
    accepted.fetch_add(1, std::memory_order_relaxed);
  }

  void destroy(Loop& l, Conn* c) {
    // Deregister first: close() alone leaves the registration alive while a
    // forked child still holds the descriptor, and its events would then
    // point at a freed connection.
    ::epoll_ctl(l.ep, EPOLL_CTL_DEL, c->fd, nullptr);
    ::close(c->fd);
    const std::size_t i = c->index;
    if (i + 1 != l.conns.size()) {
      l.conns[i] = std::move(l.conns.back());
      l.conns[i]->index = i;
    }
    l.conns.pop_back();
    open.fetch_sub(1, std::memory_order_relaxed);
  }

  void watch(Loop& l, Conn* c, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = c;
    ::epoll_ctl(l.ep, EPOLL_CTL_MOD, c->fd, &ev);
  }

  void accept_some(Loop& l) {
    for (int i = 0; i < 64; ++i) {
      sockaddr_storage addr{};
      socklen_t len = sizeof(addr);
      const int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a transient error: the next wake-up retries
      if (open.load(std::memory_order_relaxed) >= options.max_connections || stopping.load()) {
        // Over capacity: say so and close at once rather than queue.
        static const std::string busy = error_response(503, "too many connections");
        [[maybe_unused]] const ssize_t n = ::send(fd, busy.data(), busy.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
        ::close(fd);
        refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      // Whichever loop wakes up accepts, but connections are dealt out
      // round robin: a burst of connects must not all land on one loop.
      Loop& target = *loops[next_loop.fetch_add(1, std::memory_order_relaxed) % loops.size()];
      if (&target == &l) {
        add(l, fd, addr);
        continue;
      }
      {
        std::lock_guard lock(target.inbox_mutex);
        target.inbox.push_back({fd, addr});
      }
      const std::uint64_t one = 1;
      [[maybe_unused]] const ssize_t n = ::write(target.inbox_fd, &one, sizeof(one));
    }
  }

  void take_inbox(Loop& l) {
    std::uint64_t count = 0;
    [[maybe_unused]] const ssize_t n = ::read(l.inbox_fd, &count, sizeof(count));
    std::vector<Accepted> arrived;
    {
      std::lock_guard lock(l.inbox_mutex);
      arrived.swap(l.inbox);
    }
    for (const Accepted& a : arrived) {
      if (stopping.load(std::memory_order_relaxed)) {
        ::close(a.fd);
        continue;
      }
      add(l, a.fd, a.addr);
    }
  }

  enum class Flush { done, pending, gone };

  // Writes what is buffered. Closes (or starts lingering) when asked to.
  Flush flush(Loop& l, Conn* c) {
    while (c->out_pos < c->out.size()) {
      const ssize_t n = ::send(c->fd, c->out.data() + c->out_pos, c->out.size() - c->out_pos, MSG_NOSIGNAL);
      if (n > 0) {
        c->out_pos += static_cast<std::size_t>(n);
      } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!c->want_out) {
          c->want_out = true;
          c->write_start = l.now;
          watch(l, c, EPOLLOUT);  // reading waits until the response is out
        }
        return Flush::pending;
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        destroy(l, c);
        return Flush::gone;
      }
    }
    if (c->out.capacity() > keep_buffer) std::string().swap(c->out);
    c->out.clear();
    c->out_pos = 0;
    if (c->close_after_write) {
      // Half-close, then drop what the client still sends for a moment.
      ::shutdown(c->fd, SHUT_WR);
      c->lingering = true;
      c->linger_start = l.now;
      watch(l, c, EPOLLIN | EPOLLRDHUP);
      c->want_out = false;
      return Flush::gone;
    }
    if (c->want_out) {
      c->want_out = false;
      watch(l, c, EPOLLIN | EPOLLRDHUP);
    }
    if (c->peer_eof && c->in.empty()) {
      destroy(l, c);
      return Flush::gone;
    }
    return Flush::done;
  }

  // Sends `data` now as far as the socket takes it; keeps the rest on the
  // connection for EPOLLOUT. Then as flush().
  Flush send_response(Loop& l, Conn* c, std::string_view data) {
    std::size_t off = 0;
    if (c->out.empty()) {
      while (off < data.size()) {
        const ssize_t n = ::send(c->fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
          off += static_cast<std::size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          break;
        } else {
          destroy(l, c);
          return Flush::gone;
        }
      }
    }
    c->out.append(data.substr(off));
    return flush(l, c);
  }

  void reject(Loop& l, Conn* c, int status, std::string_view message) {
    rejected.fetch_add(1, std::memory_order_relaxed);
    c->in.clear();
    c->out = error_response(status, message);
    c->out_pos = 0;
    c->close_after_write = true;
    flush(l, c);
  }

  // Serves every complete request in the buffer, in order.
  void serve(Loop& l, Conn* c) {
    while (c->out.empty() && !c->lingering) {
      if (c->in.empty()) {
        if (c->peer_eof) destroy(l, c);
        return;
      }
      const Framing& f = c->framer.feed(c->in);
      if (f.header_end != 0 && !c->body_started) {
        c->body_started = true;
        c->body_start = l.now;
      }
      if (f.kind == Framing::Kind::incomplete) {
        if (c->peer_eof) {
          destroy(l, c);
        } else if (f.expect_continue && f.header_end != 0 && !c->sent_continue) {
          c->sent_continue = true;
          c->out = "HTTP/1.1 100 Continue\r\n\r\n";
          flush(l, c);
        }
        return;
      }
      if (f.kind == Framing::Kind::error) {
        if (f.status == 413 && f.header_end != 0 && !f.chunked) {
          // The handlers answer a 413 (with CORS and the request id) from
          // the head alone: cpp-httplib sees the Content-Length over its limit.
          const std::string head = head_without_framing(c->in, f.header_end) + "Content-Length: " +
                                   std::to_string(options.max_body_bytes + 1) + "\r\n\r\n";
          run_handler(l, c, head, true);
          rejected.fetch_add(1, std::memory_order_relaxed);
          c->in.clear();
          c->close_after_write = true;
          send_response(l, c, l.response);
          return;
        }
        return reject(l, c, f.status, f.message);
      }
      std::string rewritten;
      std::string_view request(c->in.data(), f.length);
      if (f.chunked) {
        rewritten = std::move(const_cast<Framing&>(f).rewritten);
        request = rewritten;
      } else if (f.expect_continue) {
        rewritten = head_without_framing(c->in, f.header_end) + "Content-Length: " +
                    std::to_string(f.length - f.header_end) + "\r\n\r\n";
        rewritten.append(c->in, f.header_end, f.length - f.header_end);
        request = rewritten;
      }
      ++c->served;
      const bool close = stopping.load(std::memory_order_relaxed) || c->peer_eof ||
                         c->served >= options.keep_alive_max_requests;
      if (run_handler(l, c, request, close) || close) c->close_after_write = true;
      c->in.erase(0, f.length);
      if (c->in.empty() && c->in.capacity() > keep_buffer) std::string().swap(c->in);
      c->framer.reset();
      c->sent_continue = false;
      c->body_started = false;
      c->idle_since = c->request_start = l.now;
      if (send_response(l, c, l.response) != Flush::done) return;
    }
  }

  // Returns whether the connection must close after the response.
  bool run_handler(Loop& l, Conn* c, std::string_view request, bool close) {
    l.response.clear();
    MemoryStream stream(request, l.response, c->fd, c->peer_ip, c->peer_port, c->local_ip, c->local_port);
    bool closed = false;
    const bool ok = handler(stream, close, closed);
    return !ok || closed;
  }

  void on_readable(Loop& l, Conn* c) {
    if (c->lingering) {
      char sink[4096];
      for (;;) {
        const ssize_t n = ::recv(c->fd, sink, sizeof(sink), 0);
        if (n > 0) {
          c->drained += static_cast<std::size_t>(n);
          if (c->drained > max_linger_bytes) return destroy(l, c);
          continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        return destroy(l, c);  // EOF or error
      }
    }
    const bool was_empty = c->in.empty() && !c->framer.started();
    // Read at most a few chunks per wake-up: fair to the other connections;
    // level-triggered epoll brings us back for the rest.
    for (int i = 0; i < 4; ++i) {
      const ssize_t n = ::recv(c->fd, l.read_buf.data(), l.read_buf.size(), 0);
      if (n > 0) c->in.append(l.read_buf.data(), static_cast<std::size_t>(n));
      if (n > 0) {
        if (static_cast<std::size_t>(n) < read_chunk) break;
        continue;
      }
      if (n == 0) {
        c->peer_eof = true;
        break;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return destroy(l, c);
    }
    if (was_empty && !c->in.empty()) c->request_start = l.now;
    serve(l, c);
  }

  void on_event(Loop& l, Conn* c, std::uint32_t events) {
    if (events & EPOLLERR) return destroy(l, c);
    if (c->want_out) {
      if (events & (EPOLLOUT | EPOLLHUP)) {
        if (flush(l, c) == Flush::done) serve(l, c);
      }
      return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) on_readable(l, c);
  }

  void sweep(Loop& l) {
    l.last_sweep = l.now;
    for (std::size_t i = l.conns.size(); i-- > 0;) {
      Conn* c = l.conns[i].get();
      const auto age = [&](Clock::time_point since) { return l.now - since; };
      if (c->lingering) {
        if (age(c->linger_start) > linger_time) destroy(l, c);
      } else if (c->want_out) {
        if (age(c->write_start) > options.write_timeout) {
          timed_out.fetch_add(1, std::memory_order_relaxed);
          destroy(l, c);
        }
      } else if (c->body_started) {
        if (age(c->body_start) > options.body_timeout) {
          timed_out.fetch_add(1, std::memory_order_relaxed);
          reject(l, c, 408, "request body not received in time");
        }
      } else if (!c->in.empty() || c->framer.started()) {
        if (age(c->request_start) > options.header_timeout) {
          timed_out.fetch_add(1, std::memory_order_relaxed);
          reject(l, c, 408, "request headers not received in time");
        }
      } else if (age(c->idle_since) > options.idle_timeout) {
        timed_out.fetch_add(1, std::memory_order_relaxed);
        destroy(l, c);
      }
    }
  }

  void run_loop(Loop& l) {
    std::vector<epoll_event> events(256);
    l.now = l.last_sweep = Clock::now();
    while (!stopping.load(std::memory_order_relaxed)) {
      const int n = ::epoll_wait(l.ep, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(sweep_interval.count()));
      l.now = Clock::now();
      for (int i = 0; i < n; ++i) {
        void* tag = events[i].data.ptr;
        if (tag == &listen_tag) {
          accept_some(l);
        } else if (tag == &l.inbox_fd) {
          take_inbox(l);
        } else if (tag != &wake_tag) {
          on_event(l, static_cast<Conn*>(tag), events[i].events);
        }
      }
      if (l.now - l.last_sweep >= sweep_interval) sweep(l);
    }
    // Stopping: responses already produced get one last chance to go out.
    {
      std::lock_guard lock(l.inbox_mutex);
      for (const Accepted& a : l.inbox) ::close(a.fd);
      l.inbox.clear();
    }
    while (!l.conns.empty()) {
      Conn* c = l.conns.back().get();
      if (c->out_pos < c->out.size())
        [[maybe_unused]] const ssize_t n =
            ::send(c->fd, c->out.data() + c->out_pos, c->out.size() - c->out_pos, MSG_DONTWAIT | MSG_NOSIGNAL);
      destroy(l, c);
    }
  }
};

Front::Front(FrontOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {}

Front::~Front() = default;

int Front::bind() {
  FrontOptions& o = impl_->options;
  // Every open connection is a descriptor: use what the hard limit allows.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    const std::size_t reserve = 64;  // database, log, listening socket, ...
    const std::size_t usable = nofile.rlim_cur > reserve ? nofile.rlim_cur - reserve : 1;
    o.max_connections = std::min(o.max_connections, usable);
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string port_text = std::to_string(o.port);
  if (::getaddrinfo(o.host.c_str(), port_text.c_str(), &hints, &found) != 0 || found == nullptr)
    throw libtodo::ConfigError("cannot listen on " + o.host + ": unknown address");
  int fd = -1;
  for (addrinfo* ai = found; ai != nullptr && fd < 0; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || ::listen(fd, o.listen_backlog) != 0) {
      ::close(fd);
      fd = -1;
    }
  }
  ::freeaddrinfo(found);
  if (fd < 0)
    throw libtodo::ConfigError("cannot listen on " + o.host + ":" + port_text +
                               " (address in use or not available)");
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string ip;
  peer_address(addr, ip, o.port);
  impl_->listen_fd = fd;
  impl_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (impl_->wake_fd < 0) throw libtodo::ConfigError("cannot create an eventfd");
  return o.port;
}

void Front::run() {
  Impl& m = *impl_;
  if (m.listen_fd < 0) bind();
  const std::size_t n = std::max<std::size_t>(1, m.options.threads);
  m.loops.clear();
  for (std::size_t i = 0; i < n; ++i) m.loops.push_back(std::make_unique<Impl::Loop>());
  for (auto& lp : m.loops) {
    Impl::Loop& l = *lp;
    l.ep = ::epoll_create1(EPOLL_CLOEXEC);
    l.inbox_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (l.ep < 0 || l.inbox_fd < 0) throw libtodo::ConfigError("cannot create an epoll set or eventfd");
    epoll_event in{};
    in.events = EPOLLIN;
    in.data.ptr = &l.inbox_fd;
    ::epoll_ctl(l.ep, EPOLL_CTL_ADD, l.inbox_fd, &in);
    epoll_event ev{};
    // EPOLLEXCLUSIVE: a new connection wakes one idle loop, not all of them.
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    ev.data.ptr = &listen_tag;
    ::epoll_ctl(l.ep, EPOLL_CTL_ADD, m.listen_fd, &ev);
    epoll_event wake{};
    wake.events = EPOLLIN;
    wake.data.ptr = &wake_tag;
    ::epoll_ctl(l.ep, EPOLL_CTL_ADD, m.wake_fd, &wake);
  }
  m.running = true;
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < n; ++i) threads.emplace_back([&m, &l = *m.loops[i]] { m.run_loop(l); });
  m.run_loop(*m.loops[0]);
  for (std::thread& t : threads) t.join();
  for (auto& l : m.loops) {
    ::close(l->ep);
    ::close(l->inbox_fd);
  }
  m.loops.clear();
  ::close(m.listen_fd);  // connections still queued are refused, not left hanging
  m.listen_fd = -1;
  m.running = false;
}

void Front::stop() {
  impl_->stopping = true;
  if (impl_->wake_fd >= 0) {
    const std::uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = ::write(impl_->wake_fd, &one, sizeof(one));
  }
}

bool Front::is_running() const { return impl_->running.load(); }

FrontStats Front::stats() const {
  const Impl& m = *impl_;
  return {m.open.load(), m.accepted.load(), m.refused.load(), m.timed_out.load(), m.rejected.load()};
}

}  // namespace todo_server
