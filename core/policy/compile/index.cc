#include "core/policy/compile/index.h"

#include <algorithm>

namespace weft::policy {

namespace {

void LabelKey(const std::string& ns, const std::string& k, const std::string& v, std::string* out) {
  out->clear();
  out->reserve(ns.size() + k.size() + v.size() + 2);
  *out += ns;
  *out += '\n';
  *out += k;
  *out += '\n';
  *out += v;
}

std::string LabelKey(const std::string& ns, const std::string& k, const std::string& v) {
  std::string s;
  LabelKey(ns, k, v, &s);
  return s;
}

const std::set<std::string>& EmptySet() {
  static const std::set<std::string> empty;
  return empty;
}

}  // namespace

ResourceKey KeyFor(const Resource& r) {
  return {r.kind, KeyOf(r)};
}

std::optional<Resource> ResourceIndex::Upsert(Resource r) {
  auto& map = by_kind_[static_cast<size_t>(r.kind)];
  std::string key = KeyOf(r);
  std::optional<Resource> old;
  // One lookup: try_emplace moves neither the key nor the resource when the key exists.
  auto [it, inserted] = map.try_emplace(std::move(key), std::move(r));
  if (!inserted) {
    IndexRemove(it->second, it->first);
    old = std::move(it->second);
    it->second = std::move(r);
  }
  IndexAdd(it->second, it->first);
  return old;
}

void ResourceIndex::PodListAdd(const std::string& list, PodEntry pod, bool by_ns) {
  auto& map = by_ns ? pods_by_ns_ : pods_by_label_;
  auto it = map.find(list);
  if (it == map.end()) it = map.try_emplace(list).first;
  PodList& l = it->second;
  if (l.sorted && !l.pods.empty() && !(l.pods.back() < pod)) {
    l.sorted = false;
    pod_lists_sorted_ = false;
  }
  l.pods.push_back(pod);
}

void ResourceIndex::PodListRemove(const std::string& list, std::string_view pod, bool by_ns) {
  auto& map = by_ns ? pods_by_ns_ : pods_by_label_;
  auto it = map.find(list);
  if (it == map.end()) return;
  auto& pods = it->second.pods;
  auto pos = it->second.sorted ? std::lower_bound(pods.begin(), pods.end(), PodEntry{pod, nullptr})
                               : std::find_if(pods.begin(), pods.end(),
                                              [&](const PodEntry& e) { return e.key == pod; });
  if (pos != pods.end() && pos->key == pod) pods.erase(pos);
  if (pods.empty()) map.erase(it);
}

void ResourceIndex::Seal() {
  if (pod_lists_sorted_) return;
  for (auto* map : {&pods_by_ns_, &pods_by_label_}) {
    for (auto& [k, l] : *map) {
      if (l.sorted) continue;
      std::sort(l.pods.begin(), l.pods.end());
      l.sorted = true;
    }
  }
  pod_lists_sorted_ = true;
}

std::optional<Resource> ResourceIndex::Remove(const ResourceKey& key) {
  auto& map = by_kind_[static_cast<size_t>(key.kind)];
  auto it = map.find(key.key);
  if (it == map.end()) return std::nullopt;
  IndexRemove(it->second, it->first);
  Resource old = std::move(it->second);
  map.erase(it);
  return old;
}

const Resource* ResourceIndex::Get(Kind kind, const std::string& key) const {
  const auto& map = by_kind_[static_cast<size_t>(kind)];
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

// `key` is the resource's key as stored in by_kind_: the pod lists view it.
void ResourceIndex::IndexAdd(const Resource& r, const std::string& key) {
  switch (r.kind) {
    case Kind::kService:
      services_by_ns_[r.meta.ns].insert(key);
      break;
    case Kind::kPod: {
      PodEntry entry{key, &r};
      PodListAdd(r.meta.ns, entry, true);
      for (const auto& [k, v] : r.meta.labels) {
        LabelKey(r.meta.ns, k, v, &scratch_);
        PodListAdd(scratch_, entry, false);
      }
      break;
    }
    case Kind::kEndpointSlice: {
      const auto& s = r.as<EndpointSliceSpec>();
      auto svc = slices_by_service_.try_emplace(r.meta.ns + "/" + s.service_name).first;
      svc->second.insert(key);
      for (const auto& ep : s.endpoints) {
        if (ep.pod.empty()) continue;
        scratch_.assign(ep.pod_ns.empty() ? r.meta.ns : ep.pod_ns);
        scratch_ += '/';
        scratch_ += ep.pod;
        auto& refs = services_by_pod_[scratch_];
        auto ref = std::find_if(refs.begin(), refs.end(),
                                [&](const auto& e) { return e.first == &svc->first; });
        if (ref == refs.end()) {
          refs.emplace_back(&svc->first, 1);
        } else {
          ++ref->second;
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

void ResourceIndex::IndexRemove(const Resource& r, const std::string& key) {
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
      PodListRemove(r.meta.ns, key, true);
      for (const auto& [k, v] : r.meta.labels) {
        LabelKey(r.meta.ns, k, v, &scratch_);
        PodListRemove(scratch_, key, false);
      }
      break;
    case Kind::kEndpointSlice: {
      const auto& s = r.as<EndpointSliceSpec>();
      std::string svc_key = r.meta.ns + "/" + s.service_name;
      auto svc = slices_by_service_.find(svc_key);
      if (svc == slices_by_service_.end()) break;
      // The pod counts first: they point at svc's key.
      for (const auto& ep : s.endpoints) {
        if (ep.pod.empty()) continue;
        scratch_.assign(ep.pod_ns.empty() ? r.meta.ns : ep.pod_ns);
        scratch_ += '/';
        scratch_ += ep.pod;
        auto it = services_by_pod_.find(scratch_);
        if (it == services_by_pod_.end()) continue;
        auto& refs = it->second;
        auto ref = std::find_if(refs.begin(), refs.end(),
                                [&](const auto& e) { return e.first == &svc->first; });
        if (ref != refs.end() && --ref->second <= 0) refs.erase(ref);
        if (refs.empty()) services_by_pod_.erase(it);
      }
      svc->second.erase(key);
      if (svc->second.empty()) slices_by_service_.erase(svc);
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
  static const PodList kNone;
  const PodList* smallest = nullptr;
  if (selector.empty()) {
    auto it = pods_by_ns_.find(ns);
    smallest = it == pods_by_ns_.end() ? &kNone : &it->second;
  } else {
    for (const auto& [k, v] : selector) {
      auto it = pods_by_label_.find(LabelKey(ns, k, v));
      if (it == pods_by_label_.end()) return {};
      if (!smallest || it->second.pods.size() < smallest->pods.size()) smallest = &it->second;
    }
  }
  std::vector<PodEntry> unsorted;
  const std::vector<PodEntry>* pods = &smallest->pods;
  if (!smallest->sorted) {  // not sealed since the last change: sort a copy
    unsorted = smallest->pods;
    std::sort(unsorted.begin(), unsorted.end());
    pods = &unsorted;
  }
  std::vector<const Resource*> out;
  for (const PodEntry& e : *pods) {
    const Resource* pod = e.pod;
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
  for (const auto& [svc, n] : it->second) out.insert(*svc);
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
