// The node proxy with credentials: outbound connections to a mesh workload travel as HBONE
// (HTTP/2 CONNECT over mutual TLS 1.3) to the destination pod's :15008, where the proxy checks
// the target and the policy before connecting to the app. Two pods in two network
// namespaces joined by a veth (client 10.77.0.1 in the test's private namespace, web
// 10.77.0.2 in its own), one proxy serving both, certificates from a CA made by the test.
// The original destination comes from a table instead of BPF (tests/bpf covers that).

#include <fcntl.h>
#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <future>
#include <memory>

#include "agent/proxy/credentials.h"
#include "agent/proxy/proxy.h"
#include "core/hbone/pool.h"
#include "core/hbone/server.h"
#include "tests/agent/proxy/proxy_testing.h"
#include "tests/core/identity/testing.h"
#include "tests/testing/root.h"

namespace weft::agent::proxy {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using namespace std::chrono_literals;
using identity::testing::IssueWorkload;
using identity::testing::MakeCa;
using identity::testing::Must;

bool Sh(const std::string& cmd) {
  return std::system(cmd.c_str()) == 0;
}

class ProxyHboneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    WEFT_REQUIRE_ROOT();
    EnterPrivateNetns();
    web_ns_ = "wpxhb" + std::to_string(getpid());
    ASSERT_TRUE(Sh("ip netns add " + web_ns_));
    ASSERT_TRUE(Sh("ip link add wpxc type veth peer name wpxw netns " + web_ns_ +
                   " && ip addr add 10.77.0.1/24 dev wpxc && ip link set wpxc up"
                   " && ip -n " +
                   web_ns_ +
                   " addr add 10.77.0.2/24 dev wpxw"
                   " && ip -n " +
                   web_ns_ + " link set wpxw up && ip -n " + web_ns_ + " link set lo up"));
    client_fd_ = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    web_fd_ = open(("/run/netns/" + web_ns_).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(client_fd_, 0);
    ASSERT_GE(web_fd_, 0);
    // The app: a greeting+echo server in the web pod's namespace.
    std::thread([&] {
      ASSERT_EQ(setns(web_fd_, CLONE_NEWNET), 0);
      app_ = std::make_unique<Backend>("web", "10.77.0.2", 8080);
    }).join();
    ASSERT_TRUE(app_->ok());

    ca_ = std::make_unique<identity::CertificateAuthority>(MakeCa("cluster.local"));
    bundle_ = std::make_shared<const identity::TrustBundle>(
        Must(identity::TrustBundle::Create("cluster.local", {ca_->root()})));
  }

  void TearDown() override {
    proxy_.reset();
    web_proxy_.reset();
    app_.reset();
    if (client_fd_ >= 0) close(client_fd_);
    if (web_fd_ >= 0) close(web_fd_);
    Sh("ip link del wpxc 2>/dev/null; ip netns del " + web_ns_ + " 2>/dev/null");
  }

  hbone::SourceIdentity Svid(const std::string& sa) {
    auto s = IssueWorkload(*ca_, "demo", sa);
    return {Must(identity::SpiffeId::Workload("cluster.local", "demo", sa)), std::move(s.cert),
            std::move(s.key)};
  }

