#pragma once

// The inbound side of HBONE: a listener (the pod's :15008) that accepts mutual TLS 1.3
// connections, serves HTTP/2 on them and turns every CONNECT stream into a tunnel after the
// injected handler decided what to do with it.
//
//   // In the pod's netns, per worker (SO_REUSEPORT), on the worker's io_context:
//   tcp::acceptor acceptor = ...;  // bound to <pod IP or 0.0.0.0>:15008 and listening
//   auto server = HboneServer::Create(std::move(acceptor),
//       [&] { return pod_tls_context; },  // ConfigureMutualTls + SetIdentity(pod's SVID)
//       settings,
//       [](const InboundRequest& req, Respond respond) {
//         // req.peer (verified SPIFFE ID), req.target (IP:port), req.headers
//         // not ours -> respond({.status = 400}); denied -> respond({.status = 401});
//         // connect to the app, then respond({.status = 200, .upstream = tcp stream})
//         //   or respond({.status = 200, .take_tunnel = [](auto tunnel) { ...copy loop... }})
//       });
//   server->Start();
//
// Per connection: the TLS handshake must verify the client as a workload of the trust domain
// (the context's TrustBundle; failures counted by reason). Per stream: a method other than
// CONNECT or an :authority that is not IP:port gets 400 without asking the handler (as
// ztunnel). Single-threaded: everything runs on the acceptor's executor, including the
// handler and `respond`, which must be called exactly once, on that executor.

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "core/h2/session.h"
#include "core/hbone/byte_stream.h"
#include "core/hbone/hbone.h"
#include "core/identity/spiffe_id.h"
#include "core/identity/trust_bundle.h"

namespace weft::hbone {

struct InboundRequest {
  identity::SpiffeId peer;      // the client's verified identity
  tcp::endpoint peer_address;   // TCP peer of the HBONE connection (the source pod)
  tcp::endpoint local_address;  // our listener's address (<pod IP>:15008)
  tcp::endpoint target;         // from :authority
  h2::Headers headers;          // every header of the request (pseudo-headers included)
  std::string_view header(std::string_view name) const { return h2::FindHeader(headers, name); }
};

struct Decision {
  int status = kOk;  // 200, or 400 / 401 / 503 (any code >= 300 ends the stream)
  // With 200: the server splices the tunnel and this stream (half-close both ways).
  std::shared_ptr<ByteStream> upstream;
  // With 200 instead of `upstream`: the tunnel is handed over (the proxy's own copy loop).
  std::function<void(std::shared_ptr<TunnelStream>)> take_tunnel;
  h2::Headers response_headers;  // extra response headers

  // A refusal: 400 (not a workload we serve), 401 (denied), 503 (the app is unreachable).
  static Decision Refuse(int status) {
    Decision d;
    d.status = status;
    return d;
  }
  static Decision Splice(std::shared_ptr<ByteStream> upstream) {
    Decision d;
    d.upstream = std::move(upstream);
    return d;
  }
};
using Respond = std::function<void(Decision)>;
using InboundHandler = std::function<void(const InboundRequest&, Respond)>;

struct ServerSettings {
  h2::SessionSettings h2;
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  SpliceOptions splice;
};

struct ServerStats {
  uint64_t accepted = 0;            // TCP connections
  uint64_t handshakes = 0;          // completed TLS handshakes with a verified peer
  uint64_t handshake_failures = 0;  // all reasons
  // Failures by reason: VerifyErrorName (e.g. "unknown_ca", "wrong_trust_domain"), or
  // "no_certificate_configured" (nothing to present), "timeout", "tls" (anything else).
  std::map<std::string, uint64_t> handshake_failures_by_reason;
  uint64_t connections_open = 0;      // HTTP/2 sessions
  uint64_t streams = 0;               // requests seen
  std::map<int, uint64_t> responses;  // by status
};

class HboneServer : public std::enable_shared_from_this<HboneServer> {
 public:
  // The context new connections present and verify with (pod identity + trust bundle);
  // nullptr refuses the connection (no usable certificate).
  using TlsProvider = std::function<std::shared_ptr<asio::ssl::context>()>;

  static std::shared_ptr<HboneServer> Create(tcp::acceptor acceptor, TlsProvider tls,
                                             ServerSettings settings, InboundHandler handler);
  ~HboneServer();

  // Start and Stop on the acceptor's executor; stats() from any thread.
  void Start();
  // Stops accepting and closes every connection (streams are reset).
  void Stop();
  // Stops accepting new connections; established ones and their tunnels carry on (a pod
  // leaving the mesh keeps its open connections).
  void StopAccepting();
  tcp::endpoint local_endpoint() const;
  ServerStats stats() const;

 private:
  HboneServer(tcp::acceptor acceptor, TlsProvider tls, ServerSettings settings,
              InboundHandler handler);
  void Accept();
  void OnSocket(tcp::socket s);
  void OnRequest(std::shared_ptr<h2::Stream> stream, const identity::SpiffeId& peer,
                 const tcp::endpoint& remote, const tcp::endpoint& local);
  void Reply(const std::shared_ptr<h2::Stream>& stream, Decision d);
  void CountFailure(const std::string& reason);

  tcp::acceptor acceptor_;
  TlsProvider tls_;
  ServerSettings settings_;
  InboundHandler handler_;
  bool stopped_ = false;
  std::set<std::shared_ptr<h2::Session>> sessions_;
  std::set<h2::TlsTransport*> handshaking_;

  // Written on the executor; read from any thread through stats().
  std::atomic<uint64_t> accepted_{0}, handshakes_{0}, failures_{0}, open_{0}, streams_{0};
  mutable std::mutex stats_mu_;  // guards the maps below (rarely written)
  std::map<std::string, uint64_t> failures_by_reason_;
  std::map<int, uint64_t> responses_;
};

}  // namespace weft::hbone
