#pragma once

// How to reach and authenticate to a Kubernetes API server: from a kubeconfig file (as
// kubectl reads it) or from inside a pod (the in-cluster config client-go uses).

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::kube {

// Where a pod finds its ServiceAccount token, the cluster CA and its namespace.
inline constexpr char kServiceAccountDir[] = "/var/run/secrets/kubernetes.io/serviceaccount";

struct Config {
  std::string host;  // name or IP literal (no brackets)
  uint16_t port = 443;
  std::string ca_pem;  // trust anchors for the server; empty: the system's
  bool insecure_skip_verify = false;
  // Client certificate authentication.
  std::string client_cert_pem, client_key_pem;
  // Bearer token authentication: a fixed token, or a file re-read whenever it changes
  // (projected ServiceAccount tokens are rotated by the kubelet).
  std::string token;
  std::string token_file;
  std::string ns = "default";  // the context's namespace, or the pod's

  std::string server() const;  // https://host:port
};

// Reads a kubeconfig: the named context (empty: current-context), its cluster and user.
// Supports certificate-authority(-data), insecure-skip-tls-verify, client-certificate(-data),
// client-key(-data), token and tokenFile; relative paths are relative to the file. Exec and
// auth-provider plugins are refused with a clear error.
absl::StatusOr<Config> LoadKubeconfig(const std::string& path, const std::string& context = "");

// Reads a file a kubeconfig names (certificate-authority, client-certificate, client-key).
using KubeconfigFileReader = std::function<absl::StatusOr<std::string>(const std::string& path)>;

// LoadKubeconfig without the file: `yaml` is the kubeconfig's text and relative paths in it are
// relative to `base_dir`. The files it names are read with `read_file` (empty: from disk).
// Errors name the kubeconfig "kubeconfig" (LoadKubeconfig: its path).
absl::StatusOr<Config> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                       const std::string& context = "",
                                       const KubeconfigFileReader& read_file = nullptr);

// The in-cluster config: KUBERNETES_SERVICE_HOST/PORT, and token, ca.crt and namespace
// from `sa_dir`.
absl::StatusOr<Config> InClusterConfig(const std::string& sa_dir = kServiceAccountDir);

// `kubeconfig` if given, else $KUBECONFIG, else the in-cluster config.
absl::StatusOr<Config> LoadConfig(const std::string& kubeconfig);

// Parses "https://host:port" (port 443 by default; IPv6 in brackets).
absl::Status ParseServer(std::string_view url, Config& out);

}  // namespace weft::kube