  // client and web (ambient, with identities), Service web 10.96.0.10:80 -> 10.77.0.2:8080,
  // plus `extra` (policies, PeerAuthentication on the web workload...) and `service_extra`
  // (fields of the web Service: a waypoint binding).
  static std::shared_ptr<const pb::MeshSnapshot> Snapshot(const std::string& web_extra = "",
                                                          const std::string& extra = "",
                                                          const std::string& service_extra = "") {
    std::string text = std::string(R"pb(
                         workloads {
                           uid: "demo/client"
                           name: "client"
                           namespace: "demo"
                           node: "node1"
                           addresses: "10.77.0.1"
                           service_account: "client"
                           identity: "spiffe://cluster.local/ns/demo/sa/client"
                           dataplane_mode: DATAPLANE_MODE_AMBIENT
                           ready: true
                         }
                         workloads { uid: "demo/web" name: "web" namespace: "demo" node: "node2"
                                     addresses: "10.77.0.2"
                                     service_account: "web"
                                     labels { key: "app" value: "web" }
                                     identity: "spiffe://cluster.local/ns/demo/sa/web"
                                     dataplane_mode: DATAPLANE_MODE_AMBIENT
                                     ready: true)pb") +
                       " " + web_extra + " " + R"pb(}
                                                    services { hostname: "web.demo.svc.cluster.local" name: "web" namespace: "demo"
                 vips: "10.96.0.10" ports { port: 80 target_port: 8080 } )pb" +
                       service_extra + R"pb(
                 endpoints { address: "10.77.0.2" workload_uid: "demo/web"
                             ports { key: 80 value: 8080 } ready: true } })pb" +
                       " " + extra;
    auto snap = std::make_shared<pb::MeshSnapshot>();
    EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, snap.get())) << text;
    return snap;
  }

  // Snapshot() with one AuthorizationPolicy on app=web: `action` for one principal.
  static std::shared_ptr<const pb::MeshSnapshot> PolicySnapshot(const std::string& name,
                                                                const std::string& action,
                                                                const std::string& principal) {
    return Snapshot("authorization_policies: \"demo/" + name + "\"",
                    "authorization_policies { name: \"" + name +
                        "\" namespace: \"demo\" action: " + action +
                        " scope: WORKLOAD selector { key: \"app\" value: \"web\" }"
                        " rules { principals { exact: \"" +
                        principal + "\" } } }");
  }

  // Two node proxies (node1 serves the client, node2 the web pod) with the same credentials,
  // or, `same_node`, one proxy serving both pods.
  void StartProxy(std::shared_ptr<const pb::MeshSnapshot> snap,
                  std::shared_ptr<WorkloadCredentials> creds, bool same_node = false) {
    auto make = [&](const std::string& node) -> std::unique_ptr<Proxy> {
      ProxyInputs in;
      in.settings.workers = 2;
      in.settings.source_certificate_wait = certificate_wait_;
      in.credentials = creds;
      in.log = [this](const std::string& line) {
        std::lock_guard<std::mutex> l(log_mu_);
        log_.push_back(line);
      };
      in.original_destination = [](uint64_t, const SocketAddress&) {
        return std::optional<SocketAddress>(SocketAddress{"10.96.0.10", 80});
      };
      auto p = Proxy::Create(std::move(in));
      EXPECT_TRUE(p.ok()) << p.status();
      if (!p.ok()) return nullptr;
      (*p)->SetView(std::make_shared<NodeView>(snap, node));
      return std::move(*p);
    };
    proxy_ = make("node1");
    ASSERT_TRUE(proxy_);
    ASSERT_TRUE(proxy_->AddPod({"demo/client", client_fd_, 1}).ok());
    if (same_node) {
      ASSERT_TRUE(proxy_->AddPod({"demo/web", web_fd_, 2}).ok());
    } else {
      web_proxy_ = make("node2");
      ASSERT_TRUE(web_proxy_);
      ASSERT_TRUE(web_proxy_->AddPod({"demo/web", web_fd_, 2}).ok());
    }
  }
  // The proxy serving the web pod.
  Proxy& Web() { return web_proxy_ ? *web_proxy_ : *proxy_; }

  std::shared_ptr<WorkloadCredentials> Credentials() {
    std::vector<hbone::SourceIdentity> ids;
    ids.push_back(Svid("client"));
    ids.push_back(Svid("web"));
    return Must(FixedCredentials::Create(bundle_, std::move(ids)));
  }

  // One call through the client pod's outbound listener: the first line the app sent.
  static std::string Call() {
    int fd = Connect("127.0.0.1");
    if (fd < 0) return "connect failed";
    std::string line = ReadLine(fd);
    close(fd);
    return line;
  }

  std::chrono::milliseconds certificate_wait_{2000};
  std::string web_ns_;
  int client_fd_ = -1, web_fd_ = -1;
  std::unique_ptr<Backend> app_;
  std::unique_ptr<identity::CertificateAuthority> ca_;
  std::shared_ptr<const identity::TrustBundle> bundle_;
  std::unique_ptr<Proxy> proxy_, web_proxy_;
  std::mutex log_mu_;
  std::vector<std::string> log_;
};

