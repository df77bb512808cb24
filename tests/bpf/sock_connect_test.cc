// Loads bpf/progs/sock_connect.bpf.c through its skeleton, attaches it to a fresh cgroup v2
// directory, and drives real connect() calls from a child process that sits in that cgroup and
// in a fresh, empty network namespace. Nothing leaves the child's netns: redirected
// connections land on a listener inside it, and the rest fail with ENETUNREACH because the
// namespace has no route but loopback.

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

#include "bpf/abi/sock_connect.h"
#include "sock_connect.skel.h"

// The C++ side of the ABI: the same header, checked again from a C++ compiler.
static_assert(sizeof(weft_enrolled_netns) == 4);
static_assert(sizeof(weft_service_key) == 20);
static_assert(offsetof(weft_service_key, addr) == 0);
static_assert(offsetof(weft_service_key, port) == 16);
static_assert(offsetof(weft_service_key, proto) == 18);
static_assert(offsetof(weft_service_key, pad) == 19);
static_assert(sizeof(weft_service_value) == 8);
static_assert(sizeof(weft_orig_dst) == 24);
static_assert(offsetof(weft_orig_dst, port) == 16);
static_assert(offsetof(weft_orig_dst, service_id) == 20);
static_assert(std::is_trivially_copyable_v<weft_service_key>);
static_assert(std::is_trivially_copyable_v<weft_orig_dst>);
static_assert(WEFT_SOCK_VERDICT_COUNT == 8, "new verdict: add it to VerdictName and docs/bpf.md");

namespace weft::bpf {
namespace {

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

constexpr char kServiceIp[] = "10.96.0.10";
constexpr uint16_t kServicePort = 80;
constexpr uint32_t kServiceId = 7;
constexpr int kAcceptTimeoutMs = 5000;

const char* VerdictName(uint32_t v) {
  switch (v) {
    case WEFT_SOCK_REDIRECTED:
      return "REDIRECTED";
    case WEFT_SOCK_NOT_ENROLLED:
      return "NOT_ENROLLED";
    case WEFT_SOCK_NOT_TCP:
      return "NOT_TCP";
    case WEFT_SOCK_NOT_MESH_DEST:
      return "NOT_MESH_DEST";
    case WEFT_SOCK_LOOP_GUARD:
      return "LOOP_GUARD";
    case WEFT_SOCK_ORIG_DST_MAP_FULL:
      return "ORIG_DST_MAP_FULL";
    case WEFT_SOCK_ORIG_DST_ERROR:
      return "ORIG_DST_ERROR";
    case WEFT_SOCK_REDIRECTED_WORKLOAD:
      return "REDIRECTED_WORKLOAD";
  }
  return "UNKNOWN";
}

// Non-zero counters by verdict name: comparing whole maps asserts every other verdict is zero.
using Counts = std::map<std::string, uint64_t>;

std::string Cgroup2Mount() {
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

in_addr Ip4(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a;
}

sockaddr_in Addr4(const char* ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr = Ip4(ip);
  sa.sin_port = htons(port);
  return sa;
}

// The 16-byte map form of an address: IPv4 as ::ffff:a.b.c.d.
void MapAddr(const char* ip, uint8_t out[16]) {
  memset(out, 0, 16);
  if (in_addr a{}; inet_pton(AF_INET, ip, &a) == 1) {
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &a.s_addr, 4);
  } else {
    inet_pton(AF_INET6, ip, out);
  }
}

sockaddr_in6 Addr6(const char* ip, uint16_t port) {
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  inet_pton(AF_INET6, ip, &sa.sin6_addr);
  sa.sin6_port = htons(port);
  return sa;
}

// An IPv4 endpoint, also for AF_INET6 sockets that use v4-mapped addresses.
struct Endpoint4 {
  uint32_t addr = 0;  // network byte order
  uint16_t port = 0;  // host byte order
  bool operator==(const Endpoint4&) const = default;
};

void PrintTo(const Endpoint4& e, std::ostream* os) {
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &e.addr, text, sizeof(text));
  *os << text << ":" << e.port;
}

std::optional<Endpoint4> ToEndpoint4(const sockaddr_storage& ss) {
  if (ss.ss_family == AF_INET) {
    const auto& sa = reinterpret_cast<const sockaddr_in&>(ss);
    return Endpoint4{sa.sin_addr.s_addr, ntohs(sa.sin_port)};
  }
  if (ss.ss_family == AF_INET6) {
    const auto& sa = reinterpret_cast<const sockaddr_in6&>(ss);
    if (!IN6_IS_ADDR_V4MAPPED(&sa.sin6_addr)) return std::nullopt;
    uint32_t addr;
    memcpy(&addr, &sa.sin6_addr.s6_addr[12], sizeof(addr));
    return Endpoint4{addr, ntohs(sa.sin6_port)};
  }
  return std::nullopt;
}

// ---- the child ("pod") side ----------------------------------------------------------------
//
// gtest assertions made in a forked child are lost, so the child only records plain data in a
// PodReport, which crosses a pipe as bytes; the parent asserts on it.

struct ConnectResult {
  int err = -1;                     // 0 when connect() succeeded, else its errno
  uint64_t sock_cookie = 0;         // SO_COOKIE of the client socket
  bool landed_on_listener = false;  // the pod's proxy listener accepted this very connection
  bool listener_saw_other = false;  // the listener had a connection that was not this one
  Endpoint4 peer;                   // getpeername() of the client after connect
  bool has_orig_dst = false;  // weft_orig_dst_v1[sock_cookie] existed while the socket was open
  weft_orig_dst orig_dst{};
};

struct PodReport {
  char error[256] = {};  // the first thing that went wrong in the child, empty if nothing
  uint64_t netns_cookie = 0;
  int count = 0;
  ConnectResult results[8];
};
static_assert(std::is_trivially_copyable_v<PodReport>);

// What the child can use: the maps (file descriptors inherited across fork) and a report.
class Pod {
 public:
  Pod(sock_connect_bpf* skel, PodReport* report) : skel_(skel), report_(report) {}

