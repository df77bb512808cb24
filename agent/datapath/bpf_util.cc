#include "agent/datapath/bpf_util.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"

namespace weft::agent::datapath {

absl::Status ErrnoStatus(int err, const std::string& what) {
  std::string msg = absl::StrCat(what, ": ", strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case E2BIG:
    case ENOMEM:
    case ENOSPC:
      return absl::ResourceExhaustedError(msg);
    case EPERM:
    case EACCES:
      return absl::PermissionDeniedError(msg);
    case EINVAL:
      return absl::InvalidArgumentError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<bpf_map_info> MapInfo(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return ErrnoStatus(errno, "map info");
  return info;
}

absl::StatusOr<bpf_link_info> LinkInfo(int fd) {
  bpf_link_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0) return ErrnoStatus(errno, "link info");
  return info;
}

absl::Status ForEachKey(int fd, uint32_t key_size,
                        const std::function<bool(const std::vector<uint8_t>&)>& fn) {
  std::vector<uint8_t> key(key_size), next(key_size);
  const void* prev = nullptr;
  // Bounded: a map cannot hold more than max_entries keys; the bound only guards a map that
  // is being refilled while it is read.
  for (uint64_t i = 0; i < (1ull << 32); ++i) {
    if (bpf_map_get_next_key(fd, prev, next.data()) != 0) {
      if (errno == ENOENT) return absl::OkStatus();
      return ErrnoStatus(errno, "map iteration");
    }
    key.swap(next);
    prev = key.data();
    if (!fn(key)) return absl::OkStatus();
  }
  return absl::OkStatus();
}

std::string MapTypeName(uint32_t type) {
  switch (type) {
    case BPF_MAP_TYPE_HASH:
      return "hash";
    case BPF_MAP_TYPE_ARRAY:
      return "array";
    case BPF_MAP_TYPE_PERCPU_ARRAY:
      return "percpu_array";
    case BPF_MAP_TYPE_LRU_HASH:
      return "lru_hash";
    case BPF_MAP_TYPE_SOCKMAP:
      return "sockmap";
    case BPF_MAP_TYPE_SOCKHASH:
      return "sockhash";
    default:
      return absl::StrCat("type", type);
  }
}

bool PathExists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

}  // namespace weft::agent::datapath
