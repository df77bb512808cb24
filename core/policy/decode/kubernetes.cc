// Decoders for the Kubernetes kinds weft reads: Namespace, Service, EndpointSlice, Pod,
// ServiceAccount, Node. Only the fields weft uses are modelled; the other fields of these
// (large) APIs are known and ignored, so an unknown field is still a typo worth reporting.

#include "core/policy/decode/decode.h"
#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

void IgnoreAll(ObjectReader& r, std::initializer_list<std::string_view> keys) {
  for (auto k : keys) r.Ignore(k);
}

// Validates an IP address field value; returns it when valid.
std::optional<std::string> IpAt(DiagnosticSink& sink, yaml::Node n, const std::string& path) {
  auto s = ScalarString(sink, n, path);
  if (!s) return std::nullopt;
  if (!IsIpAddress(*s)) {
    sink.Error(code::kValue, n.mark(), path, "invalid IP address " + n.Describe());
    return std::nullopt;
  }
  return s;
}

}  // namespace

void DecodeNamespace(ObjectReader& root, NamespaceSpec&) {
  root.Ignore("spec");
  root.Ignore("status");
}

void DecodeServiceAccount(ObjectReader& root, ServiceAccountSpec&) {
  IgnoreAll(root, {"secrets", "imagePullSecrets", "automountServiceAccountToken"});
}

void DecodeNode(ObjectReader& root, NodeSpec& out) {
  root.Object("spec", [&](ObjectReader& spec) {
    if (auto v = spec.String("podCIDR")) {
      if (!NormalizeCidr(*v)) {
        spec.Error(code::kValue, "podCIDR", "invalid CIDR \"" + *v + "\"");
      } else {
        out.pod_cidr = *v;
      }
    }
    IgnoreAll(spec,
              {"podCIDRs", "providerID", "taints", "unschedulable", "configSource", "externalID"});
  });
  root.Object("status", [&](ObjectReader& status) {
    status.ObjectList("addresses", [&](ObjectReader& a, size_t) {
      auto type = a.String("type");
      auto address = a.String("address");
      if (type && address && *type == "InternalIP") out.addresses.push_back(*address);
    });
    status.IgnoreAllOthers();
  });
}

void DecodeService(ObjectReader& root, ServiceSpec& out) {
  if (!root.Require("spec")) return;
  root.Object("spec", [&](ObjectReader& spec) {
    if (auto t = spec.Enum("type", {"ClusterIP", "NodePort", "LoadBalancer", "ExternalName"})) {
      out.type = *t;
    }
    auto add_ip = [&](const std::string& ip, yaml::Mark m, const std::string& path) {
      if (ip == "None") {
        out.headless = true;
        return;
      }
      if (ip.empty()) return;
      if (!IsIpAddress(ip)) {
        spec.sink().Error(code::kValue, m, path, "invalid clusterIP \"" + ip + "\"");
        return;
      }
      for (const auto& existing : out.cluster_ips) {
        if (existing == ip) return;
      }
      out.cluster_ips.push_back(ip);
    };
    yaml::Mark ip_mark = spec.MarkOf("clusterIP");
    if (auto ip = spec.String("clusterIP")) add_ip(*ip, ip_mark, spec.Child("clusterIP"));
    spec.List("clusterIPs", [&](yaml::Node n, const std::string& path, size_t) {
      if (auto s = ScalarString(spec.sink(), n, path)) add_ip(*s, n.mark(), path);
    });
    out.selector = spec.StringMap("selector");
    if (auto v = spec.String("externalName")) out.external_name = *v;
    spec.ObjectList("ports", [&](ObjectReader& p, size_t) {
      ServiceSpec::Port port;
      port.pos = {p.node().mark(), p.path()};
      if (auto v = p.String("name")) port.name = *v;
      if (p.Require("port")) {
        if (auto v = p.Port("port")) port.port = *v;
      }
      if (auto n = p.Raw("targetPort")) {
        auto as_int = n->IsScalar() && n->style() == yaml::ScalarStyle::kPlain
                          ? ParseInt(n->scalar())
                          : std::nullopt;
        if (as_int) {
          if (*as_int < 1 || *as_int > 65535) {
            p.Error(code::kValue, "targetPort",
                    std::to_string(*as_int) + " is out of range [1, 65535]");
          } else {
            port.target_port = static_cast<uint32_t>(*as_int);
          }
        } else if (auto s = ScalarString(p.sink(), *n, p.Child("targetPort"))) {
          if (!IsDnsLabel(*s) || s->size() > 15) {
            p.Error(code::kValue, "targetPort",
                    "invalid targetPort " + n->Describe() +
                        ": expected a port number or a container port name");
          } else {
            port.target_port_name = *s;
          }
        }
      } else {
        port.target_port = port.port;
      }
      if (auto v = p.Enum("protocol", {"TCP", "UDP", "SCTP"})) port.protocol = *v;
      if (auto v = p.String("appProtocol")) port.app_protocol = *v;
      p.Ignore("nodePort");
      for (const auto& other : out.ports) {
        if (other.port == port.port && other.protocol == port.protocol && port.port != 0) {
          p.Error(code::kConflict, "port",
                  "duplicate port " + std::to_string(port.port) + "/" + port.protocol);
        }
      }
      out.ports.push_back(std::move(port));
    });
    IgnoreAll(spec,
              {"sessionAffinity", "sessionAffinityConfig", "externalTrafficPolicy",
               "internalTrafficPolicy", "ipFamilies", "ipFamilyPolicy", "publishNotReadyAddresses",
               "loadBalancerIP", "loadBalancerSourceRanges", "loadBalancerClass", "externalIPs",
               "healthCheckNodePort", "allocateLoadBalancerNodePorts", "trafficDistribution"});
  });
}

