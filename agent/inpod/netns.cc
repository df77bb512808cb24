#include "agent/inpod/netns.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace weft::agent::inpod {

namespace {

absl::Status Errno(const std::string& what) {
  return absl::ErrnoToStatus(errno, what);
}

}  // namespace

absl::StatusOr<uint64_t> NetnsCookieOf(int socket_fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(socket_fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return Errno("getsockopt(SO_NETNS_COOKIE)");
  }
  return cookie;
}

absl::StatusOr<int> SocketIn(int netns_fd, int domain, int type, int protocol) {
  // This thread's own namespace, opened once per thread (a proxy worker creates a socket per
  // upstream connection; opening /proc each time cost as much as the two setns calls).
  thread_local int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self < 0) return Errno("open /proc/thread-self/ns/net");
  if (setns(netns_fd, CLONE_NEWNET) != 0) return Errno("setns into pod network namespace");
  int fd = socket(domain, type | SOCK_CLOEXEC, protocol);
  int saved = errno;
  // Going back must not fail: this thread serves other pods next.
  if (setns(self, CLONE_NEWNET) != 0) {
    std::abort();  // a thread stuck in a pod's namespace would misroute everything after
  }
  if (fd < 0) {
    errno = saved;
    return Errno("socket in pod network namespace");
  }
  return fd;
}

absl::StatusOr<Netns> Netns::Open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open " + path);
  return FromFd(fd);
}

absl::StatusOr<Netns> Netns::FromFd(int fd) {
  auto s = SocketIn(fd, AF_INET, SOCK_STREAM);
  if (!s.ok()) {
    close(fd);
    return s.status();
  }
  auto cookie = NetnsCookieOf(*s);
  close(*s);
  if (!cookie.ok()) {
    close(fd);
    return cookie.status();
  }
  return Netns(fd, *cookie);
}

Netns& Netns::operator=(Netns&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) close(fd_);
    fd_ = o.fd_;
    cookie_ = o.cookie_;
    o.fd_ = -1;
  }
  return *this;
}

Netns::~Netns() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace weft::agent::inpod
