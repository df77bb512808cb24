#include "tools/netns-cluster/control.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/status/status.h"

namespace weft::cluster {

StatePaths StatePaths::For(const std::string& state_path) {
  StatePaths p;
  p.state = state_path;
  std::filesystem::path dir = std::filesystem::path(state_path).parent_path();
  p.dir = (dir.empty() ? std::filesystem::path(".") : dir).string();
  return p;
}

pid_t LiveSupervisorPid(const StatePaths& paths) {
  int fd = open(paths.pidfile().c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  pid_t pid = 0;
  if (flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
    char buf[32] = {};
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n > 0) pid = static_cast<pid_t>(atoi(buf));
    if (pid <= 0) pid = -1;  // locked but unreadable: still alive
  }
  close(fd);
  return pid;
}

absl::StatusOr<std::string> ControlRequest(const StatePaths& paths, const std::string& request,
                                           int timeout_ms) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = paths.control();
  if (path.size() >= sizeof addr.sun_path) {
    return absl::FailedPreconditionError("control socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::string("socket: ") + std::strerror(errno));
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    close(fd);
    return absl::UnavailableError("supervisor not reachable at " + path + ": " + std::strerror(e));
  }
  std::string line = request + "\n";
  if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    close(fd);
    return absl::UnavailableError("cannot send to the supervisor");
  }
  std::string answer;
  char buf[1024];
  while (answer.find('\n') == std::string::npos) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    answer.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  if (auto nl = answer.find('\n'); nl != std::string::npos) answer.resize(nl);
  if (answer.starts_with("ok")) return answer.size() > 3 ? answer.substr(3) : "";
  if (answer.starts_with("error ")) return absl::FailedPreconditionError(answer.substr(6));
  return absl::UnavailableError("no answer from the supervisor");
}

}  // namespace weft::cluster
