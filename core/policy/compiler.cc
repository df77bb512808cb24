#include "core/policy/compiler.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <algorithm>

namespace weft::policy {

namespace {

constexpr char kSchemaVersion[] = "weft.config.v1";

std::string Serialize(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view s) { EVP_DigestUpdate(ctx_, s.data(), s.size()); }
  std::string Final() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    return std::string(reinterpret_cast<char*>(md), n);
  }

 private:
  EVP_MD_CTX* ctx_;
};

std::string Digest(const google::protobuf::Message& m) {
  Sha256 h;
  h.Update(Serialize(m));
  return h.Final();
}

std::string Hex(std::string_view bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

pb::Diagnostic ToProto(const Diagnostic& d) {
  pb::Diagnostic p;
  switch (d.severity) {
    case Severity::kError:
      p.set_severity(pb::Diagnostic::ERROR);
      break;
    case Severity::kWarning:
      p.set_severity(pb::Diagnostic::WARNING);
      break;
    case Severity::kNote:
      p.set_severity(pb::Diagnostic::NOTE);
      break;
  }
  p.set_code(d.code);
  p.set_message(d.message);
  auto* s = p.mutable_source();
  s->set_kind(d.resource.kind);
  s->set_api_version(d.resource.api_version);
  s->set_namespace_(d.resource.ns);
  s->set_name(d.resource.name);
  s->set_file(d.resource.file);
  s->set_line(d.line ? d.line : d.resource.line);
  s->set_column(d.line ? d.column : d.resource.column);
  s->set_field(d.field);
  return p;
}

// Keeps `field` sorted by key with in-place replacement: items are moved, never copied.
template <class T>
void ReplaceSorted(google::protobuf::RepeatedPtrField<T>* field, std::map<std::string, int>* pos,
                   std::map<std::string, std::unique_ptr<T>>& updates,
                   const std::set<std::string>& removals, bool* reordered) {
  bool structural = !removals.empty();
  for (auto& [key, item] : updates) {
    auto it = pos->find(key);
    if (it != pos->end()) {
      field->Mutable(it->second)->Swap(item.get());
    } else {
      structural = true;
    }
  }
  *reordered = structural;
  if (!structural) return;
  std::map<std::string, T*> all;
  std::vector<T*> ptrs(field->size());
  std::vector<std::string> keys(field->size());
  for (const auto& [key, i] : *pos) keys[i] = key;
  field->ExtractSubrange(0, field->size(), ptrs.data());
  for (size_t i = 0; i < ptrs.size(); ++i) {
    if (removals.count(keys[i])) {
      delete ptrs[i];
    } else {
      all[keys[i]] = ptrs[i];
    }
  }
  for (auto& [key, item] : updates) {
    if (!all.count(key)) all[key] = item.release();
  }
  pos->clear();
  for (auto& [key, p] : all) {
    (*pos)[key] = field->size();
    field->AddAllocated(p);
  }
}

}  // namespace

Compiler::Compiler(CompileOptions options) : options_(std::move(options)), index_(options_) {
  snapshot_.set_schema_version(kSchemaVersion);
  auto* s = snapshot_.mutable_settings();
  s->set_trust_domain(options_.trust_domain);
  s->set_cluster_domain(options_.cluster_domain);
  s->set_root_namespace(options_.root_namespace);
}

void Compiler::Apply(std::vector<Resource> upserts, const std::vector<ResourceKey>& removals) {
  for (auto& r : upserts) {
    ResourceKey key = KeyFor(r);
    std::optional<Resource> old = index_.Upsert(std::move(r));
    MarkChanged(old ? &*old : nullptr, index_.Get(key.kind, key.key));
  }
  for (const auto& key : removals) {
    std::optional<Resource> old = index_.Remove(key);
    if (old) MarkChanged(&*old, nullptr);
  }
  diagnostics_dirty_ = true;
}

void Compiler::MarkPodDependents(const Resource& pod) {
  for (const auto& svc_key : index_.ServicesIn(pod.meta.ns)) {
    const Resource* svc = index_.Get(Kind::kService, svc_key);
    const auto& sel = svc->as<ServiceSpec>().selector;
    if (sel && !sel->empty() && LabelsMatch(*sel, pod.meta.labels)) {
      dirty_hosts_.insert(index_.ServiceHostname(svc->meta.name, svc->meta.ns));
    }
  }
  for (const auto& svc_key : index_.ServicesReferencingPod(KeyOf(pod))) {
    size_t slash = svc_key.find('/');
    dirty_hosts_.insert(index_.ServiceHostname(svc_key.substr(slash + 1), svc_key.substr(0, slash)));
  }
  for (const auto& [k, se] : index_.All(Kind::kServiceEntry)) {
    const auto& spec = se.as<ServiceEntrySpec>();
    if (se.meta.ns == pod.meta.ns && spec.workload_selector) {
      for (const auto& h : spec.hosts) dirty_hosts_.insert(h.host);
    }
  }
}

