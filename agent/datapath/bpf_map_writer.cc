#include "agent/datapath/bpf_map_writer.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "agent/datapath/bpf_util.h"
#include "agent/datapath/verdicts.h"
#include "bpf/abi/inbound_steer.h"
#include "bpf/abi/sock_connect.h"
#include "bpf/abi/sock_ops.h"

namespace weft::agent::datapath {
namespace {

constexpr size_t kMaxDumpRows = 10000;

const char* const kNetns = WEFT_MAP_NAME(WEFT_MAP_ENROLLED_NETNS);
const char* const kSvc = WEFT_MAP_NAME(WEFT_MAP_SERVICES);
const char* const kOdst = WEFT_MAP_NAME(WEFT_MAP_ORIG_DST);
const char* const kConnDst = WEFT_MAP_NAME(WEFT_MAP_CONN_DST);
const char* const kSocks = WEFT_MAP_NAME(WEFT_MAP_SOCKS);
const char* const kInbound = WEFT_MAP_NAME(WEFT_MAP_INBOUND);

IpAddr FromBytes(const uint8_t* b) {
  IpAddr a;
  memcpy(a.bytes.data(), b, 16);
  return a;
}

weft_service_key ToKey(const ServiceKey& k) {
  weft_service_key key{};
  memcpy(key.addr, k.addr.bytes.data(), 16);
  key.port = htons(k.port);
  key.proto = k.proto;
  return key;
}

DestinationKind KindOf(uint32_t flags) {
  return (flags & WEFT_SVC_F_WORKLOAD) && !(flags & WEFT_SVC_F_VIP) ? DestinationKind::kWorkload
                                                                    : DestinationKind::kVip;
}

std::string Endpoint(const uint8_t* addr, __be16 port) {
  IpAddr a = FromBytes(addr);
  std::string p = absl::StrCat(ntohs(port));
  return a.is_v4() ? absl::StrCat(a.ToString(), ":", p) : absl::StrCat("[", a.ToString(), "]:", p);
}

std::string KindName(uint32_t flags) {
  return KindOf(flags) == DestinationKind::kWorkload ? "workload" : "vip";
}

absl::StatusOr<int> Need(const BpfHandles& h, const char* name) {
  int fd = h.map(name);
  if (fd < 0) return absl::FailedPreconditionError(absl::StrCat("map ", name, " is not loaded"));
  return fd;
}

}  // namespace

int BpfHandles::map(const char* name) const {
  auto it = maps.find(name);
  return it == maps.end() ? -1 : it->second;
}

std::string BpfHandles::LinkPin(const std::string& name) const {
  return bpf_root.empty() ? "" : absl::StrCat(bpf_root, "/", WEFT_BPF_LINK_SUBDIR, "/", name);
}

std::string NetnsLinkName(uint64_t netns_cookie) {
  return absl::StrCat("netns-", netns_cookie);
}

// ---- services ---------------------------------------------------------------------------------

absl::Status BpfMapWriter::UpsertService(const ServiceEntry& entry) {
  auto fd = Need(*h_, kSvc);
  if (!fd.ok()) return fd.status();
  if (entry.kind == DestinationKind::kWorkload && entry.key.port != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("workload entry ", entry.key.ToString(), " must have port 0"));
  }
  weft_service_key key = ToKey(entry.key);
  weft_service_value value{};
  value.service_id = entry.service_id;
  value.flags = entry.kind == DestinationKind::kWorkload ? WEFT_SVC_F_WORKLOAD : WEFT_SVC_F_VIP;
  if (bpf_map_update_elem(*fd, &key, &value, BPF_ANY) != 0) {
    return ErrnoStatus(errno, absl::StrCat("update ", kSvc, " ", entry.key.ToString()));
  }
  return absl::OkStatus();
}