TEST_F(ProxyHboneTest, MeshTrafficIsHboneWithIdentitiesBothWays) {
  StartProxy(Snapshot(), Credentials());
  int fd = Connect("127.0.0.1");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadLine(fd), "web");
  ASSERT_EQ(write(fd, "ping\n", 5), 5);
  EXPECT_EQ(ReadLine(fd), "ping");
  // Both legs are visible while the connection is open: the outbound one verified the
  // destination's identity, the inbound one its client's.
  bool out_ok = false, in_ok = false;
  auto conns = proxy_->Connections();
  for (const auto& c : Web().Connections()) conns.push_back(c);
  for (const auto& c : conns) {
    if (c.direction == "outbound" && c.mtls &&
        c.peer_identity == "spiffe://cluster.local/ns/demo/sa/web") {
      out_ok = true;
    }
    if (c.direction == "inbound" && c.mtls && c.pod == "demo/web" &&
        c.peer_identity == "spiffe://cluster.local/ns/demo/sa/client") {
      in_ok = true;
    }
  }
  EXPECT_TRUE(out_ok);
  EXPECT_TRUE(in_ok);
  close(fd);
  EXPECT_EQ(proxy_->Stats().hbone_outbound, 1u);
  EXPECT_EQ(Web().Stats().hbone_inbound, 1u);
  EXPECT_EQ(proxy_->Stats().local_deliveries, 0u);
  // Client and server side of one connection.
  EXPECT_EQ(proxy_->Stats().tls_handshakes, 1u);
  EXPECT_EQ(Web().Stats().tls_handshakes, 1u);
}

TEST_F(ProxyHboneTest, ShortConnectionsReuseThePooledHboneConnection) {
  StartProxy(Snapshot(), Credentials());
  for (int i = 0; i < 200; ++i) ASSERT_EQ(Call(), "web") << i;
  EXPECT_EQ(proxy_->Stats().hbone_outbound, 200u);
  EXPECT_EQ(Web().Stats().hbone_inbound, 200u);
  // One pool per worker (2): at most 2 connections, so 2 handshakes per side.
  EXPECT_LE(proxy_->Stats().tls_handshakes, 2u);
  EXPECT_GE(proxy_->Stats().tls_handshakes, 1u);
  EXPECT_LE(Web().Stats().tls_handshakes, 2u);
}

TEST_F(ProxyHboneTest, NoCertificateForTheSourceMeansNoConnectionNotPlaintext) {
  std::vector<hbone::SourceIdentity> only_web;
  only_web.push_back(Svid("web"));
  certificate_wait_ = 300ms;
  StartProxy(Snapshot(), Must(FixedCredentials::Create(bundle_, std::move(only_web))));
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Call(), "");
  EXPECT_GE(std::chrono::steady_clock::now() - start, 300ms) << "failed before the wait was up";
  EXPECT_EQ(proxy_->Stats().no_source_certificate, 1u);
  EXPECT_EQ(app_->accepted(), 0);
}

