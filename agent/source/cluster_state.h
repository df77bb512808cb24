#pragma once

// Local mode's stand-in for the kubelet's pod status: tools/cluster writes a state file with the
// IP it gave every pod; the agent and the waypoint read it (ConfigStore::SetAssignedPodIps)
// whenever it changes.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace weft::agent {

class ClusterStateReader {
 public:
  explicit ClusterStateReader(std::string path) : path_(std::move(path)) {}
  // The pod IPs ("<namespace>/<name>" -> IP) when the file changed since the last successful
  // read; nullopt when it did not, is missing, or is being rewritten (read it next time).
  std::optional<std::map<std::string, std::string>> ReadIfChanged();

 private:
  std::string path_;
  int64_t mtime_ = -1;
};

}  // namespace weft::agent
