// The node proxy on loopback, in a private network namespace: real sockets, real listeners
// opened "inside the pod" (here: the test's own namespace), real backends. The original
// destination comes from a table instead of BPF (tests/bpf covers the kernel side).

#include "agent/proxy/proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <mutex>
#include <thread>

#include "tests/agent/proxy/proxy_testing.h"
#include "tests/testing/root.h"

namespace weft::agent::proxy {
namespace {

std::string Call(const std::string& source = "127.0.0.1") {
  int fd = Connect(source);
  if (fd < 0) return "connect failed";
  std::string line = ReadLine(fd);
  close(fd);
  return line;
}

class ProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WEFT_REQUIRE_ROOT();
    EnterPrivateNetns();
    netns_fd_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ASSERT_GE(netns_fd_, 0);
  }
  void TearDown() override {
    proxy_.reset();
    if (netns_fd_ >= 0) close(netns_fd_);
  }

  // A snapshot with service web (VIP 10.96.0.10:80) over backends 127.0.0.2..N:8080.
  std::shared_ptr<const pb::MeshSnapshot> Snapshot(int endpoints, const std::string& policy,
                                                   const std::string& extra_endpoint = "",
                                                   const std::string& pool = "",
                                                   const std::string& outlier = "") {
    std::string text =
        R"pb(services { hostname: "web.demo.svc.cluster.local" name: "web" namespace: "demo"
                        vips: "10.96.0.10"
                        ports { port: 80 target_port: 8080 })pb";
    for (int i = 0; i < endpoints; ++i) {
      text += "endpoints { address: \"127.0.0." + std::to_string(i + 2) +
              "\" ports { key: 80 value: 8080 } ready: true }";
    }
    text += extra_endpoint + "}";
    text += R"pb(workloads { uid: "demo/client" addresses: "127.0.0.1" })pb";
    text +=
        " cluster_policies { name: \"outbound|0||web.demo.svc.cluster.local\" hostname: "
        "\"web.demo.svc.cluster.local\" load_balancer { policy: " +
        policy + " } connection_pool { connect_timeout_ms: 500 " + pool + " } " + outlier + " }";
    auto s = std::make_shared<pb::MeshSnapshot>();
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, s.get())) << text;
    return s;
  }

  void StartProxy(std::shared_ptr<const pb::MeshSnapshot> snap, int workers = 2,
                  std::chrono::milliseconds idle = std::chrono::hours(1),
                  size_t max_buffer = 256 * 1024,
                  std::function<void(const std::string&)> log = nullptr) {
    ProxyInputs in;
    in.log = std::move(log);
    in.settings.workers = workers;
    in.settings.max_buffer_size = max_buffer;
    in.settings.idle_timeout = idle;
    in.original_destination = [this](uint64_t,
                                     const SocketAddress& peer) -> std::optional<SocketAddress> {
      lookups_++;
      if (peer.address == "127.0.0.66") return std::nullopt;  // "unknown" client
      if (peer.address == "127.0.0.77") return SocketAddress{"127.0.0.9", 9090};  // not mesh
      return SocketAddress{"10.96.0.10", 80};
    };
    auto p = Proxy::Create(std::move(in));
    ASSERT_TRUE(p.ok()) << p.status();
    proxy_ = std::move(*p);
    proxy_->SetView(std::make_shared<NodeView>(std::move(snap), "node1"));
    ASSERT_TRUE(proxy_->AddPod({"demo/client", netns_fd_, 1}).ok());
  }

  int netns_fd_ = -1;
  std::atomic<int> lookups_{0};
  std::unique_ptr<Proxy> proxy_;
};

TEST_F(ProxyTest, RoundRobinSpreadsEvenlyOverThreeEndpoints) {
  Backend a("a", "127.0.0.2", 8080), b("b", "127.0.0.3", 8080), c("c", "127.0.0.4", 8080);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  StartProxy(Snapshot(3, "ROUND_ROBIN"));
  std::map<std::string, int> seen;
  for (int i = 0; i < 300; ++i) seen[Call()]++;
  ASSERT_EQ(seen.size(), 3u) << seen.begin()->first;
  for (auto& [name, n] : seen) EXPECT_NEAR(n, 100, 1) << name;
  EXPECT_EQ(proxy_->Stats().accepted_outbound, 300u);
}