// Credentials whose source certificates appear only after `delay` (a pod's first connection
// racing its certificate); server contexts are there from the start.
class LateCredentials : public WorkloadCredentials {
 public:
  LateCredentials(std::shared_ptr<WorkloadCredentials> inner, std::chrono::milliseconds delay)
      : inner_(std::move(inner)), ready_at_(std::chrono::steady_clock::now() + delay) {}
  void SetIdentities(const std::vector<identity::SpiffeId>& ids) override {
    inner_->SetIdentities(ids);
  }
  std::shared_ptr<const hbone::SourceIdentity> Source(const identity::SpiffeId& id) const override {
    if (std::chrono::steady_clock::now() < ready_at_) return nullptr;
    return inner_->Source(id);
  }
  std::shared_ptr<boost::asio::ssl::context> ServerTls(
      const identity::SpiffeId& id) const override {
    return inner_->ServerTls(id);
  }
  std::shared_ptr<boost::asio::ssl::context> ClientTls() const override {
    return inner_->ClientTls();
  }
  std::string trust_domain() const override { return inner_->trust_domain(); }

 private:
  std::shared_ptr<WorkloadCredentials> inner_;
  std::chrono::steady_clock::time_point ready_at_;
};

TEST_F(ProxyHboneTest, FirstConnectionWaitsForTheSourceCertificate) {
  StartProxy(Snapshot(), std::make_shared<LateCredentials>(Credentials(), 400ms));
  EXPECT_EQ(Call(), "web") << "the connection made before the certificate was issued";
  EXPECT_EQ(proxy_->Stats().no_source_certificate, 0u);
  EXPECT_EQ(proxy_->Stats().hbone_outbound, 1u);
}

TEST_F(ProxyHboneTest, DenyPolicyOnThePrincipalRefusesAndIsCounted) {
  auto snap = PolicySnapshot("deny-client", "DENY", "cluster.local/ns/demo/sa/client");
  StartProxy(snap, Credentials());
  EXPECT_EQ(Call(), "");
  EXPECT_EQ(Web().Stats().denied_policy, 1u);
  EXPECT_EQ(app_->accepted(), 0);
  std::lock_guard<std::mutex> l(log_mu_);
  // The destination's line names the principal and the policy; the source's says that its
  // tunnel was refused.
  std::vector<std::string> deny, refused;
  for (const auto& line : log_) {
    (line.find("demo/deny-client") != std::string::npos ? deny : refused).push_back(line);
  }
  ASSERT_EQ(deny.size(), 1u) << testing::PrintToString(log_);
  EXPECT_NE(deny[0].find("cluster.local/ns/demo/sa/client"), std::string::npos) << deny[0];
  ASSERT_EQ(refused.size(), 1u) << testing::PrintToString(log_);
  EXPECT_NE(refused[0].find("hbone connect to"), std::string::npos) << refused[0];
  EXPECT_NE(refused[0].find("for demo/client failed"), std::string::npos) << refused[0];
}

TEST_F(ProxyHboneTest, AllowPolicyForAnotherPrincipalDeniesWithNoAllowMatch) {
  auto snap = PolicySnapshot("allow-other", "ALLOW", "cluster.local/ns/demo/sa/other");
  StartProxy(snap, Credentials());
  EXPECT_EQ(Call(), "");
  EXPECT_EQ(Web().Stats().denied_no_allow_match, 1u);
  EXPECT_EQ(app_->accepted(), 0);
}

