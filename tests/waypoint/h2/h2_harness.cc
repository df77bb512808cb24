// h2_harness: the waypoint's HTTP server code on plain TCP, for h2spec and the frame tests
// (tests/waypoint/h2). h2spec speaks HTTP/2 over TCP (h2c prior knowledge) or TLS, not HBONE,
// so this listens on 127.0.0.1 and hands every accepted socket to waypoint::ServeHttp, the
// same entry point the waypoint calls for an HBONE tunnel, with the waypoint's own
// HttpConnectionSettings (WaypointSettings{}.http) and a request handler that runs the real
// exchange (filter chain, routes, upstream pool) against a WaypointView compiled from YAML by
// the real policy compiler. The connection is a made-up client (demo/client, 127.0.0.5)
// that dialed the `web` service (10.96.0.10:80).
//
//   h2_harness [--port N] [--backend-port P] [--backend-protocol h1|h2]
//              [--max-header-list-bytes N]
//
// Without --backend-port, a VirtualService answers every path with a direct response (200,
// "hello from the waypoint\n"), so no upstream is needed. With it, requests go to an HTTP/1.1
// server on 127.0.0.1:P (a pod outside the mesh: plain TCP), and only /direct is answered
// locally. `--backend-protocol h2`: that server speaks h2c (prior knowledge), and a
// DestinationRule (h2UpgradePolicy: UPGRADE) makes the waypoint speak HTTP/2 upstream.
// --max-header-list-bytes overrides the waypoint's SETTINGS_MAX_HEADER_LIST_SIZE
// (to try a proposed default).
//
// Prints "listening <port>" on stdout once it accepts, then "closed requests=<n>" each time a
// downstream connection ends (<n>: requests that reached the exchange so far, all connections).
// Runs until killed.

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <utility>  // before Boost.Asio 1.74 (awaitable.hpp uses std::exchange)

#include <boost/asio.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>

#include "core/hbone/byte_stream.h"
#include "core/policy/compiler.h"
#include "core/policy/decode/decode.h"
#include "waypoint/config/view.h"
#include "waypoint/http/connection.h"
#include "waypoint/http/exchange.h"
#include "waypoint/upstream/pool.h"
#include "waypoint/waypoint.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace weft;
using namespace weft::waypoint;

constexpr const char* kVip = "10.96.0.10";
constexpr uint32_t kServicePort = 80;
constexpr const char* kUsage =
    "usage: h2_harness [--port N] [--backend-port P] [--backend-protocol h1|h2] "
    "[--max-header-list-bytes N]\n";

std::string Mesh(int backend_port, bool backend_h2) {
  std::string target_port = std::to_string(backend_port > 0 ? backend_port : 8080);
  std::string yaml = R"(
apiVersion: v1
kind: Namespace
metadata:
  name: demo
  labels: {weft.dev/dataplane-mode: ambient, weft.dev/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  clusterIP: 10.96.0.10
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: )" +
                     target_port + R"(}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: demo, labels: {app: web, weft.dev/dataplane-mode: none}}
spec: {nodeName: node1, serviceAccountName: web}
status: {podIP: 127.0.0.1, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {nodeName: node1, serviceAccountName: client}
status: {podIP: 127.0.0.5, phase: Running}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /direct}}]
    directResponse: {status: 200, body: {string: "hello from the waypoint\n"}}
)";
  if (backend_port > 0) {
    yaml += R"(
  - route: [{destination: {host: web}}]
)";
    if (backend_h2) {
      yaml += R"(---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: demo}
spec:
  host: web
  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}
)";
    }
  } else {
    yaml += R"(
  - directResponse: {status: 200, body: {string: "hello from the waypoint\n"}}
)";
  }
  return yaml;
}

std::shared_ptr<const pb::MeshSnapshot> Compile(const std::string& yaml) {
  auto docs = policy::DecodeText(yaml, "h2_harness.yaml", {});
  policy::CompileResult r = policy::CompileDocuments(std::move(docs), {});
  bool bad = false;
  for (const auto& d : r.snapshot.diagnostics()) {
    if (d.severity() == pb::Diagnostic::ERROR) {
      std::cerr << "h2_harness: config error: " << d.message() << "\n";
      bad = true;
    }
  }
  if (bad) return nullptr;
  return std::make_shared<const pb::MeshSnapshot>(std::move(r.snapshot));
}

