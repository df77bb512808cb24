#include "tools/netns-cluster/network.h"

#include <cstdio>

#include "absl/status/statusor.h"

#include "tools/netns-cluster/ipv4.h"
#include "tools/netns-cluster/sys.h"

namespace weft::cluster::network {

namespace {

using sys::Ip;

int PrefixLen(const std::string& cidr) {
  auto c = Cidr::Parse(cidr);
  return c ? c->len : 24;
}

void DisableIpv6(const std::string& link) {
  std::string path = "/proc/sys/net/ipv6/conf/" + link + "/disable_ipv6";
  if (sys::Exists(path)) (void)sys::WriteFile(path, "1");
}

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    if (auto _s = (expr); !_s.ok()) return _s; \
  } while (0)

}  // namespace

std::string NetnsPath(const std::string& netns) {
  return "/run/netns/" + netns;
}

std::string BridgeMac(uint32_t ip) {
  char mac[18];
  std::snprintf(mac, sizeof mac, "0a:58:%02x:%02x:%02x:%02x", (ip >> 24) & 0xff, (ip >> 16) & 0xff,
                (ip >> 8) & 0xff, ip & 0xff);
  return mac;
}

namespace {

absl::StatusOr<std::string> BridgeMacFor(const std::string& ip) {
  auto parsed = ParseIpv4(ip);
  if (!parsed) return absl::InvalidArgumentError("bridge address " + ip + " is not IPv4");
  return BridgeMac(*parsed);
}

}  // namespace

absl::Status CreateBridge(const std::string& bridge, const std::string& host_ip, int prefix_len) {
  auto mac = BridgeMacFor(host_ip);
  if (!mac.ok()) return mac.status();
  RETURN_IF_ERROR(Ip({"link", "add", bridge, "address", *mac, "type", "bridge"}));
  DisableIpv6(bridge);
  RETURN_IF_ERROR(Ip({"addr", "add", host_ip + "/" + std::to_string(prefix_len), "dev", bridge}));
  return Ip({"link", "set", bridge, "up"});
}

absl::Status CreateNode(const State& state, const NodeState& n) {
  if (sys::Exists(NetnsPath(n.netns))) DeleteNetns(n.netns);
  DeleteLink(n.host_veth);
  RETURN_IF_ERROR(Ip({"netns", "add", n.netns}));
  RETURN_IF_ERROR(
      Ip({"link", "add", n.host_veth, "type", "veth", "peer", "name", "eth0", "netns", n.netns}));
  DisableIpv6(n.host_veth);
  RETURN_IF_ERROR(Ip({"link", "set", n.host_veth, "master", state.bridge, "up"}));
  RETURN_IF_ERROR(sys::WriteSysctlsInNetns(
      NetnsPath(n.netns),
      {{"net/ipv4/ip_forward", "1"}, {"?net/ipv6/conf/eth0/disable_ipv6", "1"}}));
  const std::vector<std::string> in{"-n", n.netns};
  auto ip = [&](std::vector<std::string> args) {
    args.insert(args.begin(), in.begin(), in.end());
    return Ip(args);
  };
  RETURN_IF_ERROR(ip({"link", "set", "lo", "up"}));
  RETURN_IF_ERROR(
      ip({"addr", "add", n.underlay_ip + "/" + std::to_string(PrefixLen(state.underlay)), "dev",
          "eth0"}));
  RETURN_IF_ERROR(ip({"link", "set", "eth0", "up"}));
  auto mac = BridgeMacFor(n.bridge_ip);
  if (!mac.ok()) return mac.status();
  RETURN_IF_ERROR(ip({"link", "add", "cbr0", "address", *mac, "type", "bridge"}));
  RETURN_IF_ERROR(ip(
      {"addr", "add", n.bridge_ip + "/" + std::to_string(PrefixLen(n.pod_cidr)), "dev", "cbr0"}));
  RETURN_IF_ERROR(ip({"link", "set", "cbr0", "up"}));
  return sys::MakeDirs(n.cgroup);
}

absl::Status SetNodeRoutes(const NodeState& node, const std::vector<NodeState>& nodes,
                           const std::vector<std::string>& gone) {
  for (const auto& cidr : gone) {
    (void)Ip({"-n", node.netns, "route", "del", cidr});
  }
  for (const auto& other : nodes) {
    if (other.name == node.name) continue;
    RETURN_IF_ERROR(Ip({"-n", node.netns, "route", "replace", other.pod_cidr, "via",
                        other.underlay_ip, "dev", "eth0"}));
  }
  return absl::OkStatus();
}