  void Fail(const std::string& what) {
    if (report_->error[0] != '\0') return;
    snprintf(report_->error, sizeof(report_->error), "%s: %s", what.c_str(), strerror(errno));
  }
  bool failed() const { return report_->error[0] != '\0'; }

  uint64_t netns_cookie() const { return report_->netns_cookie; }

  // Enrolls this pod's netns, as the agent does at opt-in.
  void Enroll() {
    weft_enrolled_netns value{};
    if (bpf_map_update_elem(bpf_map__fd(skel_->maps.WEFT_MAP_ENROLLED_NETNS),
                            &report_->netns_cookie, &value, BPF_ANY) != 0) {
      Fail("enroll netns");
    }
  }

  // The proxy's outbound listener, as the agent opens it inside the pod's netns.
  int Listen(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    sockaddr_in sa = Addr4("127.0.0.1", port);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        listen(fd, 16) != 0) {
      Fail("listen on 127.0.0.1:" + std::to_string(port));
      return -1;
    }
    return fd;
  }

  struct ConnectOptions {
    int type = SOCK_STREAM;
    std::optional<uint32_t> mark = std::nullopt;
    // When set, the client (and the accepted socket) stay open and are appended here.
    std::vector<int>* keep_open = nullptr;
  };

  // connect()s a fresh socket to dst and records what happened from every angle.
  template <typename SockAddr>
  ConnectResult Connect(int listener, const SockAddr& dst, const ConnectOptions& opts) {
    ConnectResult r;
    constexpr int kFamily = std::is_same_v<SockAddr, sockaddr_in> ? AF_INET : AF_INET6;
    int fd = socket(kFamily, opts.type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      Fail("socket");
      return Record(r);
    }
    if (opts.mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &*opts.mark, sizeof(*opts.mark)) != 0) {
      Fail("SO_MARK");
    }
    socklen_t len = sizeof(r.sock_cookie);
    if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &r.sock_cookie, &len) != 0) Fail("SO_COOKIE");

    r.err = connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)) == 0 ? 0 : errno;

    int accepted = -1;
    if (r.err == 0) {
      sockaddr_storage ss{};
      socklen_t sl = sizeof(ss);
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &sl) == 0) {
        r.peer = ToEndpoint4(ss).value_or(Endpoint4{});
      }
      if (weft_orig_dst v{}; bpf_map_lookup_elem(bpf_map__fd(skel_->maps.WEFT_MAP_ORIG_DST),
                                                 &r.sock_cookie, &v) == 0) {
        r.has_orig_dst = true;
        r.orig_dst = v;
      }
    }
    if (listener >= 0) {
      // A successful loopback connect() is queued on the listener before connect() returns;
      // the timeout only bounds a broken run. A failed one must leave the listener idle.
      pollfd p{listener, POLLIN, 0};
      if (poll(&p, 1, r.err == 0 ? kAcceptTimeoutMs : 0) == 1) {
        accepted = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        sockaddr_storage client{}, peer{};
        socklen_t cl = sizeof(client), pl = sizeof(peer);
        if (accepted >= 0 && getsockname(fd, reinterpret_cast<sockaddr*>(&client), &cl) == 0 &&
            getpeername(accepted, reinterpret_cast<sockaddr*>(&peer), &pl) == 0 &&
            ToEndpoint4(client) && ToEndpoint4(client) == ToEndpoint4(peer)) {
          r.landed_on_listener = true;
        } else {
          r.listener_saw_other = true;
        }
      }
    }
    if (opts.keep_open) {
      opts.keep_open->push_back(fd);
      if (accepted >= 0) opts.keep_open->push_back(accepted);
    } else {
      close(fd);
      if (accepted >= 0) close(accepted);
    }
    return Record(r);
  }

  // Native IPv6: connect() to dst, accept on an [::1] listener, compare the two ends' ports.
  ConnectResult ConnectV6(int listener6, const sockaddr_in6& dst) {
    ConnectResult r;
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof(r.sock_cookie);
    if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_COOKIE, &r.sock_cookie, &len) != 0) {
      Fail("v6 socket");
      return Record(r);
    }
    r.err = connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof(dst)) == 0 ? 0 : errno;
    if (r.err == 0) {
      if (weft_orig_dst v{}; bpf_map_lookup_elem(bpf_map__fd(skel_->maps.WEFT_MAP_ORIG_DST),
                                                 &r.sock_cookie, &v) == 0) {
        r.has_orig_dst = true;
        r.orig_dst = v;
      }
      sockaddr_in6 peer{}, client{}, accepted_peer{};
      socklen_t pl = sizeof(peer), cl = sizeof(client), al = sizeof(accepted_peer);
      getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &pl);
      r.peer.port = ntohs(peer.sin6_port);
      r.peer.addr = IN6_IS_ADDR_LOOPBACK(&peer.sin6_addr) ? 1 : 0;  // 1 = [::1]
      pollfd p{listener6, POLLIN, 0};
      if (poll(&p, 1, kAcceptTimeoutMs) == 1) {
        int a = accept4(listener6, reinterpret_cast<sockaddr*>(&accepted_peer), &al, SOCK_CLOEXEC);
        getsockname(fd, reinterpret_cast<sockaddr*>(&client), &cl);
        r.landed_on_listener = a >= 0 && client.sin6_port == accepted_peer.sin6_port;
        if (a >= 0) close(a);
      }
    }
    close(fd);
    return Record(r);
  }

  int Listen6(uint16_t port) {
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    sockaddr_in6 sa = Addr6("::1", port);
    if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
        listen(fd, 16) != 0) {
      Fail("listen on [::1]:" + std::to_string(port));
      return -1;
    }
    return fd;
  }

 private:
  ConnectResult Record(const ConnectResult& r) {
    if (report_->count < static_cast<int>(std::size(report_->results))) {
      report_->results[report_->count++] = r;
    } else {
      errno = E2BIG;
      Fail("too many connects for one PodReport");
    }
    return r;
  }

  sock_connect_bpf* skel_;
  PodReport* report_;
};

