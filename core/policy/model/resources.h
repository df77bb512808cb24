#pragma once

// Typed, validated input resources: what the decoders (core/policy/decode) produce from YAML
// and the compiler (core/policy/compile) consumes. Values are checked for type and syntax
// here; references between resources (hosts, subsets, selectors) are resolved by the compiler.
// Pieces that appear unchanged in the snapshot are decoded straight into its protobuf types.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/policy/diagnostics.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::policy {

namespace pb = ::weft::config::v1;

using Labels = std::map<std::string, std::string>;

enum class Kind {
  kNamespace,
  kService,
  kEndpointSlice,
  kPod,
  kServiceAccount,
  kNode,
  kVirtualService,
  kDestinationRule,
  kServiceEntry,
  kPeerAuthentication,
  kAuthorizationPolicy,
  kHTTPRoute,
  kGateway,
};

// Number of Kind values (arrays indexed by kind).
inline constexpr size_t kKindCount = static_cast<size_t>(Kind::kGateway) + 1;

std::string_view KindName(Kind k);

// A reference to a field of the input, for diagnostics found while compiling.
struct FieldPos {
  yaml::Mark mark;
  std::string field;
};

// A host name as written, with where it was written.
struct HostRef {
  std::string host;
  FieldPos pos;
};

struct Meta {
  std::string name;
  std::string ns;
  Labels labels;
  Labels annotations;
  std::string creation_timestamp;  // RFC 3339; orders conflicting resources (oldest wins).
  std::string uid;                 // metadata.uid, as the API server assigned it; may be empty.
};

// ---- Kubernetes ----

struct NamespaceSpec {};
struct ServiceAccountSpec {};

struct NodeSpec {
  std::string pod_cidr;
  std::vector<std::string> addresses;  // status.addresses InternalIP
};

struct ServiceSpec {
  struct Port {
    std::string name;
    uint32_t port = 0;
    uint32_t target_port = 0;      // 0 with target_port_name set: by container port name.
    std::string target_port_name;  // a named targetPort.
    std::string protocol = "TCP";
    std::string app_protocol;
    FieldPos pos;
  };
  std::string type = "ClusterIP";
  std::vector<std::string> cluster_ips;  // clusterIP + clusterIPs, deduplicated.
  bool headless = false;                 // clusterIP: None
  std::optional<Labels> selector;
  std::vector<Port> ports;
  std::string external_name;
};

struct EndpointSliceSpec {
  struct Port {
    std::string name;
    uint32_t port = 0;
    std::string protocol = "TCP";
  };
  struct Endpoint {
    std::vector<std::string> addresses;
    bool ready = true;
    std::string node;
    std::string zone;
    std::string hostname;
    std::string pod;  // targetRef of kind Pod
    std::string pod_ns;
    FieldPos pos;
  };
  std::string service_name;  // label kubernetes.io/service-name
  std::string address_type = "IPv4";
  std::vector<Port> ports;
  std::vector<Endpoint> endpoints;
};

struct PodSpec {
  std::string node;
  std::string service_account = "default";
  std::vector<std::string> ips;  // status.podIP(s)
  std::string phase;             // status.phase; empty when not given.
  std::map<std::string, uint32_t> named_ports;
  bool host_network = false;
};

// ---- networking.istio.io ----

struct DestinationRef {
  HostRef host;
  std::string subset;
  FieldPos subset_pos;
};

struct VirtualServiceSpec {
  struct Http {
    pb::HttpRoute route;  // destinations' hostnames as written; resolved by the compiler.
    std::vector<DestinationRef> destinations;  // parallel to route.destinations
    std::vector<DestinationRef> mirrors;       // parallel to route.mirrors
    bool has_weights = false;
    bool delegate = false;  // a root route that delegates (not served: decode warned)
    FieldPos pos;
    FieldPos retries_pos;  // of `retries`, when written (mark line 0 otherwise).
  };
  struct Tcp {
    pb::TcpRoute route;
    std::vector<DestinationRef> destinations;
    FieldPos pos;
  };
  std::vector<HostRef> hosts;
  std::vector<std::string> gateways;  // empty = [mesh]
  FieldPos gateways_pos;
  std::vector<Http> http;
  std::vector<Tcp> tcp;
  std::vector<std::string> export_to;
};

struct TrafficPolicy {
  std::optional<pb::LoadBalancer> load_balancer;
  std::optional<pb::ConnectionPool> connection_pool;
  std::optional<pb::OutlierDetection> outlier_detection;
  std::optional<pb::ClientTls> tls;
  // Istio's retryBudget; a part of its own (subsets override it), not in portLevelSettings.
  std::optional<pb::EnvoyRetryBudget> retry_budget;
  struct PortPolicy {
    uint32_t port = 0;
    std::optional<pb::LoadBalancer> load_balancer;
    std::optional<pb::ConnectionPool> connection_pool;
    std::optional<pb::OutlierDetection> outlier_detection;
    std::optional<pb::ClientTls> tls;
  };
  std::vector<PortPolicy> port_level;
};