absl::Status CreatePod(const PodState& p, const NodeState& n) {
  if (p.host_network) return sys::MakeDirs(p.cgroup);  // the node's netns, nothing to make
  if (sys::Exists(NetnsPath(p.netns))) DeleteNetns(p.netns);
  (void)Ip({"-n", n.netns, "link", "del", p.veth});
  RETURN_IF_ERROR(Ip({"netns", "add", p.netns}));
  RETURN_IF_ERROR(Ip({"-n", n.netns, "link", "add", p.veth, "type", "veth", "peer", "name", "eth0",
                      "netns", p.netns}));
  RETURN_IF_ERROR(Ip({"-n", n.netns, "link", "set", p.veth, "master", "cbr0", "up"}));
  const std::vector<std::string> in{"-n", p.netns};
  auto ip = [&](std::vector<std::string> args) {
    args.insert(args.begin(), in.begin(), in.end());
    return Ip(args);
  };
  RETURN_IF_ERROR(ip({"link", "set", "lo", "up"}));
  RETURN_IF_ERROR(
      ip({"addr", "add", p.ip + "/" + std::to_string(PrefixLen(n.pod_cidr)), "dev", "eth0"}));
  RETURN_IF_ERROR(ip({"link", "set", "eth0", "up"}));
  RETURN_IF_ERROR(ip({"route", "add", "default", "via", n.bridge_ip, "dev", "eth0"}));
  return sys::MakeDirs(p.cgroup);
}

uint32_t HostReplyTable(const std::string& host_ip) {
  auto ip = ParseIpv4(host_ip);
  return ip.value_or(0);
}

namespace {

// True when `ip rule list` has `from <host_ip> lookup <table>`.
bool HasHostReplyRule(const std::string& host_ip, uint32_t table) {
  auto out = sys::Run({sys::IpBin(), "rule", "list"});
  if (!out.ok()) return false;
  std::string want = "from " + host_ip + " lookup " + std::to_string(table);
  for (size_t pos = 0; (pos = out->find(want, pos)) != std::string::npos; pos += want.size()) {
    size_t end = pos + want.size();
    if (end == out->size() || (*out)[end] == ' ' || (*out)[end] == '\n') return true;
  }
  return false;
}

constexpr char kHostReplyPriority[] = "32000";  // before main (32766)

}  // namespace

absl::Status SetHostReplyRoutes(const State& st, const std::vector<std::string>& gone) {
  uint32_t table = HostReplyTable(st.host_ip);
  if (table == 0) return absl::InvalidArgumentError("bad host address " + st.host_ip);
  std::string t = std::to_string(table);
  for (const auto& cidr : gone) (void)Ip({"route", "del", cidr, "table", t});
  for (const auto& n : st.nodes) {
    RETURN_IF_ERROR(
        Ip({"route", "replace", n.pod_cidr, "via", n.underlay_ip, "dev", st.bridge, "table", t}));
  }
  if (!HasHostReplyRule(st.host_ip, table)) {
    RETURN_IF_ERROR(
        Ip({"rule", "add", "from", st.host_ip, "lookup", t, "priority", kHostReplyPriority}));
  }
  return absl::OkStatus();
}

void DeleteHostReplyRoutes(const std::string& host_ip) {
  uint32_t table = HostReplyTable(host_ip);
  if (table == 0) return;
  std::string t = std::to_string(table);
  for (int i = 0; i < 8 && HasHostReplyRule(host_ip, table); ++i) {
    (void)Ip({"rule", "del", "from", host_ip, "lookup", t});
  }
  (void)Ip({"route", "flush", "table", t});
}

void DeletePod(const PodState& p, const std::string& node_netns) {
  // Kubernetes mode: the pod's cgroup holds its sandbox and its container's cgroup.
  const std::string& cgroup = p.pod_cgroup.empty() ? p.cgroup : p.pod_cgroup;
  sys::KillCgroupTree(cgroup);
  sys::KillAndWait(sys::PidsInCgroupTree(cgroup));
  if (p.host_network) {  // the node's netns: not the pod's to delete
    (void)sys::RemoveCgroupTree(cgroup);
    return;
  }
  // The node end first: a netns may outlive `ip netns del` while an agent holds a socket in
  // it, and its veth must not stay on cbr0 with the pod's address behind it.
  if (!node_netns.empty() && sys::Exists(NetnsPath(node_netns))) {
    (void)Ip({"-n", node_netns, "link", "del", p.veth});
  }
  DeleteNetns(p.netns);
  (void)sys::RemoveCgroupTree(cgroup);
}

void DeleteNode(const NodeState& n) {
  DeleteLink(n.host_veth);
  DeleteNetns(n.netns);
  (void)sys::RemoveCgroupTree(n.cgroup);
  // The agent's pins for this node: with the node gone, pinned links would only keep
  // programs attached to a dead cgroup.
  if (!n.bpf_root.empty()) (void)sys::RemoveTree(n.bpf_root);
  // And its agent's runtime files (the proxy, in the node's netns, is gone with it).
  if (!n.run_dir.empty()) (void)sys::RemoveTree(n.run_dir);
}

void DeleteLink(const std::string& link) {
  if (link.empty() || !sys::Exists("/sys/class/net/" + link)) return;
  (void)Ip({"link", "del", link});
}

void DeleteNetns(const std::string& netns) {
  std::string path = NetnsPath(netns);
  if (!sys::Exists(path)) return;
  sys::KillAndWait(sys::PidsInNetns(path));
  (void)Ip({"netns", "del", netns});
}

}  // namespace weft::cluster::network
