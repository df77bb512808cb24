#pragma once

// `weftctl validate -f PATH...`: each document checked on its own, as `istioctl validate` and
// `kubectl apply --dry-run=server` check it (docs/weftctl.md): its schema, its fields' values
// and the rules between fields of one resource. What depends on other resources (a host with no
// Service, two VirtualServices for one host, a DestinationRule subset a route names) is
// `weftctl analyze`'s. Used by the differential test (tests/compat) for per-document verdicts.

#include <ostream>
#include <string>
#include <vector>

#include "core/policy/compiler.h"

namespace weft::weftctl {

struct ValidateOptions {
  std::vector<std::string> files;
  std::string default_namespace = "default";
  policy::CompileOptions compile;
  std::string format = "text";  // text, json (one array), jsonl (one verdict per line)
  bool color = false;
};

// Writes the verdicts to `out`, problems reading the paths to `err`. Returns the exit status:
// 0 when every document is valid, 1 when one is not, 2 when a path cannot be read.
int RunValidate(const ValidateOptions& o, std::ostream& out, std::ostream& err);

}  // namespace weft::weftctl
