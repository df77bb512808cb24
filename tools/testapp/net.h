#pragma once

// Socket helpers of weft-testapp: addresses as "ip:port" ("[v6]:port"), deadlines.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace weft::testapp {

struct Address {
  sockaddr_storage ss{};
  socklen_t len = 0;
};

// "host:port" or "[v6]:port"; host may be a name. Empty error on success.
std::string Resolve(const std::string& host_port, Address& out);
// A numeric address to bind ("0.0.0.0", "::") and a port.
std::string BindAddress(const std::string& ip, int port, Address& out);
// "10.0.0.1:80", "[::1]:80" (v4-mapped v6 printed as v4).
std::string Format(const sockaddr* sa);
std::string LocalOf(int fd);
std::string PeerOf(int fd);

int64_t NowMs();
// Writes everything (MSG_NOSIGNAL); false on error.
bool WriteAll(int fd, const char* data, size_t len);
// Waits until fd is readable/writable or the deadline passes; false on timeout.
bool WaitFd(int fd, short events, int64_t deadline_ms);

}  // namespace weft::testapp
