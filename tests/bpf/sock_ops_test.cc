// sockops and sk_msg, loaded with the rest of the data path through weft_datapath (unpinned):
// the original destination handed to the proxy per {netns cookie, client address}, correct
// when two pods have the same loopback 4-tuple; and sockmap acceleration of the loopback hop
// between app and proxy, on and off.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "agent/datapath/datapath.h"
#include "bpf/abi/sock_ops.h"
#include "tests/bpf/pod_harness.h"

static_assert(sizeof(weft_conn_key) == 32);
static_assert(offsetof(weft_conn_key, port) == 24);
static_assert(sizeof(weft_sock_key) == 48);
static_assert(offsetof(weft_sock_key, local_port) == 40);
static_assert(offsetof(weft_sock_key, remote_port) == 42);

namespace weft::bpf {
namespace {

using agent::datapath::CounterValue;
using agent::datapath::Datapath;
using agent::datapath::IpAddr;
using agent::datapath::MapWriter;
using agent::datapath::ServiceEntry;
using agent::datapath::Settings;
using testing::PodReport;

constexpr uint16_t kClientPort = 40000;

// Non-zero counters of one program, by verdict.
using Counts = std::map<std::string, uint64_t>;

Counts CountersOf(MapWriter& w, const std::string& program) {
  Counts out;
  auto all = w.ReadCounters();
  EXPECT_TRUE(all.ok()) << all.status();
  if (!all.ok()) return out;
  for (const CounterValue& c : *all) {
    if (c.program == program && c.value != 0) out[c.verdict] = c.value;
  }
  return out;
}

uint32_t Entries(MapWriter& w, const std::string& map) {
  auto usage = w.MapUsage();
  EXPECT_TRUE(usage.ok()) << usage.status();
  if (usage.ok()) {
    for (const auto& u : *usage) {
      if (u.map == map) return u.entries;
    }
  }
  ADD_FAILURE() << "no map " << map;
  return 0;
}

class SockOpsTest : public testing::BpfFixture {
 protected:
  void Open(bool accel = true, uint32_t max_connections = 64) {
    Settings s;
    s.bpf_root = "";  // unpinned: private maps and links, gone with the Datapath
    s.cgroup_path = cgroup_dir_;
    s.sockmap_accel = accel;
    s.max_services = 16;
    s.max_workloads = 16;
    s.max_pods = 16;
    s.max_connections = max_connections;
    auto dp = Datapath::Open(s);
    ASSERT_TRUE(dp.ok()) << dp.status();
    dp_ = *std::move(dp);
  }
  void TearDown() override {
    dp_.reset();  // detaches before the cgroup is removed
    BpfFixture::TearDown();
  }
  MapWriter& w() { return dp_->writer(); }

