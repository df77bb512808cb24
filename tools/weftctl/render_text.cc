#include <algorithm>
#include <map>
#include <sstream>

#include "tools/weftctl/render.h"

namespace weft::weftctl {

namespace {

std::string Ref(const pb::Source& s) {
  std::string out =
      s.kind() + " " + (s.namespace_().empty() ? "" : s.namespace_() + "/") + s.name();
  return out;
}

std::string Labels(const google::protobuf::Map<std::string, std::string>& m) {
  std::map<std::string, std::string> sorted(m.begin(), m.end());
  std::string out;
  for (const auto& [k, v] : sorted) out += (out.empty() ? "" : ",") + k + "=" + v;
  return out.empty() ? "-" : out;
}

std::string Match(const pb::StringMatchRule& m) {
  if (m.has_exact()) return "= " + m.exact();
  if (m.has_prefix()) return m.prefix() + "*";
  if (m.has_regex()) return "~ " + m.regex();
  return "*";
}

std::string Describe(const pb::HttpMatch& m) {
  std::vector<std::string> parts;
  if (m.has_uri()) parts.push_back("uri " + Match(m.uri()));
  if (m.has_method()) parts.push_back("method " + Match(m.method()));
  for (const auto& h : m.headers()) {
    parts.push_back("header " + h.name() + (h.has_value() ? " " + Match(h.value()) : " present"));
  }
  for (const auto& q : m.query_params())
    parts.push_back("query " + q.name() + " " + Match(q.value()));
  if (m.has_authority()) parts.push_back("authority " + Match(m.authority()));
  if (m.has_scheme()) parts.push_back("scheme " + Match(m.scheme()));
  if (!m.source_namespace().empty()) parts.push_back("from namespace " + m.source_namespace());
  if (m.port()) parts.push_back("port " + std::to_string(m.port()));
  if (!m.source_labels().empty()) parts.push_back("from " + Labels(m.source_labels()));
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " and ") + p;
  return out.empty() ? "*" : out;
}

std::string Ms(uint64_t ms) {
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string LbName(const pb::LoadBalancer& lb) {
  std::string name = pb::LoadBalancer::Policy_Name(lb.policy());
  if (lb.policy() == pb::LoadBalancer::POLICY_UNSPECIFIED) name = "LEAST_REQUEST (default)";
  if (lb.has_consistent_hash()) {
    const auto& c = lb.consistent_hash();
    if (c.use_source_ip()) name += " by source IP";
    if (!c.http_header_name().empty()) name += " by header " + c.http_header_name();
    if (c.has_http_cookie()) name += " by cookie " + c.http_cookie().name();
    if (!c.http_query_parameter_name().empty())
      name += " by query " + c.http_query_parameter_name();
  }
  return name;
}

void Cluster(std::ostringstream& o, const pb::ClusterPolicy& c, const std::string& indent) {
  o << indent << c.name() << ": lb " << LbName(c.load_balancer());
  if (c.has_connection_pool()) {
    const auto& p = c.connection_pool();
    if (p.max_connections()) o << ", maxConnections " << p.max_connections();
    if (p.connect_timeout_ms()) o << ", connectTimeout " << Ms(p.connect_timeout_ms());
    if (p.http1_max_pending_requests()) o << ", http1MaxPending " << p.http1_max_pending_requests();
    if (p.http2_max_requests()) o << ", http2MaxRequests " << p.http2_max_requests();
  }
  if (c.has_outlier_detection()) {
    // Unset fields are Istio's defaults: 5 consecutive 5xx, every 10s, 30s, at most 10 %.
    const auto& od = c.outlier_detection();
    o << ", outlier " << (od.has_consecutive_5xx_errors() ? od.consecutive_5xx_errors() : 5u)
      << "x5xx/" << Ms(od.interval_ms() ? od.interval_ms() : 10'000) << " eject "
      << Ms(od.base_ejection_time_ms() ? od.base_ejection_time_ms() : 30'000) << " max "
      << (od.has_max_ejection_percent() ? od.max_ejection_percent() : 10u) << "%";
  }
  if (c.has_retry_budget() && c.retry_budget().enabled()) {
    o << ", retryBudget " << c.retry_budget().percent() << "% min "
      << c.retry_budget().min_retry_concurrency();
  }
  if (c.has_tls()) o << ", tls " << pb::ClientTls::Mode_Name(c.tls().mode());
  o << "\n";
}

// A table with columns sized to their widest cell.
std::string Table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> w;
  for (const auto& r : rows) {
    if (w.size() < r.size()) w.resize(r.size(), 0);
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  }
  std::ostringstream o;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      o << r[i];
      if (i + 1 < r.size()) o << std::string(w[i] - r[i].size() + 2, ' ');
    }
    o << "\n";
  }
  return o.str();
}

}  // namespace