bool BringLoopbackUp() {
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

uint64_t NetnsCookie() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) cookie = 0;
  if (fd >= 0) close(fd);
  return cookie;
}

// ---- the fixture -------------------------------------------------------------------------

struct LoadOptions {
  uint32_t orig_dst_max_entries = 0;  // 0 keeps the object's WEFT_ORIG_DST_MAX
  uint16_t outbound_port = WEFT_OUTBOUND_PORT;
};

class SockConnectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (getenv("CI") != nullptr) FAIL() << "BPF tests need root; in CI a skip is a failure";
      GTEST_SKIP() << "BPF tests need root (they load programs and create cgroups)";
    }
    std::string mount = Cgroup2Mount();
    ASSERT_FALSE(mount.empty()) << "no cgroup2 mount in /proc/mounts";
    cgroup_dir_ = mount + "/weft-bpf-test." + std::to_string(getpid()) + "." +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_EQ(mkdir(cgroup_dir_.c_str(), 0755), 0) << cgroup_dir_ << ": " << strerror(errno);
    cgroup_fd_ = open(cgroup_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    ASSERT_GE(cgroup_fd_, 0) << cgroup_dir_ << ": " << strerror(errno);
  }

  void TearDown() override {
    if (skel_ != nullptr) sock_connect_bpf__destroy(skel_);  // detaches the links too
    if (cgroup_fd_ >= 0) close(cgroup_fd_);
    if (!cgroup_dir_.empty() && rmdir(cgroup_dir_.c_str()) != 0 && errno != ENOENT) {
      ADD_FAILURE() << "could not remove " << cgroup_dir_ << ": " << strerror(errno);
    }
  }

  // Opens, configures, loads and attaches the skeleton, as the agent will (minus pinning).
  void Load(const LoadOptions& opts = {}) {
    skel_ = sock_connect_bpf__open();
    ASSERT_NE(skel_, nullptr) << "open: " << strerror(errno);
    skel_->rodata->cfg_outbound_port = opts.outbound_port;
    if (opts.orig_dst_max_entries != 0) {
      ASSERT_EQ(bpf_map__set_max_entries(skel_->maps.WEFT_MAP_ORIG_DST, opts.orig_dst_max_entries),
                0);
    }
    ASSERT_EQ(sock_connect_bpf__load(skel_), 0) << "load (verifier log above): " << strerror(errno);
    skel_->links.weft_connect4 = bpf_program__attach_cgroup(skel_->progs.weft_connect4, cgroup_fd_);
    ASSERT_NE(skel_->links.weft_connect4, nullptr) << "attach connect4: " << strerror(errno);
    skel_->links.weft_connect6 = bpf_program__attach_cgroup(skel_->progs.weft_connect6, cgroup_fd_);
    ASSERT_NE(skel_->links.weft_connect6, nullptr) << "attach connect6: " << strerror(errno);
    skel_->links.weft_sock_release =
        bpf_program__attach_cgroup(skel_->progs.weft_sock_release, cgroup_fd_);
    ASSERT_NE(skel_->links.weft_sock_release, nullptr)
        << "attach sock_release: " << strerror(errno);
  }

  // port 0 with WEFT_SVC_F_WORKLOAD: a mesh workload IP, every port.
  void AddService(const char* ip, uint16_t port, uint8_t proto = IPPROTO_TCP,
                  uint32_t flags = WEFT_SVC_F_VIP, uint32_t id = kServiceId) {
    weft_service_key key{};
    MapAddr(ip, key.addr);
    key.port = htons(port);
    key.proto = proto;
    weft_service_value value{};
    value.service_id = id;
    value.flags = flags;
    ASSERT_EQ(
        bpf_map_update_elem(bpf_map__fd(skel_->maps.WEFT_MAP_SERVICES), &key, &value, BPF_NOEXIST),
        0)
        << strerror(errno);
  }

  // Runs body in a child process placed in the test cgroup and in a new network namespace
  // whose only interface is lo (up). Returns what the child reported.
  PodReport RunInPod(const std::function<void(Pod&)>& body) {
    PodReport report{};
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
      snprintf(report.error, sizeof(report.error), "pipe: %s", strerror(errno));
      return report;
    }
    pid_t pid = fork();
    if (pid == 0) {
      close(pipefd[0]);
      Pod pod(skel_, &report);
      std::string procs = cgroup_dir_ + "/cgroup.procs";
      int cg = open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (cg < 0 || write(cg, "0", 1) != 1) {
        pod.Fail("join " + procs);
      } else if (unshare(CLONE_NEWNET) != 0) {
        pod.Fail("unshare(CLONE_NEWNET)");
      } else if (!BringLoopbackUp()) {
        pod.Fail("bring lo up");
      } else if ((report.netns_cookie = NetnsCookie()) == 0) {
        pod.Fail("SO_NETNS_COOKIE");
      } else {
        body(pod);
      }
      const char* p = reinterpret_cast<const char*>(&report);
      for (size_t off = 0; off < sizeof(report);) {
        ssize_t n = write(pipefd[1], p + off, sizeof(report) - off);
        if (n <= 0) _exit(2);
        off += static_cast<size_t>(n);
      }
      _exit(0);
    }
    close(pipefd[1]);
    size_t got = 0;
    if (pid > 0) {
      char* p = reinterpret_cast<char*>(&report);
      while (got < sizeof(report)) {
        ssize_t n = read(pipefd[0], p + got, sizeof(report) - got);
        if (n <= 0) break;
        got += static_cast<size_t>(n);
      }
    }
    close(pipefd[0]);
    int status = 0;
    if (pid < 0) {
      snprintf(report.error, sizeof(report.error), "fork: %s", strerror(errno));
    } else if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
               got != sizeof(report)) {
      snprintf(report.error, sizeof(report.error), "pod process died (status 0x%x, %zu bytes)",
               status, got);
    }
    return report;
  }

  Counts Counters() {
    int ncpu = libbpf_num_possible_cpus();
    std::vector<uint64_t> per_cpu(ncpu > 0 ? ncpu : 1);
    Counts counts;
    for (uint32_t v = 0; v < WEFT_SOCK_VERDICT_COUNT; ++v) {
      if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.WEFT_MAP_SOCK_COUNTERS), &v,
                              per_cpu.data()) != 0) {
        ADD_FAILURE() << "counter " << v << ": " << strerror(errno);
        continue;
      }
      uint64_t sum = 0;
      for (uint64_t c : per_cpu) sum += c;
      if (sum != 0) counts[VerdictName(v)] = sum;
    }
    return counts;
  }

  size_t OrigDstEntries() {
    int fd = bpf_map__fd(skel_->maps.WEFT_MAP_ORIG_DST);
    size_t n = 0;
    uint64_t key, next;
    for (uint64_t* prev = nullptr; bpf_map_get_next_key(fd, prev, &next) == 0; prev = &key) {
      key = next;
      ++n;
    }
    return n;
  }

  std::string cgroup_dir_;
  int cgroup_fd_ = -1;
  sock_connect_bpf* skel_ = nullptr;
};

