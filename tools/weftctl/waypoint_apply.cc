// `weftctl waypoint apply|delete` (waypoint_apply.h).

#include "tools/weftctl/waypoint_apply.h"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>
#include <vector>

#include "core/kube/client.h"
#include "tools/weftctl/kube_access.h"
#include "tools/weftctl/waypoint.h"

namespace weft::weftctl {

using nlohmann::json;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr char kGateways[] = "/apis/gateway.networking.k8s.io/v1/namespaces/";
constexpr char kFieldManager[] = "fieldManager=weftctl";
constexpr char kNoGatewayApi[] =
    "the API server does not serve gateway.networking.k8s.io/v1 Gateways: install the Gateway "
    "API CRDs first (kubectl apply --server-side -k deploy/crds, or your distribution's)";

std::string GatewayPath(const std::string& ns, const std::string& name) {
  return kGateways + ns + "/gateways/" + name;
}

std::string NamespacePath(const std::string& ns) {
  return "/api/v1/namespaces/" + ns;
}

int Fail(const std::string& msg, int code) {
  std::cerr << "weftctl: " << msg << "\n";
  return code;
}

// A 404 about the object `name` itself, not about its kind (a kind the API server does not
// serve answers 404 too, without the object's name in the Status details).
bool ObjectNotFound(const kube::Response& r, const std::string& name) {
  if (r.status != 404) return false;
  json j = r.Json();
  return j.is_object() && j.value("reason", "") == "NotFound" && j.contains("details") &&
         j["details"].is_object() && j["details"].value("name", "") == name;
}

std::string LabelOf(const json& object, const std::string& key) {
  if (!object.is_object() || !object.contains("metadata")) return "";
  const json& meta = object["metadata"];
  if (!meta.is_object() || !meta.contains("labels") || !meta["labels"].is_object()) return "";
  const json& v = meta["labels"].value(key, json());
  return v.is_string() ? v.get<std::string>() : "";
}

std::string MetaString(const json& object, const char* key) {
  if (!object.is_object() || !object.contains("metadata") || !object["metadata"].is_object()) {
    return "";
  }
  const json& v = object["metadata"].value(key, json());
  return v.is_string() ? v.get<std::string>() : "";
}

// The top-level spec fields where `have` and `want` differ: "spec.gatewayClassName, ...".
std::string SpecDifferences(const json& have, const json& want) {
  std::vector<std::string> keys;
  auto add = [&](const json& o) {
    if (!o.is_object()) return;
    for (auto it = o.begin(); it != o.end(); ++it) {
      if (std::find(keys.begin(), keys.end(), it.key()) == keys.end()) keys.push_back(it.key());
    }
  };
  add(have);
  add(want);
  std::sort(keys.begin(), keys.end());
  std::string out;
  for (const auto& k : keys) {
    json a = have.is_object() ? have.value(k, json()) : json();
    json b = want.is_object() ? want.value(k, json()) : json();
    if (a != b) out += (out.empty() ? "" : ", ") + std::string("spec.") + k;
  }
  return out.empty() ? "spec" : out;
}

std::string Seconds(Clock::duration d) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.1f s", std::chrono::duration<double>(d).count());
  return buf;
}

// A client for the cluster of --kubeconfig (or $KUBECONFIG, ~/.kube/config, in-cluster).
absl::StatusOr<std::shared_ptr<kube::Client>> Connect(const std::string& kubeconfig) {
  auto config = LoadKubeConfig(kubeconfig);
  if (!config.ok()) return config.status();
  return kube::Client::Create(*config);
}

int CheckNames(const std::string& ns, const std::string& name) {
  if (!IsDnsLabel(ns)) {
    return Fail("invalid namespace \"" + ns + "\": lowercase letters, digits and '-'", 2);
  }
  if (!IsDnsSubdomain(name)) {
    return Fail("invalid name \"" + name + "\": lowercase letters, digits, '-' and '.'", 2);
  }
  return 0;
}

std::string LabelConflict(const WaypointApplyOptions& o, const std::string& have) {
  return "namespace " + o.ns + " uses waypoint " + have + " (" + kUseWaypointLabel + "=" + have +
         "): --overwrite moves it to " + o.name;
}

