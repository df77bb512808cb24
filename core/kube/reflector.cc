#include "core/kube/reflector.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <map>
#include <random>

namespace weft::kube {

std::string ResourceType::Path(std::string_view ns) const {
  std::string p = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) p += "/namespaces/" + std::string(ns);
  return p + "/" + resource;
}

namespace {

// The string member `key` of `j`, or "" (absent, of another type, `j` not an object).
std::string StringField(const nlohmann::json& j, const char* key) {
  if (!j.is_object()) return "";
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

}  // namespace

absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line) {
  nlohmann::json ev = nlohmann::json::parse(line, nullptr, false);
  if (!ev.is_object()) return absl::InvalidArgumentError("an event that is not JSON");
  WatchEvent out;
  // Nothing below throws: a field of an unexpected type counts as absent (an exception here
  // would end the reflector's thread, and the process with it).
  std::string type = StringField(ev, "type");
  if (auto o = ev.find("object"); o != ev.end()) out.object = std::move(*o);
  const nlohmann::json& obj = out.object;
  if (type == "ERROR") {
    out.type = WatchEvent::kError;
    if (obj.is_object()) {
      auto code = obj.find("code");
      // nlohmann keeps a non-negative integer as unsigned.
      if (code != obj.end() && code->is_number_unsigned() && code->get<uint64_t>() <= 999) {
        out.error_code = static_cast<int>(code->get<uint64_t>());
      }
    }
    out.error_message = "error";
    if (obj.is_object() && obj.contains("message") && obj["message"].is_string()) {
      out.error_message = obj["message"].get<std::string>();
    }
    return out;
  }
  if (obj.is_object()) {
    if (auto m = obj.find("metadata"); m != obj.end()) {
      out.resource_version = StringField(*m, "resourceVersion");
    }
  }
  out.type = type == "ADDED"      ? WatchEvent::kAdded
             : type == "MODIFIED" ? WatchEvent::kModified
             : type == "DELETED"  ? WatchEvent::kDeleted
             : type == "BOOKMARK" ? WatchEvent::kBookmark
                                  : WatchEvent::kUnknown;
  // What the reflector queues, and its consumers read as an object.
  if ((out.type == WatchEvent::kAdded || out.type == WatchEvent::kModified ||
       out.type == WatchEvent::kDeleted) &&
      !obj.is_object()) {
    return absl::InvalidArgumentError(type + " event without an object");
  }
  return out;
}

EventQueue::EventQueue() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
EventQueue::~EventQueue() {
  if (fd_ >= 0) close(fd_);
}

void EventQueue::Push(Delta d) {
  {
    std::lock_guard<std::mutex> l(mu_);
    pending_.push_back(std::move(d));
  }
  uint64_t one = 1;
  (void)!write(fd_, &one, sizeof one);
}

std::vector<Delta> EventQueue::Drain() {
  uint64_t n;
  (void)!read(fd_, &n, sizeof n);
  std::lock_guard<std::mutex> l(mu_);
  std::vector<Delta> out;
  out.swap(pending_);
  return out;
}

Reflector::Reflector(std::shared_ptr<Client> client, const ResourceType* type, EventQueue* queue,
                     ReflectorOptions options)
    : client_(std::move(client)), type_(type), queue_(queue), options_(std::move(options)) {}

Reflector::~Reflector() {
  Stop();
}

void Reflector::Start() {
  thread_ = std::thread([this] { Run(); });
}

