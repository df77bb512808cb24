#pragma once

// `weftctl explain`: why the mesh does what it does (docs/policies.md "weftctl explain").
//
//   weftctl explain -f PATH... KIND/[NAMESPACE/]NAME   what that resource produced: route
//       tables and routes, clusters, authorization rules, workloads, services, and the BPF map
//       entries the agents write for them (on which nodes); or why it produced nothing (left
//       out, with its errors; lost a conflict; no waypoint to evaluate it)
//   weftctl explain -f PATH... --to HOST[:PORT]|IP:PORT   the resources that decide traffic to
//       that destination, in the order the data path applies them: the Service and its map
//       entry, the waypoint binding, the route table's owner (and the resources naming the host
//       that do not apply, with why), the DestinationRule, the authorization policies at the
//       waypoint and at the node proxies, mTLS, the endpoints
//   weftctl explain -f PATH... --pod NAMESPACE/NAME   the same for one pod: enrollment,
//       identity, mTLS, the policies that select it, its waypoint, the Services it serves, its
//       map entries
//
// Every line names its resource with file:line. Built on the compiled MeshSnapshot (whose
// items carry their Source) and on the decoded input (for what did not compile).

#include <ostream>
#include <string>
#include <vector>

#include "core/policy/compiler.h"

namespace weft::weftctl {

struct ExplainOptions {
  std::vector<std::string> files;
  std::string default_namespace = "default";
  policy::CompileOptions compile;
  std::string resource;         // KIND/[NS/]NAME
  std::string to;               // HOST[:PORT] or IP:PORT
  std::string pod;              // NS/NAME
  std::string format = "text";  // text or json
};

// Writes the explanation to `out`, usage and input problems to `err`. Returns 0 when the
// subject was found, 1 when it was not, 2 for bad arguments or unreadable paths.
int RunExplain(const ExplainOptions& o, std::ostream& out, std::ostream& err);

}  // namespace weft::weftctl