// The Namespace's label set to `name` (or left when it already is). `ns_object` is the
// Namespace as read (null when it could not be read).
int Enroll(kube::Client& c, const WaypointApplyOptions& o, json ns_object) {
  const std::string what = "namespace " + o.ns;
  if (ns_object.is_null()) {
    auto r = c.Request("GET", NamespacePath(o.ns));
    if (!r.ok()) return Fail(std::string(r.status().message()), 1);
    if (!r->ok()) return Fail(ApiError("GET", what, *r), 1);
    ns_object = r->Json();
  }
  std::string have = LabelOf(ns_object, kUseWaypointLabel);
  if (have == o.name) {
    std::cout << what << " already uses waypoint " << o.name << " (" << kUseWaypointLabel << ")\n";
    return 0;
  }
  if (!have.empty() && !o.overwrite) return Fail(LabelConflict(o, have), 1);
  // The resourceVersion makes the patch fail (409) if the Namespace changed since it was read.
  json patch = {{"metadata",
                 {{"resourceVersion", MetaString(ns_object, "resourceVersion")},
                  {"labels", {{kUseWaypointLabel, o.name}}}}}};
  auto r = c.Request("PATCH", NamespacePath(o.ns) + "?" + kFieldManager, patch.dump(),
                     "application/merge-patch+json");
  if (!r.ok()) return Fail(std::string(r.status().message()), 1);
  if (r->status == 409) return Fail(what + " changed meanwhile: run this again", 1);
  if (!r->ok()) return Fail(ApiError("PATCH", what, *r), 1);
  std::cout << what << " labelled " << kUseWaypointLabel << "=" << o.name
            << (have.empty() ? "" : " (was " + have + ")") << "\n";
  return 0;
}

int Wait(kube::Client& c, const WaypointApplyOptions& o, milliseconds timeout) {
  const std::string what = "gateway " + o.ns + "/" + o.name;
  const std::string path = GatewayPath(o.ns, o.name);
  auto start = Clock::now();
  auto deadline = start + timeout;
  std::string why = "not read yet";
  for (;;) {
    // Each read may take a little past the deadline rather than not happen at all.
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    auto request_timeout =
        std::clamp<milliseconds>(left, std::chrono::seconds(1), std::chrono::seconds(10));
    auto r = c.Request("GET", path, {}, "application/json", request_timeout);
    if (!r.ok()) {
      why = "last read failed: " + std::string(r.status().message());
    } else if (ObjectNotFound(*r, o.name)) {
      return Fail(what + " was deleted while waiting for it", 1);
    } else if (!r->ok()) {
      why = "last read failed: " + ApiError("GET", what, *r);
    } else if (GatewayProgrammed(r->Json(), &why)) {
      std::cout << what << " programmed (after " << Seconds(Clock::now() - start) << ")\n";
      return 0;
    }
    left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    std::this_thread::sleep_for(std::min<milliseconds>(left, milliseconds(500)));
  }
  return Fail(what + " is not programmed after " + o.timeout + ": " + why +
                  ". The waypoint controller sets Programmed once the waypoint runs: is it "
                  "installed and running?",
              1);
}

}  // namespace

absl::StatusOr<milliseconds> ParseTimeout(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError("bad timeout \"" + std::string(text) + "\": " + why +
                                      " (e.g. 60s, 2m, 1m30s, 500ms)");
  };
  constexpr int64_t kMax = 24 * 3600 * 1000;
  if (text.empty()) return bad("empty");
  int64_t total = 0;
  size_t i = 0;
  bool plain = true;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("expected a number");
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > kMax) return bad("longer than 24h");
      ++i;
    }
    int64_t unit = 1000;
    if (i == text.size()) {
      if (!plain) return bad("a number without a unit after another part");
    } else if (text.substr(i, 2) == "ms") {
      unit = 1, i += 2;
    } else if (text[i] == 'h' || text[i] == 'm' || text[i] == 's') {
      unit = text[i] == 'h' ? 3600 * 1000 : text[i] == 'm' ? 60 * 1000 : 1000;
      ++i;
    } else {
      return bad(std::string("unknown unit '") + text[i] + "' (h, m, s, ms)");
    }
    plain = false;
    if (n > kMax / unit) return bad("longer than 24h");
    total += n * unit;
    if (total > kMax) return bad("longer than 24h");
  }
  if (total == 0) return bad("must be more than 0");
  return milliseconds(total);
}

