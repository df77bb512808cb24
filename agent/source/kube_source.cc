#include "agent/source/kube_source.h"

namespace weft::agent {

const std::vector<kube::ResourceType>& WatchedKinds() {
  static const std::vector<kube::ResourceType> kinds = {
      {"", "v1", "namespaces", "Namespace", false},
      {"", "v1", "nodes", "Node", false},
      {"", "v1", "pods", "Pod", true},
      {"", "v1", "services", "Service", true},
      {"", "v1", "serviceaccounts", "ServiceAccount", true},
      {"discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", true},
      {"networking.istio.io", "v1", "virtualservices", "VirtualService", true},
      {"networking.istio.io", "v1", "destinationrules", "DestinationRule", true},
      {"networking.istio.io", "v1", "serviceentries", "ServiceEntry", true},
      {"security.istio.io", "v1", "peerauthentications", "PeerAuthentication", true},
      {"security.istio.io", "v1", "authorizationpolicies", "AuthorizationPolicy", true},
      {"gateway.networking.k8s.io", "v1", "gateways", "Gateway", true},
      {"gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute", true},
  };
  return kinds;
}

std::string EntryName(const nlohmann::json& o) {
  const nlohmann::json& meta = o.contains("metadata") ? o["metadata"] : nlohmann::json::object();
  std::string ns = meta.is_object() ? meta.value("namespace", "") : "";
  std::string name = meta.is_object() ? meta.value("name", "") : "";
  return "k8s:" + o.value("kind", std::string("?")) + "/" + (ns.empty() ? "" : ns + "/") + name;
}

absl::StatusOr<std::unique_ptr<KubeSource>> KubeSource::Create(std::shared_ptr<kube::Client> client,
                                                               kube::ReflectorOptions options) {
  std::unique_ptr<KubeSource> s(new KubeSource());
  for (const kube::ResourceType& t : WatchedKinds()) {
    s->reflectors_.push_back(std::make_unique<kube::Reflector>(client, &t, &s->queue_, options));
  }
  for (auto& r : s->reflectors_) r->Start();
  return s;
}

KubeSource::~KubeSource() {
  for (auto& r : reflectors_) r->Stop();
}

FileResult KubeSource::Upsert(ConfigStore& store, const nlohmann::json& object) {
  std::string entry = EntryName(object);
  entries_[object.value("kind", "")].insert(entry);
  // JSON is YAML: the decoder reads it as it reads a file (positions are within this text).
  return store.ApplyFile(entry, object.dump());
}

std::vector<FileResult> KubeSource::Drain(ConfigStore& store) {
  std::vector<FileResult> results;
  for (kube::Delta& d : queue_.Drain()) {
    switch (d.op) {
      case kube::Delta::kReplace: {
        std::set<std::string>& had = entries_[d.type->kind];
        std::set<std::string> now;
        for (const auto& o : d.objects) now.insert(EntryName(o));
        for (const auto& e : had) {
          if (!now.count(e)) {
            store.RemoveFile(e);
            results.push_back(FileResult{e});
          }
        }
        had.clear();
        for (const auto& o : d.objects) results.push_back(Upsert(store, o));
        break;
      }
      case kube::Delta::kUpsert:
        for (const auto& o : d.objects) results.push_back(Upsert(store, o));
        break;
      case kube::Delta::kDelete:
        for (const auto& o : d.objects) {
          std::string e = EntryName(o);
          entries_[d.type->kind].erase(e);
          store.RemoveFile(e);
          results.push_back(FileResult{e});
        }
        break;
    }
  }
  return results;
}

bool KubeSource::synced() const {
  for (const auto& r : reflectors_) {
    if (!r->status().synced) return false;
  }
  return true;
}

bool KubeSource::connected() const {
  for (const auto& r : reflectors_) {
    kube::ReflectorStatus s = r->status();
    if (s.served && !s.connected) return false;
  }
  return true;
}

nlohmann::json KubeSource::Status() const {
  nlohmann::json kinds = nlohmann::json::object();
  for (const auto& r : reflectors_) {
    kube::ReflectorStatus s = r->status();
    kinds[r->type().Name()] = {{"synced", s.synced},       {"served", s.served},
                               {"connected", s.connected}, {"resourceVersion", s.resource_version},
                               {"lists", s.lists},         {"watches", s.watches},
                               {"expired", s.expired},     {"events", s.events},
                               {"errors", s.errors},       {"lastError", s.last_error}};
  }
  return {{"synced", synced()}, {"connected", connected()}, {"kinds", kinds}};
}

}  // namespace weft::agent
