// `weftctl analyze` output and `analyze --cluster` input (analyze.h).

#include "tools/weftctl/analyze.h"

#include <map>

#include "agent/source/config_store.h"
#include "agent/source/kube_source.h"

namespace weft::weftctl {

using nlohmann::json;
using nlohmann::ordered_json;

namespace {

policy::Severity SeverityOf(pb::Diagnostic::Severity s) {
  return s == pb::Diagnostic::ERROR     ? policy::Severity::kError
         : s == pb::Diagnostic::WARNING ? policy::Severity::kWarning
                                        : policy::Severity::kNote;
}

bool InScope(const pb::Source& s, const std::string& ns) {
  return ns.empty() || s.namespace_() == ns || (s.kind() == "Namespace" && s.name() == ns);
}

bool InScope(const json& object, const std::string& ns) {
  if (ns.empty()) return true;
  const json& meta = object.value("metadata", json::object());
  if (!meta.is_object()) return false;
  if (meta.value("namespace", "") == ns) return true;
  return object.value("kind", "") == "Namespace" && meta.value("name", "") == ns;
}

pb::Diagnostic KindNote(const kube::ResourceType& t, const std::string& message) {
  pb::Diagnostic d;
  d.set_severity(pb::Diagnostic::NOTE);
  d.set_code("not-listed");
  d.set_message(message);
  d.mutable_source()->set_kind(t.kind);
  d.mutable_source()->set_api_version(t.api_version());
  return d;
}

}  // namespace

std::string ObjectLocation(const pb::Source& s) {
  if (!s.kind().empty() && !s.name().empty()) {
    return s.kind() + "/" + (s.namespace_().empty() ? "" : s.namespace_() + "/") + s.name();
  }
  if (!s.kind().empty()) {
    return s.kind() + (s.api_version().empty() ? "" : " (" + s.api_version() + ")");
  }
  std::string file = s.file();
  if (file.starts_with("k8s:")) file = file.substr(4);
  return file.empty() ? "<cluster>" : file;
}

policy::Diagnostic ForDisplay(const pb::Diagnostic& d, Locate locate) {
  policy::Diagnostic out;
  out.severity = SeverityOf(d.severity());
  out.code = d.code();
  out.message = d.message();
  out.field = d.source().field();
  if (locate == Locate::kObject) {
    // FormatDiagnostic prints the file first: here the object, without the resource again.
    out.resource.file = ObjectLocation(d.source());
    return out;
  }
  out.resource.file = d.source().file();
  out.resource.kind = d.source().kind();
  out.resource.ns = d.source().namespace_();
  out.resource.name = d.source().name();
  out.line = d.source().line();
  out.column = d.source().column();
  return out;
}

ordered_json AnalyzeJson(const pb::MeshSnapshot& snapshot, policy::Severity threshold,
                         Locate locate) {
  ordered_json diagnostics = ordered_json::array();
  int errors = 0, warnings = 0, notes = 0;
  for (const auto& d : snapshot.diagnostics()) {
    policy::Severity severity = SeverityOf(d.severity());
    errors += severity == policy::Severity::kError;
    warnings += severity == policy::Severity::kWarning;
    notes += severity == policy::Severity::kNote;
    if (severity > threshold) continue;
    const pb::Source& s = d.source();
    std::string location;
    if (locate == Locate::kObject) {
      location = ObjectLocation(s);
    } else {
      location = s.file().empty() ? "<input>" : s.file();
      uint32_t line = s.line();
      if (line) location += ":" + std::to_string(line);
      if (line && s.column()) location += ":" + std::to_string(s.column());
    }
    ordered_json j = {{"severity", policy::SeverityName(severity)},
                      {"code", d.code()},
                      {"location", location},
                      {"kind", s.kind()},
                      {"apiVersion", s.api_version()},
                      {"namespace", s.namespace_()},
                      {"name", s.name()},
                      {"field", s.field()},
                      {"message", d.message()}};
    if (locate == Locate::kFile) {
      j["file"] = s.file();
      j["line"] = s.line();
      j["column"] = s.column();
    }
    diagnostics.push_back(std::move(j));
  }
  ordered_json excluded = ordered_json::array();
  for (const auto& e : snapshot.excluded()) {
    excluded.push_back({{"kind", e.source().kind()},
                        {"apiVersion", e.source().api_version()},
                        {"namespace", e.source().namespace_()},
                        {"name", e.source().name()},
                        {"reason", e.reason()}});
  }
  return {{"diagnostics", std::move(diagnostics)},
          {"errors", errors},
          {"warnings", warnings},
          {"notes", notes},
          {"excluded", std::move(excluded)}};
}

absl::StatusOr<std::vector<json>> ListAll(kube::Client& client, const kube::ResourceType& type,
                                          const std::string& ns, size_t chunk_size) {
  std::vector<json> items;
  std::string cont;
  const std::string what = "list " + type.Name() + (ns.empty() ? "" : " in namespace " + ns);
  for (int restarts = 0;;) {
    std::string path = type.Path(ns) + "?limit=" + std::to_string(chunk_size);
    if (!cont.empty()) path += "&continue=" + kube::QueryEscape(cont);
    auto r = client.Request("GET", path);
    if (!r.ok()) return absl::UnavailableError(what + ": " + std::string(r.status().message()));
    if (r->status == 404) return absl::NotFoundError(what + ": not served");
    if (r->status == 403) return absl::PermissionDeniedError(what + ": " + r->Message());
    if (r->status == 410 && !cont.empty() && restarts < 3) {
      // The continue token expired (a long list on a busy cluster): start over.
      ++restarts;
      items.clear();
      cont.clear();
      continue;
    }
    if (!r->ok()) {
      return absl::UnavailableError(what + ": HTTP " + std::to_string(r->status) + ": " +
                                    r->Message());
    }
    json j = r->Json();
    if (!j.is_object() || !j.contains("items") || !j["items"].is_array()) {
      return absl::UnavailableError(what + ": the reply is not a list");
    }
    for (auto& it : j["items"]) {
      if (!it.is_object()) continue;
      if (!it.contains("apiVersion")) it["apiVersion"] = type.api_version();
      if (!it.contains("kind")) it["kind"] = type.kind;
      if (auto m = it.find("metadata"); m != it.end() && m->is_object()) m->erase("managedFields");
      items.push_back(std::move(it));
    }
    const json& meta = j.value("metadata", json::object());
    cont = meta.is_object() ? meta.value("continue", "") : "";
    if (cont.empty()) break;
  }
  // One object per namespace/name, the last page's copy winning (the API server may repeat a
  // page: core/kube/reflector.cc).
  std::map<std::pair<std::string, std::string>, size_t> seen;
  std::vector<json> unique;
  for (auto& it : items) {
    const json& meta = it.value("metadata", json::object());
    auto key = std::make_pair(meta.value("namespace", ""), meta.value("name", ""));
    if (auto [pos, inserted] = seen.emplace(key, unique.size()); !inserted) {
      unique[pos->second] = std::move(it);
    } else {
      unique.push_back(std::move(it));
    }
  }
  return unique;
}

absl::StatusOr<ClusterAnalysis> AnalyzeCluster(kube::Client& client,
                                               const ClusterAnalyzeOptions& o) {
  agent::ConfigStoreOptions store_options;
  store_options.compile = o.compile;
  agent::ConfigStore store(store_options);
  ClusterAnalysis out;
  std::vector<pb::Diagnostic> notes;
  for (const kube::ResourceType& t : agent::WatchedKinds()) {
    auto items = ListAll(client, t, "", o.chunk_size);
    if (!items.ok() && absl::IsNotFound(items.status())) {
      notes.push_back(KindNote(t,
                               "not served by the API server (its CRD is not installed, or "
                               "serves no " +
                                   t.version + "): skipped"));
      continue;
    }
    if (!items.ok() && absl::IsPermissionDenied(items.status()) && !o.ns.empty()) {
      // Restricted to a namespace, a user who may not list the whole cluster still gets an
      // analysis of what they may read.
      if (!t.namespaced) {
        notes.push_back(KindNote(t, "may not be listed (forbidden): skipped"));
        continue;
      }
      items = ListAll(client, t, o.ns, o.chunk_size);
      if (items.ok()) {
        notes.push_back(KindNote(t, "may not be listed in every namespace: only namespace " + o.ns +
                                        "'s read (references to others may be reported "
                                        "missing)"));
      }
    }
    if (!items.ok()) return items.status();
    for (const json& object : *items) {
      out.objects += InScope(object, o.ns);
      ++out.read;
      // As KubeSource::Upsert: JSON is YAML, the entry names the object.
      store.ApplyFile(agent::EntryName(object), object.dump());
    }
  }
  out.snapshot = store.Snapshot();
  google::protobuf::RepeatedPtrField<pb::Diagnostic> diagnostics;
  for (auto& n : notes) *diagnostics.Add() = std::move(n);
  for (const auto& d : out.snapshot.diagnostics()) {
    if (InScope(d.source(), o.ns)) *diagnostics.Add() = d;
  }
  *out.snapshot.mutable_diagnostics() = std::move(diagnostics);
  google::protobuf::RepeatedPtrField<pb::ExcludedResource> excluded;
  for (const auto& e : out.snapshot.excluded()) {
    if (InScope(e.source(), o.ns)) *excluded.Add() = e;
  }
  *out.snapshot.mutable_excluded() = std::move(excluded);
  return out;
}

}  // namespace weft::weftctl
