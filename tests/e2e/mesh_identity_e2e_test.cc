// End to end, on a 2-node netns cluster of its own (mesh_fixture.h) whose workload
// certificates live 30 s (renewed at half life, so every 15 s): what workload identity must
// guarantee on the wire — certificates rotate under live connections without dropping one,
// pooled HBONE connections are reused, and a forged certificate (unknown CA, expired, another
// trust domain under the cluster's own root) is refused at the handshake by node2's :15008.

#include <fcntl.h>
#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>

#include "core/hbone/pool.h"
#include "core/identity/ca.h"
#include "core/identity/csr.h"
#include "core/identity/key_pair.h"
#include "core/identity/tls.h"
#include "core/identity/trust_bundle.h"
#include "tests/e2e/mesh_fixture.h"

namespace weft::e2e {
namespace {

using namespace std::chrono_literals;

class MeshIdentityE2E : public MeshE2E {
 public:
  static void SetUpTestSuite() { UpArgs() = "--agent-arg=--workload-cert-ttl=30s"; }

 protected:
  // identity -> serial of every certificate a node's proxy holds.
  static std::map<std::string, std::string> Serials(const std::string& node) {
    std::map<std::string, std::string> out;
    json c = Admin(node, "/certs");
    if (!c.is_array()) return out;
    for (const auto& j : c) out[j.value("identity", "")] = j.value("serial", "");
    return out;
  }

  // True when every identity of `before` now has another serial (and a valid certificate).
  static bool AllRenewed(const std::string& node,
                         const std::map<std::string, std::string>& before) {
    if (before.empty() || !CertsValid(node)) return false;
    auto now = Serials(node);
    for (const auto& [id, serial] : before) {
      auto it = now.find(id);
      if (it == now.end() || it->second == serial || it->second.empty()) return false;
    }
    return true;
  }

  static uint64_t Stat(const std::string& node, const std::string& key) {
    json s = Admin(node, "/stats");
    return s.is_object() ? s.value(key, 0ull) : 0;
  }

  static uint64_t HandshakeFailures(const std::string& node, const std::string& reason) {
    json s = Admin(node, "/stats");
    if (!s.is_object() || !s.contains("tls_handshake_failures")) return 0;
    return s["tls_handshake_failures"].value(reason, 0ull);
  }

