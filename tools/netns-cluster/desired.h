#pragma once

// What DIR asks for: the Nodes and Pods of the Kubernetes-shaped YAML, read with the project's
// loader (core/source) and decoders. Every other kind is the agent's business and ignored here.

#include <map>
#include <string>
#include <vector>

namespace weft::cluster {

inline constexpr char kRunAnnotation[] = "weft.dev/run";

struct DesiredNode {
  std::string name;
  std::string pod_cidr;  // spec.podCIDR; empty = assign one.
  std::string file;
  int line = 0;
  bool operator==(const DesiredNode&) const = default;
};

struct DesiredPod {
  std::string ns;
  std::string name;
  std::string node;  // spec.nodeName (required)
  std::string ip;    // the first IPv4 of status.podIP(s); empty = assign one.
  std::string run;   // annotation weft.dev/run; empty = no process.
  std::string service_account;
  std::string file;
  int line = 0;
  std::string key() const { return ns + "/" + name; }
  bool operator==(const DesiredPod&) const = default;
};

struct Desired {
  std::map<std::string, DesiredNode> nodes;  // by name
  std::map<std::string, DesiredPod> pods;    // by "namespace/name"
  std::vector<std::string> errors;           // about Node and Pod documents
  std::vector<std::string> warnings;         // documents that could not be read at all
};

// Reads DIR (recursively, *.yaml/*.yml/*.json). A Node or Pod whose document is broken or
// invalid is reported in `errors`; if `previous` (the last good result) has it, that version
// is kept, so that a bad edit never tears a running pod down. The same holds for every
// resource of a file that cannot be read or has a document of unknown kind, and for all of
// them while DIR itself is missing.
Desired LoadDesired(const std::string& dir, const Desired* previous = nullptr);

}  // namespace weft::cluster
