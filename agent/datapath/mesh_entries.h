#pragma once

// What a snapshot asks of the BPF maps: the weft_svc_v1 entries every node's agent writes and
// the pods each node's agent enrolls (docs/datapath.md). Shared by the agent, which writes
// them, and `weftctl explain`, which shows them.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "agent/datapath/types.h"
#include "weft/config/v1/snapshot.pb.h"

namespace weft::agent::datapath {

// Ids in the maps are for telemetry and `weftctl explain`; hashing the name keeps them stable
// across snapshots, so an unrelated change never rewrites an entry.
uint32_t StableId(const std::string& name);

// The mesh destinations (weft_svc_v1 entries) a snapshot asks for: every Service VIP:port,
// and every address of a workload in the mesh (captured whatever the port).
std::vector<ServiceEntry> MeshDestinations(const config::v1::MeshSnapshot& snapshot);

// The pods of `node` that the snapshot enrolls (dataplane mode ambient), by uid.
std::map<std::string, const config::v1::Workload*> EnrolledWorkloads(
    const config::v1::MeshSnapshot& snapshot, const std::string& node);

}  // namespace weft::agent::datapath