std::vector<std::string> BoundServices(const pb::MeshSnapshot& s, const pb::Waypoint& w) {
  std::vector<std::string> out;
  for (const auto& svc : s.services()) {
    if (svc.waypoint() != w.name() || svc.waypoint_namespace() != w.namespace_()) continue;
    out.push_back(svc.namespace_() == w.namespace_() ? svc.name()
                                                     : svc.namespace_() + "/" + svc.name());
  }
  return out;
}

std::string RenderWaypointsText(const pb::MeshSnapshot& s) {
  constexpr size_t kListedAtMost = 3;  // more bound Services than this: a count
  std::vector<std::vector<std::string>> rows = {
      {"NAMESPACE", "NAME", "CLASS", "NODE", "ADDRESSES", "IDENTITY", "BOUND"}};
  for (const auto& w : s.waypoints()) {
    std::string addrs;
    for (const auto& ep : w.endpoints()) {
      addrs += (addrs.empty() ? "" : ",") + ep.address() + (ep.ready() ? "" : "(not ready)");
    }
    auto bound = BoundServices(s, w);
    std::string services;
    if (bound.size() > kListedAtMost) {
      services = std::to_string(bound.size()) + " services";
    } else {
      for (const auto& b : bound) services += (services.empty() ? "" : ",") + b;
    }
    rows.push_back({w.namespace_(), w.name(), w.gateway_class(), w.node().empty() ? "-" : w.node(),
                    addrs.empty() ? "-" : addrs, w.identity(), services.empty() ? "-" : services});
  }
  return Table(rows);
}

