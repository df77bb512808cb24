#pragma once

// `weftctl analyze`: its output (diagnostics as a compiler prints them, or JSON) and, with
// --cluster, its input read from a live cluster instead of files.
//
// --cluster lists every kind weft reads, at the versions it reads them (agent/source's
// WatchedKinds(), what weft-agent --kubernetes watches), page by page (limit/continue, as the
// reflector does), and feeds each object to a ConfigStore as the agent's KubeSource does (one
// entry "k8s:Kind/ns/name"): the diagnostics are those the agent would log. A kind the API
// server does not serve (its CRD is not installed) is skipped with a note. Each diagnostic is
// located as Kind/namespace/name (and its field path) instead of file:line.

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kube/client.h"
#include "core/kube/reflector.h"
#include "core/policy/compiler.h"

namespace weft::weftctl {

namespace pb = ::weft::config::v1;

// How diagnostics are located: file:line:column (files) or Kind/namespace/name (a cluster).
enum class Locate { kFile, kObject };

// "Kind/namespace/name" ("Kind/name" for cluster-scoped kinds) of what a diagnostic is about;
// a whole kind (no name): "Kind (group/version)"; else its store entry without "k8s:".
std::string ObjectLocation(const pb::Source& source);

// The diagnostic for FormatDiagnostic: as is (kFile: "file:line:col: error: Kind/ns/name:
// field: message"), or located at its object (kObject: "Kind/ns/name: error: field: message").
policy::Diagnostic ForDisplay(const pb::Diagnostic& d, Locate locate);

// `analyze -o json`: {"diagnostics": [{severity, code, location, kind, apiVersion, namespace,
// name, field, message[, file, line, column]}...] (those at or above `threshold`), "errors",
// "warnings", "notes" (counts of all), "excluded": [{kind, apiVersion, namespace, name,
// reason}...]}.
nlohmann::ordered_json AnalyzeJson(const pb::MeshSnapshot& snapshot, policy::Severity threshold,
                                   Locate locate);

struct ClusterAnalyzeOptions {
  std::string ns;  // report only this namespace's objects (the whole cluster is still read)
  policy::CompileOptions compile;
  size_t chunk_size = 500;  // objects per list request
};

struct ClusterAnalysis {
  // Compiled from every object read. Its diagnostics and `excluded` are those of the objects
  // in scope (all, or those of `ns` and the Namespace `ns`), after one note per kind skipped.
  pb::MeshSnapshot snapshot;
  size_t objects = 0;  // objects in scope
  size_t read = 0;     // objects read
};

// Reads and compiles the cluster. Errors: the API server unreachable or refusing a list.
absl::StatusOr<ClusterAnalysis> AnalyzeCluster(kube::Client& client,
                                               const ClusterAnalyzeOptions& options);

// Every object of one kind (all namespaces, or `ns`), page by page, with apiVersion and kind
// set and without metadata.managedFields, one per namespace/name. NotFound when the API server
// does not serve the kind, PermissionDenied when it may not be listed.
absl::StatusOr<std::vector<nlohmann::json>> ListAll(kube::Client& client,
                                                    const kube::ResourceType& type,
                                                    const std::string& ns, size_t chunk_size);

}  // namespace weft::weftctl
