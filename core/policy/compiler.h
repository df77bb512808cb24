#pragma once

// The policy compiler: Kubernetes, Istio and Gateway API resources in, one MeshSnapshot out.
//
// Pure and deterministic: no I/O, no clocks, no randomness; the same resources always give a
// byte-identical snapshot (repeated fields sorted, maps serialized deterministically).
//
// Incremental: Apply() records what changed and marks the parts of the snapshot that depend on
// it (one Service after an EndpointSlice change; one Workload after a Pod change; the route,
// cluster and authorization tables after their own kinds change). Snapshot() recomputes only
// those parts. A full Compile() and any sequence of Apply() calls reaching the same resources
// give the same snapshot (tests/core/policy/incremental_test.cc checks it).

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "core/policy/compile/index.h"
#include "core/policy/compile/passes.h"
#include "core/policy/decode/decode.h"
#include "core/policy/model/resources.h"

namespace weft::policy {

class Compiler {
 public:
  explicit Compiler(CompileOptions options = {});

  // Adds or replaces resources (matched by kind/namespace/name) and removes others.
  void Apply(std::vector<Resource> upserts, const std::vector<ResourceKey>& removals = {});
  // Diagnostics and rejected documents from decoding, passed through to the snapshot. Replaces
  // what an earlier call for the same `origin` (e.g. a file path) passed.
  void SetInputReport(const std::string& origin, std::vector<Diagnostic> diagnostics,
                      std::vector<ResourceRef> rejected);

  void set_generation(uint64_t g) { generation_ = g; }

  // The current snapshot; recompiles what changed since the last call.
  const pb::MeshSnapshot& Snapshot();

  const ResourceIndex& index() const { return index_; }

 private:
  void MarkChanged(const Resource* before, const Resource* after);
  void MarkPodDependents(const Resource& pod);
  void RecompileServices();
  void RecompileWorkloads();
  void AssembleDiagnostics();
  void UpdateHash();

  CompileOptions options_;
  ResourceIndex index_;
  uint64_t generation_ = 0;
  pb::MeshSnapshot snapshot_;

  // What is out of date.
  std::set<std::string> dirty_hosts_;
  std::set<std::string> dirty_pods_;
  bool all_hosts_dirty_ = true;
  bool all_pods_dirty_ = true;
  bool rules_dirty_ = true;       // DestinationRule selection
  bool security_dirty_ = true;    // PeerAuthentication / AuthorizationPolicy selection
  bool routes_dirty_ = true;
  bool clusters_dirty_ = true;
  bool authz_dirty_ = true;
  bool namespaces_dirty_ = true;
  bool diagnostics_dirty_ = true;

  // Cached pass results.
  DestinationRules rules_;
  SecurityPolicies security_;
  std::map<std::string, int> service_pos_;     // hostname -> index in snapshot_.services
  std::map<std::string, int> workload_pos_;    // pod key -> index in snapshot_.workloads
  std::map<std::string, PassReport> service_reports_;
  std::map<std::string, PassReport> workload_reports_;
  std::map<std::string, std::string> item_digest_;  // "s:host" / "w:pod" -> SHA-256
  std::string tables_digest_;
  PassReport routes_report_, clusters_report_, authz_report_, namespaces_report_;
  struct InputReport {
    std::vector<Diagnostic> diagnostics;
    std::vector<ResourceRef> rejected;
  };
  std::map<std::string, InputReport> input_reports_;
};

struct CompileResult {
  pb::MeshSnapshot snapshot;
  bool has_errors = false;
};

// One-shot: compiles decoded documents (from one or more files).
CompileResult CompileDocuments(std::vector<DecodedDocument> documents, CompileOptions options = {});

}  // namespace weft::policy
