#include "bench/mesh_generator.h"

#include <algorithm>
#include <array>
#include <string_view>
#include <vector>

namespace weft::bench {

namespace {

// SplitMix64: a tiny, fully specified PRNG, so the text does not depend on the standard
// library's distributions. Each object draws from its own stream (seed, kind, index), so any
// object can be regenerated alone.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class Rng {
 public:
  Rng(uint64_t seed, uint64_t kind, uint64_t index) : state_(Mix(Mix(seed ^ kind) ^ index)) {}
  uint64_t Next() { return Mix(state_++); }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

enum Stream : uint64_t { kPodStream = 1, kServiceStream, kPolicyStream, kRouteStream };

constexpr std::array<std::string_view, 24> kWords = {
    "catalog", "checkout", "payments", "cart",    "inventory", "shipping",  "search",  "reviews",
    "ratings", "profile",  "auth",     "billing", "orders",    "frontend",  "gateway", "recommend",
    "pricing", "notify",   "ledger",   "media",   "sessions",  "analytics", "geo",     "quotes"};
constexpr std::array<std::string_view, 2> kRegions = {"us-east-1", "eu-west-1"};
constexpr std::string_view kAlnum = "bcdfghjklmnpqrstvwxz2456789";

std::string Pad(int v, int width) {
  std::string s = std::to_string(v);
  if (static_cast<int>(s.size()) < width) s.insert(0, width - s.size(), '0');
  return s;
}

std::string RandomSuffix(Rng& rng, int n) {
  std::string s;
  for (int i = 0; i < n; ++i) s += kAlnum[rng.Below(static_cast<int>(kAlnum.size()))];
  return s;
}

std::string NamespaceName(int ns) {
  return "team-" + Pad(ns, 3);
}
std::string NodeName(int node) {
  return "node-" + Pad(node, 3);
}

// Appends "key: value\n" at `indent` spaces.
void Line(std::string& out, int indent, std::string_view key, std::string_view value) {
  out.append(indent, ' ');
  out += key;
  out += ": ";
  out += value;
  out += '\n';
}
void Key(std::string& out, int indent, std::string_view key) {
  out.append(indent, ' ');
  out += key;
  out += ":\n";
}
void Item(std::string& out, int indent, std::string_view value) {
  out.append(indent, ' ');
  out += "- ";
  out += value;
  out += '\n';
}

}  // namespace

struct MeshGenerator::ServiceInfo {
  int index = 0;
  int ns = 0;
  std::string name;
  std::string ns_name;
  bool grpc = false;          // a second port
  std::string template_hash;  // the Deployment's pod-template-hash
  std::string slice_suffix;
};

MeshSpec MeshSpec::Scaled(double f) const {
  MeshSpec s = *this;
  auto scale = [f](int v) { return std::max(1, static_cast<int>(v * f)); };
  s.namespaces = scale(namespaces);
  s.services = scale(services);
  s.nodes = scale(nodes);
  s.virtual_services = scale(virtual_services);
  s.destination_rules = scale(destination_rules);
  s.authorization_policies = scale(authorization_policies);
  return s;
}

MeshGenerator::MeshGenerator(MeshSpec spec) : spec_(spec) {
  spec_.namespaces = std::max(1, spec_.namespaces);
  spec_.nodes = std::max(1, spec_.nodes);
  spec_.services = std::max(spec_.services, spec_.namespaces);
  spec_.virtual_services = std::min(spec_.virtual_services, spec_.services);
  spec_.destination_rules = std::min(spec_.destination_rules, spec_.services);
  host_numbers_ = AssignPodAddresses(spec_);
}

MeshGenerator::ServiceInfo MeshGenerator::Service(int i) const {
  Rng rng(spec_.seed, kServiceStream, i);
  ServiceInfo s;
  s.index = i;
  s.ns = i % spec_.namespaces;
  s.ns_name = NamespaceName(s.ns);
  s.name = std::string(kWords[rng.Below(kWords.size())]) + "-" + Pad(i / spec_.namespaces, 3);
  s.grpc = rng.Below(10) < 3;
  s.template_hash = RandomSuffix(rng, 10);
  s.slice_suffix = RandomSuffix(rng, 5);
  return s;
}

void MeshGenerator::AppendNamespace(std::string& out, int ns) const {
  out += "---\napiVersion: v1\nkind: Namespace\nmetadata:\n";
  Line(out, 2, "name", NamespaceName(ns));
  Key(out, 2, "labels");
  Line(out, 4, "kubernetes.io/metadata.name", NamespaceName(ns));
  Line(out, 4, "weft.dev/dataplane-mode", "ambient");
}

void MeshGenerator::AppendNode(std::string& out, int node) const {
  std::string_view region = kRegions[node % kRegions.size()];
  std::string zone = std::string(region) + static_cast<char>('a' + (node / 2) % 3);
  out += "---\napiVersion: v1\nkind: Node\nmetadata:\n";
  Line(out, 2, "name", NodeName(node));
  Key(out, 2, "labels");
  Line(out, 4, "kubernetes.io/hostname", NodeName(node));
  Line(out, 4, "kubernetes.io/os", "linux");
  Line(out, 4, "node.kubernetes.io/instance-type", "m6i.2xlarge");
  Line(out, 4, "topology.kubernetes.io/region", region);
  Line(out, 4, "topology.kubernetes.io/zone", zone);
  out += "spec:\n";
  Line(out, 2, "podCIDR", "10." + std::to_string(128 + node % 128) + ".0.0/16");
  out += "status:\n";
  Key(out, 2, "addresses");
  Item(out, 2, "type: InternalIP");
  Line(out, 4, "address",
       "192.168." + std::to_string(node / 200) + "." + std::to_string(10 + node % 200));
  Item(out, 2, "type: Hostname");
  Line(out, 4, "address", NodeName(node));
}

void MeshGenerator::AppendService(std::string& out, const ServiceInfo& s) const {
  out += "---\napiVersion: v1\nkind: Service\nmetadata:\n";
  Line(out, 2, "name", s.name);
  Line(out, 2, "namespace", s.ns_name);
  Key(out, 2, "labels");
  Line(out, 4, "app", s.name);
  out += "spec:\n";
  Line(out, 2, "type", "ClusterIP");
  int ip = s.index + 1;
  std::string cluster_ip =
      "10.96." + std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
  Line(out, 2, "clusterIP", cluster_ip);
  Key(out, 2, "clusterIPs");
  Item(out, 2, cluster_ip);
  Key(out, 2, "selector");
  Line(out, 4, "app", s.name);
  Key(out, 2, "ports");
  Item(out, 2, "name: http");
  Line(out, 4, "port", "80");
  Line(out, 4, "targetPort", "8080");
  Line(out, 4, "protocol", "TCP");
  if (s.grpc) {
    Item(out, 2, "name: grpc");
    Line(out, 4, "port", "9090");
    Line(out, 4, "targetPort", "grpc");
    Line(out, 4, "protocol", "TCP");
    Line(out, 4, "appProtocol", "grpc");
  }
  Line(out, 2, "sessionAffinity", "None");
  Line(out, 2, "internalTrafficPolicy", "Cluster");
}

void MeshGenerator::AppendServiceAccount(std::string& out, const ServiceInfo& s) const {
  out += "---\napiVersion: v1\nkind: ServiceAccount\nmetadata:\n";
  Line(out, 2, "name", s.name);
  Line(out, 2, "namespace", s.ns_name);
}

namespace {

struct PodPlacement {
  std::string name;
  std::string ip;
  int node;
};

int NodeOf(const MeshSpec& spec, int service, int replica) {
  Rng rng(spec.seed, kPodStream, static_cast<uint64_t>(service) * 1000 + replica);
  return rng.Below(spec.nodes);
}

}  // namespace

std::vector<uint32_t> MeshGenerator::AssignPodAddresses(const MeshSpec& spec) {
  // Each node hands out addresses from its podCIDR (10.<128+node>.0.0/16) in pod order.
  std::vector<uint32_t> next(spec.nodes, 0);
  std::vector<uint32_t> out;
  out.reserve(static_cast<size_t>(spec.services) * spec.pods_per_service);
  for (int s = 0; s < spec.services; ++s) {
    for (int r = 0; r < spec.pods_per_service; ++r) out.push_back(++next[NodeOf(spec, s, r)]);
  }
  return out;
}

namespace {

PodPlacement Place(const MeshSpec& spec, const std::vector<uint32_t>& host_numbers,
                   const std::string& svc, const std::string& hash, int service, int replica) {
  Rng rng(spec.seed, kPodStream, static_cast<uint64_t>(service) * 1000 + replica);
  PodPlacement p;
  p.node = rng.Below(spec.nodes);
  p.name = svc + "-" + hash + "-" + RandomSuffix(rng, 5);
  uint32_t h = host_numbers[static_cast<size_t>(service) * spec.pods_per_service + replica];
  p.ip = "10." + std::to_string(128 + p.node % 128) + "." + std::to_string((h >> 8) & 255) + "." +
         std::to_string(h & 255);
  return p;
}

}  // namespace

void MeshGenerator::AppendPod(std::string& out, const ServiceInfo& s, int replica) const {
  PodPlacement p = Place(spec_, host_numbers_, s.name, s.template_hash, s.index, replica);
  bool v2 = replica >= spec_.pods_per_service - std::max(1, spec_.pods_per_service / 5);
  out += "---\napiVersion: v1\nkind: Pod\nmetadata:\n";
  Line(out, 2, "name", p.name);
  Line(out, 2, "namespace", s.ns_name);
  Key(out, 2, "labels");
  Line(out, 4, "app", s.name);
  Line(out, 4, "version", v2 ? "v2" : "v1");
  Line(out, 4, "pod-template-hash", s.template_hash);
  out += "spec:\n";
  Line(out, 2, "nodeName", NodeName(p.node));
  Line(out, 2, "serviceAccountName", s.name);
  Key(out, 2, "containers");
  Item(out, 2, "name: app");
  Line(out, 4, "image", "registry.example.com/" + s.name + (v2 ? ":2.1.0" : ":1.9.3"));
  Key(out, 4, "ports");
  Item(out, 4, "name: http");
  Line(out, 6, "containerPort", "8080");
  Line(out, 6, "protocol", "TCP");
  if (s.grpc) {
    Item(out, 4, "name: grpc");
    Line(out, 6, "containerPort", "9090");
    Line(out, 6, "protocol", "TCP");
  }
  out += "status:\n";
  Line(out, 2, "phase", "Running");
  Line(out, 2, "podIP", p.ip);
  Key(out, 2, "podIPs");
  Item(out, 2, "ip: " + p.ip);
}

void MeshGenerator::AppendEndpointSlice(std::string& out, const ServiceInfo& s, int variant) const {
  out += "---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n";
  Line(out, 2, "name", s.name + "-" + s.slice_suffix);
  Line(out, 2, "namespace", s.ns_name);
  Key(out, 2, "labels");
  Line(out, 4, "endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io");
  Line(out, 4, "kubernetes.io/service-name", s.name);
  Line(out, 0, "addressType", "IPv4");
  Key(out, 0, "ports");
  Item(out, 0, "name: http");
  Line(out, 2, "port", "8080");
  Line(out, 2, "protocol", "TCP");
  if (s.grpc) {
    Item(out, 0, "name: grpc");
    Line(out, 2, "port", "9090");
    Line(out, 2, "protocol", "TCP");
  }
  Key(out, 0, "endpoints");
  int not_ready = variant == 0 ? -1 : variant % spec_.pods_per_service;
  for (int r = 0; r < spec_.pods_per_service; ++r) {
    PodPlacement p = Place(spec_, host_numbers_, s.name, s.template_hash, s.index, r);
    int node = p.node;
    std::string zone =
        std::string(kRegions[node % kRegions.size()]) + static_cast<char>('a' + (node / 2) % 3);
    Key(out, 0, "- addresses");
    Item(out, 2, p.ip);
    Key(out, 2, "conditions");
    Line(out, 4, "ready", r == not_ready ? "false" : "true");
    Line(out, 4, "serving", r == not_ready ? "false" : "true");
    Line(out, 4, "terminating", "false");
    Line(out, 2, "nodeName", NodeName(node));
    Line(out, 2, "zone", zone);
    Key(out, 2, "targetRef");
    Line(out, 4, "kind", "Pod");
    Line(out, 4, "name", p.name);
    Line(out, 4, "namespace", s.ns_name);
  }
}

void MeshGenerator::AppendVirtualService(std::string& out, const ServiceInfo& s) const {
  Rng rng(spec_.seed, kRouteStream, s.index);
  int canary = 5 + 5 * rng.Below(6);  // 5..30 %
  out += "---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n";
  Line(out, 2, "name", s.name);
  Line(out, 2, "namespace", s.ns_name);
  out += "spec:\n";
  Key(out, 2, "hosts");
  Item(out, 2, s.name);
  Key(out, 2, "http");
  Item(out, 2, "name: canary-users");
  Key(out, 4, "match");
  Key(out, 4, "- headers");
  Key(out, 8, "x-canary");
  Line(out, 10, "exact", "\"true\"");
  Key(out, 4, "- uri");
  Line(out, 8, "prefix", "/api/v2/");
  Key(out, 4, "route");
  Key(out, 4, "- destination");
  Line(out, 8, "host", s.name);
  Line(out, 8, "subset", "v2");
  Key(out, 8, "port");
  Line(out, 10, "number", "80");
  Line(out, 4, "timeout", "5s");
  Item(out, 2, "name: default");
  Key(out, 4, "route");
  Key(out, 4, "- destination");
  Line(out, 8, "host", s.name);
  Line(out, 8, "subset", "v1");
  Key(out, 8, "port");
  Line(out, 10, "number", "80");
  Line(out, 6, "weight", std::to_string(100 - canary));
  Key(out, 4, "- destination");
  Line(out, 8, "host", s.name);
  Line(out, 8, "subset", "v2");
  Key(out, 8, "port");
  Line(out, 10, "number", "80");
  Line(out, 6, "weight", std::to_string(canary));
  Key(out, 4, "retries");
  Line(out, 6, "attempts", "3");
  Line(out, 6, "perTryTimeout", "2s");
  Line(out, 6, "retryOn", "5xx,reset,connect-failure");
  Line(out, 4, "timeout", "10s");
}

void MeshGenerator::AppendDestinationRule(std::string& out, const ServiceInfo& s) const {
  Rng rng(spec_.seed, kRouteStream, s.index);
  rng.Next();
  out += "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n";
  Line(out, 2, "name", s.name);
  Line(out, 2, "namespace", s.ns_name);
  out += "spec:\n";
  Line(out, 2, "host", s.name + "." + s.ns_name + ".svc.cluster.local");
  Key(out, 2, "trafficPolicy");
  Key(out, 4, "loadBalancer");
  Line(out, 6, "simple", rng.Below(2) ? "LEAST_REQUEST" : "ROUND_ROBIN");
  Key(out, 4, "connectionPool");
  Key(out, 6, "tcp");
  Line(out, 8, "maxConnections", std::to_string(100 * (1 + rng.Below(10))));
  Line(out, 8, "connectTimeout", "3s");
  Key(out, 6, "http");
  Line(out, 8, "http1MaxPendingRequests", "1024");
  Line(out, 8, "http2MaxRequests", "1024");
  Line(out, 8, "maxRequestsPerConnection", "100");
  Line(out, 8, "idleTimeout", "60s");
  Key(out, 4, "outlierDetection");
  Line(out, 6, "consecutive5xxErrors", "5");
  Line(out, 6, "interval", "10s");
  Line(out, 6, "baseEjectionTime", "30s");
  Line(out, 6, "maxEjectionPercent", "50");
  Key(out, 2, "subsets");
  Item(out, 2, "name: v1");
  Key(out, 4, "labels");
  Line(out, 6, "version", "v1");
  Item(out, 2, "name: v2");
  Key(out, 4, "labels");
  Line(out, 6, "version", "v2");
  Key(out, 4, "trafficPolicy");
  Key(out, 6, "loadBalancer");
  Line(out, 8, "simple", "ROUND_ROBIN");
}

void MeshGenerator::AppendAuthorizationPolicy(std::string& out, int i) const {
  Rng rng(spec_.seed, kPolicyStream, i);
  // Policy i protects a Service in namespace i % namespaces and admits callers from two
  // other Services' identities.
  int per_ns = std::max(1, spec_.services / spec_.namespaces);
  int target = (i % spec_.namespaces) + spec_.namespaces * rng.Below(per_ns);
  ServiceInfo t = Service(std::min(target, spec_.services - 1));
  ServiceInfo a = Service(rng.Below(spec_.services));
  ServiceInfo b = Service(rng.Below(spec_.services));
  bool deny = i % 10 == 9;
  out += "---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n";
  Line(out, 2, "name", t.name + (deny ? "-deny-" : "-allow-") + Pad(i, 4));
  Line(out, 2, "namespace", t.ns_name);
  out += "spec:\n";
  Key(out, 2, "selector");
  Key(out, 4, "matchLabels");
  Line(out, 6, "app", t.name);
  Line(out, 2, "action", deny ? "DENY" : "ALLOW");
  Key(out, 2, "rules");
  Key(out, 2, "- from");
  Key(out, 4, "- source");
  Key(out, 8, "principals");
  Item(out, 8, "cluster.local/ns/" + a.ns_name + "/sa/" + a.name);
  Item(out, 8, "cluster.local/ns/" + b.ns_name + "/sa/" + b.name);
  Key(out, 4, "- source");
  Key(out, 8, "namespaces");
  Item(out, 8, t.ns_name);
  Key(out, 4, "to");
  Key(out, 4, "- operation");
  Key(out, 8, "ports");
  Item(out, 8, "\"8080\"");
  if (t.grpc) Item(out, 8, "\"9090\"");
  if (deny) {
    Key(out, 2, "- from");
    Key(out, 4, "- source");
    Key(out, 8, "ipBlocks");
    Item(out, 8, "203.0.113.0/24");
  }
}

std::string MeshGenerator::Generate(MeshCounts* counts) const {
  MeshCounts c;
  std::string out;
  out.reserve(static_cast<size_t>(spec_.services) * spec_.pods_per_service * 900 + (1 << 20));
  out += "# Generated by weft bench/mesh_generator.cc; do not edit.\n";
  // Root namespace with a mesh-wide STRICT PeerAuthentication, as most meshes have.
  out += "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n";
  ++c.namespaces;
  for (int ns = 0; ns < spec_.namespaces; ++ns, ++c.namespaces) AppendNamespace(out, ns);
  out +=
      "---\napiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n"
      "  name: default\n  namespace: istio-system\nspec:\n  mtls:\n    mode: STRICT\n";
  ++c.peer_authentications;
  for (int n = 0; n < spec_.nodes; ++n, ++c.nodes) AppendNode(out, n);
  int route_every = spec_.virtual_services ? spec_.services / spec_.virtual_services : 0;
  int rule_every = spec_.destination_rules ? spec_.services / spec_.destination_rules : 0;
  for (int i = 0; i < spec_.services; ++i) {
    ServiceInfo s = Service(i);
    AppendService(out, s);
    ++c.services;
    AppendServiceAccount(out, s);
    ++c.service_accounts;
    for (int r = 0; r < spec_.pods_per_service; ++r, ++c.pods) AppendPod(out, s, r);
    AppendEndpointSlice(out, s, 0);
    ++c.endpoint_slices;
    c.endpoints += spec_.pods_per_service;
    if (route_every && i % route_every == 0 && c.virtual_services < spec_.virtual_services) {
      AppendVirtualService(out, s);
      ++c.virtual_services;
    }
    if (rule_every && i % rule_every == 0 && c.destination_rules < spec_.destination_rules) {
      AppendDestinationRule(out, s);
      ++c.destination_rules;
    }
  }
  for (int i = 0; i < spec_.authorization_policies; ++i, ++c.authorization_policies) {
    AppendAuthorizationPolicy(out, i);
  }
  if (counts) *counts = c;
  return out;
}

std::string MeshGenerator::EndpointSlice(int service, int variant) const {
  std::string out;
  AppendEndpointSlice(out, Service(service), variant);
  return out;
}

}  // namespace weft::bench
