#include "agent/datapath/reconciler.h"

#include "absl/strings/str_cat.h"

namespace weft::agent::datapath {

absl::Status Reconciler::Load() {
  auto entries = writer_->ListServices();
  if (!entries.ok()) return entries.status();
  view_.clear();
  for (const ServiceEntry& e : *entries) view_[e.key] = e;
  loaded_ = true;
  return absl::OkStatus();
}

absl::StatusOr<Reconciler::Result> Reconciler::Apply(const std::vector<ServiceEntry>& desired) {
  std::map<ServiceKey, ServiceEntry> want;
  for (const ServiceEntry& e : desired) {
    auto [it, inserted] = want.emplace(e.key, e);
    if (!inserted && !(it->second == e)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mesh destination ", e.key.ToString(), " is desired twice with different values (ids ",
          it->second.service_id, " and ", e.service_id, ")"));
    }
  }
  if (!loaded_) {
    if (absl::Status st = Load(); !st.ok()) return st;
  }

  Result r;
  std::vector<ServiceKey> gone;
  for (const auto& [key, entry] : view_) {
    if (want.count(key) == 0) gone.push_back(key);
  }
  for (const ServiceKey& key : gone) {
    if (absl::Status st = writer_->DeleteService(key); !st.ok()) return st;
    view_.erase(key);
    ++r.deletes;
  }
  for (const auto& [key, entry] : want) {
    auto it = view_.find(key);
    if (it != view_.end() && it->second == entry) {
      ++r.unchanged;
      continue;
    }
    if (absl::Status st = writer_->UpsertService(entry); !st.ok()) return st;
    view_[key] = entry;
    ++r.upserts;
  }
  return r;
}

}  // namespace weft::agent::datapath
