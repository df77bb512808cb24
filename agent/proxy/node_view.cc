#include "agent/proxy/node_view.h"

#include <algorithm>

#include "core/hbone/hbone.h"

namespace weft::agent::proxy {

namespace {

std::string VipKey(const std::string& ip, uint32_t port) {
  return ip + "|" + std::to_string(port);
}

std::string ClusterName(uint32_t port, const std::string& subset, const std::string& host) {
  return "outbound|" + std::to_string(port) + "|" + subset + "|" + host;
}

}  // namespace

std::string ServiceWaypointName(const pb::Service& svc) {
  if (svc.waypoint().empty()) return "";
  return (svc.waypoint_namespace().empty() ? svc.namespace_() : svc.waypoint_namespace()) + "/" +
         svc.waypoint();
}

const pb::Waypoint* FindWaypoint(const pb::MeshSnapshot& snapshot, const std::string& name) {
  for (const auto& w : snapshot.waypoints()) {
    if (w.namespace_() + "/" + w.name() == name) return &w;
  }
  return nullptr;
}

int ReadyWaypointEndpoints(const pb::Waypoint& waypoint) {
  int n = 0;
  for (const auto& e : waypoint.endpoints()) n += e.ready() && !e.address().empty();
  return n;
}

lb::BalancerConfig BalancerConfigFor(const pb::ClusterPolicy* policy) {
  lb::BalancerConfig cfg;
  if (!policy || !policy->has_load_balancer()) return cfg;
  const auto& l = policy->load_balancer();
  switch (l.policy()) {
    case pb::LoadBalancer::ROUND_ROBIN:
      cfg.policy = lb::Policy::kRoundRobin;
      break;
    case pb::LoadBalancer::RANDOM:
      cfg.policy = lb::Policy::kRandom;
      break;
    case pb::LoadBalancer::RING_HASH:
      cfg.policy = lb::Policy::kRingHash;
      if (l.consistent_hash().minimum_ring_size())
        cfg.ring_size = l.consistent_hash().minimum_ring_size();
      break;
    case pb::LoadBalancer::MAGLEV:
      cfg.policy = lb::Policy::kMaglev;
      if (l.consistent_hash().table_size()) cfg.maglev_table = l.consistent_hash().table_size();
      break;
    default:
      cfg.policy = lb::Policy::kLeastRequest;
      break;
  }
  cfg.locality_aware =
      policy->has_outlier_detection() || (l.has_locality() && l.locality().enabled());
  if (l.has_locality() && l.locality().enabled()) {
    const auto& loc = l.locality();
    for (const auto& d : loc.distribute()) {
      lb::LocalityDistribute rule;
      rule.from = d.from();
      for (const auto& [to, weight] : d.to()) rule.to.emplace_back(to, weight);
      // Protobuf maps have no order: sort, so that every proxy decides alike.
      std::sort(rule.to.begin(), rule.to.end());
      cfg.distribute.push_back(std::move(rule));
    }
    // As Istio: failover needs outlier detection (without it nothing ever fails over).
    if (policy->has_outlier_detection()) {
      for (const auto& f : loc.failover()) cfg.failover.push_back({f.from(), f.to()});
      cfg.failover_priority.assign(loc.failover_priority().begin(), loc.failover_priority().end());
    }
  }
  return cfg;
}

lb::OutlierConfig OutlierConfigFor(const pb::ClusterPolicy* policy) {
  lb::OutlierConfig cfg;  // Envoy's defaults
  if (!policy || !policy->has_outlier_detection()) return cfg;
  const auto& od = policy->outlier_detection();
  if (od.has_consecutive_5xx_errors()) cfg.consecutive_5xx = od.consecutive_5xx_errors();
  cfg.consecutive_gateway = od.consecutive_gateway_errors();
  if (od.consecutive_local_origin_failures()) {
    cfg.consecutive_local_origin = od.consecutive_local_origin_failures();
  }
  cfg.split_local_origin = od.split_external_local_origin_errors();
  if (od.base_ejection_time_ms()) {
    cfg.base_ejection_time = std::chrono::milliseconds(od.base_ejection_time_ms());
  }
  if (od.interval_ms()) cfg.interval = std::chrono::milliseconds(od.interval_ms());
  if (od.has_max_ejection_percent()) cfg.max_ejection_percent = od.max_ejection_percent();
  cfg.min_health_percent = od.min_health_percent();
  return cfg;
}

NodeView::NodeView(std::shared_ptr<const pb::MeshSnapshot> snapshot, std::string node)
    : snapshot_(std::move(snapshot)),
      node_(std::move(node)),
      authorizer_(std::make_unique<const authz::L4Authorizer>(snapshot_)) {
  for (const auto& svc : snapshot_->services()) {
    by_host_[svc.hostname()] = &svc;
    for (const auto& vip : svc.vips()) {
      for (const auto& p : svc.ports()) by_vip_port_[VipKey(vip, p.port())] = &svc;
    }
  }
  for (const auto& w : snapshot_->workloads()) {
    workloads_[w.uid()] = &w;
    for (const auto& a : w.addresses()) workload_by_ip_[a] = &w;
  }
  for (const auto& c : snapshot_->cluster_policies()) policies_[c.name()] = &c;
  for (const auto& t : snapshot_->route_tables()) {
    if (t.tcp_routes_size() > 0) routes_[t.hostname()] = &t;
  }
  for (const auto& w : snapshot_->waypoints()) waypoints_[w.namespace_() + "/" + w.name()] = &w;
}

const pb::Workload* NodeView::Workload(const std::string& uid) const {
  auto it = workloads_.find(uid);
  return it == workloads_.end() ? nullptr : it->second;
}

const pb::Workload* NodeView::WorkloadByAddress(const std::string& address) const {
  auto it = workload_by_ip_.find(address);
  return it == workload_by_ip_.end() ? nullptr : it->second;
}

const pb::ClusterPolicy* NodeView::PolicyFor(const std::string& host, uint32_t port,
                                             const std::string& subset) const {
  for (const auto& name : {ClusterName(port, subset, host), ClusterName(0, subset, host),
                           ClusterName(port, "", host), ClusterName(0, "", host)}) {
    auto it = policies_.find(name);
    if (it != policies_.end()) return it->second;
  }
  return nullptr;
}

std::shared_ptr<lb::Balancer> NodeView::BalancerFor(const pb::Service& svc, uint32_t port,
                                                    const std::string& subset,
                                                    const pb::ClusterPolicy* policy) const {
  std::string key = ClusterName(port, subset, svc.hostname());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = balancers_.find(key);
  if (it != balancers_.end()) return it->second;
  std::vector<int> indexes;
  if (subset.empty()) {
    for (int i = 0; i < svc.endpoints_size(); ++i) indexes.push_back(i);
  } else {
    for (const auto& s : svc.subsets()) {
      if (s.name() == subset)
        indexes.assign(s.endpoint_indexes().begin(), s.endpoint_indexes().end());
    }
  }
  std::vector<lb::Target> targets;
  for (int i : indexes) {
    const auto& ep = svc.endpoints(i);
    if (!ep.ready()) continue;
    auto p = ep.ports().find(port);
    if (p == ep.ports().end() || p->second == 0) continue;
    lb::Target t;
    t.address = ep.address();
    t.port = p->second;
    t.locality = {ep.locality().region(), ep.locality().zone(), ep.locality().subzone()};
    t.weight = ep.weight() ? ep.weight() : 1;
    targets.push_back(std::move(t));
  }
  auto b = std::make_shared<lb::Balancer>(std::move(targets), BalancerConfigFor(policy),
                                          lb::StableHash(key));
  balancers_[key] = b;
  return b;
}

std::shared_ptr<lb::Balancer> NodeView::WaypointBalancer(const pb::Waypoint& waypoint) const {
  std::string key = "waypoint|" + waypoint.namespace_() + "/" + waypoint.name();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = balancers_.find(key);
  if (it != balancers_.end()) return it->second;
  std::vector<lb::Target> targets;
  for (const auto& ep : waypoint.endpoints()) {
    if (!ep.ready() || ep.address().empty()) continue;
    lb::Target t;
    t.address = ep.address();
    t.port = waypoint.port() ? waypoint.port() : hbone::kPort;
    targets.push_back(std::move(t));
  }
  std::shared_ptr<lb::Balancer> b;
  if (!targets.empty()) {
    // Istio's default policy (LEAST_REQUEST); a connection counts while it is open.
    b = std::make_shared<lb::Balancer>(std::move(targets), BalancerConfigFor(nullptr),
                                       lb::StableHash(key));
  }
  balancers_[key] = b;
  return b;
}

std::optional<Route> NodeView::Resolve(const std::string& address, uint32_t port, uint64_t random,
                                       const std::string& source_uid) const {
  auto it = by_vip_port_.find(VipKey(address, port));
  if (it == by_vip_port_.end()) {
    // A mesh workload addressed directly: no balancing, but still through the proxy.
    const pb::Workload* w = WorkloadByAddress(address);
    if (!w) return std::nullopt;
    Route r;
    r.direct = {address, port, w->uid(), w->identity()};
    return r;
  }
  const pb::Service& svc = *it->second;
  Route r;
  r.service = &svc;
  r.service_port = port;
  // A Service bound to a waypoint: the connection goes there, whole (the waypoint applies the
  // routes and policies), or nowhere if the waypoint cannot take it (fail closed, as ztunnel).
  if (std::string name = ServiceWaypointName(svc); !name.empty()) {
    auto wit = waypoints_.find(name);
    const pb::Waypoint* wp = wit == waypoints_.end() ? nullptr : wit->second;
    // The waypoint's own pods are not captured, so they never get here; should one be, its
    // connection goes on to the Service (sending it back to itself would loop). By workload
    // uid, not by identity: any pod running as the waypoint's service account must not skip it.
    bool from_waypoint = false;
    if (wp != nullptr && !source_uid.empty()) {
      for (const auto& e : wp->endpoints()) from_waypoint |= e.workload_uid() == source_uid;
    }
    if (!from_waypoint) {
      WaypointRoute w;
      w.name = std::move(name);
      w.waypoint = wp;
      w.authority_address = address;
      w.authority_port = port;
      if (wp == nullptr) {
        w.unavailable = "no such waypoint";
      } else if (wp->identity().empty()) {
        w.unavailable = "no identity";  // nothing to verify it by
      } else {
        w.identity = wp->identity();
        r.balancer = WaypointBalancer(*wp);
        if (!r.balancer) w.unavailable = "no ready endpoint";
      }
      r.cluster = ClusterName(port, "", svc.hostname());
      r.waypoint = std::move(w);
      return r;
    }
  }
  // VirtualService TCP routes: the first whose match fits, then a weighted destination.
  auto rt = routes_.find(svc.hostname());
  if (rt != routes_.end()) {
    for (const auto& tcp : rt->second->tcp_routes()) {
      bool match = tcp.matches_size() == 0;
      for (const auto& m : tcp.matches()) match |= m.port() == 0 || m.port() == port;
      if (!match || tcp.destinations_size() == 0) continue;
      uint64_t total = 0;
      for (const auto& d : tcp.destinations()) total += d.weight();
      uint64_t roll = total ? random % total : 0;
      for (const auto& d : tcp.destinations()) {
        if (roll < d.weight() || total == 0) {
          if (d.hostname() == svc.hostname()) r.subset = d.subset();
          break;
        }
        roll -= d.weight();
      }
      break;
    }
  }
  const pb::ClusterPolicy* policy = PolicyFor(svc.hostname(), port, r.subset);
  r.cluster = ClusterName(port, r.subset, svc.hostname());
  r.balancer = BalancerFor(svc, port, r.subset, policy);
  if (policy && policy->connection_pool().connect_timeout_ms()) {
    r.connect_timeout_ms = policy->connection_pool().connect_timeout_ms();
  }
  if (policy) r.max_connections = policy->connection_pool().max_connections();
  r.outlier = OutlierConfigFor(policy);
  return r;
}

}  // namespace weft::agent::proxy
