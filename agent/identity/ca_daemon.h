#pragma once

// `weft-agent ca`: the CA server process. Loads the root from files (in Kubernetes, the
// Secret weft-ca-root mounted) and serves CaServer until SIGTERM/SIGINT. "Is a pod with this
// namespace and service account on that node?" is answered
//  - in local mode from the local directory, followed with the same ConfigStore +
//    DirectoryWatcher as the agents; nodes authenticate with their node certificates;
//  - in Kubernetes mode (`--kubernetes`) by PodPlacement (kube_authority.h), and clients
//    authenticate with ServiceAccount tokens checked by TokenReview (node certificates are
//    still accepted).

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "agent/identity/ca_server.h"
#include "agent/source/config_store.h"

namespace weft::agent {

struct CaDaemonOptions {
  std::string listen = "0.0.0.0:15012";  // IP:port
  std::string root_cert_file, root_key_file;
  std::string local_dir;
  bool kubernetes = false;
  std::string kubeconfig;  // empty: $KUBECONFIG, else in-cluster
  std::vector<std::string> agent_service_accounts = {"weft-system/weft-agent"};
  std::string token_audience = "weft-ca";
  // Kubernetes mode: the waypoint controller (agent/controller/waypoint_controller.h).
  bool waypoint_controller = true;
  std::string waypoint_image;       // empty: this pod's own image ($POD_NAMESPACE/$POD_NAME)
  std::string waypoint_ca_address;  // empty: weft-ca.<this pod's namespace>.svc:<listen port>
  std::string trust_domain;         // empty: from the root's SAN
  std::chrono::seconds max_ttl = std::chrono::hours(24);
};

// True when the snapshot has a pod of namespace `ns` with service account `sa` on `node`.
bool SnapshotHasPod(const policy::pb::MeshSnapshot& snapshot, std::string_view node,
                    std::string_view ns, std::string_view sa);

// Runs until SIGTERM/SIGINT. Returns the exit code.
int RunCaDaemon(const CaDaemonOptions& options);

}  // namespace weft::agent
