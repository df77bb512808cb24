#include "agent/datapath/datapath.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "agent/datapath/bpf_map_writer.h"
#include "agent/datapath/bpf_util.h"
#include "bpf/abi/inbound_steer.h"
#include "bpf/abi/sock_connect.h"
#include "bpf/abi/sock_ops.h"
#include "inbound_steer.skel.h"
#include "sock_accel.skel.h"
#include "sock_connect.skel.h"
#include "sock_ops.skel.h"

namespace weft::agent::datapath {

namespace {

constexpr char kSkMsgLink[] = "weft_sk_msg";

// A program link this Datapath holds (pinned or not).
struct HeldLink {
  std::string name;
  int fd = -1;
  bool pinned = false;
};

absl::Status MkdirAll(const std::string& path) {
  std::string cur;
  for (size_t pos = 0; pos != std::string::npos;) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty()) continue;
    if (mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST) {
      if (errno == EPERM && cur.find('.', cur.rfind('/')) != std::string::npos) {
        // bpffs refuses names with a dot (they are reserved for its own files).
        return absl::InvalidArgumentError("mkdir " + cur + ": bpffs names cannot contain '.'");
      }
      return ErrnoStatus(errno, "mkdir " + cur);
    }
  }
  return absl::OkStatus();
}

}  // namespace

struct Datapath::Impl {
  Settings settings;
  sock_connect_bpf* connect = nullptr;
  sock_ops_bpf* ops = nullptr;
  inbound_steer_bpf* steer = nullptr;
  sock_accel_bpf* accel = nullptr;
  int cgroup_fd = -1;
  BpfHandles handles;
  std::vector<HeldLink> links;
  std::unique_ptr<BpfMapWriter> writer;
  bool adopted_maps = false;
  bool adopted_links = false;

  ~Impl() { Release(); }

  bool pinning() const { return !settings.bpf_root.empty(); }
  std::string MapPin(const std::string& name) const { return settings.bpf_root + "/" + name; }

  uint32_t SizeFor(const std::string& name) const {
    const Settings& s = settings;
    if (name == WEFT_MAP_NAME(WEFT_MAP_ENROLLED_NETNS)) return s.max_pods;
    if (name == WEFT_MAP_NAME(WEFT_MAP_SERVICES)) return s.max_services + s.max_workloads;
    if (name == WEFT_MAP_NAME(WEFT_MAP_ORIG_DST)) return s.max_connections;
    if (name == WEFT_MAP_NAME(WEFT_MAP_CONN_DST)) return s.max_connections;
    if (name == WEFT_MAP_NAME(WEFT_MAP_SOCKS)) return 2 * s.max_connections;
    if (name == WEFT_MAP_NAME(WEFT_MAP_INBOUND)) return 2 * s.max_pods;
    return 0;  // counters: sized by their enum
  }

  // Before an object's load: every map that already exists (created by an object loaded
  // before, or pinned by a previous agent) is reused, the others get their configured size.
  absl::Status PrepareMaps(bpf_object* obj) {
    bpf_map* map;
    bpf_object__for_each_map(map, obj) {
      if (bpf_map__is_internal(map)) continue;
      std::string name = bpf_map__name(map);
      int fd = handles.map(name.c_str());
      if (fd < 0 && pinning() && PathExists(MapPin(name))) {
        fd = bpf_obj_get(MapPin(name).c_str());
        if (fd < 0) return ErrnoStatus(errno, "open pinned map " + MapPin(name));
        auto info = MapInfo(fd);
        if (!info.ok()) {
          close(fd);
          return info.status();
        }
        if (info->type != bpf_map__type(map) || info->key_size != bpf_map__key_size(map) ||
            info->value_size != bpf_map__value_size(map)) {
          close(fd);
          return absl::FailedPreconditionError(absl::StrCat(
              "pinned map ", MapPin(name), " has another layout than this build's ", name,
              "; run `weft-agent uninstall` (a layout change must bump the map's _vN)"));
        }
        // Adopted maps keep their capacity; libbpf refuses to reuse a map of another size.
        bpf_map__set_max_entries(map, info->max_entries);
        handles.maps[name] = fd;
        adopted_maps = true;
      }
      if (fd >= 0) {
        if (bpf_map__reuse_fd(map, fd) != 0) return ErrnoStatus(errno, "reuse map " + name);
        continue;
      }
      if (uint32_t size = SizeFor(name); size != 0 && bpf_map__set_max_entries(map, size) != 0) {
        return ErrnoStatus(errno, "size map " + name);
      }
    }
    return absl::OkStatus();
  }

