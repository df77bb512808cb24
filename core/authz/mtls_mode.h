#pragma once

// PeerAuthentication at the destination's node proxy: which mutual-TLS mode applies to a
// connection for (workload, destination port), and whether a connection that arrived in
// plaintext may proceed.
//
// The compiler already resolved precedence (workload selector > namespace > root namespace,
// UNSET inherits) into Workload.mtls; this applies the last two steps: a port-level mode
// overrides the workload's mode for that port, and UNSPECIFIED means PERMISSIVE (Istio's
// default when no policy applies).
//
// DISABLE in ambient: HBONE is mutual TLS by construction, and Istio ambient treats DISABLE
// exactly like PERMISSIVE (istiod's ambient conversion counts DISABLE as "not strict" and never
// tells ztunnel to refuse or downgrade HBONE). weft does the same: DISABLE admits plaintext on
// :15006 and still accepts HBONE on :15008; it never makes the node proxy refuse mTLS, and the
// source side still sends HBONE to a DISABLE destination.

#include <cstdint>
#include <string_view>

#include "weft/config/v1/snapshot.pb.h"

namespace weft::authz {

namespace pb = ::weft::config::v1;

// How a connection reached the destination's node proxy.
enum class Transport : uint8_t {
  kHbone,      // :15008, mutual TLS 1.3; the peer's SPIFFE ID is verified
  kPlaintext,  // :15006 (captured by sk_lookup): no peer identity
};

// The mode for `port` (the destination port the client asked for, i.e. the workload's
// container port): port_modes[port] if set and not UNSPECIFIED, else mode; UNSPECIFIED
// becomes PERMISSIVE; a value this build does not know becomes STRICT (fail closed). Never
// returns MTLS_MODE_UNSPECIFIED.
pb::MtlsMode EffectiveMtlsMode(const pb::MtlsPolicy& policy, uint32_t port);
inline pb::MtlsMode EffectiveMtlsMode(const pb::Workload& workload, uint32_t port) {
  return EffectiveMtlsMode(workload.mtls(), port);
}

// True when a plaintext connection is admitted under `mode`: STRICT refuses it; PERMISSIVE,
// DISABLE (and UNSPECIFIED, i.e. PERMISSIVE) admit it.
constexpr bool AdmitPlaintext(pb::MtlsMode mode) {
  return mode != pb::MTLS_MODE_STRICT;
}

// Whether a connection arriving over `transport` is admitted under `mode`. HBONE is always
// admitted (mTLS satisfies every mode; DISABLE is ignored for HBONE, as in Istio ambient).
constexpr bool Admit(pb::MtlsMode mode, Transport transport) {
  return transport == Transport::kHbone || AdmitPlaintext(mode);
}

// "STRICT", "PERMISSIVE", "DISABLE" (UNSPECIFIED prints as "PERMISSIVE").
std::string_view MtlsModeName(pb::MtlsMode mode);

}  // namespace weft::authz
