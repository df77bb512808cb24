#include "core/policy/decode/decode.h"

#include <atomic>
#include <regex>
#include <thread>

#include "core/policy/decode/values.h"

namespace weft::policy {

namespace {

struct KindInfo {
  std::string_view group;  // "" for core/v1
  std::vector<std::string_view> versions;
  std::string_view kind;
  Kind id;
  bool namespaced;
};

const std::vector<KindInfo>& KnownKinds() {
  static const std::vector<KindInfo> kinds = {
      {"", {"v1"}, "Namespace", Kind::kNamespace, false},
      {"", {"v1"}, "Service", Kind::kService, true},
      {"discovery.k8s.io", {"v1"}, "EndpointSlice", Kind::kEndpointSlice, true},
      {"", {"v1"}, "Pod", Kind::kPod, true},
      {"", {"v1"}, "ServiceAccount", Kind::kServiceAccount, true},
      {"", {"v1"}, "Node", Kind::kNode, false},
      {"networking.istio.io",
       {"v1alpha3", "v1beta1", "v1"},
       "VirtualService",
       Kind::kVirtualService,
       true},
      {"networking.istio.io",
       {"v1alpha3", "v1beta1", "v1"},
       "DestinationRule",
       Kind::kDestinationRule,
       true},
      {"networking.istio.io",
       {"v1alpha3", "v1beta1", "v1"},
       "ServiceEntry",
       Kind::kServiceEntry,
       true},
      {"security.istio.io",
       {"v1beta1", "v1"},
       "PeerAuthentication",
       Kind::kPeerAuthentication,
       true},
      {"security.istio.io",
       {"v1beta1", "v1"},
       "AuthorizationPolicy",
       Kind::kAuthorizationPolicy,
       true},
      {"gateway.networking.k8s.io", {"v1"}, "HTTPRoute", Kind::kHTTPRoute, true},
      {"gateway.networking.k8s.io", {"v1", "v1beta1"}, "Gateway", Kind::kGateway, true},
  };
  return kinds;
}

// Istio and Gateway API kinds weft knows but does not implement yet: a warning, not a note.
bool IsUnsupportedMeshKind(std::string_view group, std::string_view kind) {
  if (group == "networking.istio.io" || group == "security.istio.io" ||
      group == "telemetry.istio.io" || group == "extensions.istio.io") {
    return true;
  }
  return group == "gateway.networking.k8s.io" && kind != "HTTPRoute" && kind != "Gateway";
}

// Best-effort name of a document that failed to parse, so the error and the "left out" list
// can still say which resource it was.
void GuessRef(std::string_view text, ResourceRef& ref) {
  static const std::regex kind_re(R"((?:^|\n)kind:[ \t]*["']?([A-Za-z0-9]+))");
  // Block ("\n  name: x") or flow ("{name: x, namespace: y}") metadata.
  static const std::regex name_re(R"((?:\n[ \t]+|[{,][ \t]*)name:[ \t]*["']?([A-Za-z0-9.\-]+))");
  static const std::regex ns_re(R"((?:\n[ \t]+|[{,][ \t]*)namespace:[ \t]*["']?([A-Za-z0-9.\-]+))");
  std::string s(text.substr(0, std::min<size_t>(text.size(), 4096)));
  std::smatch m;
  if (std::regex_search(s, m, kind_re)) ref.kind = m[1];
  // From metadata on, so that a name in the spec is not taken for the resource's.
  size_t md = s.find("metadata:");
  std::string meta = md == std::string::npos ? s : s.substr(md);
  if (std::regex_search(meta, m, name_re)) ref.name = m[1];
  if (std::regex_search(meta, m, ns_re)) ref.ns = m[1];
}

void DecodeMeta(ObjectReader& md, Meta& meta) {
  if (auto v = md.String("name")) meta.name = *v;
  if (auto v = md.String("namespace")) meta.ns = *v;
  if (auto v = md.StringMap("labels")) meta.labels = std::move(*v);
  if (auto v = md.StringMap("annotations")) meta.annotations = std::move(*v);
  if (auto v = md.String("creationTimestamp")) meta.creation_timestamp = *v;
  if (auto v = md.String("uid")) meta.uid = *v;
  for (auto k : {"resourceVersion", "generation", "managedFields", "ownerReferences", "finalizers",
                 "generateName", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"}) {
    md.Ignore(k);
  }
}

void DecodeObject(ObjectReader& top, const KindInfo& info, const std::string& version,
                  Resource& res);

DecodedDocument DecodeOne(const yaml::Section& section, const std::string& file,
                          const DecodeOptions& options) {
  yaml::ParsedDocument pd = yaml::ParseDocument(section.text, section.first_line);
  DecodedDocument out;
  out.ref.file = file;
  out.ref.line = pd.first_line;
  out.ref.column = 1;
  DiagnosticSink sink;
  if (pd.error) {
    GuessRef(pd.text, out.ref);
    sink.set_resource(out.ref);
    sink.Error(code::kYamlSyntax, pd.error->mark, "", pd.error->message);
    out.diagnostics = sink.Take();
    out.rejected = true;
    return out;
  }
  yaml::Node root = pd.doc->root();
  if (!root.IsMap()) {
    sink.set_resource(out.ref);
    sink.Error(code::kType, root.mark(), "",
               "expected a Kubernetes object (a mapping with apiVersion and kind), got " +
                   root.Describe());
    out.diagnostics = sink.Take();
    out.rejected = true;
    return out;
  }
  out.ref.line = root.mark().line;
  out.ref.column = root.mark().column;

  // Identify the resource first so that every diagnostic can name it.
  auto scalar = [&](std::string_view k) -> std::string {
    auto n = root.Find(k);
    return n && n->IsScalar() ? std::string(n->scalar()) : std::string();
  };
  std::string api_version = scalar("apiVersion");
  std::string kind = scalar("kind");
  out.ref.kind = kind;
  out.ref.api_version = api_version;
  if (auto md = root.Find("metadata"); md && md->IsMap()) {
    if (auto n = md->Find("name"); n && n->IsScalar()) out.ref.name = n->scalar();
    if (auto n = md->Find("namespace"); n && n->IsScalar()) out.ref.ns = n->scalar();
  }

  // Lists (kubectl get -o yaml) hold their objects in items.
  if (kind == "List" || (kind.size() > 4 && kind.ends_with("List") && root.Find("items"))) {
    sink.set_resource(out.ref);
    sink.Error(code::kUnsupported, root.mark(), "",
               "List objects are not supported; give each object as its own document");
    out.diagnostics = sink.Take();
    out.rejected = true;
    return out;
  }

  std::string group, version = api_version;
  if (auto slash = api_version.find('/'); slash != std::string::npos) {
    group = api_version.substr(0, slash);
    version = api_version.substr(slash + 1);
  }
  const KindInfo* info = nullptr;
  for (const auto& k : KnownKinds()) {
    if (k.kind == kind && k.group == group) info = &k;
  }
  // With no apiVersion, "kind: Service" looks like core/v1 with an empty version; say instead
  // that apiVersion is missing.
  if (api_version.empty()) info = nullptr;
  if (info && !info->namespaced) out.ref.ns.clear();
  if (info && info->namespaced && out.ref.ns.empty()) out.ref.ns = options.default_namespace;
  sink.set_resource(out.ref);

  if (!info) {
    // (A missing kind is checked first: "kind" is then not in the document to point at; found
    // by policy_decode_fuzzer.)
    if (kind.empty() || api_version.empty()) {
      sink.Error(code::kMissingField, root.mark(), kind.empty() ? "kind" : "apiVersion",
                 std::string("required field \"") + (kind.empty() ? "kind" : "apiVersion") +
                     "\" is missing");
    } else if (IsUnsupportedMeshKind(group, kind)) {
      sink.Warning(code::kUnsupported, root.Find("kind")->mark(), "kind",
                   api_version + " " + kind + " is not supported by weft; ignored");
    } else {
      sink.Note(code::kUnusedKind, root.Find("kind")->mark(), "kind",
                api_version + " " + kind + " is not used by weft; ignored");
    }
    out.rejected = sink.error_count() > 0;
    out.diagnostics = sink.Take();
    return out;
  }
  Resource res{info->id, {}, out.ref, NamespaceSpec{}};
  {
    // The reader reports unknown top-level fields when it goes out of scope.
    ObjectReader top(sink, root, "");
    DecodeObject(top, *info, version, res);
  }
  res.meta.ns = out.ref.ns;
  out.rejected = sink.error_count() > 0;
  out.diagnostics = sink.Take();
  if (!out.rejected) out.resource = std::move(res);
  return out;
}

void DecodeObject(ObjectReader& top, const KindInfo& info, const std::string& version,
                  Resource& res) {
  DiagnosticSink& sink = top.sink();
  top.String("apiVersion");
  top.String("kind");
  bool version_ok = false;
  for (auto v : info.versions) version_ok |= v == version;
  if (!version_ok) {
    std::string list;
    for (auto v : info.versions) list += (list.empty() ? "" : ", ") + std::string(v);
    sink.Error(code::kValue, top.MarkOf("apiVersion"), "apiVersion",
               "version \"" + version + "\" of " + std::string(info.kind) +
                   " is not supported (supported: " + list + ")");
  }
  if (top.Require("metadata")) {
    top.Object("metadata", [&](ObjectReader& md) {
      md.Require("name");
      DecodeMeta(md, res.meta);
    });
  }
  if (!res.meta.name.empty() && !IsDnsSubdomain(res.meta.name)) {
    sink.Error(
        code::kValue, top.MarkOf("metadata"), "metadata.name",
        "invalid name \"" + res.meta.name + "\": must be lowercase letters, digits, '-' and '.'");
  }
  switch (info.id) {
#define WEFT_DECODE(K, T, CALL) \
  case Kind::K: {               \
    T spec;                     \
    CALL;                       \
    res.spec = std::move(spec); \
    break;                      \
  }
    WEFT_DECODE(kNamespace, NamespaceSpec, DecodeNamespace(top, spec))
    WEFT_DECODE(kService, ServiceSpec, DecodeService(top, spec))
    WEFT_DECODE(kEndpointSlice, EndpointSliceSpec, DecodeEndpointSlice(top, res.meta, spec))
    WEFT_DECODE(kPod, PodSpec, DecodePod(top, spec))
    WEFT_DECODE(kServiceAccount, ServiceAccountSpec, DecodeServiceAccount(top, spec))
    WEFT_DECODE(kNode, NodeSpec, DecodeNode(top, spec))
    WEFT_DECODE(kVirtualService, VirtualServiceSpec, DecodeVirtualService(top, spec))
    WEFT_DECODE(kDestinationRule, DestinationRuleSpec, DecodeDestinationRule(top, spec))
    WEFT_DECODE(kServiceEntry, ServiceEntrySpec, DecodeServiceEntry(top, spec))
    WEFT_DECODE(kPeerAuthentication, PeerAuthenticationSpec, DecodePeerAuthentication(top, spec))
    WEFT_DECODE(kAuthorizationPolicy, AuthorizationPolicySpec,
                DecodeAuthorizationPolicy(top, res.meta, spec))
    WEFT_DECODE(kHTTPRoute, HTTPRouteSpec, DecodeHTTPRoute(top, spec))
    WEFT_DECODE(kGateway, GatewaySpec, DecodeGateway(top, res.meta, spec))
#undef WEFT_DECODE
  }
  top.Ignore("status");  // decoders that read status consumed it already
}

}  // namespace

std::string_view KindName(Kind k) {
  for (const auto& info : KnownKinds()) {
    if (info.id == k) return info.kind;
  }
  return "?";
}

std::string KeyOf(const Resource& r) {
  return r.meta.ns.empty() ? r.meta.name : r.meta.ns + "/" + r.meta.name;
}

FieldPos PosOf(ObjectReader& r, std::string_view key) {
  return {r.MarkOf(key), r.Child(key)};
}

std::optional<Labels> DecodeLabelSelector(ObjectReader& parent, std::string_view key) {
  std::optional<Labels> out;
  parent.Object(key, [&](ObjectReader& sel) {
    out = sel.StringMap("matchLabels").value_or(Labels{});
    if (sel.Has("matchExpressions")) {
      sel.Error(code::kUnsupported, "matchExpressions",
                "matchExpressions is not supported; use matchLabels");
    }
    sel.Ignore("matchExpressions");
  });
  return out;
}

std::optional<Labels> DecodeWorkloadSelector(ObjectReader& parent, std::string_view key) {
  std::optional<Labels> out;
  parent.Object(key, [&](ObjectReader& sel) {
    out = sel.StringMap("matchLabels").value_or(Labels{});
    // The CRDs' CEL rules (and Istio's validateWorkloadSelector): no wildcards, no empty key.
    for (const auto& [k, v] : *out) {
      if (k.empty()) {
        sel.Error(code::kValue, "matchLabels", "empty key is not supported in selector");
      }
      if (k.find('*') != std::string::npos) {
        sel.Error(code::kValue, "matchLabels",
                  "wildcard not allowed in label key match: \"" + k + "\"");
      }
      if (v.find('*') != std::string::npos) {
        sel.Error(code::kValue, "matchLabels." + k,
                  "wildcard not allowed in label value match: \"" + k + "=" + v + "\"");
      }
    }
  });
  return out;
}

std::vector<DecodedDocument> DecodeText(std::string_view text, const std::string& file,
                                        const DecodeOptions& options) {
  // Parse and decode each document together so its YAML tree is freed right away. Documents
  // are independent: threads take them in small batches (so a slow stretch of the input does
  // not leave the others idle), and each result goes to its document's slot, so the output
  // keeps input order.
  std::vector<yaml::Section> sections = yaml::SplitStream(text);
  std::vector<DecodedDocument> out(sections.size());
  constexpr size_t kBatch = 64;
  size_t batches = (sections.size() + kBatch - 1) / kBatch;
  int threads = std::max(1, std::min<int>(options.threads, static_cast<int>(batches)));
  std::atomic<size_t> next{0};
  auto work = [&] {
    for (;;) {
      size_t begin = next.fetch_add(kBatch);
      if (begin >= sections.size()) return;
      for (size_t i = begin, end = std::min(sections.size(), begin + kBatch); i < end; ++i) {
        out[i] = DecodeOne(sections[i], file, options);
      }
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(work);
  work();
  for (auto& th : pool) th.join();
  return out;
}

}  // namespace weft::policy
