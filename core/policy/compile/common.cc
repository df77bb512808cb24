// Helpers shared by the compile passes, and DestinationRule selection (used by services,
// routes and clusters alike).

#include <algorithm>

#include "core/policy/compile/passes.h"

namespace weft::policy {

void PassReport::Add(const Resource& r, Severity s, std::string_view c, const FieldPos& at,
                     std::string message) {
  Diagnostic d;
  d.severity = s;
  d.code = std::string(c);
  d.resource = r.ref;
  d.line = at.mark.line;
  d.column = at.mark.column;
  d.field = at.field;
  if (s == Severity::kError) rejected.emplace(KeyFor(r), message);
  d.message = std::move(message);
  diagnostics.push_back(std::move(d));
}

void PassReport::ErrorKept(const Resource& r, std::string_view c, const FieldPos& at,
                           std::string message) {
  Diagnostic d;
  d.severity = Severity::kError;
  d.code = std::string(c);
  d.resource = r.ref;
  d.line = at.mark.line;
  d.column = at.mark.column;
  d.field = at.field;
  d.message = std::move(message);
  diagnostics.push_back(std::move(d));
}

void PassReport::Append(PassReport&& other) {
  for (auto& d : other.diagnostics) diagnostics.push_back(std::move(d));
  for (auto& [k, v] : other.rejected) rejected.emplace(k, std::move(v));
}

std::vector<const Resource*> OldestFirst(const std::unordered_map<std::string, Resource>& all) {
  std::vector<const Resource*> out;
  out.reserve(all.size());
  for (const auto& [k, r] : all) out.push_back(&r);
  std::sort(out.begin(), out.end(), [](const Resource* a, const Resource* b) {
    return std::tie(a->meta.creation_timestamp, a->meta.ns, a->meta.name) <
           std::tie(b->meta.creation_timestamp, b->meta.ns, b->meta.name);
  });
  return out;
}

pb::Source SourceOf(const Resource& r, const std::string& field) {
  pb::Source s;
  s.set_kind(r.ref.kind);
  s.set_api_version(r.ref.api_version);
  s.set_namespace_(r.meta.ns);
  s.set_name(r.meta.name);
  s.set_file(r.ref.file);
  s.set_line(r.ref.line);
  s.set_column(r.ref.column);
  s.set_field(field);
  return s;
}

bool LabelsMatch(const Labels& selector,
                 const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

bool LabelsMatch(const Labels& selector, const Labels& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

std::string ClusterName(uint32_t port, const std::string& subset, const std::string& hostname) {
  return "outbound|" + std::to_string(port) + "|" + subset + "|" + hostname;
}

std::string SpiffeId(const std::string& trust_domain, const std::string& ns,
                     const std::string& sa) {
  return "spiffe://" + trust_domain + "/ns/" + ns + "/sa/" + sa;
}

const DestinationRuleSpec* DestinationRules::For(const std::string& hostname) const {
  auto it = by_host.find(hostname);
  return it == by_host.end() ? nullptr : &it->second->as<DestinationRuleSpec>();
}

DestinationRules SelectDestinationRules(const ResourceIndex& index) {
  DestinationRules out;
  for (const Resource* r : OldestFirst(index.All(Kind::kDestinationRule))) {
    const auto& dr = r->as<DestinationRuleSpec>();
    std::string host = index.ResolveHost(dr.host.host, r->meta.ns);
    if (host.find('*') != std::string::npos) {
      out.report.Warning(*r, code::kUnsupported, dr.host.pos,
                         "wildcard host \"" + host + "\" is not supported; the rule is ignored");
      continue;
    }
    if (!index.HostExists(host)) {
      out.report.Warning(*r, code::kReference, dr.host.pos,
                         "host \"" + host + "\" matches no Service or ServiceEntry");
    }
    auto [it, inserted] = out.by_host.emplace(host, r);
    if (!inserted) {
      out.report.Error(*r, code::kConflict, dr.host.pos,
                       "conflicts with DestinationRule " + KeyOf(*it->second) + " for host \"" +
                           host + "\", which is older and wins");
    }
  }
  return out;
}

}  // namespace weft::policy
