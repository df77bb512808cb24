#pragma once

// Istio's own validation of the networking kinds (istio.io/istio pkg/config/validation:
// ValidateVirtualService, ValidateDestinationRule, ValidateServiceEntry and the functions they
// call, at the version docs/compatibility.md pins), applied to the raw spec after the decoders have
// read it. The decoders read what weft compiles; these checks hold every resource, including the
// parts weft ignores or warns about (TLS routes, corsPolicy, tunnel), to exactly the rules Istio
// applies, with Istio's messages. tests/compat's differential test compares the two.

#include <string>

#include "core/policy/diagnostics.h"
#include "core/yaml/document.h"

namespace weft::policy {

// `spec` is the resource's spec mapping at `path` ("spec"); `ns` its namespace.
void CheckVirtualServiceAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                                const std::string& ns);
void CheckDestinationRuleAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                                 const std::string& ns);

// `use_waypoint`: the resource's istio.io/use-waypoint label ("" when none).
void CheckServiceEntryAsIstio(DiagnosticSink& sink, yaml::Node spec, const std::string& path,
                              const std::string& ns, const std::string& use_waypoint);

}  // namespace weft::policy
