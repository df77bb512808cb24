// Services pass: Kubernetes Services and ServiceEntry hosts -> pb::Service with endpoints
// (from EndpointSlices, or from the Service's selector over Pods as the endpoint controller
// would, which is what local mode needs) and DestinationRule subsets.

#include <algorithm>

#include "core/policy/compile/passes.h"
#include "core/policy/decode/values.h"

namespace weft::policy {

std::string AppProtocol(const std::string& app_protocol, const std::string& name) {
  static const std::vector<std::string_view> known = {
      "http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "mongo", "mysql", "redis", "udp"};
  std::string p = app_protocol;
  if (p.empty()) {
    std::string prefix = name.substr(0, name.find('-'));
    for (auto k : known) {
      if (prefix == k) p = prefix;
    }
  }
  if (p == "kubernetes.io/h2c") p = "http2";
  return p;
}

std::string RetryBudgetField() {
  return "metadata.annotations." + std::string(kRetryBudgetAnnotation);
}

namespace {

// weft's retry budget (docs/policies.md, "weft.dev/retry-budget"): the annotation on the
// resource providing the host, else the root namespace's Namespace annotation (the mesh-wide
// default, whose errors the namespaces pass reports); "off" on the resource opts out. A
// malformed annotation is an error that drops only the annotation.
void ApplyRetryBudget(const ResourceIndex& index, const Resource& r, pb::Service* out,
                      PassReport& report) {
  const std::string key(kRetryBudgetAnnotation);
  const Resource* from = nullptr;
  std::optional<RetryBudgetValue> value;
  if (auto it = r.meta.annotations.find(key); it != r.meta.annotations.end()) {
    std::string why;
    value = ParseRetryBudget(it->second, &why);
    if (value) {
      from = &r;
    } else {
      report.ErrorKept(
          r, code::kValue, {{}, RetryBudgetField()},
          "invalid retry budget \"" + it->second + "\": " + why + "; the annotation is ignored");
    }
  }
  if (!from) {
    const Resource* root = index.Get(Kind::kNamespace, index.options().root_namespace);
    if (!root) return;
    auto it = root->meta.annotations.find(key);
    if (it == root->meta.annotations.end()) return;
    value = ParseRetryBudget(it->second, nullptr);
    from = root;
  }
  if (!value || value->off) return;
  pb::RetryBudget* b = out->mutable_retry_budget();
  b->set_ratio(value->ratio);
  b->set_min_retries_per_second(value->min_per_second);
  b->set_ttl_ms(value->ttl_ms);
  *b->mutable_source() = SourceOf(*from, RetryBudgetField());
}

pb::Locality LocalityOf(const ResourceIndex& index, const std::string& node_name,
                        const std::string& zone) {
  pb::Locality l;
  if (const Resource* node = node_name.empty() ? nullptr : index.Get(Kind::kNode, node_name)) {
    const auto& labels = node->meta.labels;
    if (auto it = labels.find("topology.kubernetes.io/region"); it != labels.end()) {
      l.set_region(it->second);
    }
    if (auto it = labels.find("topology.kubernetes.io/zone"); it != labels.end()) {
      l.set_zone(it->second);
    }
    if (auto it = labels.find("topology.istio.io/subzone"); it != labels.end()) {
      l.set_subzone(it->second);
    }
  }
  if (!zone.empty()) l.set_zone(zone);
  return l;
}

void FillFromPod(const ResourceIndex& index, const Resource& pod, pb::Endpoint* ep) {
  const auto& spec = pod.as<PodSpec>();
  ep->set_workload_uid(KeyOf(pod));
  ep->mutable_labels()->insert(pod.meta.labels.begin(), pod.meta.labels.end());
  ep->set_node(spec.node);
  ep->set_identity(SpiffeId(index.options().trust_domain, pod.meta.ns, spec.service_account));
  *ep->mutable_locality() = LocalityOf(index, spec.node, "");
}

bool PodIsServing(const PodSpec& pod) {
  return pod.phase.empty() || pod.phase == "Running" || pod.phase == "Pending";
}

void CompileKubernetesService(const ResourceIndex& index, const Resource& svc, pb::Service* out,
                              PassReport& report) {
  const auto& spec = svc.as<ServiceSpec>();
  out->set_name(svc.meta.name);
  out->set_namespace_(svc.meta.ns);
  out->set_kind(pb::SERVICE_KIND_KUBERNETES);
  out->set_location(pb::LOCATION_MESH_INTERNAL);
  out->set_resolution(spec.headless ? pb::RESOLUTION_NONE : pb::RESOLUTION_STATIC);
  for (const auto& ip : spec.cluster_ips) out->add_vips(ip);
  if (spec.selector) out->mutable_selector()->insert(spec.selector->begin(), spec.selector->end());
  *out->mutable_source() = SourceOf(svc);
  std::string waypoint, waypoint_ns;
  ApplyWaypoint(svc, ServiceWaypoint(index, svc), &waypoint, &waypoint_ns, report);
  out->set_waypoint(std::move(waypoint));
  out->set_waypoint_namespace(std::move(waypoint_ns));
  if (spec.type == "ExternalName") {
    report.Warning(svc, code::kUnsupported, {{}, "spec.type"},
                   "ExternalName Services are not captured by the mesh");
  }
  std::vector<ServiceSpec::Port> ports = spec.ports;
  std::sort(ports.begin(), ports.end(),
            [](const auto& a, const auto& b) { return a.port < b.port; });
  for (const auto& p : ports) {
    pb::ServicePort* sp = out->add_ports();
    sp->set_name(p.name);
    sp->set_port(p.port);
    sp->set_target_port(p.target_port);
    sp->set_target_port_name(p.target_port_name);
    sp->set_protocol(p.protocol);
    sp->set_app_protocol(AppProtocol(p.app_protocol, p.name));
  }

  std::string key = KeyOf(svc);
  auto slices = index.SlicesOf(key);
  if (!slices.empty()) {
    // EndpointSlice ports are named after the Service's ports.
    for (const Resource* slice : slices) {
      const auto& s = slice->as<EndpointSliceSpec>();
      for (const auto& e : s.endpoints) {
        for (const auto& addr : e.addresses) {
          pb::Endpoint* ep = out->add_endpoints();
          ep->set_address(addr);
          ep->set_ready(e.ready);
          ep->set_node(e.node);
          *ep->mutable_source() = SourceOf(*slice, e.pos.field);
          for (const auto& sp : spec.ports) {
            for (const auto& slp : s.ports) {
              if (slp.name == sp.name) (*ep->mutable_ports())[sp.port] = slp.port;
            }
          }
          if (!e.pod.empty()) {
            std::string pod_key = (e.pod_ns.empty() ? slice->meta.ns : e.pod_ns) + "/" + e.pod;
            if (const Resource* pod = index.Get(Kind::kPod, pod_key)) {
              FillFromPod(index, *pod, ep);
            } else {
              ep->set_workload_uid(pod_key);
            }
          }
          // The slice's node and zone when it names them, else the Pod's node.
          *ep->mutable_locality() = LocalityOf(index, e.node.empty() ? ep->node() : e.node, e.zone);
          if (ep->node().empty()) ep->set_node(e.node);
        }
      }
    }
  } else if (spec.selector && !spec.selector->empty()) {
    for (const Resource* pod : index.PodsMatching(svc.meta.ns, *spec.selector)) {
      const auto& ps = pod->as<PodSpec>();
      if (ps.ips.empty() || !PodIsServing(ps)) continue;
      for (const auto& ip : ps.ips) {
        pb::Endpoint* ep = out->add_endpoints();
        ep->set_address(ip);
        ep->set_ready(ps.phase.empty() || ps.phase == "Running");
        *ep->mutable_source() = SourceOf(*pod);
        FillFromPod(index, *pod, ep);
        for (const auto& sp : spec.ports) {
          if (sp.target_port_name.empty()) {
            (*ep->mutable_ports())[sp.port] = sp.target_port;
          } else if (auto it = ps.named_ports.find(sp.target_port_name);
                     it != ps.named_ports.end()) {
            (*ep->mutable_ports())[sp.port] = it->second;
          }
        }
      }
    }
  }
}

void CompileEntryHost(const ResourceIndex& index, const Resource& se, const std::string& host,
                      pb::Service* out) {
  const auto& spec = se.as<ServiceEntrySpec>();
  out->set_hostname(host);
  out->set_name(se.meta.name);
  out->set_namespace_(se.meta.ns);
  out->set_kind(pb::SERVICE_KIND_SERVICE_ENTRY);
  out->set_location(spec.location == "MESH_INTERNAL" ? pb::LOCATION_MESH_INTERNAL
                                                     : pb::LOCATION_MESH_EXTERNAL);
  pb::Resolution res = pb::RESOLUTION_NONE;
  pb::Resolution_Parse("RESOLUTION_" + spec.resolution, &res);
  out->set_resolution(res);
  for (const auto& a : spec.addresses) out->add_vips(a);
  *out->mutable_source() = SourceOf(se);
  auto ports = spec.ports;
  std::sort(ports.begin(), ports.end(),
            [](const auto& a, const auto& b) { return a.number < b.number; });
  for (const auto& p : ports) {
    pb::ServicePort* sp = out->add_ports();
    sp->set_name(p.name);
    sp->set_port(p.number);
    sp->set_target_port(p.target_port ? p.target_port : p.number);
    sp->set_protocol(p.protocol == "UDP" ? "UDP" : "TCP");
    std::string proto = p.protocol;
    std::transform(proto.begin(), proto.end(), proto.begin(), ::tolower);
    sp->set_app_protocol(AppProtocol(proto, p.name));
  }
  auto fill_ports = [&](pb::Endpoint* ep, const std::map<std::string, uint32_t>& by_name) {
    for (const auto& p : spec.ports) {
      auto it = by_name.find(p.name);
      (*ep->mutable_ports())[p.number] =
          it != by_name.end() ? it->second : (p.target_port ? p.target_port : p.number);
    }
  };
  for (const auto& e : spec.endpoints) {
    pb::Endpoint* ep = out->add_endpoints();
    ep->set_address(e.address.empty() ? host : e.address);
    ep->set_ready(true);
    ep->set_weight(e.weight);
    ep->mutable_labels()->insert(e.labels.begin(), e.labels.end());
    if (!e.service_account.empty()) {
      ep->set_identity(SpiffeId(index.options().trust_domain, se.meta.ns, e.service_account));
    }
    if (!e.locality.empty()) {
      std::string loc = e.locality;
      auto* l = ep->mutable_locality();
      size_t a = loc.find('/');
      l->set_region(loc.substr(0, a));
      if (a != std::string::npos) {
        size_t b = loc.find('/', a + 1);
        l->set_zone(loc.substr(a + 1, b == std::string::npos ? b : b - a - 1));
        if (b != std::string::npos) l->set_subzone(loc.substr(b + 1));
      }
    }
    *ep->mutable_source() = SourceOf(se, e.pos.field);
    fill_ports(ep, e.ports);
  }
  if (spec.workload_selector) {
    for (const Resource* pod : index.PodsMatching(se.meta.ns, *spec.workload_selector)) {
      const auto& ps = pod->as<PodSpec>();
      for (const auto& ip : ps.ips) {
        pb::Endpoint* ep = out->add_endpoints();
        ep->set_address(ip);
        ep->set_ready(ps.phase.empty() || ps.phase == "Running");
        *ep->mutable_source() = SourceOf(*pod);
        FillFromPod(index, *pod, ep);
        fill_ports(ep, ps.named_ports);
      }
    }
  }
}

void AddSubsets(const DestinationRules& rules, const Resource* dr_res, pb::Service* out,
                PassReport& report) {
  if (!dr_res) return;
  const auto& dr = dr_res->as<DestinationRuleSpec>();
  for (const auto& s : dr.subsets) {
    pb::Subset* subset = out->add_subsets();
    subset->set_name(s.name);
    subset->mutable_labels()->insert(s.labels.begin(), s.labels.end());
    *subset->mutable_source() = SourceOf(*dr_res, s.pos.field);
    for (int i = 0; i < out->endpoints_size(); ++i) {
      if (LabelsMatch(s.labels, out->endpoints(i).labels())) {
        subset->add_endpoint_indexes(static_cast<uint32_t>(i));
      }
    }
    if (subset->endpoint_indexes_size() == 0 && out->endpoints_size() > 0) {
      report.Warning(*dr_res, code::kReference, s.pos,
                     "subset \"" + s.name + "\" selects none of the " +
                         std::to_string(out->endpoints_size()) + " endpoints of " +
                         out->hostname());
    }
  }
  (void)rules;
}

}  // namespace

std::map<uint32_t, std::string> HostPortProtocols(const ResourceIndex& index,
                                                  const std::string& hostname) {
  std::map<uint32_t, std::string> out;
  std::string key = index.ServiceKeyForHostname(hostname);
  if (const Resource* svc = key.empty() ? nullptr : index.Get(Kind::kService, key)) {
    for (const auto& p : svc->as<ServiceSpec>().ports) {
      std::string proto = AppProtocol(p.app_protocol, p.name);
      if (proto.empty() && p.protocol != "TCP") {
        proto = p.protocol;
        std::transform(proto.begin(), proto.end(), proto.begin(), ::tolower);
      }
      out[p.port] = proto;
    }
    return out;
  }
  auto entries = index.ServiceEntriesFor(hostname);
  if (entries.empty()) return out;
  std::sort(entries.begin(), entries.end(), [](const Resource* a, const Resource* b) {
    return std::tie(a->meta.creation_timestamp, a->meta.ns, a->meta.name) <
           std::tie(b->meta.creation_timestamp, b->meta.ns, b->meta.name);
  });
  for (const auto& p : entries.front()->as<ServiceEntrySpec>().ports) {
    std::string proto = p.protocol;
    std::transform(proto.begin(), proto.end(), proto.begin(), ::tolower);
    out[p.number] = AppProtocol(proto, p.name);
  }
  return out;
}

std::set<std::string> AllHostnames(const ResourceIndex& index) {
  std::set<std::string> out;
  for (const auto& [k, r] : index.All(Kind::kService)) {
    out.insert(index.ServiceHostname(r.meta.name, r.meta.ns));
  }
  for (const auto& [k, r] : index.All(Kind::kServiceEntry)) {
    for (const auto& h : r.as<ServiceEntrySpec>().hosts) out.insert(h.host);
  }
  return out;
}

bool CompileService(const ResourceIndex& index, const DestinationRules& rules,
                    const std::string& hostname, pb::Service* out, PassReport& report) {
  out->Clear();
  std::string key = index.ServiceKeyForHostname(hostname);
  const Resource* svc = key.empty() ? nullptr : index.Get(Kind::kService, key);
  auto entries = index.ServiceEntriesFor(hostname);
  std::sort(entries.begin(), entries.end(), [](const Resource* a, const Resource* b) {
    return std::tie(a->meta.creation_timestamp, a->meta.ns, a->meta.name) <
           std::tie(b->meta.creation_timestamp, b->meta.ns, b->meta.name);
  });
  if (!svc && entries.empty()) return false;
  out->set_hostname(hostname);
  if (svc) {
    CompileKubernetesService(index, *svc, out, report);
  } else {
    CompileEntryHost(index, *entries.front(), hostname, out);
  }
  ApplyRetryBudget(index, svc ? *svc : *entries.front(), out, report);
  // A second provider of the same hostname conflicts.
  for (size_t i = svc ? 0 : 1; i < entries.size(); ++i) {
    const auto& hosts = entries[i]->as<ServiceEntrySpec>().hosts;
    FieldPos at;
    for (const auto& h : hosts) {
      if (h.host == hostname) at = h.pos;
    }
    report.Warning(
        *entries[i], code::kConflict, at,
        "host \"" + hostname + "\" is already provided by " +
            (svc ? "Service " + KeyOf(*svc) : "ServiceEntry " + KeyOf(*entries.front())) +
            "; this entry does not provide it");
  }
  std::sort(out->mutable_endpoints()->begin(), out->mutable_endpoints()->end(),
            [](const pb::Endpoint& a, const pb::Endpoint& b) {
              return std::tie(a.address(), a.workload_uid()) <
                     std::tie(b.address(), b.workload_uid());
            });
  auto it = rules.by_host.find(hostname);
  AddSubsets(rules, it == rules.by_host.end() ? nullptr : it->second, out, report);
  return true;
}

}  // namespace weft::policy