Endpoint4 Proxy(uint16_t port = WEFT_OUTBOUND_PORT) {
  return Endpoint4{Ip4("127.0.0.1").s_addr, port};
}

void ExpectOrigDst(const ConnectResult& r, const char* ip, uint16_t port) {
  ASSERT_TRUE(r.has_orig_dst) << "no weft_odst_v1 entry for socket cookie " << r.sock_cookie;
  uint8_t want[16];
  MapAddr(ip, want);
  EXPECT_EQ(memcmp(r.orig_dst.addr, want, 16), 0) << ip;
  EXPECT_EQ(ntohs(r.orig_dst.port), port);
}

// ---- (a) capture --------------------------------------------------------------------------

TEST_F(SockConnectTest, RedirectsEnrolledConnectToMeshServiceAndRecordsOriginalDestination) {
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort));

  PodReport report = RunInPod([](Pod& pod) {
    pod.Enroll();
    int listener = pod.Listen(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {});
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 1);
  const ConnectResult& r = report.results[0];
  EXPECT_EQ(r.err, 0) << strerror(r.err);
  EXPECT_TRUE(r.landed_on_listener);
  EXPECT_EQ(r.peer, Proxy()) << "getpeername() shows the rewritten destination";
  ExpectOrigDst(r, kServiceIp, kServicePort);

  EXPECT_EQ(Counters(), (Counts{{"REDIRECTED", 1}}));
  // The pod closed its socket and exited: cgroup/sock_release freed the entry.
  EXPECT_EQ(OrigDstEntries(), 0u);
}

