#include "tools/netns-cluster/sys.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "absl/status/status.h"

extern char** environ;

namespace weft::cluster::sys {

namespace fs = std::filesystem;

namespace {

std::string Errno(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

std::string Join(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) {
    if (!s.empty()) s += ' ';
    s += a;
  }
  return s;
}

std::vector<pid_t> ReadPids(const std::string& file) {
  std::vector<pid_t> out;
  std::ifstream in(file);
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

}  // namespace

void ResetSignals() {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  for (int s = 1; s < NSIG; ++s) {
    if (s == SIGKILL || s == SIGSTOP) continue;
    signal(s, SIG_DFL);
  }
}

absl::StatusOr<std::string> Run(const std::vector<std::string>& argv, int timeout_ms) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return absl::InternalError(Errno("pipe"));
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return absl::InternalError(Errno("pipe"));
  }
  pid_t pid = fork();
  if (pid < 0) {
    for (int fd : {out[0], out[1], err[0], err[1]}) close(fd);
    return absl::InternalError(Errno("fork"));
  }
  if (pid == 0) {
    ResetSignals();
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out[1], 1);
    dup2(err[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    dprintf(2, "exec %s: %s", args[0], std::strerror(errno));
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  std::string so, se;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  int64_t deadline = MonotonicMs() + timeout_ms;
  bool timed_out = false;
  while (open_fds > 0) {
    int64_t left = deadline - MonotonicMs();
    if (left <= 0) {
      timed_out = true;
      break;
    }
    int r = poll(fds, 2, static_cast<int>(left));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[4096];
      ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        (i == 0 ? so : se).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(Join(argv) + ": no answer within " +
                                       std::to_string(timeout_ms) + " ms");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    while (!se.empty() && (se.back() == '\n' || se.back() == ' ')) se.pop_back();
    return absl::InternalError(Join(argv) + ": " + DescribeWaitStatus(status) +
                               (se.empty() ? "" : ": " + se));
  }
  return so;
}

const std::string& IpBin() {
  static const std::string bin = [] {
    for (const char* p : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
      if (access(p, X_OK) == 0) return std::string(p);
    }
    return std::string("/usr/sbin/ip");
  }();
  return bin;
}

absl::Status Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv{IpBin()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv).status();
}

absl::StatusOr<std::string> Cgroup2Mount() {
  std::ifstream in("/proc/mounts");
  std::string dev, dir, type, rest;
  std::vector<std::string> found;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (type == "cgroup2") found.push_back(dir);
  }
  if (found.empty()) {
    return absl::FailedPreconditionError(
        "no cgroup2 mount in /proc/mounts (mount one: mount -t cgroup2 none /sys/fs/cgroup)");
  }
  for (const auto& d : found) {
    if (d == "/sys/fs/cgroup") return d;
  }
  return found.front();
}

int64_t MonotonicMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

int64_t WallMs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

std::string Rfc3339Now() {
  time_t t = time(nullptr);
  tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(Errno("cannot read " + path));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(Errno("cannot open " + path));
  ssize_t n = write(fd, text.data(), text.size());
  int e = errno;
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    errno = e;
    return absl::InternalError(Errno("cannot write " + path));
  }
  return absl::OkStatus();
}

absl::Status AppendFile(const std::string& path, const std::string& text) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(Errno("cannot open " + path));
  ssize_t n = write(fd, text.data(), text.size());
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) return absl::InternalError("short write " + path);
  return absl::OkStatus();
}

absl::Status MakeDirs(const std::string& path, mode_t mode) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return absl::InternalError("cannot create " + path + ": " + ec.message());
  chmod(path.c_str(), mode);
  return absl::OkStatus();
}

std::string SelfDir() {
  std::error_code ec;
  auto p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "." : p.parent_path().string();
}

std::vector<std::string> ListNetns() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/run/netns", ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<pid_t> PidsInNetns(const std::string& netns_path) {
  std::vector<pid_t> out;
  struct stat target;
  if (stat(netns_path.c_str(), &target) != 0) return out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    char* end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    struct stat st;
    std::string ns = std::string("/proc/") + e->d_name + "/ns/net";
    if (stat(ns.c_str(), &st) == 0 && st.st_ino == target.st_ino && st.st_dev == target.st_dev) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  closedir(d);
  return out;
}

std::vector<pid_t> PidsInCgroupTree(const std::string& dir) {
  std::vector<pid_t> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  auto add = [&](const std::string& d) {
    for (pid_t p : ReadPids(d + "/cgroup.procs")) out.push_back(p);
  };
  add(dir);
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) add(it->path().string());
  }
  return out;
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0 && errno == ESRCH) return false;
  // A zombie is not alive for our purposes.
  auto stat = ReadFile("/proc/" + std::to_string(pid) + "/stat");
  if (!stat.ok()) return false;
  auto close_paren = stat->rfind(')');
  return close_paren == std::string::npos || close_paren + 2 >= stat->size() ||
         (*stat)[close_paren + 2] != 'Z';
}

