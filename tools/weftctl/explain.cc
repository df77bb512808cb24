// `weftctl explain` (explain.h).

#include "tools/weftctl/explain.h"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "agent/datapath/mesh_entries.h"
#include "core/policy/decode/values.h"
#include "core/source/files.h"

namespace weft::weftctl {

namespace {

namespace pb = ::weft::config::v1;
using nlohmann::ordered_json;

// One titled group of lines; text prints them indented, JSON as a list.
struct Section {
  std::string title;
  std::vector<std::string> lines;
};

struct Explanation {
  std::string subject;
  std::vector<Section> sections;

  Section& Add(std::string title) {
    sections.push_back({std::move(title), {}});
    return sections.back();
  }
};

// "VirtualService/shop/reviews (reviews.yaml:12, spec.http[0])".
std::string Where(const pb::Source& s, bool with_field = true) {
  std::string out =
      s.kind() + "/" + (s.namespace_().empty() ? "" : s.namespace_() + "/") + s.name();
  std::string at = s.file();
  if (!at.empty() && s.line()) at += ":" + std::to_string(s.line());
  if (with_field && !s.field().empty()) at += (at.empty() ? "" : ", ") + s.field();
  if (!at.empty()) out += " (" + at + ")";
  return out;
}

bool SameResource(const pb::Source& s, const std::string& kind, const std::string& ns,
                  const std::string& name) {
  return s.kind() == kind && s.namespace_() == ns && s.name() == name;
}

std::string ModeName(pb::DataplaneMode m) {
  return m == pb::DATAPLANE_MODE_AMBIENT ? "ambient (in the mesh)"
         : m == pb::DATAPLANE_MODE_NONE  ? "none (opted out)"
                                         : "not in the mesh (no weft.dev/dataplane-mode label)";
}

std::string MtlsName(pb::MtlsMode m) {
  return m == pb::MTLS_MODE_STRICT    ? "STRICT"
         : m == pb::MTLS_MODE_DISABLE ? "DISABLE"
                                      : "PERMISSIVE";
}

std::string MatchText(const pb::StringMatchRule& m) {
  if (m.has_exact()) return "= " + m.exact();
  if (m.has_prefix()) return "prefix " + m.prefix();
  if (m.has_regex()) return "~ " + m.regex();
  return "any";
}

std::string RouteText(const pb::HttpRoute& r) {
  std::string out;
  if (r.matches_size() == 0) {
    out = "every request";
  } else {
    for (int i = 0; i < r.matches_size(); ++i) {
      const auto& m = r.matches(i);
      std::string one = m.has_uri() ? "uri " + MatchText(m.uri()) : "any uri";
      for (const auto& h : m.headers()) one += ", header " + h.name();
      if (m.has_method()) one += ", method " + MatchText(m.method());
      if (m.port()) one += ", port " + std::to_string(m.port());
      out += (i ? " | " : "") + one;
    }
  }
  out += " -> ";
  if (r.has_redirect()) return out + "redirect";
  if (r.has_direct_response()) {
    return out + "direct response " + std::to_string(r.direct_response().status());
  }
  for (int i = 0; i < r.destinations_size(); ++i) {
    const auto& d = r.destinations(i);
    out += (i ? ", " : "") + (d.hostname().empty() ? "<unresolved: 500>" : d.hostname()) +
           (d.subset().empty() ? "" : " subset " + d.subset()) +
           (d.port() ? ":" + std::to_string(d.port()) : "") + " " + std::to_string(d.weight()) +
           "%";
  }
  return out;
}

// The weft_svc_v1 entries of the snapshot, by the service or workload id they carry.
std::multimap<uint32_t, std::string> SvcEntries(const pb::MeshSnapshot& snapshot) {
  std::multimap<uint32_t, std::string> out;
  for (const auto& e : agent::datapath::MeshDestinations(snapshot)) {
    out.emplace(e.service_id, e.key.ToString());
  }
  return out;
}

void AddSvcEntries(Section& s, const std::multimap<uint32_t, std::string>& entries,
                   const std::string& key, const std::string& what) {
  uint32_t id = agent::datapath::StableId(key);
  auto [b, e] = entries.equal_range(id);
  for (auto it = b; it != e; ++it) {
    s.lines.push_back("weft_svc_v1 " + it->second + " -> " + what + " id " + std::to_string(id) +
                      " (written by the agent of every node)");
  }
}

void AddWorkloadMaps(Section& s, const pb::Workload& w,
                     const std::multimap<uint32_t, std::string>& entries) {
  if (w.dataplane_mode() != pb::DATAPLANE_MODE_AMBIENT) {
    s.lines.push_back("no map entry: the pod is not in the mesh");
    return;
  }
  AddSvcEntries(s, entries, w.uid(), "workload " + w.uid());
  std::string node = w.node().empty() ? "its node" : "node " + w.node();
  s.lines.push_back("weft_netns_v1: its network namespace, enrolled by the agent of " + node);
  for (const auto& a : w.addresses()) {
    s.lines.push_back("weft_inbound_v1 " + a + " -> its :15006 listener (agent of " + node + ")");
  }
}

std::string ServiceLine(const pb::Service& svc) {
  std::string out = svc.hostname();
  std::string vips;
  for (const auto& v : svc.vips()) vips += (vips.empty() ? "" : ", ") + v;
  out += vips.empty() ? " (no VIP)" : " VIP " + vips;
  std::string ports;
  for (const auto& p : svc.ports()) ports += (ports.empty() ? "" : ", ") + std::to_string(p.port());
  if (!ports.empty()) out += " ports " + ports;
  return out;
}

std::string WaypointLine(const pb::Service& svc) {
  if (svc.waypoint().empty()) {
    return "none: the node proxy sends connections to an endpoint itself (L4 only; routes and "
           "L7 policies of this host are not evaluated)";
  }
  return "waypoint " + svc.waypoint_namespace() + "/" + svc.waypoint() +
         " (label weft.dev/use-waypoint or istio.io/use-waypoint on the Service or its "
         "Namespace): L7 routes and policies apply there";
}

// What was read: enough of every document to say what did not compile.
struct InputResource {
  policy::ResourceRef ref;
  std::vector<std::string> hosts;  // VirtualService hosts / HTTPRoute parent Service hosts
  bool rejected = false;
};

class Explainer {
 public:
  Explainer(const ExplainOptions& o, pb::MeshSnapshot snapshot, std::vector<InputResource> input)
      : o_(o),
        snapshot_(std::move(snapshot)),
        input_(std::move(input)),
        entries_(SvcEntries(snapshot_)) {}

