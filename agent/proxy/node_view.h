#pragma once

// NodeView: what the node proxy needs from one MeshSnapshot, indexed for the connection path:
// original destination -> service port (or mesh workload) -> balancer over the endpoints of
// the chosen subset. Immutable once built; balancers are created lazily on first use (a Maglev
// table is 64k entries) and shared by all workers. A connection keeps the view it started
// with, so a snapshot change never disturbs it.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/authz/l4_authorizer.h"
#include "core/lb/balancer.h"
#include "core/lb/outlier_detector.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::agent::proxy {

namespace pb = ::weft::config::v1;

// An endpoint chosen for a connection.
struct Upstream {
  std::string address;
  uint32_t port = 0;
  std::string workload_uid;
  std::string identity;
};

// The waypoint a connection to a Service goes through (docs/waypoint.md, "Node proxy side").
// The connection is sent over HBONE to one of the waypoint's ready endpoints (picked by
// Route::balancer, whose targets are <waypoint pod IP>:<waypoint HBONE port>), with
// `:authority = <authority_address>:<authority_port>` (what the client dialed), expecting the
// waypoint's identity. A waypoint that cannot take it (`unavailable` set) refuses the
// connection: going direct would skip the waypoint's L7 policy.
struct WaypointRoute {
  std::string name;                        // "<namespace>/<name>", as the Service binds it
  const pb::Waypoint* waypoint = nullptr;  // null: no such waypoint in the snapshot
  std::string identity;                    // the waypoint's SPIFFE ID (the expected peer)
  std::string authority_address;           // the Service VIP the client dialed
  uint32_t authority_port = 0;             // the Service port the client dialed
  // Why the waypoint cannot take the connection ("no such waypoint", "no ready endpoint");
  // empty when it can.
  std::string unavailable;
  bool available() const { return unavailable.empty(); }
};

// A destination resolved for one connection: a balancer to pick from (with the connect
// timeout that applies), or a direct workload address.
struct Route {
  const pb::Service* service = nullptr;  // null for a direct workload destination
  uint32_t service_port = 0;
  std::string subset;
  std::string cluster;
  std::shared_ptr<lb::Balancer> balancer;  // null for a direct workload destination
  uint64_t connect_timeout_ms = 10'000;    // per connect attempt (connectionPool.tcp)
  // A Service without a waypoint (docs/datapath.md, "Connection limits and ejection"):
  // connectionPool.tcp.maxConnections (0 = no limit) over this proxy's upstream connections
  // to the cluster, and the connect-failure ejection of its endpoints.
  uint32_t max_connections = 0;
  std::optional<lb::OutlierConfig> outlier;
  Upstream direct;  // for a workload destination
  // Set when the Service is bound to a waypoint: `balancer` then picks among the waypoint's
  // ready endpoints (null when it has none) and no TCP route, subset or cluster policy of the
  // Service applies here (the waypoint applies them).
  std::optional<WaypointRoute> waypoint;
};

// The waypoint a Service names, as "<namespace>/<name>" (`waypoint_namespace`, else the
// Service's namespace); empty when it names none.
std::string ServiceWaypointName(const pb::Service& svc);
// The waypoint "<namespace>/<name>" of a snapshot, or null (a linear scan: for admin views).
const pb::Waypoint* FindWaypoint(const pb::MeshSnapshot& snapshot, const std::string& name);
// How many endpoints of a waypoint are ready.
int ReadyWaypointEndpoints(const pb::Waypoint& waypoint);

class NodeView {
 public:
  NodeView(std::shared_ptr<const pb::MeshSnapshot> snapshot, std::string node);

  const pb::MeshSnapshot& snapshot() const { return *snapshot_; }
  const std::string& node() const { return node_; }

  // The route for a connection to `address:port` (original destination). `random` picks
  // among weighted TCP routes. nullopt: not a mesh destination. `source_uid` is the client
  // workload: a waypoint's own pod is never sent to its waypoint.
  std::optional<Route> Resolve(const std::string& address, uint32_t port, uint64_t random,
                               const std::string& source_uid = {}) const;

  // The workload with this uid ("ns/name"), or null.
  const pb::Workload* Workload(const std::string& uid) const;
  // The workload owning an address, or null.
  const pb::Workload* WorkloadByAddress(const std::string& address) const;

  // PeerAuthentication and L4 AuthorizationPolicy of this snapshot (built with the view).
  const authz::L4Authorizer& authorizer() const { return *authorizer_; }

 private:
  std::shared_ptr<lb::Balancer> BalancerFor(const pb::Service& svc, uint32_t port,
                                            const std::string& subset,
                                            const pb::ClusterPolicy* policy) const;
  const pb::ClusterPolicy* PolicyFor(const std::string& host, uint32_t port,
                                     const std::string& subset) const;
  // The balancer over a waypoint's ready endpoints (null when it has none).
  std::shared_ptr<lb::Balancer> WaypointBalancer(const pb::Waypoint& waypoint) const;

  std::shared_ptr<const pb::MeshSnapshot> snapshot_;
  std::string node_;
  std::unique_ptr<const authz::L4Authorizer> authorizer_;
  std::unordered_map<std::string, const pb::Service*> by_vip_port_;  // "ip|port"
  std::unordered_map<std::string, const pb::Service*> by_host_;
  std::unordered_map<std::string, const pb::Workload*> workloads_;
  std::unordered_map<std::string, const pb::Workload*> workload_by_ip_;
  std::unordered_map<std::string, const pb::ClusterPolicy*> policies_;
  std::unordered_map<std::string, const pb::RouteTable*> routes_;
  std::unordered_map<std::string, const pb::Waypoint*> waypoints_;  // "ns/name"
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<lb::Balancer>> balancers_;
};

// Maps a compiled load-balancer policy to the balancer configuration (Istio defaults:
// LEAST_REQUEST; locality preference when outlier detection or localityLbSetting is on).
// With localityLbSetting (not `enabled: false`): its distribute, failover and failoverPriority.
lb::BalancerConfig BalancerConfigFor(const pb::ClusterPolicy* policy);

// A cluster's outlierDetection as the detector's config: consecutive5xxErrors (unset: 5; 0:
// off), consecutiveGatewayErrors (0: off), consecutiveLocalOriginFailures (0 or unset: 5) with
// splitExternalLocalOriginErrors, baseEjectionTime, interval, maxEjectionPercent (unset: 10),
// minHealthPercent. Without an outlierDetection: Envoy's defaults (5 consecutive failures,
// 30 s base ejection, 10 % max ejection), enabled — the node proxy's connect-failure ejection
// is always on (the waypoint turns it off then). Connect failures are local-origin errors:
// without the split they count as Envoy counts them, as 503s, against the lower of the 5xx
// and gateway thresholds (lb::OutlierConfig::LocalOriginThreshold).
lb::OutlierConfig OutlierConfigFor(const pb::ClusterPolicy* policy);

}  // namespace weft::agent::proxy
