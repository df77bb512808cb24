// The BPF map entries a snapshot asks for (mesh_entries.h).

#include "agent/datapath/mesh_entries.h"

#include "core/lb/balancer.h"

namespace weft::agent::datapath {

namespace pb = ::weft::config::v1;

uint32_t StableId(const std::string& name) {
  return static_cast<uint32_t>(lb::StableHash(name) & 0x7fffffff);
}

std::vector<ServiceEntry> MeshDestinations(const pb::MeshSnapshot& snapshot) {
  std::map<ServiceKey, ServiceEntry> out;
  for (const auto& svc : snapshot.services()) {
    uint32_t id = StableId(svc.hostname());
    for (const auto& vip : svc.vips()) {
      auto addr = IpAddr::Parse(vip);
      if (!addr.ok()) continue;  // a ServiceEntry CIDR: not captured by address yet
      for (const auto& p : svc.ports()) {
        if (p.protocol() != "TCP") continue;
        auto e = ServiceEntry::Vip(*addr, static_cast<uint16_t>(p.port()), id);
        out.emplace(e.key, e);
      }
    }
  }
  for (const auto& w : snapshot.workloads()) {
    if (w.dataplane_mode() != pb::DATAPLANE_MODE_AMBIENT) continue;
    for (const auto& a : w.addresses()) {
      auto addr = IpAddr::Parse(a);
      if (!addr.ok()) continue;
      auto e = ServiceEntry::Workload(*addr, StableId(w.uid()));
      out.emplace(e.key, e);
    }
  }
  std::vector<ServiceEntry> v;
  for (auto& [k, e] : out) v.push_back(e);
  return v;
}

std::map<std::string, const pb::Workload*> EnrolledWorkloads(const pb::MeshSnapshot& snapshot,
                                                             const std::string& node) {
  std::map<std::string, const pb::Workload*> out;
  for (const auto& w : snapshot.workloads()) {
    if (w.node() == node && w.dataplane_mode() == pb::DATAPLANE_MODE_AMBIENT) out[w.uid()] = &w;
  }
  return out;
}

}  // namespace weft::agent::datapath
