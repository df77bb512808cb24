#pragma once

// Where the CA is (--ca-address): "IP:port"; "host:port" resolved by DNS; and in Kubernetes,
// where a node agent runs on the host network and a cluster may have no DNS the host can use
// (tools/cluster has none), "<service>.<namespace>.svc[.<cluster domain>]:port" resolved
// from the Service's EndpointSlices through the API (a ready endpoint's address and the port
// the Service port maps to), falling back to DNS when no API is configured. An agent does not
// depend on kube-proxy or cluster DNS to get its certificates (its own data path is what
// serves ClusterIPs).
//
// Resolve() blocks (DNS, one or two API calls with a 5 s deadline); an answer is kept for
// `ttl` (each CA call opens a new connection), a failure is not.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "core/h2/session.h"
#include "core/kube/client.h"

namespace weft::agent {

struct CaAddressParts {
  std::string host;
  uint16_t port = 0;
  // Set when host is "<service>.<namespace>.svc[...]".
  std::string service, ns;
};

// Splits "host:port" ("[v6]:port" too).
absl::StatusOr<CaAddressParts> ParseCaAddress(const std::string& address);

class CaAddressResolver {
 public:
  // `kubeconfig`: as kube::LoadConfig reads it (empty: $KUBECONFIG, else in-cluster), used
  // only for "*.svc" names.
  explicit CaAddressResolver(std::string address, std::string kubeconfig = "",
                             std::chrono::seconds ttl = std::chrono::seconds(30));

  absl::StatusOr<h2::tcp::endpoint> Resolve();
  const std::string& address() const { return address_; }

 private:
  absl::StatusOr<h2::tcp::endpoint> FromEndpointSlices(const CaAddressParts& parts);
  absl::StatusOr<h2::tcp::endpoint> FromDns(const CaAddressParts& parts);

  std::string address_, kubeconfig_;
  std::chrono::seconds ttl_;
  std::mutex mu_;
  std::shared_ptr<kube::Client> client_;
  std::optional<h2::tcp::endpoint> cached_;
  std::chrono::steady_clock::time_point cached_at_;
};

}  // namespace weft::agent
