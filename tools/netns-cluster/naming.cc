#include "tools/netns-cluster/naming.h"

#include <cstdio>

#include "absl/status/status.h"

namespace weft::cluster {

namespace {

bool IsLowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

uint32_t Fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

}  // namespace

absl::StatusOr<Naming> Naming::For(std::string_view cluster) {
  Naming n;
  if (cluster.empty()) {
    n.prefix_ = "weft-";
    n.base_ = "weft";
    return n;
  }
  if (cluster.size() > 5) {
    return absl::InvalidArgumentError("cluster name \"" + std::string(cluster) +
                                      "\" is too long: at most 5 characters (interface names "
                                      "are limited to 15)");
  }
  for (char c : cluster) {
    if (!IsLowerAlnum(c)) {
      return absl::InvalidArgumentError("cluster name \"" + std::string(cluster) +
                                        "\": only a-z and 0-9 are allowed");
    }
  }
  if (cluster == "node" || cluster == "pod") {
    return absl::InvalidArgumentError("cluster name \"" + std::string(cluster) + "\" is reserved");
  }
  n.cluster_ = cluster;
  n.prefix_ = "weft-" + n.cluster_ + "-";
  n.base_ = "weft-" + n.cluster_;
  return n;
}

std::string Naming::NodeNetns(std::string_view node) const {
  return NodeNetnsPrefix() + std::string(node);
}

std::string Naming::PodNetns(std::string_view ns, std::string_view name) const {
  return PodNetnsPrefix() + std::string(ns) + "-" + std::string(name);
}

std::string Naming::NodeHostVeth(int index) const {
  return prefix_ + "n" + std::to_string(index);
}

bool Naming::IsNodeHostVeth(std::string_view link) const {
  std::string p = prefix_ + "n";
  if (!StartsWith(link, p) || link.size() == p.size()) return false;
  for (char c : link.substr(p.size())) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

std::string Naming::PodNodeVeth(std::string_view ns, std::string_view name) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "veth%08x", Fnv1a(std::string(ns) + "/" + std::string(name)));
  return buf;
}

std::string Naming::NodeCgroup(std::string_view node) const {
  return base_ + "/" + std::string(node);
}

std::string Naming::PodCgroup(std::string_view node, std::string_view ns,
                              std::string_view name) const {
  return NodeCgroup(node) + "/" + std::string(ns) + "_" + std::string(name);
}

std::string Naming::KubePodCgroup(std::string_view node, std::string_view uid) const {
  return NodeCgroup(node) + "/pod" + std::string(uid);
}

std::string Naming::NodeBpfRoot(std::string_view node) const {
  return BpfBase() + "/" + std::string(node);
}

std::string Naming::ClusterRunDir() const {
  return cluster_.empty() ? "/run/weft/cluster" : "/run/weft/cluster-" + cluster_;
}

std::string Naming::RunBase() const {
  return ClusterRunDir() + "/nodes";
}

std::string Naming::NodeRunDir(std::string_view node) const {
  return RunBase() + "/" + std::string(node);
}

std::string Naming::DefaultStatePath() const {
  return cluster_.empty() ? "/run/weft/cluster/state.json"
                          : "/run/weft/cluster-" + cluster_ + "/state.json";
}

bool IsValidObjectName(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name) {
    if (!IsLowerAlnum(c) && c != '-' && c != '.') return false;
  }
  return IsLowerAlnum(name.front()) && IsLowerAlnum(name.back());
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace weft::cluster
