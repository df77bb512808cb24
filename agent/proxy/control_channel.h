#pragma once

// The channel between the agent's control process and its proxy process: a Unix stream socket
// carrying length-prefixed frames, each optionally with file descriptors (SCM_RIGHTS).
//
// The proxy runs as its own process so that it outlives the control process: a killed or
// upgraded control process reconnects to the running proxy, and no listener or established
// connection is touched (docs/datapath.md, "Restart").
//
// Frame: u32 payload length (little endian), u8 type, payload. Descriptors ride on the
// sendmsg that carries the frame header.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::agent::proxy {

enum class FrameType : uint8_t {
  kHello = 1,      // control -> proxy: {}; proxy answers kState
  kState = 2,      // proxy -> control: {"pods": [{"uid", "cookie"}...]} + each pod's inbound fd
  kSnapshot = 3,   // control -> proxy: serialized MeshSnapshot + node name; answer kReply
  kAddPod = 4,     // control -> proxy: {"uid", "cookie"} + netns fd; answer kPodAdded
  kPodAdded = 5,   // proxy -> control: {"uid", "ok", "error"} + inbound listener fd when ok
  kRemovePod = 6,  // control -> proxy: {"uid"}; answer kReply
  kQuery = 7,      // control -> proxy: {"what": "connections" | "stats"}; answer kReply
  kReply = 8,      // proxy -> control: JSON
};

struct Frame {
  FrameType type = FrameType::kReply;
  std::string payload;
  std::vector<int> fds;  // owned by the receiver
};

// Sends one frame (blocking). The fds are not closed.
absl::Status SendFrame(int sock, const Frame& frame);
// Receives one frame (blocking). NotFound on a clean EOF before a frame starts.
absl::StatusOr<Frame> ReceiveFrame(int sock);

// Connects to a Unix socket path; Unavailable when nobody listens.
absl::StatusOr<int> ConnectUnix(const std::string& path);
// Listens on a Unix socket path (replacing a stale socket file).
absl::StatusOr<int> ListenUnix(const std::string& path);

}  // namespace weft::agent::proxy
