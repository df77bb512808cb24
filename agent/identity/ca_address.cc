#include "agent/identity/ca_address.h"

#include <netdb.h>

#include <random>

#include "agent/identity/ca_client.h"
#include "core/kube/config.h"

namespace weft::agent {

using json = nlohmann::json;
using h2::tcp;

absl::StatusOr<CaAddressParts> ParseCaAddress(const std::string& address) {
  CaAddressParts p;
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return absl::InvalidArgumentError("CA address " + address + " is not host:port");
  }
  std::string port = address.substr(colon + 1);
  if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) == 0 || std::stoi(port) > 65535) {
    return absl::InvalidArgumentError("CA address " + address + ": bad port " + port);
  }
  p.port = static_cast<uint16_t>(std::stoi(port));
  p.host = address.substr(0, colon);
  if (p.host.front() == '[' || p.host.back() == ']') {
    // "[v6]:port": the brackets hold an IPv6 address and nothing else.
    std::string inner = p.host.size() > 2 && p.host.front() == '[' && p.host.back() == ']'
                            ? p.host.substr(1, p.host.size() - 2)
                            : "";
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(inner, ec);
    if (inner.empty() || ec) {
      return absl::InvalidArgumentError("CA address " + address + ": bad [IPv6] host");
    }
    p.host = inner;
    return p;
  }
  // Otherwise a DNS name or an IPv4 address: letters, digits, '-' and '.'.
  if (p.host.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") !=
      std::string::npos) {
    return absl::InvalidArgumentError("CA address " + address + ": bad host " + p.host);
  }
  // "<service>.<namespace>.svc" or "<service>.<namespace>.svc.<cluster domain>".
  size_t a = p.host.find('.');
  size_t b = a == std::string::npos ? a : p.host.find('.', a + 1);
  if (b != std::string::npos && a > 0 && b > a + 1 && p.host.compare(b + 1, 3, "svc") == 0 &&
      (p.host.size() == b + 4 || p.host[b + 4] == '.')) {
    p.service = p.host.substr(0, a);
    p.ns = p.host.substr(a + 1, b - a - 1);
  }
  return p;
}

CaAddressResolver::CaAddressResolver(std::string address, std::string kubeconfig,
                                     std::chrono::seconds ttl)
    : address_(std::move(address)), kubeconfig_(std::move(kubeconfig)), ttl_(ttl) {}

absl::StatusOr<tcp::endpoint> CaAddressResolver::Resolve() {
  if (auto literal = ParseEndpoint(address_); literal.ok()) return literal;
  auto parts = ParseCaAddress(address_);
  if (!parts.ok()) return parts.status();
  std::lock_guard<std::mutex> l(mu_);
  if (cached_ && std::chrono::steady_clock::now() - cached_at_ < ttl_) return *cached_;

  // A Service name: the API first (a host-network agent usually cannot resolve cluster
  // names, and a DNS server that does not answer would cost its timeouts on every renewal),
  // DNS when no API is configured or the API has no answer.
  std::string api_error;
  std::optional<tcp::endpoint> found;
  if (!parts->service.empty()) {
    auto ep = FromEndpointSlices(*parts);
    if (ep.ok()) {
      found = *ep;
    } else {
      api_error = std::string(ep.status().message());
    }
  }
  std::string dns_error;
  if (!found) {
    auto ep = FromDns(*parts);
    if (ep.ok()) {
      found = *ep;
    } else {
      dns_error = std::string(ep.status().message());
    }
  }
  if (!found) {
    return absl::UnavailableError("CA address " + address_ + ": " +
                                  (api_error.empty() ? "" : "Kubernetes: " + api_error + "; ") +
                                  "DNS: " + dns_error);
  }
  cached_ = found;
  cached_at_ = std::chrono::steady_clock::now();
  return *found;
}

