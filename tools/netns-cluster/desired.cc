#include "tools/netns-cluster/desired.h"

#include <filesystem>
#include <set>

#include "core/source/files.h"
#include "tools/netns-cluster/ipv4.h"
#include "tools/netns-cluster/naming.h"

namespace weft::cluster {

namespace {

namespace policy = ::weft::policy;

std::string Where(const policy::ResourceRef& ref) {
  return ref.file + ":" + std::to_string(ref.line) + ": ";
}

// Formatted like the compiler's diagnostics: "file:line:col: error: Kind/ns/name: message".
std::string ErrorAbout(const policy::ResourceRef& ref, const std::string& message) {
  policy::Diagnostic d;
  d.resource = ref;
  d.message = message;
  return policy::FormatDiagnostic(d);
}

// Checks what the cluster needs beyond what the decoder checks. Returns an error text or "".
std::string CheckPod(const policy::Resource& r, DesiredPod& out) {
  const auto& spec = r.as<policy::PodSpec>();
  out.ns = r.meta.ns;
  out.name = r.meta.name;
  out.node = spec.node;
  out.service_account = spec.service_account;
  if (auto it = r.meta.annotations.find(kRunAnnotation); it != r.meta.annotations.end()) {
    out.run = it->second;
  }
  if (!IsValidObjectName(out.ns)) return "metadata.namespace: not a valid name here";
  if (!IsValidObjectName(out.name)) {
    return "metadata.name: must be 1-63 characters [a-z0-9.-] in a netns cluster";
  }
  if (spec.node.empty()) {
    return "spec.nodeName: required in a netns cluster (it says which Node the pod runs on)";
  }
  if (spec.host_network) return "spec.hostNetwork: not supported in a netns cluster";
  for (const auto& ip : spec.ips) {
    if (ParseIpv4(ip)) {
      out.ip = ip;
      break;
    }
  }
  if (!spec.ips.empty() && out.ip.empty()) {
    return "status.podIP: only IPv4 pod addresses are supported in a netns cluster";
  }
  return "";
}

// A Gateway of a waypoint class: "" and `out` filled; an error text; or "-" for a Gateway that
// is not a waypoint's (ignored).
std::string CheckWaypoint(const policy::Resource& r, DesiredWaypoint& out) {
  const auto& spec = r.as<policy::GatewaySpec>();
  if (!spec.waypoint || spec.mesh_listener >= spec.listeners.size()) return "-";
  out.ns = r.meta.ns;
  out.name = r.meta.name;
  out.node = spec.node;
  out.gateway_class = spec.gateway_class;
  out.port = spec.listeners[spec.mesh_listener].port;
  if (!IsValidObjectName(out.ns)) return "metadata.namespace: not a valid name here";
  if (!IsValidObjectName(out.name)) {
    return "metadata.name: must be 1-63 characters [a-z0-9.-] in a netns cluster";
  }
  return "";
}

bool IsGatewayApiGateway(const policy::ResourceRef& ref) {
  return ref.kind == "Gateway" && ref.api_version.starts_with("gateway.networking.k8s.io/");
}

std::string CheckNode(const policy::Resource& r, DesiredNode& out) {
  out.name = r.meta.name;
  out.pod_cidr = r.as<policy::NodeSpec>().pod_cidr;
  out.labels = r.meta.labels;
  if (!IsValidObjectName(out.name)) {
    return "metadata.name: must be 1-63 characters [a-z0-9.-] in a netns cluster";
  }
  if (!out.pod_cidr.empty()) {
    auto c = Cidr::Parse(out.pod_cidr);
    if (!c) return "spec.podCIDR: \"" + out.pod_cidr + "\" is not an IPv4 prefix";
    if (c->len > 30 || c->len < 8) return "spec.podCIDR: the prefix length must be 8-30";
  }
  return "";
}

}  // namespace

Desired LoadDesired(const std::string& dir, const Desired* previous, bool nodes_only) {
  Desired out;
  auto loaded = source::LoadPaths({dir});
  std::set<std::string> files_to_keep;  // files whose resources are kept from `previous`.
  std::set<std::string> nodes_to_keep, pods_to_keep, waypoints_to_keep;
  // The cluster's own output (waypoint Pods) is not input.
  const std::string generated = (std::filesystem::path(dir) / kGeneratedDir).string() + "/";
  auto is_generated = [&](const std::string& file) { return file.starts_with(generated); };

  if (previous && !std::filesystem::is_directory(dir)) {
    // DIR itself is gone (perhaps being replaced): keep everything rather than tear the
    // cluster down over a rename.
    Desired keep = *previous;
    std::erase_if(keep.pods, [](const auto& kv) { return !kv.second.gateway.empty(); });
    keep.errors.clear();
    keep.warnings = {dir + ": not a directory any more; the last good state stays in force"};
    return keep;
  }
  for (const auto& e : loaded.io_errors) {
    if (is_generated(e.resource.file)) continue;
    out.warnings.push_back(e.resource.file + ": " + e.message);
    files_to_keep.insert(e.resource.file);
  }
  for (const auto& doc : loaded.documents) {
    const auto& ref = doc.ref;
    if (is_generated(ref.file)) continue;
    bool is_node = ref.kind == "Node", is_pod = ref.kind == "Pod";
    bool unreadable = doc.rejected && (ref.kind.empty() || ref.name.empty());
    if (nodes_only && !is_node && !unreadable) {
      if (is_pod && !doc.rejected) {
        out.warnings.push_back(Where(ref) + "Pod/" + ref.ns + "/" + ref.name +
                               ": ignored (with --kubernetes, pods come from the API server: "
                               "kubectl apply it)");
      }
      continue;
    }
    // A broken document may not tell its apiVersion: any broken Gateway counts.
    if (!nodes_only && (IsGatewayApiGateway(ref) || (ref.kind == "Gateway" && doc.rejected))) {
      std::string key = ref.ns + "/" + ref.name;
      if (doc.rejected || !doc.resource) {
        // Only a waypoint's Gateway matters here, but a broken one cannot tell its class: any
        // broken Gateway keeps a waypoint of its name and says so.
        if (!previous || !previous->waypoints.contains(key)) continue;
        waypoints_to_keep.insert(key);
        for (const auto& d : doc.diagnostics) {
          if (d.severity == policy::Severity::kError) {
            out.errors.push_back(policy::FormatDiagnostic(d) +
                                 " (the waypoint's last good version stays in force)");
            break;
          }
        }
        continue;
      }
      DesiredWaypoint w;
      std::string error = CheckWaypoint(*doc.resource, w);
      if (error == "-") continue;
      w.file = ref.file;
      w.line = static_cast<int>(ref.line);
      if (error.empty()) {
        if (auto it = out.waypoints.find(key); it != out.waypoints.end()) {
          out.errors.push_back(ErrorAbout(ref, "also defined at " + it->second.file + ":" +
                                                   std::to_string(it->second.line) +
                                                   "; this one is ignored"));
        } else {
          out.waypoints.emplace(key, std::move(w));
        }
      } else {
        out.errors.push_back(ErrorAbout(ref, error));
      }
      continue;
    }
    if (!is_node && !is_pod) {
      if (doc.rejected && (ref.kind.empty() || ref.name.empty())) {
        std::string first = doc.diagnostics.empty()
                                ? Where(ref) + "unreadable document"
                                : policy::FormatDiagnostic(doc.diagnostics.front());
        out.warnings.push_back(first +
                               " (if it holds a Node or Pod, the last good version "
                               "stays)");
        files_to_keep.insert(ref.file);
      }
      continue;
    }
    std::string key = is_pod ? ref.ns + "/" + ref.name : ref.name;
    auto keep = [&] {
      bool had =
          previous && (is_pod ? previous->pods.contains(key) : previous->nodes.contains(key));
      (is_pod ? pods_to_keep : nodes_to_keep).insert(key);
      return had ? " (the last good version stays in force)" : "";
    };
    if (doc.rejected || !doc.resource) {
      bool any = false;
      for (const auto& d : doc.diagnostics) {
        if (d.severity != policy::Severity::kError) continue;
        out.errors.push_back(policy::FormatDiagnostic(d));
        any = true;
      }
      if (!any) out.errors.push_back(ErrorAbout(ref, "rejected"));
      out.errors.back() += keep();
      continue;
    }
    std::string error;
    if (is_pod) {
      DesiredPod p;
      error = CheckPod(*doc.resource, p);
      p.file = ref.file;
      p.line = static_cast<int>(ref.line);
      if (error.empty()) {
        if (auto it = out.pods.find(key); it != out.pods.end()) {
          error = "also defined at " + it->second.file + ":" + std::to_string(it->second.line) +
                  "; this one is ignored";
        } else {
          out.pods.emplace(key, std::move(p));
        }
      }
    } else {
      DesiredNode n;
      error = CheckNode(*doc.resource, n);
      n.file = ref.file;
      n.line = static_cast<int>(ref.line);
      if (error.empty()) {
        if (auto it = out.nodes.find(key); it != out.nodes.end()) {
          error = "also defined at " + it->second.file + ":" + std::to_string(it->second.line) +
                  "; this one is ignored";
        } else {
          out.nodes.emplace(key, std::move(n));
        }
      }
    }
    if (!error.empty()) {
      std::string line = ErrorAbout(ref, error);
      if (!error.starts_with("also defined")) line += keep();
      out.errors.push_back(std::move(line));
    }
  }

  if (previous) {
    for (const auto& [key, n] : previous->nodes) {
      if (out.nodes.contains(key)) continue;
      if (nodes_to_keep.contains(key) || files_to_keep.contains(n.file)) out.nodes.emplace(key, n);
    }
    for (const auto& [key, p] : previous->pods) {
      if (out.pods.contains(key) || !p.gateway.empty()) continue;
      if (pods_to_keep.contains(key) || files_to_keep.contains(p.file)) out.pods.emplace(key, p);
    }
    for (const auto& [key, w] : previous->waypoints) {
      if (out.waypoints.contains(key)) continue;
      if (waypoints_to_keep.contains(key) || files_to_keep.contains(w.file)) {
        out.waypoints.emplace(key, w);
      }
    }
  }
  return out;
}

}  // namespace weft::cluster