void Compiler::MarkChanged(const Resource* before, const Resource* after) {
  const Resource* any = after ? after : before;
  switch (any->kind) {
    case Kind::kNamespace:
      namespaces_dirty_ = true;
      all_pods_dirty_ = true;   // enrollment and waypoint labels
      all_hosts_dirty_ = true;  // service waypoints
      break;
    case Kind::kService:
      dirty_hosts_.insert(index_.ServiceHostname(any->meta.name, any->meta.ns));
      rules_dirty_ = routes_dirty_ = clusters_dirty_ = authz_dirty_ = true;
      break;
    case Kind::kEndpointSlice:
      for (const Resource* r : {before, after}) {
        if (r) {
          dirty_hosts_.insert(
              index_.ServiceHostname(r->as<EndpointSliceSpec>().service_name, r->meta.ns));
        }
      }
      break;
    case Kind::kPod:
      dirty_pods_.insert(KeyOf(*any));
      for (const Resource* r : {before, after}) {
        if (r) MarkPodDependents(*r);
      }
      authz_dirty_ = true;  // "selects no workload" notes
      break;
    case Kind::kServiceAccount:
      break;
    case Kind::kNode:
      all_hosts_dirty_ = all_pods_dirty_ = true;
      break;
    case Kind::kVirtualService:
    case Kind::kHTTPRoute:
      routes_dirty_ = true;
      break;
    case Kind::kDestinationRule:
      rules_dirty_ = routes_dirty_ = clusters_dirty_ = true;
      for (const Resource* r : {before, after}) {
        if (r) {
          dirty_hosts_.insert(index_.ResolveHost(r->as<DestinationRuleSpec>().host.host, r->meta.ns));
        }
      }
      break;
    case Kind::kServiceEntry:
      for (const Resource* r : {before, after}) {
        if (!r) continue;
        for (const auto& h : r->as<ServiceEntrySpec>().hosts) dirty_hosts_.insert(h.host);
      }
      rules_dirty_ = routes_dirty_ = clusters_dirty_ = true;
      break;
    case Kind::kPeerAuthentication:
      security_dirty_ = all_pods_dirty_ = true;
      break;
    case Kind::kAuthorizationPolicy:
      security_dirty_ = authz_dirty_ = all_pods_dirty_ = true;
      break;
  }
}

void Compiler::SetInputReport(const std::string& origin, std::vector<Diagnostic> diagnostics,
                              std::vector<ResourceRef> rejected) {
  if (diagnostics.empty() && rejected.empty()) {
    input_reports_.erase(origin);
  } else {
    input_reports_[origin] = {std::move(diagnostics), std::move(rejected)};
  }
  diagnostics_dirty_ = true;
}

void Compiler::RecompileServices() {
  if (!all_hosts_dirty_ && dirty_hosts_.empty()) return;
  std::set<std::string> hosts;
  std::set<std::string> removals;
  if (all_hosts_dirty_) {
    hosts = AllHostnames(index_);
    for (const auto& [h, i] : service_pos_) {
      if (!hosts.count(h)) removals.insert(h);
    }
  } else {
    hosts = std::move(dirty_hosts_);
  }
  std::map<std::string, std::unique_ptr<pb::Service>> updates;
  for (const auto& host : hosts) {
    auto svc = std::make_unique<pb::Service>();
    PassReport report;
    if (CompileService(index_, rules_, host, svc.get(), report)) {
      item_digest_["s:" + host] = Digest(*svc);
      updates[host] = std::move(svc);
    } else if (service_pos_.count(host)) {
      removals.insert(host);
    }
    if (report.diagnostics.empty()) {
      service_reports_.erase(host);
    } else {
      service_reports_[host] = std::move(report);
    }
  }
  for (const auto& h : removals) {
    item_digest_.erase("s:" + h);
    service_reports_.erase(h);
  }
  bool reordered = false;
  ReplaceSorted(snapshot_.mutable_services(), &service_pos_, updates, removals, &reordered);
  dirty_hosts_.clear();
  all_hosts_dirty_ = false;
}

