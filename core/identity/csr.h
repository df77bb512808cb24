#pragma once

// Certificate signing requests carrying a SPIFFE ID. The agent makes one per workload
// identity with the key it generated; the CA parses and checks it before anything else.

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/identity/key_pair.h"
#include "core/identity/ossl.h"
#include "core/identity/spiffe_id.h"

namespace weft::identity {

// PEM CSR: empty subject, one URI SAN (`id`), signed with `key` (ECDSA-SHA256).
absl::StatusOr<std::string> CreateCsr(const KeyPair& key, const SpiffeId& id);

struct ParsedCsr {
  SpiffeId id;
  ossl::EvpPkey public_key;  // P-256
};

// Parses a PEM CSR and checks it: the signature verifies with the CSR's own key (proof of
// possession), the key is P-256, the only SAN is exactly one URI SAN that is a SPIFFE ID.
absl::StatusOr<ParsedCsr> ParseCsr(std::string_view pem);

}  // namespace weft::identity
