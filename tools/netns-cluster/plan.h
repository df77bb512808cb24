#pragma once

// Address and name allocation: what the cluster should look like given DIR (Desired) and
// what exists (State). Pure, so it is unit-tested without root.
//
// Nodes: index = the lowest free one (kept while the node exists); underlay IP = underlay
// network + 2 + index (the host is + 1); pod CIDR = spec.podCIDR, else 10.244.<k>.0/24 for the
// first k from the index that overlaps nothing; cbr0 gets the CIDR's first address.
// Pods: status.podIP when given, else the lowest free address from the CIDR's second one;
// kept while the pod stays on its node.

#include <string>
#include <vector>

#include "tools/netns-cluster/desired.h"
#include "tools/netns-cluster/naming.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

struct Plan {
  std::vector<NodeState> nodes;  // sorted by name; agent fields copied from `current`.
  std::vector<PodState> pods;    // sorted by namespace/name; process fields from `current`.
  std::vector<std::string> errors;
};

// `current` supplies the settings (underlay, cgroup base, bpf base) and the existing objects.
Plan MakePlan(const Desired& desired, const State& current, const Naming& naming);

// True when the node must be made anew (its network changed).
bool NodeNetworkChanged(const NodeState& a, const NodeState& b);
// True when the pod must be made anew: its node, IP or netns changed.
bool PodNetworkChanged(const PodState& a, const PodState& b);

}  // namespace weft::cluster
