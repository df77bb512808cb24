#pragma once

// `weft-agent ca`: the CA server process of local mode. Loads the root from files, follows
// the local directory with the same ConfigStore + DirectoryWatcher as the agents (to answer
// "is a pod with this namespace and service account on that node?"), and serves CaServer
// until SIGTERM/SIGINT.

#include <chrono>
#include <string>
#include <string_view>

#include "agent/identity/ca_server.h"
#include "agent/source/config_store.h"

namespace weft::agent {

struct CaDaemonOptions {
  std::string listen = "0.0.0.0:15012";  // IP:port
  std::string root_cert_file, root_key_file;
  std::string local_dir;
  std::string trust_domain;  // empty: from the root's SAN
  std::chrono::seconds max_ttl = std::chrono::hours(24);
};

// True when the snapshot has a pod of namespace `ns` with service account `sa` on `node`.
bool SnapshotHasPod(const policy::pb::MeshSnapshot& snapshot, std::string_view node,
                    std::string_view ns, std::string_view sa);

// Runs until SIGTERM/SIGINT. Returns the exit code.
int RunCaDaemon(const CaDaemonOptions& options);

}  // namespace weft::agent