absl::Status BpfMapWriter::DeleteService(const ServiceKey& k) {
  auto fd = Need(*h_, kSvc);
  if (!fd.ok()) return fd.status();
  weft_service_key key = ToKey(k);
  if (bpf_map_delete_elem(*fd, &key) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("delete ", kSvc, " ", k.ToString()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ServiceEntry>> BpfMapWriter::ListServices() {
  auto fd = Need(*h_, kSvc);
  if (!fd.ok()) return fd.status();
  std::vector<ServiceEntry> out;
  absl::Status st = ForEachKey(*fd, sizeof(weft_service_key), [&](const std::vector<uint8_t>& k) {
    weft_service_key key;
    memcpy(&key, k.data(), sizeof(key));
    weft_service_value value{};
    if (bpf_map_lookup_elem(*fd, &key, &value) != 0) return true;  // deleted meanwhile
    out.push_back(ServiceEntry{ServiceKey{FromBytes(key.addr), ntohs(key.port), key.proto},
                               value.service_id, KindOf(value.flags)});
    return true;
  });
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end(),
            [](const ServiceEntry& a, const ServiceEntry& b) { return a.key < b.key; });
  return out;
}

// ---- enrollment -------------------------------------------------------------------------------

absl::Status BpfMapWriter::Enroll(uint64_t netns_cookie, uint32_t flags) {
  auto fd = Need(*h_, kNetns);
  if (!fd.ok()) return fd.status();
  weft_enrolled_netns value{};
  value.flags = flags;
  if (bpf_map_update_elem(*fd, &netns_cookie, &value, BPF_ANY) != 0) {
    return ErrnoStatus(errno, absl::StrCat("enroll netns ", netns_cookie));
  }
  return absl::OkStatus();
}

absl::Status BpfMapWriter::Unenroll(uint64_t netns_cookie) {
  auto fd = Need(*h_, kNetns);
  if (!fd.ok()) return fd.status();
  if (bpf_map_delete_elem(*fd, &netns_cookie) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("unenroll netns ", netns_cookie));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<EnrolledNetns>> BpfMapWriter::ListEnrolled() {
  auto fd = Need(*h_, kNetns);
  if (!fd.ok()) return fd.status();
  std::vector<EnrolledNetns> out;
  absl::Status st = ForEachKey(*fd, sizeof(uint64_t), [&](const std::vector<uint8_t>& k) {
    uint64_t cookie;
    memcpy(&cookie, k.data(), sizeof(cookie));
    weft_enrolled_netns value{};
    if (bpf_map_lookup_elem(*fd, &cookie, &value) == 0) out.push_back({cookie, value.flags});
    return true;
  });
  if (!st.ok()) return st;
  std::sort(out.begin(), out.end(), [](const EnrolledNetns& a, const EnrolledNetns& b) {
    return a.netns_cookie < b.netns_cookie;
  });
  return out;
}

// ---- inbound ----------------------------------------------------------------------------------

absl::Status BpfMapWriter::RegisterInboundListener(const IpAddr& pod_addr, int listener_fd) {
  auto fd = Need(*h_, kInbound);
  if (!fd.ok()) return fd.status();
  weft_inbound_key key{};
  memcpy(key.addr, pod_addr.bytes.data(), 16);
  uint64_t sock = static_cast<uint64_t>(listener_fd);
  if (bpf_map_update_elem(*fd, &key, &sock, BPF_ANY) != 0) {
    return ErrnoStatus(errno, absl::StrCat("register inbound listener for ", pod_addr.ToString()));
  }
  return absl::OkStatus();
}

absl::Status BpfMapWriter::UnregisterInboundListener(const IpAddr& pod_addr) {
  auto fd = Need(*h_, kInbound);
  if (!fd.ok()) return fd.status();
  weft_inbound_key key{};
  memcpy(key.addr, pod_addr.bytes.data(), 16);
  if (bpf_map_delete_elem(*fd, &key) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("unregister inbound listener ", pod_addr.ToString()));
  }
  return absl::OkStatus();
}

absl::Status BpfMapWriter::AttachInbound(int netns_fd, uint64_t netns_cookie) {
  std::string name = NetnsLinkName(netns_cookie);
  std::string pin = h_->LinkPin(name);
  std::lock_guard<std::mutex> lock(h_->netns_mu);
  if (h_->netns_links.count(netns_cookie) != 0 || (!pin.empty() && PathExists(pin))) {
    return absl::AlreadyExistsError(absl::StrCat("netns ", netns_cookie, " already has a link"));
  }
  int link = bpf_link_create(h_->steer_prog_fd, netns_fd, BPF_SK_LOOKUP, nullptr);
  if (link < 0) return ErrnoStatus(errno, absl::StrCat("attach sk_lookup to netns ", netns_cookie));
  if (!pin.empty() && bpf_obj_pin(link, pin.c_str()) != 0) {
    int err = errno;
    close(link);  // not pinned: closing detaches
    return ErrnoStatus(err, absl::StrCat("pin ", pin));
  }
  h_->netns_links[netns_cookie] = link;
  return absl::OkStatus();
}

absl::Status BpfMapWriter::DetachInbound(uint64_t netns_cookie) {
  std::string pin = h_->LinkPin(NetnsLinkName(netns_cookie));
  std::lock_guard<std::mutex> lock(h_->netns_mu);
  int link = -1;
  if (auto it = h_->netns_links.find(netns_cookie); it != h_->netns_links.end()) {
    link = it->second;
    h_->netns_links.erase(it);
  } else if (!pin.empty()) {
    link = bpf_obj_get(pin.c_str());
  }
  if (link < 0)
    return absl::NotFoundError(absl::StrCat("no sk_lookup link for netns ", netns_cookie));
  // Detach first: another process may hold the link open, and then close() would not.
  bpf_link_detach(link);
  close(link);
  if (!pin.empty() && unlink(pin.c_str()) != 0 && errno != ENOENT) {
    return ErrnoStatus(errno, absl::StrCat("unpin ", pin));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<InboundLink>> BpfMapWriter::ListInboundLinks() {
  std::vector<InboundLink> out;
  std::lock_guard<std::mutex> lock(h_->netns_mu);
  for (const auto& [cookie, fd] : h_->netns_links) {
    InboundLink l{cookie, 0, 0};
    if (auto info = LinkInfo(fd); info.ok()) {
      l.link_id = info->id;
      l.netns_ino = info->netns.netns_ino;
    }
    out.push_back(l);
  }
  return out;
}

// ---- original destinations --------------------------------------------------------------------

absl::StatusOr<OriginalDestination> BpfMapWriter::TakeOriginalDestination(uint64_t netns_cookie,
                                                                          const sockaddr* peer,
                                                                          socklen_t peer_len) {
  auto fd = Need(*h_, kConnDst);
  if (!fd.ok()) return fd.status();
  auto addr = IpAddr::FromSockaddr(peer, peer_len);
  if (!addr.ok()) return addr.status();
  weft_conn_key key{};
  key.netns_cookie = netns_cookie;
  memcpy(key.addr, addr->bytes.data(), 16);
  key.port = peer->sa_family == AF_INET ? reinterpret_cast<const sockaddr_in*>(peer)->sin_port
                                        : reinterpret_cast<const sockaddr_in6*>(peer)->sin6_port;
  weft_orig_dst value{};
  if (bpf_map_lookup_and_delete_elem(*fd, &key, &value) != 0) {
    return ErrnoStatus(errno, absl::StrCat("original destination of ", addr->ToString(), ":",
                                           ntohs(key.port), " in netns ", netns_cookie));
  }
  return OriginalDestination{FromBytes(value.addr), ntohs(value.port), value.service_id,
                             KindOf(value.flags)};
}

// ---- observation ------------------------------------------------------------------------------

absl::StatusOr<std::vector<CounterValue>> BpfMapWriter::ReadCounters() {
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return ErrnoStatus(-ncpu, "possible CPUs");
  std::vector<uint64_t> per_cpu(static_cast<size_t>(ncpu));
  std::vector<CounterValue> out;
  for (const CounterFamily& family : CounterFamilies()) {
    int fd = h_->map(std::string(family.map).c_str());
    for (uint32_t i = 0; i < family.verdicts.size(); ++i) {
      uint64_t sum = 0;
      if (fd >= 0) {
        if (bpf_map_lookup_elem(fd, &i, per_cpu.data()) != 0) {
          return ErrnoStatus(errno, absl::StrCat("read ", std::string(family.map), "[", i, "]"));
        }
        for (uint64_t c : per_cpu) sum += c;
      }
      out.push_back({std::string(family.program), std::string(family.verdicts[i]), sum});
    }
  }
  return out;
}

absl::StatusOr<std::vector<MapUsageEntry>> BpfMapWriter::MapUsage() {
  std::vector<MapUsageEntry> out;
  for (const auto& [name, fd] : h_->maps) {
    auto info = MapInfo(fd);
    if (!info.ok()) return info.status();
    // Socket storage has no keys to walk (and no capacity): it lives and dies with sockets.
    if (info->type == BPF_MAP_TYPE_SK_STORAGE) continue;
    MapUsageEntry u{name, 0, info->max_entries};
    if (info->type == BPF_MAP_TYPE_ARRAY || info->type == BPF_MAP_TYPE_PERCPU_ARRAY) {
      u.entries = info->max_entries;
    } else {
      absl::Status st = ForEachKey(fd, info->key_size, [&](const std::vector<uint8_t>&) {
        ++u.entries;
        return true;
      });
      if (!st.ok()) return st;
    }
    out.push_back(u);
  }
  return out;
}

absl::StatusOr<BpfDump> BpfMapWriter::DumpMaps() {
  BpfDump dump;
  dump.bpf_root = h_->bpf_root;
  for (const auto& [name, fd] : h_->maps) {
    auto info = MapInfo(fd);
    if (!info.ok()) return info.status();
    if (info->type == BPF_MAP_TYPE_PERCPU_ARRAY) continue;  // in dump.counters, decoded
    if (info->type == BPF_MAP_TYPE_SK_STORAGE) continue;    // keyed by sockets: not walkable
    MapTable t{name, MapTypeName(info->type), info->max_entries, {}};
    std::vector<uint8_t> value(info->value_size);
    absl::Status st = ForEachKey(fd, info->key_size, [&](const std::vector<uint8_t>& k) {
      if (t.rows.size() >= kMaxDumpRows) return false;
      if (bpf_map_lookup_elem(fd, k.data(), value.data()) != 0) return true;
      std::map<std::string, std::string> row;
      if (name == kSvc) {
        weft_service_key key;
        weft_service_value v;
        memcpy(&key, k.data(), sizeof(key));
        memcpy(&v, value.data(), sizeof(v));
        row["destination"] = ServiceKey{FromBytes(key.addr), ntohs(key.port), key.proto}.ToString();
        row["id"] = absl::StrCat(v.service_id);
        row["kind"] = KindName(v.flags);
      } else if (name == kNetns) {
        uint64_t cookie;
        weft_enrolled_netns v;
        memcpy(&cookie, k.data(), sizeof(cookie));
        memcpy(&v, value.data(), sizeof(v));
        row["netns_cookie"] = absl::StrCat(cookie);
        row["flags"] = absl::StrCat(v.flags);
      } else if (name == kOdst || name == kConnDst) {
        weft_orig_dst v;
        memcpy(&v, value.data(), sizeof(v));
        if (name == kOdst) {
          uint64_t cookie;
          memcpy(&cookie, k.data(), sizeof(cookie));
          row["socket_cookie"] = absl::StrCat(cookie);
        } else {
          weft_conn_key key;
          memcpy(&key, k.data(), sizeof(key));
          row["netns_cookie"] = absl::StrCat(key.netns_cookie);
          row["client"] = Endpoint(key.addr, key.port);
        }
        row["original_destination"] = Endpoint(v.addr, v.port);
        row["id"] = absl::StrCat(v.service_id);
        row["kind"] = KindName(v.flags);
      } else if (name == kSocks) {
        weft_sock_key key;
        memcpy(&key, k.data(), sizeof(key));
        row["netns_cookie"] = absl::StrCat(key.netns_cookie);
        row["local"] = Endpoint(key.local_addr, key.local_port);
        row["remote"] = Endpoint(key.remote_addr, key.remote_port);
        uint64_t cookie;
        memcpy(&cookie, value.data(), sizeof(cookie));
        row["socket_cookie"] = absl::StrCat(cookie);
      } else if (name == kInbound) {
        weft_inbound_key key;
        memcpy(&key, k.data(), sizeof(key));
        row["pod_address"] = FromBytes(key.addr).ToString();
        uint64_t cookie;
        memcpy(&cookie, value.data(), sizeof(cookie));
        row["listener_cookie"] = absl::StrCat(cookie);
      } else {
        row["key_bytes"] = absl::StrCat(k.size());
      }
      t.rows.push_back(std::move(row));
      return true;
    });
    if (!st.ok()) return st;
    dump.maps.push_back(std::move(t));
  }
  auto counters = ReadCounters();
  if (!counters.ok()) return counters.status();
  dump.counters = *std::move(counters);
  return dump;
}

}  // namespace weft::agent::datapath
