#include "core/policy/compiler.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <thread>
#include <unordered_set>

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

// SHA-256 fetched once: OpenSSL 3 looks the algorithm up on every init given EVP_sha256().
const EVP_MD* Sha256Md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex2(ctx_, Sha256Md(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void Update(std::string_view s) { EVP_DigestUpdate(ctx_, s.data(), s.size()); }
  void Update(const std::array<unsigned char, 32>& d) {
    EVP_DigestUpdate(ctx_, d.data(), d.size());
  }
  std::string Final() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    return std::string(reinterpret_cast<char*>(md), n);
  }

 private:
  EVP_MD_CTX* ctx_;
};

// SHA-256 of the deterministic serialization, as Serialize() would produce it, without a
// string or a digest context per item (this runs once per service and workload).
std::array<unsigned char, 32> Digest(const google::protobuf::Message& m) {
  thread_local std::string buffer;
  thread_local std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(),
                                                                      EVP_MD_CTX_free);
  size_t size = m.ByteSizeLong();
  buffer.resize(size);
  {
    google::protobuf::io::ArrayOutputStream stream(buffer.data(), static_cast<int>(size));
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeWithCachedSizes(&coded);
  }
  std::array<unsigned char, 32> out;
  EVP_DigestInit_ex2(ctx.get(), Sha256Md(), nullptr);
  EVP_DigestUpdate(ctx.get(), buffer.data(), size);
  EVP_DigestFinal_ex(ctx.get(), out.data(), nullptr);
  return out;
}