TEST_F(ProxyTest, ConsistentHashIsStablePerSource) {
  Backend a("a", "127.0.0.2", 8080), b("b", "127.0.0.3", 8080), c("c", "127.0.0.4", 8080);
  StartProxy(Snapshot(3, "MAGLEV"));
  std::map<std::string, std::string> first;
  std::map<std::string, int> spread;
  for (int round = 0; round < 3; ++round) {
    for (int s = 10; s < 40; ++s) {
      std::string src = "127.0.1." + std::to_string(s);
      std::string got = Call(src);
      if (round == 0) {
        first[src] = got;
        spread[got]++;
      } else {
        EXPECT_EQ(got, first[src]) << src;
      }
    }
  }
  EXPECT_GE(spread.size(), 2u);
}

TEST_F(ProxyTest, RefusedEndpointIsRetriedOnAnotherAndEjectedAfterFiveFailures) {
  Backend a("a", "127.0.0.2", 8080);  // 127.0.0.3:8080 has no listener: refused
  StartProxy(Snapshot(2, "ROUND_ROBIN"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Call(), "a");
  // No outlierDetection in the policy: Envoy's defaults still eject after 5 in a row.
  auto s = proxy_->Stats();
  EXPECT_EQ(s.connect_failures, 5u);
  EXPECT_EQ(s.connect_retries, s.connect_failures);
  EXPECT_EQ(s.outlier_ejections, 1u);
  ASSERT_EQ(s.clusters.size(), 1u);
  EXPECT_EQ(s.clusters[0].name, "outbound|80||web.demo.svc.cluster.local");
  ASSERT_EQ(s.clusters[0].endpoints.size(), 1u);
  EXPECT_EQ(s.clusters[0].endpoints[0].endpoint, "127.0.0.3:8080");
  EXPECT_TRUE(s.clusters[0].endpoints[0].ejected);
  EXPECT_GT(s.clusters[0].endpoints[0].ejected_remaining_ms, 25'000);
  // A new snapshot (same endpoints) keeps the ejection.
  proxy_->SetView(std::make_shared<NodeView>(Snapshot(2, "ROUND_ROBIN"), "node1"));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Call(), "a");
  EXPECT_EQ(proxy_->Stats().connect_failures, 5u);
}

TEST_F(ProxyTest, EjectionFollowsTheOutlierDetectionOfThePolicy) {
  Backend a("a", "127.0.0.2", 8080);
  // consecutive5xxErrors: 0 and no split: connect failures eject nothing (as Envoy).
  StartProxy(Snapshot(2, "ROUND_ROBIN", "", "", "outlier_detection { consecutive_5xx_errors: 0 }"));
  for (int i = 0; i < 20; ++i) EXPECT_EQ(Call(), "a");
  EXPECT_GE(proxy_->Stats().connect_failures, 9u);
  EXPECT_EQ(proxy_->Stats().outlier_ejections, 0u);
  // Split local-origin errors: consecutiveLocalOriginFailures 2, back after 300 ms.
  proxy_->SetView(std::make_shared<NodeView>(
      Snapshot(2, "ROUND_ROBIN", "", "",
               "outlier_detection { split_external_local_origin_errors: true "
               "consecutive_local_origin_failures: 2 base_ejection_time_ms: 300 }"),
      "node1"));
  uint64_t before = proxy_->Stats().connect_failures;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Call(), "a");
  EXPECT_EQ(proxy_->Stats().outlier_ejections, 1u);
  EXPECT_LE(proxy_->Stats().connect_failures - before, 2u);
  usleep(350'000);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(Call(), "a");  // back, failing, ejected again (600 ms)
  EXPECT_EQ(proxy_->Stats().outlier_ejections, 2u);
  auto s = proxy_->Stats();
  ASSERT_EQ(s.clusters.size(), 1u);
  ASSERT_EQ(s.clusters[0].endpoints.size(), 1u);
  EXPECT_EQ(s.clusters[0].endpoints[0].ejections, 2u);
  EXPECT_GT(s.clusters[0].endpoints[0].ejected_remaining_ms, 400);
}

TEST_F(ProxyTest, MaxConnectionsRefusesTheOverflowAtOnceAcrossWorkersAndSnapshots) {
  Backend a("a", "127.0.0.2", 8080);
  std::vector<std::string> logs;
  std::mutex logs_mu;
  StartProxy(Snapshot(1, "ROUND_ROBIN", "", "max_connections: 1"), 2, std::chrono::hours(1),
             256 * 1024, [&](const std::string& l) {
               std::lock_guard<std::mutex> g(logs_mu);
               logs.push_back(l);
             });
  int held = Connect("127.0.0.1");
  ASSERT_GE(held, 0);
  EXPECT_EQ(ReadLine(held), "a");
  // The next connections (on either worker) are closed at once, without reaching the backend.
  for (int i = 0; i < 4; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(Call(), "");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  }
  EXPECT_EQ(a.accepted(), 1);
  auto s = proxy_->Stats();
  EXPECT_EQ(s.upstream_cx_overflow, 4u);
  ASSERT_EQ(s.clusters.size(), 1u);
  EXPECT_EQ(s.clusters[0].active_connections, 1);
  EXPECT_EQ(s.clusters[0].max_connections, 1u);
  EXPECT_EQ(s.clusters[0].upstream_cx_overflow, 4u);
  {
    std::lock_guard<std::mutex> g(logs_mu);
    ASSERT_EQ(logs.size(), 1u);  // at most one line a second
    EXPECT_NE(logs[0].find("maxConnections 1 reached"), std::string::npos) << logs[0];
  }
  // A new snapshot does not forget the held connection.
  proxy_->SetView(
      std::make_shared<NodeView>(Snapshot(1, "ROUND_ROBIN", "", "max_connections: 1"), "node1"));
  EXPECT_EQ(Call(), "");
  close(held);
  for (int i = 0; i < 100 && proxy_->Stats().clusters[0].active_connections != 0; ++i) {
    usleep(10'000);
  }
  EXPECT_EQ(Call(), "a");
  EXPECT_EQ(proxy_->Stats().upstream_cx_overflow, 5u);
}

TEST_F(ProxyTest, EchoesBothWaysWithHalfCloseAndCountsBytes) {
  Backend a("a", "127.0.0.2", 8080);
  StartProxy(Snapshot(1, "ROUND_ROBIN"));
  int fd = Connect("127.0.0.1");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadLine(fd), "a");
  std::string payload(200000, 'x');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  std::thread writer([&] {
    size_t off = 0;
    while (off < payload.size()) {
      ssize_t n = write(fd, payload.data() + off, payload.size() - off);
      if (n <= 0) break;
      off += n;
    }
    shutdown(fd, SHUT_WR);  // half-close: the echo must still come back in full
  });
  std::string echoed;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    echoed.append(buf, n);
  }
  writer.join();
  close(fd);
  EXPECT_EQ(echoed, payload);
  // Stats settle once the connection is gone.
  for (int i = 0; i < 100 && proxy_->Stats().active != 0; ++i) usleep(10000);
  ProxyStats s = proxy_->Stats();
  EXPECT_EQ(s.bytes_sent, payload.size());
  EXPECT_EQ(s.bytes_received, payload.size() + 2);  // + "a\n"
  EXPECT_EQ(s.active, 0u);
}

