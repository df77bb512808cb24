#pragma once

// JSON for the admin endpoint and `weftctl node bpf`.

#include <nlohmann/json.hpp>

#include "agent/datapath/types.h"

namespace weft::agent::datapath {

nlohmann::json ToJson(const BpfDump& dump);
nlohmann::json ToJson(const std::vector<MapUsageEntry>& usage);

}  // namespace weft::agent::datapath
