#pragma once

// Shared by the BPF tests that load the data path through weft_datapath: a private cgroup v2
// directory, and "pods" — forked children that join it and a fresh network namespace with
// only lo up, run their steps one phase at a time on the parent's signal, and send back a
// plain PodReport (gtest assertions made in a child would be lost). Same approach as
// sock_connect_test.cc, which predates it.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace weft::testing {

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

constexpr int kIoTimeoutMs = 5000;

inline std::string Cgroup2Mount() {
  std::ifstream mounts("/proc/mounts");
  std::string line;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string dev, dir, type;
    fields >> dev >> dir >> type;
    if (type == "cgroup2") return dir;
  }
  return "";
}

inline sockaddr_in Addr4(const char* ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  inet_pton(AF_INET, ip, &sa.sin_addr);
  sa.sin_port = htons(port);
  return sa;
}

inline bool BringLoopbackUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  close(fd);
  return ok;
}

inline uint64_t NetnsCookieOf(int fd) {
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) return 0;
  return cookie;
}

inline uint64_t NetnsCookie() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  uint64_t cookie = fd < 0 ? 0 : NetnsCookieOf(fd);
  if (fd >= 0) close(fd);
  return cookie;
}

// What a pod sends back: an error (empty if none), its netns cookie and numbered values whose
// meaning each test defines.
struct PodReport {
  char error[256] = {};
  uint64_t netns_cookie = 0;
  int64_t v[32] = {};
  char text[4][64] = {};
};
static_assert(std::is_trivially_copyable_v<PodReport>);

inline void Fail(PodReport& r, const std::string& what) {
  if (r.error[0] != '\0') return;
  snprintf(r.error, sizeof(r.error), "%s: %s", what.c_str(), strerror(errno));
}

// A listening TCP socket on ip:port (SO_REUSEADDR), or -1 after Fail().
inline int Listen(PodReport& r, const char* ip, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in sa = Addr4(ip, port);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      listen(fd, 16) != 0) {
    Fail(r, std::string("listen on ") + ip + ":" + std::to_string(port));
    return -1;
  }
  return fd;
}

// accept() with a timeout; -1 when nothing arrived in time.
inline int AcceptWithin(int listener, int timeout_ms) {
  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, timeout_ms) != 1) return -1;
  return accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

// Writes all of data, then reads exactly want bytes; false on timeout or error.
inline bool WriteAll(int fd, const std::string& data) {
  for (size_t off = 0; off < data.size();) {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, kIoTimeoutMs) != 1) return false;
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

inline bool ReadExactly(int fd, size_t want, std::string* out) {
  out->clear();
  char buf[16384];
  while (out->size() < want) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, kIoTimeoutMs) != 1) return false;
    ssize_t n = read(fd, buf, std::min(sizeof(buf), want - out->size()));
    if (n <= 0) return false;
    out->append(buf, static_cast<size_t>(n));
  }
  return true;
}

// Polls cond every 10 ms for up to timeout_ms; true as soon as it holds. For effects that the
// kernel completes after a process exits (TCP state changes on loopback run in softirq).
inline bool WaitFor(const std::function<bool()>& cond, int timeout_ms = kIoTimeoutMs) {
  for (int waited = 0;; waited += 10) {
    if (cond()) return true;
    if (waited >= timeout_ms) return false;
    usleep(10 * 1000);
  }
}

// A forked child in a cgroup and a new netns (lo up) that runs phases one at a time.
class Pod {
 public:
  using Phase = std::function<void(PodReport&)>;

  // Starts the child and runs phases[0]; returns once it finished (or the child died).
  Pod(const std::string& cgroup_dir, std::vector<Phase> phases) : phases_(phases.size()) {
    int to_child[2], from_child[2];
    if (pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
      snprintf(report_.error, sizeof(report_.error), "pipe: %s", strerror(errno));
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      close(to_child[1]);
      close(from_child[0]);
      RunChild(cgroup_dir, phases, to_child[0], from_child[1]);
      _exit(0);
    }
    close(to_child[0]);
    close(from_child[1]);
    to_child_ = to_child[1];
    from_child_ = from_child[0];
    if (pid_ < 0) {
      snprintf(report_.error, sizeof(report_.error), "fork: %s", strerror(errno));
      return;
    }
    WaitPhase();
  }

