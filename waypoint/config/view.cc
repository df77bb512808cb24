#include "waypoint/config/view.h"

namespace weft::waypoint {

namespace {

std::string Key(const std::string& ip, uint32_t port) {
  return ip + "|" + std::to_string(port);
}

}  // namespace

PortProtocol ProtocolOf(const pb::ServicePort& port) {
  const std::string& p = port.app_protocol();
  if (p == "http") return PortProtocol::kHttp;
  if (p == "http2") return PortProtocol::kHttp2;
  if (p == "grpc" || p == "grpc-web") return PortProtocol::kGrpc;
  return PortProtocol::kTcp;
}

std::string_view PortProtocolName(PortProtocol p) {
  switch (p) {
    case PortProtocol::kHttp:
      return "http";
    case PortProtocol::kHttp2:
      return "http2";
    case PortProtocol::kGrpc:
      return "grpc";
    case PortProtocol::kTcp:
      return "tcp";
  }
  return "tcp";
}

bool IsHttp(PortProtocol p) {
  return p != PortProtocol::kTcp;
}

bool BoundTo(const pb::Service& service, const WaypointIdentity& self) {
  if (service.waypoint().empty() || service.waypoint() != self.name) return false;
  const std::string& ns =
      service.waypoint_namespace().empty() ? service.namespace_() : service.waypoint_namespace();
  return ns == self.ns;
}

WaypointView::WaypointView(std::shared_ptr<const pb::MeshSnapshot> snapshot, WaypointIdentity self,
                           std::shared_ptr<resilience::ClusterStateRegistry> registry)
    : snapshot_(std::move(snapshot)),
      self_(std::move(self)),
      registry_(registry ? std::move(registry)
                         : std::make_shared<resilience::ClusterStateRegistry>()) {
  for (const auto& svc : snapshot_->services()) {
    by_host_[svc.hostname()] = &svc;
    if (!BoundTo(svc, self_)) continue;
    for (const auto& vip : svc.vips()) {
      for (const auto& p : svc.ports()) {
        bound_[Key(vip, p.port())] = BoundService{&svc, &p, ProtocolOf(p)};
      }
    }
  }
  for (const auto& w : snapshot_->workloads()) {
    for (const auto& a : w.addresses()) workload_by_ip_[a] = &w;
    // The waypoint's own pod (made from its Gateway): its node's locality is the client
    // locality of every pick, as an Envoy's is its own.
    auto gw = w.labels().find("gateway.networking.k8s.io/gateway-name");
    if (gw != w.labels().end() && gw->second == self_.name && w.namespace_() == self_.ns &&
        w.has_locality()) {
      locality_ = lb::Locality{w.locality().region(), w.locality().zone(), w.locality().subzone()};
    }
  }
  for (const auto& c : snapshot_->cluster_policies()) policies_[c.name()] = &c;
  for (const auto& t : snapshot_->route_tables()) {
    std::string key = t.port() ? t.hostname() + ":" + std::to_string(t.port()) : t.hostname();
    auto compiled = route::CompiledRouteTable::Build(t);
    if (!compiled.ok()) {
      errors_.push_back(key + ": " + std::string(compiled.status().message()));
      continue;
    }
    routes_.emplace(key, std::move(*compiled));
  }
  authorizer_ = std::make_unique<authz::L7Authorizer>(snapshot_, self_.ns, self_.name);
}

const BoundService* WaypointView::Lookup(const std::string& ip, uint32_t port) const {
  auto it = bound_.find(Key(ip, port));
  return it == bound_.end() ? nullptr : &it->second;
}

std::vector<const pb::Service*> WaypointView::BoundServices() const {
  std::vector<const pb::Service*> out;
  for (const auto& svc : snapshot_->services()) {
    if (BoundTo(svc, self_)) out.push_back(&svc);
  }
  return out;
}

const pb::Service* WaypointView::ServiceByHost(const std::string& hostname) const {
  auto it = by_host_.find(hostname);
  return it == by_host_.end() ? nullptr : it->second;
}

const route::CompiledRouteTable* WaypointView::Routes(const std::string& hostname,
                                                      uint32_t port) const {
  auto it = routes_.find(hostname + ":" + std::to_string(port));
  if (it != routes_.end()) return &it->second;
  it = routes_.find(hostname);
  return it == routes_.end() ? nullptr : &it->second;
}

const pb::Workload* WaypointView::WorkloadByAddress(const std::string& ip) const {
  auto it = workload_by_ip_.find(ip);
  return it == workload_by_ip_.end() ? nullptr : it->second;
}

const pb::ClusterPolicy* WaypointView::PolicyFor(const std::string& host, uint32_t port,
                                                 const std::string& subset) const {
  for (const auto& name : {ClusterName(port, subset, host), ClusterName(0, subset, host),
                           ClusterName(port, "", host), ClusterName(0, "", host)}) {
    auto it = policies_.find(name);
    if (it != policies_.end()) return it->second;
  }
  return nullptr;
}

std::shared_ptr<Cluster> WaypointView::ClusterFor(const std::string& hostname,
                                                  const std::string& subset, uint32_t port) const {
  std::string name = ClusterName(port, subset, hostname);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = clusters_.find(name); it != clusters_.end()) return it->second;
  const pb::Service* svc = ServiceByHost(hostname);
  if (!svc) return nullptr;
  const pb::ServicePort* sp = nullptr;
  for (const auto& p : svc->ports()) {
    if (p.port() == port) sp = &p;
  }
  if (!sp) return nullptr;
  std::vector<int> indexes;
  if (subset.empty()) {
    for (int i = 0; i < svc->endpoints_size(); ++i) indexes.push_back(i);
  } else {
    bool found = false;
    for (const auto& s : svc->subsets()) {
      if (s.name() != subset) continue;
      indexes.assign(s.endpoint_indexes().begin(), s.endpoint_indexes().end());
      found = true;
    }
    if (!found) return nullptr;
  }
  std::vector<ClusterEndpoint> endpoints;
  for (int i : indexes) {
    const auto& ep = svc->endpoints(i);
    auto p = ep.ports().find(port);
    if (p == ep.ports().end() || p->second == 0) continue;
    ClusterEndpoint e;
    e.address = ep.address();
    e.port = p->second;
    e.identity = ep.identity();
    e.workload_uid = ep.workload_uid();
    e.ready = ep.ready();
    e.locality =
        lb::Locality{ep.locality().region(), ep.locality().zone(), ep.locality().subzone()};
    const pb::Workload* w = WorkloadByAddress(ep.address());
    e.hbone = w && w->dataplane_mode() == pb::DATAPLANE_MODE_AMBIENT;
    endpoints.push_back(std::move(e));
  }
  const pb::ClusterPolicy* policy = PolicyFor(hostname, port, subset);
  // Upstream protocol as Envoy picks it for the port: http2 and grpc ports speak HTTP/2;
  // http ports HTTP/1.1 (h2UpgradePolicy / useClientProtocol: see docs/waypoint.md).
  UpstreamProtocol proto = UpstreamProtocol::kTcp;
  switch (ProtocolOf(*sp)) {
    case PortProtocol::kHttp:
      proto = UpstreamProtocol::kHttp1;
      break;
    case PortProtocol::kHttp2:
    case PortProtocol::kGrpc:
      proto = UpstreamProtocol::kHttp2;
      break;
    case PortProtocol::kTcp:
      proto = UpstreamProtocol::kTcp;
      break;
  }
  std::shared_ptr<resilience::RetryBudget> budget;
  if (svc->has_retry_budget()) {
    budget = registry_->Budget(hostname);
    budget->Configure(svc->retry_budget());
  }
  auto c = std::make_shared<Cluster>(name, svc, port, subset, std::move(endpoints), policy, proto,
                                     registry_->Cluster(name), locality_, std::move(budget));
  clusters_[name] = c;
  return c;
}

}  // namespace weft::waypoint
