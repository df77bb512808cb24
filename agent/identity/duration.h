#pragma once

// Durations on command lines: "24h", "90m", "30s", "1h30m", or plain seconds ("3600").

#include <chrono>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::agent {

absl::StatusOr<std::chrono::seconds> ParseDuration(std::string_view text);
std::string FormatDuration(std::chrono::seconds d);  // "24h", "1h30m", "45s"

}  // namespace weft::agent
