#pragma once

// The cluster's network, made with iproute2:
//
//   host: bridge <prefix>br0 (underlay, host = .1) ── <prefix>n<i> ═ veth ═ eth0 in node netns
//   node netns: eth0 (underlay IP), cbr0 (bridge, first pod-CIDR address), ip_forward on,
//               a route per other node's pod CIDR via that node's underlay IP
//   pod netns:  eth0 (pod IP/CIDR len) ═ veth ═ veth<hash> port of cbr0; lo up;
//               default via cbr0's address
//
// IPv6 is switched off on the underlay links so a capture of the bridge shows pod traffic
// only, not neighbour discovery chatter.
//
// Both bridges get a fixed MAC address, derived from their IP (BridgeMac). A Linux bridge left
// to itself takes the lowest MAC of its ports and changes it as ports come and go; the pods
// (and nodes) whose ARP cache still holds the old address then send frames that the bridge
// takes in as PACKET_OTHERHOST and IP drops, for the 15-60 s until their neighbour entry is
// resolved again. Each new pod's veth could do that to every pod of its node.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster::network {

std::string NetnsPath(const std::string& netns);  // /run/netns/<netns>

// The bridge's MAC for its IPv4 address: 0a:58 (locally administered, unicast) then the four
// address bytes, as Kubernetes network plugins derive gateway MACs. Unique per bridge of a
// cluster (each has its own address), and across clusters on one host (the underlay differs).
std::string BridgeMac(uint32_t ip);

absl::Status CreateBridge(const std::string& bridge, const std::string& host_ip, int prefix_len);
absl::Status CreateNode(const State& state, const NodeState& node);
// Makes `node`'s routes to every other node's pod CIDR, and drops those to `gone` CIDRs.
absl::Status SetNodeRoutes(const NodeState& node, const std::vector<NodeState>& nodes,
                           const std::vector<std::string>& gone);
absl::Status CreatePod(const PodState& pod, const NodeState& node);

// Pods reach services of the host on the bridge address (the CA, for the waypoints' CA clients,
// which run in their pods): the host has no routes to pod CIDRs (two clusters may use the same
// ones), so the replies, whose source is the cluster's own bridge address, are routed by a
// policy rule `from <host_ip> lookup <HostReplyTable>` to a table with a route per node's pod
// CIDR via its underlay IP. Connections the host opens itself still find no pod route.
uint32_t HostReplyTable(const std::string& host_ip);  // the host IP as a number: unique per cluster
absl::Status SetHostReplyRoutes(const State& state, const std::vector<std::string>& gone);
void DeleteHostReplyRoutes(const std::string& host_ip);

// Teardown is best effort and never fails: what is already gone is skipped.
// Kills the processes in the pod's cgroup and netns, deletes its veth, netns and cgroup.
void DeletePod(const PodState& pod, const std::string& node_netns);
// Kills what runs in the node netns, deletes the host veth, the netns, the node cgroup tree
// and the node's bpffs pin dir.
void DeleteNode(const NodeState& node);
void DeleteLink(const std::string& link);  // in the calling (host) netns
// Kills what runs in the netns, then `ip netns del`.
void DeleteNetns(const std::string& netns);

}  // namespace weft::cluster::network
