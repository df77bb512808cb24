#include "agent/proxy/control_channel.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"

namespace weft::agent::proxy {

namespace {

constexpr size_t kMaxFds = 64;
constexpr uint32_t kMaxPayload = 1u << 30;

absl::Status WriteAll(int sock, const char* p, size_t n) {
  while (n > 0) {
    ssize_t w = send(sock, p, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return absl::ErrnoToStatus(errno, "send on control channel");
    p += w;
    n -= static_cast<size_t>(w);
  }
  return absl::OkStatus();
}

absl::Status ReadAll(int sock, char* p, size_t n) {
  while (n > 0) {
    ssize_t r = recv(sock, p, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return absl::DataLossError("control channel closed mid-frame");
    if (r < 0) return absl::ErrnoToStatus(errno, "recv on control channel");
    p += r;
    n -= static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  strncpy(sa.sun_path, path.c_str(), sizeof(sa.sun_path) - 1);
  return sa;
}

}  // namespace

absl::Status SendFrame(int sock, const Frame& frame) {
  if (frame.fds.size() > kMaxFds) return absl::InvalidArgumentError("too many descriptors");
  char header[5];
  uint32_t len = static_cast<uint32_t>(frame.payload.size());
  for (int i = 0; i < 4; ++i) header[i] = static_cast<char>((len >> (8 * i)) & 0xff);
  header[4] = static_cast<char>(frame.type);
  iovec iov{header, sizeof(header)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!frame.fds.empty()) {
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * frame.fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * frame.fds.size());
    memcpy(CMSG_DATA(c), frame.fds.data(), sizeof(int) * frame.fds.size());
  }
  ssize_t w;
  do {
    w = sendmsg(sock, &msg, MSG_NOSIGNAL);
  } while (w < 0 && errno == EINTR);
  if (w < 0) return absl::ErrnoToStatus(errno, "sendmsg on control channel");
  if (static_cast<size_t>(w) < sizeof(header)) {
    if (auto st = WriteAll(sock, header + w, sizeof(header) - static_cast<size_t>(w)); !st.ok()) {
      return st;
    }
  }
  return WriteAll(sock, frame.payload.data(), frame.payload.size());
}

absl::StatusOr<Frame> ReceiveFrame(int sock) {
  char header[5];
  iovec iov{header, sizeof(header)};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof(control);
  ssize_t r;
  do {
    r = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return absl::NotFoundError("control channel closed");
  if (r < 0) return absl::ErrnoToStatus(errno, "recvmsg on control channel");
  Frame f;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const int* fds = reinterpret_cast<const int*>(CMSG_DATA(c));
      f.fds.assign(fds, fds + n);
    }
  }
  if (static_cast<size_t>(r) < sizeof(header)) {
    if (auto st = ReadAll(sock, header + r, sizeof(header) - static_cast<size_t>(r)); !st.ok()) {
      return st;
    }
  }
  uint32_t len = 0;
  for (int i = 0; i < 4; ++i)
    len |= static_cast<uint32_t>(static_cast<uint8_t>(header[i])) << (8 * i);
  if (len > kMaxPayload) return absl::DataLossError("control frame too large");
  f.type = static_cast<FrameType>(header[4]);
  f.payload.resize(len);
  if (auto st = ReadAll(sock, f.payload.data(), len); !st.ok()) return st;
  return f;
}

absl::StatusOr<int> ConnectUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  sockaddr_un sa = UnixAddress(path);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int e = errno;
    close(fd);
    return absl::UnavailableError("connect " + path + ": " + strerror(e));
  }
  return fd;
}

absl::StatusOr<int> ListenUnix(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket(AF_UNIX)");
  unlink(path.c_str());
  sockaddr_un sa = UnixAddress(path);
  if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 || listen(fd, 4) != 0) {
    int e = errno;
    close(fd);
    return absl::UnavailableError("listen on " + path + ": " + strerror(e));
  }
  return fd;
}

}  // namespace weft::agent::proxy
