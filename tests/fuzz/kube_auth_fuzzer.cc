// libFuzzer target for the CA's Kubernetes-facing parsers (agent/identity):
//   - TokenReviewer::RequesterOf (kube_authority.h): a TokenReview's status → the requester's
//     SPIFFE ID;
//   - ParseCaAddress (ca_address.h): --ca-address "host:port" / "<svc>.<ns>.svc[...]:port".
//
// Build and run as http1_request_fuzzer.cc says, with this target's name, or
// `tests/fuzz/run kube_auth_fuzzer`, which seeds it from tests/fuzz/seeds/TARGET and gives it
// tests/fuzz/dicts/TARGET.dict. Mutations: libFuzzer's, and
// json_mutator.h's (a value of the JSON input replaced by one of another type).
//
// Every input goes to both. RequesterOf: the input parsed as JSON is a TokenReview as the API
// answers it ({"apiVersion", "kind", "status"}), plus a member "pod" of the fuzzer's own: the
// pod RequesterOf reads when an agent's token names only its pod (absent: NotFound; not an
// object: Unavailable). No network: the reviewer has no API client and reads pods through
// that getter. ParseCaAddress: the input's bytes as they are.
//
// Beyond memory safety (and no exception escaping: the CA's token workers would end the
// process) it checks, on every input:
//   - an accepted requester's SPIFFE ID is valid (parses back to itself) and in the reviewer's
//     trust domain; the token was authenticated for our audience; a workload is the token's
//     own ServiceAccount, and only the node agents' account maps to a node: the one the
//     token's node-name names, else its pod's spec.nodeName;
//   - the pod is read only for an agent's token without a node name;
//   - a parsed CA address has a port in 1..65535, and a Service name only with its namespace,
//     both at the start of the host.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/identity/ca_address.h"
#include "agent/identity/kube_authority.h"
#include "tests/fuzz/json_mutator.h"

namespace {

using json = nlohmann::json;
using weft::agent::CaAddressParts;
using weft::agent::TokenReviewer;
using weft::identity::SpiffeId;

constexpr char kTrustDomain[] = "fuzz.example";

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

// user.extra[key] when it is a list of one string.
const json* Extra(const json& status, const char* key) {
  const json* v = &status;
  for (const char* k : {"user", "extra", key}) {
    if (!v->is_object()) return nullptr;
    auto it = v->find(k);
    if (it == v->end()) return nullptr;
    v = &*it;
  }
  if (!v->is_array() || v->size() != 1 || !(*v)[0].is_string()) return nullptr;
  return &(*v)[0];
}

void CheckRequester(const json& review) {
  if (!review.is_object()) return;
  auto st = review.find("status");
  if (st == review.end() || !st->is_object()) return;  // Authenticate refuses these itself
  const json& status = *st;

  weft::agent::TokenReviewOptions options;
  options.trust_domain = kTrustDomain;
  TokenReviewer reviewer(nullptr, options);
  int pod_reads = 0;
  json pod_read;
  auto get_pod = [&](const std::string&, const std::string&) -> absl::StatusOr<json> {
    ++pod_reads;
    auto p = review.find("pod");
    if (p == review.end()) return absl::NotFoundError("no pod");
    if (!p->is_object()) return absl::UnavailableError("the API is away");
    pod_read = *p;
    return *p;
  };
  absl::StatusOr<SpiffeId> id = reviewer.RequesterOf(status, get_pod);
  Check(pod_reads <= 1);
  if (!id.ok()) return;

  auto parsed = SpiffeId::Parse(id->str());
  Check(parsed.ok() && *parsed == *id);
  Check(id->trust_domain() == kTrustDomain);
  Check(status.find("authenticated") != status.end() && status["authenticated"] == true);
  bool audience = false;
  if (auto a = status.find("audiences"); a != status.end() && a->is_array()) {
    for (const json& v : *a) audience |= v == options.audience;
  }
  Check(audience);

  std::string username = status["user"]["username"].get<std::string>();
  std::string account = username.substr(sizeof("system:serviceaccount:") - 1);
  size_t colon = account.find(':');
  Check(colon != std::string::npos);
  std::string ns = account.substr(0, colon), sa = account.substr(colon + 1);
  bool agent = options.node_agents.count(ns + "/" + sa) > 0;
  if (!agent) {
    Check(pod_reads == 0);
    Check(id->kind() == SpiffeId::Kind::kWorkload && id->ns() == ns && id->service_account() == sa);
    return;
  }
  Check(id->kind() == SpiffeId::Kind::kNode);
  const json* node = Extra(status, "authentication.kubernetes.io/node-name");
  if (node && !node->get<std::string>().empty()) {
    Check(pod_reads == 0 && id->node() == node->get<std::string>());
  } else {
    Check(pod_reads == 1);
    Check(id->node() == pod_read["spec"]["nodeName"].get<std::string>());
  }
}

void CheckCaAddress(const std::string& address) {
  absl::StatusOr<CaAddressParts> p = weft::agent::ParseCaAddress(address);
  if (!p.ok()) return;
  Check(p->port >= 1);  // uint16_t: at most 65535
  Check(p->service.empty() == p->ns.empty());
  if (!p->service.empty()) Check(p->host.rfind(p->service + "." + p->ns + ".svc", 0) == 0);
  // The host is never empty and formats back ("[v6]:port" or "host:port") to the same parts.
  Check(!p->host.empty());
  std::string again = (p->host.find(':') != std::string::npos ? "[" + p->host + "]" : p->host) +
                      ":" + std::to_string(p->port);
  absl::StatusOr<CaAddressParts> q = weft::agent::ParseCaAddress(again);
  Check(q.ok() && q->host == p->host && q->port == p->port && q->service == p->service &&
        q->ns == p->ns);
}

}  // namespace

// Swaps the types of the input's values (json_mutator.h), besides libFuzzer's byte mutations.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return weft::fuzz::MutateJson(data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  CheckRequester(json::parse(text, nullptr, false));
  CheckCaAddress(std::string(text));
  return 0;
}
