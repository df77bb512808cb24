#include "agent/identity/kube_authority.h"

#include <poll.h>

#include <initializer_list>
#include <iostream>

#include "core/log/log.h"

namespace weft::agent {

using json = nlohmann::json;

namespace {

const kube::ResourceType kPods{"", "v1", "pods", "Pod", true};

constexpr std::string_view kServiceAccountPrefix = "system:serviceaccount:";
constexpr char kNodeNameExtra[] = "authentication.kubernetes.io/node-name";
constexpr char kPodNameExtra[] = "authentication.kubernetes.io/pod-name";
constexpr char kPodUidExtra[] = "authentication.kubernetes.io/pod-uid";

// The single value of a TokenReview `user.extra` key, or "".
std::string Extra(const json& user, const char* key) {
  auto extra = user.find("extra");
  if (extra == user.end() || !extra->is_object()) return "";
  auto v = extra->find(key);
  if (v == extra->end() || !v->is_array() || v->size() != 1 || !(*v)[0].is_string()) return "";
  return (*v)[0].get<std::string>();
}

// The string at `path` (members of objects) in `j`, or "": RequesterOf reads what the API
// answers without value(), which throws on a field of another type (and would end the CA).
std::string StringAt(const json& j, std::initializer_list<const char*> path) {
  const json* v = &j;
  for (const char* key : path) {
    if (!v->is_object()) return "";
    auto it = v->find(key);
    if (it == v->end()) return "";
    v = &*it;
  }
  return v->is_string() ? v->get<std::string>() : "";
}

bool Finished(const json& pod) {
  std::string phase = StringAt(pod, {"status", "phase"});
  return phase == "Succeeded" || phase == "Failed";
}

std::string ServiceAccountOf(const json& pod) {
  std::string sa = StringAt(pod, {"spec", "serviceAccountName"});
  return sa.empty() ? "default" : sa;
}

}  // namespace

absl::StatusOr<identity::SpiffeId> TokenReviewer::Authenticate(const std::string& token) const {
  json review = {{"apiVersion", "authentication.k8s.io/v1"},
                 {"kind", "TokenReview"},
                 {"spec", {{"token", token}, {"audiences", {options_.audience}}}}};
  auto r = client_->Request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", review.dump(),
                            "application/json", std::chrono::seconds(10));
  if (!r.ok())
    return absl::UnavailableError("cannot check the token: " + std::string(r.status().message()));
  if (!r->ok()) {
    // Our own RBAC or the API server's trouble, never the requester's fault.
    return absl::UnavailableError(
        "cannot check the token: TokenReview: " + std::to_string(r->status) + " " + r->Message());
  }
  json body = r->Json();
  if (!body.is_object() || !body.contains("status") || !body["status"].is_object()) {
    return absl::UnavailableError("cannot check the token: TokenReview answered without status");
  }
  return RequesterOf(body["status"]);
}

absl::StatusOr<identity::SpiffeId> TokenReviewer::RequesterOf(const json& status,
                                                              const PodGetter& get_pod) const {
  auto authenticated = status.find("authenticated");
  if (authenticated == status.end() || !authenticated->is_boolean() ||
      !authenticated->get<bool>()) {
    std::string why = StringAt(status, {"error"});
    return absl::UnauthenticatedError("token not accepted" + (why.empty() ? "" : ": " + why));
  }
  // With spec.audiences the API server answers the audiences the token is valid for among
  // them: it must be ours (an API server too old to check audiences answers none).
  bool audience_ok = false;
  if (auto a = status.find("audiences"); a != status.end() && a->is_array()) {
    for (const auto& v : *a)
      audience_ok |= v.is_string() && v.get<std::string>() == options_.audience;
  }
  if (!audience_ok) {
    return absl::UnauthenticatedError("token is not for audience " + options_.audience);
  }
  const json user = status.contains("user") ? status["user"] : json::object();
  std::string username = StringAt(user, {"username"});
  if (username.rfind(kServiceAccountPrefix, 0) != 0) {
    return absl::PermissionDeniedError(username + " is not a ServiceAccount");
  }
  std::string account = username.substr(kServiceAccountPrefix.size());
  auto colon = account.find(':');
  if (colon == std::string::npos) {
    return absl::PermissionDeniedError("malformed ServiceAccount user " + username);
  }
  std::string ns = account.substr(0, colon), sa = account.substr(colon + 1);
  if (!options_.node_agents.count(ns + "/" + sa)) {
    return identity::SpiffeId::Workload(options_.trust_domain, ns, sa);
  }
  // An agent: its token is bound to its pod, which runs on the node it speaks for.
  std::string node = Extra(user, kNodeNameExtra);
  if (node.empty()) {
    // API servers before ServiceAccountTokenPodNodeInfo (v1.30) name only the pod.
    std::string pod = Extra(user, kPodNameExtra), uid = Extra(user, kPodUidExtra);
    if (pod.empty()) {
      return absl::PermissionDeniedError(ns + "/" + sa +
                                         " token is not bound to a pod: use a projected token");
    }
    auto p = get_pod ? get_pod(ns, pod) : client_->Get("/api/v1/namespaces/" + ns + "/pods/" + pod);
    if (!p.ok()) {
      if (absl::IsNotFound(p.status())) {
        return absl::PermissionDeniedError("the token's pod " + ns + "/" + pod + " is gone");
      }
      return absl::UnavailableError("cannot read the token's pod: " +
                                    std::string(p.status().message()));
    }
    if (!uid.empty() && StringAt(*p, {"metadata", "uid"}) != uid) {
      return absl::PermissionDeniedError("the token's pod " + ns + "/" + pod + " was replaced");
    }
    node = StringAt(*p, {"spec", "nodeName"});
    if (node.empty()) {
      return absl::PermissionDeniedError("the token's pod " + ns + "/" + pod + " has no node");
    }
  }
  return identity::SpiffeId::Node(options_.trust_domain, node);
}

