// libFuzzer target for the policy compiler's front end: core/policy/decode (every kind's
// decoder, the YAML typing of scalars, Istio's checks in istio_checks.cc, the Gateway API
// schema and CEL rules) and the compile passes on each document alone, as `weftctl validate`
// runs them.
//
// Build and run as http1_request_fuzzer.cc says, with this target's name, or
// `tests/fuzz/run policy_decode_fuzzer`, which seeds it from tests/fuzz/seeds/TARGET (the
// compat seed corpus's shapes) and gives it tests/fuzz/dicts/TARGET.dict.
//
// The input is a YAML stream (several documents). Beyond memory safety and hangs it checks, on
// every input:
//   - decoding is deterministic: twice, the same documents with the same diagnostics;
//   - a document is rejected exactly when it has an error, and then has no resource;
//   - a document decoded without error compiles alone, and the whole stream compiles.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/policy/compiler.h"

namespace {

using weft::policy::CompileDocuments;
using weft::policy::CompileOptions;
using weft::policy::DecodedDocument;
using weft::policy::DecodeText;
using weft::policy::Severity;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // the decoders are linear; big inputs only slow the search
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<DecodedDocument> a = DecodeText(text, "fuzz.yaml");
  std::vector<DecodedDocument> b = DecodeText(text, "fuzz.yaml");
  Check(a.size() == b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    Check(a[i].diagnostics.size() == b[i].diagnostics.size());
    for (size_t j = 0; j < a[i].diagnostics.size(); ++j) {
      Check(a[i].diagnostics[j].message == b[i].diagnostics[j].message);
      Check(a[i].diagnostics[j].field == b[i].diagnostics[j].field);
    }
    bool has_error = false;
    for (const auto& d : a[i].diagnostics) has_error |= d.severity == Severity::kError;
    Check(a[i].rejected == has_error);
    if (a[i].rejected) Check(!a[i].resource.has_value());
  }
  CompileOptions alone;
  alone.standalone = true;
  for (auto& d : b) {
    std::vector<DecodedDocument> one;
    one.push_back(std::move(d));
    (void)CompileDocuments(std::move(one), alone);
  }
  (void)CompileDocuments(std::move(a));
  return 0;
}
