#pragma once

// Network namespaces of pods, seen from the agent: open one, learn its cookie, and make
// sockets inside it. A socket keeps the namespace it was created in, so the agent can create
// a pod's listeners and outbound sockets without running anything in the pod.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace weft::agent::inpod {

// An open network namespace (owns the descriptor).
class Netns {
 public:
  // Opens a namespace file: /run/netns/NAME, /proc/PID/ns/net, ...
  static absl::StatusOr<Netns> Open(const std::string& path);
  // Adopts a descriptor (e.g. one received over a Unix socket).
  static absl::StatusOr<Netns> FromFd(int fd);
  Netns(Netns&& o) noexcept : fd_(o.fd_), cookie_(o.cookie_) { o.fd_ = -1; }
  Netns& operator=(Netns&& o) noexcept;
  Netns(const Netns&) = delete;
  ~Netns();

  int fd() const { return fd_; }
  // The kernel's netns cookie (SO_NETNS_COOKIE): what BPF programs key pods by.
  uint64_t cookie() const { return cookie_; }

 private:
  Netns(int fd, uint64_t cookie) : fd_(fd), cookie_(cookie) {}
  int fd_ = -1;
  uint64_t cookie_ = 0;
};

// socket(2) inside the namespace `netns_fd`; the calling thread's namespace is restored
// before returning. The result is close-on-exec.
absl::StatusOr<int> SocketIn(int netns_fd, int domain, int type, int protocol = 0);

// SO_NETNS_COOKIE of a socket.
absl::StatusOr<uint64_t> NetnsCookieOf(int socket_fd);

}  // namespace weft::agent::inpod
