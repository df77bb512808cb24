#pragma once

// `down`: removes everything a cluster made, from its state file and, for what a crash may
// have left unrecorded, by name prefix (netns <prefix>node-*, <prefix>pod-*, links
// <prefix>n<digits> and <prefix>br0, the cgroup tree <cgroup2>/<base>). Idempotent.

#include <optional>
#include <ostream>
#include <string>

#include "tools/netns-cluster/control.h"
#include "tools/netns-cluster/naming.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

struct TeardownOptions {
  bool keep_logs = false;
  std::string cgroup2;  // used when there is no state file
};

// Returns the number of objects removed (0: there was nothing). Prints what it does to `out`.
int Teardown(const Naming& naming, const StatePaths& paths, const std::optional<State>& state,
             const TeardownOptions& options, std::ostream& out);

// True when anything of the cluster exists (state file, netns, links or cgroups by prefix).
bool AnythingLeft(const Naming& naming, const StatePaths& paths, const std::string& cgroup2);

}  // namespace weft::cluster
