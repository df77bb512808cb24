#pragma once

// `weftctl waypoint apply|delete`: the waypoint's Gateway in a Kubernetes cluster, as
// `istioctl waypoint apply|delete` (docs/waypoint.md, "weftctl waypoint").
//
// apply creates the Gateway `waypoint generate` prints (class weft-waypoint, listener
// mesh/15008/HBONE). An existing Gateway of that name is left alone when its spec is already
// that (the API server's defaults count: the comparison is against a dry-run update), and is
// an error otherwise unless --overwrite, which replaces its spec (metadata and status kept).
// --enroll-namespace labels the Namespace weft.dev/use-waypoint=<name> (a label naming another
// waypoint: an error unless --overwrite). --wait waits for the Gateway's Programmed condition,
// which the waypoint controller writes.
//
// delete removes the Gateway (only of a waypoint class) and the Namespace's
// weft.dev/use-waypoint label when it names it; Services still labelled for it are named (their
// traffic is refused while they point at a waypoint that does not exist).
//
// Exit status: 0 done, 1 the cluster refused or failed (or the Gateway differs, or --wait timed
// out, or delete found no Gateway), 2 bad input.

#include <CLI/CLI.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::weftctl {

// The Namespace (or Service) label that binds traffic to a waypoint (docs/waypoint.md).
inline constexpr char kUseWaypointLabel[] = "weft.dev/use-waypoint";

struct WaypointApplyOptions {
  std::string ns;
  std::string name = "waypoint";
  bool enroll_namespace = false;
  bool overwrite = false;
  std::string kubeconfig;
  bool wait = false;
  std::string timeout = "60s";
  bool timeout_set = false;  // given on the command line
};

struct WaypointDeleteOptions {
  std::string ns;
  std::string name = "waypoint";
  std::string kubeconfig;
};

// Registers `apply` and `delete` under `waypoint`; `which` receives the chosen one's name.
void AddWaypointApplyCommands(CLI::App& waypoint, WaypointApplyOptions& apply,
                              WaypointDeleteOptions& del, std::string& which);
int RunWaypointApply(WaypointApplyOptions options);
int RunWaypointDelete(const WaypointDeleteOptions& options);

// --timeout: <number><unit>... with units h, m, s, ms ("60s", "1m30s", "500ms"), or plain
// seconds ("90"). More than 0, at most 24h.
absl::StatusOr<std::chrono::milliseconds> ParseTimeout(std::string_view text);

// Whether a Gateway (as the API returns it) is programmed: its Programmed condition is True
// for its current generation. `why` says what it is instead ("Programmed is Unknown (Pending:
// Waiting for controller)", "no Programmed condition").
bool GatewayProgrammed(const nlohmann::json& gateway, std::string* why);

}  // namespace weft::weftctl
