#pragma once

// ConfigStore: the agent's inputs in local mode, file by file, on top of the policy Compiler.
//
// Each file's resources replace that file's previous ones. A document that fails to decode
// does not remove what the file defined before under the same kind/namespace/name: the last
// good version stays in force until a good one replaces it, as the API server would keep
// the stored object when an apply is rejected. Like the API server, it assigns ClusterIPs to
// Services that have none.
//
// No I/O: DirectoryWatcher feeds it text. Not thread-safe; the agent's control loop owns it.

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/policy/compiler.h"

namespace weft::agent {

struct ConfigStoreOptions {
  policy::CompileOptions compile;
  policy::DecodeOptions decode;
  std::string service_cidr = "10.96.0.0/16";  // IPv4 range for assigned ClusterIPs
};

struct FileResult {
  std::string file;
  size_t resources = 0;  // decoded and in force from this file
  size_t rejected = 0;   // documents with errors
  std::vector<policy::Diagnostic> diagnostics;
};

class ConfigStore {
 public:
  explicit ConfigStore(ConfigStoreOptions options = {});

  // A file was created or changed: `text` is its whole content.
  FileResult ApplyFile(const std::string& file, std::string_view text);
  // A file was deleted: everything it defined goes.
  void RemoveFile(const std::string& file);

  // Local mode's stand-in for the kubelet's status updates: the IPs the cluster gave Pods
  // ("<namespace>/<name>" -> IP). They fill status.podIP of Pods whose YAML has none.
  void SetAssignedPodIps(std::map<std::string, std::string> ips);

  // The current snapshot (recompiles what changed). `generation` counts applied changes.
  const policy::pb::MeshSnapshot& Snapshot();
  uint64_t generation() const { return generation_; }
  std::vector<std::string> files() const;

 private:
  using Key = policy::ResourceKey;
  void AssignClusterIps(std::vector<policy::Resource>& upserts);
  void ReleaseIp(const std::string& service_key);
  void FillPodIps(std::vector<policy::Resource>& upserts) const;

  ConfigStoreOptions options_;
  policy::Compiler compiler_;
  uint64_t generation_ = 0;
  // What each file contributes (its last good resources).
  std::map<std::string, std::map<Key, policy::Resource>> by_file_;
  // Which file owns a key (the first one that defined it).
  std::map<Key, std::string> owner_;
  // ClusterIPs assigned to Services without one: key -> IPv4 text.
  std::map<std::string, std::string> assigned_ips_;
  std::set<uint32_t> used_ips_;
  std::map<std::string, std::string> pod_ips_;
};

// The address local mode assigns: hash of "<namespace>/<name>" into `cidr`, skipping the
// network and broadcast addresses and any in `used` (linear probing).
std::string AssignedClusterIp(const std::string& key, const std::string& cidr,
                              const std::set<uint32_t>& used);

}  // namespace weft::agent
