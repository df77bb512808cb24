#pragma once

// The certificate flags shared by weft-agent, `weft-agent proxy` and weft-waypoint:
// --ca-address, --ca-bundle, --node-cert, --node-key, --ca-token, --trust-domain,
// --workload-cert-ttl.

#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <string_view>

#include "agent/identity/cert_manager_options.h"
#include "agent/identity/duration.h"

namespace weft::agent {

// --ca-address, --ca-bundle, --node-cert, --node-key, --trust-domain, --workload-cert-ttl: the
// same flags on the agent, on `weft-agent proxy` and on weft-waypoint.
inline void AddCertFlags(CLI::App* app, CertManagerOptions& o, std::string& ttl) {
  app->add_option("--ca-address", o.ca_address,
                  "The CA (`weft-agent ca`) as IP:port, host:port, or in Kubernetes "
                  "SERVICE.NAMESPACE.svc:port (found from its EndpointSlices when DNS does not "
                  "know it); empty: no workload certificates (no mTLS)");
  app->add_option("--ca-bundle", o.ca_bundle_file, "PEM trust bundle (the CA's roots)");
  app->add_option("--node-cert", o.node_cert_file,
                  "This node's client certificate for the CA (spiffe://<td>/weft/node/<node>)");
  app->add_option("--node-key", o.node_key_file, "The node certificate's private key");
  app->add_option("--ca-token", o.ca_token_file,
                  "Instead of --node-cert/--node-key (Kubernetes): a projected ServiceAccount "
                  "token for audience weft-ca, re-read for every CA call");
  app->add_option("--trust-domain", o.trust_domain, "SPIFFE trust domain")->capture_default_str();
  app->add_option("--workload-cert-ttl", ttl,
                  "Requested workload certificate lifetime (e.g. 24h, 90m)")
      ->capture_default_str();
}

// Fills the TTL and checks that a CA address comes with its files.
inline bool FinishCertFlags(CertManagerOptions& o, const std::string& ttl,
                            std::string_view program = "weft-agent") {
  auto d = ParseDuration(ttl);
  if (!d.ok() || d->count() <= 0) {
    std::cerr << program << ": --workload-cert-ttl: bad duration " << ttl << "\n";
    return false;
  }
  o.workload_ttl = *d;
  if (o.ca_address.empty()) return true;
  if (o.ca_bundle_file.empty()) {
    std::cerr << program << ": --ca-address needs --ca-bundle\n";
    return false;
  }
  if (!o.ca_token_file.empty()) {
    if (!o.node_cert_file.empty() || !o.node_key_file.empty()) {
      std::cerr << program << ": --ca-token and --node-cert/--node-key are exclusive\n";
      return false;
    }
    return true;
  }
  for (auto [value, flag] :
       {std::pair{&o.node_cert_file, "--node-cert"}, std::pair{&o.node_key_file, "--node-key"}}) {
    if (value->empty()) {
      std::cerr << program << ": --ca-address needs " << flag << " (or --ca-token)\n";
      return false;
    }
  }
  return true;
}

}  // namespace weft::agent
