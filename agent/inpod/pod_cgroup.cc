#include "agent/inpod/pod_cgroup.h"

#include <dirent.h>
#include <sys/stat.h>

#include <cctype>
#include <fstream>
#include <memory>

namespace weft::agent::inpod {

bool CgroupPathIsPod(std::string_view path, std::string_view uid) {
  if (uid.empty()) return false;
  std::string dashed = "pod" + std::string(uid);
  std::string underscored = dashed;
  for (char& c : underscored) {
    if (c == '-') c = '_';
  }
  // A match must be a whole segment ("pod<uid>") or end a systemd slice name
  // ("...-pod<uid_>.slice"): not a prefix of a longer uid.
  for (const std::string& needle : {dashed, underscored}) {
    for (size_t at = path.find(needle); at != std::string_view::npos;
         at = path.find(needle, at + 1)) {
      char before = at == 0 ? '/' : path[at - 1];
      size_t end = at + needle.size();
      char after = end == path.size() ? '/' : path[end];
      if ((before == '/' || before == '-') && (after == '/' || after == '.')) return true;
    }
  }
  return false;
}

absl::StatusOr<std::string> FindPodNetnsPath(const std::string& proc_root,
                                             const std::string& pod_uid) {
  // Never the host's network namespace (the init process's) nor the agent's own (a
  // host-network pod shares the node's): a process of another namespace can be in the pod's
  // cgroup for a moment — an exec that joins the cgroup before the netns — and enrolling the
  // host's netns would steer the node's own traffic.
  auto netns_of = [](const std::string& path) -> std::pair<dev_t, ino_t> {
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) return {0, 0};
    return {st.st_dev, st.st_ino};
  };
  // The init process's, else kthreadd's (always the initial netns; some inits, such as a
  // microVM's, do not let even root read theirs).
  auto host = netns_of(proc_root + "/1/ns/net");
  if (host.second == 0) host = netns_of(proc_root + "/2/ns/net");
  const auto self = netns_of("/proc/self/ns/net");
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(proc_root.c_str()), closedir);
  if (!dir) return absl::UnavailableError("cannot read " + proc_root);
  bool only_host = false;
  while (dirent* e = readdir(dir.get())) {
    if (!isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::string base = proc_root + "/" + e->d_name;
    std::ifstream in(base + "/cgroup");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("0::", 0) != 0) continue;  // the unified hierarchy
      if (!CgroupPathIsPod(std::string_view(line).substr(3), pod_uid)) continue;
      auto ns = netns_of(base + "/ns/net");
      if (ns.second == 0) continue;  // exited meanwhile
      if (ns == host || ns == self) {
        only_host = true;
        continue;
      }
      return base + "/ns/net";
    }
  }
  if (only_host) {
    return absl::NotFoundError("pod " + pod_uid +
                               " has processes only in the host's network namespace");
  }
  return absl::NotFoundError("no process of pod " + pod_uid + " in " + proc_root);
}

}  // namespace weft::agent::inpod
