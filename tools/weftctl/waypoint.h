#pragma once

// `weftctl waypoint generate`: the Gateway that declares a waypoint (docs/waypoint.md).

#include <string>

namespace weft::weftctl {

// The Gateway YAML for waypoint `name` in namespace `ns`, as docs/waypoint.md shows it; the
// weft.dev/node annotation only when `node` is not empty.
std::string GenerateWaypointYaml(const std::string& ns, const std::string& name,
                                 const std::string& node);

}  // namespace weft::weftctl
