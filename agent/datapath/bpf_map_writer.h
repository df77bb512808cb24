#pragma once

// MapWriter over the kernel maps and links of a Datapath. Built by Datapath::Open(); the
// handles it works on belong to the Datapath.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

#include "agent/datapath/map_writer.h"

namespace weft::agent::datapath {

// File descriptors the writer uses; owned (closed) by the Datapath.
struct BpfHandles {
  std::map<std::string, int> maps;      // map name -> fd, every non-internal map of every object
  int steer_prog_fd = -1;               // inbound_steer, for per-netns links
  std::string bpf_root;                 // empty: nothing is pinned
  std::mutex netns_mu;                  // guards netns_links (the rest is fixed after Open)
  std::map<uint64_t, int> netns_links;  // netns cookie -> sk_lookup link fd

  int map(const char* name) const;                     // -1 when absent
  std::string LinkPin(const std::string& name) const;  // <root>/links/<name>, "" unpinned
};

// Safe to use from several threads (the proxy's workers take original destinations while the
// control loop writes services): map operations are single syscalls, and the per-netns link
// table has its own lock.
class BpfMapWriter final : public MapWriter {
 public:
  explicit BpfMapWriter(BpfHandles* handles) : h_(handles) {}

  absl::Status UpsertService(const ServiceEntry& entry) override;
  absl::Status DeleteService(const ServiceKey& key) override;
  absl::StatusOr<std::vector<ServiceEntry>> ListServices() override;
  absl::Status Enroll(uint64_t netns_cookie, uint32_t flags) override;
  absl::Status Unenroll(uint64_t netns_cookie) override;
  absl::StatusOr<std::vector<EnrolledNetns>> ListEnrolled() override;
  absl::Status RegisterInboundListener(const IpAddr& pod_addr, int listener_fd) override;
  absl::Status UnregisterInboundListener(const IpAddr& pod_addr) override;
  absl::Status AttachInbound(int netns_fd, uint64_t netns_cookie) override;
  absl::Status DetachInbound(uint64_t netns_cookie) override;
  absl::StatusOr<std::vector<InboundLink>> ListInboundLinks() override;
  absl::StatusOr<OriginalDestination> TakeOriginalDestination(uint64_t netns_cookie,
                                                              const sockaddr* peer,
                                                              socklen_t peer_len) override;
  absl::StatusOr<std::vector<CounterValue>> ReadCounters() override;
  absl::StatusOr<std::vector<MapUsageEntry>> MapUsage() override;
  absl::StatusOr<BpfDump> DumpMaps() override;

 private:
  BpfHandles* h_;
};

// "netns-<cookie>": the pin name of a netns's sk_lookup link.
std::string NetnsLinkName(uint64_t netns_cookie);

}  // namespace weft::agent::datapath
