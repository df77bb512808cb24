// Clusters pass: DestinationRules -> ClusterPolicy per (host, subset, port). Precedence, as in
// Istio: a subset's trafficPolicy overrides the rule's top-level one part by part (each part,
// loadBalancer, connectionPool, outlierDetection, tls, as a whole), and portLevelSettings
// replace the policy of the level they are in for their port.

#include "core/policy/compile/passes.h"

namespace weft::policy {

namespace {

struct Parts {
  std::optional<pb::LoadBalancer> lb;
  std::optional<pb::ConnectionPool> pool;
  std::optional<pb::OutlierDetection> outlier;
  std::optional<pb::ClientTls> tls;
};

template <class P>
void Overlay(Parts& parts, const P& p) {
  if (p.load_balancer) parts.lb = p.load_balancer;
  if (p.connection_pool) parts.pool = p.connection_pool;
  if (p.outlier_detection) parts.outlier = p.outlier_detection;
  if (p.tls) parts.tls = p.tls;
}

// Port-level settings replace the policy of their level for that port: parts they omit take
// their defaults rather than the level's ("Traffic settings specified at the destination-level
// will not be inherited when overridden by port-level settings", Istio's TrafficPolicy).
void OverlayPort(Parts& parts, const std::optional<TrafficPolicy>& tp, uint32_t port) {
  if (!tp) return;
  for (const auto& pp : tp->port_level) {
    if (pp.port != port) continue;
    parts = Parts{};
    Overlay(parts, pp);
  }
}

pb::ClusterPolicy MakeCluster(const Resource& r, const std::string& host, const std::string& subset,
                              uint32_t port, const Parts& parts, const std::string& field) {
  pb::ClusterPolicy c;
  c.set_name(ClusterName(port, subset, host));
  c.set_hostname(host);
  c.set_subset(subset);
  c.set_port(port);
  if (parts.lb) *c.mutable_load_balancer() = *parts.lb;
  if (parts.pool) *c.mutable_connection_pool() = *parts.pool;
  if (parts.outlier) *c.mutable_outlier_detection() = *parts.outlier;
  if (parts.tls) *c.mutable_tls() = *parts.tls;
  *c.mutable_source() = SourceOf(r, field);
  return c;
}

void CheckParts(const Resource& r, const Parts& parts, const std::string& field,
                PassReport& report) {
  if (parts.lb && parts.lb->has_locality() && parts.lb->locality().enabled() && !parts.outlier) {
    report.Warning(r, code::kValue, {{}, field + ".loadBalancer.localityLbSetting"},
                   "locality load balancing needs outlierDetection to fail over (as in Istio); "
                   "without it only the distribution applies");
  }
  if (parts.tls && parts.tls->mode() == pb::ClientTls::ISTIO_MUTUAL) {
    // ISTIO_MUTUAL to a mesh host is what HBONE does anyway; nothing to add.
  }
}

}  // namespace

std::vector<pb::ClusterPolicy> CompileClusterPolicies(const ResourceIndex& index,
                                                      const DestinationRules& rules,
                                                      PassReport& report) {
  (void)index;
  std::vector<pb::ClusterPolicy> out;
  for (const auto& [host, r] : rules.by_host) {
    const auto& dr = r->as<DestinationRuleSpec>();
    Parts base;
    if (dr.policy) Overlay(base, *dr.policy);
    CheckParts(*r, base, "spec.trafficPolicy", report);
    out.push_back(MakeCluster(*r, host, "", 0, base, "spec.trafficPolicy"));
    std::set<uint32_t> ports;
    if (dr.policy) {
      for (const auto& pp : dr.policy->port_level) {
        if (!ports.insert(pp.port).second) {
          report.Warning(*r, code::kConflict, {{}, "spec.trafficPolicy.portLevelSettings"},
                         "port " + std::to_string(pp.port) +
                             " has more than one setting; the "
                             "last wins");
        }
      }
    }
    for (uint32_t port : ports) {
      Parts p = base;
      OverlayPort(p, dr.policy, port);
      out.push_back(MakeCluster(*r, host, "", port, p, "spec.trafficPolicy.portLevelSettings"));
    }
    for (const auto& s : dr.subsets) {
      Parts sp = base;
      if (s.policy) Overlay(sp, *s.policy);
      CheckParts(*r, sp, s.pos.field + ".trafficPolicy", report);
      out.push_back(MakeCluster(*r, host, s.name, 0, sp, s.pos.field));
      std::set<uint32_t> subset_ports = ports;
      if (s.policy) {
        for (const auto& pp : s.policy->port_level) subset_ports.insert(pp.port);
      }
      for (uint32_t port : subset_ports) {
        Parts p = base;
        OverlayPort(p, dr.policy, port);
        if (s.policy) Overlay(p, *s.policy);
        OverlayPort(p, s.policy, port);
        out.push_back(MakeCluster(*r, host, s.name, port, p, s.pos.field));
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return out;
}

}  // namespace weft::policy
