#pragma once

// Reading Kubernetes-shaped YAML/JSON from files, directories and stdin, as `weftctl` and the
// agent's local mode take it. I/O lives here so that the compiler (core/policy) stays pure.

#include <string>
#include <vector>

#include "core/policy/decode/decode.h"

namespace weft::source {

struct LoadedFiles {
  std::vector<std::string> files;  // every file read, in the order read
  std::vector<policy::DecodedDocument> documents;
  std::vector<policy::Diagnostic> io_errors;  // unreadable paths
};

// True for names the loader picks up inside directories: *.yaml, *.yml, *.json.
bool IsManifestName(const std::string& name);

// Expands each path: a file is read as is (whatever its extension), a directory recursively
// (manifest files only, sorted by path, hidden entries skipped), "-" is stdin.
LoadedFiles LoadPaths(const std::vector<std::string>& paths,
                      const policy::DecodeOptions& options = {});

}  // namespace weft::source
