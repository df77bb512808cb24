#pragma once

// Kubernetes mode (`up --kubernetes`, docs/kubernetes.md): what the node stand-in makes of the
// API's objects, and what it reports back. Pure (no I/O), so it is unit-tested without root
// or an API server; kubelet.h does the talking, the supervisor the making.
//
//   API Pod            → DesiredPod (PodFromApi): which node, which workload, restart policy,
//                        hostNetwork, whether it is being deleted
//   Pod + fetched data → LaunchSpec (BuildLaunchSpec): for a pod of weft's image, the argv,
//                        environment and bind mounts the launcher (`weft-cluster launch`)
//                        sets up in the pod's own mount namespace
//   PodState           → the Pod's status (PodStatus), the Node's registration and status

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "tools/netns-cluster/desired.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster::k8s {

using nlohmann::json;

inline constexpr char kKubeletVersion[] = "v1.37.2";
inline constexpr int kMaxPods = 110;
inline constexpr int kLeaseDurationSeconds = 40;
inline constexpr int kMaxGraceSeconds = 30;  // a deleted pod's processes get at most this
// Where a pod of weft's image finds weft's binaries (the build's bin/ is bind-mounted there).
inline constexpr char kImageBinDir[] = "/usr/local/bin";
// A container of weft's image without `command` runs this (the image's entrypoint).
inline constexpr char kImageEntrypoint[] = "/usr/local/bin/weft-agent";
inline constexpr char kDefaultPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Workloads (DesiredPod::workload, PodState::workload).
inline constexpr char kWorkloadRun[] = "run";                  // the weft.dev/run annotation
inline constexpr char kWorkloadImage[] = "image";              // a container of weft's image
inline constexpr char kWorkloadPlaceholder[] = "placeholder";  // anything else: a pause process

// True for weft's own images: the last path element before the tag or digest is `weft`
// (ghcr.io/weft-mesh/weft:0.1.0, weft, localhost:5000/weft@sha256:...).
bool IsWeftImage(std::string_view image);

// The API's Pod as the cluster runs it. Sets `*error` (and returns what it could read) when
// the pod cannot run in a netns cluster (names that do not fit a netns name).
DesiredPod PodFromApi(const json& pod, std::string* error);

// Kubernetes' $(VAR) expansion (as in a container's command, args and env values): $(NAME)
// becomes the value when NAME is in `vars`, stays as written otherwise; $$ is one $.
std::string ExpandVars(std::string_view s, const std::map<std::string, std::string>& vars);

// A bind mount in the container's mount namespace.
struct Mount {
  std::string source;  // host path (file or directory)
  std::string target;  // path inside the container
  bool readonly = false;
  bool operator==(const Mount&) const = default;
};

struct ContainerLaunch {
  std::string name;
  std::vector<std::string> argv;
  std::vector<std::string> env;  // the complete environment, "K=V"
  std::string workdir;           // "" = /
  std::vector<Mount> mounts;     // in mount order (parents before children)
};

// What `weft-cluster launch --spec FILE` runs: the init containers one after the other, each
// to completion, then the main container (exec'd, so it keeps the launcher's pid).
struct LaunchSpec {
  std::string pod;       // ns/name, for messages
  std::string hostname;  // set in a new UTS namespace
  std::string bin_dir;   // the build's bin/, bind-mounted read-only at kImageBinDir
  std::vector<ContainerLaunch> init;
  ContainerLaunch main;
};
json ToJson(const LaunchSpec& s);
absl::StatusOr<LaunchSpec> LaunchSpecFromJson(const json& j);

// What the API holds that a pod's launch needs, fetched by the node stand-in first
// (ReferencedObjects says which).
struct Fetched {
  std::map<std::string, json> config_maps;  // by name, in the pod's namespace
  std::map<std::string, json> secrets;
};
struct References {
  std::vector<std::string> config_maps, secrets;  // sorted, unique
  std::map<std::string, bool> optional;           // "configmap/NAME" or "secret/NAME" → optional
};
References ReferencedObjects(const json& pod);

// The values of a configMap's or secret's keys (secret data base64-decoded).
std::map<std::string, std::string> ObjectData(const json& object, bool secret);

