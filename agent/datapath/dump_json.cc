#include "agent/datapath/dump_json.h"

namespace weft::agent::datapath {

nlohmann::json ToJson(const BpfDump& dump) {
  nlohmann::json maps = nlohmann::json::array();
  for (const MapTable& t : dump.maps) {
    maps.push_back({{"map", t.map},
                    {"type", t.type},
                    {"capacity", t.capacity},
                    {"entries", t.rows.size()},
                    {"rows", t.rows}});
  }
  nlohmann::json counters = nlohmann::json::array();
  for (const CounterValue& c : dump.counters) {
    counters.push_back({{"program", c.program}, {"verdict", c.verdict}, {"value", c.value}});
  }
  return {{"bpf_root", dump.bpf_root}, {"maps", maps}, {"counters", counters}};
}

nlohmann::json ToJson(const std::vector<MapUsageEntry>& usage) {
  nlohmann::json out = nlohmann::json::array();
  for (const MapUsageEntry& u : usage) {
    out.push_back({{"map", u.map}, {"entries", u.entries}, {"capacity", u.capacity}});
  }
  return out;
}

}  // namespace weft::agent::datapath
