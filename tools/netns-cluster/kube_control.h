#pragma once

// The control plane of a Kubernetes-mode cluster (`up --kubernetes`), run through
// tools/kube/control-plane (docs/kubernetes.md): etcd, kube-apiserver, kube-controller-manager
// and kube-scheduler in <state dir>/kube, the API server on the underlay bridge's host
// address, which the nodes reach over the underlay and the pods through their node.

#include <ostream>
#include <string>

#include "absl/status/statusor.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

inline constexpr char kServiceCidr[] = "10.96.0.0/16";
inline constexpr int kApiPort = 6443;
inline constexpr int kEtcdPort = 2379;

// $WEFT_KUBE_CONTROL_PLANE (tools/cluster sets it), else tools/kube/control-plane of the
// source tree this binary was built from.
std::string ControlPlaneScript();

// The API server's port (6443 unless taken; the script puts the controller manager and the
// scheduler on +10 and +11 of loopback) and etcd's (2379 and 2380 unless taken).
absl::Status ChoosePorts(const std::string& host_ip, int* api_port, int* etcd_port);

// `control-plane up`: returns once the API server answers /readyz. Its output goes to `out`.
absl::Status StartControlPlane(const State& st, std::ostream& out);
// `control-plane down` (also stops whatever runs of it and removes kube_dir). With a
// `keep_logs_dir`, the components' logs are copied there first.
void StopControlPlane(const std::string& script, const std::string& kube_dir,
                      const std::string& keep_logs_dir, std::ostream& out);
// `control-plane user`: a client certificate for system:node:<node> in group system:nodes,
// returns its kubeconfig (what a kubelet's bootstrap would have given it).
absl::StatusOr<std::string> NodeCredentials(const State& st, const std::string& node);

// The nodes of `up --kubernetes` without -f: two nodes in two zones, as examples/demo.
extern const char kDefaultTopology[];

}  // namespace weft::cluster