bool GatewayProgrammed(const json& gateway, std::string* why) {
  auto say = [&](std::string s) {
    if (why) *why = std::move(s);
    return false;
  };
  if (!gateway.is_object()) return say("unreadable Gateway");
  int64_t generation = 0;
  if (gateway.contains("metadata") && gateway["metadata"].is_object()) {
    const json& g = gateway["metadata"].value("generation", json());
    if (g.is_number_integer()) generation = g.get<int64_t>();
  }
  const json status = gateway.value("status", json::object());
  const json conditions =
      status.is_object() ? status.value("conditions", json::array()) : json::array();
  if (!conditions.is_array()) return say("no Programmed condition");
  for (const auto& c : conditions) {
    if (!c.is_object() || c.value("type", json()) != "Programmed") continue;
    std::string st = c.value("status", json()).is_string() ? c["status"].get<std::string>() : "?";
    std::string reason =
        c.value("reason", json()).is_string() ? c["reason"].get<std::string>() : "";
    std::string message =
        c.value("message", json()).is_string() ? c["message"].get<std::string>() : "";
    int64_t observed = c.value("observedGeneration", json()).is_number_integer()
                           ? c["observedGeneration"].get<int64_t>()
                           : generation;
    if (st != "True") {
      std::string detail = reason;
      if (!message.empty()) detail += (detail.empty() ? "" : ": ") + message;
      return say("Programmed is " + st + (detail.empty() ? "" : " (" + detail + ")"));
    }
    if (observed < generation) {
      return say("Programmed is True for generation " + std::to_string(observed) +
                 ", the Gateway is at generation " + std::to_string(generation));
    }
    if (why) why->clear();
    return true;
  }
  return say("no Programmed condition");
}

void AddWaypointApplyCommands(CLI::App& waypoint, WaypointApplyOptions& a, WaypointDeleteOptions& d,
                              std::string& which) {
  const char* kubeconfig_help =
      "The kubeconfig (default: $KUBECONFIG, ~/.kube/config, else the in-cluster config)";
  CLI::App* apply = waypoint.add_subcommand(
      "apply",
      "Create the waypoint's Gateway (class weft-waypoint, listener mesh/15008/HBONE) in the "
      "cluster; an existing one with another spec is an error unless --overwrite. Exit status "
      "0 done, 1 the cluster refused or failed, 2 bad input.");
  apply->add_option("-n,--namespace", a.ns, "Namespace of the waypoint")->required();
  apply->add_option("--name", a.name, "Name of the waypoint (its Gateway)")->capture_default_str();
  apply->add_flag("--enroll-namespace", a.enroll_namespace,
                  std::string("Also label the namespace ") + kUseWaypointLabel +
                      "=<name>: every Service of it goes through the waypoint");
  apply->add_flag("--overwrite", a.overwrite,
                  "Replace the spec of an existing Gateway of that name (and, with "
                  "--enroll-namespace, a label naming another waypoint)");
  apply->add_option("--kubeconfig", a.kubeconfig, kubeconfig_help);
  apply->add_flag("--wait", a.wait,
                  "Wait until the Gateway is programmed (its Programmed condition True, set by "
                  "the waypoint controller)");
  CLI::Option* timeout =
      apply->add_option("--timeout", a.timeout, "With --wait: how long (60s, 2m, 500ms, ...)")
          ->capture_default_str();
  apply->callback([&a, &which, timeout] {
    which = "apply";
    a.timeout_set = timeout->count() > 0;
  });

  CLI::App* del = waypoint.add_subcommand(
      "delete",
      "Delete the waypoint's Gateway from the cluster, and the namespace's " +
          std::string(kUseWaypointLabel) +
          " label when it names it. Exit status 0 done, 1 the cluster refused or failed (or no "
          "such Gateway), 2 bad input.");
  del->add_option("-n,--namespace", d.ns, "Namespace of the waypoint")->required();
  del->add_option("name", d.name, "Name of the waypoint (its Gateway)")->capture_default_str();
  del->add_option("--kubeconfig", d.kubeconfig, kubeconfig_help);
  del->callback([&which] { which = "delete"; });
}

