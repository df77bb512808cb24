#pragma once

// Decoding: YAML or JSON text -> typed Resources plus diagnostics. A document with an error is
// rejected alone; every other document of the text still decodes.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy/decode/reader.h"
#include "core/policy/diagnostics.h"
#include "core/policy/model/resources.h"

namespace weft::policy {

struct DecodeOptions {
  // Namespace for namespaced resources that name none, as `kubectl apply` would use.
  std::string default_namespace = "default";
  // Documents are decoded on this many threads (1 = the calling thread only).
  int threads = 1;
};

struct DecodedDocument {
  ResourceRef ref;                   // what is known about the document, even if broken.
  std::optional<Resource> resource;  // absent on errors or for kinds weft does not use.
  std::vector<Diagnostic> diagnostics;
  bool rejected = false;  // had at least one error.
};

std::vector<DecodedDocument> DecodeText(std::string_view text, const std::string& file,
                                        const DecodeOptions& options = {});

// Per-kind spec decoders. Each reads the whole object (`root` is the top-level mapping, so a
// decoder may read `spec` and `status`); metadata, apiVersion and kind are already consumed.
void DecodeNamespace(ObjectReader& root, NamespaceSpec& out);
void DecodeService(ObjectReader& root, ServiceSpec& out);
void DecodeEndpointSlice(ObjectReader& root, const Meta& meta, EndpointSliceSpec& out);
void DecodePod(ObjectReader& root, PodSpec& out);
void DecodeServiceAccount(ObjectReader& root, ServiceAccountSpec& out);
void DecodeNode(ObjectReader& root, NodeSpec& out);
void DecodeVirtualService(ObjectReader& root, VirtualServiceSpec& out);
void DecodeDestinationRule(ObjectReader& root, DestinationRuleSpec& out);
void DecodeServiceEntry(ObjectReader& root, ServiceEntrySpec& out);
void DecodePeerAuthentication(ObjectReader& root, PeerAuthenticationSpec& out);
void DecodeAuthorizationPolicy(ObjectReader& root, const Meta& meta, AuthorizationPolicySpec& out);
void DecodeHTTPRoute(ObjectReader& root, HTTPRouteSpec& out);
void DecodeGateway(ObjectReader& root, const Meta& meta, GatewaySpec& out);

// The Gateway classes weft serves as waypoints: weft-waypoint, and Istio's istio-waypoint.
bool IsWaypointClass(std::string_view gateway_class);

// Shared helpers for the decoders.
FieldPos PosOf(ObjectReader& r, std::string_view key);
// Kubernetes label selector: matchLabels only (matchExpressions is an "unsupported" error
// since ignoring it would select more than meant).
std::optional<Labels> DecodeLabelSelector(ObjectReader& parent, std::string_view key);
// Istio's WorkloadSelector: {matchLabels: {...}}.
std::optional<Labels> DecodeWorkloadSelector(ObjectReader& parent, std::string_view key);

}  // namespace weft::policy