TEST_F(SockConnectTest, RedirectsV4MappedConnectFromIpv6Socket) {
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort));

  PodReport report = RunInPod([](Pod& pod) {
    pod.Enroll();
    int listener = pod.Listen(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    pod.Connect(listener, Addr6("::ffff:10.96.0.10", kServicePort), {});
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 1);
  const ConnectResult& r = report.results[0];
  EXPECT_EQ(r.err, 0) << strerror(r.err);
  EXPECT_TRUE(r.landed_on_listener);
  EXPECT_EQ(r.peer, Proxy());
  ExpectOrigDst(r, kServiceIp, kServicePort);
  EXPECT_EQ(Counters(), (Counts{{"REDIRECTED", 1}}));
  EXPECT_EQ(OrigDstEntries(), 0u);
}

TEST_F(SockConnectTest, OutboundPortComesFromRodata) {
  constexpr uint16_t kPort = 15123;
  ASSERT_NO_FATAL_FAILURE(Load({.outbound_port = kPort}));
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort));

  PodReport report = RunInPod([](Pod& pod) {
    pod.Enroll();
    int listener = pod.Listen(kPort);
    if (pod.failed()) return;
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {});
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 1);
  EXPECT_EQ(report.results[0].err, 0) << strerror(report.results[0].err);
  EXPECT_TRUE(report.results[0].landed_on_listener);
  EXPECT_EQ(report.results[0].peer, Proxy(kPort));
  EXPECT_EQ(Counters(), (Counts{{"REDIRECTED", 1}}));
}

