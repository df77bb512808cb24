#pragma once

// The policy compiler: Kubernetes, Istio and Gateway API resources in, one MeshSnapshot out.
//
// Pure and deterministic: no I/O, no clocks, no randomness; the same resources always give a
// byte-identical snapshot (repeated fields sorted, maps serialized deterministically).
//
// Incremental: Apply() records what changed and marks the parts of the snapshot that depend on
// it (one Service after an EndpointSlice change; one Workload after a Pod change; the route,
// cluster and authorization tables after their own kinds change; the Services, Pods and
// Namespaces bound to a Gateway and the waypoints table after a Gateway change). Snapshot()
// recomputes only those parts. A full Compile() and any sequence of Apply() calls reaching the
// same resources give the same snapshot (tests/core/policy/compiler_test.cc checks it).

#include <array>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/policy/compile/index.h"
#include "core/policy/compile/passes.h"
#include "core/policy/decode/decode.h"
#include "core/policy/model/resources.h"

namespace weft::policy {

struct CompileResult;

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
  friend CompileResult CompileDocuments(std::vector<DecodedDocument>, CompileOptions);

  // The compiled items of one repeated field of the snapshot (services or workloads), kept
  // sorted by key (hostname, pod key), with the SHA-256 of each item's serialization for the
  // content hash. `keys` and `digests` are parallel to the field; `pos` views `keys`.
  struct ItemTable {
    std::vector<std::string> keys;
    std::vector<std::array<unsigned char, 32>> digests;
    std::unordered_map<std::string_view, int> pos;
  };
  template <class T>
  struct ItemUpdate {
    const std::string* key;
    std::unique_ptr<T> item;
    std::array<unsigned char, 32> digest;
  };
  template <class T>
  static void ReplaceItems(google::protobuf::RepeatedPtrField<T>* field, ItemTable& table,
                           std::vector<ItemUpdate<T>>& updates, std::vector<std::string>& removals);

  void MarkChanged(const Resource* before, const Resource* after);
  void MarkPodDependents(const Resource& pod);
  // Everything that depends on the Gateway `ns`/`name`: what binds to it, its pods.
  void MarkGatewayDependents(const std::string& ns, const std::string& name);
  void RecompileServices();
  void RecompileWorkloads();
  void AssembleDiagnostics();
  void UpdateHash();

  CompileOptions options_;
  ResourceIndex index_;
  uint64_t generation_ = 0;
  pb::MeshSnapshot snapshot_;

  // What is out of date. While all_*_dirty_ is set, the per-item sets are not kept.
  std::set<std::string> dirty_hosts_;
  std::set<std::string> dirty_pods_;
  bool all_hosts_dirty_ = true;
  bool all_pods_dirty_ = true;
  bool rules_dirty_ = true;     // DestinationRule selection
  bool security_dirty_ = true;  // PeerAuthentication / AuthorizationPolicy selection
  bool routes_dirty_ = true;
  bool clusters_dirty_ = true;
  bool authz_dirty_ = true;
  bool namespaces_dirty_ = true;
  bool waypoints_dirty_ = true;
  bool diagnostics_dirty_ = true;

  // Cached pass results.
  DestinationRules rules_;
  SecurityPolicies security_;
  ItemTable services_;   // snapshot_.services by hostname
  ItemTable workloads_;  // snapshot_.workloads by pod key
  std::map<std::string, PassReport> service_reports_;
  std::map<std::string, PassReport> workload_reports_;
  std::string tables_digest_;
  PassReport routes_report_, clusters_report_, authz_report_, namespaces_report_, waypoints_report_;
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