TEST_F(ProxyHboneTest, ConnectForAnAddressThatIsNotThePodIs400AndAnUnknownCaIsRefused) {
  StartProxy(Snapshot(), Credentials());
  asio::io_context io;
  auto client = Svid("client");
  auto source = std::make_shared<hbone::SourceIdentity>(std::move(client));
  auto tls = Must(MakeHboneTls(bundle_, nullptr));
  auto pool = hbone::HbonePool::Create(io.get_executor(), tls, {});
  std::optional<hbone::ConnectResult> result;
  hbone::ConnectRequest req;
  req.source = source;
  req.destination = {asio::ip::make_address("10.77.0.2"), 15008};
  req.target = {asio::ip::make_address("10.77.0.99"), 8080};  // not the web pod
  // Runs the client's loop until the result arrives (at most 5 s).
  auto run_until_result = [&] {
    io.restart();
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (!result && std::chrono::steady_clock::now() < deadline) io.run_one_for(10ms);
  };
  pool->Connect(req, [&](hbone::ConnectResult r) { result = std::move(r); });
  run_until_result();
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->http_status, 400);
  EXPECT_EQ(Web().Stats().hbone_bad_target, 1u);

  // A client whose certificate comes from a CA the mesh does not trust (it trusts the server,
  // so the refusal is the server's): the pod's :15008 refuses the handshake, counted by reason.
  auto other_ca = MakeCa("cluster.local");
  auto other = IssueWorkload(other_ca, "demo", "client");
  auto other_source = std::make_shared<hbone::SourceIdentity>(
      hbone::SourceIdentity{Must(identity::SpiffeId::Workload("cluster.local", "demo", "client")),
                            std::move(other.cert), std::move(other.key)});
  auto other_pool = hbone::HbonePool::Create(io.get_executor(), tls, {});
  result.reset();
  req.source = other_source;
  req.target = {asio::ip::make_address("10.77.0.2"), 8080};
  other_pool->Connect(req, [&](hbone::ConnectResult r) { result = std::move(r); });
  run_until_result();
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(result->ok());
  EXPECT_EQ(app_->accepted(), 0);
  for (int i = 0; i < 50 && Web().Stats().tls_handshake_failures.empty(); ++i) usleep(20000);
  std::string reasons;
  for (const auto& [r, n] : Web().Stats().tls_handshake_failures) {
    reasons += r + "=" + std::to_string(n) + " ";
  }
  EXPECT_EQ(Web().Stats().tls_handshake_failures["unknown_ca"], 1u) << reasons;
}

// Both pods on one node: the proxy holds both identities, skips TLS, and still applies the
// destination's policy with the source's identity.
TEST_F(ProxyHboneTest, SameNodeMeshTrafficIsDeliveredLocallyUnderTheSamePolicy) {
  StartProxy(Snapshot(), Credentials(), /*same_node=*/true);
  EXPECT_EQ(Call(), "web");
  ProxyStats s = proxy_->Stats();
  EXPECT_EQ(s.local_deliveries, 1u);
  EXPECT_EQ(s.hbone_outbound, 0u);
  EXPECT_EQ(s.tls_handshakes, 0u);
  proxy_.reset();

  auto deny = PolicySnapshot("deny-client", "DENY", "cluster.local/ns/demo/sa/client");
  StartProxy(deny, Credentials(), /*same_node=*/true);
  int before = app_->accepted();
  EXPECT_EQ(Call(), "");
  EXPECT_EQ(proxy_->Stats().denied_policy, 1u);
  EXPECT_EQ(app_->accepted(), before);
}

// ---- Waypoints (docs/waypoint.md, "Node proxy side") ---------------------------------------

// A stand-in for the waypoint: an HboneServer with the waypoint's certificate on a loopback
// address of the client's namespace. Each CONNECT is recorded, then carried on as the waypoint
// would: an HBONE tunnel with the waypoint's own certificate to the web pod's :15008 (target
// 10.77.0.2:8080), spliced to the client's tunnel, so the destination's node proxy sees the
// waypoint's identity. Runs on its own thread.
class FakeWaypoint {
 public:
  struct Request {
    std::string peer;       // the client's verified SPIFFE ID
    std::string authority;  // :authority
    std::string forwarded, traceparent;
    int upstream_status = 0;  // the web pod's answer to the waypoint's own CONNECT
  };

