#pragma once

// `weftctl node workloads|services|connections|bpf|certs|config-dump`.

#include <CLI/CLI.hpp>
#include <string>

#include "absl/status/statusor.h"

namespace weft::weftctl {

struct NodeOptions {
  std::string node;  // local mode: enter netns weft-node-<node>
  std::string admin = "127.0.0.1:15000";
  bool json = false;
};

// Registers `node` and its subcommands; `which` receives the chosen subcommand's name.
void AddNodeCommands(CLI::App& app, NodeOptions& options, std::string& which);
int RunNodeCommand(const NodeOptions& options, const std::string& which);

// GET http://host:port/path over a blocking socket, made inside `netns_path` when given (an
// admin endpoint in a node's or pod's network namespace); the body of a 200 answer.
absl::StatusOr<std::string> HttpGet(const std::string& netns_path, const std::string& host,
                                    uint16_t port, const std::string& path);

}  // namespace weft::weftctl