  // Diagnostics about one resource, as lines.
  std::vector<std::string> DiagnosticsOf(const std::string& kind, const std::string& ns,
                                         const std::string& name) const {
    std::vector<std::string> out;
    for (const auto& d : snapshot_.diagnostics()) {
      if (!SameResource(d.source(), kind, ns, name)) continue;
      std::string sev = d.severity() == pb::Diagnostic::ERROR     ? "error"
                        : d.severity() == pb::Diagnostic::WARNING ? "warning"
                                                                  : "note";
      std::string at = d.source().file() + ":" + std::to_string(d.source().line());
      out.push_back(sev + " " + at + ": " +
                    (d.source().field().empty() ? "" : d.source().field() + ": ") + d.message());
    }
    return out;
  }

  const pb::ExcludedResource* Excluded(const std::string& kind, const std::string& ns,
                                       const std::string& name) const {
    for (const auto& e : snapshot_.excluded()) {
      if (SameResource(e.source(), kind, ns, name)) return &e;
    }
    return nullptr;
  }

  const pb::Service* ServiceByHost(const std::string& host) const {
    for (const auto& s : snapshot_.services()) {
      if (s.hostname() == host) return &s;
    }
    return nullptr;
  }

  const pb::Workload* WorkloadByUid(const std::string& uid) const {
    for (const auto& w : snapshot_.workloads()) {
      if (w.uid() == uid) return &w;
    }
    return nullptr;
  }

  std::string Hostname(const std::string& name, const std::string& ns) const {
    return name + "." + ns + ".svc." + o_.compile.cluster_domain;
  }

