#include "tools/netns-cluster/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "tools/netns-cluster/sys.h"

namespace weft::cluster {

namespace {

[[noreturn]] void Fail(int fd, const std::string& what) {
  std::string msg = what + ": " + std::strerror(errno);
  (void)!write(fd, msg.data(), msg.size());
  _exit(127);
}

[[noreturn]] void FailStatus(int fd, const absl::Status& s) {
  std::string msg(s.message());
  (void)!write(fd, msg.data(), msg.size());
  _exit(127);
}

std::string PathOf(const std::vector<std::string>& env) {
  for (const auto& e : env) {
    if (e.starts_with("PATH=")) return e.substr(5);
  }
  return "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
}

}  // namespace

absl::StatusOr<pid_t> Spawn(const SpawnOptions& o) {
  if (o.argv.empty()) return absl::InvalidArgumentError("empty command");
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    return absl::InternalError(std::string("pipe: ") + std::strerror(errno));
  }
  // Prepared before fork: the child only calls what it must.
  std::vector<char*> argv, envp;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : o.env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string path = PathOf(o.env);

  pid_t pid = fork();
  if (pid < 0) {
    close(p[0]);
    close(p[1]);
    return absl::InternalError(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    close(p[0]);
    sys::ResetSignals();
    setsid();
    int in = open("/dev/null", O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0) Fail(p[1], "/dev/null");
    if (!o.log.empty()) {
      int log = open(o.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (log < 0) Fail(p[1], "open " + o.log);
      dup2(log, 1);
      dup2(log, 2);
      if (log > 2) close(log);
    }
    // The netns before the cgroup: never a process in a pod's cgroup and the host's netns,
    // which an agent finding pods' netns from their cgroups could take for the pod.
    if (!o.netns.empty()) {
      if (auto s = sys::EnterNetns(o.netns); !s.ok()) FailStatus(p[1], s);
    }
    if (!o.cgroup.empty()) {
      if (auto s = sys::JoinCgroup(o.cgroup); !s.ok()) FailStatus(p[1], s);
    }
    if (chdir(o.cwd.c_str()) != 0) Fail(p[1], "chdir " + o.cwd);
    std::string cmd = o.argv[0];
    if (cmd.find('/') != std::string::npos) {
      execve(cmd.c_str(), argv.data(), envp.data());
      Fail(p[1], "exec " + cmd);
    }
    int err = ENOENT;
    size_t start = 0;
    while (start <= path.size()) {
      size_t end = path.find(':', start);
      if (end == std::string::npos) end = path.size();
      std::string dir = path.substr(start, end - start);
      std::string full = (dir.empty() ? "." : dir) + "/" + cmd;
      execve(full.c_str(), argv.data(), envp.data());
      if (errno != ENOENT) err = errno;
      start = end + 1;
    }
    errno = err;
    Fail(p[1], "exec " + cmd);
  }
  close(p[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) err.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  if (!err.empty()) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return absl::FailedPreconditionError(err);
  }
  return pid;
}

int StopProcessGroup(pid_t pid, int grace_ms) {
  if (pid <= 1) return -1;
  kill(-pid, SIGTERM);
  kill(pid, SIGTERM);
  int status = 0;
  int64_t deadline = sys::MonotonicMs() + grace_ms;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno == ECHILD) {
      status = -1;
      break;
    }
    if (sys::MonotonicMs() >= deadline) {
      kill(-pid, SIGKILL);
      kill(pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    usleep(10000);
  }
  // Whatever else of the group survived SIGTERM.
  kill(-pid, SIGKILL);
  return status;
}

}  // namespace weft::cluster
