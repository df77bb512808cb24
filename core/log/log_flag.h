#pragma once

// The --log-level flag of weft's binaries (weft-agent and its proxy and ca commands,
// weft-waypoint), declared once: the same name, values and help everywhere.
//
//   std::string level = "info";
//   weft::log::AddLogLevelFlag(&app, level);
//   CLI11_PARSE(app, argc, argv);
//   weft::log::SetLevel(weft::log::ParseLevel(level).value_or(weft::log::Level::kInfo));

#include <CLI/CLI.hpp>
#include <string>

#include "core/log/log.h"

namespace weft::log {

inline void AddLogLevelFlag(CLI::App* app, std::string& level) {
  app->add_option("--log-level", level,
                  std::string("Log lines to stderr at or above this level: ") + kLevelNames)
      ->check(CLI::IsMember({"error", "warn", "warning", "info", "debug"}, CLI::ignore_case))
      ->capture_default_str();
}

}  // namespace weft::log