  FakeWaypoint(std::shared_ptr<asio::ssl::context> server_tls,
               std::shared_ptr<asio::ssl::context> client_tls,
               std::shared_ptr<const hbone::SourceIdentity> self, const tcp::endpoint& listen)
      : self_(std::move(self)) {
    error_code ec;
    tcp::acceptor acceptor(io_);
    acceptor.open(listen.protocol(), ec);
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor.bind(listen, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    ok_ = !ec;
    EXPECT_FALSE(ec) << "waypoint listener on " << listen << ": " << ec.message();
    pool_ = hbone::HbonePool::Create(io_.get_executor(), std::move(client_tls), {});
    server_ = hbone::HboneServer::Create(
        std::move(acceptor), [server_tls] { return server_tls; }, {},
        [this](const hbone::InboundRequest& req, hbone::Respond respond) {
          size_t index;
          {
            std::lock_guard<std::mutex> l(mu_);
            requests_.push_back({req.peer.str(), hbone::FormatAuthority(req.target),
                                 std::string(req.header("forwarded")),
                                 std::string(req.header("traceparent"))});
            index = requests_.size() - 1;
          }
          hbone::ConnectRequest up;
          up.source = self_;
          up.destination = {asio::ip::make_address("10.77.0.2"), 15008};
          up.expected_peers = {Must(identity::SpiffeId::Workload("cluster.local", "demo", "web"))};
          up.target = {asio::ip::make_address("10.77.0.2"), 8080};
          up.headers = {{"forwarded", std::string(req.header("forwarded"))}};
          pool_->Connect(std::move(up), [this, index, respond](hbone::ConnectResult r) {
            {
              std::lock_guard<std::mutex> l(mu_);
              requests_[index].upstream_status = r.ok() ? 200 : r.http_status;
            }
            if (!r.ok()) return respond(hbone::Decision::Refuse(hbone::kServiceUnavailable));
            respond(hbone::Decision::Splice(std::move(r.tunnel)));
          });
        });
    guard_.emplace(asio::make_work_guard(io_));
    thread_ = std::thread([this] { io_.run(); });
    asio::post(io_, [this] { server_->Start(); });
  }

  ~FakeWaypoint() {
    std::promise<void> stopped;
    asio::post(io_, [&] {
      server_->Stop();
      pool_->CloseAll();
      stopped.set_value();
    });
    stopped.get_future().wait();
    guard_.reset();
    io_.stop();
    thread_.join();
    io_.restart();
    io_.poll();
    server_.reset();
    pool_.reset();
    io_.restart();
    io_.poll();
  }

  bool ok() const { return ok_; }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> l(mu_);
    return requests_;
  }