TEST_F(SockConnectTest, RedirectsAnyPortOfAMeshWorkloadIp) {
  constexpr char kPodIp[] = "10.0.1.5";
  constexpr uint32_t kWorkloadId = 42;
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(AddService(kPodIp, 0, IPPROTO_TCP, WEFT_SVC_F_WORKLOAD, kWorkloadId));
  // A VIP:port entry on the same address wins over the workload wildcard.
  ASSERT_NO_FATAL_FAILURE(AddService(kPodIp, 9090, IPPROTO_TCP, WEFT_SVC_F_VIP, kServiceId));

  PodReport report = RunInPod([&](Pod& pod) {
    pod.Enroll();
    int listener = pod.Listen(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    pod.Connect(listener, Addr4(kPodIp, 8080), {});
    pod.Connect(listener, Addr4(kPodIp, 22), {});
    pod.Connect(listener, Addr4(kPodIp, 9090), {});
    pod.Connect(listener, Addr4("10.0.1.6", 8080), {});  // another pod, not in the mesh
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 4);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(report.results[i].err, 0) << i << ": " << strerror(report.results[i].err);
    EXPECT_TRUE(report.results[i].landed_on_listener) << i;
  }
  ExpectOrigDst(report.results[0], kPodIp, 8080);
  EXPECT_EQ(report.results[0].orig_dst.service_id, kWorkloadId);
  EXPECT_EQ(report.results[0].orig_dst.flags, WEFT_SVC_F_WORKLOAD);
  ExpectOrigDst(report.results[1], kPodIp, 22);
  ExpectOrigDst(report.results[2], kPodIp, 9090);
  EXPECT_EQ(report.results[2].orig_dst.service_id, kServiceId);
  EXPECT_EQ(report.results[2].orig_dst.flags, WEFT_SVC_F_VIP);
  EXPECT_EQ(report.results[3].err, ENETUNREACH);
  EXPECT_EQ(Counters(),
            (Counts{{"REDIRECTED_WORKLOAD", 2}, {"REDIRECTED", 1}, {"NOT_MESH_DEST", 1}}));
}

TEST_F(SockConnectTest, RedirectsNativeIpv6VipToLoopbackV6) {
  constexpr char kVip6[] = "fd00:96::10";
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(AddService(kVip6, kServicePort));

  PodReport report = RunInPod([&](Pod& pod) {
    pod.Enroll();
    int listener6 = pod.Listen6(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    pod.ConnectV6(listener6, Addr6(kVip6, kServicePort));
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 1);
  const ConnectResult& r = report.results[0];
  EXPECT_EQ(r.err, 0) << strerror(r.err);
  EXPECT_TRUE(r.landed_on_listener);
  EXPECT_EQ(r.peer.addr, 1u) << "peer is [::1]";
  EXPECT_EQ(r.peer.port, WEFT_OUTBOUND_PORT);
  ExpectOrigDst(r, kVip6, kServicePort);
  EXPECT_EQ(Counters(), (Counts{{"REDIRECTED", 1}}));
}

// ---- (b) not enrolled ---------------------------------------------------------------------

TEST_F(SockConnectTest, LeavesSocketsOfNotEnrolledNetnsUntouched) {
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort));
  // Enrolling another netns (the test's own) must not capture the pod's.
  uint64_t own_netns = NetnsCookie();
  ASSERT_NE(own_netns, 0u);
  weft_enrolled_netns value{};
  ASSERT_EQ(bpf_map_update_elem(bpf_map__fd(skel_->maps.WEFT_MAP_ENROLLED_NETNS), &own_netns,
                                &value, BPF_ANY),
            0);

  PodReport report = RunInPod([](Pod& pod) {
    int listener = pod.Listen(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {});
    pod.Connect(listener, Addr6("::ffff:10.96.0.10", kServicePort), {});
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_NE(report.netns_cookie, own_netns);
  ASSERT_EQ(report.count, 2);
  for (int i = 0; i < report.count; ++i) {
    const ConnectResult& r = report.results[i];
    EXPECT_EQ(r.err, ENETUNREACH) << "connect " << i << ": " << strerror(r.err);
    EXPECT_FALSE(r.landed_on_listener || r.listener_saw_other) << "connect " << i;
  }
  EXPECT_EQ(Counters(), (Counts{{"NOT_ENROLLED", 2}}));
  EXPECT_EQ(OrigDstEntries(), 0u);
}

// ---- (c) not a mesh destination -----------------------------------------------------------

TEST_F(SockConnectTest, LeavesNonMeshDestinationsUntouched) {
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort));
  // A UDP entry for the same address and port must still not capture UDP: the proxy is TCP.
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort, IPPROTO_UDP));

  PodReport report = RunInPod([](Pod& pod) {
    pod.Enroll();
    int listener = pod.Listen(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    pod.Connect(listener, Addr4(kServiceIp, kServicePort + 1), {});                // other port
    pod.Connect(listener, Addr4("10.96.0.11", kServicePort), {});                  // other address
    pod.Connect(listener, Addr6("fd00::a", kServicePort), {});                     // IPv6, not mesh
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {.type = SOCK_DGRAM});  // UDP
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 4);
  for (int i = 0; i < report.count; ++i) {
    const ConnectResult& r = report.results[i];
    EXPECT_EQ(r.err, ENETUNREACH) << "connect " << i << ": " << strerror(r.err);
    EXPECT_FALSE(r.landed_on_listener || r.listener_saw_other) << "connect " << i;
  }
  EXPECT_EQ(Counters(), (Counts{{"NOT_MESH_DEST", 3}, {"NOT_TCP", 1}}));
  EXPECT_EQ(OrigDstEntries(), 0u);
}