void Compiler::RecompileWorkloads() {
  if (!all_pods_dirty_ && dirty_pods_.empty()) return;
  std::set<std::string> pods;
  std::set<std::string> removals;
  if (all_pods_dirty_) {
    for (const auto& [k, r] : index_.All(Kind::kPod)) pods.insert(k);
    for (const auto& [k, i] : workload_pos_) {
      if (!pods.count(k)) removals.insert(k);
    }
  } else {
    pods = std::move(dirty_pods_);
  }
  std::map<std::string, std::unique_ptr<pb::Workload>> updates;
  for (const auto& key : pods) {
    const Resource* pod = index_.Get(Kind::kPod, key);
    if (!pod) {
      if (workload_pos_.count(key)) removals.insert(key);
      continue;
    }
    PassReport report;
    auto w = std::make_unique<pb::Workload>(CompileWorkload(index_, security_, *pod, report));
    item_digest_["w:" + key] = Digest(*w);
    updates[key] = std::move(w);
    if (report.diagnostics.empty()) {
      workload_reports_.erase(key);
    } else {
      workload_reports_[key] = std::move(report);
    }
  }
  for (const auto& k : removals) {
    item_digest_.erase("w:" + k);
    workload_reports_.erase(k);
  }
  bool reordered = false;
  ReplaceSorted(snapshot_.mutable_workloads(), &workload_pos_, updates, removals, &reordered);
  dirty_pods_.clear();
  all_pods_dirty_ = false;
}

void Compiler::AssembleDiagnostics() {
  std::vector<Diagnostic> all;
  std::vector<pb::ExcludedResource> excluded;
  for (const auto& [origin, rep] : input_reports_) {
    all.insert(all.end(), rep.diagnostics.begin(), rep.diagnostics.end());
    for (const auto& ref : rep.rejected) {
      pb::ExcludedResource e;
      auto* s = e.mutable_source();
      s->set_kind(ref.kind);
      s->set_api_version(ref.api_version);
      s->set_namespace_(ref.ns);
      s->set_name(ref.name);
      s->set_file(ref.file);
      s->set_line(ref.line);
      s->set_column(ref.column);
      for (const auto& d : rep.diagnostics) {
        if (d.severity == Severity::kError && d.resource == ref) {
          e.set_reason(d.message);
          break;
        }
      }
      excluded.push_back(std::move(e));
    }
  }
  std::map<ResourceKey, std::string> rejected;
  auto add = [&](const PassReport& r) {
    all.insert(all.end(), r.diagnostics.begin(), r.diagnostics.end());
    for (const auto& [k, why] : r.rejected) rejected.emplace(k, why);
  };
  add(rules_.report);
  add(security_.report);
  for (const auto& [k, r] : service_reports_) add(r);
  for (const auto& [k, r] : workload_reports_) add(r);
  add(routes_report_);
  add(clusters_report_);
  add(authz_report_);
  add(namespaces_report_);
  for (const auto& [key, why] : rejected) {
    const Resource* r = index_.Get(key.kind, key.key);
    if (!r) continue;
    pb::ExcludedResource e;
    *e.mutable_source() = SourceOf(*r);
    e.set_reason(why);
    excluded.push_back(std::move(e));
  }
  std::sort(all.begin(), all.end(), [](const Diagnostic& a, const Diagnostic& b) {
    uint32_t la = a.line ? a.line : a.resource.line, lb = b.line ? b.line : b.resource.line;
    return std::tie(a.resource.file, la, a.column, a.message) <
           std::tie(b.resource.file, lb, b.column, b.message);
  });
  all.erase(std::unique(all.begin(), all.end(),
                        [](const Diagnostic& a, const Diagnostic& b) {
                          return a.resource == b.resource && a.line == b.line &&
                                 a.column == b.column && a.message == b.message;
                        }),
            all.end());
  std::sort(excluded.begin(), excluded.end(), [](const auto& a, const auto& b) {
    const auto &x = a.source(), &y = b.source();
    return std::make_tuple(x.file(), x.line(), x.name()) <
           std::make_tuple(y.file(), y.line(), y.name());
  });
  snapshot_.clear_diagnostics();
  for (const auto& d : all) *snapshot_.add_diagnostics() = ToProto(d);
  snapshot_.clear_excluded();
  for (auto& e : excluded) *snapshot_.add_excluded() = std::move(e);
}