struct DestinationRuleSpec {
  struct Subset {
    std::string name;
    Labels labels;
    std::optional<TrafficPolicy> policy;
    FieldPos pos;
  };
  HostRef host;
  std::optional<TrafficPolicy> policy;
  std::vector<Subset> subsets;
  std::vector<std::string> export_to;
};

struct ServiceEntrySpec {
  struct Port {
    uint32_t number = 0;
    std::string protocol;
    std::string name;
    uint32_t target_port = 0;
  };
  struct Endpoint {
    std::string address;
    std::map<std::string, uint32_t> ports;  // port name -> endpoint port
    Labels labels;
    std::string locality;  // "region/zone/subzone"
    uint32_t weight = 0;
    std::string service_account;
    FieldPos pos;
  };
  std::vector<HostRef> hosts;
  std::vector<std::string> addresses;
  std::vector<Port> ports;
  std::string location = "MESH_EXTERNAL";
  std::string resolution = "NONE";
  std::vector<Endpoint> endpoints;
  std::optional<Labels> workload_selector;
  std::vector<std::string> export_to;
};

// ---- security.istio.io ----

struct PeerAuthenticationSpec {
  std::optional<Labels> selector;
  pb::MtlsMode mode = pb::MTLS_MODE_UNSPECIFIED;  // UNSET inherits.
  std::map<uint32_t, pb::MtlsMode> port_level;
};

struct AuthorizationPolicySpec {
  std::optional<Labels> selector;
  std::vector<pb::TargetRef> target_refs;
  pb::AuthorizationPolicy::Action action = pb::AuthorizationPolicy::ALLOW;
  // Rules as written, flattened: Istio's from[] x to[] cross product, `when` on each.
  std::vector<pb::AuthorizationRule> rules;
  size_t spec_rule_count = 0;
  std::vector<FieldPos> rule_pos;  // of each spec.rules[i]
  bool has_rules_field = false;
};

// ---- gateway.networking.k8s.io ----

struct HTTPRouteSpec {
  struct ParentRef {
    std::string group;
    std::string kind = "Gateway";
    std::string name;
    std::string ns;
    uint32_t port = 0;
    FieldPos pos;
  };
  struct BackendRef {
    std::string group;
    std::string kind = "Service";
    std::string name;
    std::string ns;
    uint32_t port = 0;
    uint32_t weight = 1;
    pb::HeaderOperations request_headers;
    pb::HeaderOperations response_headers;
    FieldPos pos;
  };
  struct Rule {
    pb::HttpRoute route;  // matches, filters (as rewrite/redirect/headers/mirrors), timeouts
    std::vector<BackendRef> backends;
    std::vector<BackendRef> mirrors;  // RequestMirror filters (parallel to route.mirrors)
    FieldPos pos;
    FieldPos retry_pos;  // of `retry`, when written (mark line 0 otherwise).
  };
  std::vector<ParentRef> parents;
  std::vector<std::string> hostnames;
  FieldPos hostnames_pos;  // of `hostnames`, when written
  std::vector<Rule> rules;
};

// A Kubernetes label selector with matchExpressions (Gateway API allowedRoutes).
struct LabelSelector {
  struct Requirement {
    std::string key;
    std::string op;  // In, NotIn, Exists, DoesNotExist
    std::vector<std::string> values;
  };
  Labels match_labels;
  std::vector<Requirement> match_expressions;
  bool Matches(const Labels& labels) const;
};

struct GatewaySpec {
  struct Listener {
    std::string name;
    std::string hostname;
    uint32_t port = 0;
    std::string protocol;
    bool has_tls = false;
    // allowedRoutes.namespaces: "Same" (the default), "All", "Selector" (with `selector`), or
    // "None" (the value ListenerSets allow; nothing attaches).
    std::string routes_from = "Same";
    std::optional<LabelSelector> routes_selector;
    FieldPos pos;
  };
  struct Address {
    std::string type = "IPAddress";
    std::string value;
  };
  std::string gateway_class;
  FieldPos class_pos;
  std::vector<Listener> listeners;
  std::vector<Address> addresses;
  Labels infrastructure_labels;
  Labels infrastructure_annotations;
  // True for the classes weft serves as waypoints (weft-waypoint, istio-waypoint) with a
  // valid mesh listener; `mesh_listener` is its index in `listeners`.
  bool waypoint = false;
  size_t mesh_listener = 0;
  std::string node;  // annotation weft.dev/node
};

using Spec =
    std::variant<NamespaceSpec, ServiceSpec, EndpointSliceSpec, PodSpec, ServiceAccountSpec,
                 NodeSpec, VirtualServiceSpec, DestinationRuleSpec, ServiceEntrySpec,
                 PeerAuthenticationSpec, AuthorizationPolicySpec, HTTPRouteSpec, GatewaySpec>;

struct Resource {
  Kind kind;
  Meta meta;
  ResourceRef ref;  // file, kind, apiVersion, namespace, name, first line
  Spec spec;

  template <class T>
  const T& as() const {
    return std::get<T>(spec);
  }
};

// "<namespace>/<name>" (or "<name>" for cluster-scoped kinds).
std::string KeyOf(const Resource& r);

}  // namespace weft::policy
