#pragma once

// `weftctl node certs`: the agent's GET /certs (docs/security.md, "Workload certificates":
// [{"identity","serial","not_before","not_after","state","error","next_attempt"}]) as a table.

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::weftctl {

// One row per identity: IDENTITY, SERIAL, NOT AFTER (with the time left or since expiry),
// STATE, NEXT (renewal or retry, relative), ERROR. `now` for the relative times.
absl::StatusOr<std::string> RenderCerts(std::string_view json_text,
                                        std::chrono::system_clock::time_point now);

}  // namespace weft::weftctl