  // After an object's load: remember (and pin) the maps it created.
  absl::Status RecordMaps(bpf_object* obj) {
    bpf_map* map;
    bpf_object__for_each_map(map, obj) {
      if (bpf_map__is_internal(map)) continue;
      std::string name = bpf_map__name(map);
      if (handles.map(name.c_str()) >= 0) continue;
      int fd = fcntl(bpf_map__fd(map), F_DUPFD_CLOEXEC, 0);
      if (fd < 0) return ErrnoStatus(errno, "dup map fd " + name);
      handles.maps[name] = fd;
      if (pinning() && bpf_obj_pin(fd, MapPin(name).c_str()) != 0) {
        return ErrnoStatus(errno, "pin " + MapPin(name));
      }
    }
    return absl::OkStatus();
  }

  // Attaches prog through a pinned link, or adopts the pinned one by giving it prog.
  absl::Status AttachOrAdopt(const std::string& name, bpf_program* prog, int target_fd,
                             bpf_attach_type type, uint64_t cgroup_id) {
    std::string pin = handles.LinkPin(name);
    int prog_fd = bpf_program__fd(prog);
    if (!pin.empty() && PathExists(pin)) {
      int fd = bpf_obj_get(pin.c_str());
      if (fd < 0) return ErrnoStatus(errno, "open pinned link " + pin);
      links.push_back({name, fd, true});
      auto info = LinkInfo(fd);
      if (!info.ok()) return info.status();
      if (cgroup_id != 0 && info->type == BPF_LINK_TYPE_CGROUP &&
          info->cgroup.cgroup_id != cgroup_id) {
        return absl::FailedPreconditionError(absl::StrCat(
            "pinned link ", pin, " is attached to cgroup id ", info->cgroup.cgroup_id, ", not to ",
            settings.cgroup_path, " (id ", cgroup_id, "); run `weft-agent uninstall` first"));
      }
      // Atomic replacement: the hook never runs without a program.
      if (bpf_link_update(fd, prog_fd, nullptr) != 0) {
        return ErrnoStatus(errno, "update pinned link " + pin + " to the new program");
      }
      adopted_links = true;
      return absl::OkStatus();
    }
    int fd = bpf_link_create(prog_fd, target_fd, type, nullptr);
    if (fd < 0) return ErrnoStatus(errno, "attach " + name);
    links.push_back({name, fd, false});
    if (!pin.empty()) {
      if (bpf_obj_pin(fd, pin.c_str()) != 0) return ErrnoStatus(errno, "pin " + pin);
      links.back().pinned = true;
    }
    return absl::OkStatus();
  }

  // Per-netns sk_lookup links of a previous agent get the new program; defunct ones (their
  // netns is gone) are unpinned. A live link whose update fails keeps steering with the program
  // it has: dropping it would let plaintext reach the app unchecked.
  void AdoptNetnsLinks() {
    std::string dir = settings.bpf_root + "/" + WEFT_BPF_LINK_SUBDIR;
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) return;
    while (dirent* e = readdir(d)) {
      absl::string_view file = e->d_name;
      uint64_t cookie = 0;
      if (!absl::ConsumePrefix(&file, "netns-") || !absl::SimpleAtoi(file, &cookie)) continue;
      std::string pin = dir + "/" + e->d_name;
      int fd = bpf_obj_get(pin.c_str());
      if (fd < 0) continue;
      auto info = LinkInfo(fd);
      if (info.ok() && info->netns.netns_ino == 0) {
        close(fd);
        unlink(pin.c_str());
        continue;
      }
      (void)bpf_link_update(fd, handles.steer_prog_fd, nullptr);
      std::lock_guard<std::mutex> lock(handles.netns_mu);
      handles.netns_links[cookie] = fd;
      adopted_links = true;
    }
    closedir(d);
  }

  void Release() {
    for (HeldLink& l : links) {
      if (l.fd >= 0) close(l.fd);
    }
    links.clear();
    for (auto& [cookie, fd] : handles.netns_links) close(fd);
    handles.netns_links.clear();
    for (auto& [name, fd] : handles.maps) close(fd);
    handles.maps.clear();
    if (accel) sock_accel_bpf__destroy(accel);
    if (steer) inbound_steer_bpf__destroy(steer);
    if (ops) sock_ops_bpf__destroy(ops);
    if (connect) sock_connect_bpf__destroy(connect);
    accel = nullptr;
    steer = nullptr;
    ops = nullptr;
    connect = nullptr;
    if (cgroup_fd >= 0) close(cgroup_fd);
    cgroup_fd = -1;
  }
};