  static std::string CaDir() { return "/run/weft/cluster-" + S().name + "/ca"; }
};

// 1,000 short connections from the client (node1) to web-v2 (node2) ride HBONE streams on
// pooled connections: node1's proxy makes a handful of TLS handshakes for them, not 1,000 —
// one pooled connection per worker thread (one per CPU), and one more per worker if a
// 15 s renewal of the client's certificate falls inside (a new certificate, a new connection).
TEST_F(MeshIdentityE2E, ThousandShortConnectionsReusePooledHboneConnections) {
  std::string web_v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(web_v2.empty()) << Admin(N1(), "/workloads").dump(1);
  const std::string target = web_v2 + ":8080";
  ASSERT_TRUE(WaitFor([&] { return Call(target, 1).code == 0; }, 10000));
  const uint64_t handshakes0 = Stat(N1(), "tls_handshakes");
  const uint64_t outbound0 = Stat(N1(), "hbone_outbound");
  Result r = Call(target, 1000);
  const uint64_t handshakes = Stat(N1(), "tls_handshakes") - handshakes0;
  const uint64_t outbound = Stat(N1(), "hbone_outbound") - outbound0;
  ASSERT_EQ(r.code, 0) << r.all();
  EXPECT_EQ(r.out, "web-v2 1000\n");
  EXPECT_GE(outbound, 1000u) << "each connection is one HBONE stream";
  // The proxy runs one worker per CPU, each with its own pool.
  const uint64_t workers = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_LE(handshakes, 2 * workers) << "TLS handshakes by node1's proxy for 1,000 connections";
  std::cerr << "1,000 connections to web-v2: " << outbound << " HBONE streams, " << handshakes
            << " TLS handshakes on node1\n";
}

// A connection held open across a certificate renewal on both nodes (the client's on node1,
// web-v2's on node2) keeps working: an echo round trip every 100 ms never fails. New
// connections after the renewal handshake with the new certificates.
TEST_F(MeshIdentityE2E, CertificateRotationDropsNoLiveConnection) {
  std::string web_v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(web_v2.empty()) << Admin(N1(), "/workloads").dump(1);
  const std::string target = web_v2 + ":8080";
  ASSERT_TRUE(WaitFor([&] { return Call(target, 1).code == 0; }, 10000));
  const auto serials1 = Serials(N1());
  const auto serials2 = Serials(N2());
  ASSERT_FALSE(serials1.empty());
  ASSERT_FALSE(serials2.empty());

  Result held;
  std::atomic<bool> held_done{false};
  std::thread t([&] {
    held = Call(target, 1, "--hold-ms 22000 --interval-ms 100");
    held_done = true;
  });
  // 30 s certificates renew within 15 s (plus jitter of the agent's schedule).
  bool renewed =
      WaitFor([&] { return AllRenewed(N1(), serials1) && AllRenewed(N2(), serials2); }, 20000);
  bool renewed_while_held = renewed && !held_done.load();
  t.join();  // bounded: --hold-ms 22000 plus the call's timeout
  ASSERT_TRUE(renewed) << "before: " << json(serials1).dump() << json(serials2).dump()
                       << "\nnow: " << Admin(N1(), "/certs").dump(1)
                       << Admin(N2(), "/certs").dump(1);
  EXPECT_TRUE(renewed_while_held) << "the renewal came after the held connection ended";
  EXPECT_EQ(held.code, 0) << "the held connection broke across the renewal:\n" << held.all();
  Result after = Call(target, 5);
  EXPECT_EQ(after.code, 0) << after.all();
  EXPECT_EQ(after.out, "web-v2 5\n");
}

// A caller outside the mesh presents a client certificate for the mesh client's own identity
// (spiffe://cluster.local/ns/demo/sa/default) to web-v2's :15008 — from an unknown CA,
// expired, or for another trust domain though signed by the cluster's root. node2 refuses each
// at the handshake and counts it by reason; nothing reaches the app.
TEST_F(MeshIdentityE2E, ForgedCertificatesAreRefusedAtTheHandshake) {
  std::string web_v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(web_v2.empty()) << Admin(N1(), "/workloads").dump(1);
  WriteOutsider();
  auto cleanup = [&] {
    std::error_code ec;
    fs::remove(S().dir / "outsider.yaml", ec);
  };
  const fs::path certs = S().root / "forged";
  fs::create_directories(certs);
  const std::string root_crt = CaDir() + "/root.crt";
  auto cluster_ca = identity::CertificateAuthority::FromFiles(root_crt, CaDir() + "/root.key");
  ASSERT_TRUE(cluster_ca.ok()) << cluster_ca.status();
  auto id = identity::SpiffeId::Workload("cluster.local", "demo", "default");
  ASSERT_TRUE(id.ok());
  auto node = identity::SpiffeId::Node("cluster.local", N1());
  ASSERT_TRUE(node.ok());
  auto allow = [](const identity::SpiffeId&, const identity::SpiffeId&) {
    return absl::OkStatus();
  };
  // Writes <name>.crt and <name>.key for a certificate `ca` signs for `id`.
  auto forge = [&](const std::string& name, const identity::CertificateAuthority& ca) {
    auto key = identity::KeyPair::GenerateP256();
    ASSERT_TRUE(key.ok());
    auto csr = identity::CreateCsr(*key, *id);
    ASSERT_TRUE(csr.ok());
    auto cert = ca.Sign(*csr, *node, 1h, allow);
    ASSERT_TRUE(cert.ok()) << cert.status();
    std::ofstream(certs / (name + ".crt")) << cert->ToPem();
    std::ofstream(certs / (name + ".key")) << key->PrivateKeyPem();
  };
  // An unknown CA of the same trust domain.
  auto stranger = identity::CertificateAuthority::CreateRoot("cluster.local", 24h);
  ASSERT_TRUE(stranger.ok());
  ASSERT_NO_FATAL_FAILURE(forge("unknown_ca", *stranger));
  // The cluster's root, three hours ago, for one hour.
  auto past = identity::CertificateAuthority::FromFiles(root_crt, CaDir() + "/root.key");
  ASSERT_TRUE(past.ok());
  const auto now = identity::Clock::now();
  past->set_clock([now] { return now - 3h; });
  ASSERT_NO_FATAL_FAILURE(forge("expired", *past));
  // The cluster's root signing spiffe://evil.local/... (the CA itself never would: openssl).
  Result wtd = Sh("cd " + certs.string() +
                  " && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes"
                  " -keyout wrong_trust_domain.key -subj /O=evil -out wtd.csr"
                  " && printf 'subjectAltName=URI:spiffe://evil.local/ns/demo/sa/default\\n"
                  "extendedKeyUsage=clientAuth,serverAuth\\nkeyUsage=critical,digitalSignature\\n"
                  "basicConstraints=critical,CA:FALSE\\n' > wtd.ext"
                  " && openssl x509 -req -in wtd.csr -CA " +
                  root_crt + " -CAkey " + CaDir() +
                  "/root.key -CAcreateserial -CAserial wtd.srl -days 1 -extfile wtd.ext"
                  " -out wrong_trust_domain.crt");
  ASSERT_EQ(wtd.code, 0) << wtd.all();

  const std::string target = web_v2 + ":15008";
  auto present = [&](const std::string& name) {
    return ClusterCmd("exec outside/caller -- timeout 5 openssl s_client -connect " + target +
                      " -tls1_3 -alpn h2 -CAfile " + root_crt + " -cert " +
                      (certs / (name + ".crt")).string() + " -key " +
                      (certs / (name + ".key")).string() + " -quiet");
  };
  // The outsider is up once a plain call from it reaches web-v2's app (PERMISSIVE).
  if (!WaitFor(
          [&] {
            return ClusterCmd("exec outside/caller -- weft-testapp call " + web_v2 +
                              ":8080 -n 1 --timeout-ms 2000")
                       .code == 0;
          },
          30000)) {
    cleanup();
    FAIL() << "the outsider pod did not come up";
  }
  const uint64_t inbound0 = Stat(N2(), "hbone_inbound");
  std::map<std::string, bool> refused;
  std::map<std::string, std::string> outputs;
  for (const std::string reason : {"unknown_ca", "expired", "wrong_trust_domain"}) {
    const uint64_t before = HandshakeFailures(N2(), reason);
    Result r = present(reason);
    outputs[reason] = r.all();
    refused[reason] = WaitFor([&] { return HandshakeFailures(N2(), reason) == before + 1; }, 5000);
  }
  const uint64_t inbound = Stat(N2(), "hbone_inbound") - inbound0;
  cleanup();
  for (const auto& [reason, ok] : refused) {
    EXPECT_TRUE(ok) << reason << " not counted by node2; s_client said:\n"
                    << outputs[reason] << "\nstats: " << Admin(N2(), "/stats").dump(1);
  }
  EXPECT_EQ(inbound, 0u) << "a forged certificate opened an HBONE stream";
}

// HBONE as a ztunnel of another node would speak it, from the client pod's address with a
// valid certificate for spiffe://cluster.local/ns/outside/sa/default (signed by the cluster's
// root): a CONNECT to web-v2's :15008 for web-v1 (a workload on node1, not node2) is answered
// 400; one for web-v2 itself is 200, the app answers through the tunnel, and node2's proxy
// shows the connection as mTLS with that peer identity.
TEST_F(MeshIdentityE2E, HboneConnectForAWorkloadNotOnThatNodeIs400) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  std::string web_v1 = WorkloadIp("web-v1"), web_v2 = WorkloadIp("web-v2");
  ASSERT_FALSE(web_v1.empty() || web_v2.empty()) << Admin(N1(), "/workloads").dump(1);
  const std::string root_crt = CaDir() + "/root.crt";
  auto ca = identity::CertificateAuthority::FromFiles(root_crt, CaDir() + "/root.key");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto id = identity::SpiffeId::Workload("cluster.local", "outside", "default");
  auto node = identity::SpiffeId::Node("cluster.local", N1());
  auto key = identity::KeyPair::GenerateP256();
  ASSERT_TRUE(id.ok() && node.ok() && key.ok());
  auto csr = identity::CreateCsr(*key, *id);
  ASSERT_TRUE(csr.ok());
  auto cert = ca->Sign(*csr, *node, 1h, [](const identity::SpiffeId&, const identity::SpiffeId&) {
    return absl::OkStatus();
  });
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto bundle = identity::TrustBundle::Create("cluster.local", {ca->root()});
  ASSERT_TRUE(bundle.ok());
  identity::ossl::SslCtx ctx(SSL_CTX_new(TLS_method()));
  ASSERT_TRUE(identity::ConfigureMutualTls(ctx.get(),
                                           std::make_shared<const identity::TrustBundle>(*bundle))
                  .ok());
  auto source =
      std::make_shared<hbone::SourceIdentity>(hbone::SourceIdentity{*id, *cert, std::move(*key)});

