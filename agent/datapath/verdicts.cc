#include "agent/datapath/verdicts.h"

#include <array>

#include "bpf/abi/inbound_steer.h"
#include "bpf/abi/sock_connect.h"
#include "bpf/abi/sock_ops.h"

namespace weft::agent::datapath {
namespace {

constexpr std::array<std::string_view, WEFT_SOCK_VERDICT_COUNT> kConnect = {
    "REDIRECTED", "NOT_ENROLLED",      "NOT_TCP",        "NOT_MESH_DEST",
    "LOOP_GUARD", "ORIG_DST_MAP_FULL", "ORIG_DST_ERROR", "REDIRECTED_WORKLOAD",
};
static_assert(WEFT_SOCK_REDIRECTED_WORKLOAD == 7 && WEFT_SOCK_VERDICT_COUNT == 8,
              "weft_sock_verdict changed: update kConnect and docs/bpf.md");

constexpr std::array<std::string_view, WEFT_OPS_VERDICT_COUNT> kSockops = {
    "NOT_ENROLLED", "CONN_DST_RECORDED", "CONN_DST_MAP_FULL", "CONN_DST_ERROR", "CONN_DST_EXPIRED",
    "ACCEL_ADDED",  "ACCEL_ERROR",       "ACCEL_OFF",         "NOT_LOOPBACK",
};
static_assert(WEFT_OPS_NOT_LOOPBACK == 8 && WEFT_OPS_VERDICT_COUNT == 9,
              "weft_ops_verdict changed: update kSockops and docs/bpf.md");

constexpr std::array<std::string_view, WEFT_MSG_VERDICT_COUNT> kSkMsg = {"REDIRECTED", "NO_PEER",
                                                                         "PEER_FULL", "ON_TCP"};
static_assert(WEFT_MSG_VERDICT_COUNT == 4, "weft_msg_verdict changed: update kSkMsg");

constexpr std::array<std::string_view, WEFT_LOOKUP_VERDICT_COUNT> kSkLookup = {
    "STEERED", "NOT_TCP", "LOOPBACK", "EXEMPT_PORT", "NO_LISTENER", "ASSIGN_ERROR",
};
static_assert(WEFT_LOOKUP_ASSIGN_ERROR == 5 && WEFT_LOOKUP_VERDICT_COUNT == 6,
              "weft_lookup_verdict changed: update kSkLookup and docs/bpf.md");

const std::array<CounterFamily, 4> kFamilies = {{
    {"connect", WEFT_MAP_NAME(WEFT_MAP_SOCK_COUNTERS), kConnect},
    {"sockops", WEFT_MAP_NAME(WEFT_MAP_OPS_COUNTERS), kSockops},
    {"sk_msg", WEFT_MAP_NAME(WEFT_MAP_MSG_COUNTERS), kSkMsg},
    {"sk_lookup", WEFT_MAP_NAME(WEFT_MAP_LOOKUP_COUNTERS), kSkLookup},
}};

}  // namespace

std::span<const CounterFamily> CounterFamilies() {
  return kFamilies;
}

}  // namespace weft::agent::datapath
