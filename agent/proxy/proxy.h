#pragma once

// The node proxy, L4. Listens inside every enrolled pod's network namespace (outbound :15001
// on loopback, inbound :15006), resolves each connection's original destination through the
// current NodeView, picks an endpoint with the destination's load balancer, connects from the
// pod's own namespace and copies bytes both ways.
//
// Threads: one io_context per worker; a pod's listeners are opened once per worker with
// SO_REUSEPORT, so the kernel spreads the pod's connections and a connection lives on one
// worker. Memory per connection: one buffer per direction, `buffer_size` bytes at first and
// grown (x4 at a time) up to `max_buffer_size` while reads keep filling it (bulk transfers
// then cost fewer system calls and wake-ups), plus ~1 KiB of state: at most
// 2 x max_buffer_size + 1 KiB (513 KiB with the defaults), 33 KiB for request/response traffic.
//
// The upstream leg is plain TCP here; HBONE (HTTP/2 CONNECT over mTLS) replaces it for
// cross-node endpoints without changing listeners, balancing or the copy loop.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "agent/proxy/cluster_state.h"
#include "agent/proxy/node_view.h"

namespace weft::agent::proxy {
class WorkloadCredentials;  // credentials.h
}

namespace weft::agent::proxy {

struct SocketAddress {
  std::string address;  // IP text
  uint16_t port = 0;
  bool operator==(const SocketAddress&) const = default;
};

struct ProxySettings {
  int workers = 0;                      // 0 = one per CPU
  uint32_t mark = 0x539;                // SO_MARK on the proxy's own sockets (BPF loop guard)
  uint16_t outbound_port = 15001;       // on 127.0.0.1 in each pod
  uint16_t inbound_port = 15006;        // on 0.0.0.0 in each pod (sk_lookup steers to it)
  size_t buffer_size = 16 * 1024;       // initial, per direction
  size_t max_buffer_size = 256 * 1024;  // bound, per direction
  std::chrono::milliseconds idle_timeout{std::chrono::hours(1)};
  int max_connect_attempts = 3;
  // HBONE (with credentials): the pods' mTLS port, and the outbound pool.
  uint16_t hbone_port = 15008;
  size_t hbone_max_streams = 100;  // CONNECT streams per pooled HTTP/2 connection
  std::chrono::milliseconds hbone_idle_timeout{std::chrono::minutes(1)};
  uint32_t hbone_stream_window = 4 * 1024 * 1024;       // HTTP/2 flow control, per stream
  uint32_t hbone_connection_window = 16 * 1024 * 1024;  // and per connection
  // How long an outbound mesh connection waits for its source pod's first certificate before
  // it fails (never plaintext).
  std::chrono::milliseconds source_certificate_wait{std::chrono::seconds(5)};
};

// What the proxy needs from the rest of the agent (replaceable in tests).
struct ProxyInputs {
  ProxySettings settings;
  // The original destination of an outbound connection accepted in the pod whose netns
  // cookie is given, from the peer (client) address; nullopt when unknown.
  std::function<std::optional<SocketAddress>(uint64_t netns_cookie, const SocketAddress& peer)>
      original_destination;
  // Workload certificates for mTLS between node proxies (HBONE on :15008). Null: no mTLS —
  // the pods get no :15008 listener and mesh traffic between nodes is plain TCP.
  std::shared_ptr<WorkloadCredentials> credentials;
  // One line per denied connection (PeerAuthentication or AuthorizationPolicy), per
  // connection refused because its Service's waypoint is unavailable, per ejected endpoint,
  // and (at most once a second per cluster) for connections over maxConnections; may be null.
  std::function<void(const std::string&)> log;
};

struct PodInfo {
  std::string uid;    // "<namespace>/<name>"
  int netns_fd = -1;  // the proxy keeps a duplicate
  uint64_t netns_cookie = 0;
};

struct ConnectionInfo {
  std::string pod;
  std::string direction;  // "outbound" or "inbound"
  SocketAddress client;
  SocketAddress original_destination;
  SocketAddress upstream;
  std::string cluster;
  // Outbound: the destination identity the HBONE leg verified; inbound HBONE: the client's.
  std::string peer_identity;
  bool mtls = false;            // the node-to-node leg is HBONE (mutual TLS)
  uint64_t bytes_sent = 0;      // client -> upstream
  uint64_t bytes_received = 0;  // upstream -> client
  uint64_t buffer_bytes = 0;    // copy buffers held now (both directions)
  int64_t age_ms = 0;
  // Outbound through a waypoint: "<namespace>/<name>" and the waypoint address the HBONE leg
  // went to (<pod IP>:15008; also `upstream`); empty otherwise.
  std::string waypoint;
  SocketAddress waypoint_address;
};

struct ProxyStats {
  uint64_t accepted_outbound = 0;
  uint64_t accepted_inbound = 0;
  uint64_t completed = 0;
  uint64_t active = 0;
  uint64_t no_original_destination = 0;
  uint64_t passthrough = 0;       // not a mesh destination: sent where the app meant
  uint64_t no_endpoint = 0;       // a service with no usable endpoint
  uint64_t connect_failures = 0;  // per attempt
  uint64_t connect_retries = 0;
  uint64_t idle_timeouts = 0;
  uint64_t bytes_sent = 0;
  uint64_t bytes_received = 0;
  // mTLS (HBONE).
  uint64_t hbone_outbound = 0;          // outbound connections sent over HBONE
  uint64_t hbone_inbound = 0;           // CONNECT streams received
  uint64_t no_source_certificate = 0;   // outbound refused: no usable certificate
  uint64_t hbone_connect_failures = 0;  // tunnel not established (TCP, TLS, or a refusal)
  uint64_t hbone_bad_target = 0;        // 400: the target is not the pod
  uint64_t hbone_app_unreachable = 0;   // 503
  uint64_t local_deliveries = 0;        // mesh to mesh on this node: checked, no TLS
  uint64_t tls_handshakes = 0;          // outbound + inbound, completed
  std::map<std::string, uint64_t> tls_handshake_failures;  // inbound, by reason
  // Denied connections, by reason (docs/security.md: weft_authz_denied_total).
  uint64_t denied_policy = 0;
  uint64_t denied_no_allow_match = 0;
  uint64_t denied_mtls_strict = 0;
  uint64_t denied_unknown_destination = 0;
  // Waypoints (docs/waypoint.md, "Node proxy side").
  uint64_t waypoint_outbound = 0;     // connections sent to a waypoint (also in hbone_outbound)
  uint64_t waypoint_unavailable = 0;  // refused: the Service's waypoint is missing or not ready
  // Connection limits and ejection (docs/datapath.md), for Services without a waypoint.
  uint64_t upstream_cx_overflow = 0;   // refused at once: the cluster's maxConnections reached
  uint64_t outlier_ejections = 0;      // endpoints ejected after consecutive connect failures
  std::vector<ClusterStats> clusters;  // per cluster: connections, overflows, ejected endpoints
};

class Proxy {
 public:
  static absl::StatusOr<std::unique_ptr<Proxy>> Create(ProxyInputs inputs);
  ~Proxy();

  // The view new connections use; connections keep the view they started with.
  void SetView(std::shared_ptr<const NodeView> view);
  std::shared_ptr<const NodeView> view() const;

  // Opens the pod's listeners inside its namespace and starts accepting.
  absl::Status AddPod(const PodInfo& pod);
  // Closes the pod's listeners; its established connections continue to their end.
  void RemovePod(const std::string& uid);
  std::vector<std::string> Pods() const;
  // The first worker's inbound listener of a pod (registered for sk_lookup); -1 if none.
  int InboundListenerFd(const std::string& uid) const;

  std::vector<ConnectionInfo> Connections() const;
  ProxyStats Stats() const;
  int workers() const;

  class Impl;  // proxy.cc

 private:
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::agent::proxy
