#pragma once

// DirectoryWatcher: local mode's input. Reads every manifest under a directory (recursively)
// into a ConfigStore, then follows changes with inotify: a file written, moved in or deleted
// is applied as soon as it is complete (IN_CLOSE_WRITE / IN_MOVED_TO), so editors' temporary
// files and half-written files never reach the compiler.

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/source/config_store.h"

namespace weft::agent {

class DirectoryWatcher {
 public:
  static absl::StatusOr<std::unique_ptr<DirectoryWatcher>> Create(std::string dir);
  ~DirectoryWatcher();

  // Reads every manifest file into `store` (sorted by path, so every agent applies the same
  // files in the same order). Returns one result per file.
  std::vector<FileResult> InitialSync(ConfigStore& store);

  // The inotify descriptor: poll it for readability, then call Drain().
  int fd() const { return fd_; }
  // Applies every pending change to `store`; returns one result per file changed (removed
  // files have no diagnostics). Never blocks.
  std::vector<FileResult> Drain(ConfigStore& store);

 private:
  explicit DirectoryWatcher(std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  void Watch(const std::string& path);
  FileResult ReadAndApply(const std::string& path, ConfigStore& store);

  std::string dir_;
  int fd_;
  std::map<int, std::string> watches_;  // watch descriptor -> directory
};

}  // namespace weft::agent