  // Sockets made in the client pod's netns (a thread of their own enters it).
  const std::string netns = "/run/netns/weft-" + S().name + "-pod-demo-client";
  hbone::PoolSettings ps;
  ps.connect_timeout = 5s;
  ps.make_socket = [netns](asio::any_io_executor ex,
                           const hbone::ConnectRequest&) -> absl::StatusOr<tcp::socket> {
    int fd = -1, err = 0;
    std::thread([&] {
      int ns = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
      if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) {
        err = errno;
      } else {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) err = errno;
      }
      if (ns >= 0) close(ns);
    }).join();
    if (fd < 0)
      return absl::InternalError(std::string("socket in ") + netns + ": " + strerror(err));
    return tcp::socket(ex, tcp::v4(), fd);
  };
  asio::io_context io;
  auto pool = hbone::HbonePool::Create(io.get_executor(), h2::WrapSslCtx(ctx.get()), ps);
  auto connect = [&](const std::string& target_ip) {
    hbone::ConnectRequest r;
    r.source = source;
    r.destination = tcp::endpoint(asio::ip::make_address(web_v2), 15008);
    r.target = tcp::endpoint(asio::ip::make_address(target_ip), 8080);
    std::optional<hbone::ConnectResult> out;
    pool->Connect(r, [&](hbone::ConnectResult res) { out = std::move(res); });
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!out && std::chrono::steady_clock::now() < deadline) io.run_one_for(10ms);
    if (out) return *out;
    hbone::ConnectResult none;
    none.status = absl::DeadlineExceededError("no answer in 10 s");
    return none;
  };

  const uint64_t bad0 = Stat(N2(), "hbone_bad_target");
  hbone::ConnectResult not_here = connect(web_v1);
  EXPECT_EQ(not_here.http_status, 400) << not_here.status;
  EXPECT_FALSE(not_here.tunnel);
  EXPECT_EQ(Stat(N2(), "hbone_bad_target"), bad0 + 1);

  hbone::ConnectResult here = connect(web_v2);
  ASSERT_EQ(here.http_status, 200) << here.status;
  ASSERT_TRUE(here.tunnel);
  EXPECT_TRUE(here.reused) << "the second CONNECT rides the first one's connection";
  // The app greets with its name first.
  std::string greeting;
  std::array<char, 256> buf;
  bool done = false;
  std::function<void()> read_more = [&] {
    here.tunnel->AsyncReadSome(asio::buffer(buf), [&](boost::system::error_code e, size_t n) {
      greeting.append(buf.data(), n);
      if (e || greeting.find('\n') != std::string::npos) {
        done = true;
        return;
      }
      read_more();
    });
  };
  read_more();
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!done && std::chrono::steady_clock::now() < deadline) io.run_one_for(10ms);
  EXPECT_EQ(greeting.rfind("web-v2", 0), 0u) << greeting;
  // Node2's proxy sees the tunnel as mTLS from that identity.
  bool seen = WaitFor(
      [&] {
        json c = Admin(N2(), "/connections");
        if (!c.is_array()) return false;
        for (const auto& j : c) {
          if (j.value("peer_identity", "").find("ns/outside/sa/default") != std::string::npos &&
              j.value("mtls", false)) {
            return true;
          }
        }
        return false;
      },
      5000);
  EXPECT_TRUE(seen) << Admin(N2(), "/connections").dump(1);
  here.tunnel->Close();
  pool->CloseAll();
  io.run_for(100ms);
}

}  // namespace
}  // namespace weft::e2e