struct Harness {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  HttpConnectionSettings settings = WaypointSettings{}.http;
  std::shared_ptr<const WaypointView> view;
  std::shared_ptr<const ConnectionInfo> conn;
  std::shared_ptr<UpstreamPool> pool;
  std::shared_ptr<DeadlineQueue> deadlines;
  std::unique_ptr<FilterChain> chain = DefaultFilterChain();
  HttpStats stats;

  void Accept() {
    acceptor.async_accept([this](boost::system::error_code e, tcp::socket s) {
      if (e) {
        std::cerr << "h2_harness: accept: " << e.message() << "\n";
        return Accept();
      }
      s.set_option(tcp::no_delay(true), e);
      auto stream = std::make_shared<hbone::TcpByteStream>(std::move(s));
      RequestHandler handler = [this](std::shared_ptr<DownstreamRequest> req) {
        ExchangeContext ctx;
        ctx.view = view;
        ctx.conn = conn;
        ctx.target = view->Lookup(kVip, kServicePort);
        ctx.pool = pool;
        ctx.deadlines = deadlines;
        ctx.chain = chain.get();
        ctx.stats = &stats;
        StartExchange(std::move(req), std::move(ctx));
      };
      ServeHttp(std::move(stream), settings, std::move(handler), nullptr, [this] {
        std::printf("closed requests=%llu\n",
                    static_cast<unsigned long long>(stats.requests.load()));
        std::fflush(stdout);
      });
      Accept();
    });
  }
};

}  // namespace

int main(int argc, char** argv) {
  int port = 0, backend_port = 0;
  bool backend_h2 = false;
  long max_header_list = -1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--port") {
      port = std::atoi(argv[i + 1]);
    } else if (a == "--backend-port") {
      backend_port = std::atoi(argv[i + 1]);
    } else if (a == "--backend-protocol") {
      backend_h2 = std::string(argv[i + 1]) == "h2";
    } else if (a == "--max-header-list-bytes") {
      max_header_list = std::atol(argv[i + 1]);
    } else {
      std::cerr << kUsage;
      return 2;
    }
  }
  if (argc % 2 == 0) {
    std::cerr << kUsage;
    return 2;
  }

  Harness h;
  if (max_header_list >= 0) {
    h.settings.h2.session.max_header_list_bytes = static_cast<uint32_t>(max_header_list);
  }
  auto snapshot = Compile(Mesh(backend_port, backend_h2));
  if (!snapshot) return 1;
  h.view = std::make_shared<const WaypointView>(snapshot, WaypointIdentity{"demo", "waypoint"});
  if (!h.view->Lookup(kVip, kServicePort)) {
    std::cerr << "h2_harness: web is not bound to the waypoint\n";
    return 1;
  }
  auto info = std::make_shared<ConnectionInfo>();
  info->peer_principal = "spiffe://cluster.local/ns/demo/sa/client";
  info->peer_namespace = "demo";
  info->SetAddresses("127.0.0.5", kVip);
  info->target_port = kServicePort;
  h.conn = info;
  // Plain TCP to the endpoint (a pod outside the mesh): no HBONE pool, no identity.
  h.pool = UpstreamPool::Create(h.io.get_executor(), nullptr, nullptr, WaypointSettings{}.upstream);
  h.deadlines = DeadlineQueue::Create(h.io.get_executor());

  boost::system::error_code e;
  tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port));
  h.acceptor.open(ep.protocol(), e);
  if (!e) h.acceptor.set_option(asio::socket_base::reuse_address(true), e);
  if (!e) h.acceptor.bind(ep, e);
  if (!e) h.acceptor.listen(asio::socket_base::max_listen_connections, e);
  if (e) {
    std::cerr << "h2_harness: cannot listen on 127.0.0.1:" << port << ": " << e.message() << "\n";
    return 1;
  }
  std::printf("listening %u\n", static_cast<unsigned>(h.acceptor.local_endpoint().port()));
  std::fflush(stdout);
  h.Accept();
  h.io.run();
  return 0;
}
