#pragma once

// The agent's typed access to the data-path maps and per-netns links. The real implementation
// is BpfMapWriter (bpf_map_writer.h), owned by a Datapath; unit tests of the agent replace it.
// Implementations are safe to call from several threads.

#include <sys/socket.h>

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/datapath/types.h"

namespace weft::agent::datapath {

class MapWriter {
 public:
  virtual ~MapWriter() = default;

  // ---- weft_svc_v1: mesh destinations -------------------------------------------------------
  // Inserts or replaces. ResourceExhausted when the map is full.
  virtual absl::Status UpsertService(const ServiceEntry& entry) = 0;
  // Removing an absent key is not an error.
  virtual absl::Status DeleteService(const ServiceKey& key) = 0;
  // Everything in the map, sorted by key.
  virtual absl::StatusOr<std::vector<ServiceEntry>> ListServices() = 0;

  // ---- weft_netns_v1: enrolled netns ------------------------------------------------------
  // Capture starts for sockets of the netns with the next connect(). Enroll only once the
  // netns's proxy listeners are open: a captured connect() to no listener is refused.
  virtual absl::Status Enroll(uint64_t netns_cookie, uint32_t flags) = 0;
  virtual absl::Status Unenroll(uint64_t netns_cookie) = 0;
  virtual absl::StatusOr<std::vector<EnrolledNetns>> ListEnrolled() = 0;

  // ---- inbound (sk_lookup) ----------------------------------------------------------------
  // Makes listener_fd (a listening TCP socket inside the pod's netns, on :15006) the target
  // for connections to pod_addr. The map holds a reference to the socket, not the fd; closing
  // the socket removes the entry.
  virtual absl::Status RegisterInboundListener(const IpAddr& pod_addr, int listener_fd) = 0;
  virtual absl::Status UnregisterInboundListener(const IpAddr& pod_addr) = 0;
  // Attaches the steering program to the netns behind netns_fd (an open /proc/<pid>/ns/net or
  // /run/netns/<name>); the link is pinned as <bpf_root>/links/netns-<cookie>, so it outlives
  // the agent. AlreadyExists when that netns already has one.
  virtual absl::Status AttachInbound(int netns_fd, uint64_t netns_cookie) = 0;
  // Detaches and unpins; NotFound when there is no link for the cookie.
  virtual absl::Status DetachInbound(uint64_t netns_cookie) = 0;
  virtual absl::StatusOr<std::vector<InboundLink>> ListInboundLinks() = 0;

  // ---- weft_conndst_v1 ----------------------------------------------------------------------
  // The original destination of the connection the proxy accepted on a listener of netns
  // netns_cookie from peer (getpeername of the accepted socket). Removes the entry. NotFound
  // when there is none: the proxy must then close the connection (never guess).
  virtual absl::StatusOr<OriginalDestination> TakeOriginalDestination(uint64_t netns_cookie,
                                                                      const sockaddr* peer,
                                                                      socklen_t peer_len) = 0;

  // ---- observation ------------------------------------------------------------------------
  // Every verdict of every program, zeros included, in enum order.
  virtual absl::StatusOr<std::vector<CounterValue>> ReadCounters() = 0;
  virtual absl::StatusOr<std::vector<MapUsageEntry>> MapUsage() = 0;
  virtual absl::StatusOr<BpfDump> DumpMaps() = 0;
};

}  // namespace weft::agent::datapath
