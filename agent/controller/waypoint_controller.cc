#include "agent/controller/waypoint_controller.h"

#include <poll.h>

#include <iostream>

#include "core/kube/time.h"
#include "core/log/log.h"

namespace weft::agent {

using json = nlohmann::json;

namespace {

const kube::ResourceType kGateways{"gateway.networking.k8s.io", "v1", "gateways", "Gateway", true};

constexpr char kGatewayNameLabel[] = "gateway.networking.k8s.io/gateway-name";
constexpr char kRootConfigMap[] = "weft-ca-root";
constexpr int kHbonePort = 15008;

std::string Key(const json& o) {
  return o.value("/metadata/namespace"_json_pointer, std::string()) + "/" +
         o.value("/metadata/name"_json_pointer, std::string());
}

json OwnerReference(const json& gw) {
  return {{"apiVersion", "gateway.networking.k8s.io/v1"},
          {"kind", "Gateway"},
          {"name", gw["metadata"]["name"]},
          {"uid", gw["metadata"]["uid"]},
          {"controller", true},
          {"blockOwnerDeletion", true}};
}

json Metadata(const json& gw, const std::string& name) {
  const std::string gw_name = gw["metadata"]["name"];
  return {{"name", name},
          {"namespace", gw["metadata"]["namespace"]},
          {"labels",
           {{kGatewayNameLabel, gw_name},
            {"app.kubernetes.io/managed-by", "weft"},
            {"app.kubernetes.io/component", "waypoint"},
            {"app.kubernetes.io/part-of", "weft"}}},
          {"ownerReferences", json::array({OwnerReference(gw)})}};
}

}  // namespace

WaypointController::WaypointController(std::shared_ptr<kube::Client> client,
                                       WaypointControllerOptions options)
    : client_(client),
      options_(std::move(options)),
      gateways_(std::move(client), &kGateways, &queue_) {
  gateways_.Start();
  thread_ = std::thread([this] { Run(); });
}

WaypointController::~WaypointController() {
  stop_ = true;
  gateways_.Stop();
  if (thread_.joinable()) thread_.join();
}

WaypointControllerStats WaypointController::stats() const {
  std::lock_guard<std::mutex> l(mu_);
  return stats_;
}

bool WaypointController::IsWaypoint(const json& gw) const {
  return gw.value("/spec/gatewayClassName"_json_pointer, std::string()) == options_.gateway_class &&
         !gw["metadata"].contains("deletionTimestamp");
}

void WaypointController::Run() {
  auto next = std::chrono::steady_clock::now();
  while (!stop_) {
    pollfd p{queue_.fd(), POLLIN, 0};
    poll(&p, 1, 200);
    bool changed = false;
    for (kube::Delta& d : queue_.Drain()) {
      if (d.op == kube::Delta::kReplace) known_.clear();
      for (auto& o : d.objects) {
        std::string key = Key(o);  // before the move: `a = std::move(b)` moves b first
        if (d.op == kube::Delta::kDelete) {
          known_.erase(key);
        } else {
          known_[key] = std::move(o);
        }
      }
      changed = true;
    }
    // Nothing is written before the first list: an empty view would unbind every waypoint.
    if (!gateways_.status().synced) continue;
    if (changed || std::chrono::steady_clock::now() >= next) {
      ReconcileAll();
      next = std::chrono::steady_clock::now() + options_.resync;
    }
  }
}

void WaypointController::ReconcileAll() {
  std::set<std::string> accounts;
  std::string error;
  for (const auto& [key, gw] : known_) {
    if (!IsWaypoint(gw)) continue;
    accounts.insert(key);  // the ServiceAccount has the Gateway's name
    if (absl::Status st = Reconcile(gw); !st.ok()) {
      error = key + ": " + std::string(st.message());
    }
  }
  if (absl::Status st = SyncBinding(accounts); !st.ok()) error = std::string(st.message());
  std::lock_guard<std::mutex> l(mu_);
  ++stats_.reconciles;
  stats_.waypoints = accounts;
  if (!error.empty()) {
    auto now = std::chrono::steady_clock::now();
    if (error != stats_.last_error || now - last_error_logged_ > std::chrono::seconds(30)) {
      WEFT_LOG(kWarning, "weft-agent ca") << "waypoints: " << error;
      last_error_logged_ = now;
    }
    ++stats_.errors;
    stats_.last_error = error;
  }
}

json WaypointController::ServiceAccountFor(const json& gw) const {
  return {{"apiVersion", "v1"},
          {"kind", "ServiceAccount"},
          {"metadata", Metadata(gw, gw["metadata"]["name"])}};
}

json WaypointController::DeploymentFor(const json& gw) const {
  const std::string name = gw["metadata"]["name"], ns = gw["metadata"]["namespace"];
  json labels = {{kGatewayNameLabel, name},
                 {"app.kubernetes.io/managed-by", "weft"},
                 {"app.kubernetes.io/component", "waypoint"}};
  json container = {
      {"name", "waypoint"},
      {"image", options_.image},
      {"imagePullPolicy", options_.image_pull_policy},
      {"command", {"/usr/local/bin/weft-waypoint"}},
      {"args",
       {"--kubernetes", "--namespace=" + ns, "--name=" + name,
        "--ca-address=" + options_.ca_address, "--ca-bundle=/var/run/secrets/weft-ca/root-cert.pem",
        "--ca-token=/var/run/secrets/tokens/weft-ca-token",
        "--trust-domain=" + options_.trust_domain, "--log-level=" + options_.log_level}},
      {"ports", {{{"name", "hbone"}, {"containerPort", kHbonePort}, {"protocol", "TCP"}}}},
      {"readinessProbe", {{"tcpSocket", {{"port", kHbonePort}}}, {"periodSeconds", 2}}},
      {"securityContext",
       {{"allowPrivilegeEscalation", false},
        {"readOnlyRootFilesystem", true},
        {"runAsNonRoot", true},
        {"runAsUser", 65532},
        {"capabilities", {{"drop", {"ALL"}}}}}},
      {"resources", {{"requests", {{"cpu", "50m"}, {"memory", "64Mi"}}}}},
      {"volumeMounts",
       {{{"name", "weft-ca-token"}, {"mountPath", "/var/run/secrets/tokens"}, {"readOnly", true}},
        {{"name", "weft-ca-root"},
         {"mountPath", "/var/run/secrets/weft-ca"},
         {"readOnly", true}}}}};
  json pod_spec = {{"serviceAccountName", name},
                   {"containers", {container}},
                   {"volumes",
                    {{{"name", "weft-ca-token"},
                      {"projected",
                       {{"sources",
                         {{{"serviceAccountToken",
                            {{"audience", "weft-ca"},
                             {"expirationSeconds", 3600},
                             {"path", "weft-ca-token"}}}}}}}}},
                     {{"name", "weft-ca-root"}, {"configMap", {{"name", kRootConfigMap}}}}}}};
  // weft.dev/node picks the node, as in local mode.
  std::string node =
      gw.value("/metadata/annotations"_json_pointer, json::object()).value("weft.dev/node", "");
  if (!node.empty()) pod_spec["nodeSelector"] = {{"kubernetes.io/hostname", node}};
  return {{"apiVersion", "apps/v1"},
          {"kind", "Deployment"},
          {"metadata", Metadata(gw, name)},
          {"spec",
           {{"replicas", 1},
            {"selector", {{"matchLabels", {{kGatewayNameLabel, name}}}}},
            {"template", {{"metadata", {{"labels", labels}}}, {"spec", pod_spec}}}}}};
}

json WaypointController::ServiceFor(const json& gw) const {
  const std::string name = gw["metadata"]["name"];
  return {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", Metadata(gw, name)},
          {"spec",
           {{"selector", {{kGatewayNameLabel, name}}},
            {"ports",
             {{{"name", "mesh"},
               {"port", kHbonePort},
               {"targetPort", kHbonePort},
               {"protocol", "TCP"},
               {"appProtocol", "istio.io/hbone"}}}}}}};
}

absl::Status WaypointController::Apply(const std::string& path, const json& object) {
  std::string url = path + "?fieldManager=" + options_.field_manager + "&force=true";
  auto r = client_->Request("PATCH", url, object.dump(), "application/apply-patch+yaml",
                            std::chrono::seconds(10));
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::UnavailableError("apply " + path + ": " + std::to_string(r->status) + " " +
                                  r->Message());
  }
  return absl::OkStatus();
}

