#include "agent/source/config_store.h"

#include <arpa/inet.h>

#include "core/lb/balancer.h"

namespace weft::agent {

namespace {

bool ParseV4(const std::string& text, uint32_t* out) {
  in_addr a;
  if (inet_pton(AF_INET, text.c_str(), &a) != 1) return false;
  *out = ntohl(a.s_addr);
  return true;
}

std::string FormatV4(uint32_t ip) {
  in_addr a{htonl(ip)};
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &a, buf, sizeof(buf));
  return buf;
}

}  // namespace

std::string AssignedClusterIp(const std::string& key, const std::string& cidr,
                              const std::set<uint32_t>& used) {
  size_t slash = cidr.find('/');
  uint32_t base = 0;
  if (!ParseV4(cidr.substr(0, slash), &base)) return {};
  int bits = slash == std::string::npos ? 32 : std::stoi(cidr.substr(slash + 1));
  uint64_t size = bits >= 31 ? 1 : (1ull << (32 - bits));
  if (size < 4) return {};
  base &= bits == 0 ? 0 : ~((1u << (32 - bits)) - 1);
  uint64_t usable = size - 2;
  uint64_t h = lb::StableHash(key) % usable;
  for (uint64_t probe = 0; probe < usable; ++probe) {
    uint32_t ip = base + 1 + static_cast<uint32_t>((h + probe) % usable);
    if (!used.count(ip)) return FormatV4(ip);
  }
  return {};
}

ConfigStore::ConfigStore(ConfigStoreOptions options)
    : options_(std::move(options)), compiler_(options_.compile) {}

std::vector<std::string> ConfigStore::files() const {
  std::vector<std::string> out;
  for (const auto& [f, r] : by_file_) out.push_back(f);
  return out;
}

void ConfigStore::ReleaseIp(const std::string& service_key) {
  auto ip = assigned_ips_.find(service_key);
  if (ip == assigned_ips_.end()) return;
  uint32_t v;
  if (ParseV4(ip->second, &v)) used_ips_.erase(v);
  assigned_ips_.erase(ip);
}

void ConfigStore::AssignClusterIps(std::vector<policy::Resource>& upserts) {
  for (auto& r : upserts) {
    if (r.kind != policy::Kind::kService) continue;
    auto& spec = std::get<policy::ServiceSpec>(r.spec);
    std::string key = policy::KeyOf(r);
    if (!spec.cluster_ips.empty() || spec.headless || spec.type == "ExternalName") {
      for (const auto& ip : spec.cluster_ips) {
        uint32_t v;
        if (ParseV4(ip, &v)) used_ips_.insert(v);
      }
      continue;
    }
    auto it = assigned_ips_.find(key);
    if (it == assigned_ips_.end()) {
      std::string ip = AssignedClusterIp(key, options_.service_cidr, used_ips_);
      if (ip.empty()) continue;
      uint32_t v;
      ParseV4(ip, &v);
      used_ips_.insert(v);
      it = assigned_ips_.emplace(key, ip).first;
    }
    spec.cluster_ips.push_back(it->second);
  }
}