// Runs fn(i) for i in [0, n) on up to `threads` threads (the caller's included). The compile
// passes only read the index, and each i writes only its own slot, so the result does not
// depend on the thread count.
template <class Fn>
void ParallelFor(size_t n, int threads, Fn&& fn) {
  constexpr size_t kMinPerThread = 512;  // below this a thread costs more than it saves
  size_t max_threads = std::max<size_t>(1, n / kMinPerThread);
  size_t t = std::min<size_t>(std::max(1, threads), max_threads);
  if (t <= 1) {
    for (size_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::atomic<size_t> next{0};
  constexpr size_t kChunk = 64;
  auto work = [&] {
    for (;;) {
      size_t begin = next.fetch_add(kChunk);
      if (begin >= n) return;
      for (size_t i = begin, end = std::min(n, begin + kChunk); i < end; ++i) fn(i);
    }
  };
  std::vector<std::thread> pool;
  for (size_t i = 1; i < t; ++i) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
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

}  // namespace

Compiler::Compiler(CompileOptions options) : options_(std::move(options)), index_(options_) {
  snapshot_.set_schema_version(kSchemaVersion);
  auto* s = snapshot_.mutable_settings();
  s->set_trust_domain(options_.trust_domain);
  s->set_cluster_domain(options_.cluster_domain);
  s->set_root_namespace(options_.root_namespace);
}

void Compiler::Apply(std::vector<Resource> upserts, const std::vector<ResourceKey>& removals) {
  if (upserts.size() > 64) {
    std::array<size_t, kKindCount> per_kind{};
    for (const auto& r : upserts) ++per_kind[static_cast<size_t>(r.kind)];
    for (size_t k = 0; k < per_kind.size(); ++k) {
      if (per_kind[k]) {
        Kind kind = static_cast<Kind>(k);
        index_.Reserve(kind, index_.All(kind).size() + per_kind[k]);
      }
    }
  }
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
  if (all_hosts_dirty_) return;  // every host is recompiled anyway (e.g. the first load)
  for (const auto& svc_key : index_.ServicesIn(pod.meta.ns)) {
    const Resource* svc = index_.Get(Kind::kService, svc_key);
    const auto& sel = svc->as<ServiceSpec>().selector;
    if (sel && !sel->empty() && LabelsMatch(*sel, pod.meta.labels)) {
      dirty_hosts_.insert(index_.ServiceHostname(svc->meta.name, svc->meta.ns));
    }
  }
  for (const auto& svc_key : index_.ServicesReferencingPod(KeyOf(pod))) {
    size_t slash = svc_key.find('/');
    dirty_hosts_.insert(
        index_.ServiceHostname(svc_key.substr(slash + 1), svc_key.substr(0, slash)));
  }
  for (const auto& [k, se] : index_.All(Kind::kServiceEntry)) {
    const auto& spec = se.as<ServiceEntrySpec>();
    if (se.meta.ns == pod.meta.ns && spec.workload_selector) {
      for (const auto& h : spec.hosts) dirty_hosts_.insert(h.host);
    }
  }
}

void Compiler::MarkGatewayDependents(const std::string& ns, const std::string& name) {
  auto names_it = [&](const Resource& r) {
    WaypointBinding b = WaypointBindingOf(index_, r);
    return b.name == name && b.ns == ns;
  };
  if (!all_hosts_dirty_) {
    for (const auto& [k, svc] : index_.All(Kind::kService)) {
      if (names_it(svc)) dirty_hosts_.insert(index_.ServiceHostname(svc.meta.name, svc.meta.ns));
    }
  }
  if (!all_pods_dirty_) {
    // Its own pods (never captured) and the pods bound to it.
    for (const Resource* pod :
         index_.PodsMatching(ns, Labels{{std::string(kGatewayNameLabel), name}})) {
      dirty_pods_.insert(KeyOf(*pod));
    }
    for (const auto& [k, pod] : index_.All(Kind::kPod)) {
      if (names_it(pod)) dirty_pods_.insert(k);
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
      authz_dirty_ = true;      // a targetRef'd Service's waypoint binding
      break;
    case Kind::kGateway:
      waypoints_dirty_ = true;
      namespaces_dirty_ = true;  // their bindings' diagnostics
      authz_dirty_ = true;       // targetRefs to it or to Services bound to it
      MarkGatewayDependents(any->meta.ns, any->meta.name);
      break;
    case Kind::kService:
      if (!all_hosts_dirty_) {
        dirty_hosts_.insert(index_.ServiceHostname(any->meta.name, any->meta.ns));
      }
      rules_dirty_ = routes_dirty_ = clusters_dirty_ = authz_dirty_ = true;
      break;
    case Kind::kEndpointSlice:
      for (const Resource* r : {before, after}) {
        if (r && !all_hosts_dirty_) {
          dirty_hosts_.insert(
              index_.ServiceHostname(r->as<EndpointSliceSpec>().service_name, r->meta.ns));
        }
      }
      break;
    case Kind::kPod:
      if (!all_pods_dirty_) dirty_pods_.insert(KeyOf(*any));
      for (const Resource* r : {before, after}) {
        if (!r) continue;
        MarkPodDependents(*r);
        if (r->meta.labels.count(std::string(kGatewayNameLabel))) waypoints_dirty_ = true;
      }
      authz_dirty_ = true;  // "selects no workload" notes
      break;
    case Kind::kServiceAccount:
      break;
    case Kind::kNode:
      all_hosts_dirty_ = all_pods_dirty_ = true;
      waypoints_dirty_ = true;  // the weft.dev/node annotation's check
      break;
    case Kind::kVirtualService:
    case Kind::kHTTPRoute:
      routes_dirty_ = true;
      break;
    case Kind::kDestinationRule:
      rules_dirty_ = routes_dirty_ = clusters_dirty_ = true;
      for (const Resource* r : {before, after}) {
        if (r) {
          dirty_hosts_.insert(
              index_.ResolveHost(r->as<DestinationRuleSpec>().host.host, r->meta.ns));
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

template <class T>
void Compiler::ReplaceItems(google::protobuf::RepeatedPtrField<T>* field, ItemTable& table,
                            std::vector<ItemUpdate<T>>& updates,
                            std::vector<std::string>& removals) {
  // `updates` is sorted by key. Replacing existing items keeps the order: swap in place.
  bool structural = !removals.empty();
  for (const auto& u : updates) {
    if (!table.pos.count(*u.key)) {
      structural = true;
      break;
    }
  }
  if (!structural) {
    for (auto& u : updates) {
      int i = table.pos.find(*u.key)->second;
      field->Mutable(i)->Swap(u.item.get());
      table.digests[i] = u.digest;
    }
    return;
  }
  // Otherwise merge the old items (less removals) with the updates, both sorted by key.
  std::sort(removals.begin(), removals.end());
  auto removed = [&](const std::string& k) {
    return std::binary_search(removals.begin(), removals.end(), k);
  };
  size_t old_n = static_cast<size_t>(field->size());
  std::vector<T*> old_items(old_n);
  if (old_n) field->ExtractSubrange(0, static_cast<int>(old_n), old_items.data());
  std::vector<std::string> old_keys = std::move(table.keys);
  std::vector<std::array<unsigned char, 32>> old_digests = std::move(table.digests);
  table.keys.clear();
  table.digests.clear();
  table.keys.reserve(old_n + updates.size());
  table.digests.reserve(old_n + updates.size());
  field->Reserve(static_cast<int>(old_n + updates.size()));
  size_t i = 0, j = 0;
  while (i < old_n || j < updates.size()) {
    bool take_old = j == updates.size() || (i < old_n && old_keys[i] < *updates[j].key);
    if (take_old) {
      if (removed(old_keys[i])) {
        delete old_items[i];
      } else {
        field->AddAllocated(old_items[i]);
        table.keys.push_back(std::move(old_keys[i]));
        table.digests.push_back(old_digests[i]);
      }
      ++i;
      continue;
    }
    if (i < old_n && old_keys[i] == *updates[j].key) {  // replaced
      delete old_items[i];
      ++i;
    }
    field->AddAllocated(updates[j].item.release());
    table.keys.push_back(*updates[j].key);
    table.digests.push_back(updates[j].digest);
    ++j;
  }
  table.pos.clear();
  table.pos.reserve(table.keys.size());
  for (size_t k = 0; k < table.keys.size(); ++k)
    table.pos.emplace(table.keys[k], static_cast<int>(k));
}

void Compiler::RecompileServices() {
  if (!all_hosts_dirty_ && dirty_hosts_.empty()) return;
  std::vector<std::string> hosts;  // sorted
  std::vector<std::string> removals;
  if (all_hosts_dirty_) {
    std::set<std::string> all = AllHostnames(index_);
    for (const auto& h : services_.keys) {
      if (!all.count(h)) removals.push_back(h);
    }
    hosts.reserve(all.size());
    while (!all.empty()) hosts.push_back(std::move(all.extract(all.begin()).value()));
  } else {
    hosts.reserve(dirty_hosts_.size());
    while (!dirty_hosts_.empty()) {
      hosts.push_back(std::move(dirty_hosts_.extract(dirty_hosts_.begin()).value()));
    }
  }
  struct Result {
    std::unique_ptr<pb::Service> item;
    std::array<unsigned char, 32> digest;
    PassReport report;
  };
  std::vector<Result> results(hosts.size());
  ParallelFor(hosts.size(), options_.threads, [&](size_t i) {
    auto svc = std::make_unique<pb::Service>();
    if (CompileService(index_, rules_, hosts[i], svc.get(), results[i].report)) {
      results[i].digest = Digest(*svc);
      results[i].item = std::move(svc);
    }
  });
  std::vector<ItemUpdate<pb::Service>> updates;
  updates.reserve(hosts.size());
  for (size_t i = 0; i < hosts.size(); ++i) {
    const std::string& host = hosts[i];
    Result& r = results[i];
    if (r.item) {
      updates.push_back({&host, std::move(r.item), r.digest});
    } else if (services_.pos.count(host)) {
      removals.push_back(host);
    }
    if (r.report.diagnostics.empty()) {
      service_reports_.erase(host);
    } else {
      service_reports_[host] = std::move(r.report);
    }
  }
  for (const auto& h : removals) service_reports_.erase(h);
  ReplaceItems(snapshot_.mutable_services(), services_, updates, removals);
  dirty_hosts_.clear();
  all_hosts_dirty_ = false;
}

void Compiler::RecompileWorkloads() {
  if (!all_pods_dirty_ && dirty_pods_.empty()) return;
  std::vector<std::string> pods;  // sorted
  std::vector<std::string> removals;
  if (all_pods_dirty_) {
    const auto& all = index_.All(Kind::kPod);
    pods.reserve(all.size());
    for (const auto& [k, r] : all) pods.push_back(k);
    std::sort(pods.begin(), pods.end());
    for (const auto& k : workloads_.keys) {
      if (!all.count(k)) removals.push_back(k);
    }
  } else {
    pods.reserve(dirty_pods_.size());
    while (!dirty_pods_.empty()) {
      pods.push_back(std::move(dirty_pods_.extract(dirty_pods_.begin()).value()));
    }
  }
  struct Result {
    std::unique_ptr<pb::Workload> item;
    std::array<unsigned char, 32> digest;
    PassReport report;
  };
  std::vector<Result> results(pods.size());
  ParallelFor(pods.size(), options_.threads, [&](size_t i) {
    const Resource* pod = index_.Get(Kind::kPod, pods[i]);
    if (!pod) return;
    results[i].item =
        std::make_unique<pb::Workload>(CompileWorkload(index_, security_, *pod, results[i].report));
    results[i].digest = Digest(*results[i].item);
  });
  std::vector<ItemUpdate<pb::Workload>> updates;
  updates.reserve(pods.size());
  for (size_t i = 0; i < pods.size(); ++i) {
    const std::string& key = pods[i];
    Result& r = results[i];
    if (!r.item) {
      if (workloads_.pos.count(key)) removals.push_back(key);
      continue;
    }
    updates.push_back({&key, std::move(r.item), r.digest});
    if (r.report.diagnostics.empty()) {
      workload_reports_.erase(key);
    } else {
      workload_reports_[key] = std::move(r.report);
    }
  }
  for (const auto& k : removals) workload_reports_.erase(k);
  ReplaceItems(snapshot_.mutable_workloads(), workloads_, updates, removals);
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
  add(waypoints_report_);
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
  index_.Seal();  // the passes below read the index, some of them on several threads
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
  if (waypoints_dirty_) {
    waypoints_report_ = {};
    auto v = CompileWaypoints(index_, waypoints_report_);
    snapshot_.clear_waypoints();
    for (auto& w : v) *snapshot_.add_waypoints() = std::move(w);
    waypoints_dirty_ = false;
    tables_changed = true;
  }
  if (tables_changed || tables_digest_.empty()) {
    // As documented at MeshSnapshot.content_hash.
    Sha256 h;
    h.Update(Serialize(snapshot_.settings()));
    for (const auto& n : snapshot_.namespaces()) h.Update(Serialize(n));
    for (const auto& p : snapshot_.authorization_policies()) h.Update(Serialize(p));
    for (const auto& t : snapshot_.route_tables()) h.Update(Serialize(t));
    for (const auto& c : snapshot_.cluster_policies()) h.Update(Serialize(c));
    for (const auto& w : snapshot_.waypoints()) h.Update(Serialize(w));
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
  for (const auto& d : services_.digests) h.Update(d);
  for (const auto& d : workloads_.digests) h.Update(d);
  snapshot_.set_content_hash(Hex(h.Final()));
}

CompileResult CompileDocuments(std::vector<DecodedDocument> documents, CompileOptions options) {
  Compiler compiler(std::move(options));
  std::vector<Resource> resources;
  std::vector<Diagnostic> diagnostics;
  std::vector<ResourceRef> rejected;
  // The same kind/namespace/name twice: the first wins, later ones conflict.
  struct KeyHash {
    size_t operator()(const ResourceKey& k) const {
      return std::hash<std::string>()(k.key) ^ static_cast<size_t>(k.kind);
    }
  };
  std::unordered_set<ResourceKey, KeyHash> seen;
  seen.reserve(documents.size());
  resources.reserve(documents.size());
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
  compiler.Snapshot();
  out.snapshot = std::move(compiler.snapshot_);  // the compiler is done: move, not copy
  for (const auto& d : out.snapshot.diagnostics()) {
    out.has_errors |= d.severity() == pb::Diagnostic::ERROR;
  }
  return out;
}

}  // namespace weft::policy
