// Istio's ValidateDestinationRule (istio_checks.h): traffic policies, load balancers,
// connection pools, outlier detection, client TLS, subsets. Each check names the upstream
// function it reproduces; messages are Istio's.

#include "core/policy/decode/istio_checks.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "core/policy/decode/istio_checks_internal.h"

namespace weft::policy {
namespace istio_checks {

// agent.ValidateTLS (client side).
void Checks::ClientTls(const N& tls) {
  if (!tls.ok()) return;
  std::string mode = tls["mode"].Str();
  std::string cred = tls["credentialName"].Str();
  bool skip = tls["insecureSkipVerify"].Str() == "true";
  if (skip && mode == "SIMPLE" &&
      (!tls["caCertificates"].Str().empty() || !cred.empty() || tls["subjectAltNames"].present)) {
    Error(tls,
          "cannot specify CaCertificates or CredentialName or SubjectAltNames when "
          "InsecureSkipVerify is set true");
  }
  if (skip && mode == "MUTUAL" &&
      (!tls["caCertificates"].Str().empty() || tls["subjectAltNames"].present)) {
    Error(tls,
          "cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set "
          "true");
  }
  if ((mode == "SIMPLE" || mode == "MUTUAL") && !cred.empty()) {
    if (!tls["clientCertificate"].Str().empty() || !tls["caCertificates"].Str().empty() ||
        !tls["privateKey"].Str().empty() || !tls["caCrl"].Str().empty()) {
      Error(tls,
            "cannot specify client certificates or CA certificate or CA CRL If "
            "credentialName is set");
    }
    return;
  }
  if (mode == "MUTUAL") {
    if (tls["clientCertificate"].Str().empty())
      Error(tls, "client certificate required for mutual tls");
    if (tls["privateKey"].Str().empty()) Error(tls, "private key required for mutual tls");
  }
}

bool IsPrime(uint64_t x) {
  if (x != 0 && x < 4) return true;
  if ((x & 1) == 0) return false;
  uint64_t limit = static_cast<uint64_t>(std::sqrt(static_cast<double>(x)));
  for (uint64_t f = 3; f <= limit; f += 2) {
    if (x % f == 0) return false;
  }
  return true;
}

// validateLoadBalancer with agent.ValidateLocalityLbSetting / ValidateZoneAwareLbSetting.
void Checks::LoadBalancer(const N& lb, const N& outlier) {
  if (!lb.ok()) return;
  if (N ch = lb["consistentHash"]; ch.ok()) {
    N cookie = ch["httpCookie"];
    if (cookie.ok() && cookie["name"].Str().empty()) Error(cookie, "name required for HttpCookie");
    std::set<std::string> names;
    for (const N& a : cookie["attributes"].Items()) {
      std::string n = a["name"].Str();
      if (n.empty()) {
        Error(a, "cookie attribute name cannot be empty");
      } else if (!names.insert(n).second) {
        Error(a, "duplicate cookie attribute name: " + n);
      }
    }
    bool min_ring = ch["minimumRingSize"].Int().value_or(0) != 0;
    if (min_ring) {
      Warning(ch["minimumRingSize"],
              "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash "
              "configuration instead");
    }
    if (min_ring && (ch["ringHash"].ok() || ch["maglev"].ok())) {
      Error(ch, "only one of MinimumRingSize or Maglev/Ringhash can be specified");
    }
    if (N ml = ch["maglev"]; ml.ok()) {
      int64_t size = ml["tableSize"].Int().value_or(0);
      if (size == 0) Error(ml, "tableSize must be set for maglev");
      if (size >= 5000011) Error(ml["tableSize"], "tableSize must be less than 5000011 for maglev");
      if (size >= 0 && !IsPrime(static_cast<uint64_t>(size))) {
        Error(ml.Has("tableSize") ? ml["tableSize"] : ml,
              "tableSize must be a prime number for maglev");
      }
    }
  }
  N loc = lb["localityLbSetting"], zone = lb["zoneAwareLbSetting"];
  if (loc.ok() && zone.ok()) {
    Error(zone, "only one of localityLbSetting and zoneAwareLbSetting can be set");
  }
  if (loc.ok()) {
    [&] {
      auto distribute = loc["distribute"].Items();
      auto failover = loc["failover"].Items();
      auto priority = loc["failoverPriority"].Items();
      if (!distribute.empty() && !failover.empty()) {
        return Error(loc, "can not simultaneously specify 'distribute' and 'failover'");
      }
      if (!failover.empty()) {
        for (const N& p : priority) {
          std::string l = p.Str();
          if (l == "topology.kubernetes.io/region" || l == "topology.kubernetes.io/zone" ||
              l == "topology.istio.io/subzone") {
            return Error(p, "can not simultaneously set 'failover' and topology label '" + l +
                                "' in 'failover_priority'");
          }
        }
      }
      // validateLocalities: no empty region/zone/subzone, one trailing '*' at most.
      auto locality_ok = [&](const N& at, const std::string& l) {
        size_t stars = std::count(l.begin(), l.end(), '*');
        if (stars > 1 || (stars == 1 && !l.ends_with("*"))) {
          Error(at,
                "locality " + l + " wildcard '*' number can not exceed 1 and must be in the end");
          return false;
        }
        size_t start = 0;
        for (int parts = 0; parts < 3; ++parts) {
          size_t slash = l.find('/', start);
          if (l.substr(start, slash == std::string::npos ? std::string::npos : slash - start)
                  .empty()) {
            Error(at, "locality " + l + " must not contain empty region/zone/subzone info");
            return false;
          }
          if (slash == std::string::npos) break;
          start = slash + 1;
        }
        return true;
      };
      for (const N& d : distribute) {
        if (!locality_ok(d, d["from"].Str())) return;
        for (const auto& [k, w] : d["to"].Entries()) {
          if (!locality_ok(w, k)) return;
        }
      }
      for (const N& d : distribute) {
        int64_t total = 0;
        for (const auto& [k, w] : d["to"].Entries()) {
          int64_t v = w.Int().value_or(0);
          if (v <= 0 || v > 100) return Error(w, "locality weight must be in range [1, 100]");
          total += v;
        }
        if (total != 100) {
          return Error(d, "total locality weight " + std::to_string(total) + " != 100");
        }
      }
      if ((!failover.empty() || !priority.empty()) && !outlier.ok()) {
        Warning(loc, "outlier detection policy must be provided for failover");
      }
      for (const N& f : failover) {
        std::string from = f["from"].Str(), to = f["to"].Str();
        if (from == to) Error(f, "locality lb failover settings must specify different regions");
        if (from.find('/') != std::string::npos || to.find('/') != std::string::npos) {
          Error(f, "locality lb failover only specify region");
        }
        if (from.find('*') != std::string::npos || to.find('*') != std::string::npos) {
          Error(f, "locality lb failover region should not contain '*' wildcard");
        }
      }
    }();
  }
  if (zone.ok()) {
    for (const N& p : zone["failoverPriority"].Items()) {
      std::string l = p.Str();
      if (l == "topology.kubernetes.io/region" || l == "topology.kubernetes.io/zone" ||
          l == "topology.istio.io/subzone") {
        Error(p, "'failover_priority' for zone aware lb must not use topology label '" + l +
                     "'; region- and zone-level routing are handled automatically");
      }
    }
    for (const N& f : zone["failover"].Items()) {
      std::string from = f["from"].Str(), to = f["to"].Str();
      if (from == to) Error(f, "zone aware lb failover settings must specify different regions");
      if (from.find('/') != std::string::npos || to.find('/') != std::string::npos) {
        Error(f,
              "zone aware lb failover only specifies region; zone and subzone failover are "
              "handled automatically");
      }
      if (from.find('*') != std::string::npos || to.find('*') != std::string::npos) {
        Error(f, "zone aware lb failover region should not contain '*' wildcard");
      }
    }
  }
  if (N warm = lb["warmup"]; warm.ok()) {
    if (!warm["duration"].ok()) {
      Error(warm, "duration is required");
    } else {
      Duration(warm["duration"]);
    }
    if (warm["minimumPercent"].Double().value_or(0) > 100) {
      Error(warm["minimumPercent"], "minimumPercent value should be less than or equal to 100");
    }
    if (N a = warm["aggression"]; a.ok() && a.Double().value_or(1) <= 0) {
      Error(a, "aggression should be greater than 0");
    }
  }
}

// validateConnectionPool.
void Checks::ConnectionPool(const N& cp) {
  if (!cp.ok()) return;
  N http = cp["http"], tcp = cp["tcp"];
  if (!http.ok() && !tcp.ok()) return Error(cp, "connection pool must have at least one field");
  if (http.ok()) {
    Duration(http["idleTimeout"]);
    if (N k = http["http2KeepAlive"]; k.ok()) {
      if (!k["interval"].ok()) Error(k, "http2 keepalive interval is required");
      Duration(k["interval"]);
      if (!k["timeout"].ok()) Error(k, "http2 keepalive timeout is required");
      Duration(k["timeout"]);
    }
  }
  if (tcp.ok()) {
    Duration(tcp["connectTimeout"]);
    Duration(tcp["maxConnectionDuration"]);
    if (N idle = tcp["idleTimeout"]; idle.ok()) {
      auto ns = ParseDuration(idle.Str(), nullptr);
      if (ns && *ns / 1'000'000 != 0) Duration(idle);
    }
    Duration(tcp["tcpKeepalive"]["time"]);
    Duration(tcp["tcpKeepalive"]["interval"]);
  }
}

// validateOutlierDetection.
void Checks::OutlierDetection(const N& od) {
  if (!od.ok()) return;
  Duration(od["baseEjectionTime"]);
  Duration(od["interval"]);
  for (const char* key : {"maxEjectionPercent", "minHealthPercent"}) {
    if (auto v = od[key].Int(); v && (*v < 0 || *v > 100)) {
      Error(od[key], "percentage " + std::to_string(*v) + " is not in range 0..100");
    }
  }
}

// validateTrafficPolicy / validatePortTrafficPolicies.
void Checks::TrafficPolicy(const N& tp, bool port_level) {
  if (!tp.ok()) return;
  static constexpr std::string_view kParts[] = {"outlierDetection", "connectionPool",
                                                "loadBalancer", "tls"};
  bool any = false;
  for (auto k : kParts) any |= tp.Has(k);
  if (port_level) {
    if (!tp.Has("port")) Error(tp, "portTrafficPolicy must have valid port");
    if (!any) return Error(tp, "port traffic policy must have at least one field");
  } else {
    any |= tp["portLevelSettings"].Size() > 0 || tp.Has("tunnel") || tp.Has("proxyProtocol") ||
           tp.Has("retryBudget");
    if (!any) return Error(tp, "traffic policy must have at least one field");
    if (tp.Has("tunnel") && tp.Has("proxyProtocol")) {
      return Error(tp, "tunnel and proxyProtocol must not be set together");
    }
  }
  OutlierDetection(tp["outlierDetection"]);
  ConnectionPool(tp["connectionPool"]);
  LoadBalancer(tp["loadBalancer"], tp["outlierDetection"]);
  ClientTls(tp["tls"]);
  if (port_level) return;
  for (const N& p : tp["portLevelSettings"].Items()) TrafficPolicy(p, true);
  if (N t = tp["tunnel"]; t.ok()) {
    std::string proto = t["protocol"].Str();
    if (!proto.empty() && proto != "CONNECT" && proto != "POST") {
      Error(t["protocol"], "tunnel protocol must be \"CONNECT\" or \"POST\"");
    }
    std::string host = t["targetHost"].Str();
    if (std::string e = FqdnError(host); !e.empty() && !IsIpAddress(host)) {
      Error(t.Has("targetHost") ? t["targetHost"] : t,
            "tunnel target host must be valid FQDN or IP address: " + e + "; " + host +
                " is not a valid IP");
    }
    Port(t.Has("targetPort") ? t["targetPort"] : t, t["targetPort"].Int().value_or(0),
         "tunnel target port is invalid: ");
  }
  if (N pp = tp["proxyProtocol"]; pp.ok()) {
    std::string v = pp["version"].Str();
    if (!v.empty() && v != "V1" && v != "V2") {
      Error(pp["version"], "proxy protocol version is invalid: " + v);
    }
  }
}

void Checks::DestinationRule(const N& spec) {
  // (A missing host is the decoder's error.)
  if (std::string e = WildcardDomainError(spec["host"].Str()); spec.Has("host") && !e.empty()) {
    Error(spec["host"], e);
  }
  TrafficPolicy(spec["trafficPolicy"], false);
  for (const N& s : spec["subsets"].Items()) {
    std::string name = s["name"].Str();
    if (name.empty()) {
      Error(s, "subset name cannot be empty");
    } else if (!IsIstioDnsLabel(name)) {
      Error(s["name"], "subset name is invalid: " + name);
    }
    Labels(s["labels"]);
    TrafficPolicy(s["trafficPolicy"], false);
  }
  ExportTo(spec["exportTo"], false, spec["workloadSelector"].ok());
}

}  // namespace istio_checks

void CheckDestinationRuleAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                                 const std::string& ns) {
  istio_checks::Checks(sink, ns).DestinationRule({spec, path, true});
}

}  // namespace weft::policy