void DecodeEndpointSlice(ObjectReader& root, const Meta& meta, EndpointSliceSpec& out) {
  auto it = meta.labels.find("kubernetes.io/service-name");
  if (it != meta.labels.end()) {
    out.service_name = it->second;
  } else {
    root.Error(code::kMissingField, "metadata",
               "label kubernetes.io/service-name is missing: the slice belongs to no Service");
  }
  if (auto v = root.Enum("addressType", {"IPv4", "IPv6", "FQDN"})) out.address_type = *v;
  root.ObjectList("ports", [&](ObjectReader& p, size_t) {
    EndpointSliceSpec::Port port;
    if (auto v = p.String("name")) port.name = *v;
    if (auto v = p.Port("port")) port.port = *v;
    if (auto v = p.Enum("protocol", {"TCP", "UDP", "SCTP"})) port.protocol = *v;
    p.Ignore("appProtocol");
    out.ports.push_back(std::move(port));
  });
  root.ObjectList("endpoints", [&](ObjectReader& e, size_t) {
    EndpointSliceSpec::Endpoint ep;
    ep.pos = {e.node().mark(), e.path()};
    e.Require("addresses");
    e.List("addresses", [&](yaml::Node n, const std::string& path, size_t) {
      if (out.address_type == "FQDN") {
        if (auto s = ScalarString(e.sink(), n, path)) ep.addresses.push_back(*s);
      } else if (auto ip = IpAt(e.sink(), n, path)) {
        ep.addresses.push_back(*ip);
      }
    });
    e.Object("conditions", [&](ObjectReader& c) {
      if (auto v = c.Bool("ready")) ep.ready = *v;
      c.Ignore("serving");
      c.Ignore("terminating");
    });
    if (auto v = e.String("nodeName")) ep.node = *v;
    if (auto v = e.String("zone")) ep.zone = *v;
    if (auto v = e.String("hostname")) ep.hostname = *v;
    e.Object("targetRef", [&](ObjectReader& t) {
      auto kind = t.String("kind");
      auto name = t.String("name");
      auto ns = t.String("namespace");
      if (kind && *kind == "Pod" && name) {
        ep.pod = *name;
        ep.pod_ns = ns.value_or("");
      }
      IgnoreAll(t, {"uid", "resourceVersion", "apiVersion", "fieldPath"});
    });
    IgnoreAll(e, {"deprecatedTopology", "hints"});
    out.endpoints.push_back(std::move(ep));
  });
}

void DecodePod(ObjectReader& root, PodSpec& out) {
  root.Object("spec", [&](ObjectReader& spec) {
    if (auto v = spec.String("nodeName")) out.node = *v;
    if (auto v = spec.String("serviceAccountName")) out.service_account = *v;
    if (auto v = spec.String("serviceAccount"); v && !spec.Has("serviceAccountName")) {
      out.service_account = *v;
    }
    if (auto v = spec.Bool("hostNetwork")) out.host_network = *v;
    spec.ObjectList("containers", [&](ObjectReader& c, size_t) {
      c.ObjectList("ports", [&](ObjectReader& p, size_t) {
        auto name = p.String("name");
        auto port = p.Port("containerPort");
        if (name && port) out.named_ports[*name] = *port;
        IgnoreAll(p, {"protocol", "hostPort", "hostIP"});
      });
      c.IgnoreAllOthers();
    });
    // The rest of PodSpec is for the kubelet, not the mesh.
    spec.IgnoreAllOthers();
  });
  root.Object("status", [&](ObjectReader& status) {
    auto add = [&](const std::string& ip) {
      for (const auto& e : out.ips) {
        if (e == ip) return;
      }
      out.ips.push_back(ip);
    };
    if (auto n = status.Raw("podIP")) {
      if (auto ip = IpAt(status.sink(), *n, status.Child("podIP"))) add(*ip);
    }
    status.ObjectList("podIPs", [&](ObjectReader& p, size_t) {
      if (auto n = p.Raw("ip")) {
        if (auto ip = IpAt(p.sink(), *n, p.Child("ip"))) add(*ip);
      }
    });
    if (auto v = status.String("phase")) out.phase = *v;
    status.IgnoreAllOthers();
  });
}

}  // namespace weft::policy