int RunWaypointApply(WaypointApplyOptions o) {
  if (int rc = CheckNames(o.ns, o.name)) return rc;
  if (o.timeout_set && !o.wait) return Fail("--timeout goes with --wait", 2);
  auto timeout = ParseTimeout(o.timeout);
  if (!timeout.ok()) return Fail(std::string(timeout.status().message()), 2);

  auto client = Connect(o.kubeconfig);
  if (!client.ok()) return Fail(std::string(client.status().message()), 1);
  kube::Client& c = **client;
  const std::string what = "gateway " + o.ns + "/" + o.name;
  const std::string path = GatewayPath(o.ns, o.name);

  // The namespace first, for a clear message (a user who may not read namespaces goes on).
  json ns_object;
  auto ns = c.Request("GET", NamespacePath(o.ns));
  if (!ns.ok()) return Fail(std::string(ns.status().message()), 1);
  if (ns->status == 404) {
    return Fail("namespace " + o.ns + " does not exist (kubectl create namespace " + o.ns + ")", 1);
  }
  if (ns->ok()) {
    ns_object = ns->Json();
  } else if (ns->status != 403) {
    return Fail(ApiError("GET", "namespace " + o.ns, *ns), 1);
  }

  // A label naming another waypoint fails before anything changes.
  if (std::string have = LabelOf(ns_object, kUseWaypointLabel);
      o.enroll_namespace && !o.overwrite && !have.empty() && have != o.name) {
    return Fail(LabelConflict(o, have), 1);
  }

  json want = WaypointGateway(o.ns, o.name, "");
  // Two rounds: a Gateway created by someone else between our read and our create is then
  // compared like any existing one.
  for (int round = 0;; ++round) {
    auto got = c.Request("GET", path);
    if (!got.ok()) return Fail(std::string(got.status().message()), 1);
    if (got->status == 404 && !ObjectNotFound(*got, o.name)) return Fail(kNoGatewayApi, 1);
    if (got->status == 404) {
      auto made = c.Request("POST", kGateways + o.ns + "/gateways?" + kFieldManager, want.dump());
      if (!made.ok()) return Fail(std::string(made.status().message()), 1);
      if (made->status == 409 && round == 0) continue;
      if (!made->ok()) return Fail(ApiError("POST", what, *made), 1);
      std::cout << what << " created (class " << kWaypointClass << ", listener mesh "
                << kWaypointPort << "/HBONE)\n";
      break;
    }
    if (!got->ok()) return Fail(ApiError("GET", what, *got), 1);

    // Compare as the API server would store ours: a dry-run update of the existing object
    // with our spec gets the same defaults (listeners' allowedRoutes, ...) applied.
    json have = got->Json();
    json update = have;
    update["spec"] = want["spec"];
    update.erase("status");
    if (update.contains("metadata") && update["metadata"].is_object()) {
      update["metadata"].erase("managedFields");
    }
    auto dry = c.Request("PUT", path + "?dryRun=All&" + kFieldManager, update.dump());
    if (!dry.ok()) return Fail(std::string(dry.status().message()), 1);
    if (dry->status == 409 && round == 0) continue;
    if (!dry->ok()) return Fail(ApiError("PUT (dry run)", what, *dry), 1);
    json as_ours = dry->Json();
    json have_spec = have.value("spec", json::object());
    json ours_spec = as_ours.is_object() ? as_ours.value("spec", json::object()) : json();
    if (ours_spec == have_spec) {
      std::cout << what << " unchanged\n";
      break;
    }
    std::string differs = SpecDifferences(have_spec, ours_spec);
    if (!o.overwrite) {
      return Fail(what + " exists with another spec (it differs in " + differs +
                      "): --overwrite replaces it",
                  1);
    }
    auto put = c.Request("PUT", path + "?" + kFieldManager, update.dump());
    if (!put.ok()) return Fail(std::string(put.status().message()), 1);
    if (put->status == 409 && round == 0) continue;
    if (!put->ok()) return Fail(ApiError("PUT", what, *put), 1);
    std::cout << what << " replaced (" << differs << ")\n";
    break;
  }

  if (o.enroll_namespace) {
    if (int rc = Enroll(c, o, ns_object)) return rc;
  }
  if (o.wait) return Wait(c, o, *timeout);
  return 0;
}

