#pragma once

// One proxied connection (internal to the node proxy): the downstream leg (the accepted
// socket, or an inbound HBONE tunnel), the upstream leg (a TCP socket made in the pod's
// namespace, or an outbound HBONE tunnel), and the copy loop between them. Lives on one
// worker; every handler runs there.
//
//   outbound  :15001 accept → original destination → balancer → endpoint
//             → HBONE to <endpoint>:15008 when the endpoint is a mesh workload and the proxy
//               has credentials, plain TCP otherwise
//             a Service bound to a waypoint: → one of the waypoint's ready endpoints → HBONE
//               to <waypoint pod>:15008, :authority = the VIP:port dialed, expecting the
//               waypoint's identity (same node or not); no usable waypoint: refused
//   inbound   :15006 accept (plaintext, steered by sk_lookup) → PeerAuthentication (STRICT
//             refuses) → authorization → TCP to the app
//   hbone     a CONNECT on the pod's :15008 → target is this pod? (400) → authorization (401)
//             → TCP to the app (503) → 200 → copy

#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "agent/proxy/proxy_internal.h"

namespace weft::agent::proxy {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  enum class Kind { kOutbound, kInbound, kHbone };

  Connection(Proxy::Impl& proxy, asio::io_context& io, std::shared_ptr<Pod> pod, Kind kind);
  ~Connection();

  // Outbound (:15001) or plaintext inbound (:15006): the accepted socket.
  void Start(tcp::socket accepted);
  // A CONNECT on the pod's :15008: answers it through `respond` (exactly once).
  void StartHbone(const hbone::InboundRequest& request, hbone::Respond respond);

  ConnectionInfo Info() const;
  // Closes both legs now (the proxy is stopping). On the connection's worker, or after the
  // workers stopped.
  void Shutdown() { CloseAll(); }

  // Set once by Proxy::Impl::Track (under conns_mu_): this connection's entry in conns_.
  std::optional<std::list<std::weak_ptr<Connection>>::iterator> tracked_;

 private:
  void Fail(const char* why);
  void ConnectNext();
  // A TCP connection from inside a pod's namespace: this connection's pod, or `in_pod`.
  void ConnectTcp(const tcp::endpoint& target, std::chrono::milliseconds timeout,
                  std::function<void(bool ok)> done, const Pod* in_pod = nullptr);
  // Outbound to a mesh workload this proxy also serves: its inbound checks, then TCP from its
  // namespace.
  void DeliverLocally(const tcp::endpoint& target, const pb::Workload& destination,
                      std::shared_ptr<Pod> local);
  // A CONNECT for `target` to the HBONE listener at `destination` with the source pod's
  // certificate, accepting only `peer_identity` (the destination workload's, or the
  // waypoint's when `via_waypoint`).
  void ConnectHbone(const tcp::endpoint& destination, const tcp::endpoint& target,
                    const std::string& peer_identity, bool via_waypoint);
  // Outbound to a mesh workload: waits (ProxySettings::source_certificate_wait) for the source
  // pod's certificate, then DeliverLocally or ConnectHbone.
  void ConnectMesh(const tcp::endpoint& target, const pb::Workload& destination);
  // Outbound to a Service bound to a waypoint, `waypoint` being the picked endpoint's HBONE
  // address: waits for the source certificate as ConnectMesh, then ConnectHbone (always:
  // the waypoint is its own pod, even on this node).
  void ConnectWaypoint(const tcp::endpoint& waypoint);
  bool HasSourceCertificate() const;
  // When the source pod has no certificate yet and the wait is not over: arms a timer that
  // calls `retry` and returns true. False: go on (with or without a certificate).
  bool AwaitSourceCertificate(std::function<void()> retry);
  void OnConnectFailed();
  // Admission against the cluster's maxConnections; false: refused (counted, logged).
  bool AdmitToCluster();
  void OnUpstream(std::shared_ptr<hbone::ByteStream> up, bool up_is_tcp);
  // Inbound checks (PeerAuthentication, authorization); false: denied (counted, logged once).
  bool Admit(const std::string& destination_uid, const SocketAddress& source,
             const std::string& principal, uint32_t port, bool mtls);
  void Pump(bool upstream_direction);
  void Touch();
  void ArmIdle();
  void CloseAll();

  Proxy::Impl& proxy_;
  asio::io_context& io_;
  std::shared_ptr<Pod> pod_;
  std::shared_ptr<Pod> delivered_to_;  // same-node delivery: the destination pod
  Kind kind_;
  std::shared_ptr<hbone::ByteStream> down_, up_;
  bool down_is_tcp_ = true, up_is_tcp_ = true;
  std::optional<tcp::socket> connecting_;  // the upstream socket while it connects
  asio::steady_timer idle_;
  std::chrono::steady_clock::time_point started_;
  std::chrono::steady_clock::time_point last_activity_ = std::chrono::steady_clock::now();

  std::shared_ptr<const NodeView> view_;
  std::optional<Route> route_;
  std::shared_ptr<lb::Balancer> balancer_;
  // A Service without a waypoint: its cluster's state (maxConnections, ejection); `counted_`
  // while this connection holds one of the cluster's connections.
  std::shared_ptr<ClusterState> cluster_state_;
  bool counted_ = false;
  uint64_t attempt_ = 0;  // the connect attempt in flight (an HBONE connect may time out)
  std::optional<size_t> picked_;
  std::vector<size_t> tried_;
  int attempts_ = 0;
  std::optional<std::chrono::steady_clock::time_point> cert_wait_since_;

  // Read by the admin view from other threads.
  mutable std::mutex info_mu_;
  SocketAddress client_, original_, upstream_;
  std::string cluster_;
  std::string peer_identity_;  // inbound: the verified client; outbound: the server
  std::string waypoint_;       // outbound via a waypoint: "<namespace>/<name>"
  bool mtls_ = false;          // this connection's node-to-node leg is HBONE
  std::vector<char> buf_up_, buf_down_;
  std::atomic<uint64_t> sent_{0}, received_{0}, buffer_bytes_{0};
  int open_directions_ = 2;
  bool closed_ = false;
  const char* fail_reason_ = nullptr;  // the first Fail(why): a static string
};

}  // namespace weft::agent::proxy