absl::Status WaypointController::EnsureRootConfigMap(const std::string& ns) {
  std::string path = "/api/v1/namespaces/" + ns + "/configmaps/" + kRootConfigMap;
  auto cm = client_->Get(path);
  if (cm.ok() &&
      cm->value("/data/root-cert.pem"_json_pointer, std::string()) == options_.root_cert_pem) {
    return absl::OkStatus();
  }
  if (!cm.ok() && !absl::IsNotFound(cm.status())) return cm.status();
  return Apply(path, {{"apiVersion", "v1"},
                      {"kind", "ConfigMap"},
                      {"metadata",
                       {{"name", kRootConfigMap},
                        {"namespace", ns},
                        {"labels", {{"app.kubernetes.io/part-of", "weft"}}}}},
                      {"data", {{"root-cert.pem", options_.root_cert_pem}}}});
}

absl::Status WaypointController::Reconcile(const json& gw) {
  const std::string name = gw["metadata"]["name"], ns = gw["metadata"]["namespace"];
  const std::string core = "/api/v1/namespaces/" + ns;
  if (absl::Status st = Apply(core + "/serviceaccounts/" + name, ServiceAccountFor(gw)); !st.ok())
    return st;
  if (absl::Status st = EnsureRootConfigMap(ns); !st.ok()) return st;
  if (absl::Status st = Apply(core + "/services/" + name, ServiceFor(gw)); !st.ok()) return st;
  if (absl::Status st =
          Apply("/apis/apps/v1/namespaces/" + ns + "/deployments/" + name, DeploymentFor(gw));
      !st.ok())
    return st;
  return WriteStatus(gw);
}

