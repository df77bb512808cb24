// sk_lookup steering, loaded through weft_datapath (unpinned): a pod netns joined by a veth
// pair to a second netns (the "outside": another node or a client outside the mesh). Traffic
// only flows between those two namespaces, which the test creates and which die with it.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "agent/datapath/datapath.h"
#include "bpf/abi/inbound_steer.h"
#include "tests/bpf/pod_harness.h"

static_assert(sizeof(weft_inbound_key) == 16);

namespace weft::bpf {
namespace {

using agent::datapath::CounterValue;
using agent::datapath::Datapath;
using agent::datapath::IpAddr;
using agent::datapath::MapWriter;
using agent::datapath::Settings;
using testing::PodReport;

constexpr char kPodIp[] = "10.77.0.2";
constexpr char kOutsideIp[] = "10.77.0.1";
constexpr uint16_t kAppPort = 8080;

using Counts = std::map<std::string, uint64_t>;

Counts LookupCounters(MapWriter& w) {
  Counts out;
  auto all = w.ReadCounters();
  EXPECT_TRUE(all.ok()) << all.status();
  if (!all.ok()) return out;
  for (const CounterValue& c : *all) {
    if (c.program == "sk_lookup" && c.value != 0) out[c.verdict] = c.value;
  }
  return out;
}

bool Sh(const std::string& cmd) {
  return system((cmd + " >/dev/null 2>&1").c_str()) == 0;
}

// connect() with a timeout; 0 or the errno.
int ConnectTo(const char* ip, uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in dst = testing::Addr4(ip, port);
  int err = 0;
  if (connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    err = errno;
    if (err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      err = ETIMEDOUT;
      if (poll(&p, 1, testing::kIoTimeoutMs) == 1) {
        socklen_t len = sizeof(err);
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
  }
  close(fd);
  return err;
}

// Which of the pod's listeners got a connection since the last call, and the local address of
// the accepted socket (the original destination the inbound proxy relies on).
struct PodListeners {
  int proxy = -1;  // :15006, the proxy's inbound listener
  int app = -1;    // :8080
  int hbone = -1;  // :15008, stands in for the proxy's HBONE listener
};

// Waits up to timeout_ms for a connection on any of the pod's listeners. v[base] = 1 proxy,
// 2 app, 3 hbone, 0 none; text[slot] = the accepted socket's local address.
void WhoAccepted(PodReport& r, const PodListeners& l, int base, int slot,
                 int timeout_ms = testing::kIoTimeoutMs) {
  pollfd fds[3] = {{l.proxy, POLLIN, 0}, {l.app, POLLIN, 0}, {l.hbone, POLLIN, 0}};
  if (poll(fds, 3, timeout_ms) <= 0) return;
  for (int i = 0; i < 3; ++i) {
    if (!(fds[i].revents & POLLIN)) continue;
    int a = accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (a < 0) continue;
    sockaddr_in local{};
    socklen_t len = sizeof(local);
    getsockname(a, reinterpret_cast<sockaddr*>(&local), &len);
    char ip[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &local.sin_addr, ip, sizeof(ip));
    snprintf(r.text[slot], sizeof(r.text[slot]), "%s:%d", ip, ntohs(local.sin_port));
    r.v[base] = i + 1;
    close(a);
    return;
  }
}

class InboundSteerTest : public testing::BpfFixture {
 protected:
  void Open() {
    Settings s;
    s.bpf_root = "";
    s.cgroup_path = cgroup_dir_;
    s.max_services = 16;
    s.max_workloads = 16;
    s.max_pods = 16;
    s.max_connections = 64;
    auto dp = Datapath::Open(s);
    ASSERT_TRUE(dp.ok()) << dp.status();
    dp_ = *std::move(dp);
  }
  void TearDown() override {
    dp_.reset();
    BpfFixture::TearDown();
  }

  std::unique_ptr<Datapath> dp_;
};

TEST_F(InboundSteerTest, SteersOutsideConnectionsToTheProxyButNotLoopbackOrHbone) {
  ASSERT_NO_FATAL_FAILURE(Open());
  MapWriter& w = dp_->writer();
  if (!Sh("command -v ip && command -v nsenter")) GTEST_SKIP() << "needs ip and nsenter";

  // The outside netns first, so the pod can put the veth's far end into it.
  testing::Pod outside(cgroup_dir_, {[](PodReport&) {},
                                     [](PodReport& r) {  // 1: to the app port
                                       r.v[0] = ConnectTo(kPodIp, kAppPort);
                                     },
                                     [](PodReport& r) {  // 2: to the HBONE port
                                       r.v[1] = ConnectTo(kPodIp, WEFT_HBONE_PORT);
                                     },
                                     [](PodReport& r) {  // 3: no listener registered
                                       r.v[2] = ConnectTo(kPodIp, kAppPort);
                                     }});
  const pid_t outside_pid = outside.pid();
  const std::string veth = "wt" + std::to_string(getpid() % 100000);

  PodListeners l;
  testing::Pod pod(
      cgroup_dir_,
      {[&](PodReport& r) {
         std::string o = std::to_string(outside_pid);
         if (!Sh("ip link add " + veth + "a type veth peer name " + veth + "b netns " + o) ||
             !Sh("ip addr add " + std::string(kPodIp) + "/24 dev " + veth + "a") ||
             !Sh("ip link set " + veth + "a up") ||
             !Sh("nsenter -t " + o + " -n ip addr add " + kOutsideIp + "/24 dev " + veth + "b") ||
             !Sh("nsenter -t " + o + " -n ip link set " + veth + "b up")) {
           return testing::Fail(r, "veth setup");
         }
         l.proxy = testing::Listen(r, "0.0.0.0", WEFT_INBOUND_PORT);
         l.app = testing::Listen(r, "0.0.0.0", kAppPort);
         l.hbone = testing::Listen(r, "0.0.0.0", WEFT_HBONE_PORT);
         if (!w.RegisterInboundListener(*IpAddr::Parse(kPodIp), l.proxy).ok()) {
           return testing::Fail(r, "register listener");
         }
         int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
         if (auto st = w.AttachInbound(ns, r.netns_cookie); !st.ok()) {
           return testing::Fail(r, "attach: " + st.ToString());
         }
         close(ns);
       },
       [&](PodReport& r) { WhoAccepted(r, l, 0, 0); },  // after outside phase 1
       [&](PodReport& r) {                              // after outside phase 2
         WhoAccepted(r, l, 1, 1);
         // The pod itself (and the proxy's hop to the app) reaches its own IP over lo.
         r.v[2] = ConnectTo(kPodIp, kAppPort);
         WhoAccepted(r, l, 3, 2);
         // Fail closed: with no proxy listener, outside connections are refused.
         if (!w.UnregisterInboundListener(*IpAddr::Parse(kPodIp)).ok()) {
           testing::Fail(r, "unregister");
         }
       },
       // After outside phase 3, whose connect was refused: nothing may be queued anywhere.
       [&](PodReport& r) { WhoAccepted(r, l, 4, 3, /*timeout_ms=*/200); }});

  // Interleave: outside connects, then the pod looks at its listeners.
  outside.Next();
  pod.Next();
  outside.Next();
  pod.Next();
  outside.Next();
  pod.Next();
  PodReport ro = outside.Finish();
  PodReport rp = pod.Finish();
  ASSERT_STREQ(rp.error, "");
  ASSERT_STREQ(ro.error, "");

  EXPECT_EQ(ro.v[0], 0) << strerror(static_cast<int>(ro.v[0]));
  EXPECT_EQ(rp.v[0], 1) << "outside -> pod:8080 lands on the proxy's :15006";
  EXPECT_STREQ(rp.text[0], "10.77.0.2:8080") << "the original destination is the local address";
  EXPECT_EQ(ro.v[1], 0) << strerror(static_cast<int>(ro.v[1]));
  EXPECT_EQ(rp.v[1], 3) << "HBONE (15008) is not steered";
  EXPECT_EQ(rp.v[2], 0) << strerror(static_cast<int>(rp.v[2]));
  EXPECT_EQ(rp.v[3], 2) << "loopback is not steered";
  EXPECT_EQ(ro.v[2], ECONNREFUSED) << strerror(static_cast<int>(ro.v[2]));
  EXPECT_EQ(rp.v[4], 0) << "nothing reached the app while the proxy was away";
  EXPECT_EQ(LookupCounters(w),
            (Counts{{"STEERED", 1}, {"EXEMPT_PORT", 1}, {"LOOPBACK", 1}, {"NO_LISTENER", 1}}));
}

}  // namespace
}  // namespace weft::bpf
