// Workloads pass: Pods -> pb::Workload with identity, locality, enrollment, the effective
// PeerAuthentication and the AuthorizationPolicies that select them. Also Namespaces.

#include "core/policy/compile/passes.h"
#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

constexpr std::string_view kModeLabel = "weft.dev/dataplane-mode";

pb::DataplaneMode ModeFromLabels(const Labels& labels, bool* present) {
  auto it = labels.find(std::string(kModeLabel));
  *present = it != labels.end();
  if (!*present) return pb::DATAPLANE_MODE_UNSPECIFIED;
  if (it->second == "ambient") return pb::DATAPLANE_MODE_AMBIENT;
  return pb::DATAPLANE_MODE_NONE;
}

void CheckModeLabel(const Resource& r, PassReport& report) {
  auto it = r.meta.labels.find(std::string(kModeLabel));
  if (it != r.meta.labels.end() && it->second != "ambient" && it->second != "none") {
    report.Warning(r, code::kValue, {{}, "metadata.labels." + std::string(kModeLabel)},
                   "unknown dataplane mode \"" + it->second +
                       "\" (expected ambient or none); treated as none");
  }
}

// Picks the oldest of several policies at one level; the others conflict (warning, as Istio
// keeps using the oldest).
const Resource* Oldest(const std::vector<const Resource*>& candidates, PassReport& report,
                       const std::string& what) {
  if (candidates.empty()) return nullptr;
  for (size_t i = 1; i < candidates.size(); ++i) {
    report.Warning(*candidates[i], code::kConflict, {{}, "spec"},
                   "more than one " + what + "; PeerAuthentication " + KeyOf(*candidates[0]) +
                       " is older and is used");
  }
  return candidates[0];
}

}  // namespace

SecurityPolicies SelectSecurityPolicies(const ResourceIndex& index) {
  SecurityPolicies out;
  const std::string& root = index.options().root_namespace;
  std::vector<const Resource*> mesh;
  std::map<std::string, std::vector<const Resource*>> ns_level;
  for (const Resource* r : OldestFirst(index.All(Kind::kPeerAuthentication))) {
    const auto& pa = r->as<PeerAuthenticationSpec>();
    if (pa.selector && !pa.selector->empty() && r->meta.ns == root) {
      // Istio composes mesh, namespace and workload levels and has no place for this one.
      out.report.Warning(*r, code::kValue, {{}, "spec.selector"},
                         "a PeerAuthentication with a selector in the root namespace " + root +
                             " is ignored, as in Istio");
    } else if (pa.selector && !pa.selector->empty()) {
      out.workload_peer_auth[r->meta.ns].push_back(r);
    } else if (r->meta.ns == root) {
      mesh.push_back(r);
    } else {
      ns_level[r->meta.ns].push_back(r);
    }
  }
  out.mesh_peer_auth = Oldest(mesh, out.report, "mesh-wide PeerAuthentication");
  for (const auto& [ns, list] : ns_level) {
    out.namespace_peer_auth[ns] =
        Oldest(list, out.report, "namespace-wide PeerAuthentication in " + ns);
  }
  for (const Resource* r : OldestFirst(index.All(Kind::kAuthorizationPolicy))) {
    if (!r->as<AuthorizationPolicySpec>().target_refs.empty()) continue;  // waypoint
    out.authz[r->meta.ns].push_back(r);
  }
  return out;
}