// Copy buffers start at 16 KiB per direction, grow while reads fill them (bulk), never past
// max_buffer_size; a connection that only exchanges small messages keeps the small ones.
TEST_F(ProxyTest, BulkTransferGrowsCopyBuffersWithinTheBound) {
  Backend a("a", "127.0.0.2", 8080);
  StartProxy(Snapshot(1, "ROUND_ROBIN"), 1, std::chrono::hours(1), 64 * 1024);
  auto buffer_of = [&](size_t want_conns) -> uint64_t {
    auto conns = proxy_->Connections();
    return conns.size() == want_conns ? conns[0].buffer_bytes : 0;
  };
  int small = Connect("127.0.0.1");
  ASSERT_GE(small, 0);
  EXPECT_EQ(ReadLine(small), "a");
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(write(small, "ping\n", 5), 5);
    ASSERT_EQ(ReadLine(small), "ping");
  }
  EXPECT_EQ(buffer_of(1), 2u * 16 * 1024);
  close(small);
  for (int i = 0; i < 100 && proxy_->Stats().active != 0; ++i) usleep(10000);

  int fd = Connect("127.0.0.1");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadLine(fd), "a");
  const size_t total = 8 << 20;
  std::thread writer([&] {
    std::string chunk(1 << 20, 'x');
    for (size_t off = 0; off < total;) {
      ssize_t n = write(fd, chunk.data(), std::min(chunk.size(), total - off));
      if (n <= 0) break;
      off += n;
    }
  });
  size_t got = 0;
  char buf[65536];
  while (got < total) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    got += n;
  }
  writer.join();
  EXPECT_EQ(got, total);
  uint64_t grown = buffer_of(1);
  EXPECT_GT(grown, 2u * 16 * 1024);
  EXPECT_LE(grown, 2u * 64 * 1024);
  close(fd);
}