  ~Pod() {
    if (pid_ > 0 && !finished_) Finish();
  }

  pid_t pid() const { return pid_; }

  // Runs the next phase in the child and waits for it.
  void Next() {
    char go = 'g';
    if (write(to_child_, &go, 1) != 1) return;
    WaitPhase();
  }

  // Runs every remaining phase, waits for the child to exit, returns its report.
  PodReport Finish() {
    while (done_ < phases_) Next();
    finished_ = true;
    if (pid_ <= 0) return report_;
    char go = 'g';
    (void)!write(to_child_, &go, 1);  // let the child send its report
    PodReport report{};
    size_t got = 0;
    char* p = reinterpret_cast<char*>(&report);
    while (got < sizeof(report)) {
      pollfd pf{from_child_, POLLIN, 0};
      if (poll(&pf, 1, 30000) != 1) break;
      ssize_t n = read(from_child_, p + got, sizeof(report) - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    int status = 0;
    if (got != sizeof(report)) kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    close(to_child_);
    close(from_child_);
    if (got != sizeof(report) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      snprintf(report.error, sizeof(report.error), "pod process died (status 0x%x, %zu bytes)",
               status, got);
    }
    report_ = report;
    return report;
  }

 private:
  void WaitPhase() {
    char done;
    pollfd pf{from_child_, POLLIN, 0};
    if (poll(&pf, 1, 30000) == 1 && read(from_child_, &done, 1) == 1)
      ++done_;
    else
      done_ = phases_;  // the child is gone; Finish() reports it
  }

  static void RunChild(const std::string& cgroup_dir, const std::vector<Phase>& phases, int in,
                       int out) {
    PodReport report{};
    std::string procs = cgroup_dir + "/cgroup.procs";
    int cg = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
    if (cg < 0 || write(cg, "0", 1) != 1) {
      Fail(report, "join " + procs);
    } else if (unshare(CLONE_NEWNET) != 0) {
      Fail(report, "unshare(CLONE_NEWNET)");
    } else if (!BringLoopbackUp()) {
      Fail(report, "bring lo up");
    } else if ((report.netns_cookie = NetnsCookie()) == 0) {
      Fail(report, "SO_NETNS_COOKIE");
    }
    char c = 'd';
    for (size_t i = 0; i < phases.size(); ++i) {
      if (i > 0 && read(in, &c, 1) != 1) _exit(3);
      if (report.error[0] == '\0') phases[i](report);
      if (write(out, &c, 1) != 1) _exit(3);
    }
    if (read(in, &c, 1) != 1) _exit(3);
    const char* p = reinterpret_cast<const char*>(&report);
    for (size_t off = 0; off < sizeof(report);) {
      ssize_t n = write(out, p + off, sizeof(report) - off);
      if (n <= 0) _exit(2);
      off += static_cast<size_t>(n);
    }
  }

  PodReport report_{};
  pid_t pid_ = -1;
  int to_child_ = -1, from_child_ = -1;
  size_t phases_ = 0, done_ = 0;
  bool finished_ = false;
};

// A cgroup v2 directory of its own for one test; skips without root (fails under CI).
class BpfFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (getenv("CI") != nullptr) FAIL() << "BPF tests need root; in CI a skip is a failure";
      GTEST_SKIP() << "BPF tests need root (they load programs and create cgroups)";
    }
    std::string mount = Cgroup2Mount();
    ASSERT_FALSE(mount.empty()) << "no cgroup2 mount in /proc/mounts";
    name_ = std::to_string(getpid()) + "." +
            ::testing::UnitTest::GetInstance()->current_test_info()->name();
    cgroup_dir_ = mount + "/weft-bpf-test." + name_;
    ASSERT_EQ(mkdir(cgroup_dir_.c_str(), 0755), 0) << cgroup_dir_ << ": " << strerror(errno);
  }

  void TearDown() override {
    if (!cgroup_dir_.empty() && rmdir(cgroup_dir_.c_str()) != 0 && errno != ENOENT) {
      ADD_FAILURE() << "could not remove " << cgroup_dir_ << ": " << strerror(errno);
    }
  }

  std::string name_;
  std::string cgroup_dir_;
};

}  // namespace weft::testing