  std::unique_ptr<Datapath> dp_;
};

// A pod whose app connects from 127.0.0.1:kClientPort to vip:80, the connection lands on the
// pod's proxy listener, and both stay open. Values: v[0] = 1 when it landed on the listener,
// v[1..2] = the accepted socket's peer port and whether the peer is 127.0.0.1.
struct CollidingPod {
  int listener = -1, client = -1, accepted = -1;
};

void ConnectFromFixedPort(PodReport& r, MapWriter& w, const char* vip, CollidingPod* s) {
  if (!w.Enroll(r.netns_cookie, 0).ok()) return testing::Fail(r, "enroll");
  s->listener = testing::Listen(r, "127.0.0.1", WEFT_OUTBOUND_PORT);
  s->client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local = testing::Addr4("127.0.0.1", kClientPort);
  sockaddr_in dst = testing::Addr4(vip, 80);
  if (bind(s->client, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
    return testing::Fail(r, "bind client");
  }
  if (connect(s->client, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    return testing::Fail(r, std::string("connect ") + vip);
  }
  s->accepted = testing::AcceptWithin(s->listener, testing::kIoTimeoutMs);
  r.v[0] = s->accepted >= 0;
}

// Takes the original destination the way the proxy does: netns cookie of its listener and the
// accepted socket's peer. v[3] = 1 on success, text[0] = the destination, v[4] = service id,
// v[5] = 1 when a second take finds nothing.
void TakeOriginal(PodReport& r, MapWriter& w, const CollidingPod& s) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  if (getpeername(s.accepted, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
    return testing::Fail(r, "getpeername");
  }
  const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
  r.v[1] = ntohs(in.sin_port);
  r.v[2] = in.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
  auto orig = w.TakeOriginalDestination(testing::NetnsCookieOf(s.listener),
                                        reinterpret_cast<sockaddr*>(&peer), len);
  r.v[3] = orig.ok();
  if (orig.ok()) {
    snprintf(r.text[0], sizeof(r.text[0]), "%s", orig->ToString().c_str());
    r.v[4] = orig->service_id;
  } else {
    snprintf(r.text[0], sizeof(r.text[0]), "%s", std::string(orig.status().message()).c_str());
  }
  auto again = w.TakeOriginalDestination(testing::NetnsCookieOf(s.listener),
                                         reinterpret_cast<sockaddr*>(&peer), len);
  r.v[5] = absl::IsNotFound(again.status());
}

TEST_F(SockOpsTest, OriginalDestinationIsPerNetnsWhenLoopbackTuplesCollide) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.2"), 80, 2)).ok());

  CollidingPod a_state, b_state;
  MapWriter& writer = w();
  testing::Pod a(cgroup_dir_,
                 {[&](PodReport& r) { ConnectFromFixedPort(r, writer, "10.96.0.1", &a_state); },
                  [&](PodReport& r) { TakeOriginal(r, writer, a_state); }});
  testing::Pod b(cgroup_dir_,
                 {[&](PodReport& r) { ConnectFromFixedPort(r, writer, "10.96.0.2", &b_state); },
                  [&](PodReport& r) { TakeOriginal(r, writer, b_state); }});
  // Both connections are 127.0.0.1:40000 -> 127.0.0.1:15001 and both entries exist at once.
  EXPECT_EQ(Entries(w(), WEFT_MAP_NAME(WEFT_MAP_CONN_DST)), 2u);
  // Take in the reverse order of connecting: nothing depends on order.
  PodReport rb = b.Finish();
  PodReport ra = a.Finish();
  for (const PodReport* r : {&ra, &rb}) {
    ASSERT_STREQ(r->error, "");
    EXPECT_EQ(r->v[0], 1) << "landed on the proxy listener";
    EXPECT_EQ(r->v[1], kClientPort);
    EXPECT_EQ(r->v[2], 1) << "peer is 127.0.0.1";
    EXPECT_EQ(r->v[3], 1) << r->text[0];
    EXPECT_EQ(r->v[5], 1) << "taking removes the entry";
  }
  EXPECT_NE(ra.netns_cookie, rb.netns_cookie);
  EXPECT_STREQ(ra.text[0], "10.96.0.1:80");
  EXPECT_EQ(ra.v[4], 1);
  EXPECT_STREQ(rb.text[0], "10.96.0.2:80");
  EXPECT_EQ(rb.v[4], 2);
  EXPECT_EQ(Entries(w(), WEFT_MAP_NAME(WEFT_MAP_CONN_DST)), 0u);
  EXPECT_EQ(CountersOf(w(), "connect"), (Counts{{"REDIRECTED", 2}}));
  // Per pod: the app's socket (active) records; both ends go into the sockhash.
  EXPECT_EQ(CountersOf(w(), "sockops"), (Counts{{"CONN_DST_RECORDED", 2}, {"ACCEL_ADDED", 4}}));
}

// The proxy listens on 127.0.0.1 and [::1]; an AF_INET6 app reaches an IPv4 VIP through a
// v4-mapped address and an IPv6 VIP natively. The proxy's lookup key (listener netns cookie,
// getpeername of the accepted socket) must match what sockops recorded in both cases.
TEST_F(SockOpsTest, OriginalDestinationForV4MappedAndNativeIpv6Clients) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("fd00:96::1"), 443, 2)).ok());
  MapWriter& writer = w();
  testing::Pod pod(
      cgroup_dir_, {[&](PodReport& r) {
        if (!writer.Enroll(r.netns_cookie, 0).ok()) return testing::Fail(r, "enroll");
        int l4 = testing::Listen(r, "127.0.0.1", WEFT_OUTBOUND_PORT);
        int l6 = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(l6, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        sockaddr_in6 any6{};
        any6.sin6_family = AF_INET6;
        any6.sin6_addr = in6addr_loopback;
        any6.sin6_port = htons(WEFT_OUTBOUND_PORT);
        if (bind(l6, reinterpret_cast<sockaddr*>(&any6), sizeof(any6)) != 0 || listen(l6, 4) != 0) {
          return testing::Fail(r, "listen [::1]");
        }
        const char* dsts[] = {"::ffff:10.96.0.1", "fd00:96::1"};
        const uint16_t ports[] = {80, 443};
        const int listeners[] = {l4, l6};
        for (int i = 0; i < 2; ++i) {
          int app = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
          sockaddr_in6 dst{};
          dst.sin6_family = AF_INET6;
          inet_pton(AF_INET6, dsts[i], &dst.sin6_addr);
          dst.sin6_port = htons(ports[i]);
          if (connect(app, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
            return testing::Fail(r, std::string("connect ") + dsts[i]);
          }
          int accepted = testing::AcceptWithin(listeners[i], testing::kIoTimeoutMs);
          sockaddr_storage peer{};
          socklen_t len = sizeof(peer);
          if (accepted < 0 ||
              getpeername(accepted, reinterpret_cast<sockaddr*>(&peer), &len) != 0) {
            return testing::Fail(r, "accept");
          }
          auto orig = writer.TakeOriginalDestination(testing::NetnsCookieOf(listeners[i]),
                                                     reinterpret_cast<sockaddr*>(&peer), len);
          snprintf(r.text[i], sizeof(r.text[i]), "%s",
                   orig.ok() ? orig->ToString().c_str() : orig.status().ToString().c_str());
          close(app);
          close(accepted);
        }
      }});
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_STREQ(r.text[0], "10.96.0.1:80");
  EXPECT_STREQ(r.text[1], "[fd00:96::1]:443");
  EXPECT_EQ(CountersOf(w(), "connect"), (Counts{{"REDIRECTED", 2}}));
}

TEST_F(SockOpsTest, EntryTheProxyNeverTookLeavesWhenTheClientCloses) {
  ASSERT_NO_FATAL_FAILURE(Open());
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  MapWriter& writer = w();
  CollidingPod s;
  testing::Pod pod(cgroup_dir_,
                   {[&](PodReport& r) { ConnectFromFixedPort(r, writer, "10.96.0.1", &s); }});
  EXPECT_EQ(Entries(w(), WEFT_MAP_NAME(WEFT_MAP_CONN_DST)), 1u);
  PodReport r = pod.Finish();  // exits: both ends close, the app's socket reaches TCP_CLOSE
  ASSERT_STREQ(r.error, "");
  // TCP_CLOSE comes once loopback has run the closing handshake, maybe just after the exit.
  EXPECT_TRUE(
      testing::WaitFor([&] { return Entries(w(), WEFT_MAP_NAME(WEFT_MAP_CONN_DST)) == 0; }));
  EXPECT_EQ(CountersOf(w(), "sockops"),
            (Counts{{"CONN_DST_RECORDED", 1}, {"CONN_DST_EXPIRED", 1}, {"ACCEL_ADDED", 2}}));
}

TEST_F(SockOpsTest, FullConnDstMapMakesTheProxyRefuseInsteadOfGuessing) {
  ASSERT_NO_FATAL_FAILURE(Open(/*accel=*/true, /*max_connections=*/1));
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  MapWriter& writer = w();
  testing::Pod pod(cgroup_dir_, {[&](PodReport& r) {
                     if (!writer.Enroll(r.netns_cookie, 0).ok()) return testing::Fail(r, "enroll");
                     int listener = testing::Listen(r, "127.0.0.1", WEFT_OUTBOUND_PORT);
                     sockaddr_in dst = testing::Addr4("10.96.0.1", 80);
                     int proxy_ends[2] = {-1, -1};
                     for (int i = 0; i < 2; ++i) {
                       int app = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                       r.v[i] = connect(app, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
                       proxy_ends[i] = testing::AcceptWithin(listener, testing::kIoTimeoutMs);
                       // The app closes: its socket cookie entry goes, but the connection
                       // (and its weft_conndst_v1 entry) waits for the proxy in FIN_WAIT2.
                       close(app);
                     }
                     for (int i = 0; i < 2; ++i) {
                       sockaddr_storage peer{};
                       socklen_t len = sizeof(peer);
                       getpeername(proxy_ends[i], reinterpret_cast<sockaddr*>(&peer), &len);
                       auto orig =
                           writer.TakeOriginalDestination(testing::NetnsCookieOf(listener),
                                                          reinterpret_cast<sockaddr*>(&peer), len);
                       r.v[2 + i] = orig.ok() ? 1 : absl::IsNotFound(orig.status()) ? 2 : 3;
                     }
                   }});
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_EQ(r.v[0], 0);
  EXPECT_EQ(r.v[1], 0);
  EXPECT_EQ(r.v[2], 1) << "the first connection has its destination";
  EXPECT_EQ(r.v[3], 2) << "the second has none: the proxy closes it";
  Counts ops = CountersOf(w(), "sockops");
  EXPECT_EQ(ops["CONN_DST_RECORDED"], 1u);
  EXPECT_EQ(ops["CONN_DST_MAP_FULL"], 1u);
}

// The loopback pair sockmap acceleration works on: the app's connection to the VIP, redirected
// to the pod's outbound listener, and the proxy's accepted end. False (r.error set) on failure.
struct AppProxyPair {
  int listener = -1, app = -1, proxy = -1;
  ~AppProxyPair() {
    for (int fd : {app, proxy, listener}) {
      if (fd >= 0) close(fd);
    }
  }
};

bool ConnectAppToProxy(PodReport& r, MapWriter& w, AppProxyPair* p) {
  if (!w.Enroll(r.netns_cookie, 0).ok()) return testing::Fail(r, "enroll"), false;
  p->listener = testing::Listen(r, "127.0.0.1", WEFT_OUTBOUND_PORT);
  p->app = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in dst = testing::Addr4("10.96.0.1", 80);
  if (p->listener < 0 || connect(p->app, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0) {
    return testing::Fail(r, "connect"), false;
  }
  p->proxy = testing::AcceptWithin(p->listener, testing::kIoTimeoutMs);
  if (p->proxy < 0) return testing::Fail(r, "accept"), false;
  return true;
}

// App <-> proxy over the redirected loopback connection, both ways. v[0] = 1 when each side
// received exactly what the other sent: first one small message each way, then 256 KiB.
// v[1] = sk_msg REDIRECTED count after the two small messages, v[2] = entries in the sockhash
// while the connection is open.
void Exchange(PodReport& r, MapWriter& w) {
  AppProxyPair pair;
  if (!ConnectAppToProxy(r, w, &pair)) return;
  const int app = pair.app, proxy = pair.proxy;
  std::string got;
  bool ok = testing::WriteAll(app, "ping") && testing::ReadExactly(proxy, 4, &got) && got == "ping";
  ok = ok && testing::WriteAll(proxy, "pong!") && testing::ReadExactly(app, 5, &got) &&
       got == "pong!";
  // Kept in locals: a range-for over *temporary StatusOr would dangle.
  auto counters = w.ReadCounters();
  auto usage = w.MapUsage();
  if (!counters.ok() || !usage.ok()) return testing::Fail(r, "read counters or usage");
  for (const CounterValue& c : *counters) {
    if (c.program == "sk_msg" && c.verdict == "REDIRECTED") r.v[1] = static_cast<int64_t>(c.value);
  }
  for (const auto& u : *usage) {
    if (u.map == WEFT_MAP_NAME(WEFT_MAP_SOCKS)) r.v[2] = u.entries;
  }
  std::string big(256 * 1024, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + i % 26);
  // One direction at a time; each fits the peer's receive queue, so no deadlock.
  ok = ok && testing::WriteAll(app, big) && testing::ReadExactly(proxy, big.size(), &got) &&
       got == big;
  ok = ok && testing::WriteAll(proxy, big) && testing::ReadExactly(app, big.size(), &got) &&
       got == big;
  r.v[0] = ok;
}

TEST_F(SockOpsTest, SockmapAccelerationMovesDataBetweenAppAndProxy) {
  ASSERT_NO_FATAL_FAILURE(Open(/*accel=*/true));
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  MapWriter& writer = w();
  testing::Pod pod(cgroup_dir_, {[&](PodReport& r) { Exchange(r, writer); }});
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_EQ(r.v[0], 1) << "data intact both ways";
  EXPECT_EQ(r.v[1], 2) << "each small message went socket to socket";
  EXPECT_EQ(r.v[2], 2) << "both ends in the sockhash";
  Counts msg = CountersOf(w(), "sk_msg");
  EXPECT_GE(msg["REDIRECTED"], 4u);  // a large write may run the program more than once
  EXPECT_EQ(msg.count("NO_PEER"), 0u);
  // The app's socket reaches TCP_CLOSE (and expires its entry) once loopback has run the
  // closing handshake, which may finish just after the pod exits.
  EXPECT_TRUE(
      testing::WaitFor([&] { return CountersOf(w(), "sockops")["CONN_DST_EXPIRED"] == 1; }));
  EXPECT_EQ(CountersOf(w(), "sockops"),
            (Counts{{"CONN_DST_RECORDED", 1}, {"ACCEL_ADDED", 2}, {"CONN_DST_EXPIRED", 1}}));
  EXPECT_EQ(Entries(w(), WEFT_MAP_NAME(WEFT_MAP_SOCKS)), 0u) << "closed sockets leave the map";
}

// The byte at offset i of the pushback test's stream: a pattern that a reordering or a lost
// chunk cannot reproduce.
char PatternAt(uint64_t i) {
  return static_cast<char>((i * 7 + i / 4093) % 251);
}

// The app writes kTotal bytes (blocking, in its own thread) while the proxy reads nothing for
// 300 ms, then everything. v[0] = bytes the app had written when the proxy started reading,
// v[1] = 1 when the app had already written them all (no pushback), v[2] = 1 when the proxy
// read every byte in order, v[3] = sk_msg REDIRECTED count after the drain, v[4] = the same
// after one more message.
void FastWriterSlowReader(PodReport& r, MapWriter& w) {
  constexpr uint64_t kTotal = 64ull << 20;
  AppProxyPair pair;
  if (!ConnectAppToProxy(r, w, &pair)) return;
  const int app = pair.app, proxy = pair.proxy;

  std::atomic<uint64_t> written{0};
  std::atomic<int> write_errno{0};
  std::thread writer([&] {
    std::string chunk(64 * 1024, '\0');
    while (written < kTotal) {
      uint64_t at = written;
      for (size_t i = 0; i < chunk.size(); ++i) chunk[i] = PatternAt(at + i);
      ssize_t n = write(app, chunk.data(), chunk.size());
      if (n <= 0) {
        write_errno = n < 0 ? errno : EPIPE;
        return;
      }
      written += static_cast<uint64_t>(n);
    }
  });
  usleep(300 * 1000);
  r.v[0] = static_cast<int64_t>(written.load());
  r.v[1] = written.load() >= kTotal;

  bool in_order = true;
  std::vector<char> buf(256 * 1024);
  uint64_t got = 0;
  while (got < kTotal && in_order && write_errno == 0) {
    pollfd p{proxy, POLLIN, 0};
    if (poll(&p, 1, testing::kIoTimeoutMs) != 1) break;
    ssize_t n = read(proxy, buf.data(), std::min<uint64_t>(buf.size(), kTotal - got));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; ++i) {
      if (buf[i] != PatternAt(got + i)) in_order = false;
    }
    got += static_cast<uint64_t>(n);
  }
  writer.join();
  if (write_errno != 0) {
    return testing::Fail(r, std::string("app write: ") + strerror(write_errno));
  }
  r.v[2] = in_order && got == kTotal;

  auto redirected = [&]() -> int64_t {
    auto counters = w.ReadCounters();
    if (!counters.ok()) return -1;
    for (const CounterValue& c : *counters) {
      if (c.program == "sk_msg" && c.verdict == "REDIRECTED") return static_cast<int64_t>(c.value);
    }
    return 0;
  };
  r.v[3] = redirected();
  // Drained: the next message goes socket to socket again.
  std::string reply;
  if (!testing::WriteAll(app, "after") || !testing::ReadExactly(proxy, 5, &reply) ||
      reply != "after") {
    return testing::Fail(r, "message after the drain");
  }
  r.v[4] = redirected();
}

// Without a limit the kernel queues redirected messages on the peer regardless of its
// SO_RCVBUF, and a fast sender ends with ENOMEM once TCP's global memory runs out.
TEST_F(SockOpsTest, SockmapAccelerationPushesBackOnASlowReader) {
  ASSERT_NO_FATAL_FAILURE(Open(/*accel=*/true));
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  MapWriter& writer = w();
  testing::Pod pod(cgroup_dir_, {[&](PodReport& r) { FastWriterSlowReader(r, writer); }});
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_EQ(r.v[1], 0) << "the app wrote everything while nobody read: no pushback";
  EXPECT_LT(r.v[0], 32ll << 20) << "bounded like a TCP connection's buffers";
  EXPECT_GT(r.v[0], 1ll << 20) << "redirected up to the limit first";
  EXPECT_EQ(r.v[2], 1) << "every byte arrived, in order, across the switch to TCP";
  EXPECT_EQ(r.v[4], r.v[3] + 1) << "back on the sockmap once the proxy caught up";
  Counts msg = CountersOf(w(), "sk_msg");
  EXPECT_GE(msg["PEER_FULL"], 1u);
}

TEST_F(SockOpsTest, AccelerationOffSwitchKeepsSocketsOutOfTheSockhash) {
  ASSERT_NO_FATAL_FAILURE(Open(/*accel=*/false));
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  MapWriter& writer = w();
  testing::Pod pod(cgroup_dir_, {[&](PodReport& r) { Exchange(r, writer); }});
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_EQ(r.v[0], 1) << "data intact both ways";
  EXPECT_EQ(r.v[1], 0);
  EXPECT_EQ(r.v[2], 0);
  EXPECT_EQ(CountersOf(w(), "sk_msg"), Counts{});
  // The app's socket reaches TCP_CLOSE (and expires its entry) once loopback has run the
  // closing handshake, which may finish just after the pod exits.
  EXPECT_TRUE(
      testing::WaitFor([&] { return CountersOf(w(), "sockops")["CONN_DST_EXPIRED"] == 1; }));
  EXPECT_EQ(CountersOf(w(), "sockops"),
            (Counts{{"CONN_DST_RECORDED", 1}, {"ACCEL_OFF", 2}, {"CONN_DST_EXPIRED", 1}}));
}

TEST_F(SockOpsTest, NetnsFlagOptsOnePodOutOfAcceleration) {
  ASSERT_NO_FATAL_FAILURE(Open(/*accel=*/true));
  ASSERT_TRUE(w().UpsertService(ServiceEntry::Vip(*IpAddr::Parse("10.96.0.1"), 80, 1)).ok());
  MapWriter& writer = w();
  testing::Pod pod(cgroup_dir_, {[&](PodReport& r) {
                     if (!writer.Enroll(r.netns_cookie, WEFT_NETNS_F_NO_ACCEL).ok()) {
                       return testing::Fail(r, "enroll");
                     }
                     int listener = testing::Listen(r, "127.0.0.1", WEFT_OUTBOUND_PORT);
                     int app = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                     sockaddr_in dst = testing::Addr4("10.96.0.1", 80);
                     r.v[0] = connect(app, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
                     r.v[1] = testing::AcceptWithin(listener, testing::kIoTimeoutMs) >= 0;
                   }});
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_EQ(r.v[0], 0);
  EXPECT_EQ(r.v[1], 1);
  Counts ops = CountersOf(w(), "sockops");
  EXPECT_EQ(ops["ACCEL_OFF"], 2u);
  EXPECT_EQ(ops.count("ACCEL_ADDED"), 0u);
}

TEST_F(SockOpsTest, NotEnrolledSocketsAreOnlyCounted) {
  ASSERT_NO_FATAL_FAILURE(Open());
  testing::Pod pod(cgroup_dir_, {[&](PodReport& r) {
                     int listener = testing::Listen(r, "127.0.0.1", 8080);
                     int app = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                     sockaddr_in dst = testing::Addr4("127.0.0.1", 8080);
                     r.v[0] = connect(app, reinterpret_cast<sockaddr*>(&dst), sizeof(dst));
                     r.v[1] = testing::AcceptWithin(listener, testing::kIoTimeoutMs) >= 0;
                   }});
  PodReport r = pod.Finish();
  ASSERT_STREQ(r.error, "");
  EXPECT_EQ(r.v[0], 0);
  EXPECT_EQ(r.v[1], 1);
  EXPECT_EQ(CountersOf(w(), "sockops"), (Counts{{"NOT_ENROLLED", 2}}));
  EXPECT_EQ(Entries(w(), WEFT_MAP_NAME(WEFT_MAP_SOCKS)), 0u);
}

}  // namespace
}  // namespace weft::bpf
