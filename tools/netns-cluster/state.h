#pragma once

// The cluster's state file (/run/weft/cluster/state.json, or $WEFT_CLUSTER_STATE): the
// settings `up` was given and every object the supervisor made, so that `status`, `exec` and
// `down` work from it, also after a crash of the supervisor. Written atomically (rename) by
// the supervisor after every change; docs/local-mode.md describes the format.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::cluster {

struct ProcessState {
  // none (no command) | starting | running | backoff (exited, restarting after a delay) |
  // stopped | missing (agent binary not built) | disabled (--no-agents); Kubernetes mode also:
  // waiting (its volumes are being prepared) | succeeded | failed (exited, and its pod's
  // restartPolicy says no restart) | terminating (the pod is being deleted)
  std::string state = "none";
  int pid = 0;
  int restarts = 0;            // unplanned exits followed by a restart
  int64_t started_at_ms = 0;   // wall clock, ms since the epoch
  int64_t finished_at_ms = 0;  // when it last exited (wall clock)
  std::string last_exit;       // "exit 3", "signal 9"
  std::string log;             // file the process' stdout and stderr go to
  bool operator==(const ProcessState&) const = default;
};

struct NodeState {
  std::string name;
  int index = 0;            // stable while the node exists; numbers its underlay IP and veth.
  std::string netns;        // weft-node-<name>
  std::string host_veth;    // host end of the underlay veth, a port of the bridge.
  std::string underlay_ip;  // on eth0 inside the node netns.
  std::string pod_cidr;
  bool pod_cidr_assigned = false;  // true: chosen by the cluster, not spec.podCIDR.
  std::string bridge_ip;           // of cbr0, the pods' default gateway.
  std::string cgroup;              // absolute path of the node's cgroup (parent of its pods').
  std::string bpf_root;            // what the agent gets as --bpf-root.
  std::string run_dir;             // what the agent gets as --run-dir (its proxy socket, log).
  // The node's client certificate for the CA (spiffe://<td>/weft/node/<name>) and its key, in
  // run_dir: the agent's --node-cert and --node-key.
  std::string node_cert;
  std::string node_key;
  ProcessState agent;
  // Kubernetes mode: the Node's labels (DIR's, registered with the Node), and the node's own
  // credentials (user system:node:<name>, group system:nodes), as a kubelet has them.
  std::map<std::string, std::string> labels;
  std::string kubeconfig;
  // The last pod address given to a pod of the API: the next is searched after it (as
  // host-local IPAM does), so that a deleted pod's address is not reused at once.
  std::string last_pod_ip;
};

struct PodState {
  std::string ns;
  std::string name;
  std::string node;
  std::string netns;  // weft-pod-<ns>-<name>
  std::string veth;   // node end of the pod's veth, a port of the node's cbr0.
  std::string ip;
  bool ip_assigned = false;  // true: chosen by the cluster, not status.podIP.
  std::string cgroup;        // absolute path
  std::string run;           // the weft.dev/run command
  std::string file;          // where the Pod was read from (a waypoint's: its Gateway's file)
  // A waypoint's pod: the name of the Gateway (in the pod's namespace) it runs weft-waypoint
  // for; empty for the Pods of DIR.
  std::string gateway;
  ProcessState process;
  // Kubernetes mode (docs/kubernetes.md): the API's Pod. `cgroup` is then the container's,
  // <pod_cgroup>/<container>, and the pod's sandbox process (a pause process that keeps the
  // netns findable from /proc while the workload restarts) runs in pod_cgroup itself.
  std::string uid;
  bool host_network = false;  // netns is the node's, ip the node's underlay IP, no veth
  std::string pod_cgroup;     // <cgroup2>/<base>/<node>/pod<uid>
  std::string workload;       // k8s::kWorkload*: run (annotation), image (weft's), placeholder
  std::string container;      // the container that runs
  std::string image;
  std::string restart_policy;  // Always | OnFailure | Never
  std::string launch;          // image pods: the launch spec file (kube_pods.h LaunchSpec)
  bool terminating = false;
  int64_t created_at_ms = 0;  // the pod's startTime (wall clock)
  int sandbox_pid = 0;
  // Its container has a readinessProbe (k8s::ReadinessProbe): Ready when it passes, not as
  // soon as the process runs.
  bool probed = false;
  bool probe_ready = false;
  int64_t ready_changed_ms = 0;  // wall clock
  std::string key() const { return ns + "/" + name; }
};

struct State {
  int version = 1;
  std::string cluster;  // "" = the default cluster
  std::string prefix;   // of every netns and link name
  std::string dir;      // the watched directory (absolute)
  std::string bridge;
  std::string underlay;     // CIDR of the bridge network
  std::string host_ip;      // the host's address on the bridge
  std::string cgroup2;      // the cgroup2 mount
  std::string cgroup_base;  // <cgroup2>/<base>: every cgroup of the cluster is below it
  std::string bpf_base;     // /sys/fs/bpf/<base>: agents pin below it, one dir per node
  std::string bin_dir;      // put first in PATH of pod commands and `exec`
  bool agents = true;       // false with --no-agents
  std::string agent_bin;
  std::vector<std::string> agent_args;
  // The waypoints' binary (default: weft-waypoint in bin_dir) and extra arguments for them.
  std::string waypoint_bin;
  std::vector<std::string> waypoint_args;
  int supervisor_pid = 0;
  // The CA (`weft-agent ca`, host netns, listening on <host_ip>:15012): its root in ca_dir,
  // its process. state "disabled" with --no-agents.
  std::string ca_dir;
  std::string ca_address;  // IP:port, what the agents get as --ca-address
  std::string trust_domain = "cluster.local";
  ProcessState ca;
  // Kubernetes mode (up --kubernetes): the control plane (tools/kube/control-plane, the script
  // `control_plane`) runs in kube_dir; the API server listens on host_ip:api_port, etcd on
  // 127.0.0.1:etcd_port. No agents and no CA are started (weft is installed with kubectl).
  bool kubernetes = false;
  std::string control_plane;
  std::string kube_dir;
  int api_port = 0;
  int etcd_port = 0;
  std::string updated_at;  // RFC 3339
  std::vector<NodeState> nodes;
  std::vector<PodState> pods;
  std::vector<std::string> errors;  // the last reload's errors about Nodes and Pods
  std::vector<std::string> warnings;

  std::string api_server() const { return "https://" + host_ip + ":" + std::to_string(api_port); }
  std::string admin_kubeconfig() const { return kube_dir + "/admin.kubeconfig"; }
  const NodeState* FindNode(const std::string& name) const;
  const PodState* FindPod(const std::string& ns, const std::string& name) const;
};

std::string ToJson(const State& s);
absl::StatusOr<State> FromJson(const std::string& text);

// Write to a temporary file and rename it over `path` (readers never see half a file).
absl::Status WriteState(const std::string& path, const State& s);
// NotFound when there is no state file.
absl::StatusOr<State> ReadState(const std::string& path);

}  // namespace weft::cluster