PodPlacement::PodPlacement(std::shared_ptr<kube::Client> client)
    : client_(client), reflector_(std::move(client), &kPods, &queue_) {
  reflector_.Start();
  thread_ = std::thread([this] { Run(); });
}

PodPlacement::~PodPlacement() {
  stop_ = true;
  reflector_.Stop();
  if (thread_.joinable()) thread_.join();
}

bool PodPlacement::synced() const {
  return reflector_.status().synced;
}

void PodPlacement::Run() {
  while (!stop_) {
    pollfd p{queue_.fd(), POLLIN, 0};
    poll(&p, 1, 200);
    for (kube::Delta& d : queue_.Drain()) Apply(d);
  }
}

void PodPlacement::Apply(kube::Delta& d) {
  std::lock_guard<std::mutex> l(mu_);
  auto remove = [&](const std::string& name) {
    auto it = pods_.find(name);
    if (it == pods_.end()) return;
    if (--placed_[it->second] <= 0) placed_.erase(it->second);
    pods_.erase(it);
  };
  if (d.op == kube::Delta::kReplace) {
    pods_.clear();
    placed_.clear();
  }
  for (const json& pod : d.objects) {
    // Fields of another type than the API's count as absent (StringAt): never a throw here.
    std::string ns = StringAt(pod, {"metadata", "namespace"});
    std::string name = ns + "/" + StringAt(pod, {"metadata", "name"});
    remove(name);
    if (d.op == kube::Delta::kDelete || Finished(pod)) continue;
    std::string node = StringAt(pod, {"spec", "nodeName"});
    if (node.empty()) continue;  // not scheduled yet
    Key key{node, ns, ServiceAccountOf(pod)};
    pods_[name] = key;
    ++placed_[key];
  }
}

bool PodPlacement::HasPod(std::string_view node, std::string_view ns, std::string_view sa) {
  {
    std::lock_guard<std::mutex> l(mu_);
    if (placed_.count(Key{std::string(node), std::string(ns), std::string(sa)})) return true;
  }
  return AskApi(node, ns, sa);
}

bool PodPlacement::AskApi(std::string_view node, std::string_view ns, std::string_view sa) {
  ++api_lookups_;
  std::string selector = "spec.nodeName=" + std::string(node) +
                         ",spec.serviceAccountName=" + std::string(sa) +
                         ",status.phase!=Succeeded,status.phase!=Failed";
  auto r = client_->Get("/api/v1/namespaces/" + std::string(ns) +
                        "/pods?limit=1&fieldSelector=" + kube::QueryEscape(selector));
  if (!r.ok()) {
    WEFT_LOG(kWarning, "weft-agent ca")
        << "pod lookup for " << ns << "/" << sa << " on " << node << ": " << r.status().message();
    return false;
  }
  auto items = r->find("items");
  return items != r->end() && items->is_array() && !items->empty();
}

}  // namespace weft::agent
