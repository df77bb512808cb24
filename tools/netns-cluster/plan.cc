#include "tools/netns-cluster/plan.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>

#include "tools/netns-cluster/ipv4.h"

namespace weft::cluster {

namespace {

constexpr int kMaxNodeIndex = 999;  // NodeHostVeth names stay within 15 characters.

std::string PodError(const DesiredPod& p, const std::string& msg) {
  if (p.file.empty()) return "error: Pod/" + p.key() + ": " + msg;  // from the API server
  if (!p.gateway.empty()) {
    return p.file + ":" + std::to_string(p.line) + ": error: Gateway/" + p.ns + "/" + p.gateway +
           ": its waypoint pod " + p.key() + ": " + msg;
  }
  return p.file + ":" + std::to_string(p.line) + ": error: Pod/" + p.key() + ": " + msg;
}

std::string NodeError(const DesiredNode& n, const std::string& msg) {
  return n.file + ":" + std::to_string(n.line) + ": error: Node/" + n.name + ": " + msg;
}

}  // namespace

bool NodeNetworkChanged(const NodeState& a, const NodeState& b) {
  return a.index != b.index || a.pod_cidr != b.pod_cidr || a.netns != b.netns ||
         a.underlay_ip != b.underlay_ip;
}

bool PodNetworkChanged(const PodState& a, const PodState& b) {
  return a.node != b.node || a.ip != b.ip || a.netns != b.netns || a.uid != b.uid ||
         a.host_network != b.host_network;
}

Plan MakePlan(const Desired& desired, const State& current, const Naming& naming) {
  Plan plan;
  auto underlay = Cidr::Parse(current.underlay);
  if (!underlay) {
    plan.errors.push_back("underlay \"" + current.underlay + "\" is not an IPv4 prefix");
    return plan;
  }
  const uint64_t max_nodes = underlay->size() >= 4 ? underlay->size() - 3 : 0;

  // ---- Nodes ----
  struct Slot {
    const DesiredNode* want;
    const NodeState* have;  // may be null
    std::optional<Cidr> cidr;
    int index = -1;
    bool assigned = false;
  };
  std::vector<Slot> slots;
  for (const auto& [name, want] : desired.nodes) {
    slots.push_back({&want, current.FindNode(name), std::nullopt, -1, false});
  }
  std::vector<std::pair<Cidr, std::string>> reserved;  // CIDR, owner node
  auto overlapping = [&](const Cidr& c) -> std::string {
    if (c.Overlaps(*underlay)) return "the underlay " + underlay->ToString();
    for (const auto& [r, owner] : reserved) {
      if (c.Overlaps(r)) return "node " + owner + "'s " + r.ToString();
    }
    return "";
  };
  std::set<int> used_index;
  std::vector<std::string> dropped;  // nodes with errors
  // Existing nodes first keep what they have, then new or changed given CIDRs, then the rest
  // are assigned.
  for (int pass = 0; pass < 2; ++pass) {
    for (auto& s : slots) {
      if (!s.want) continue;
      bool existing_kept =
          s.have && (s.want->pod_cidr.empty() || s.want->pod_cidr == s.have->pod_cidr);
      if ((pass == 0) != existing_kept) continue;
      if (existing_kept) {
        s.cidr = Cidr::Parse(s.have->pod_cidr);
        s.assigned = s.want->pod_cidr.empty();
      } else if (!s.want->pod_cidr.empty()) {
        s.cidr = Cidr::Parse(s.want->pod_cidr);
      }
      if (s.cidr) {
        if (auto who = overlapping(*s.cidr); !who.empty()) {
          plan.errors.push_back(
              NodeError(*s.want, "spec.podCIDR " + s.cidr->ToString() + " overlaps " + who));
          s.want = nullptr;
          continue;
        }
        reserved.emplace_back(*s.cidr, s.want->name);
      }
      if (s.have && !used_index.contains(s.have->index)) {
        s.index = s.have->index;
        used_index.insert(s.index);
      }
    }
  }
  for (auto& s : slots) {
    if (!s.want || s.index >= 0) continue;
    int i = 0;
    while (used_index.contains(i)) ++i;
    if (i > kMaxNodeIndex || static_cast<uint64_t>(i) >= max_nodes) {
      plan.errors.push_back(
          NodeError(*s.want, "no room for another node in the underlay " + underlay->ToString()));
      if (s.cidr) {
        std::erase_if(reserved, [&](const auto& r) { return r.second == s.want->name; });
      }
      s.want = nullptr;
      continue;
    }
    s.index = i;
    used_index.insert(i);
  }
  for (auto& s : slots) {
    if (!s.want || s.cidr) continue;
    for (int k = 0; k < 256 && !s.cidr; ++k) {
      Cidr c{(10u << 24) | (244u << 16) | (static_cast<uint32_t>((s.index + k) % 256) << 8), 24};
      if (overlapping(c).empty()) s.cidr = c;
    }
    if (!s.cidr) {
      plan.errors.push_back(NodeError(*s.want, "no free /24 left in 10.244.0.0/16"));
      s.want = nullptr;
      continue;
    }
    s.assigned = true;
    reserved.emplace_back(*s.cidr, s.want->name);
  }
  for (const auto& s : slots) {
    if (!s.want) continue;
    NodeState n;
    if (s.have) n.agent = s.have->agent;
    n.name = s.want->name;
    n.index = s.index;
    n.netns = naming.NodeNetns(n.name);
    n.host_veth = naming.NodeHostVeth(n.index);
    n.underlay_ip = FormatIpv4(underlay->At(2 + static_cast<uint64_t>(n.index)));
    n.pod_cidr = s.cidr->ToString();
    n.pod_cidr_assigned = s.assigned;
    n.bridge_ip = FormatIpv4(s.cidr->At(1));
    n.cgroup = current.cgroup2 + "/" + naming.NodeCgroup(n.name);
    n.bpf_root = naming.NodeBpfRoot(n.name);
    n.run_dir = naming.NodeRunDir(n.name);
    n.node_cert = n.run_dir + "/node.crt";
    n.node_key = n.run_dir + "/node.key";
    n.labels = s.want->labels;
    if (s.have) n.kubeconfig = s.have->kubeconfig;
    plan.nodes.push_back(std::move(n));
  }

  // ---- Pods ----
  std::map<std::string, const NodeState*> nodes;
  for (const auto& n : plan.nodes) nodes[n.name] = &n;
  std::map<std::string, std::set<uint32_t>> taken;  // node -> IPs
  std::map<std::string, std::string> netns_owner;
  struct PodSlot {
    const DesiredPod* want;
    const PodState* have;
    const NodeState* node;
    std::optional<uint32_t> ip;
  };
  std::vector<PodSlot> pods;
  for (const auto& [key, want] : desired.pods) {
    auto it = nodes.find(want.node);
    if (it == nodes.end()) {
      bool known = desired.nodes.contains(want.node);
      plan.errors.push_back(PodError(
          want, "spec.nodeName: " + (known ? "node \"" + want.node + "\" has errors"
                                           : "no Node \"" + want.node + "\" in " + current.dir)));
      continue;
    }
    std::optional<uint32_t> ip;
    if (want.host_network) {
      ip = ParseIpv4(it->second->underlay_ip);  // the node's netns and address
    } else {
      std::string netns = naming.PodNetns(want.ns, want.name);
      if (auto o = netns_owner.find(netns); o != netns_owner.end()) {
        plan.errors.push_back(
            PodError(want, "its netns name " + netns + " is already that of Pod " + o->second));
        continue;
      }
      netns_owner[netns] = key;
    }
    pods.push_back({&want, current.FindPod(want.ns, want.name), it->second, ip});
  }
  auto usable = [&](const PodSlot& p, uint32_t ip) {
    auto cidr = Cidr::Parse(p.node->pod_cidr);
    return cidr->IsHost(ip) && ip != cidr->At(1) && !taken[p.node->name].contains(ip);
  };
  // Pass 0: existing pods keep their address; pass 1: given addresses; pass 2: assigned.
  for (int pass = 0; pass < 3; ++pass) {
    for (auto& p : pods) {
      if (!p.want || p.ip) continue;
      auto cidr = Cidr::Parse(p.node->pod_cidr);
      if (pass == 0) {
        if (!p.have || p.have->node != p.want->node || p.have->uid != p.want->uid) continue;
        if (!p.want->ip.empty() && p.want->ip != p.have->ip) continue;
        auto ip = ParseIpv4(p.have->ip);
        if (ip && usable(p, *ip)) p.ip = ip;
      } else if (pass == 1) {
        if (p.want->ip.empty()) continue;
        auto ip = ParseIpv4(p.want->ip);
        if (!ip || !cidr->IsHost(*ip) || *ip == cidr->At(1)) {
          plan.errors.push_back(PodError(*p.want, "status.podIP " + p.want->ip +
                                                      " is not a pod address of node " +
                                                      p.node->name + " (" + cidr->ToString() +
                                                      ", gateway " + p.node->bridge_ip + ")"));
          p.want = nullptr;
          continue;
        }
        if (!usable(p, *ip)) {
          plan.errors.push_back(
              PodError(*p.want, "status.podIP " + p.want->ip + " is already used by another pod"));
          p.want = nullptr;
          continue;
        }
        p.ip = ip;
      } else {
        // The lowest free address; for a pod of the API server the first free one after the
        // node's last given (wrapping), so that a deleted pod's address is not reused at once.
        uint64_t first = 2, count = cidr->size() > 3 ? cidr->size() - 3 : 0;
        const NodeState* have_node = current.FindNode(p.node->name);
        if (!p.want->uid.empty() && have_node && !have_node->last_pod_ip.empty()) {
          if (auto last = ParseIpv4(have_node->last_pod_ip); last && cidr->Contains(*last)) {
            first = *last - cidr->At(0) + 1;
          }
        }
        for (uint64_t k = 0; k < count; ++k) {
          uint64_t n = 2 + (first - 2 + k) % count;
          if (usable(p, cidr->At(n))) {
            p.ip = cidr->At(n);
            break;
          }
        }
        if (!p.ip) {
          plan.errors.push_back(PodError(*p.want, "no free address left in " + cidr->ToString()));
          p.want = nullptr;
          continue;
        }
      }
      if (p.ip) taken[p.node->name].insert(*p.ip);
    }
  }
  for (const auto& p : pods) {
    if (!p.want) continue;
    PodState s;
    if (p.have) s.process = p.have->process;
    s.ns = p.want->ns;
    s.name = p.want->name;
    s.node = p.want->node;
    s.host_network = p.want->host_network;
    s.netns = s.host_network ? p.node->netns : naming.PodNetns(s.ns, s.name);
    s.veth = s.host_network ? "" : Naming::PodNodeVeth(s.ns, s.name);
    s.ip = FormatIpv4(*p.ip);
    s.ip_assigned = p.want->ip.empty() && !s.host_network;
    s.cgroup = current.cgroup2 + "/" + naming.PodCgroup(s.node, s.ns, s.name);
    s.run = p.want->run;
    s.file = p.want->file;
    s.gateway = p.want->gateway;
    if (!p.want->uid.empty()) {  // Kubernetes mode: <node>/pod<uid>/<container>
      s.uid = p.want->uid;
      s.pod_cgroup = current.cgroup2 + "/" + naming.KubePodCgroup(s.node, s.uid);
      s.cgroup = s.pod_cgroup + "/" + p.want->container;
      s.workload = p.want->workload;
      s.container = p.want->container;
      s.image = p.want->image;
      s.restart_policy = p.want->restart_policy;
    }
    plan.pods.push_back(std::move(s));
  }
  return plan;
}

}  // namespace weft::cluster