 private:
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::shared_ptr<const hbone::SourceIdentity> self_;
  std::shared_ptr<hbone::HbonePool> pool_;
  std::shared_ptr<hbone::HboneServer> server_;
  std::thread thread_;
  bool ok_ = false;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

constexpr char kWaypointId[] = "spiffe://cluster.local/ns/demo/sa/waypoint";

class ProxyWaypointTest : public ProxyHboneTest {
 protected:
  // Snapshot() with the web Service bound to the waypoint demo/waypoint, which has one pod at
  // 127.0.0.2 (ready or not) when `exists`. Its HBONE port is 15018, not 15008: the stand-in
  // lives in the client pod's namespace, where the proxy already listens on *:15008.
  static std::shared_ptr<const pb::MeshSnapshot> WaypointSnapshot(bool exists = true,
                                                                  bool ready = true,
                                                                  const std::string& web_extra = "",
                                                                  const std::string& extra = "") {
    std::string waypoint =
        std::string(R"pb(
          workloads {
            uid: "demo/waypoint-0"
            name: "waypoint-0"
            namespace: "demo"
            node: "node1"
            addresses: "127.0.0.2"
            service_account: "waypoint"
            identity: "spiffe://cluster.local/ns/demo/sa/waypoint"
            labels { key: "gateway.networking.k8s.io/gateway-name" value: "waypoint" }
            dataplane_mode: DATAPLANE_MODE_NONE
            ready: true
          }
          waypoints { name: "waypoint" namespace: "demo"
                      identity: "spiffe://cluster.local/ns/demo/sa/waypoint"
                      service_account: "waypoint"
                      node: "node1"
                      port: 15018
                      gateway_class: "weft-waypoint"
                      endpoints { address: "127.0.0.2" workload_uid: "demo/waypoint-0" node: "node1"
                                  ready:)pb") +
        (ready ? "true" : "false") + " } }";
    return Snapshot(web_extra, extra + (exists ? waypoint : ""),
                    R"pb(waypoint: "waypoint" waypoint_namespace: "demo")pb");
  }

  // The stand-in waypoint at 127.0.0.2:15018, presenting `sa`'s certificate.
  std::unique_ptr<FakeWaypoint> StartWaypoint(const std::string& sa = "waypoint") {
    auto self = std::make_shared<const hbone::SourceIdentity>(Svid(sa));
    auto server_tls = Must(MakeHboneTls(bundle_, self.get()));
    auto client_tls = Must(MakeHboneTls(bundle_, nullptr));
    auto wp = std::make_unique<FakeWaypoint>(
        server_tls, client_tls, self, tcp::endpoint(asio::ip::make_address("127.0.0.2"), 15018));
    EXPECT_TRUE(wp->ok());
    return wp;
  }

  std::vector<std::string> Log() {
    std::lock_guard<std::mutex> l(log_mu_);
    return log_;
  }
};

TEST_F(ProxyWaypointTest, ServiceBoundToAWaypointGoesThereOverHboneWithTheVipAsAuthority) {
  auto waypoint = StartWaypoint();
  StartProxy(WaypointSnapshot(), Credentials());
  int fd = Connect("127.0.0.1");
  ASSERT_GE(fd, 0);
  EXPECT_EQ(ReadLine(fd), "web");
  ASSERT_EQ(write(fd, "ping\n", 5), 5);
  EXPECT_EQ(ReadLine(fd), "ping");

  // While it is open: the client's leg went to the waypoint and verified the waypoint's
  // identity; the destination's node proxy admitted the waypoint's identity.
  bool out_ok = false, in_ok = false;
  for (const auto& c : proxy_->Connections()) {
    if (c.direction != "outbound") continue;
    EXPECT_EQ(c.waypoint, "demo/waypoint");
    EXPECT_EQ(c.waypoint_address, (SocketAddress{"127.0.0.2", 15018}));
    EXPECT_EQ(c.upstream, (SocketAddress{"127.0.0.2", 15018}));
    EXPECT_EQ(c.original_destination, (SocketAddress{"10.96.0.10", 80}));
    EXPECT_EQ(c.peer_identity, kWaypointId);
    EXPECT_TRUE(c.mtls);
    out_ok = true;
  }
  for (const auto& c : Web().Connections()) {
    if (c.direction == "inbound" && c.pod == "demo/web") {
      EXPECT_EQ(c.peer_identity, kWaypointId);
      EXPECT_TRUE(c.waypoint.empty());
      in_ok = true;
    }
  }
  EXPECT_TRUE(out_ok);
  EXPECT_TRUE(in_ok);
  close(fd);

  auto requests = waypoint->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].authority, "10.96.0.10:80") << "the VIP:port dialed, not an endpoint";
  EXPECT_EQ(requests[0].peer, "spiffe://cluster.local/ns/demo/sa/client");
  EXPECT_EQ(requests[0].forwarded, "for=10.77.0.1");
  EXPECT_EQ(requests[0].traceparent.size(), 55u) << requests[0].traceparent;
  EXPECT_EQ(requests[0].upstream_status, 200);

