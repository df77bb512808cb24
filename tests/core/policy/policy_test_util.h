#pragma once

// Helpers shared by the policy compiler tests: decode YAML text, compile it, and find items
// and diagnostics in the snapshot. Header-only; every test binary includes it.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy/compiler.h"
#include "core/policy/decode/decode.h"
#include "core/policy/diagnostics.h"

namespace weft::policy::testing {

namespace pb = ::weft::config::v1;

// All diagnostics, one formatted line each, for failure messages.
inline std::string Dump(const std::vector<Diagnostic>& diags) {
  std::string out;
  for (const auto& d : diags) out += "  [" + d.code + "] " + FormatDiagnostic(d) + "\n";
  return out;
}

inline std::string Dump(const pb::MeshSnapshot& s) {
  std::string out;
  for (const auto& d : s.diagnostics()) {
    out += "  [" + d.code() + "] " + d.source().file() + ":" + std::to_string(d.source().line()) +
           ":" + std::to_string(d.source().column()) + " " +
           pb::Diagnostic::Severity_Name(d.severity()) + " " + d.source().kind() + "/" +
           d.source().name() + " " + d.source().field() + ": " + d.message() + "\n";
  }
  return out;
}

inline std::vector<DecodedDocument> DecodeAll(std::string_view text,
                                              const std::string& file = "test.yaml") {
  return DecodeText(text, file);
}

// Decodes text holding exactly one document.
inline DecodedDocument DecodeSingle(std::string_view text, const std::string& file = "test.yaml") {
  auto docs = DecodeText(text, file);
  EXPECT_EQ(docs.size(), 1u);
  if (docs.empty()) return {};
  return std::move(docs[0]);
}

// Decodes one document that must decode without errors, and returns its spec.
template <class T>
T DecodeSpec(std::string_view text) {
  DecodedDocument d = DecodeSingle(text);
  EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
  EXPECT_TRUE(d.resource.has_value()) << Dump(d.diagnostics);
  if (!d.resource) return T{};
  return std::get<T>(d.resource->spec);
}

inline std::vector<Diagnostic> OfCode(const std::vector<Diagnostic>& diags, std::string_view code) {
  std::vector<Diagnostic> out;
  for (const auto& d : diags) {
    if (d.code == code) out.push_back(d);
  }
  return out;
}

inline size_t ErrorCount(const std::vector<Diagnostic>& diags) {
  size_t n = 0;
  for (const auto& d : diags) n += d.severity == Severity::kError;
  return n;
}

// Decodes and compiles several texts, each as its own file ("<name>" or "in<i>.yaml").
struct Input {
  std::string file;
  std::string text;
};

inline CompileResult CompileInputs(const std::vector<Input>& inputs, CompileOptions options = {}) {
  std::vector<DecodedDocument> docs;
  for (const auto& in : inputs) {
    for (auto& d : DecodeText(in.text, in.file)) docs.push_back(std::move(d));
  }
  return CompileDocuments(std::move(docs), std::move(options));
}

inline CompileResult CompileYaml(const std::vector<std::string>& texts) {
  std::vector<Input> inputs;
  for (size_t i = 0; i < texts.size(); ++i) {
    inputs.push_back({"in" + std::to_string(i) + ".yaml", texts[i]});
  }
  return CompileInputs(inputs);
}

// Decodes text into resources that must decode cleanly (for Compiler::Apply).
inline std::vector<Resource> Resources(std::string_view text) {
  std::vector<Resource> out;
  for (auto& d : DecodeText(text, "apply.yaml")) {
    EXPECT_FALSE(d.rejected) << Dump(d.diagnostics);
    if (d.resource) out.push_back(std::move(*d.resource));
  }
  return out;
}

inline const pb::Service* FindService(const pb::MeshSnapshot& s, std::string_view hostname) {
  for (const auto& svc : s.services()) {
    if (svc.hostname() == hostname) return &svc;
  }
  return nullptr;
}

inline const pb::RouteTable* FindRouteTable(const pb::MeshSnapshot& s, std::string_view hostname,
                                            uint32_t port = 0) {
  for (const auto& t : s.route_tables()) {
    if (t.hostname() == hostname && t.port() == port) return &t;
  }
  return nullptr;
}

inline const pb::ClusterPolicy* FindCluster(const pb::MeshSnapshot& s, std::string_view name) {
  for (const auto& c : s.cluster_policies()) {
    if (c.name() == name) return &c;
  }
  return nullptr;
}

inline const pb::Workload* FindWorkload(const pb::MeshSnapshot& s, std::string_view uid) {
  for (const auto& w : s.workloads()) {
    if (w.uid() == uid) return &w;
  }
  return nullptr;
}

inline const pb::AuthorizationPolicy* FindAuthz(const pb::MeshSnapshot& s, std::string_view ns,
                                                std::string_view name) {
  for (const auto& p : s.authorization_policies()) {
    if (p.namespace_() == ns && p.name() == name) return &p;
  }
  return nullptr;
}

inline const pb::Namespace* FindNamespace(const pb::MeshSnapshot& s, std::string_view name) {
  for (const auto& n : s.namespaces()) {
    if (n.name() == name) return &n;
  }
  return nullptr;
}

inline std::vector<pb::Diagnostic> DiagsOf(const pb::MeshSnapshot& s, std::string_view code) {
  std::vector<pb::Diagnostic> out;
  for (const auto& d : s.diagnostics()) {
    if (d.code() == code) out.push_back(d);
  }
  return out;
}

inline size_t ErrorCount(const pb::MeshSnapshot& s) {
  size_t n = 0;
  for (const auto& d : s.diagnostics()) n += d.severity() == pb::Diagnostic::ERROR;
  return n;
}

// "Kind/namespace/name" of each excluded resource, in snapshot order.
inline std::vector<std::string> ExcludedNames(const pb::MeshSnapshot& s) {
  std::vector<std::string> out;
  for (const auto& e : s.excluded()) {
    out.push_back(e.source().kind() + "/" + e.source().namespace_() + "/" + e.source().name());
  }
  return out;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string TestdataPath(const std::string& rel) {
  return std::string(WEFT_SOURCE_DIR) + "/tests/testdata/" + rel;
}

}  // namespace weft::policy::testing
