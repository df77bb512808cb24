#pragma once

// Finding a pod's network namespace from its cgroup, as a node agent without a CNI plugin
// must (Kubernetes mode). Every process of a pod lives under a cgroup named after the pod's
// metadata.uid — the kubelet's cgroupfs driver: .../kubepods/<qos>/pod<uid>/<container>; its
// systemd driver: .../kubepods-<qos>-pod<uid with '_' for '-'>.slice/...; tools/cluster's
// node stand-in: .../pod<uid>/ — so the first process in /proc whose cgroup path has such a
// segment leads to /proc/<pid>/ns/net.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::agent::inpod {

// True when the cgroup path (the part after "0::" in /proc/PID/cgroup) belongs to the pod.
bool CgroupPathIsPod(std::string_view cgroup_path, std::string_view pod_uid);

// "/proc/<pid>/ns/net" of a process of the pod; NotFound when none runs (yet).
absl::StatusOr<std::string> FindPodNetnsPath(const std::string& proc_root,
                                             const std::string& pod_uid);

}  // namespace weft::agent::inpod
