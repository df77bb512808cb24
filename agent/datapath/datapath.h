#pragma once

// Loads, pins, attaches and adopts weft's BPF programs and maps (docs/bpf.md, "The loader").
//
// Open() loads the four objects (sock_connect, sock_ops, inbound_steer and, with sockmap
// acceleration, sock_accel) with one shared instance of every map, pins the maps under
// Settings::bpf_root and attaches every program through a bpf_link pinned under
// <bpf_root>/links. When the pins already exist (an agent restart or upgrade), it adopts them:
// the pinned maps are reused with their contents, and each pinned link stays attached and gets
// the freshly loaded program atomically (bpf_link_update), so capture never stops.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/datapath/map_writer.h"

namespace weft::agent::datapath {

struct Settings {
  // bpffs directory for pins. Empty: nothing is pinned, and maps and links live only as long
  // as the Datapath (tests).
  std::string bpf_root = "/sys/fs/bpf/weft";
  // cgroup v2 directory holding the pods (connect4/6, sock_release, sockops attach here). The
  // proxy's sockets must be in it too for sockops to accelerate the proxy's end.
  std::string cgroup_path;

  // Capacities (max_entries). Used when maps are created; adopted maps keep their own.
  uint32_t max_services = 65536;      // Service VIP:port entries
  uint32_t max_workloads = 262144;    // workload IP entries (weft_svc_v1 holds both)
  uint32_t max_pods = 16384;          // enrolled netns; inbound listeners = 2x (v4 + v6)
  uint32_t max_connections = 262144;  // weft_odst_v1, weft_conndst_v1; sockhash = 2x

  bool sockmap_accel = true;       // sockops fills weft_socks_v1 and sk_msg is attached
  bool inbound_fail_open = false;  // sk_lookup with no listener: refuse (false) or pass

  uint16_t outbound_port = 15001;
  uint16_t inbound_port = 15006;
  uint16_t hbone_port = 15008;
  uint32_t proxy_mark = 0x539;
};

// A program's link as found in the kernel, for tests and `weftctl node bpf`.
struct LinkStatus {
  std::string name;  // program name; pin file name under links/
  uint32_t link_id = 0;
  uint32_t prog_id = 0;
  bool pinned = false;
};

class Datapath {
 public:
  static absl::StatusOr<std::unique_ptr<Datapath>> Open(const Settings& settings);
  ~Datapath();  // Close(/*unpin=*/false)

  Datapath(const Datapath&) = delete;
  Datapath& operator=(const Datapath&) = delete;

  // True when Open() found the pins of a previous agent and took them over.
  bool adopted() const { return adopted_; }
  const Settings& settings() const { return settings_; }
  MapWriter& writer();

  std::vector<LinkStatus> Links() const;

  // Releases this process's handles. With unpin, also removes every pin under bpf_root
  // (maps, program links, per-netns links) and detaches the links: the data path is gone.
  // Without, pinned links stay attached and pinned maps keep their contents. Idempotent.
  absl::Status Close(bool unpin);
  absl::Status Uninstall() { return Close(/*unpin=*/true); }

  // `weft-agent uninstall`: removes what a previous agent pinned under bpf_root, detaching its
  // links, without loading anything. Absent pins are fine.
  static absl::Status UninstallPinned(const std::string& bpf_root);

  struct Impl;

 private:
  Datapath(Settings settings, std::unique_ptr<Impl> impl, bool adopted);

  Settings settings_;
  std::unique_ptr<Impl> impl_;
  bool adopted_ = false;
};

}  // namespace weft::agent::datapath
