#pragma once

// What the weftctl commands that talk to a cluster share (`ca init --apply`, `waypoint
// apply|delete`, `analyze --cluster`): finding the kubeconfig as kubectl does, naming API
// refusals, and the name checks Kubernetes applies.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/kube/client.h"
#include "core/kube/config.h"

namespace weft::weftctl {

// The kubeconfig as kubectl finds it: `flag` (--kubeconfig), $KUBECONFIG, ~/.kube/config,
// else the in-cluster config.
absl::StatusOr<kube::Config> LoadKubeConfig(const std::string& flag);

// "GET gateway demo/waypoint: HTTP 403: <the API's Status message>" (the message only when the
// body is a Status object).
std::string ApiError(std::string_view method, const std::string& what, const kube::Response& r);

// Namespace names (a DNS label: lowercase letters, digits, '-') and object names (a DNS
// subdomain: labels joined by '.'), as the API server checks them.
bool IsDnsLabel(const std::string& s);
bool IsDnsSubdomain(const std::string& s);

}  // namespace weft::weftctl
