#include "agent/inpod/pod_cgroup.h"

#include <dirent.h>

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
  std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(proc_root.c_str()), closedir);
  if (!dir) return absl::UnavailableError("cannot read " + proc_root);
  while (dirent* e = readdir(dir.get())) {
    if (!isdigit(static_cast<unsigned char>(e->d_name[0]))) continue;
    std::string base = proc_root + "/" + e->d_name;
    std::ifstream in(base + "/cgroup");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("0::", 0) != 0) continue;  // the unified hierarchy
      if (CgroupPathIsPod(std::string_view(line).substr(3), pod_uid)) return base + "/ns/net";
    }
  }
  return absl::NotFoundError("no process of pod " + pod_uid + " in " + proc_root);
}

}  // namespace weft::agent::inpod
