#pragma once

// The machinery shared by the files that reproduce Istio's validation (istio_checks.h): a raw
// spec node with its field path (N), the Checks visitor and the helpers more than one kind
// uses. One file per kind: istio_checks_virtual_service.cc, istio_checks_destination_rule.cc,
// istio_checks_service_entry.cc; istio_checks_common.cc holds the shared rules.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/policy/decode/values.h"
#include "core/policy/diagnostics.h"
#include "core/yaml/document.h"

namespace weft::policy::istio_checks {

// A node of the raw spec with its field path; an absent or null field is !ok().
struct N {
  yaml::Node n;
  std::string path;
  bool present = false;

  bool ok() const { return present && n.valid() && !n.IsNull(); }
  N operator[](std::string_view key) const {
    if (!ok() || !n.IsMap()) return {};
    auto v = n.Find(key);
    if (!v) return {};
    return {*v, path + "." + std::string(key), true};
  }
  bool Has(std::string_view key) const { return (*this)[key].ok(); }
  // Lists: their items; anything else: none.
  std::vector<N> Items() const {
    std::vector<N> out;
    if (!ok() || !n.IsSeq()) return out;
    for (size_t i = 0; i < n.size(); ++i) {
      out.push_back({n.item(i), path + "[" + std::to_string(i) + "]", true});
    }
    return out;
  }
  size_t Size() const { return ok() && (n.IsSeq() || n.IsMap()) ? n.size() : 0; }
  // Mappings: key and value.
  std::vector<std::pair<std::string, N>> Entries() const {
    std::vector<std::pair<std::string, N>> out;
    if (!ok() || !n.IsMap()) return out;
    for (size_t i = 0; i < n.size(); ++i) {
      std::string k(n.key(i).scalar());
      out.push_back({k, {n.value(i), path + "." + k, true}});
    }
    return out;
  }
  std::string Str() const { return ok() && n.IsScalar() ? std::string(n.scalar()) : ""; }
  std::optional<int64_t> Int() const {
    return ok() && n.IsScalar() ? ParseInt(n.scalar()) : std::nullopt;
  }
  std::optional<double> Double() const {
    return ok() && n.IsScalar() ? ParseDouble(n.scalar()) : std::nullopt;
  }
  yaml::Mark mark() const { return n.valid() ? n.mark() : yaml::Mark{}; }
};

class Checks {
 public:
  Checks(DiagnosticSink& sink, std::string ns) : sink_(sink), ns_(std::move(ns)) {}

  // One error per field: where a decoder already refused the field (its type, its range), the
  // same rule of Istio's is not said twice.
  void Error(const N& at, std::string message) {
    for (const auto& d : sink_.diagnostics()) {
      if (d.severity == Severity::kError && d.field == at.path) return;
    }
    sink_.Error(code::kValue, at.mark(), at.path, std::move(message));
  }
  void Warning(const N& at, std::string message) {
    sink_.Warning(code::kValue, at.mark(), at.path, std::move(message));
  }

  // agent.ValidateDuration: at least 1ms, whole milliseconds. Values that do not parse are the
  // decoders' (or the schema's) errors.
  void Duration(const N& d) {
    if (!d.ok() || !d.n.IsScalar()) return;
    auto ns = ParseDuration(d.n.scalar(), nullptr);
    if (!ns) return;
    if (*ns < 1'000'000) {
      Error(d, "duration must be greater than 1ms");
    } else if (*ns % 1'000'000 != 0) {
      Error(d, "only durations to ms precision are supported");
    }
  }

  // agent.ValidatePort.
  bool Port(const N& at, int64_t port, std::string prefix = "") {
    if (port >= 1 && port <= 65535) return true;
    Error(at, prefix + "port number " + std::to_string(port) + " must be in the range 1..65535");
    return false;
  }

  void VirtualService(const N& spec);
  void DestinationRule(const N& spec);
  void ServiceEntry(const N& spec, const std::string& use_waypoint);

 private:
  void HttpRoute(const N& h, bool delegate);
  void HttpMatch(const N& m);
  void StringMatch(const N& sm, std::string_view where, bool prefix_may_be_empty);
  void HeaderOperations(const N& headers, bool route_level);
  void Cors(const N& c);
  void Fault(const N& f);
  void Destination(const N& d);
  void Redirect(const N& r, const N& matches);
  void DirectResponse(const N& d);
  void Retries(const N& r);
  void Rewrite(const N& rw, const N& headers);
  void RouteDestinations(const N& routes, bool http);
  void TlsRoute(const N& t, const N& hosts);
  void TcpRoute(const N& t);
  void L4Match(const N& m);
  void Labels(const N& labels);
  void GatewayNames(const N& gateways);
  void ExportTo(const N& export_to, bool service_entry = false, bool dr_selector = false);
  void TrafficPolicy(const N& tp, bool port_level);
  void LoadBalancer(const N& lb, const N& outlier);
  void ConnectionPool(const N& cp);
  void OutlierDetection(const N& od);
  void ClientTls(const N& tls);

  DiagnosticSink& sink_;
  std::string ns_;
};

// Helpers of more than one kind (istio_checks_common.cc, where each names the upstream
// function it reproduces).
bool IsIstioDnsLabel(std::string_view s);
std::string DnsLabelsError(std::string_view domain, std::string_view labels);
std::string WildcardDomainError(std::string_view domain);
std::string FqdnError(std::string_view fqdn);
bool HostsOverlap(std::string_view a, std::string_view b);
bool HostSubsetOf(std::string_view sub, std::string_view of);
bool IsHeaderToken(std::string_view s);
bool IsPseudoHeader(std::string_view s);
bool IEquals(std::string_view a, std::string_view b);
bool IsLabelValue(std::string_view v);
bool IsQualifiedName(std::string_view k);
std::string FormatDouble(double v);

}  // namespace weft::policy::istio_checks