std::string RenderText(const pb::MeshSnapshot& s) {
  std::ostringstream o;
  std::multimap<std::string, const pb::RouteTable*> routes;
  for (const auto& t : s.route_tables()) routes.emplace(t.hostname(), &t);
  std::multimap<std::string, const pb::ClusterPolicy*> clusters;
  for (const auto& c : s.cluster_policies()) clusters.emplace(c.hostname(), &c);

  o << "Services (" << s.services_size() << ")\n";
  for (const auto& svc : s.services()) {
    o << "\n" << svc.hostname() << "  [" << Ref(svc.source()) << "]\n";
    std::string vips;
    for (const auto& v : svc.vips()) vips += (vips.empty() ? "" : ",") + v;
    o << "  VIPs:      " << (vips.empty() ? "- (none assigned)" : vips) << "\n";
    o << "  Ports:     ";
    for (int i = 0; i < svc.ports_size(); ++i) {
      const auto& p = svc.ports(i);
      o << (i ? ", " : "") << p.port() << "/" << p.protocol() << " -> "
        << (p.target_port_name().empty() ? std::to_string(p.target_port()) : p.target_port_name());
      if (!p.app_protocol().empty()) o << " (" << p.app_protocol() << ")";
    }
    o << "\n";
    if (!svc.waypoint().empty()) {
      bool found = false;
      for (const auto& w : s.waypoints()) {
        found |= w.name() == svc.waypoint() && w.namespace_() == svc.waypoint_namespace();
      }
      o << "  Waypoint:  " << svc.waypoint_namespace() << "/" << svc.waypoint()
        << (found ? "" : " (no such waypoint: connections are refused)") << "\n";
    }
    if (svc.has_retry_budget()) {
      const auto& b = svc.retry_budget();
      o << "  Retry budget: ratio " << b.ratio() << ", " << b.min_retries_per_second()
        << "/s minimum, over " << Ms(b.ttl_ms()) << " [" << Ref(b.source()) << "]\n";
    }
    o << "  Endpoints: " << svc.endpoints_size() << "\n";
    for (const auto& ep : svc.endpoints()) {
      o << "    " << ep.address();
      if (!ep.workload_uid().empty()) o << "  " << ep.workload_uid();
      if (!ep.node().empty()) o << "  node=" << ep.node();
      if (!ep.locality().zone().empty()) o << "  zone=" << ep.locality().zone();
      o << "  " << Labels(ep.labels()) << (ep.ready() ? "" : "  (not ready)") << "\n";
    }
    for (const auto& sub : svc.subsets()) {
      o << "  Subset " << sub.name() << ": " << Labels(sub.labels()) << " -> "
        << sub.endpoint_indexes_size() << " endpoint(s)\n";
    }
    auto [rb, re] = routes.equal_range(svc.hostname());
    for (auto it = rb; it != re; ++it) {
      const auto& t = *it->second;
      o << "  Routes" << (t.port() ? " (port " + std::to_string(t.port()) + ")" : "") << " ["
        << Ref(t.source()) << "]\n";
      for (int i = 0; i < t.http_routes_size(); ++i) {
        const auto& r = t.http_routes(i);
        std::string matches;
        for (const auto& m : r.matches()) matches += (matches.empty() ? "" : " | ") + Describe(m);
        o << "    http[" << i << "] " << (matches.empty() ? "*" : matches) << " ->";
        for (const auto& d : r.destinations()) {
          o << " " << d.hostname() << (d.subset().empty() ? "" : "/" + d.subset())
            << (d.port() ? ":" + std::to_string(d.port()) : "") << " " << d.weight() << "%";
        }
        if (r.has_redirect()) o << " redirect " << r.redirect().uri();
        if (r.has_direct_response()) o << " respond " << r.direct_response().status();
        if (r.timeout_ms()) o << "; timeout " << Ms(r.timeout_ms());
        if (r.has_retries()) {
          o << "; retries " << r.retries().attempts();
          if (r.retries().per_try_timeout_ms()) o << " x " << Ms(r.retries().per_try_timeout_ms());
          std::string on;
          for (const auto& c : r.retries().retry_on()) on += (on.empty() ? "" : ",") + c;
          for (uint32_t c : r.retries().retriable_status_codes()) {
            on += (on.empty() ? "" : ",") + std::to_string(c);
          }
          if (!on.empty()) o << " on " << on;
          if (r.retries().backoff_base_ms()) o << " backoff " << Ms(r.retries().backoff_base_ms());
        }
        if (r.has_fault()) {
          const auto& f = r.fault();
          o << "; fault";
          if (f.delay_ms()) o << " delay " << Ms(f.delay_ms()) << " " << f.delay_percent() << "%";
          if (f.has_abort_grpc_status()) {
            o << " abort grpc-status " << f.abort_grpc_status() << " " << f.abort_percent() << "%";
          } else if (f.abort_http_status()) {
            o << " abort " << f.abort_http_status() << " " << f.abort_percent() << "%";
          }
        }
        if (r.mirrors_size()) o << "; mirror " << r.mirrors(0).hostname();
        o << "\n";
      }
      for (int i = 0; i < t.tcp_routes_size(); ++i) {
        o << "    tcp[" << i << "] ->";
        for (const auto& d : t.tcp_routes(i).destinations()) {
          o << " " << d.hostname() << (d.subset().empty() ? "" : "/" + d.subset()) << " "
            << d.weight() << "%";
        }
        o << "\n";
      }
    }
    auto [cb, ce] = clusters.equal_range(svc.hostname());
    if (cb != ce) o << "  Traffic policy [" << Ref(cb->second->source()) << "]\n";
    for (auto it = cb; it != ce; ++it) Cluster(o, *it->second, "    ");
  }

  o << "\nWorkloads (" << s.workloads_size() << ")\n";
  for (const auto& w : s.workloads()) {
    std::string addrs;
    for (const auto& a : w.addresses()) addrs += (addrs.empty() ? "" : ",") + a;
    o << "  " << w.uid() << "  " << (addrs.empty() ? "-" : addrs) << "  node=" << w.node() << "  "
      << (w.dataplane_mode() == pb::DATAPLANE_MODE_AMBIENT ? "ambient" : "not captured")
      << "  mtls=" << pb::MtlsMode_Name(w.mtls().mode()).substr(10) << "  " << w.identity();
    if (w.authorization_policies_size()) {
      o << "  authz:";
      for (const auto& p : w.authorization_policies()) o << " " << p;
    }
    o << "\n";
  }

  o << "\nAuthorization policies (" << s.authorization_policies_size() << ")\n";
  for (const auto& p : s.authorization_policies()) {
    o << "  " << p.namespace_() << "/" << p.name() << "  "
      << pb::AuthorizationPolicy::Action_Name(p.action()) << "  scope "
      << pb::AuthorizationPolicy::Scope_Name(p.scope()) << "  "
      << (p.scope() == pb::AuthorizationPolicy::WAYPOINT ? p.l7_rules_size() : p.rules_size())
      << " rule(s)" << (p.l7_attributes_removed() ? "  (L7 attributes removed)" : "") << "\n";
  }

  o << "\nWaypoints (" << s.waypoints_size() << ")\n";
  for (const auto& w : s.waypoints()) {
    std::string addrs;
    for (const auto& ep : w.endpoints()) {
      addrs += (addrs.empty() ? "" : ",") + ep.address() + (ep.ready() ? "" : " (not ready)");
    }
    auto bound = BoundServices(s, w);
    std::string services;
    for (const auto& b : bound) services += (services.empty() ? "" : ",") + b;
    o << "  " << w.namespace_() << "/" << w.name() << "  " << w.gateway_class()
      << "  node=" << (w.node().empty() ? "-" : w.node()) << "  "
      << (addrs.empty() ? "- (no pod)" : addrs) << "  " << w.identity()
      << "  bound: " << (services.empty() ? "-" : services) << "\n";
  }

  int errors = 0, warnings = 0;
  for (const auto& d : s.diagnostics()) {
    errors += d.severity() == pb::Diagnostic::ERROR;
    warnings += d.severity() == pb::Diagnostic::WARNING;
  }
  o << "\nDiagnostics: " << errors << " error(s), " << warnings << " warning(s)";
  if (s.excluded_size()) {
    o << "; left out:";
    for (const auto& e : s.excluded()) o << " " << Ref(e.source());
  }
  o << "\nSnapshot " << s.schema_version() << " sha256:" << s.content_hash().substr(0, 16) << "\n";
  return o.str();
}

}  // namespace weft::weftctl
