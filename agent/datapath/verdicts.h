#pragma once

// Names of the BPF programs' verdicts (bpf/abi/*.h enums), as metric labels and in
// `weftctl node bpf`. The static_asserts in verdicts.cc stop the build when an enum grows
// without a name here.

#include <cstdint>
#include <span>
#include <string_view>

namespace weft::agent::datapath {

struct CounterFamily {
  std::string_view program;  // metric label value: "connect", "sockops", "sk_msg", "sk_lookup"
  std::string_view map;      // the per-CPU counter map's name
  std::span<const std::string_view> verdicts;  // index = enum value
};

// In a fixed order: connect, sockops, sk_msg, sk_lookup.
std::span<const CounterFamily> CounterFamilies();

}  // namespace weft::agent::datapath
