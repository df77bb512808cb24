// Istio's ValidateServiceEntry (istio_checks.h), with validateWorkloadEntry for STATIC
// endpoints. Each check names the upstream function it reproduces; messages are Istio's.

#include "core/policy/decode/istio_checks.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/policy/decode/istio_checks_internal.h"

namespace weft::policy {
namespace istio_checks {

// protocol.Parse: the protocol names Istio knows (case-insensitive).
std::string ProtocolOf(std::string_view p) {
  std::string u;
  for (char c : p) u += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  static const std::set<std::string> kKnown = {"TCP",  "UDP",        "GRPC",  "GRPC-WEB",
                                               "HTTP", "HTTP_PROXY", "HTTP2", "HTTPS",
                                               "TLS",  "MONGO",      "REDIS", "MYSQL"};
  return kKnown.count(u) ? u : "";
}
bool IsHttpProtocol(const std::string& p) {
  return p == "HTTP" || p == "HTTP2" || p == "HTTP_PROXY" || p == "GRPC" || p == "GRPC-WEB";
}
bool IsTlsProtocol(const std::string& p) {
  return p == "HTTPS" || p == "TLS";
}

// ValidateServiceEntry (with validateWorkloadEntry for STATIC endpoints).
void Checks::ServiceEntry(const N& spec, const std::string& use_waypoint) {
  N hosts = spec["hosts"], endpoints = spec["endpoints"], ports = spec["ports"];
  if (spec["workloadSelector"].ok() && endpoints.present) {
    Error(spec["workloadSelector"],
          "only one of WorkloadSelector or Endpoints is allowed in Service Entry");
  }
  const std::string resolution = spec["resolution"].ok() ? spec["resolution"].Str() : "NONE";
  if (hosts.Size() == 0) Error(spec, "service entry must have at least one host");
  for (const N& h : hosts.Items()) {
    std::string host = h.Str();
    if (host == "*") {
      Error(h, "invalid host *");
      continue;
    }
    if (std::string e = WildcardDomainError(host); !e.empty()) Error(h, e);
    if (resolution != "DYNAMIC_DNS" && host.find('*') != std::string::npos && host.size() != 1 &&
        !host.starts_with("*.")) {
      Warning(h, "partial wildcard \"" + host + "\" not allowed");
    }
  }
  bool cidr = false;
  for (const N& a : spec["addresses"].Items()) {
    std::string v = a.Str();
    bool is_cidr = std::count(v.begin(), v.end(), '/') == 1;
    cidr |= v.find('/') != std::string::npos;
    if (is_cidr ? !NormalizeCidr(v) : !IsIpAddress(v)) {
      Error(a, is_cidr ? v + " is not a valid CIDR block" : v + " is not a valid IP");
    }
  }
  if (cidr && resolution != "NONE" && resolution != "STATIC") {
    Error(spec["addresses"], "CIDR addresses are allowed only for NONE/STATIC resolution types");
  }
  std::set<std::string> names;
  std::set<int64_t> numbers;
  std::vector<std::string> protocols;
  for (const N& p : ports.Items()) {
    std::string name = p["name"].Str();
    if (!names.insert(name).second)
      Error(p, "service entry port name \"" + name + "\" already defined");
    int64_t number = p["number"].Int().value_or(0);
    if (!numbers.insert(number).second) {
      Error(p, "service entry port " + std::to_string(number) + " already defined");
    }
    if (auto t = p["targetPort"].Int(); t && *t != 0) Port(p["targetPort"], *t);
    if (!IsIstioDnsLabel(name)) Error(p.Has("name") ? p["name"] : p, "invalid port name: " + name);
    std::string proto = p["protocol"].Str();
    if (!proto.empty() && ProtocolOf(proto).empty())
      Error(p["protocol"], "unsupported protocol: " + proto);
    protocols.push_back(ProtocolOf(proto));
    Port(p.Has("number") ? p["number"] : p, number);
  }
  auto endpoint_ports = [&](const N& ep) {
    for (const auto& [name, port] : ep["ports"].Entries()) {
      if (!names.count(name)) {
        Error(port, "endpoint port " + port.Str() + " is not defined by the service entry");
      }
      if (!IsIstioDnsLabel(name)) Error(port, "invalid port name: " + name);
      Port(port, port.Int().value_or(0));
    }
    Labels(ep["labels"]);
  };
  if (resolution == "NONE") {
    if (endpoints.Size() != 0) {
      Error(endpoints, "no endpoints should be provided for resolution type none");
    } else if (endpoints.present) {
      Error(endpoints, "NONE mode cannot set endpoints");  // the CRD's CEL rule: even empty
    }
    if (spec["workloadSelector"].ok()) {
      Warning(spec["workloadSelector"],
              "workloadSelector should not be set when resolution mode is NONE");
    }
  } else if (resolution == "STATIC") {
    for (const N& ep : endpoints.Items()) {
      std::string addr = ep["address"].Str();
      if (addr.empty()) {
        if (ep["network"].Str().empty()) {
          Error(ep, "address is required");
          continue;
        }
        Warning(ep, "address is unset with network \"" + ep["network"].Str() + "\"");
      }
      if (addr.starts_with("unix://")) {
        if (ep["ports"].Size() != 0) Error(ep, "unix endpoint " + addr + " must not include ports");
        if (names.size() != 1) Error(ep, "exactly 1 service port required for unix endpoints");
      } else if (!addr.empty() && !IsIpAddress(addr)) {
        Error(ep["address"], "endpoint address \"" + addr + "\" is not a valid IP address");
      }
      endpoint_ports(ep);
    }
  } else if (resolution == "DNS" || resolution == "DNS_ROUND_ROBIN") {
    if (endpoints.Size() == 0) {
      for (const N& h : hosts.Items()) {
        if (std::string e = FqdnError(h.Str()); !e.empty()) {
          Error(h,
                "hosts must be FQDN or contain only prefix wildcards if no endpoints are "
                "provided for resolution mode " +
                    resolution + ", " + e);
          break;
        }
      }
    }
    if (resolution == "DNS_ROUND_ROBIN" && endpoints.Size() > 1) {
      Error(endpoints, "there must only be 0 or 1 endpoint for resolution mode " + resolution);
    }
    for (const N& ep : endpoints.Items()) {
      std::string addr = ep["address"].Str();
      if (!IsIpAddress(addr) && !FqdnError(addr).empty()) {
        Error(ep.Has("address") ? ep["address"] : ep,
              "endpoint address \"" + addr + "\" is not a valid FQDN or an IP address");
      }
      endpoint_ports(ep);
    }
  } else if (resolution == "DYNAMIC_DNS") {
    if (hosts.Size() == 0) {
      Error(spec, "at least one wildcard host must be provided for resolution type DYNAMIC_DNS");
    }
    for (const N& h : hosts.Items()) {
      if (!h.Str().starts_with("*"))
        Error(h, "host must be wildcarded for resolution mode DYNAMIC_DNS");
    }
    if (spec["addresses"].Size()) {
      Error(spec["addresses"],
            "addresses cannot be set for resolution type DYNAMIC_DNS. HTTP route "
            "domains will only be generatedfrom the hosts field values");
    }
    if (endpoints.Size()) {
      Error(endpoints,
            "endpoints cannot be set for resolution type DYNAMIC_DNS. Destination IP "
            "address determined from hostsfield values");
    }
    for (size_t i = 0; i < protocols.size(); ++i) {
      const std::string& p = protocols[i];
      if (p != "HTTP" && p != "TLS" && p != "GRPC" && p != "HTTP2") {
        Error(ports.Items()[i],
              "only HTTP, TLS, GRPC, and HTTP2 protocols are supported for "
              "resolution type DYNAMIC_DNS");
      }
    }
    std::string location = spec["location"].ok() ? spec["location"].Str() : "MESH_EXTERNAL";
    if (location == "MESH_INTERNAL" && !use_waypoint.empty() && !IEquals(use_waypoint, "none")) {
      Error(spec["location"],
            "location MESH_INTERNAL with resolution type DYNAMIC_DNS is not "
            "supported when using waypoints");
    }
  }
  if (resolution != "NONE" && hosts.Size() > 1) {
    for (const auto& p : protocols) {
      if (!IsHttpProtocol(p) && !IsTlsProtocol(p)) {
        Error(hosts, "multiple hosts provided with non-HTTP, non-TLS ports");
        break;
      }
    }
  }
  ExportTo(spec["exportTo"], true);
}

}  // namespace istio_checks

void CheckServiceEntryAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                              const std::string& ns, const std::string& use_waypoint) {
  istio_checks::Checks(sink, ns).ServiceEntry({spec, path, true}, use_waypoint);
}

}  // namespace weft::policy