absl::Status WaypointController::SyncBinding(const std::set<std::string>& accounts) {
  if (binding_known_ && accounts == bound_) return absl::OkStatus();
  std::string path =
      "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/" + options_.cluster_role_binding;
  auto crb = client_->Get(path);
  if (!crb.ok()) return crb.status();
  // Keep subjects that are not ServiceAccounts of waypoints we manage (added by hand).
  json subjects = json::array();
  for (const auto& s : crb->value("subjects", json::array())) {
    if (s.value("kind", "") != "ServiceAccount") subjects.push_back(s);
  }
  for (const auto& a : accounts) {
    auto slash = a.find('/');
    subjects.push_back({{"kind", "ServiceAccount"},
                        {"name", a.substr(slash + 1)},
                        {"namespace", a.substr(0, slash)}});
  }
  if ((*crb)["subjects"] != subjects) {
    (*crb)["subjects"] = subjects;
    auto put = client_->Put(path, *crb);  // resourceVersion: a concurrent change gets 409
    if (!put.ok()) return put.status();
  }
  bound_ = accounts;
  binding_known_ = true;
  return absl::OkStatus();
}

absl::Status WaypointController::WriteStatus(const json& gw) {
  const std::string name = gw["metadata"]["name"], ns = gw["metadata"]["namespace"];
  int64_t generation = gw["metadata"].value("generation", 0);
  auto dep = client_->Get("/apis/apps/v1/namespaces/" + ns + "/deployments/" + name);
  if (!dep.ok()) return dep.status();
  int available = dep->value("/status/availableReplicas"_json_pointer, 0);
  auto svc = client_->Get("/api/v1/namespaces/" + ns + "/services/" + name);
  if (!svc.ok()) return svc.status();
  std::string ip = svc->value("/spec/clusterIP"_json_pointer, std::string());

  struct Cond {
    std::string type, status, reason, message;
  };
  std::vector<Cond> want = {
      {"Accepted", "True", "Accepted", "weft's waypoint controller manages this Gateway"},
      available > 0
          ? Cond{"Programmed", "True", "Programmed",
                 "the waypoint Deployment " + name + " has an available replica"}
          : Cond{"Programmed", "False", "Pending",
                 "waiting for the waypoint Deployment " + name + " to have an available replica"}};
  json old = gw.value("/status/conditions"_json_pointer, json::array());
  json conditions = json::array();
  bool same = old.size() == want.size();
  for (const Cond& c : want) {
    std::string since = kube::Rfc3339Now();
    bool found = false;
    for (const auto& o : old) {
      if (o.value("type", "") != c.type) continue;
      found = true;
      if (o.value("status", "") == c.status) since = o.value("lastTransitionTime", since);
      same = same && o.value("status", "") == c.status && o.value("reason", "") == c.reason &&
             o.value("message", "") == c.message && o.value("observedGeneration", 0) == generation;
    }
    same = same && found;
    conditions.push_back({{"type", c.type},
                          {"status", c.status},
                          {"reason", c.reason},
                          {"message", c.message},
                          {"observedGeneration", generation},
                          {"lastTransitionTime", since}});
  }
  json addresses = json::array();
  if (!ip.empty() && ip != "None") addresses.push_back({{"type", "IPAddress"}, {"value", ip}});
  if (same && gw.value("/status/addresses"_json_pointer, json::array()) == addresses) {
    return absl::OkStatus();
  }
  json patch = {{"status", {{"conditions", conditions}, {"addresses", addresses}}}};
  auto r = client_->Request(
      "PATCH",
      "/apis/gateway.networking.k8s.io/v1/namespaces/" + ns + "/gateways/" + name + "/status",
      patch.dump(), "application/merge-patch+json", std::chrono::seconds(10));
  if (!r.ok()) return r.status();
  if (!r->ok()) {
    return absl::UnavailableError("Gateway " + ns + "/" + name +
                                  " status: " + std::to_string(r->status) + " " + r->Message());
  }
  WEFT_LOG(kInfo, "weft-agent ca")
      << "waypoint " << ns << "/" << name << ": " << want[1].type << "=" << want[1].status
      << (ip.empty() ? "" : ", address " + ip);
  return absl::OkStatus();
}

}  // namespace weft::agent
