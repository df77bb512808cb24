// ca_probe: a node's view of the CA for the cluster e2e test, run inside a node netns.
//   ca_probe ADDRESS NODE_CERT NODE_KEY BUNDLE bundle      -> prints the bundle, exit 0
//   ca_probe ADDRESS NODE_CERT NODE_KEY BUNDLE sign NS SA  -> prints the SPIFFE ID, exit 0;
//                                                             exit 3 when refused with 403
// Any other failure: the error on stderr, exit 1.

#include <iostream>

#include "agent/identity/ca_client.h"
#include "core/identity/csr.h"

int main(int argc, char** argv) {
  using namespace weft;
  if (argc < 6) {
    std::cerr << "usage: ca_probe ADDRESS CERT KEY BUNDLE bundle|sign NS SA\n";
    return 2;
  }
  auto creds = agent::LoadNodeCredentials(argv[2], argv[3], argv[4]);
  if (!creds.ok()) {
    std::cerr << creds.status() << "\n";
    return 1;
  }
  agent::CaClientOptions o{.address = argv[1], .timeout = std::chrono::seconds(5)};
  std::string what = argv[5];
  if (what == "bundle") {
    auto b = agent::FetchBundleBlocking(o, *creds);
    if (!b.ok()) {
      std::cerr << b.status() << "\n";
      return 1;
    }
    std::cout << *b;
    return 0;
  }
  if (what != "sign" || argc < 8) return 2;
  auto key = identity::KeyPair::GenerateP256();
  auto id = identity::SpiffeId::Workload(creds->bundle->trust_domain(), argv[6], argv[7]);
  if (!key.ok() || !id.ok()) return 1;
  auto csr = identity::CreateCsr(*key, *id);
  if (!csr.ok()) return 1;
  auto r = agent::SignBlocking(o, *creds, *csr, std::chrono::hours(1));
  if (!r.ok()) {
    std::cerr << r.status() << "\n";
    return r.status().code() == absl::StatusCode::kPermissionDenied ? 3 : 1;
  }
  auto cert = identity::Certificate::FromPem(r->cert_pem);
  if (!cert.ok() || !cert->GetSpiffeId().ok()) return 1;
  std::cout << cert->GetSpiffeId()->str() << "\n";
  return 0;
}
