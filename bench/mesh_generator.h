#pragma once

// A deterministic generator of realistic mesh YAML for the policy compiler benchmarks.
//
// The output is block-style YAML as `kubectl get -o yaml` would print it (minus the fields the
// API server adds), one "---" document per object: Namespaces, Nodes with topology labels,
// Services, the Pods behind them (labels app/version, nodeName, serviceAccountName, podIP),
// one EndpointSlice per Service whose endpoints point at those Pods, ServiceAccounts, and the
// Istio objects (VirtualServices with matches, weighted subsets and retries; DestinationRules
// with subsets v1/v2, load balancing, connection pools and outlier detection;
// AuthorizationPolicies with selectors, principals and ports). The same spec and seed always
// give byte-identical text, and the mesh compiles without errors or warnings.

#include <cstdint>
#include <string>
#include <vector>

namespace weft::bench {

struct MeshSpec {
  int namespaces = 100;
  int services = 10'000;      // spread evenly over the namespaces.
  int pods_per_service = 10;  // = endpoints per EndpointSlice (one slice per Service).
  int nodes = 50;
  int virtual_services = 1'000;   // for every (services / n)-th Service.
  int destination_rules = 1'000;  // for the same Services as the VirtualServices.
  int authorization_policies = 1'000;
  uint64_t seed = 0x5eed'f00d'cafe'0001ULL;

  // The same mesh scaled down (for profiling under valgrind).
  MeshSpec Scaled(double factor) const;
};

struct MeshCounts {
  int namespaces = 0, nodes = 0, services = 0, endpoint_slices = 0, endpoints = 0, pods = 0,
      service_accounts = 0, virtual_services = 0, destination_rules = 0, authorization_policies = 0,
      peer_authentications = 0;
  int documents() const {
    return namespaces + nodes + services + endpoint_slices + pods + service_accounts +
           virtual_services + destination_rules + authorization_policies + peer_authentications;
  }
};

class MeshGenerator {
 public:
  explicit MeshGenerator(MeshSpec spec);

  // The whole mesh as one multi-document YAML stream.
  std::string Generate(MeshCounts* counts = nullptr) const;

  // The EndpointSlice of Service `service` (0-based) as one document. `variant` 0 is the one
  // Generate() emits; any other variant marks a different endpoint not ready, so successive
  // variants are real changes of the same object.
  std::string EndpointSlice(int service, int variant = 0) const;

  const MeshSpec& spec() const { return spec_; }

 private:
  struct ServiceInfo;
  ServiceInfo Service(int i) const;
  void AppendNamespace(std::string& out, int ns) const;
  void AppendNode(std::string& out, int node) const;
  void AppendService(std::string& out, const ServiceInfo& s) const;
  void AppendServiceAccount(std::string& out, const ServiceInfo& s) const;
  void AppendPod(std::string& out, const ServiceInfo& s, int replica) const;
  void AppendEndpointSlice(std::string& out, const ServiceInfo& s, int variant) const;
  void AppendVirtualService(std::string& out, const ServiceInfo& s) const;
  void AppendDestinationRule(std::string& out, const ServiceInfo& s) const;
  void AppendAuthorizationPolicy(std::string& out, int index) const;

  static std::vector<uint32_t> AssignPodAddresses(const MeshSpec& spec);

  MeshSpec spec_;
  std::vector<uint32_t> host_numbers_;  // per pod: its address within its node's podCIDR.
};

}  // namespace weft::bench
