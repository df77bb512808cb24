#include "agent/controller/policy_events.h"

#include <poll.h>

#include <functional>
#include <iostream>

#include "agent/source/kube_source.h"
#include "core/kube/time.h"
#include "core/log/log.h"

namespace weft::agent {

using json = nlohmann::json;

namespace {

std::string Hex(uint64_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s(16, '0');
  for (int i = 15; i >= 0; --i, v >>= 4) s[i] = digits[v & 15];
  return s;
}

// "k8s:Kind/ns/name" or "k8s:Kind/name" -> {kind, ns, name}.
bool ParseEntry(const std::string& entry, std::string& kind, std::string& ns, std::string& name) {
  if (entry.rfind("k8s:", 0) != 0) return false;
  std::string rest = entry.substr(4);
  auto a = rest.find('/');
  if (a == std::string::npos) return false;
  kind = rest.substr(0, a);
  auto b = rest.find('/', a + 1);
  if (b == std::string::npos) {
    name = rest.substr(a + 1);
  } else {
    ns = rest.substr(a + 1, b - a - 1);
    name = rest.substr(b + 1);
  }
  return !name.empty();
}

}  // namespace

PolicyEvents::PolicyEvents(std::shared_ptr<kube::Client> client, std::string reporter)
    : client_(std::move(client)), reporter_(std::move(reporter)) {}

absl::StatusOr<std::unique_ptr<PolicyEvents>> PolicyEvents::Start(
    std::shared_ptr<kube::Client> client, std::string reporter) {
  std::unique_ptr<PolicyEvents> p(new PolicyEvents(client, std::move(reporter)));
  auto source = KubeSource::Create(std::move(client));
  if (!source.ok()) return source.status();
  p->source_ = std::move(*source);
  p->thread_ = std::thread([raw = p.get()] { raw->Run(); });
  return p;
}

PolicyEvents::~PolicyEvents() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  source_.reset();
}

PolicyEventsStats PolicyEvents::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

void PolicyEvents::Run() {
  while (!stop_) {
    pollfd p{source_->fd(), POLLIN, 0};
    poll(&p, 1, 200);
    for (const FileResult& r : source_->Drain(store_)) Report(r);
  }
}

json PolicyEvents::EventFor(const json& object, const std::string& message,
                            const std::string& reporter) {
  const json& meta = object["metadata"];
  std::string ns = meta.value("namespace", "");
  std::string name = meta.value("name", "");
  std::string uid = meta.value("uid", "");
  json involved = {{"apiVersion", object.value("apiVersion", "")},
                   {"kind", object.value("kind", "")},
                   {"name", name}};
  if (!ns.empty()) involved["namespace"] = ns;
  if (!uid.empty()) involved["uid"] = uid;
  if (meta.contains("resourceVersion")) involved["resourceVersion"] = meta["resourceVersion"];
  std::string now = kube::Rfc3339Now();
  // A name per (object, message), as client-go's recorder makes one per event.
  uint64_t h = std::hash<std::string>{}(uid + "\n" + message + "\n" + now);
  return {{"apiVersion", "v1"},
          {"kind", "Event"},
          {"metadata", {{"name", name + "." + Hex(h)}, {"namespace", ns.empty() ? "default" : ns}}},
          {"involvedObject", involved},
          {"reason", "Rejected"},
          {"message", message},
          {"type", "Warning"},
          {"source", {{"component", "weft"}}},
          {"reportingComponent", "weft.dev/policy"},
          {"reportingInstance", reporter},
          {"action", "Compile"},
          {"firstTimestamp", now},
          {"lastTimestamp", now},
          {"count", 1}};
}

void PolicyEvents::Report(const FileResult& r) {
  std::string message;
  int errors = 0;
  for (const auto& d : r.diagnostics) {
    if (d.severity != policy::Severity::kError) continue;
    if (++errors > 5) continue;
    if (!message.empty()) message += "; ";
    message += (d.field.empty() ? "" : d.field + ": ") + d.message;
  }
  if (errors > 5) message += "; and " + std::to_string(errors - 5) + " more";
  if (errors == 0) {
    reported_.erase(r.file);  // accepted (or gone): a later rejection is news again
    return;
  }
  message = "weft left this out (the last accepted version stays in force): " + message;
  if (message.size() > 1000) message = message.substr(0, 997) + "...";
  auto it = reported_.find(r.file);
  if (it != reported_.end() && it->second == message) return;

  std::string kind, ns, name;
  if (!ParseEntry(r.file, kind, ns, name)) return;
  const kube::ResourceType* type = nullptr;
  for (const auto& t : WatchedKinds()) {
    if (t.kind == kind) type = &t;
  }
  if (!type) return;
  // The object itself, for its uid (kubectl describe finds Events by it).
  auto object = client_->Get(type->Path(ns) + "/" + name);
  absl::Status st;
  if (object.ok()) {
    auto created = client_->Post("/api/v1/namespaces/" + (ns.empty() ? "default" : ns) + "/events",
                                 EventFor(*object, message, reporter_));
    st = created.status();
  } else {
    st = object.status();
  }
  std::lock_guard<std::mutex> l(mu_);
  if (st.ok()) {
    ++stats_.events;
    reported_[r.file] = message;
  } else {
    ++stats_.errors;
    stats_.last_error = std::string(st.message());
    WEFT_LOG(kWarning, "weft-agent ca") << "Event for " << r.file << ": " << st.message();
  }
}

}  // namespace weft::agent