  ProxyStats s = proxy_->Stats();
  EXPECT_EQ(s.waypoint_outbound, 1u);
  EXPECT_EQ(s.hbone_outbound, 1u);
  EXPECT_EQ(s.waypoint_unavailable, 0u);
  EXPECT_EQ(s.local_deliveries, 0u);
  EXPECT_EQ(Web().Stats().hbone_inbound, 1u);
  EXPECT_EQ(app_->accepted(), 1);
}

// The client, the web pod and the waypoint on one node: the proxy serves both pods and would
// deliver web locally, but a waypoint is its own pod, reached over HBONE.
TEST_F(ProxyWaypointTest, SameNodeStillGoesThroughTheWaypointOverHbone) {
  auto waypoint = StartWaypoint();
  StartProxy(WaypointSnapshot(), Credentials(), /*same_node=*/true);
  EXPECT_EQ(Call(), "web");
  ProxyStats s = proxy_->Stats();
  EXPECT_EQ(s.local_deliveries, 0u);
  EXPECT_EQ(s.waypoint_outbound, 1u);
  EXPECT_EQ(s.hbone_outbound, 1u);
  EXPECT_EQ(s.hbone_inbound, 1u) << "the waypoint's tunnel to the web pod";
  EXPECT_GE(s.tls_handshakes, 2u) << "client -> waypoint, and waypoint -> web pod's :15008";
  ASSERT_EQ(waypoint->requests().size(), 1u);
  EXPECT_EQ(waypoint->requests()[0].authority, "10.96.0.10:80");
}

TEST_F(ProxyWaypointTest, MissingWaypointRefusesTheConnectionAndNeverGoesDirect) {
  auto waypoint = StartWaypoint();
  StartProxy(WaypointSnapshot(/*exists=*/false), Credentials());
  EXPECT_EQ(Call(), "");
  ProxyStats s = proxy_->Stats();
  EXPECT_EQ(s.waypoint_unavailable, 1u);
  EXPECT_EQ(s.waypoint_outbound, 0u);
  EXPECT_EQ(s.hbone_outbound, 0u);
  EXPECT_EQ(s.no_endpoint, 0u) << "a distinct reason";
  EXPECT_EQ(app_->accepted(), 0);
  EXPECT_TRUE(waypoint->requests().empty());
  auto log = Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("waypoint demo/waypoint unavailable: no such waypoint"), std::string::npos)
      << log[0];
}

TEST_F(ProxyWaypointTest, WaypointWithNoReadyPodRefusesTheConnection) {
  auto waypoint = StartWaypoint();
  StartProxy(WaypointSnapshot(/*exists=*/true, /*ready=*/false), Credentials());
  EXPECT_EQ(Call(), "");
  EXPECT_EQ(proxy_->Stats().waypoint_unavailable, 1u);
  EXPECT_EQ(app_->accepted(), 0);
  EXPECT_TRUE(waypoint->requests().empty());
  auto log = Log();
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("no ready endpoint"), std::string::npos) << log[0];
}

TEST_F(ProxyWaypointTest, AWaypointAddressPresentingAnotherIdentityIsRefused) {
  auto impostor = StartWaypoint("impostor");
  StartProxy(WaypointSnapshot(), Credentials());
  EXPECT_EQ(Call(), "");
  ProxyStats s = proxy_->Stats();
  EXPECT_EQ(s.hbone_connect_failures, 1u);
  EXPECT_EQ(s.waypoint_unavailable, 0u);
  EXPECT_TRUE(impostor->requests().empty()) << "no CONNECT to a peer that is not the waypoint";
  EXPECT_EQ(app_->accepted(), 0);
}

// The destination's node proxy authorizes the waypoint's identity (the client's is only in
// the waypoint's request): a DENY on the waypoint's principal stops it there.
TEST_F(ProxyWaypointTest, DestinationPolicyIsEvaluatedAgainstTheWaypointsIdentity) {
  auto waypoint = StartWaypoint();
  StartProxy(
      WaypointSnapshot(true, true, R"(authorization_policies: "demo/deny-waypoint")",
                       R"pb(authorization_policies {
                              name: "deny-waypoint"
                              namespace: "demo"
                              action: DENY
                              scope: WORKLOAD
                              selector { key: "app" value: "web" }
                              rules { principals { exact: "cluster.local/ns/demo/sa/waypoint" } }
                            })pb"),
      Credentials());
  EXPECT_EQ(Call(), "");
  EXPECT_EQ(Web().Stats().denied_policy, 1u);
  EXPECT_EQ(app_->accepted(), 0);
  auto requests = waypoint->requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].upstream_status, 401);
}

}  // namespace
}  // namespace weft::agent::proxy