FileResult ConfigStore::ApplyFile(const std::string& file, std::string_view text) {
  FileResult result;
  result.file = file;
  std::vector<policy::DecodedDocument> docs = policy::DecodeText(text, file, options_.decode);
  std::map<Key, policy::Resource>& mine = by_file_[file];
  std::map<Key, policy::Resource> next;
  std::vector<policy::ResourceRef> rejected;
  std::vector<policy::Diagnostic> diagnostics;
  bool keep_all = false;
  for (auto& d : docs) {
    for (auto& diag : d.diagnostics) diagnostics.push_back(std::move(diag));
    if (d.rejected) {
      rejected.push_back(d.ref);
      ++result.rejected;
      // Keep the last good version of a rejected document; when we cannot tell which
      // document it was, keep everything the file defined before.
      bool known = !d.ref.kind.empty() && !d.ref.name.empty();
      if (!known) keep_all = true;
      for (const auto& [key, res] : mine) {
        if (known && res.ref.kind == d.ref.kind && res.meta.name == d.ref.name &&
            (d.ref.ns.empty() || res.meta.ns == d.ref.ns)) {
          next.emplace(key, res);
        }
      }
      continue;
    }
    if (!d.resource) continue;
    Key key = policy::KeyFor(*d.resource);
    auto own = owner_.find(key);
    if ((own != owner_.end() && own->second != file) || next.count(key)) {
      policy::Diagnostic dup;
      dup.severity = policy::Severity::kError;
      dup.code = std::string(policy::code::kConflict);
      dup.resource = d.ref;
      dup.message = "duplicate " + d.ref.kind + " " + key.key + ": already defined" +
                    (own != owner_.end() && own->second != file ? " in " + own->second : "");
      diagnostics.push_back(std::move(dup));
      rejected.push_back(d.ref);
      ++result.rejected;
      continue;
    }
    next.emplace(key, std::move(*d.resource));
  }

  if (keep_all) {
    for (const auto& [key, res] : mine) next.emplace(key, res);  // emplace keeps new versions
  }
  std::vector<policy::Resource> upserts;
  std::vector<Key> removals;
  for (const auto& [key, res] : mine) {
    if (!next.count(key)) {
      removals.push_back(key);
      owner_.erase(key);
      if (key.kind == policy::Kind::kService) ReleaseIp(key.key);
    }
  }
  for (const auto& [key, res] : next) {
    owner_[key] = file;
    upserts.push_back(res);
  }
  AssignClusterIps(upserts);
  FillPodIps(upserts);
  result.resources = next.size();
  result.diagnostics = diagnostics;
  mine = std::move(next);
  // Upserting an unchanged resource is cheap for the compiler's passes but still marks its
  // dependents; fine at the rate files change.
  compiler_.Apply(std::move(upserts), removals);
  compiler_.SetInputReport(file, std::move(diagnostics), std::move(rejected));
  ++generation_;
  return result;
}

void ConfigStore::FillPodIps(std::vector<policy::Resource>& upserts) const {
  for (auto& r : upserts) {
    if (r.kind != policy::Kind::kPod) continue;
    auto& spec = std::get<policy::PodSpec>(r.spec);
    if (!spec.ips.empty()) continue;
    auto it = pod_ips_.find(policy::KeyOf(r));
    if (it != pod_ips_.end()) spec.ips.push_back(it->second);
  }
}

void ConfigStore::SetAssignedPodIps(std::map<std::string, std::string> ips) {
  std::set<std::string> changed;
  for (const auto& [k, ip] : ips) {
    auto it = pod_ips_.find(k);
    if (it == pod_ips_.end() || it->second != ip) changed.insert(k);
  }
  for (const auto& [k, ip] : pod_ips_) {
    if (!ips.count(k)) changed.insert(k);
  }
  pod_ips_ = std::move(ips);
  if (changed.empty()) return;
  std::vector<policy::Resource> upserts;
  for (const auto& key : changed) {
    auto own = owner_.find(Key{policy::Kind::kPod, key});
    if (own == owner_.end()) continue;
    upserts.push_back(by_file_[own->second].at(own->first));
  }
  if (upserts.empty()) return;
  FillPodIps(upserts);
  compiler_.Apply(std::move(upserts));
  ++generation_;
}

void ConfigStore::RemoveFile(const std::string& file) {
  auto it = by_file_.find(file);
  if (it == by_file_.end()) return;
  std::vector<Key> removals;
  for (const auto& [key, res] : it->second) {
    removals.push_back(key);
    owner_.erase(key);
    if (key.kind == policy::Kind::kService) ReleaseIp(key.key);
  }
  by_file_.erase(it);
  compiler_.Apply({}, removals);
  compiler_.SetInputReport(file, {}, {});
  ++generation_;
}

const policy::pb::MeshSnapshot& ConfigStore::Snapshot() {
  compiler_.set_generation(generation_);
  return compiler_.Snapshot();
}

}  // namespace weft::agent
