#pragma once

// The outbound side of HBONE: opens CONNECT tunnels over pooled HTTP/2 connections.
//
//   auto pool = HbonePool::Create(worker_io.get_executor(), client_tls, settings);
//   pool->Connect({.source = pod_identity,                 // cert + key of the source pod's SA
//                  .destination = {dst_pod_ip, 15008},
//                  .expected_peers = {dst_identity},
//                  .target = {dst_pod_ip, 8080},
//                  .headers = {{"forwarded", ForwardedFor(src_ip)}, {"baggage", ...},
//                              {"traceparent", NewTraceparent()}},
//                  .pool_tag = source_pod_uid},
//                 [](ConnectResult r) { if (r.ok()) Splice(client_stream, r.tunnel, ...); });
//
// Pool key: (source identity, destination address, expected peer identities, pool_tag) —
// ztunnel's key plus a tag for what the key does not capture (the source pod's netns and
// address, when make_socket uses them). A connection carries up to max_streams_per_connection
// tunnels at once (and never more than the server's SETTINGS_MAX_CONCURRENT_STREAMS); a full
// connection makes the next Connect open another. Requests that arrive while a connection
// is still handshaking wait for it (they count against its cap). A connection with no open
// stream for idle_timeout is closed (GOAWAY). One pool per io_context: no locks.

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "core/h2/session.h"
#include "core/hbone/byte_stream.h"
#include "core/hbone/hbone.h"
#include "core/identity/certificate.h"
#include "core/identity/key_pair.h"
#include "core/identity/spiffe_id.h"
#include "core/identity/trust_bundle.h"

namespace weft::hbone {

// The certificate and key a connection presents (the source workload's SVID).
struct SourceIdentity {
  identity::SpiffeId id;
  identity::Certificate cert;
  identity::KeyPair key;
};

struct ConnectRequest {
  std::shared_ptr<const SourceIdentity> source;
  tcp::endpoint destination;  // the peer's HBONE listener, <pod IP>:15008
  // Accepted server identities (ExpectPeer); empty accepts any workload of the trust domain.
  std::vector<identity::SpiffeId> expected_peers;
  tcp::endpoint target;  // :authority
  h2::Headers headers;   // extra request headers (forwarded, baggage, traceparent)
  std::string pool_tag;  // part of the pool key
};

struct ConnectResult {
  absl::Status status;  // OK with a tunnel
  int http_status = 0;  // the CONNECT response's status when one arrived
  // Set when the TLS handshake failed on verifying the server. (A server refusing *our*
  // certificate shows up differently: in TLS 1.3 the client finishes its handshake first, so
  // the refusal arrives as the connection dying under the CONNECT — status Unavailable.)
  std::optional<identity::VerifyError> tls_error;
  std::shared_ptr<TunnelStream> tunnel;
  bool reused = false;  // went over an already established connection
  bool ok() const { return status.ok(); }
};
using ConnectHandler = std::function<void(ConnectResult)>;

struct PoolSettings {
  size_t max_streams_per_connection = 100;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes(1)};
  // TCP connect + TLS handshake.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  h2::SessionSettings h2;  // windows, frame size
  // Makes the (unconnected) socket of a new connection — e.g. inside the source pod's netns,
  // bound to its address. Default: an unbound socket of the destination's family.
  std::function<absl::StatusOr<tcp::socket>(asio::any_io_executor, const ConnectRequest&)>
      make_socket;
};

struct PoolStats {
  uint64_t connections_opened = 0;  // TCP connects started
  uint64_t handshakes = 0;          // TLS handshakes completed
  uint64_t handshake_failures = 0;  // TCP or TLS failures, timeouts
  uint64_t tunnels_requested = 0;
  uint64_t tunnels_established = 0;  // 200
  uint64_t tunnels_refused = 0;      // another status, or the stream died first
  uint64_t reused = 0;               // tunnels over an existing connection
  uint64_t idle_closed = 0;
  uint64_t connections_open = 0;  // now (including handshaking)
};

class HbonePool : public std::enable_shared_from_this<HbonePool> {
 public:
  // `client_tls`: ConfigureMutualTls with the trust bundle (no identity: each connection sets
  // its source's with SetIdentity(SSL*)).
  static std::shared_ptr<HbonePool> Create(asio::any_io_executor executor,
                                           std::shared_ptr<asio::ssl::context> client_tls,
                                           PoolSettings settings);
  ~HbonePool();

  // On the pool's executor; the handler runs there too (always posted, never inline).
  void Connect(ConnectRequest request, ConnectHandler handler);
  // New connections use this context (trust bundle changed); open ones keep theirs.
  void SetClientTls(std::shared_ptr<asio::ssl::context> client_tls);
  // Closes every connection (their tunnels are reset).
  void CloseAll();

  // On the executor (plain counters).
  PoolStats stats() const;
  size_t connections() const;
  asio::any_io_executor executor() const { return executor_; }

 private:
  struct Key {
    std::string source;
    tcp::endpoint destination;
    std::string peers;
    std::string tag;
    bool operator<(const Key& o) const {
      return std::tie(source, destination, peers, tag) <
             std::tie(o.source, o.destination, o.peers, o.tag);
    }
  };
  struct Waiter {
    ConnectRequest request;
    ConnectHandler handler;
  };
  struct Conn {
    explicit Conn(asio::any_io_executor ex) : idle(ex), connect_timer(ex) {}
    Key key;
    std::shared_ptr<h2::Session> session;         // null while connecting
    std::unique_ptr<h2::TlsTransport> transport;  // while handshaking
    std::vector<Waiter> waiters;
    asio::steady_timer idle;
    asio::steady_timer connect_timer;
    bool dead = false;
    size_t in_use() const { return waiters.size() + (session ? session->open_streams() : 0); }
  };

  HbonePool(asio::any_io_executor executor, std::shared_ptr<asio::ssl::context> client_tls,
            PoolSettings settings);
  static Key KeyOf(const ConnectRequest& r);
  size_t Cap(const Conn& c) const;
  void Dial(std::shared_ptr<Conn> c, const ConnectRequest& r);
  void Handshake(std::shared_ptr<Conn> c, tcp::socket s, const ConnectRequest& r);
  void Fail(std::shared_ptr<Conn> c, ConnectResult result);
  void OpenStream(const std::shared_ptr<Conn>& c, ConnectRequest r, ConnectHandler h, bool reused);
  void OnStreamsChanged(const std::shared_ptr<Conn>& c);
  void Remove(const std::shared_ptr<Conn>& c);

  asio::any_io_executor executor_;
  std::shared_ptr<asio::ssl::context> client_tls_;
  PoolSettings settings_;
  std::map<Key, std::vector<std::shared_ptr<Conn>>> conns_;
  PoolStats stats_;
};

}  // namespace weft::hbone