  bool Resource(Explanation& x, const std::string& kind, const std::string& ns,
                const std::string& name);
  bool To(Explanation& x, const std::string& host_or_ip, uint32_t port);
  bool Pod(Explanation& x, const std::string& ns, const std::string& name);

 private:
  void RouteTables(Section& s, const std::function<bool(const pb::RouteTable&)>& pick) const;

  const ExplainOptions& o_;
  pb::MeshSnapshot snapshot_;
  std::vector<InputResource> input_;
  std::multimap<uint32_t, std::string> entries_;
};

void Explainer::RouteTables(Section& s,
                            const std::function<bool(const pb::RouteTable&)>& pick) const {
  for (const auto& t : snapshot_.route_tables()) {
    if (!pick(t)) continue;
    const pb::Service* svc = ServiceByHost(t.hostname());
    s.lines.push_back(
        "route table " + t.hostname() +
        (t.port() ? ":" + std::to_string(t.port()) : " (every port)") + ", owned by " +
        Where(t.source(), false) + ": " + std::to_string(t.http_routes_size()) + " HTTP, " +
        std::to_string(t.tcp_routes_size()) + " TCP route(s); " +
        (svc && !svc->waypoint().empty()
             ? "evaluated by waypoint " + svc->waypoint_namespace() + "/" + svc->waypoint()
             : "no waypoint serves " + t.hostname() + ": the HTTP routes are not evaluated"));
    for (int i = 0; i < t.http_routes_size(); ++i) {
      const auto& r = t.http_routes(i);
      s.lines.push_back(
          "  " + std::to_string(i + 1) + ". " + r.source().field() +
          (r.source().line() ? " (line " + std::to_string(r.source().line()) + ")" : "") + ": " +
          RouteText(r));
    }
  }
}

bool Explainer::Resource(Explanation& x, const std::string& kind, const std::string& ns,
                         const std::string& name) {
  const InputResource* in = nullptr;
  for (const auto& r : input_) {
    if (r.ref.kind == kind && r.ref.ns == ns && r.ref.name == name) in = &r;
  }
  if (!in) return false;
  x.subject = kind + "/" + (ns.empty() ? "" : ns + "/") + name + " (" + in->ref.file + ":" +
              std::to_string(in->ref.line) + ")";
  Section& status = x.Add("status");
  if (const auto* e = Excluded(kind, ns, name)) {
    status.lines.push_back("left out of the snapshot: " + e->reason());
  } else if (in->rejected) {
    status.lines.push_back("left out of the snapshot (its errors are below)");
  } else {
    status.lines.push_back("compiled");
  }
  for (auto& d : DiagnosticsOf(kind, ns, name)) status.lines.push_back(std::move(d));

  Section& produced = x.Add("produced");
  for (const auto& n : snapshot_.namespaces()) {
    if (!SameResource(n.source(), kind, ns, name)) continue;
    produced.lines.push_back("namespace " + n.name() + ": dataplane mode " +
                             ModeName(n.dataplane_mode()) +
                             (n.waypoint().empty() ? "" : ", waypoint " + n.waypoint()));
  }
  for (const auto& w : snapshot_.workloads()) {
    if (SameResource(w.source(), kind, ns, name)) {
      produced.lines.push_back("workload " + w.uid() + " on node " + w.node() + ", identity " +
                               w.identity() + ", dataplane mode " + ModeName(w.dataplane_mode()));
      AddWorkloadMaps(produced, w, entries_);
    }
    if (w.mtls().has_source() && SameResource(w.mtls().source(), kind, ns, name)) {
      produced.lines.push_back("decides mTLS of workload " + w.uid() + " (node " + w.node() +
                               "): " + MtlsName(w.mtls().mode()));
    }
    std::string key = ns + "/" + name;
    if (kind == "AuthorizationPolicy" &&
        std::find(w.authorization_policies().begin(), w.authorization_policies().end(), key) !=
            w.authorization_policies().end()) {
      produced.lines.push_back("enforced by the node proxy of node " + w.node() + " for workload " +
                               w.uid());
    }
  }
  for (const auto& svc : snapshot_.services()) {
    if (SameResource(svc.source(), kind, ns, name)) {
      produced.lines.push_back(
          "service " + ServiceLine(svc) + "; waypoint: " +
          (svc.waypoint().empty() ? "none" : svc.waypoint_namespace() + "/" + svc.waypoint()));
      AddSvcEntries(produced, entries_, svc.hostname(), "service " + svc.hostname());
    }
    for (const auto& ep : svc.endpoints()) {
      if (SameResource(ep.source(), kind, ns, name)) {
        produced.lines.push_back("endpoint " + ep.address() + " of " + svc.hostname() +
                                 (ep.node().empty() ? "" : " on node " + ep.node()) +
                                 (ep.ready() ? "" : " (not ready)"));
      }
    }
    for (const auto& sub : svc.subsets()) {
      if (SameResource(sub.source(), kind, ns, name)) {
        produced.lines.push_back("subset " + sub.name() + " of " + svc.hostname() + ": " +
                                 std::to_string(sub.endpoint_indexes_size()) + " endpoint(s)");
      }
    }
    if (svc.has_retry_budget() && SameResource(svc.retry_budget().source(), kind, ns, name)) {
      produced.lines.push_back("retry budget of " + svc.hostname());
    }
  }
  for (const auto& p : snapshot_.authorization_policies()) {
    if (!SameResource(p.source(), kind, ns, name)) continue;
    std::string where;
    if (p.scope() == pb::AuthorizationPolicy::WAYPOINT) {
      for (const auto& t : p.target_refs()) {
        where += (where.empty() ? "" : ", ") + t.kind() + " " + t.name();
      }
      where = "at the waypoint, for " + where;
    } else {
      where = p.scope() == pb::AuthorizationPolicy::MESH ? "mesh-wide, at every node proxy"
              : p.scope() == pb::AuthorizationPolicy::NAMESPACE
                  ? "at the node proxies of namespace " + p.namespace_()
                  : "at the node proxies of the selected pods";
    }
    produced.lines.push_back("authorization policy " +
                             pb::AuthorizationPolicy::Action_Name(p.action()) + " with " +
                             std::to_string(p.rules_size()) + " L4 rule(s) and " +
                             std::to_string(p.l7_rules_size()) + " L7 rule(s), enforced " + where);
  }
  RouteTables(produced,
              [&](const pb::RouteTable& t) { return SameResource(t.source(), kind, ns, name); });
  for (const auto& c : snapshot_.cluster_policies()) {
    if (SameResource(c.source(), kind, ns, name)) {
      produced.lines.push_back("cluster " + c.name() +
                               " (load balancing, pool, outlier detection, "
                               "TLS used by the waypoint)");
    }
  }
  for (const auto& w : snapshot_.waypoints()) {
    if (!SameResource(w.source(), kind, ns, name)) continue;
    std::string bound;
    for (const auto& svc : snapshot_.services()) {
      if (svc.waypoint() == w.name() && svc.waypoint_namespace() == w.namespace_()) {
        bound += (bound.empty() ? "" : ", ") + svc.hostname();
      }
    }
    produced.lines.push_back("waypoint " + w.namespace_() + "/" + w.name() + " (identity " +
                             w.identity() + ", " + std::to_string(w.endpoints_size()) +
                             " pod(s)); Services bound: " + (bound.empty() ? "none" : bound));
  }
  if (produced.lines.empty()) {
    produced.lines.push_back(in->rejected || Excluded(kind, ns, name)
                                 ? "nothing: the resource is left out"
                                 : "nothing in the snapshot (weft reads this kind only "
                                   "for the resources that refer to it, or not at all)");
  }
  return true;
}

bool Explainer::To(Explanation& x, const std::string& target, uint32_t port) {
  const pb::Service* svc = nullptr;
  // "name.namespace" is short for the Service's FQDN, as in Kubernetes DNS.
  const bool two_labels = std::count(target.begin(), target.end(), '.') == 1;
  const std::string fqdn = target + ".svc." + o_.compile.cluster_domain;
  for (const auto& s : snapshot_.services()) {
    bool hit = s.hostname() == target || (two_labels && s.hostname() == fqdn) ||
               std::find(s.vips().begin(), s.vips().end(), target) != s.vips().end();
    if (hit) svc = &s;
  }
  std::string host = svc ? svc->hostname() : target;
  x.subject = "traffic to " + target + (port ? ":" + std::to_string(port) : "");
  Section& dst = x.Add("1. destination");
  if (!svc) {
    dst.lines.push_back("no Service or ServiceEntry provides " + target +
                        ": the connection is not captured; it goes where the client sent it");
  } else {
    dst.lines.push_back(ServiceLine(*svc) + " from " + Where(svc->source()));
    AddSvcEntries(dst, entries_, svc->hostname(), "service " + svc->hostname());
    x.Add("2. waypoint").lines.push_back(WaypointLine(*svc));
  }
  Section& routes = x.Add(
      "3. routes (one owner per host; the oldest VirtualService wins, "
      "HTTPRoutes of one Service are merged)");
  RouteTables(routes, [&](const pb::RouteTable& t) {
    return t.hostname() == host && (port == 0 || t.port() == 0 || t.port() == port);
  });
  if (routes.lines.empty()) routes.lines.push_back("none: connections go to the Service itself");
  for (const auto& r : input_) {
    if (std::find(r.hosts.begin(), r.hosts.end(), host) == r.hosts.end()) continue;
    bool owner = false;
    for (const auto& t : snapshot_.route_tables()) {
      owner |= t.hostname() == host && SameResource(t.source(), r.ref.kind, r.ref.ns, r.ref.name);
    }
    if (owner) continue;
    routes.lines.push_back("not applied: " + r.ref.kind + "/" + r.ref.ns + "/" + r.ref.name + " (" +
                           r.ref.file + ":" + std::to_string(r.ref.line) + ")");
    for (const auto& d : DiagnosticsOf(r.ref.kind, r.ref.ns, r.ref.name)) {
      routes.lines.push_back("  " + d);
    }
  }
  Section& traffic = x.Add("4. traffic policy (DestinationRule)");
  for (const auto& c : snapshot_.cluster_policies()) {
    if (c.hostname() == host)
      traffic.lines.push_back(c.name() + " from " + Where(c.source(), false));
  }
  if (traffic.lines.empty()) traffic.lines.push_back("none: defaults");
  Section& authz = x.Add(
      "5. authorization (DENY, then ALLOW; at the waypoint, then at the "
      "destination's node proxy)");
  std::set<std::string> node_policies;
  if (svc) {
    for (const auto& p : snapshot_.authorization_policies()) {
      if (p.scope() != pb::AuthorizationPolicy::WAYPOINT) continue;
      for (const auto& t : p.target_refs()) {
        bool to_service =
            t.kind() == "Service" && t.name() == svc->name() && p.namespace_() == svc->namespace_();
        bool to_waypoint = t.kind() == "Gateway" && t.name() == svc->waypoint() &&
                           p.namespace_() == svc->waypoint_namespace();
        if (to_service || to_waypoint) {
          authz.lines.push_back("waypoint: " + pb::AuthorizationPolicy::Action_Name(p.action()) +
                                " " + Where(p.source(), false));
        }
      }
    }
    for (const auto& ep : svc->endpoints()) {
      if (const pb::Workload* w = WorkloadByUid(ep.workload_uid())) {
        for (const auto& name : w->authorization_policies()) node_policies.insert(name);
      }
    }
  }
  for (const auto& p : snapshot_.authorization_policies()) {
    if (node_policies.count(p.namespace_() + "/" + p.name())) {
      authz.lines.push_back("node proxy: " + pb::AuthorizationPolicy::Action_Name(p.action()) +
                            " " + Where(p.source(), false));
    }
  }
  if (authz.lines.empty()) authz.lines.push_back("none: every request is allowed");
  Section& mtls = x.Add("6. mTLS (PeerAuthentication of the destination pods)");
  Section& eps = x.Add("7. endpoints");
  if (svc) {
    std::set<std::string> seen;
    for (const auto& ep : svc->endpoints()) {
      eps.lines.push_back(
          ep.address() + (ep.workload_uid().empty() ? "" : " " + ep.workload_uid()) +
          (ep.node().empty() ? "" : " on node " + ep.node()) + (ep.ready() ? "" : " (not ready)"));
      const pb::Workload* w = WorkloadByUid(ep.workload_uid());
      if (!w || !seen.insert(w->uid()).second) continue;
      mtls.lines.push_back(w->uid() + ": " + MtlsName(w->mtls().mode()) + " " +
                           (w->mtls().has_source() ? "from " + Where(w->mtls().source(), false)
                                                   : "(the default: no PeerAuthentication)"));
    }
  }
  if (mtls.lines.empty()) mtls.lines.push_back("no pod behind it");
  if (eps.lines.empty()) eps.lines.push_back("none");
  return svc != nullptr;
}

bool Explainer::Pod(Explanation& x, const std::string& ns, const std::string& name) {
  const pb::Workload* w = WorkloadByUid(ns + "/" + name);
  if (!w) return false;
  x.subject = "pod " + w->uid() + " from " + Where(w->source());
  Section& who = x.Add("1. workload");
  std::string addrs;
  for (const auto& a : w->addresses()) addrs += (addrs.empty() ? "" : ", ") + a;
  who.lines.push_back("node " + w->node() + ", addresses " + (addrs.empty() ? "none" : addrs) +
                      ", identity " + w->identity());
  Section& mode = x.Add("2. enrollment");
  bool own = w->labels().count("weft.dev/dataplane-mode") > 0;
  mode.lines.push_back(ModeName(w->dataplane_mode()) + " (" +
                       (own ? "the pod's label weft.dev/dataplane-mode"
                            : "its Namespace's label, the pod has none") +
                       ")");
  Section& mtls = x.Add("3. mTLS");
  mtls.lines.push_back(MtlsName(w->mtls().mode()) + " " +
                       (w->mtls().has_source() ? "from " + Where(w->mtls().source(), false)
                                               : "(the default: no PeerAuthentication)"));
  Section& authz = x.Add("4. authorization at its node proxy (DENY, then ALLOW)");
  for (const auto& p : snapshot_.authorization_policies()) {
    std::string key = p.namespace_() + "/" + p.name();
    if (std::find(w->authorization_policies().begin(), w->authorization_policies().end(), key) !=
        w->authorization_policies().end()) {
      authz.lines.push_back(pb::AuthorizationPolicy::Action_Name(p.action()) + " " +
                            Where(p.source(), false));
    }
  }
  if (authz.lines.empty()) authz.lines.push_back("none: every connection is allowed");
  x.Add("5. waypoint")
      .lines.push_back(w->waypoint().empty()
                           ? "none"
                           : w->waypoint_namespace() + "/" + w->waypoint() +
                                 " (informative: Service traffic goes through the waypoint "
                                 "bound to the Service)");
  Section& serves = x.Add("6. Services it serves");
  for (const auto& svc : snapshot_.services()) {
    for (const auto& ep : svc.endpoints()) {
      if (ep.workload_uid() == w->uid()) {
        serves.lines.push_back(svc.hostname() + " from " + Where(svc.source(), false));
        break;
      }
    }
  }
  if (serves.lines.empty()) serves.lines.push_back("none");
  AddWorkloadMaps(x.Add("7. BPF maps"), *w, entries_);
  return true;
}

void Print(const Explanation& x, const std::string& format, std::ostream& out) {
  if (format == "json") {
    ordered_json sections = ordered_json::array();
    for (const auto& s : x.sections) sections.push_back({{"title", s.title}, {"lines", s.lines}});
    out << ordered_json{{"subject", x.subject}, {"sections", std::move(sections)}}.dump(2) << "\n";
    return;
  }
  out << x.subject << "\n";
  for (const auto& s : x.sections) {
    out << "  " << s.title << ":\n";
    for (const auto& l : s.lines) out << "    " << l << "\n";
  }
}

}  // namespace

int RunExplain(const ExplainOptions& o, std::ostream& out, std::ostream& err) {
  int subjects = !o.resource.empty() + !o.to.empty() + !o.pod.empty();
  if (subjects != 1) {
    err << "weftctl explain: name one subject: KIND/[NAMESPACE/]NAME, --to HOST[:PORT] or "
           "--pod NAMESPACE/NAME\n";
    return 2;
  }
  policy::DecodeOptions decode;
  decode.default_namespace = o.default_namespace;
  decode.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  source::LoadedFiles loaded = source::LoadPaths(o.files, decode);
  for (const auto& e : loaded.io_errors) err << policy::FormatDiagnostic(e) << "\n";
  if (!loaded.io_errors.empty()) return 2;

  std::vector<InputResource> input;
  for (const auto& d : loaded.documents) {
    InputResource r{d.ref, {}, d.rejected};
    if (d.resource && d.resource->kind == policy::Kind::kVirtualService) {
      for (const auto& h : d.resource->as<policy::VirtualServiceSpec>().hosts) {
        std::string host = h.host;
        if (host.find('.') == std::string::npos && host.find('*') == std::string::npos) {
          host += "." + d.ref.ns + ".svc." + o.compile.cluster_domain;
        }
        r.hosts.push_back(host);
      }
    }
    if (d.resource && d.resource->kind == policy::Kind::kHTTPRoute) {
      for (const auto& p : d.resource->as<policy::HTTPRouteSpec>().parents) {
        if (p.kind != "Service") continue;
        r.hosts.push_back(p.name + "." + (p.ns.empty() ? d.ref.ns : p.ns) + ".svc." +
                          o.compile.cluster_domain);
      }
    }
    input.push_back(std::move(r));
  }
  auto compiled = policy::CompileDocuments(std::move(loaded.documents), o.compile);
  Explainer ex(o, std::move(compiled.snapshot), std::move(input));
  Explanation x;
  bool found = false;
  if (!o.resource.empty()) {
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t slash = o.resource.find('/', start);
      parts.push_back(o.resource.substr(start, slash == std::string::npos ? slash : slash - start));
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
    if (parts.size() < 2 || parts.size() > 3) {
      err << "weftctl explain: expected KIND/NAMESPACE/NAME or KIND/NAME, got \"" << o.resource
          << "\"\n";
      return 2;
    }
    std::string ns = parts.size() == 3 ? parts[1] : "";
    found = ex.Resource(x, parts[0], ns, parts.back());
    if (!found && parts.size() == 2)
      found = ex.Resource(x, parts[0], o.default_namespace, parts[1]);
    if (!found) err << "weftctl explain: " << o.resource << " is not in the input\n";
  } else if (!o.to.empty()) {
    std::string target = o.to;
    uint32_t port = 0;
    size_t colon = target.rfind(':');
    if (colon != std::string::npos && target.find(':') == colon) {
      auto p = policy::ParseInt(target.substr(colon + 1));
      if (!p || *p < 1 || *p > 65535) {
        err << "weftctl explain: bad port in \"" << o.to << "\"\n";
        return 2;
      }
      port = static_cast<uint32_t>(*p);
      target = target.substr(0, colon);
    }
    if (target.find('.') == std::string::npos && target.find(':') == std::string::npos) {
      target += "." + o.default_namespace + ".svc." + o.compile.cluster_domain;
    }
    found = ex.To(x, target, port);
    Print(x, o.format, out);  // also when nothing provides the host: that is the answer
    return found ? 0 : 1;
  } else {
    size_t slash = o.pod.find('/');
    std::string ns = slash == std::string::npos ? o.default_namespace : o.pod.substr(0, slash);
    std::string name = slash == std::string::npos ? o.pod : o.pod.substr(slash + 1);
    found = ex.Pod(x, ns, name);
    if (!found) err << "weftctl explain: no pod " << ns << "/" << name << " in the input\n";
  }
  if (found) Print(x, o.format, out);
  return found ? 0 : 1;
}

}  // namespace weft::weftctl
