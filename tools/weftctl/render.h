#pragma once

// Output formats of `weftctl compile`: protobuf JSON, YAML, and a readable text summary.

#include <string>

#include "weft/config/v1/snapshot.pb.h"

namespace weft::weftctl {

namespace pb = ::weft::config::v1;

// The snapshot in protobuf's JSON mapping (lowerCamelCase field names, enums as names).
std::string RenderJson(const pb::MeshSnapshot& snapshot);
// The same document as YAML (block style, keys in JSON order).
std::string RenderYaml(const pb::MeshSnapshot& snapshot);
// A summary per service: endpoints, subsets, routes, policies; then workloads and policies.
std::string RenderText(const pb::MeshSnapshot& snapshot);

}  // namespace weft::weftctl
