#pragma once

// `weftctl ca init`: the CA root of a Kubernetes install (docs/install.md). Makes a new root
// (or wraps an existing one) and prints the Secret and ConfigMap weft-ca-root that the CA and
// the agents mount, or creates them in the cluster with --apply.
//
// The root's private key goes to stdout (the Secret) or to the API server, never to stderr:
// no message of this command holds it.

#include <CLI/CLI.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/identity/ca.h"

namespace weft::weftctl {

// The name of both objects (deploy/base/ca-deployment.yaml, agent-daemonset.yaml).
inline constexpr char kCaRootName[] = "weft-ca-root";

// Lifetimes on the command line: <number><unit>... with units y (365 days), d, h, m, s, e.g.
// "10y", "87600h", "1y30d"; plain seconds ("3600"). Between 1 hour and 100 years.
absl::StatusOr<std::chrono::seconds> ParseLifetime(std::string_view text);

// A new root for `trust_domain` (core/identity/ca.h CreateRoot).
absl::StatusOr<identity::CertificateAuthority> NewCaRoot(std::string_view trust_domain,
                                                         std::chrono::seconds lifetime,
                                                         identity::TimePoint now);

// An existing root, checked as the CA and the agents will use it: one self-signed CA
// certificate, a P-256 key that matches it, not expired, not encrypted. The trust domain is the
// certificate's spiffe://<td> URI SAN; `trust_domain`, when given, must be the same, and is
// needed for a root without one. Errors say what is wrong, never what the key holds.
absl::StatusOr<identity::CertificateAuthority> CaRootFromPem(std::string_view cert_pem,
                                                             std::string_view key_pem,
                                                             std::string_view trust_domain,
                                                             identity::TimePoint now);

// The two objects, as the API server takes them: Secret weft-ca-root (type Opaque,
// stringData ca.crt and ca.key) and ConfigMap weft-ca-root (data root-cert.pem, the
// certificate only), labelled app.kubernetes.io/part-of: weft.
nlohmann::ordered_json CaRootSecret(const std::string& ns,
                                    const identity::CertificateAuthority& root);
nlohmann::ordered_json CaRootConfigMap(const std::string& ns,
                                       const identity::CertificateAuthority& root);

// Both objects as a YAML stream for `kubectl create -f -` (PEM as literal blocks), after a
// comment naming the root.
std::string CaRootYaml(const std::string& ns, const identity::CertificateAuthority& root);

// One object as a YAML document: block style, multi-line strings as literal blocks.
std::string ToYaml(const nlohmann::ordered_json& object);

struct CaInitOptions {
  std::string ns = "weft-system";
  std::string trust_domain = "cluster.local";
  bool trust_domain_set = false;  // given on the command line
  std::string lifetime = "10y";
  bool lifetime_set = false;
  std::string from_cert, from_key;
  bool apply = false;
  bool force = false;
  std::string kubeconfig;
};

// Registers `ca` and `ca init`; `chosen` is set when `ca init` runs.
void AddCaCommands(CLI::App& app, CaInitOptions& options, bool& chosen);
// Exit status: 0 done (or, with --apply, the root already there and left alone), 1 the
// cluster refused or failed, 2 bad input.
int RunCaInit(CaInitOptions options);

}  // namespace weft::weftctl