int RunWaypointDelete(const WaypointDeleteOptions& o) {
  if (int rc = CheckNames(o.ns, o.name)) return rc;
  auto client = Connect(o.kubeconfig);
  if (!client.ok()) return Fail(std::string(client.status().message()), 1);
  kube::Client& c = **client;
  const std::string what = "gateway " + o.ns + "/" + o.name;
  const std::string path = GatewayPath(o.ns, o.name);

  bool existed = false;
  auto got = c.Request("GET", path);
  if (!got.ok()) return Fail(std::string(got.status().message()), 1);
  if (got->status == 404 && !ObjectNotFound(*got, o.name)) return Fail(kNoGatewayApi, 1);
  if (got->ok()) {
    json have = got->Json();
    json spec = have.value("spec", json::object());
    std::string cls = spec.is_object() && spec.value("gatewayClassName", json()).is_string()
                          ? spec["gatewayClassName"].get<std::string>()
                          : "";
    if (cls != kWaypointClass && cls != "istio-waypoint") {
      return Fail(
          what + " is not a waypoint (class " + (cls.empty() ? "none" : cls) + "): not deleted", 1);
    }
    // The uid as a precondition: a Gateway made again meanwhile under the name is not ours.
    json options = {{"apiVersion", "v1"},
                    {"kind", "DeleteOptions"},
                    {"preconditions", {{"uid", MetaString(have, "uid")}}}};
    auto del = c.Request("DELETE", path, options.dump());
    if (!del.ok()) return Fail(std::string(del.status().message()), 1);
    if (del->ok()) {
      existed = true;
      std::cout << what << " deleted\n";
    } else if (!ObjectNotFound(*del, o.name)) {
      return Fail(ApiError("DELETE", what, *del), 1);
    }
  } else if (!ObjectNotFound(*got, o.name)) {
    return Fail(ApiError("GET", what, *got), 1);
  }

  // The namespace's binding, when it is this waypoint's: it would refuse the namespace's
  // traffic (no such waypoint) once the Gateway is gone.
  const std::string ns_what = "namespace " + o.ns;
  auto ns = c.Request("GET", NamespacePath(o.ns));
  if (!ns.ok()) return Fail(std::string(ns.status().message()), 1);
  if (ns->ok()) {
    json ns_object = ns->Json();
    if (LabelOf(ns_object, kUseWaypointLabel) == o.name) {
      json patch = {{"metadata",
                     {{"resourceVersion", MetaString(ns_object, "resourceVersion")},
                      {"labels", {{kUseWaypointLabel, nullptr}}}}}};
      auto r = c.Request("PATCH", NamespacePath(o.ns) + "?" + kFieldManager, patch.dump(),
                         "application/merge-patch+json");
      if (!r.ok()) return Fail(std::string(r.status().message()), 1);
      if (r->status == 409) return Fail(ns_what + " changed meanwhile: run this again", 1);
      if (!r->ok()) return Fail(ApiError("PATCH", ns_what, *r), 1);
      std::cout << ns_what << ": label " << kUseWaypointLabel << "=" << o.name << " removed\n";
    }
    if (LabelOf(ns_object, "istio.io/use-waypoint") == o.name) {
      std::cerr << "weftctl: warning: " << ns_what << " still has istio.io/use-waypoint=" << o.name
                << " (not weftctl's; remove it, or its traffic is refused)\n";
    }
  } else if (ns->status != 404 && ns->status != 403) {
    return Fail(ApiError("GET", ns_what, *ns), 1);
  }

  // Services that still name it (weft fails closed: their traffic is refused, not sent direct).
  for (const char* label : {kUseWaypointLabel, "istio.io/use-waypoint"}) {
    std::string selector = std::string(label) + "=" + o.name;
    auto r = c.Request("GET", "/api/v1/namespaces/" + o.ns +
                                  "/services?labelSelector=" + kube::QueryEscape(selector));
    if (!r.ok() || !r->ok()) continue;  // a hint only
    json list = r->Json();
    if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) continue;
    for (const auto& svc : list["items"]) {
      std::cerr << "weftctl: warning: service " << o.ns << "/" << MetaString(svc, "name")
                << " still has " << selector
                << ": its traffic is refused until the label goes or the waypoint is back\n";
    }
  }

  if (!existed) return Fail(what + " not found", 1);
  return 0;
}

}  // namespace weft::weftctl