namespace {

absl::Status Validate(const Settings& s) {
  if (s.cgroup_path.empty()) return absl::InvalidArgumentError("cgroup_path is required");
  if (s.max_services == 0 || s.max_pods == 0 || s.max_connections == 0) {
    return absl::InvalidArgumentError("map sizes must be positive");
  }
  std::set<uint16_t> ports = {s.outbound_port, s.inbound_port, s.hbone_port};
  if (ports.size() != 3 || ports.count(0) != 0) {
    return absl::InvalidArgumentError("outbound, inbound and HBONE ports must be distinct and set");
  }
  return absl::OkStatus();
}

template <typename Skel>
absl::Status LoadSkeleton(Datapath::Impl& impl, Skel* skel, int (*load)(Skel*), const char* what) {
  if (absl::Status st = impl.PrepareMaps(skel->obj); !st.ok()) return st;
  if (load(skel) != 0)
    return ErrnoStatus(errno, absl::StrCat("load ", what, " (verifier log above)"));
  return impl.RecordMaps(skel->obj);
}

}  // namespace

Datapath::Datapath(Settings settings, std::unique_ptr<Impl> impl, bool adopted)
    : settings_(std::move(settings)), impl_(std::move(impl)), adopted_(adopted) {}

Datapath::~Datapath() {
  (void)Close(/*unpin=*/false);
}

MapWriter& Datapath::writer() {
  return *impl_->writer;
}

