#include "core/policy/compile/index.h"

namespace weft::policy {

namespace {

std::string LabelKey(const std::string& ns, const std::string& k, const std::string& v) {
  std::string s;
  s.reserve(ns.size() + k.size() + v.size() + 2);
  s += ns;
  s += '\n';
  s += k;
  s += '\n';
  s += v;
  return s;
}

const std::set<std::string>& EmptySet() {
  static const std::set<std::string> empty;
  return empty;
}

}  // namespace

ResourceKey KeyFor(const Resource& r) { return {r.kind, KeyOf(r)}; }

std::optional<Resource> ResourceIndex::Upsert(Resource r) {
  auto& map = by_kind_[static_cast<size_t>(r.kind)];
  std::string key = KeyOf(r);
  std::optional<Resource> old;
  auto it = map.find(key);
  if (it != map.end()) {
    IndexRemove(it->second);
    old = std::move(it->second);
    it->second = std::move(r);
  } else {
    it = map.emplace(key, std::move(r)).first;
  }
  IndexAdd(it->second);
  return old;
}

std::optional<Resource> ResourceIndex::Remove(const ResourceKey& key) {
  auto& map = by_kind_[static_cast<size_t>(key.kind)];
  auto it = map.find(key.key);
  if (it == map.end()) return std::nullopt;
  IndexRemove(it->second);
  Resource old = std::move(it->second);
  map.erase(it);
  return old;
}

const Resource* ResourceIndex::Get(Kind kind, const std::string& key) const {
  const auto& map = by_kind_[static_cast<size_t>(kind)];
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

void ResourceIndex::IndexAdd(const Resource& r) {
  std::string key = KeyOf(r);
  switch (r.kind) {
    case Kind::kService:
      services_by_ns_[r.meta.ns].insert(key);
      break;
    case Kind::kPod:
      pods_by_ns_[r.meta.ns].insert(key);
      for (const auto& [k, v] : r.meta.labels) pods_by_label_[LabelKey(r.meta.ns, k, v)].insert(key);
      break;
    case Kind::kEndpointSlice: {
      const auto& s = r.as<EndpointSliceSpec>();
      std::string svc = r.meta.ns + "/" + s.service_name;
      slices_by_service_[svc].insert(key);
      for (const auto& ep : s.endpoints) {
        if (!ep.pod.empty()) {
          services_by_pod_[(ep.pod_ns.empty() ? r.meta.ns : ep.pod_ns) + "/" + ep.pod][svc]++;
        }
      }
      break;
    }
    case Kind::kServiceEntry:
      for (const auto& h : r.as<ServiceEntrySpec>().hosts) entries_by_host_[h.host].insert(key);
      break;
    default:
      break;
  }
}

void ResourceIndex::IndexRemove(const Resource& r) {
  std::string key = KeyOf(r);
  auto erase = [](auto& map, const std::string& k, const std::string& v) {
    auto it = map.find(k);
    if (it == map.end()) return;
    it->second.erase(v);
    if (it->second.empty()) map.erase(it);
  };
  switch (r.kind) {
    case Kind::kService:
      erase(services_by_ns_, r.meta.ns, key);
      break;
    case Kind::kPod:
      erase(pods_by_ns_, r.meta.ns, key);
      for (const auto& [k, v] : r.meta.labels) erase(pods_by_label_, LabelKey(r.meta.ns, k, v), key);
      break;
    case Kind::kEndpointSlice: {
      const auto& s = r.as<EndpointSliceSpec>();
      std::string svc = r.meta.ns + "/" + s.service_name;
      erase(slices_by_service_, svc, key);
      for (const auto& ep : s.endpoints) {
        if (ep.pod.empty()) continue;
        std::string pod = (ep.pod_ns.empty() ? r.meta.ns : ep.pod_ns) + "/" + ep.pod;
        auto it = services_by_pod_.find(pod);
        if (it == services_by_pod_.end()) continue;
        if (--it->second[svc] <= 0) it->second.erase(svc);
        if (it->second.empty()) services_by_pod_.erase(it);
      }
      break;
    }
    case Kind::kServiceEntry:
      for (const auto& h : r.as<ServiceEntrySpec>().hosts) erase(entries_by_host_, h.host, key);
      break;
    default:
      break;
  }
}

const std::set<std::string>& ResourceIndex::ServicesIn(const std::string& ns) const {
  auto it = services_by_ns_.find(ns);
  return it == services_by_ns_.end() ? EmptySet() : it->second;
}

std::vector<const Resource*> ResourceIndex::PodsMatching(const std::string& ns,
                                                         const Labels& selector) const {
  // Start from the smallest posting list among the selector's pairs, then check the rest.
  const std::set<std::string>* smallest = nullptr;
  if (selector.empty()) {
    auto it = pods_by_ns_.find(ns);
    smallest = it == pods_by_ns_.end() ? &EmptySet() : &it->second;
  } else {
    for (const auto& [k, v] : selector) {
      auto it = pods_by_label_.find(LabelKey(ns, k, v));
      if (it == pods_by_label_.end()) return {};
      if (!smallest || it->second.size() < smallest->size()) smallest = &it->second;
    }
  }
  std::vector<const Resource*> out;
  for (const auto& key : *smallest) {
    const Resource* pod = Get(Kind::kPod, key);
    bool match = true;
    for (const auto& [k, v] : selector) {
      auto it = pod->meta.labels.find(k);
      if (it == pod->meta.labels.end() || it->second != v) {
        match = false;
        break;
      }
    }
    if (match) out.push_back(pod);
  }
  return out;
}

std::vector<const Resource*> ResourceIndex::SlicesOf(const std::string& service_key) const {
  std::vector<const Resource*> out;
  auto it = slices_by_service_.find(service_key);
  if (it == slices_by_service_.end()) return out;
  for (const auto& k : it->second) out.push_back(Get(Kind::kEndpointSlice, k));
  return out;
}

std::set<std::string> ResourceIndex::ServicesReferencingPod(const std::string& pod_key) const {
  std::set<std::string> out;
  auto it = services_by_pod_.find(pod_key);
  if (it == services_by_pod_.end()) return out;
  for (const auto& [svc, n] : it->second) out.insert(svc);
  return out;
}

std::vector<const Resource*> ResourceIndex::ServiceEntriesFor(const std::string& hostname) const {
  std::vector<const Resource*> out;
  auto it = entries_by_host_.find(hostname);
  if (it == entries_by_host_.end()) return out;
  for (const auto& k : it->second) out.push_back(Get(Kind::kServiceEntry, k));
  return out;
}

std::string ResourceIndex::ResolveHost(const std::string& host, const std::string& ns) const {
  if (host.find('.') != std::string::npos || host.find('*') != std::string::npos) return host;
  return ServiceHostname(host, ns);
}

std::string ResourceIndex::ServiceKeyForHostname(const std::string& hostname) const {
  std::string suffix = ".svc." + options_.cluster_domain;
  if (hostname.size() <= suffix.size() || !hostname.ends_with(suffix)) return {};
  std::string head = hostname.substr(0, hostname.size() - suffix.size());
  size_t dot = head.find('.');
  if (dot == std::string::npos || head.find('.', dot + 1) != std::string::npos) return {};
  return head.substr(dot + 1) + "/" + head.substr(0, dot);
}

bool ResourceIndex::HostExists(const std::string& hostname) const {
  std::string key = ServiceKeyForHostname(hostname);
  if (!key.empty() && Get(Kind::kService, key)) return true;
  return entries_by_host_.count(hostname) > 0;
}

}  // namespace weft::policy
