#pragma once

// Small helpers over libbpf's low-level API shared by the loader and the map writer.

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace weft::agent::datapath {

// An errno as a Status with the operation named: "pin /sys/fs/bpf/weft/x: Permission denied".
absl::Status ErrnoStatus(int err, const std::string& what);

absl::StatusOr<bpf_map_info> MapInfo(int fd);
absl::StatusOr<bpf_link_info> LinkInfo(int fd);

// Calls fn(key bytes) for every key of a hash-like map (get_next_key order). Stops early when
// fn returns false. Keys deleted meanwhile are skipped by the kernel's iteration restart.
absl::Status ForEachKey(int fd, uint32_t key_size,
                        const std::function<bool(const std::vector<uint8_t>&)>& fn);

std::string MapTypeName(uint32_t type);

bool PathExists(const std::string& path);

}  // namespace weft::agent::datapath
