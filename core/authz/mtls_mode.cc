#include "core/authz/mtls_mode.h"

namespace weft::authz {

pb::MtlsMode EffectiveMtlsMode(const pb::MtlsPolicy& policy, uint32_t port) {
  pb::MtlsMode mode = policy.mode();
  if (!policy.port_modes().empty()) {
    auto it = policy.port_modes().find(port);
    if (it != policy.port_modes().end() && it->second != pb::MTLS_MODE_UNSPECIFIED) {
      mode = it->second;
    }
  }
  switch (mode) {
    case pb::MTLS_MODE_STRICT:
    case pb::MTLS_MODE_DISABLE:
    case pb::MTLS_MODE_PERMISSIVE:
      return mode;
    case pb::MTLS_MODE_UNSPECIFIED:  // no policy: Istio's default
      return pb::MTLS_MODE_PERMISSIVE;
    default:  // a value this build does not know (newer snapshot): fail closed
      return pb::MTLS_MODE_STRICT;
  }
}

std::string_view MtlsModeName(pb::MtlsMode mode) {
  switch (mode) {
    case pb::MTLS_MODE_STRICT:
      return "STRICT";
    case pb::MTLS_MODE_DISABLE:
      return "DISABLE";
    default:
      return "PERMISSIVE";
  }
}

}  // namespace weft::authz
