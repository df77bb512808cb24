// Waypoints pass: Gateways of a waypoint class -> pb::Waypoint with the pods that run them.
// Also how Services, Pods and Namespaces bind to a waypoint (their labels, then their
// Namespace's), which the services, workloads, namespaces and authorization passes share.

#include <algorithm>

#include "core/policy/compile/passes.h"
#include "core/policy/decode/decode.h"

namespace weft::policy {

namespace {

constexpr std::string_view kWeftUseWaypoint = "weft.dev/use-waypoint";
constexpr std::string_view kIstioUseWaypoint = "istio.io/use-waypoint";
constexpr std::string_view kIstioUseWaypointNamespace = "istio.io/use-waypoint-namespace";
constexpr std::string_view kNamespaceNameLabel = "kubernetes.io/metadata.name";

// The binding one object's own labels make: nullopt when it has no use-waypoint label; a
// binding with an empty name for "none" (or an empty value).
std::optional<WaypointBinding> OwnBinding(const Resource& r, const std::string& ns) {
  // Looked up for every Service and Pod: the keys are built once.
  static const std::string weft(kWeftUseWaypoint), istio(kIstioUseWaypoint),
      istio_ns(kIstioUseWaypointNamespace);
  const Labels& labels = r.meta.labels;
  if (labels.empty()) return std::nullopt;
  const std::string* label = &weft;
  auto it = labels.find(weft);
  if (it == labels.end()) {
    label = &istio;
    it = labels.find(istio);
  }
  if (it == labels.end()) return std::nullopt;
  WaypointBinding b;
  b.labelled = &r;
  b.field = "metadata.labels." + *label;
  if (it->second.empty() || it->second == "none") return b;
  b.name = it->second;
  auto n = labels.find(istio_ns);
  b.ns = n != labels.end() && !n->second.empty() ? n->second : ns;
  return b;
}

// The labels a Namespace's selector sees: its own plus kubernetes.io/metadata.name, which the
// API server sets on every Namespace (files rarely write it).
Labels NamespaceLabels(const ResourceIndex& index, const std::string& ns) {
  Labels out;
  if (const Resource* n = index.Get(Kind::kNamespace, ns)) out = n->meta.labels;
  out[std::string(kNamespaceNameLabel)] = ns;
  return out;
}

bool PodIsServing(const PodSpec& pod) {
  return pod.phase.empty() || pod.phase == "Running" || pod.phase == "Pending";
}

}  // namespace

WaypointBinding WaypointBindingOf(const ResourceIndex& index, const Resource& r) {
  std::string ns = r.kind == Kind::kNamespace ? r.meta.name : r.meta.ns;
  if (auto b = OwnBinding(r, ns)) return *b;
  if (r.kind != Kind::kNamespace) {
    if (const Resource* n = index.Get(Kind::kNamespace, ns)) {
      if (auto b = OwnBinding(*n, ns)) return *b;
    }
  }
  return {};
}

ResolvedWaypoint ResolveWaypoint(const ResourceIndex& index, const Resource& r) {
  ResolvedWaypoint out;
  out.binding = WaypointBindingOf(index, r);
  if (out.binding.name.empty()) return out;
  out.gateway = index.Get(Kind::kGateway, out.binding.ns + "/" + out.binding.name);
  if (!out.gateway) {
    out.state = WaypointState::kMissing;
    return out;
  }
  const auto& gw = out.gateway->as<GatewaySpec>();
  if (!gw.waypoint) {
    out.state = WaypointState::kNotWaypoint;
    return out;
  }
  // As Istio: a binding from another namespace needs the mesh listener's allowedRoutes.
  std::string from = r.kind == Kind::kNamespace ? r.meta.name : r.meta.ns;
  bool admitted = from == out.gateway->meta.ns;
  if (!admitted && gw.mesh_listener < gw.listeners.size()) {
    const auto& l = gw.listeners[gw.mesh_listener];
    admitted = l.routes_from == "All" || (l.routes_from == "Selector" && l.routes_selector &&
                                          l.routes_selector->Matches(NamespaceLabels(index, from)));
  }
  out.state = admitted ? WaypointState::kBound : WaypointState::kDenied;
  return out;
}

ResolvedWaypoint ServiceWaypoint(const ResourceIndex& index, const Resource& svc) {
  auto managed = svc.meta.labels.find("gateway.istio.io/managed");
  if (managed != svc.meta.labels.end() && managed->second == "istio.io-mesh-controller") return {};
  const auto& selector = svc.as<ServiceSpec>().selector;
  if (selector && selector->count(std::string(kGatewayNameLabel))) return {};
  return ResolveWaypoint(index, svc);
}

void ApplyWaypoint(const Resource& r, const ResolvedWaypoint& wp, std::string* name,
                   std::string* ns, PassReport& report) {
  const WaypointBinding& b = wp.binding;
  if (b.name.empty()) return;
  bool own = b.labelled == &r;
  std::string target = b.ns + "/" + b.name;
  FieldPos at{{}, b.field};
  switch (wp.state) {
    case WaypointState::kNone:
      return;
    case WaypointState::kBound:
      break;
    case WaypointState::kMissing:
      if (own) {
        report.Warning(r, code::kReference, at,
                       "waypoint Gateway " + target +
                           " does not exist; traffic bound to it is refused until it does (the "
                           "node proxy fails closed)");
      }
      break;
    case WaypointState::kNotWaypoint:
      if (own) {
        report.Warning(r, code::kReference, at,
                       "Gateway " + target + " has class \"" +
                           wp.gateway->as<GatewaySpec>().gateway_class +
                           "\", not a waypoint class (weft-waypoint, istio-waypoint); traffic "
                           "bound to it is refused (the node proxy fails closed)");
      }
      break;
    case WaypointState::kDenied: {
      if (own) {
        const auto& gw = wp.gateway->as<GatewaySpec>();
        std::string from = gw.listeners[gw.mesh_listener].routes_from;
        std::string ns_name = r.kind == Kind::kNamespace ? r.meta.name : r.meta.ns;
        report.Warning(r, code::kReference, at,
                       "waypoint " + target + " does not accept bindings from namespace " +
                           ns_name + " (its HBONE listener's allowedRoutes.namespaces.from is " +
                           from + (from == "Selector" ? ", which does not select it" : "") +
                           "); no waypoint is used, traffic goes direct");
      }
      return;  // not bound: the fields stay empty
    }
  }
  *name = b.name;
  *ns = b.ns;
}

const Resource* WaypointOfPod(const ResourceIndex& index, const Resource& pod) {
  static const std::string label(kGatewayNameLabel);
  auto it = pod.meta.labels.find(label);
  if (it == pod.meta.labels.end()) return nullptr;
  const Resource* gw = index.Get(Kind::kGateway, pod.meta.ns + "/" + it->second);
  return gw && gw->as<GatewaySpec>().waypoint ? gw : nullptr;
}

std::vector<pb::Waypoint> CompileWaypoints(const ResourceIndex& index, PassReport& report) {
  std::vector<pb::Waypoint> out;
  const CompileOptions& opt = index.options();
  for (const auto& [key, r] : index.All(Kind::kGateway)) {
    const auto& spec = r.as<GatewaySpec>();
    if (!spec.waypoint) continue;
    pb::Waypoint w;
    w.set_name(r.meta.name);
    w.set_namespace_(r.meta.ns);
    w.set_identity(SpiffeId(opt.trust_domain, r.meta.ns, r.meta.name));
    w.set_service_account(r.meta.name);
    w.set_node(spec.node);
    w.set_port(spec.listeners[spec.mesh_listener].port);
    w.set_gateway_class(spec.gateway_class);
    *w.mutable_source() = SourceOf(r);
    Labels selector{{std::string(kGatewayNameLabel), r.meta.name}};
    for (const Resource* pod : index.PodsMatching(r.meta.ns, selector)) {
      const auto& ps = pod->as<PodSpec>();
      if (!PodIsServing(ps)) continue;
      for (const auto& ip : ps.ips) {
        pb::WaypointEndpoint* ep = w.add_endpoints();
        ep->set_address(ip);
        ep->set_workload_uid(KeyOf(*pod));
        ep->set_node(ps.node);
        ep->set_ready(ps.phase.empty() || ps.phase == "Running");
      }
    }
    std::sort(w.mutable_endpoints()->begin(), w.mutable_endpoints()->end(),
              [](const pb::WaypointEndpoint& a, const pb::WaypointEndpoint& b) {
                return std::tie(a.address(), a.workload_uid()) <
                       std::tie(b.address(), b.workload_uid());
              });
    if (!spec.node.empty() && !index.All(Kind::kNode).empty() &&
        !index.Get(Kind::kNode, spec.node)) {
      report.Warning(r, code::kReference, {{}, "metadata.annotations.weft.dev/node"},
                     "node \"" + spec.node + "\" does not exist (no Node of that name)");
    }
    out.push_back(std::move(w));
  }
  std::sort(out.begin(), out.end(), [](const pb::Waypoint& a, const pb::Waypoint& b) {
    return std::tie(a.namespace_(), a.name()) < std::tie(b.namespace_(), b.name());
  });
  return out;
}

}  // namespace weft::policy