pb::Workload CompileWorkload(const ResourceIndex& index, const SecurityPolicies& security,
                             const Resource& pod, PassReport& report) {
  const auto& spec = pod.as<PodSpec>();
  const CompileOptions& opt = index.options();
  pb::Workload w;
  w.set_uid(KeyOf(pod));
  w.set_name(pod.meta.name);
  w.set_namespace_(pod.meta.ns);
  w.set_node(spec.node);
  w.set_kube_uid(pod.meta.uid);
  for (const auto& ip : spec.ips) w.add_addresses(ip);
  w.set_service_account(spec.service_account);
  w.set_identity(SpiffeId(opt.trust_domain, pod.meta.ns, spec.service_account));
  w.mutable_labels()->insert(pod.meta.labels.begin(), pod.meta.labels.end());
  for (const auto& [name, port] : spec.named_ports) (*w.mutable_named_ports())[name] = port;
  w.set_ready(spec.phase.empty() || spec.phase == "Running");
  *w.mutable_source() = SourceOf(pod);

  if (const Resource* node = spec.node.empty() ? nullptr : index.Get(Kind::kNode, spec.node)) {
    const auto& l = node->meta.labels;
    auto* loc = w.mutable_locality();
    if (auto it = l.find("topology.kubernetes.io/region"); it != l.end())
      loc->set_region(it->second);
    if (auto it = l.find("topology.kubernetes.io/zone"); it != l.end()) loc->set_zone(it->second);
    if (auto it = l.find("topology.istio.io/subzone"); it != l.end()) loc->set_subzone(it->second);
  }

  // Enrollment: the Pod's label overrides its Namespace's.
  CheckModeLabel(pod, report);
  const Resource* ns = index.Get(Kind::kNamespace, pod.meta.ns);
  bool present = false;
  pb::DataplaneMode mode = ModeFromLabels(pod.meta.labels, &present);
  if (!present && ns) mode = ModeFromLabels(ns->meta.labels, &present);
  if (spec.host_network && mode == pb::DATAPLANE_MODE_AMBIENT) {
    report.Warning(pod, code::kUnsupported, {{}, "spec.hostNetwork"},
                   "hostNetwork pods share the node's network namespace and are not captured");
    mode = pb::DATAPLANE_MODE_NONE;
  }
  // A waypoint's own pod is never captured and has no waypoint of its own.
  if (const Resource* gw = WaypointOfPod(index, pod)) {
    mode = pb::DATAPLANE_MODE_NONE;
    if (spec.service_account != gw->meta.name) {
      report.Warning(pod, code::kValue, {{}, "spec.serviceAccountName"},
                     "runs as service account \"" + spec.service_account + "\", but waypoint " +
                         KeyOf(*gw) + " has the identity " +
                         SpiffeId(opt.trust_domain, gw->meta.ns, gw->meta.name) +
                         ": clients expecting it refuse this pod");
    }
  } else {
    std::string waypoint, waypoint_ns;
    ApplyWaypoint(pod, ResolveWaypoint(index, pod), &waypoint, &waypoint_ns, report);
    w.set_waypoint(std::move(waypoint));
    w.set_waypoint_namespace(std::move(waypoint_ns));
  }
  w.set_dataplane_mode(mode);

  // PeerAuthentication: workload selector > namespace > mesh; UNSET inherits; port-level
  // settings of the workload policy override its mode for those ports.
  pb::MtlsPolicy* mtls = w.mutable_mtls();
  mtls->set_mode(pb::MTLS_MODE_PERMISSIVE);
  auto apply = [&](const Resource* r) {
    if (!r) return;
    const auto& pa = r->as<PeerAuthenticationSpec>();
    if (pa.mode != pb::MTLS_MODE_UNSPECIFIED) {
      mtls->set_mode(pa.mode);
      *mtls->mutable_source() = SourceOf(*r);
    }
  };
  apply(security.mesh_peer_auth);
  if (auto it = security.namespace_peer_auth.find(pod.meta.ns);
      it != security.namespace_peer_auth.end()) {
    apply(it->second);
  }
  if (auto it = security.workload_peer_auth.find(pod.meta.ns);
      it != security.workload_peer_auth.end()) {
    const Resource* chosen = nullptr;
    for (const Resource* r : it->second) {
      if (!LabelsMatch(*r->as<PeerAuthenticationSpec>().selector, pod.meta.labels)) continue;
      if (!chosen) {
        chosen = r;
      } else {
        report.Warning(*r, code::kConflict, {{}, "spec.selector"},
                       "selects workload " + KeyOf(pod) + ", which PeerAuthentication " +
                           KeyOf(*chosen) +
                           " (older) already selects; this one is not used for it");
      }
    }
    apply(chosen);
    if (chosen) {
      for (const auto& [port, pmode] : chosen->as<PeerAuthenticationSpec>().port_level) {
        (*mtls->mutable_port_modes())[port] =
            pmode == pb::MTLS_MODE_UNSPECIFIED ? mtls->mode() : pmode;
      }
    }
  }

  // AuthorizationPolicies the node proxy enforces for this workload.
  std::vector<std::string> policies;
  auto collect = [&](const std::string& ns_name, bool root) {
    auto it = security.authz.find(ns_name);
    if (it == security.authz.end()) return;
    for (const Resource* r : it->second) {
      const auto& ap = r->as<AuthorizationPolicySpec>();
      if (ap.selector) {
        if (ns_name != pod.meta.ns && !root) continue;
        if (!LabelsMatch(*ap.selector, pod.meta.labels)) continue;
      }
      policies.push_back(KeyOf(*r));
    }
  };
  collect(opt.root_namespace, true);
  if (pod.meta.ns != opt.root_namespace) collect(pod.meta.ns, false);
  std::sort(policies.begin(), policies.end());
  for (auto& p : policies) w.add_authorization_policies(p);
  return w;
}

namespace {

// weft.dev/retry-budget on a Namespace: the mesh-wide default on the root namespace (the
// services pass applies it; its errors are reported here, once), no effect elsewhere.
void CheckRetryBudgetAnnotation(const ResourceIndex& index, const Resource& ns,
                                PassReport& report) {
  auto it = ns.meta.annotations.find(std::string(kRetryBudgetAnnotation));
  if (it == ns.meta.annotations.end()) return;
  const std::string& root = index.options().root_namespace;
  if (ns.meta.name != root) {
    report.Warning(ns, code::kValue, {{}, RetryBudgetField()},
                   "a retry budget on a Namespace has no effect unless it is the root namespace "
                   "(\"" +
                       root +
                       "\"), where it is the mesh-wide default; annotate the "
                       "Services instead");
    return;
  }
  std::string why;
  if (!ParseRetryBudget(it->second, &why)) {
    report.ErrorKept(ns, code::kValue, {{}, RetryBudgetField()},
                     "invalid retry budget \"" + it->second + "\": " + why +
                         "; there is no mesh-wide retry budget");
  }
}

}  // namespace

std::vector<pb::Namespace> CompileNamespaces(const ResourceIndex& index, PassReport& report) {
  std::vector<pb::Namespace> out;
  for (const auto& [k, r] : index.All(Kind::kNamespace)) {
    CheckModeLabel(r, report);
    pb::Namespace ns;
    ns.set_name(r.meta.name);
    bool present = false;
    ns.set_dataplane_mode(ModeFromLabels(r.meta.labels, &present));
    std::string waypoint, waypoint_ns;
    ApplyWaypoint(r, ResolveWaypoint(index, r), &waypoint, &waypoint_ns, report);
    ns.set_waypoint(std::move(waypoint));
    ns.set_waypoint_namespace(std::move(waypoint_ns));
    ns.mutable_labels()->insert(r.meta.labels.begin(), r.meta.labels.end());
    *ns.mutable_source() = SourceOf(r);
    CheckRetryBudgetAnnotation(index, r, report);
    out.push_back(std::move(ns));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.name() < b.name(); });
  return out;
}

}  // namespace weft::policy