void KillAndWait(const std::vector<pid_t>& pids, int timeout_ms) {
  for (pid_t p : pids) {
    if (p > 1 && p != getpid()) kill(p, SIGKILL);
  }
  int64_t deadline = MonotonicMs() + timeout_ms;
  while (MonotonicMs() < deadline) {
    bool any = false;
    for (pid_t p : pids) {
      // Reap our own children; others are reaped by their parents (or init).
      waitpid(p, nullptr, WNOHANG);
      if (p > 1 && p != getpid() && ProcessAlive(p)) any = true;
    }
    if (!any) return;
    usleep(10000);
  }
}

void KillCgroupTree(const std::string& dir) {
  if (!Exists(dir)) return;
  if (Exists(dir + "/cgroup.kill") && WriteFile(dir + "/cgroup.kill", "1").ok()) return;
  for (pid_t p : PidsInCgroupTree(dir)) kill(p, SIGKILL);
}

absl::Status RemoveCgroupTree(const std::string& dir, int timeout_ms) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return absl::OkStatus();
  KillCgroupTree(dir);
  int64_t deadline = MonotonicMs() + timeout_ms;
  while (true) {
    std::vector<std::string> dirs;
    for (auto it = fs::recursive_directory_iterator(dir, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (it->is_directory(ec)) dirs.push_back(it->path().string());
    }
    std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a > b; });
    dirs.push_back(dir);
    std::string failed;
    for (const auto& d : dirs) {
      if (rmdir(d.c_str()) != 0 && errno != ENOENT && failed.empty()) failed = Errno(d);
    }
    if (failed.empty()) return absl::OkStatus();
    if (MonotonicMs() > deadline) return absl::InternalError("cannot remove cgroup " + failed);
    KillCgroupTree(dir);
    usleep(20000);
  }
}

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return absl::InternalError("cannot remove " + path + ": " + ec.message());
  return absl::OkStatus();
}

std::vector<std::string> ListLinks() {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator("/sys/class/net", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    out.push_back(it->path().filename().string());
  }
  return out;
}

std::vector<uint32_t> LocalIpv4Addresses() {
  std::vector<uint32_t> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (ifaddrs* a = list; a; a = a->ifa_next) {
    if (a->ifa_addr && a->ifa_addr->sa_family == AF_INET) {
      out.push_back(ntohl(reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr.s_addr));
    }
  }
  freeifaddrs(list);
  return out;
}

absl::Status EnterNetns(const std::string& netns_path) {
  int fd = open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(Errno("cannot open netns " + netns_path));
  int r = setns(fd, CLONE_NEWNET);
  int e = errno;
  close(fd);
  if (r != 0) {
    errno = e;
    return absl::InternalError(Errno("setns " + netns_path));
  }
  return absl::OkStatus();
}

absl::Status JoinCgroup(const std::string& dir) {
  return WriteFile(dir + "/cgroup.procs", "0");
}

absl::Status WriteSysctlsInNetns(const std::string& netns_path,
                                 const std::vector<std::pair<std::string, std::string>>& values) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) return absl::InternalError(Errno("pipe"));
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(Errno("fork"));
  if (pid == 0) {
    close(p[0]);
    std::string err;
    if (auto s = EnterNetns(netns_path); !s.ok()) {
      err = std::string(s.message());
    } else {
      for (const auto& [path, value] : values) {
        // Net sysctls belong to the netns of the task that opens them. "?path": only if the
        // kernel has it (IPv6 may be compiled out or disabled).
        bool optional = path.starts_with("?");
        std::string file = "/proc/sys/" + path.substr(optional ? 1 : 0);
        if (optional && !Exists(file)) continue;
        if (auto s = WriteFile(file, value); !s.ok()) {
          err = std::string(s.message());
          break;
        }
      }
    }
    if (!err.empty()) (void)!write(p[1], err.data(), err.size());
    _exit(err.empty() ? 0 : 1);
  }
  close(p[1]);
  std::string err;
  char buf[512];
  ssize_t n;
  while ((n = read(p[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) err.append(buf, static_cast<size_t>(n));
  }
  close(p[0]);
  while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  if (!err.empty()) return absl::InternalError(err);
  return absl::OkStatus();
}

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
  return "status " + std::to_string(status);
}

std::vector<std::string> EnvWith(const std::vector<std::string>& overrides) {
  std::map<std::string, std::string> env;
  std::vector<std::string> order;
  for (char** e = environ; e && *e; ++e) {
    std::string s(*e);
    auto eq = s.find('=');
    if (eq == std::string::npos) continue;
    std::string k = s.substr(0, eq);
    if (!env.contains(k)) order.push_back(k);
    env[k] = s;
  }
  for (const auto& s : overrides) {
    std::string k = s.substr(0, s.find('='));
    if (!env.contains(k)) order.push_back(k);
    env[k] = s;
  }
  std::vector<std::string> out;
  for (const auto& k : order) out.push_back(env[k]);
  return out;
}

}  // namespace weft::cluster::sys