// ---- (d) loop guard -----------------------------------------------------------------------

TEST_F(SockConnectTest, NeverRedirectsTheProxysOwnMarkedSockets) {
  ASSERT_NO_FATAL_FAILURE(Load());
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort));

  PodReport report = RunInPod([](Pod& pod) {
    pod.Enroll();
    int listener = pod.Listen(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {.mark = WEFT_PROXY_MARK_DEFAULT});
    pod.Connect(listener, Addr6("::ffff:10.96.0.10", kServicePort),
                {.mark = WEFT_PROXY_MARK_DEFAULT});
    // Only the proxy's mark is exempt, not any mark.
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {.mark = WEFT_PROXY_MARK_DEFAULT + 1});
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 3);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(report.results[i].err, ENETUNREACH) << i << ": " << strerror(report.results[i].err);
    EXPECT_FALSE(report.results[i].landed_on_listener || report.results[i].listener_saw_other);
    EXPECT_FALSE(report.results[i].has_orig_dst);
  }
  EXPECT_EQ(report.results[2].err, 0) << strerror(report.results[2].err);
  EXPECT_TRUE(report.results[2].landed_on_listener);
  EXPECT_EQ(Counters(), (Counts{{"LOOP_GUARD", 2}, {"REDIRECTED", 1}}));
}

// ---- (e) weft_orig_dst_v1 full ------------------------------------------------------------

