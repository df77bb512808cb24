#pragma once

// The cluster's certificate authority (docs/security.md, "The CA"; docs/local-mode.md): the
// root (CertificateAuthority::CreateRoot, P-256, CA:TRUE, 10 years) in <ca_dir>, a node
// client certificate per node (IssueNodeCertificate) in the node's run dir, and the command
// lines of `weft-agent ca` and of the agents' CA flags.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/netns-cluster/state.h"

namespace weft::cluster {

inline constexpr uint16_t kCaPort = 15012;  // istiod's CA port

std::string CaRootCert(const std::string& ca_dir);  // <ca_dir>/root.crt (also the bundle)
std::string CaRootKey(const std::string& ca_dir);   // <ca_dir>/root.key, mode 0600

// Keeps a root in `ca_dir` that loads and is for `trust_domain`; otherwise makes a new one
// (dir 0700, key 0600). `created` says which.
absl::Status EnsureRoot(const std::string& ca_dir, const std::string& trust_domain,
                        bool* created = nullptr);

// Keeps `cert_file` if it is a node certificate for `node` from the current root, valid for at
// least a day more, with `key_file` as its key; otherwise issues a new key and certificate
// (lifetime: the root's) and writes them (key 0600), making their directory.
absl::Status EnsureNodeCertificate(const std::string& ca_dir, const std::string& node,
                                   const std::string& cert_file, const std::string& key_file);

// argv of the CA process: <agent_bin> ca --listen <ca_address> --root-cert ... --root-key ...
// --local-dir <dir> --trust-domain <td>.
std::vector<std::string> CaCommand(const State& s);
// The flags an agent gets to reach the CA: --ca-address, --ca-bundle, --node-cert, --node-key,
// --trust-domain.
std::vector<std::string> AgentCaArgs(const State& s, const NodeState& n);

}  // namespace weft::cluster
