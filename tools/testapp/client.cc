#include "tools/testapp/client.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>

#include "tools/testapp/net.h"

namespace weft::testapp {

namespace {

// One connected socket or the reason there is none.
int Connect(const Address& a, int64_t deadline, std::string& error) {
  int fd = socket(a.ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&a.ss), a.len) != 0 && errno != EINPROGRESS) {
    error = std::string("connect: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  if (!WaitFd(fd, POLLOUT, deadline)) {
    error = "connect: timed out";
    close(fd);
    return -1;
  }
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    error = std::string("connect: ") + std::strerror(err);
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// Reads up to and including '\n' (at most 4 KiB). "" with `error` set on failure.
std::string ReadLine(int fd, int64_t deadline, std::string& error, std::string& rest) {
  std::string line = std::move(rest);
  rest.clear();
  while (true) {
    if (auto nl = line.find('\n'); nl != std::string::npos) {
      rest = line.substr(nl + 1);
      line.resize(nl);
      return line;
    }
    if (line.size() > 4096) {
      error = "line longer than 4 KiB";
      return "";
    }
    if (!WaitFd(fd, POLLIN, deadline)) {
      error = "timed out waiting for data";
      return "";
    }
    char buf[4096];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      error = std::string("read: ") + std::strerror(errno);
      return "";
    }
    if (n == 0) {
      error = "closed by the peer";
      return "";
    }
    line.append(buf, static_cast<size_t>(n));
  }
}

// Reads until EOF (bounded by the deadline and 1 MiB).
bool ReadToEof(int fd, int64_t deadline, std::string& out, std::string& error) {
  char buf[16384];
  while (out.size() < (1u << 20)) {
    if (!WaitFd(fd, POLLIN, deadline)) {
      error = "timed out waiting for EOF";
      return false;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) {
      error = std::string("read: ") + std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    out.append(buf, static_cast<size_t>(n));
  }
  error = "response too large";
  return false;
}

std::string FirstWord(const std::string& s) {
  return s.substr(0, s.find(' '));
}

// One exchange: the server's name, or "" with `error`.
std::string Once(const Address& a, const CallOptions& o, std::string& error) {
  int64_t deadline = NowMs() + o.timeout_ms;
  int fd = Connect(a, deadline, error);
  if (fd < 0) return "";
  std::string name;
  if (o.http) {
    std::string req = "GET / HTTP/1.1\r\nHost: " + o.target +
                      "\r\nUser-Agent: weft-testapp\r\nConnection: close\r\n\r\n";
    std::string resp;
    if (!WriteAll(fd, req.data(), req.size())) {
      error = std::string("write: ") + std::strerror(errno);
    } else if (ReadToEof(fd, deadline, resp, error)) {
      auto body = resp.find("\r\n\r\n");
      if (!resp.starts_with("HTTP/1.1 200") || body == std::string::npos) {
        error = "bad response: " + resp.substr(0, resp.find('\r'));
      } else {
        name = resp.substr(body + 4);
        while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
        if (name.empty()) error = "empty body";
      }
    }
    if (o.verbose && !name.empty()) std::printf("%s\n", name.c_str());
  } else {
    std::string rest;
    std::string greeting = ReadLine(fd, deadline, error, rest);
    if (!greeting.empty()) {
      name = FirstWord(greeting);
      if (o.verbose) std::printf("%s\n", greeting.c_str());
    } else if (error.empty()) {
      error = "empty greeting";
    }
  }
  close(fd);
  return name;
}

int Hold(const Address& a, const CallOptions& o) {
  std::string error;
  int64_t deadline = NowMs() + o.timeout_ms;
  int fd = Connect(a, deadline, error);
  if (fd < 0) {
    std::fprintf(stderr, "error: %s\n", error.c_str());
    return 1;
  }
  std::string rest;
  std::string greeting = ReadLine(fd, deadline, error, rest);
  if (greeting.empty()) {
    std::fprintf(stderr, "error: greeting: %s\n", error.empty() ? "empty" : error.c_str());
    close(fd);
    return 1;
  }
  // At once, so that a test knows the long-lived connection is established.
  std::printf("%s\n", greeting.c_str());
  std::fflush(stdout);
  int64_t start = NowMs(), end = start + o.hold_ms;
  int trips = 0;
  while (true) {
    std::string ping = "ping " + std::to_string(trips) + "\n";
    int64_t t0 = NowMs();
    if (!WriteAll(fd, ping.data(), ping.size())) {
      std::fprintf(stderr, "error: round trip %d at %lld ms: write: %s\n", trips,
                   static_cast<long long>(t0 - start), std::strerror(errno));
      close(fd);
      return 1;
    }
    std::string echo = ReadLine(fd, t0 + o.timeout_ms, error, rest);
    if (echo + "\n" != ping) {
      std::fprintf(stderr, "error: round trip %d at %lld ms: %s\n", trips,
                   static_cast<long long>(t0 - start),
                   error.empty() ? ("got \"" + echo + "\"").c_str() : error.c_str());
      close(fd);
      return 1;
    }
    ++trips;
    int64_t now = NowMs();
    if (now >= end) break;
    usleep(static_cast<useconds_t>(std::min<int64_t>(o.interval_ms, end - now) * 1000));
  }
  // Half-close: the server must see EOF, finish and close its side.
  shutdown(fd, SHUT_WR);
  std::string tail;
  bool eof = ReadToEof(fd, NowMs() + o.timeout_ms, tail, error);
  close(fd);
  if (!eof) {
    std::fprintf(stderr, "error: after half-close: %s\n", error.c_str());
    return 1;
  }
  std::printf("%s 1\n", FirstWord(greeting).c_str());
  std::fprintf(stderr, "held %lld ms: %d round trips\n", static_cast<long long>(NowMs() - start),
               trips);
  return 0;
}

}  // namespace

int Call(const CallOptions& o) {
  signal(SIGPIPE, SIG_IGN);
  Address a;
  if (auto err = Resolve(o.target, a); !err.empty()) {
    std::fprintf(stderr, "error: %s\n", err.c_str());
    return 2;
  }
  if (o.hold_ms > 0) return Hold(a, o);
  std::map<std::string, int> names, errors;
  for (int i = 0; i < o.count; ++i) {
    std::string error;
    std::string name = Once(a, o, error);
    if (name.empty()) {
      ++errors[error];
    } else {
      ++names[name];
    }
  }
  for (const auto& [name, n] : names) std::printf("%s %d\n", name.c_str(), n);
  std::fflush(stdout);
  for (const auto& [error, n] : errors) {
    std::fprintf(stderr, "error: %s (%d of %d)\n", error.c_str(), n, o.count);
  }
  return errors.empty() ? 0 : 1;
}

}  // namespace weft::testapp
