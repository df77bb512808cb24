#include "agent/source/directory_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/status/status.h"
#include "core/source/files.h"

namespace weft::agent {

namespace fs = std::filesystem;

absl::StatusOr<std::unique_ptr<DirectoryWatcher>> DirectoryWatcher::Create(std::string dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return absl::NotFoundError("local directory " + dir + " does not exist or is not a directory");
  }
  int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) return absl::InternalError(std::string("inotify_init1: ") + strerror(errno));
  auto w = std::unique_ptr<DirectoryWatcher>(new DirectoryWatcher(fs::canonical(dir).string(), fd));
  w->Watch(w->dir_);
  return w;
}

DirectoryWatcher::~DirectoryWatcher() {
  if (fd_ >= 0) close(fd_);
}

void DirectoryWatcher::Watch(const std::string& path) {
  int wd = inotify_add_watch(fd_, path.c_str(),
                             IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                                 IN_DELETE_SELF | IN_ONLYDIR);
  if (wd >= 0) watches_[wd] = path;
  std::error_code ec;
  for (auto it = fs::directory_iterator(path, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name[0] != '.' && it->is_directory(ec)) Watch(it->path().string());
  }
}

FileResult DirectoryWatcher::ReadAndApply(const std::string& path, ConfigStore& store) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    // Gone between the event and the read: treat as deleted.
    store.RemoveFile(path);
    return {path, 0, 0, {}};
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  return store.ApplyFile(path, ss.str());
}

std::vector<FileResult> DirectoryWatcher::InitialSync(ConfigStore& store) {
  std::vector<std::string> files;
  std::error_code ec;
  auto it =
      fs::recursive_directory_iterator(dir_, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    if (!name.empty() && name[0] == '.') {
      if (it->is_directory()) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file() && source::IsManifestName(name)) files.push_back(it->path().string());
  }
  std::sort(files.begin(), files.end());
  std::vector<FileResult> out;
  for (const auto& f : files) out.push_back(ReadAndApply(f, store));
  return out;
}

std::vector<FileResult> DirectoryWatcher::Drain(ConfigStore& store) {
  // Collect the changed paths first: one burst of events may touch a file several times.
  std::set<std::string> changed, removed;
  alignas(inotify_event) char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<inotify_event*>(p);
      p += sizeof(inotify_event) + ev->len;
      auto w = watches_.find(ev->wd);
      if (w == watches_.end()) continue;
      if (ev->mask & IN_IGNORED) {
        watches_.erase(w);
        continue;
      }
      if (ev->len == 0) continue;
      std::string name = ev->name;
      if (name.empty() || name[0] == '.') continue;
      std::string path = w->second + "/" + name;
      if (ev->mask & IN_ISDIR) {
        if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
          Watch(path);
          // Files may have landed before the watch existed.
          std::error_code ec;
          for (auto it = fs::recursive_directory_iterator(path, ec);
               !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file() && source::IsManifestName(it->path().filename().string())) {
              changed.insert(it->path().string());
            }
          }
        } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
          for (const auto& f : store.files()) {
            if (f.rfind(path + "/", 0) == 0) removed.insert(f);
          }
        }
        continue;
      }
      if (!source::IsManifestName(name)) continue;
      if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) {
        changed.insert(path);
        removed.erase(path);
      } else if (ev->mask & (IN_DELETE | IN_MOVED_FROM)) {
        removed.insert(path);
        changed.erase(path);
      }
    }
  }
  std::vector<FileResult> out;
  for (const auto& f : removed) {
    store.RemoveFile(f);
    out.push_back({f, 0, 0, {}});
  }
  for (const auto& f : changed) out.push_back(ReadAndApply(f, store));
  return out;
}

}  // namespace weft::agent
