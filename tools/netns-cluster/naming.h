#pragma once

// Every name the netns cluster gives to kernel objects, files and cgroups, in one place, so
// that `up`, the supervisor and `down` (also after a crash, by prefix) agree.
//
// The default cluster uses the prefix "weft-": netns weft-node-<node> and
// weft-pod-<namespace>-<name>, bridge weft-br0, host-side veths weft-n<index>, cgroups under
// <cgroup2>/weft/, pins under /sys/fs/bpf/weft/<node>. A named cluster C (--cluster C, for
// tests and side-by-side clusters) uses "weft-C-" and "weft-C" instead, so that two clusters
// on one host never touch each other's objects.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::cluster {

class Naming {
 public:
  // `cluster` is "" for the default cluster, else 1-5 characters [a-z0-9] (interface names
  // are limited to 15 characters), not "node" or "pod".
  static absl::StatusOr<Naming> For(std::string_view cluster);

  const std::string& cluster() const { return cluster_; }
  const std::string& prefix() const { return prefix_; }  // "weft-" or "weft-C-"
  const std::string& base() const { return base_; }      // "weft" or "weft-C"

  std::string NodeNetnsPrefix() const { return prefix_ + "node-"; }
  std::string PodNetnsPrefix() const { return prefix_ + "pod-"; }
  std::string NodeNetns(std::string_view node) const;
  std::string PodNetns(std::string_view ns, std::string_view name) const;
  std::string Bridge() const { return prefix_ + "br0"; }
  // The host end of node `index`'s underlay veth ("weft-n3").
  std::string NodeHostVeth(int index) const;
  // True for a name NodeHostVeth can return.
  bool IsNodeHostVeth(std::string_view link) const;
  // The node end of a pod's veth, inside the node netns: "veth" + 8 hex digits of a hash of
  // namespace/name (stable, so a teardown can recompute it).
  static std::string PodNodeVeth(std::string_view ns, std::string_view name);
  // Cgroup directory of a pod, relative to the cgroup2 mount: "<base>/<node>/<ns>_<name>".
  std::string NodeCgroup(std::string_view node) const;
  std::string PodCgroup(std::string_view node, std::string_view ns, std::string_view name) const;
  // Kubernetes mode: a pod's cgroup, "<base>/<node>/pod<uid>" (as the kubelet's cgroupfs
  // driver names it), holding its sandbox process; its container runs in
  // "<base>/<node>/pod<uid>/<container>".
  std::string KubePodCgroup(std::string_view node, std::string_view uid) const;
  std::string BpfBase() const { return "/sys/fs/bpf/" + base_; }
  std::string NodeBpfRoot(std::string_view node) const;
  // Runtime files of the nodes' agents (the proxy's control socket and log), one dir per node:
  // /run/weft/cluster/nodes, or /run/weft/cluster-C/nodes. Per cluster, so that two clusters
  // with equal node names never share an agent's socket (the agent's own default,
  // /run/weft/<node>, would be shared).
  std::string RunBase() const;
  std::string NodeRunDir(std::string_view node) const;
  // The cluster's own runtime dir: /run/weft/cluster, or /run/weft/cluster-C.
  std::string ClusterRunDir() const;
  // The CA's root certificate and key (key mode 0600): <ClusterRunDir>/ca. Made by the
  // supervisor at `up`, removed by `down`.
  std::string CaDir() const { return ClusterRunDir() + "/ca"; }
  // /run/weft/cluster/state.json, or /run/weft/cluster-C/state.json.
  std::string DefaultStatePath() const;

 private:
  std::string cluster_, prefix_, base_;
};

// Kubernetes-style object names as the cluster accepts them in netns, cgroup and file names:
// 1-63 characters of [a-z0-9.-], starting and ending alphanumeric. (Pod names may be longer
// in Kubernetes; here they end up in file names.)
bool IsValidObjectName(std::string_view name);

bool StartsWith(std::string_view s, std::string_view prefix);

}  // namespace weft::cluster
