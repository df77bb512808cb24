// Clusters pass: DestinationRules -> ClusterPolicy per (host, subset, port). Precedence, as in
// Istio: a subset's trafficPolicy overrides the rule's top-level one part by part (each part,
// loadBalancer, connectionPool, outlierDetection, tls, retryBudget, as a whole: fields a part
// leaves unset take their defaults, not the other level's), and portLevelSettings replace the
// policy of the level they are in for their port (retryBudget, which they cannot set, stays).

#include "core/policy/compile/passes.h"

namespace weft::policy {

namespace {

struct Parts {
  std::optional<pb::LoadBalancer> lb;
  std::optional<pb::ConnectionPool> pool;
  std::optional<pb::OutlierDetection> outlier;
  std::optional<pb::ClientTls> tls;
  std::optional<pb::EnvoyRetryBudget> retry_budget;
};

template <class P>
void OverlayCommon(Parts& parts, const P& p) {
  if (p.load_balancer) parts.lb = p.load_balancer;
  if (p.connection_pool) parts.pool = p.connection_pool;
  if (p.outlier_detection) parts.outlier = p.outlier_detection;
  if (p.tls) parts.tls = p.tls;
}

void Overlay(Parts& parts, const TrafficPolicy& p) {
  OverlayCommon(parts, p);
  if (p.retry_budget) parts.retry_budget = p.retry_budget;
}

// Port-level settings replace the policy of their level for that port: parts they omit take
// their defaults rather than the level's ("Traffic settings specified at the destination-level
// will not be inherited when overridden by port-level settings", Istio's TrafficPolicy).
void OverlayPort(Parts& parts, const std::optional<TrafficPolicy>& tp, uint32_t port) {
  if (!tp) return;
  for (const auto& pp : tp->port_level) {
    if (pp.port != port) continue;
    Parts level = Parts{};
    level.retry_budget = parts.retry_budget;
    parts = std::move(level);
    OverlayCommon(parts, pp);
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
  if (parts.retry_budget) *c.mutable_retry_budget() = *parts.retry_budget;
  *c.mutable_source() = SourceOf(r, field);
  return c;
}

// Protocols that carry no HTTP through the waypoint: connectionPool.http has no effect there.
bool IsTcpOnly(const std::string& app_protocol) {
  static const std::set<std::string> tcp = {"tcp",   "tls",   "https", "mongo",
                                            "mysql", "redis", "udp",   "sctp"};
  return tcp.count(app_protocol) > 0;
}

bool HasHttpPoolSettings(const pb::ConnectionPool& p) {
  return p.http1_max_pending_requests() || p.http2_max_requests() ||
         p.max_requests_per_connection() || p.max_retries() || p.max_concurrent_streams() ||
         p.h2_upgrade_policy() != pb::ConnectionPool::H2_UPGRADE_DEFAULT || p.use_client_protocol();
}

// connectionPool.http on ports that are TCP-only (all of the host's, for a policy of every
// port): the settings cannot take effect.
void CheckHttpPoolOnTcp(const Resource& r, const Parts& parts, uint32_t port,
                        const std::map<uint32_t, std::string>& protocols, const std::string& field,
                        PassReport& report) {
  if (!parts.pool || !HasHttpPoolSettings(*parts.pool) || protocols.empty()) return;
  std::string which;
  if (port) {
    auto it = protocols.find(port);
    if (it == protocols.end() || !IsTcpOnly(it->second)) return;
    which = "port " + std::to_string(port) + " is " + it->second;
  } else {
    for (const auto& [p, proto] : protocols) {
      if (!IsTcpOnly(proto)) return;
      which += (which.empty() ? "" : ", ") + std::to_string(p) + " " + proto;
    }
    which = (protocols.size() == 1 ? "the only port is " : "every port is TCP-only: ") + which;
  }
  report.Warning(r, code::kValue, {{}, field + ".connectionPool.http"},
                 "connectionPool.http (e.g. http2MaxRequests, maxRequestsPerConnection) has no "
                 "effect: " +
                     which + ", which is not HTTP; only connectionPool.tcp applies");
}

void CheckParts(const Resource& r, const Parts& parts, const std::string& field,
                PassReport& report) {
  if (parts.lb && parts.lb->has_locality() && parts.lb->locality().enabled() && !parts.outlier) {
    report.Warning(r, code::kValue, {{}, field + ".loadBalancer.localityLbSetting"},
                   "locality load balancing needs outlierDetection to fail over (as in Istio); "
                   "without it only the distribution applies");
  }
  if (parts.retry_budget && parts.pool && parts.pool->max_retries()) {
    report.Warning(r, code::kValue, {{}, field + ".connectionPool.http.maxRetries"},
                   "maxRetries has no effect while retryBudget is set: the budget limits "
                   "concurrent retries instead (as in Envoy)");
  }
  if (parts.tls && parts.tls->mode() == pb::ClientTls::ISTIO_MUTUAL) {
    // ISTIO_MUTUAL to a mesh host is what HBONE does anyway; nothing to add.
  }
}

}  // namespace

namespace {

// The parts in force for (subset, port), with the precedence CompileClusterPolicies applies.
Parts EffectiveParts(const DestinationRuleSpec& dr, const std::string& subset, uint32_t port) {
  Parts p;
  if (dr.policy) Overlay(p, *dr.policy);
  if (port) OverlayPort(p, dr.policy, port);
  for (const auto& s : dr.subsets) {
    if (s.name != subset || subset.empty() || !s.policy) continue;
    Overlay(p, *s.policy);
    if (port) OverlayPort(p, s.policy, port);
  }
  return p;
}

}  // namespace

std::optional<pb::LoadBalancer> EffectiveLoadBalancer(const DestinationRuleSpec& dr,
                                                      const std::string& subset, uint32_t port) {
  return EffectiveParts(dr, subset, port).lb;
}

std::optional<pb::ConnectionPool> EffectiveConnectionPool(const DestinationRuleSpec& dr,
                                                          const std::string& subset,
                                                          uint32_t port) {
  return EffectiveParts(dr, subset, port).pool;
}

bool HasOutlierDetection(const DestinationRuleSpec& dr, const std::string& subset, uint32_t port) {
  return EffectiveParts(dr, subset, port).outlier.has_value();
}

std::vector<pb::ClusterPolicy> CompileClusterPolicies(const ResourceIndex& index,
                                                      const DestinationRules& rules,
                                                      PassReport& report) {
  std::vector<pb::ClusterPolicy> out;
  for (const auto& [host, r] : rules.by_host) {
    const auto& dr = r->as<DestinationRuleSpec>();
    const std::map<uint32_t, std::string> protocols = HostPortProtocols(index, host);
    Parts base;
    if (dr.policy) Overlay(base, *dr.policy);
    CheckParts(*r, base, "spec.trafficPolicy", report);
    CheckHttpPoolOnTcp(*r, base, 0, protocols, "spec.trafficPolicy", report);
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
      CheckHttpPoolOnTcp(*r, p, port, protocols, "spec.trafficPolicy.portLevelSettings", report);
      out.push_back(MakeCluster(*r, host, "", port, p, "spec.trafficPolicy.portLevelSettings"));
    }
    for (const auto& s : dr.subsets) {
      Parts sp = base;
      if (s.policy) Overlay(sp, *s.policy);
      CheckParts(*r, sp, s.pos.field + ".trafficPolicy", report);
      if (s.policy && s.policy->connection_pool) {
        CheckHttpPoolOnTcp(*r, sp, 0, protocols, s.pos.field + ".trafficPolicy", report);
      }
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
        if (s.policy) {
          for (const auto& pp : s.policy->port_level) {
            if (pp.port == port && pp.connection_pool) {
              CheckHttpPoolOnTcp(*r, p, port, protocols,
                                 s.pos.field + ".trafficPolicy.portLevelSettings", report);
              break;
            }
          }
        }
        out.push_back(MakeCluster(*r, host, s.name, port, p, s.pos.field));
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return out;
}

}  // namespace weft::policy