struct LaunchContext {
  std::string node;
  std::string pod_ip;
  std::string host_ip;
  std::string api_host;  // KUBERNETES_SERVICE_HOST: the API server's real address
  int api_port = 0;
  std::string bin_dir;
  // Host paths of the pod's volumes, by volume name (made by the stand-in: emptyDir, configMap,
  // secret, projected, downwardAPI dirs; hostPath as given).
  std::map<std::string, std::string> volume_paths;
};

// Where a hostPath volume lives for a pod on `node`. The netns nodes share one kernel and one
// file system, so the node-local state a real node keeps to itself is given a directory per
// node, as if each node had its own:
//   /sys/fs/bpf[/...]          → the node's bpffs directory (NodeState::bpf_root[/...])
//   /sys/fs/cgroup[/...]       → the node's cgroup (NodeState::cgroup[/...]), the parent of its
//                                pods' cgroups, as a node's cgroup root holds its pods
//   /run, /var/run, /var/lib   → <run_dir>/host/run, .../var/lib (/var/run is /run, as on Debian)
// Every other path is the host's own (/proc, /etc, /usr...). So deploy/'s DaemonSets run as
// shipped: each node's agent pins its programs in its own bpffs directory, attaches them to its
// node's cgroup, and finds its proxy's socket in its own /run/weft.
std::string NodeHostPath(const NodeState& node, std::string_view path);

// The launch of a pod of weft's image: its first container of weft's image (and the init
// containers of weft's image before it): command (default kImageEntrypoint) and args with
// $(VAR) expansion, env (value; valueFrom fieldRef, configMapKeyRef, secretKeyRef; envFrom)
// after the KUBERNETES_SERVICE_* variables, volumeMounts (subPath honoured) mapped to the host
// paths in `ctx`. Fails on what it cannot honour (an unknown volume, a missing key that is not
// optional).
absl::StatusOr<LaunchSpec> BuildLaunchSpec(const json& pod, const LaunchContext& ctx,
                                           const Fetched& fetched);

// A downwardAPI item's value (fieldRef of metadata.name, namespace, uid, labels, annotations,
// spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP).
absl::StatusOr<std::string> FieldRef(const json& pod, std::string_view path,
                                     const LaunchContext& ctx);

// A container's readinessProbe as the stand-in honours it: httpGet (HTTP only: an HTTPS probe
// counts a TCP connection as success) and tcpSocket (also grpc), probed from the node's netns
// to the pod's address. exec probes are not run (the probe is ignored).
struct Probe {
  bool http = false;  // httpGet; else a TCP connect
  std::string host;   // httpGet.host, else the pod's IP (filled by the caller)
  int port = 0;
  std::string path = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  int initial_delay_seconds = 0;
  int period_seconds = 10;
  int timeout_seconds = 1;
  int success_threshold = 1;
  int failure_threshold = 3;
  bool operator==(const Probe&) const = default;
};
// The readinessProbe of `container` (ports by name resolved from its ports); none when it has
// none or one this cannot run.
std::optional<Probe> ReadinessProbe(const json& pod, const std::string& container);

// The Pod's status for the status subresource (a merge patch body, with metadata.uid as the
// precondition kubelet uses), from what runs. `pod` is the API object (its containers).
json PodStatusPatch(const json& pod, const PodState& p, const std::string& host_ip);

// The Node object that registers `n` (labels: kubernetes.io/hostname, os, arch and the
// node's own; spec.podCIDR(s)).
json NodeObject(const NodeState& n);
// The Node's status: Ready and the pressure conditions, capacity = allocatable (cpu, memory,
// pods), addresses, nodeInfo (kubeletVersion kKubeletVersion). `since` is the time the node
// became Ready (RFC 3339), `now` the heartbeat.
json NodeStatusPatch(const NodeState& n, int cpus, uint64_t memory_kib, const std::string& since,
                     const std::string& now);
// The node's Lease in kube-node-lease.
json NodeLease(const std::string& node, const std::string& node_uid, const std::string& now_micro);

// RFC 3339 times as the API writes them: seconds, or microseconds (MicroTime, for leases).
std::string Rfc3339(int64_t wall_ms);
std::string Rfc3339Micro(int64_t wall_us);

}  // namespace weft::cluster::k8s
