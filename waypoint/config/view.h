#pragma once

// WaypointView: one MeshSnapshot indexed for one waypoint. Which services are bound to it (by
// VIP:port, as the HBONE CONNECT authority names them), each port's protocol, the compiled
// route tables, the clusters requests go to, and the L7 authorizer. Immutable once built
// (clusters are created lazily and shared by all workers); the waypoint swaps views
// atomically on a snapshot change and a request keeps the view it started with, so a change
// never disturbs a request in flight.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/authz/l7_authorizer.h"
#include "waypoint/resilience/cluster_state.h"
#include "waypoint/route/route_table.h"
#include "waypoint/upstream/cluster.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::waypoint {

// The protocol of a service port, as Istio decides it: appProtocol, then the port name's
// prefix (resolved by the compiler into ServicePort.app_protocol). A waypoint proxies
// http/http2/grpc ports as HTTP; everything else (including an undeclared protocol, as in
// Istio ambient) as TCP.
enum class PortProtocol { kTcp, kHttp, kHttp2, kGrpc };
PortProtocol ProtocolOf(const pb::ServicePort& port);
std::string_view PortProtocolName(PortProtocol p);
bool IsHttp(PortProtocol p);

struct BoundService {
  const pb::Service* service = nullptr;
  const pb::ServicePort* port = nullptr;
  PortProtocol protocol = PortProtocol::kTcp;
};

struct WaypointIdentity {
  std::string ns;    // the Gateway's namespace
  std::string name;  // the Gateway's name
};

class WaypointView {
 public:
  // `registry`: resilience state kept across views (the Waypoint's); null = this view's own.
  WaypointView(std::shared_ptr<const pb::MeshSnapshot> snapshot, WaypointIdentity self,
               std::shared_ptr<resilience::ClusterStateRegistry> registry = nullptr);

  const pb::MeshSnapshot& snapshot() const { return *snapshot_; }
  std::shared_ptr<const pb::MeshSnapshot> shared_snapshot() const { return snapshot_; }
  const WaypointIdentity& self() const { return self_; }

  // The service bound to this waypoint that owns VIP `ip` and `port`; null when the address
  // is not a service of this waypoint (the CONNECT is refused with 400).
  const BoundService* Lookup(const std::string& ip, uint32_t port) const;
  // Every service bound to this waypoint, by hostname.
  std::vector<const pb::Service*> BoundServices() const;
  const pb::Service* ServiceByHost(const std::string& hostname) const;

  // The route table for requests to `hostname` on `port`: the port's own table (an HTTPRoute
  // with a port in its parentRef) before the host-wide one; null when no route applies (the
  // request goes to the service itself, as Istio's default route).
  const route::CompiledRouteTable* Routes(const std::string& hostname, uint32_t port) const;

  // The cluster for (host, subset, service port); null when the host is unknown or the subset
  // is not defined. `protocol` is the upstream protocol the cluster speaks.
  std::shared_ptr<Cluster> ClusterFor(const std::string& hostname, const std::string& subset,
                                      uint32_t port) const;

  const pb::Workload* WorkloadByAddress(const std::string& ip) const;
  const authz::L7Authorizer& authorizer() const { return *authorizer_; }
  // The waypoint's own locality (its pod's node), for locality-aware load balancing.
  const std::optional<lb::Locality>& locality() const { return locality_; }
  resilience::ClusterStateRegistry& registry() const { return *registry_; }

  // Route tables that failed to build (bad regex that slipped the compiler): logged, skipped.
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  const pb::ClusterPolicy* PolicyFor(const std::string& host, uint32_t port,
                                     const std::string& subset) const;

  std::shared_ptr<const pb::MeshSnapshot> snapshot_;
  WaypointIdentity self_;
  std::unordered_map<std::string, BoundService> bound_;  // "ip|port"
  std::unordered_map<std::string, const pb::Service*> by_host_;
  std::unordered_map<std::string, const pb::Workload*> workload_by_ip_;
  std::unordered_map<std::string, const pb::ClusterPolicy*> policies_;
  std::map<std::string, route::CompiledRouteTable> routes_;  // "host" or "host:port"
  std::unique_ptr<authz::L7Authorizer> authorizer_;
  std::vector<std::string> errors_;
  std::shared_ptr<resilience::ClusterStateRegistry> registry_;
  std::optional<lb::Locality> locality_;
  mutable std::mutex mu_;
  mutable std::map<std::string, std::shared_ptr<Cluster>> clusters_;
};

// Whether a service is bound to the waypoint `self` (its resolved waypoint name and
// namespace).
bool BoundTo(const pb::Service& service, const WaypointIdentity& self);

}  // namespace weft::waypoint