TEST_F(SockConnectTest, RefusesConnectWhenOriginalDestinationCannotBeRecorded) {
  constexpr uint32_t kCapacity = 2;
  ASSERT_NO_FATAL_FAILURE(Load({.orig_dst_max_entries = kCapacity}));
  ASSERT_NO_FATAL_FAILURE(AddService(kServiceIp, kServicePort));

  PodReport report = RunInPod([](Pod& pod) {
    pod.Enroll();
    int listener = pod.Listen(WEFT_OUTBOUND_PORT);
    if (pod.failed()) return;
    std::vector<int> first, second;
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {.keep_open = &first});
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {.keep_open = &second});
    // Full: refused, neither sent to the proxy without a destination nor let through.
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {});
    pod.Connect(listener, Addr6("::ffff:10.96.0.10", kServicePort), {});
    // Closing a redirected socket frees its entry (cgroup/sock_release), so capacity returns.
    for (int fd : first) close(fd);
    pod.Connect(listener, Addr4(kServiceIp, kServicePort), {});
  });
  ASSERT_STREQ(report.error, "");
  ASSERT_EQ(report.count, 5);
  for (int i : {0, 1, 4}) {
    EXPECT_EQ(report.results[i].err, 0) << i << ": " << strerror(report.results[i].err);
    EXPECT_TRUE(report.results[i].landed_on_listener) << i;
    ExpectOrigDst(report.results[i], kServiceIp, kServicePort);
  }
  for (int i : {2, 3}) {
    EXPECT_EQ(report.results[i].err, EPERM) << i << ": " << strerror(report.results[i].err);
    EXPECT_FALSE(report.results[i].landed_on_listener || report.results[i].listener_saw_other);
  }
  EXPECT_EQ(Counters(), (Counts{{"REDIRECTED", 3}, {"ORIG_DST_MAP_FULL", 2}}));
  EXPECT_EQ(OrigDstEntries(), 0u);
}

// ---- the object itself ----------------------------------------------------------------------

TEST_F(SockConnectTest, MapsCarryAbiNamesAndBtf) {
  ASSERT_NO_FATAL_FAILURE(Load());
  EXPECT_STREQ(bpf_map__name(skel_->maps.WEFT_MAP_ENROLLED_NETNS), "weft_netns_v1");
  EXPECT_STREQ(bpf_map__name(skel_->maps.WEFT_MAP_SERVICES), "weft_svc_v1");
  EXPECT_STREQ(bpf_map__name(skel_->maps.WEFT_MAP_ORIG_DST), "weft_odst_v1");
  EXPECT_STREQ(bpf_map__name(skel_->maps.WEFT_MAP_SOCK_COUNTERS), "weft_cnt_con_v1");
  EXPECT_EQ(bpf_map__key_size(skel_->maps.WEFT_MAP_SERVICES), sizeof(weft_service_key));
  EXPECT_EQ(bpf_map__value_size(skel_->maps.WEFT_MAP_SERVICES), sizeof(weft_service_value));
  EXPECT_EQ(bpf_map__value_size(skel_->maps.WEFT_MAP_ORIG_DST), sizeof(weft_orig_dst));
  EXPECT_EQ(bpf_map__max_entries(skel_->maps.WEFT_MAP_SOCK_COUNTERS), WEFT_SOCK_VERDICT_COUNT);
  // The kernel keeps 15 characters of a map name: ours fit, so `bpftool map show` prints them.
  for (bpf_map* map : {skel_->maps.WEFT_MAP_ENROLLED_NETNS, skel_->maps.WEFT_MAP_SERVICES,
                       skel_->maps.WEFT_MAP_ORIG_DST, skel_->maps.WEFT_MAP_SOCK_COUNTERS}) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len), 0);
    EXPECT_STREQ(info.name, bpf_map__name(map));
  }
  // bpftool can only print named fields if the kernel has the map's BTF.
  for (bpf_map* map : {skel_->maps.WEFT_MAP_ENROLLED_NETNS, skel_->maps.WEFT_MAP_SERVICES,
                       skel_->maps.WEFT_MAP_ORIG_DST, skel_->maps.WEFT_MAP_SOCK_COUNTERS}) {
    bpf_map_info info{};
    uint32_t len = sizeof(info);
    ASSERT_EQ(bpf_obj_get_info_by_fd(bpf_map__fd(map), &info, &len), 0);
    EXPECT_NE(info.btf_id, 0u) << bpf_map__name(map);
    EXPECT_NE(info.btf_value_type_id, 0u) << bpf_map__name(map);
  }
}

}  // namespace
}  // namespace weft::bpf