TEST_F(ProxyTest, UnknownOriginalDestinationIsClosedAndNonMeshPassesThrough) {
  Backend other("other", "127.0.0.9", 9090);
  StartProxy(Snapshot(1, "ROUND_ROBIN"));
  EXPECT_EQ(Call("127.0.0.66"), "");
  EXPECT_EQ(proxy_->Stats().no_original_destination, 1u);
  EXPECT_EQ(Call("127.0.0.77"), "other");
  EXPECT_EQ(proxy_->Stats().passthrough, 1u);
}

TEST_F(ProxyTest, NewSnapshotAppliesToNewConnectionsOnly) {
  Backend a("a", "127.0.0.2", 8080), b("b", "127.0.0.3", 8080);
  StartProxy(Snapshot(1, "ROUND_ROBIN"));
  int held = Connect("127.0.0.1");
  EXPECT_EQ(ReadLine(held), "a");
  // Endpoint a removed, b added.
  auto snap =
      Snapshot(0, "ROUND_ROBIN",
               "endpoints { address: \"127.0.0.3\" ports { key: 80 value: 8080 } ready: true }");
  proxy_->SetView(std::make_shared<NodeView>(snap, "node1"));
  for (int i = 0; i < 5; ++i) EXPECT_EQ(Call(), "b");
  // The held connection still works through its original endpoint.
  ASSERT_EQ(write(held, "ping\n", 5), 5);
  EXPECT_EQ(ReadLine(held), "ping");
  // The calls above closed their sockets; the proxy finishes tearing them down shortly.
  auto conns = proxy_->Connections();
  for (int i = 0; i < 100 && conns.size() != 1; ++i) {
    usleep(10000);
    conns = proxy_->Connections();
  }
  if (conns.size() != 1) close(held);
  ASSERT_EQ(conns.size(), 1u);
  EXPECT_EQ(conns[0].upstream.address, "127.0.0.2");
  EXPECT_EQ(conns[0].original_destination.address, "10.96.0.10");
  EXPECT_EQ(conns[0].direction, "outbound");
  close(held);
}

TEST_F(ProxyTest, IdleConnectionsAreClosed) {
  Backend a("a", "127.0.0.2", 8080);
  StartProxy(Snapshot(1, "ROUND_ROBIN"), 1, std::chrono::milliseconds(200));
  int fd = Connect("127.0.0.1");
  EXPECT_EQ(ReadLine(fd), "a");
  char c;
  pollfd p{fd, POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 3000), 1);
  EXPECT_EQ(read(fd, &c, 1), 0);  // closed by the proxy
  close(fd);
  EXPECT_EQ(proxy_->Stats().idle_timeouts, 1u);
}

TEST_F(ProxyTest, RemovedPodStopsAcceptingButKeepsConnections) {
  Backend a("a", "127.0.0.2", 8080);
  StartProxy(Snapshot(1, "ROUND_ROBIN"));
  int held = Connect("127.0.0.1");
  EXPECT_EQ(ReadLine(held), "a");
  proxy_->RemovePod("demo/client");
  usleep(50000);
  EXPECT_EQ(Connect("127.0.0.1"), -1);
  ASSERT_EQ(write(held, "still\n", 6), 6);
  EXPECT_EQ(ReadLine(held), "still");
  close(held);
  EXPECT_TRUE(proxy_->Pods().empty());
}

TEST_F(ProxyTest, AcceptsIpv6ClientsOnLoopback) {
  Backend a("a", "127.0.0.2", 8080);
  StartProxy(Snapshot(1, "ROUND_ROBIN"));
  int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in6 sa{};
  sa.sin6_family = AF_INET6;
  sa.sin6_port = htons(15001);
  inet_pton(AF_INET6, "::1", &sa.sin6_addr);
  ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)), 0) << strerror(errno);
  EXPECT_EQ(ReadLine(fd), "a");
  close(fd);
}

}  // namespace
}  // namespace weft::agent::proxy