absl::StatusOr<std::unique_ptr<Datapath>> Datapath::Open(const Settings& settings) {
  if (absl::Status st = Validate(settings); !st.ok()) return st;
  auto impl = std::make_unique<Impl>();
  Impl& d = *impl;
  d.settings = settings;
  d.handles.bpf_root = settings.bpf_root;

  d.cgroup_fd = open(settings.cgroup_path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (d.cgroup_fd < 0) return ErrnoStatus(errno, "open cgroup " + settings.cgroup_path);
  struct stat cg {};
  if (fstat(d.cgroup_fd, &cg) != 0) return ErrnoStatus(errno, "stat " + settings.cgroup_path);
  const uint64_t cgroup_id = cg.st_ino;  // on cgroup2, the inode number is the cgroup id

  if (d.pinning()) {
    if (absl::Status st = MkdirAll(settings.bpf_root + "/" + WEFT_BPF_LINK_SUBDIR); !st.ok()) {
      return st;
    }
    struct statfs fs {};
    if (statfs(settings.bpf_root.c_str(), &fs) != 0) return ErrnoStatus(errno, settings.bpf_root);
    if (fs.f_type != BPF_FS_MAGIC) {
      return absl::FailedPreconditionError(
          settings.bpf_root + " is not on a bpf filesystem (mount -t bpf bpf /sys/fs/bpf)");
    }
  }

  // sock_connect first: it defines the maps the others share.
  d.connect = sock_connect_bpf__open();
  if (d.connect == nullptr) return ErrnoStatus(errno, "open sock_connect");
  d.connect->rodata->cfg_outbound_port = settings.outbound_port;
  d.connect->rodata->cfg_proxy_mark = settings.proxy_mark;
  if (auto st = LoadSkeleton(d, d.connect, sock_connect_bpf__load, "sock_connect"); !st.ok()) {
    return st;
  }

  d.ops = sock_ops_bpf__open();
  if (d.ops == nullptr) return ErrnoStatus(errno, "open sock_ops");
  d.ops->rodata->cfg_sockmap_accel = settings.sockmap_accel ? 1 : 0;
  if (auto st = LoadSkeleton(d, d.ops, sock_ops_bpf__load, "sock_ops"); !st.ok()) return st;

  d.steer = inbound_steer_bpf__open();
  if (d.steer == nullptr) return ErrnoStatus(errno, "open inbound_steer");
  d.steer->rodata->cfg_inbound_port = settings.inbound_port;
  d.steer->rodata->cfg_outbound_port = settings.outbound_port;
  d.steer->rodata->cfg_hbone_port = settings.hbone_port;
  d.steer->rodata->cfg_inbound_fail_open = settings.inbound_fail_open ? 1 : 0;
  if (auto st = LoadSkeleton(d, d.steer, inbound_steer_bpf__load, "inbound_steer"); !st.ok()) {
    return st;
  }
  d.handles.steer_prog_fd = bpf_program__fd(d.steer->progs.weft_inbound_steer);

  if (settings.sockmap_accel) {
    d.accel = sock_accel_bpf__open();
    if (d.accel == nullptr) return ErrnoStatus(errno, "open sock_accel");
    if (auto st = LoadSkeleton(d, d.accel, sock_accel_bpf__load, "sock_accel"); !st.ok()) {
      return st;
    }
  }

  // Cleanup (sock_release) before capture, so no redirected socket can miss it.
  struct CgroupProg {
    const char* name;
    bpf_program* prog;
    bpf_attach_type type;
  };
  const CgroupProg cgroup_progs[] = {
      {"weft_sock_release", d.connect->progs.weft_sock_release, BPF_CGROUP_INET_SOCK_RELEASE},
      {"weft_sockops", d.ops->progs.weft_sockops, BPF_CGROUP_SOCK_OPS},
      {"weft_connect4", d.connect->progs.weft_connect4, BPF_CGROUP_INET4_CONNECT},
      {"weft_connect6", d.connect->progs.weft_connect6, BPF_CGROUP_INET6_CONNECT},
  };
  for (const CgroupProg& p : cgroup_progs) {
    if (auto st = d.AttachOrAdopt(p.name, p.prog, d.cgroup_fd, p.type, cgroup_id); !st.ok()) {
      return st;
    }
  }

  // sk_msg on the sockhash, as a link (BPF_LINK_CREATE on a sockmap needs kernel 6.10).
  std::string msg_pin = d.handles.LinkPin(kSkMsgLink);
  if (settings.sockmap_accel) {
    int socks = d.handles.map(WEFT_MAP_NAME(WEFT_MAP_SOCKS));
    if (auto st =
            d.AttachOrAdopt(kSkMsgLink, d.accel->progs.weft_sk_msg, socks, BPF_SK_MSG_VERDICT, 0);
        !st.ok()) {
      return st;
    }
  } else if (!msg_pin.empty() && PathExists(msg_pin)) {
    // Acceleration turned off since the last agent: take the verdict program off the sockhash.
    int fd = bpf_obj_get(msg_pin.c_str());
    if (fd >= 0) {
      bpf_link_detach(fd);
      close(fd);
    }
    unlink(msg_pin.c_str());
  }

  if (d.pinning()) d.AdoptNetnsLinks();

  d.writer = std::make_unique<BpfMapWriter>(&d.handles);
  bool adopted = d.adopted_maps || d.adopted_links;
  return std::unique_ptr<Datapath>(new Datapath(settings, std::move(impl), adopted));
}

std::vector<LinkStatus> Datapath::Links() const {
  std::vector<LinkStatus> out;
  if (!impl_) return out;
  auto add = [&](const std::string& name, int fd, bool pinned) {
    LinkStatus s{name, 0, 0, pinned};
    if (auto info = LinkInfo(fd); info.ok()) {
      s.link_id = info->id;
      s.prog_id = info->prog_id;
    }
    out.push_back(s);
  };
  for (const HeldLink& l : impl_->links) add(l.name, l.fd, l.pinned);
  for (const auto& [cookie, fd] : impl_->handles.netns_links) {
    add(NetnsLinkName(cookie), fd, !impl_->settings.bpf_root.empty());
  }
  return out;
}

absl::Status Datapath::Close(bool unpin) {
  if (!impl_) return absl::OkStatus();
  absl::Status result;
  if (unpin) {
    for (HeldLink& l : impl_->links) bpf_link_detach(l.fd);
    for (auto& [cookie, fd] : impl_->handles.netns_links) bpf_link_detach(fd);
    if (!settings_.bpf_root.empty()) result = UninstallPinned(settings_.bpf_root);
  }
  impl_.reset();
  return result;
}

absl::Status Datapath::UninstallPinned(const std::string& bpf_root) {
  absl::Status result;
  auto remove_dir = [&](const std::string& dir, bool links) {
    DIR* d = opendir(dir.c_str());
    if (d == nullptr) {
      if (errno != ENOENT) result.Update(ErrnoStatus(errno, "open " + dir));
      return;
    }
    std::vector<std::string> files;
    while (dirent* e = readdir(d)) {
      if (e->d_type == DT_DIR) continue;
      files.push_back(dir + "/" + e->d_name);
    }
    closedir(d);
    for (const std::string& f : files) {
      if (links) {
        // Detach even if another process still holds the link open.
        if (int fd = bpf_obj_get(f.c_str()); fd >= 0) {
          bpf_link_detach(fd);
          close(fd);
        }
      }
      if (unlink(f.c_str()) != 0 && errno != ENOENT)
        result.Update(ErrnoStatus(errno, "unpin " + f));
    }
    if (rmdir(dir.c_str()) != 0 && errno != ENOENT && errno != ENOTEMPTY) {
      result.Update(ErrnoStatus(errno, "rmdir " + dir));
    }
  };
  remove_dir(bpf_root + "/" + WEFT_BPF_LINK_SUBDIR, /*links=*/true);
  remove_dir(bpf_root, /*links=*/false);
  return result;
}

}  // namespace weft::agent::datapath