const pb::MeshSnapshot& Compiler::Snapshot() {
  bool tables_changed = false;
  if (rules_dirty_) {
    rules_ = SelectDestinationRules(index_);
    rules_dirty_ = false;
    // Subsets live in services; any DR change already marked its hosts dirty.
  }
  if (security_dirty_) {
    security_ = SelectSecurityPolicies(index_);
    security_dirty_ = false;
  }
  RecompileServices();
  RecompileWorkloads();
  if (namespaces_dirty_) {
    namespaces_report_ = {};
    auto v = CompileNamespaces(index_, namespaces_report_);
    snapshot_.clear_namespaces();
    for (auto& n : v) *snapshot_.add_namespaces() = std::move(n);
    namespaces_dirty_ = false;
    tables_changed = true;
  }
  if (routes_dirty_) {
    routes_report_ = {};
    auto v = CompileRouteTables(index_, rules_, routes_report_);
    snapshot_.clear_route_tables();
    for (auto& t : v) *snapshot_.add_route_tables() = std::move(t);
    routes_dirty_ = false;
    tables_changed = true;
  }
  if (clusters_dirty_) {
    clusters_report_ = {};
    auto v = CompileClusterPolicies(index_, rules_, clusters_report_);
    snapshot_.clear_cluster_policies();
    for (auto& c : v) *snapshot_.add_cluster_policies() = std::move(c);
    clusters_dirty_ = false;
    tables_changed = true;
  }
  if (authz_dirty_) {
    authz_report_ = {};
    auto v = CompileAuthorizationPolicies(index_, authz_report_);
    snapshot_.clear_authorization_policies();
    for (auto& p : v) *snapshot_.add_authorization_policies() = std::move(p);
    authz_dirty_ = false;
    tables_changed = true;
  }
  if (tables_changed || tables_digest_.empty()) {
    Sha256 h;
    h.Update(Serialize(snapshot_.settings()));
    for (const auto& n : snapshot_.namespaces()) h.Update(Serialize(n));
    for (const auto& p : snapshot_.authorization_policies()) h.Update(Serialize(p));
    for (const auto& t : snapshot_.route_tables()) h.Update(Serialize(t));
    for (const auto& c : snapshot_.cluster_policies()) h.Update(Serialize(c));
    tables_digest_ = h.Final();
  }
  AssembleDiagnostics();
  diagnostics_dirty_ = false;
  UpdateHash();
  snapshot_.set_generation(generation_);
  return snapshot_;
}

void Compiler::UpdateHash() {
  // SHA-256 over: the digest of the small tables, then each service's and each workload's
  // own digest in snapshot order. Items keep their digests between recompiles, so an
  // incremental change rehashes only what changed plus this short list.
  Sha256 h;
  h.Update(tables_digest_);
  for (const auto& s : snapshot_.services()) h.Update(item_digest_["s:" + s.hostname()]);
  for (const auto& w : snapshot_.workloads()) h.Update(item_digest_["w:" + w.uid()]);
  snapshot_.set_content_hash(Hex(h.Final()));
}

CompileResult CompileDocuments(std::vector<DecodedDocument> documents, CompileOptions options) {
  Compiler compiler(std::move(options));
  std::vector<Resource> resources;
  std::vector<Diagnostic> diagnostics;
  std::vector<ResourceRef> rejected;
  // The same kind/namespace/name twice: the first wins, later ones conflict.
  std::set<ResourceKey> seen;
  for (auto& d : documents) {
    for (auto& diag : d.diagnostics) diagnostics.push_back(std::move(diag));
    if (d.rejected) rejected.push_back(d.ref);
    if (!d.resource) continue;
    ResourceKey key = KeyFor(*d.resource);
    if (!seen.insert(key).second) {
      Diagnostic dup;
      dup.severity = Severity::kError;
      dup.code = std::string(code::kConflict);
      dup.resource = d.ref;
      dup.message = "duplicate " + d.ref.kind + " " + key.key + ": an earlier document defines it";
      diagnostics.push_back(std::move(dup));
      rejected.push_back(d.ref);
      continue;
    }
    resources.push_back(std::move(*d.resource));
  }
  compiler.SetInputReport("", std::move(diagnostics), std::move(rejected));
  compiler.Apply(std::move(resources));
  CompileResult out;
  out.snapshot = compiler.Snapshot();
  for (const auto& d : out.snapshot.diagnostics()) {
    out.has_errors |= d.severity() == pb::Diagnostic::ERROR;
  }
  return out;
}

}  // namespace weft::policy
