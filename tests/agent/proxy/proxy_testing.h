#pragma once

// Helpers shared by the node proxy's tests: a private network namespace, a greeting+echo
// backend, and a client of the proxy's outbound listener.

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace weft::agent::proxy {

// Moves the test process into a fresh network namespace with lo up, so the fixed proxy
// ports never collide with anything else on the machine.
inline void EnterPrivateNetns() {
  static bool done = false;
  if (done) return;
  ASSERT_EQ(unshare(CLONE_NEWNET), 0) << strerror(errno);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq ifr{};
  strcpy(ifr.ifr_name, "lo");
  ASSERT_EQ(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
  ifr.ifr_flags |= IFF_UP;
  ASSERT_EQ(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
  close(s);
  done = true;
}

// A backend: greets each connection with its name, then echoes until EOF. Connections are
// served one at a time unless `concurrent`.
class Backend {
 public:
  Backend(std::string name, const std::string& ip, uint16_t port) : name_(std::move(name)) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0 && listen(fd_, 128) == 0;
    thread_ = std::thread([this] { Run(); });
  }
  ~Backend() {
    stop_ = true;
    thread_.join();
    close(fd_);
    for (auto& t : conns_) t.join();
  }
  bool ok() const { return ok_; }
  int accepted() const { return accepted_; }

 private:
  void Run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 50) <= 0) continue;
      int c = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      ++accepted_;
      conns_.emplace_back([this, c] { Serve(c); });
    }
  }
  void Serve(int c) {
    std::string hello = name_ + "\n";
    (void)!write(c, hello.data(), hello.size());
    char buf[4096];
    for (;;) {
      pollfd p{c, POLLIN, 0};
      if (poll(&p, 1, 5000) <= 0) break;
      ssize_t n = read(c, buf, sizeof(buf));
      if (n <= 0) break;
      (void)!write(c, buf, n);
    }
    close(c);
  }

  std::string name_;
  int fd_ = -1;
  bool ok_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
  std::vector<std::thread> conns_;
};

// Connects from `source` (an address on lo) to the proxy's outbound listener.
inline int Connect(const std::string& source, uint16_t port = 15001) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Reads one line (or until EOF/timeout).
inline std::string ReadLine(int fd, int timeout_ms = 3000) {
  std::string out;
  char c;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) break;
    if (read(fd, &c, 1) != 1) break;
    if (c == '\n') break;
    out += c;
  }
  return out;
}

}  // namespace weft::agent::proxy
