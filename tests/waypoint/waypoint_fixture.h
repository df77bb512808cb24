#pragma once

// A waypoint in this process, between a test client and real backends, inside a private
// network namespace (root): Python http.server backends on 127.77.0.1x:8080, each mesh backend
// behind an HboneServer on its :15008 (the destination node proxy's role) with the `web`
// identity, the waypoint on 127.77.0.2:15008 with its own identity, and a client that speaks
// HBONE to it as a node proxy would (the client pod's certificate, authority = VIP:port,
// forwarded for=<client IP>). The mesh is compiled from YAML by the real compiler.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent/proxy/credentials.h"
#include "core/hbone/pool.h"
#include "core/hbone/server.h"
#include "core/hbone/stream_transport.h"
#include "core/http/http1/parser.h"
#include "core/http/http1/serializer.h"
#include "core/policy/compiler.h"
#include "core/policy/decode/decode.h"
#include "tests/core/hbone/testing.h"
#include "tests/core/identity/testing.h"
#include "tests/testing/root.h"
#include "waypoint/waypoint.h"

namespace weft::waypoint::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using identity::testing::IssueWorkload;
using identity::testing::MakeCa;
using identity::testing::Must;

inline constexpr const char* kWaypointIp = "127.77.0.2";
inline constexpr const char* kClientIp = "127.77.0.5";

// The namespace, waypoint, `web` service (VIP 10.96.0.10:80, http) with three pods: v1 and v2
// in the mesh, v3 outside it (dataplane-mode none: reached over plain TCP).
inline const char* kBaseMesh = R"(
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
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata: {name: web-v1, namespace: demo, labels: {app: web, version: v1}}
spec: {nodeName: node1, serviceAccountName: web}
status: {podIP: 127.77.0.11, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: web-v2, namespace: demo, labels: {app: web, version: v2}}
spec: {nodeName: node1, serviceAccountName: web}
status: {podIP: 127.77.0.12, phase: Running}
---
apiVersion: v1
kind: Pod
metadata: {name: client, namespace: demo, labels: {app: client}}
spec: {nodeName: node1, serviceAccountName: client}
status: {podIP: 127.77.0.5, phase: Running}
)";

inline std::shared_ptr<const pb::MeshSnapshot> Compile(const std::string& yaml) {
  auto docs = policy::DecodeText(yaml, "test.yaml", {});
  policy::CompileResult r = policy::CompileDocuments(std::move(docs), {});
  for (const auto& d : r.snapshot.diagnostics()) {
    if (d.severity() == pb::Diagnostic::ERROR) ADD_FAILURE() << d.message();
  }
  return std::make_shared<const pb::MeshSnapshot>(std::move(r.snapshot));
}

// A child process, killed (SIGKILL) when this goes.
class Process {
 public:
  explicit Process(std::vector<std::string> argv) {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(fds[1], 1);
      close(fds[0]);
      std::vector<char*> args;
      for (auto& a : argv) args.push_back(a.data());
      args.push_back(nullptr);
      execvp(args[0], args.data());
      _exit(127);
    }
    close(fds[1]);
    // Wait for its first line ("ready").
    char buf[64];
    ssize_t n = read(fds[0], buf, sizeof(buf));
    ready_ = n > 0;
    out_ = fds[0];  // kept open: a child writing to a closed pipe would die of it
  }
  ~Process() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  bool ready() const { return ready_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  bool ready_ = false;
};

// One HTTP/1.1 response as a client sees it.
struct Response {
  int status = 0;
  http::HeaderMap headers;
  std::string body;
  http::HeaderMap trailers;
  bool ok = false;  // complete
};

class WaypointFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    WEFT_REQUIRE_ROOT();
    ASSERT_EQ(unshare(CLONE_NEWNET), 0) << strerror(errno);
    ASSERT_EQ(std::system("ip link set lo up"), 0);
    ca_ = std::make_unique<identity::CertificateAuthority>(MakeCa("cluster.local"));
    bundle_ = std::make_shared<const identity::TrustBundle>(
        Must(identity::TrustBundle::Create("cluster.local", {ca_->root()})));
    web_svid_.emplace(IssueWorkload(*ca_, "demo", "web"));
    auto client = IssueWorkload(*ca_, "demo", "client");
    client_id_ = std::make_shared<hbone::SourceIdentity>(
        hbone::SourceIdentity{Must(identity::SpiffeId::Workload("cluster.local", "demo", "client")),
                              std::move(client.cert), std::move(client.key)});
  }

  void TearDown() override {
    if (pool_) {
      asio::post(io_, [p = pool_] { p->CloseAll(); });
      hbone::testing::RunFor(io_, 50ms);
    }
    for (auto& s : hbone_servers_) s->Stop();
    hbone::testing::RunFor(io_, 20ms);
    waypoint_.reset();
    backends_.clear();
  }

  // A Python backend on ip:8080; with `mesh`, an HboneServer on ip:15008 in front of it.
  // `script` in tests/waypoint/testdata (http_backend.py, grpc_backend.py) on ip:port.
  // `extra`: more arguments for the script (http_backend.py: --status N, --delay-ms N).
  void StartBackend(const std::string& ip, const std::string& name, bool mesh,
                    const std::string& script = "http_backend.py", uint16_t port = 8080,
                    std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{
        "/usr/bin/python3", std::string(WEFT_SOURCE_DIR) + "/tests/waypoint/testdata/" + script,
        "--address",        ip,
        "--port",           std::to_string(port),
        "--name",           name};
    argv.insert(argv.end(), extra.begin(), extra.end());
    backends_.push_back(std::make_unique<Process>(std::move(argv)));
    ASSERT_TRUE(backends_.back()->ready()) << "backend " << name << " did not start";
    if (!mesh) return;
    tcp::acceptor acceptor(io_, tcp::endpoint(asio::ip::make_address(ip), 15008));
    auto tls = hbone::testing::MakeTls(bundle_, &*web_svid_);
    auto server = hbone::HboneServer::Create(
        std::move(acceptor), [tls] { return tls; }, {},
        [this](const hbone::InboundRequest& req, hbone::Respond respond) {
          ++connects_at_backends_;
          last_backend_peer_ = req.peer.str();
          auto sock = std::make_shared<tcp::socket>(io_);
          sock->async_connect(req.target, [sock, respond](boost::system::error_code e) {
            if (e) return respond(hbone::Decision::Refuse(hbone::kServiceUnavailable));
            respond(
                hbone::Decision::Splice(std::make_shared<hbone::TcpByteStream>(std::move(*sock))));
          });
        });
    server->Start();
    hbone_servers_.push_back(server);
  }

  void StartWaypoint(const std::string& yaml) {
    auto svid = IssueWorkload(*ca_, "demo", "waypoint");
    hbone::SourceIdentity id{
        Must(identity::SpiffeId::Workload("cluster.local", "demo", "waypoint")),
        std::move(svid.cert), std::move(svid.key)};
    std::vector<hbone::SourceIdentity> ids;
    ids.push_back(std::move(id));
    auto creds = Must(agent::proxy::FixedCredentials::Create(bundle_, std::move(ids)));
    WaypointSettings s;
    s.ns = "demo";
    s.name = "waypoint";
    s.listen_address = kWaypointIp;
    s.port = 15008;
    s.admin_enabled = admin_enabled_;
    s.admin_port = 0;
    s.credentials = creds;
    waypoint_ = Must(Waypoint::Create(std::move(s)));
    waypoint_->SetSnapshot(Compile(yaml));
    client_tls_ = hbone::testing::MakeTls(bundle_, nullptr);
    pool_ = hbone::HbonePool::Create(io_.get_executor(), client_tls_, {});
  }

  // An HBONE tunnel to the waypoint for `vip:port`, as the client's node proxy opens it.
  hbone::ConnectResult Tunnel(const std::string& vip = "10.96.0.10", uint16_t port = 80) {
    hbone::ConnectRequest r;
    r.source = client_id_;
    r.destination = tcp::endpoint(asio::ip::make_address(kWaypointIp), 15008);
    r.expected_peers = {Must(identity::SpiffeId::Workload("cluster.local", "demo", "waypoint"))};
    r.target = tcp::endpoint(asio::ip::make_address(vip), port);
    r.headers = {{"forwarded", std::string("for=") + kClientIp}};
    std::optional<hbone::ConnectResult> out;
    pool_->Connect(r, [&](hbone::ConnectResult res) { out = std::move(res); });
    EXPECT_TRUE(hbone::testing::RunUntil(io_, [&] { return out.has_value(); }));
    return out ? std::move(*out) : hbone::ConnectResult{};
  }

  // Writes `bytes` on the tunnel and reads `count` responses (to requests with `methods`).
  std::vector<Response> Exchange(const std::shared_ptr<hbone::TunnelStream>& t,
                                 const std::string& bytes, size_t count,
                                 std::vector<std::string> methods = {}) {
    std::vector<Response> out;
    Response cur;
    http::http1::ResponseParser::Callbacks cbs;
    cbs.on_head = [&](http::ResponseHead&& h, const http::http1::MessageInfo&) {
      cur.status = h.status;
      cur.headers = std::move(h.headers);
    };
    cbs.on_body = [&](std::string_view d) { cur.body.append(d); };
    cbs.on_trailers = [&](http::HeaderMap&& t) { cur.trailers = std::move(t); };
    cbs.on_complete = [&] {
      cur.ok = true;
      out.push_back(std::move(cur));
      cur = Response{};
    };
    http::http1::ResponseParser parser(std::move(cbs));
    for (size_t i = 0; i < count; ++i) {
      parser.PushRequestMethod(i < methods.size() ? methods[i] : "GET");
    }
    bool wrote = false;
    t->AsyncWrite(asio::buffer(bytes), [&](boost::system::error_code e, size_t) {
      EXPECT_FALSE(e) << e.message();
      wrote = true;
    });
    std::vector<char> buf(65536);
    bool eof = false;
    std::string pending;
    std::function<void()> read = [&] {
      t->AsyncReadSome(asio::buffer(buf), [&](boost::system::error_code e, size_t n) {
        if (e) {
          eof = true;
          parser.Finish();
          return;
        }
        pending.append(buf.data(), n);
        auto r = parser.Feed(pending);
        pending.erase(0, r.consumed);
        if (out.size() < count) read();
      });
    };
    read();
    EXPECT_TRUE(hbone::testing::RunUntil(
        io_, [&] { return wrote && (out.size() >= count || eof); }, 20s));
    return out;
  }

  Response Get(const std::string& path, const std::string& extra_headers = "",
               const std::string& vip = "10.96.0.10") {
    auto t = Tunnel(vip);
    if (!t.ok()) return {};
    auto r = Exchange(t.tunnel,
                      "GET " + path + " HTTP/1.1\r\nhost: web\r\n" + extra_headers + "\r\n", 1);
    t.tunnel->Close();
    return r.empty() ? Response{} : r[0];
  }

  // One HTTP/2 request (h2c with prior knowledge inside `t`); the whole response.
  struct H2Response {
    int status = 0;
    h2::Headers headers, trailers;
    std::string body;
    bool ok = false;
    bool reset = false;
  };
  std::shared_ptr<h2::Session> H2Session(std::shared_ptr<hbone::TunnelStream> t) {
    auto s = h2::Session::Create(
        h2::Session::kClient, std::make_unique<hbone::ByteStreamTransport>(std::move(t)), {}, {});
    s->Start();
    return s;
  }
  std::shared_ptr<H2Response> H2Call(const std::shared_ptr<h2::Session>& s, h2::Headers headers,
                                     std::string body) {
    auto out = std::make_shared<H2Response>();
    auto body_holder = std::make_shared<std::string>(std::move(body));
    std::shared_ptr<h2::Stream> st = s->SubmitRequest(
        headers, body_holder->empty(),
        [out](boost::system::error_code e, std::shared_ptr<h2::Stream> st) {
          if (e) {
            out->reset = true;
            return;
          }
          out->status = st->status();
          out->headers = st->headers();
          auto buf = std::make_shared<std::vector<char>>(65536);
          auto read = std::make_shared<std::function<void()>>();
          *read = [out, st, buf, read] {
            st->AsyncReadSome(asio::buffer(*buf),
                              [out, st, buf, read](boost::system::error_code e, size_t n) {
                                if (e == asio::error::eof) {
                                  out->trailers = st->trailers();
                                  out->ok = true;
                                  *read = nullptr;
                                  return;
                                }
                                if (e) {
                                  out->reset = true;
                                  *read = nullptr;
                                  return;
                                }
                                out->body.append(buf->data(), n);
                                (*read)();
                              });
          };
          (*read)();
        });
    if (st && !body_holder->empty()) {
      st->AsyncWrite(asio::buffer(*body_holder),
                     [st, body_holder](boost::system::error_code, size_t) { st->ShutdownSend(); });
    }
    return out;
  }

  asio::io_context io_;
  std::unique_ptr<identity::CertificateAuthority> ca_;
  std::shared_ptr<const identity::TrustBundle> bundle_;
  std::optional<identity::testing::Svid> web_svid_;
  std::vector<std::unique_ptr<Process>> backends_;
  std::vector<std::shared_ptr<hbone::HboneServer>> hbone_servers_;
  std::unique_ptr<Waypoint> waypoint_;
  std::shared_ptr<asio::ssl::context> client_tls_;
  std::shared_ptr<hbone::HbonePool> pool_;
  std::shared_ptr<const hbone::SourceIdentity> client_id_;
  int connects_at_backends_ = 0;
  bool admin_enabled_ = false;  // set before StartWaypoint: admin on 127.0.0.1, any port
  std::string last_backend_peer_;
};

}  // namespace weft::waypoint::testing