absl::StatusOr<tcp::endpoint> CaAddressResolver::FromDns(const CaAddressParts& parts) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(parts.host.c_str(), nullptr, &hints, &res); rc != 0) {
    return absl::UnavailableError(gai_strerror(rc));
  }
  std::optional<tcp::endpoint> found;
  for (addrinfo* ai = res; ai && !found; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      auto* sa = reinterpret_cast<sockaddr_in*>(ai->ai_addr);
      found = tcp::endpoint(boost::asio::ip::address_v4(ntohl(sa->sin_addr.s_addr)), parts.port);
    } else if (ai->ai_family == AF_INET6) {
      auto* sa = reinterpret_cast<sockaddr_in6*>(ai->ai_addr);
      boost::asio::ip::address_v6::bytes_type bytes;
      std::copy(std::begin(sa->sin6_addr.s6_addr), std::end(sa->sin6_addr.s6_addr), bytes.begin());
      found = tcp::endpoint(boost::asio::ip::address_v6(bytes), parts.port);
    }
  }
  freeaddrinfo(res);
  if (!found) return absl::UnavailableError("no address");
  return *found;
}

absl::StatusOr<tcp::endpoint> CaAddressResolver::FromEndpointSlices(const CaAddressParts& parts) {
  if (!client_) {
    auto cfg = kube::LoadConfig(kubeconfig_);
    if (!cfg.ok()) return cfg.status();
    auto c = kube::Client::Create(*cfg);
    if (!c.ok()) return c.status();
    client_ = *c;
  }
  auto timeout = std::chrono::seconds(5);
  // The Service port's name: EndpointSlice ports are named after it.
  std::string svc_path = "/api/v1/namespaces/" + parts.ns + "/services/" + parts.service;
  auto svc = client_->Request("GET", svc_path, {}, "application/json", timeout);
  if (!svc.ok()) return svc.status();
  if (!svc->ok()) return absl::UnavailableError("GET " + svc_path + ": " + svc->Message());
  json s = svc->Json();
  std::optional<std::string> port_name;
  for (const auto& p : s.value("/spec/ports"_json_pointer, json::array())) {
    if (p.value("port", 0) == parts.port) port_name = p.value("name", std::string());
  }
  if (!port_name) {
    return absl::NotFoundError("Service " + parts.ns + "/" + parts.service + " has no port " +
                               std::to_string(parts.port));
  }
  std::string path = "/apis/discovery.k8s.io/v1/namespaces/" + parts.ns +
                     "/endpointslices?labelSelector=" +
                     kube::QueryEscape("kubernetes.io/service-name=" + parts.service);
  auto list = client_->Request("GET", path, {}, "application/json", timeout);
  if (!list.ok()) return list.status();
  if (!list->ok()) return absl::UnavailableError("GET " + path + ": " + list->Message());
  std::vector<tcp::endpoint> ready;
  for (const auto& slice : list->Json().value("items", json::array())) {
    std::string type = slice.value("addressType", std::string());
    if (type != "IPv4" && type != "IPv6") continue;
    int port = 0;
    for (const auto& p : slice.value("ports", json::array())) {
      if (p.value("name", std::string()) == *port_name) port = p.value("port", 0);
    }
    if (port <= 0 || port > 65535) continue;
    for (const auto& e : slice.value("endpoints", json::array())) {
      // ready unset means ready (discovery.k8s.io/v1).
      if (!e.value("/conditions/ready"_json_pointer, true)) continue;
      for (const auto& a : e.value("addresses", json::array())) {
        boost::system::error_code ec;
        auto ip = boost::asio::ip::make_address(a.get<std::string>(), ec);
        if (!ec) ready.emplace_back(ip, static_cast<uint16_t>(port));
        break;  // one address per endpoint (the others are the same pod's)
      }
    }
  }
  if (ready.empty()) {
    return absl::UnavailableError("Service " + parts.ns + "/" + parts.service +
                                  " has no ready endpoint");
  }
  // Several CA replicas: spread the nodes over them.
  thread_local std::mt19937 rng(std::random_device{}());
  return ready[rng() % ready.size()];
}

}  // namespace weft::agent