void Reflector::Stop() {
  stop_ = true;
  cancel_.Cancel();
  {
    std::lock_guard<std::mutex> l(sleep_mu_);
    sleep_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

ReflectorStatus Reflector::status() const {
  std::lock_guard<std::mutex> l(mu_);
  ReflectorStatus s = status_;
  s.resource_version = resource_version_;
  return s;
}

bool Reflector::Sleep(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> l(sleep_mu_);
  sleep_cv_.wait_for(l, d, [this] { return stop_.load(); });
  return !stop_;
}

std::chrono::milliseconds Reflector::NextBackoff() {
  // Exponential with full jitter in [b/2, b], as client-go's backoff manager does.
  backoff_ =
      backoff_.count() == 0 ? options_.min_backoff : std::min(backoff_ * 2, options_.max_backoff);
  thread_local std::mt19937_64 rng(std::random_device{}());
  auto half = backoff_.count() / 2;
  return std::chrono::milliseconds(half + static_cast<int64_t>(rng() % (half + 1)));
}

void Reflector::Fail(const std::string& error) {
  std::lock_guard<std::mutex> l(mu_);
  ++status_.errors;
  status_.connected = false;
  status_.last_error = error;
}

std::string Reflector::Query(bool watch) const {
  std::string q;
  auto add = [&](std::string_view k, std::string_view v) {
    q += q.empty() ? "?" : "&";
    q += std::string(k) + "=" + QueryEscape(v);
  };
  if (!options_.field_selector.empty()) add("fieldSelector", options_.field_selector);
  if (!options_.label_selector.empty()) add("labelSelector", options_.label_selector);
  if (watch) {
    add("watch", "1");
    add("allowWatchBookmarks", "true");
    add("resourceVersion", resource_version_);
    add("timeoutSeconds", std::to_string(options_.watch_timeout.count()));
  } else {
    add("limit", std::to_string(options_.page_size));
  }
  return q;
}

nlohmann::json Reflector::Normalize(nlohmann::json o) const {
  if (!o.is_object()) return o;
  if (!o.contains("apiVersion")) o["apiVersion"] = type_->api_version();
  if (!o.contains("kind")) o["kind"] = type_->kind;
  if (auto m = o.find("metadata"); m != o.end() && m->is_object()) m->erase("managedFields");
  return o;
}

void Reflector::Run() {
  while (!stop_) {
    if (relist_) {
      if (!List()) {
        if (!Sleep(NextBackoff())) return;
        continue;
      }
      bool served;
      {
        std::lock_guard<std::mutex> l(mu_);
        served = status_.served;
      }
      if (!served) {
        if (!Sleep(options_.absent_recheck)) return;
        continue;
      }
    }
    uint64_t errors_before = status().errors;
    Watch();
    if (stop_) return;
    if (status().errors != errors_before) {
      if (!Sleep(NextBackoff())) return;
    }
  }
}

bool Reflector::List() {
  std::vector<nlohmann::json> items;
  std::string cont, rv;
  for (;;) {
    std::string path = type_->Path(options_.ns) + Query(false);
    if (!cont.empty()) path += "&continue=" + QueryEscape(cont);
    auto r = client_->Request("GET", path);
    if (stop_) return false;
    if (!r.ok()) {
      Fail("list " + type_->Name() + ": " + std::string(r.status().message()));
      return false;
    }
    if (r->status == 404) {
      // The kind is not served (its CRD is not installed): nothing of it exists.
      Delta d{Delta::kReplace, type_, {}};
      queue_->Push(std::move(d));
      std::lock_guard<std::mutex> l(mu_);
      status_.served = false;
      status_.synced = true;
      ++status_.lists;
      return true;
    }
    if (r->status == 410 && !cont.empty()) {
      // The continue token expired: start the list over.
      std::lock_guard<std::mutex> l(mu_);
      ++status_.expired;
      items.clear();
      cont.clear();
      continue;
    }
    if (!r->ok()) {
      Fail("list " + type_->Name() + ": " + std::to_string(r->status) + " " + r->Message());
      return false;
    }
    nlohmann::json j = r->Json();
    if (!j.is_object() || !j.contains("items")) {
      Fail("list " + type_->Name() + ": the reply is not a list");
      return false;
    }
    for (auto& it : j["items"]) items.push_back(Normalize(std::move(it)));
    const auto& meta = j["metadata"];
    rv = meta.value("resourceVersion", "");
    cont = meta.value("continue", "");
    if (cont.empty()) break;
  }
  // One object per namespace/name, the last page's copy winning. The API server itself may
  // repeat a page: v1.37.2 answers a cluster-wide list with fieldSelector
  // metadata.namespace=X with a continue token relative to the namespace, which it then reads
  // relative to the cluster, so the second page starts over.
  std::map<std::pair<std::string, std::string>, size_t> seen;
  std::vector<nlohmann::json> unique;
  for (auto& it : items) {
    const nlohmann::json& meta = it["metadata"];
    auto key = std::make_pair(meta.value("namespace", ""), meta.value("name", ""));
    if (auto [pos, inserted] = seen.emplace(key, unique.size()); !inserted) {
      unique[pos->second] = std::move(it);
    } else {
      unique.push_back(std::move(it));
    }
  }
  // Queued before synced is set: whoever sees synced (the agent, before it enrolls anything)
  // finds the whole list already in the queue.
  queue_->Push(Delta{Delta::kReplace, type_, std::move(unique)});
  std::lock_guard<std::mutex> l(mu_);
  resource_version_ = rv;
  relist_ = false;
  backoff_ = {};
  status_.served = true;
  status_.synced = true;
  status_.connected = true;
  ++status_.lists;
  return true;
}

void Reflector::Watch() {
  std::string path = type_->Path(options_.ns) + Query(true);
  {
    std::lock_guard<std::mutex> l(mu_);
    ++status_.watches;
  }
  std::string error;
  auto on_line = [&](std::string_view line) {
    absl::StatusOr<WatchEvent> ev = ParseWatchEvent(line);
    if (!ev.ok()) {
      error = "watch " + type_->Name() + ": " + std::string(ev.status().message());
      return false;
    }
    if (ev->type == WatchEvent::kError) {
      std::lock_guard<std::mutex> l(mu_);
      if (ev->error_code == 410) {
        ++status_.expired;
        relist_ = true;
      } else {
        error = "watch " + type_->Name() + ": " + ev->error_message;
      }
      return false;
    }
    bool object_event = ev->type == WatchEvent::kAdded || ev->type == WatchEvent::kModified ||
                        ev->type == WatchEvent::kDeleted;
    if (!object_event && ev->type != WatchEvent::kBookmark) return true;  // unknown: ignore
    {
      // The status is updated before the delta is queued, so a consumer that has seen an
      // event never reads a status from before it (connected, events, resourceVersion).
      std::lock_guard<std::mutex> l(mu_);
      if (!ev->resource_version.empty()) resource_version_ = ev->resource_version;
      if (object_event) ++status_.events;
      status_.connected = true;
      backoff_ = {};
    }
    if (object_event) {
      Delta d{ev->type == WatchEvent::kDeleted ? Delta::kDelete : Delta::kUpsert, type_, {}};
      d.objects.push_back(Normalize(std::move(ev->object)));
      queue_->Push(std::move(d));
    }
    return true;
  };
  int http_status = 0;
  std::string error_body;
  // Connected once the API server answers the watch with 2xx, not at its first event: a kind
  // that changes rarely may send nothing (not even a bookmark) for a minute, and after a
  // failed watch it would otherwise read as disconnected all that time.
  auto on_head = [this](int s) {
    if (s < 200 || s >= 300) return;
    std::lock_guard<std::mutex> l(mu_);
    status_.connected = true;
  };
  absl::Status st = client_->Stream(path, on_line, &http_status, &error_body, &cancel_,
                                    options_.watch_timeout + std::chrono::seconds(30), on_head);
  if (stop_) return;
  if (!st.ok()) return Fail("watch " + type_->Name() + ": " + std::string(st.message()));
  if (http_status == 410) {
    std::lock_guard<std::mutex> l(mu_);
    ++status_.expired;
    relist_ = true;
    return;
  }
  if (http_status < 200 || http_status >= 300) {
    Response r{http_status, error_body};
    return Fail("watch " + type_->Name() + ": " + std::to_string(http_status) + " " + r.Message());
  }
  if (!error.empty()) return Fail(error);
}

}  // namespace weft::kube
