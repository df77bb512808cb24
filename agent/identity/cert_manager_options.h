#pragma once

// Settings of the agent's certificate manager, kept free of OpenSSL and Asio so that the
// agent's and the proxy's settings can hold them (AgentSettings::identity,
// ProxyProcessOptions::identity). Filled from the flags --ca-address, --ca-bundle,
// --node-cert, --node-key, --ca-token, --trust-domain, --workload-cert-ttl.

#include <chrono>
#include <string>

namespace weft::agent {

struct CertManagerOptions {
  std::string ca_address;      // "IP:port" of `weft-agent ca`; empty: no CA, mTLS off
  std::string ca_bundle_file;  // PEM roots that verify the CA server (and all workloads)
  std::string node_cert_file;  // this node's client certificate (spiffe://<td>/weft/node/<n>)
  std::string node_key_file;
  // Instead of the node certificate (Kubernetes): a projected ServiceAccount token for the
  // audience weft-ca, re-read for every CA call.
  std::string ca_token_file;
  // How to reach the API to resolve a "*.svc" CA address DNS does not know (ca_address.h):
  // kube::LoadConfig's argument (empty: $KUBECONFIG, else in-cluster).
  std::string kubeconfig;
  std::string trust_domain = "cluster.local";                  // must match the node certificate's
  std::chrono::seconds workload_ttl = std::chrono::hours(24);  // requested SVID lifetime

  // Retries after a failed issue or renewal (core/identity Backoff).
  std::chrono::milliseconds backoff_initial = std::chrono::seconds(1);
  std::chrono::milliseconds backoff_max = std::chrono::minutes(5);
  double backoff_multiplier = 2.0;
  double backoff_jitter = 0.2;
  // Never renew sooner than this after an issue (guards against a lifetime shorter than the
  // CA's backdating making half life already past).
  std::chrono::milliseconds min_renew_delay = std::chrono::seconds(1);
  std::chrono::seconds bundle_poll_interval = std::chrono::seconds(60);
  std::chrono::milliseconds ca_timeout = std::chrono::seconds(10);

  bool enabled() const { return !ca_address.empty(); }
};

}  // namespace weft::agent
