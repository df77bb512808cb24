// DecodeText: identification of documents, namespaces, kinds weft does not use, and the
// promise that a broken document is rejected alone.

#include "core/policy/decode/decode.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::DecodeAll;
using testing::DecodeSingle;
using testing::Dump;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(Decode, NamespacedKindsGetTheDefaultNamespace) {
  auto d = DecodeSingle("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n");
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->meta.ns, "default");
  EXPECT_EQ(d.ref.ns, "default");
  DecodeOptions opt;
  opt.default_namespace = "team";
  auto docs = DecodeText("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\n", "f", opt);
  ASSERT_THAT(docs, SizeIs(1));
  EXPECT_EQ(docs[0].resource->meta.ns, "team");
  EXPECT_EQ(KeyOf(*docs[0].resource), "team/sa");
}

TEST(Decode, ClusterScopedKindsHaveNoNamespace) {
  auto d = DecodeSingle("apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n");
  ASSERT_TRUE(d.resource);
  EXPECT_EQ(d.resource->meta.ns, "");
  EXPECT_EQ(KeyOf(*d.resource), "shop");
  EXPECT_EQ(KindName(d.resource->kind), "Namespace");
}

TEST(Decode, RefNamesTheDocument) {
  auto docs = DecodeAll(
      "# leading comment\n"
      "apiVersion: v1\n"
      "kind: Service\n"
      "metadata: {name: a, namespace: \"n\"}\n"
      "spec: {ports: [{port: 80}]}\n"
      "---\n"
      "apiVersion: v1\n"
      "kind: Service\n"
      "metadata: {name: b, namespace: \"n\"}\n"
      "spec: {ports: [{port: 80}]}\n",
      "dir/file.yaml");
  ASSERT_THAT(docs, SizeIs(2));
  EXPECT_EQ(docs[0].ref.file, "dir/file.yaml");
  EXPECT_EQ(docs[0].ref.line, 2u);  // the mapping's first line, after the comment
  EXPECT_EQ(docs[0].ref.kind, "Service");
  EXPECT_EQ(docs[0].ref.api_version, "v1");
  EXPECT_EQ(docs[0].ref.name, "a");
  EXPECT_EQ(docs[1].ref.line, 7u);
  EXPECT_EQ(docs[1].resource->ref, docs[1].ref);
}

TEST(Decode, ABrokenDocumentIsRejectedAlone) {
  auto docs = DecodeAll(
      "apiVersion: v1\n"                                     // 1
      "kind: Service\n"                                      // 2
      "metadata: {name: good, namespace: \"n\"}\n"           // 3
      "spec: {ports: [{port: 80}]}\n"                        // 4
      "---\n"                                                // 5
      "apiVersion: networking.istio.io/v1\n"                 // 6
      "kind: DestinationRule\n"                              // 7
      "metadata:\n"                                          // 8
      "  name: broken\n"                                     // 9
      "  namespace: \"n\"\n"                                 // 10
      "spec:\n"                                              // 11
      "  host: good\n"                                       // 12
      "  trafficPolicy:\n"                                   // 13
      "    connectionPool:\n"                                // 14
      "      tcp: {maxConnections: 1 -maximo de conexao}\n"  // 15
      "---\n"                                                // 16
      "apiVersion: v1\n"                                     // 17
      "kind: Service\n"                                      // 18
      "metadata: {name: also-good, namespace: \"n\"}\n"      // 19
      "spec: {ports: [{port: 81}]}\n");                      // 20
  ASSERT_THAT(docs, SizeIs(3));
  EXPECT_TRUE(docs[0].resource);
  EXPECT_FALSE(docs[0].rejected);
  EXPECT_FALSE(docs[1].resource);
  EXPECT_TRUE(docs[1].rejected);
  EXPECT_EQ(docs[1].ref.name, "broken");
  ASSERT_THAT(docs[1].diagnostics, SizeIs(1));
  EXPECT_EQ(docs[1].diagnostics[0].line, 15u);
  EXPECT_TRUE(docs[2].resource);
}

TEST(Decode, SyntaxErrorGuessesWhichResourceItWas) {
  auto docs = DecodeAll(
      "apiVersion: v1\n"
      "kind: Service\n"
      "metadata:\n"
      "  name: web\n"
      "  namespace: shop\n"
      "spec:\n"
      "  ports: [{port: 80}\n"
      "---\n"
      "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n",
      "f.yaml");
  ASSERT_THAT(docs, SizeIs(2));
  EXPECT_TRUE(docs[0].rejected);
  EXPECT_EQ(docs[0].ref.kind, "Service");
  EXPECT_EQ(docs[0].ref.name, "web");
  EXPECT_EQ(docs[0].ref.ns, "shop");
  ASSERT_THAT(docs[0].diagnostics, SizeIs(1));
  EXPECT_EQ(docs[0].diagnostics[0].code, "yaml-syntax");
  EXPECT_EQ(docs[0].diagnostics[0].resource.name, "web");
  EXPECT_TRUE(docs[1].resource);
}

TEST(Decode, SyntaxErrorGuessesFlowStyleMetadata) {
  auto docs = DecodeAll(
      "kind: Service\n"
      "apiVersion: v1\n"
      "spec:\n"
      "  ports: [{name: http, port: 80}]\n"
      "metadata: {name: web, namespace: shop}\n"
      "oops: [\n");
  ASSERT_THAT(docs, SizeIs(1));
  EXPECT_TRUE(docs[0].rejected);
  EXPECT_EQ(docs[0].ref.kind, "Service");
  EXPECT_EQ(docs[0].ref.name, "web");  // not the port's name
  EXPECT_EQ(docs[0].ref.ns, "shop");
}

TEST(Decode, KindsWeftDoesNotUseAreNotes) {
  auto d = DecodeSingle("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {}\n");
  EXPECT_FALSE(d.rejected);
  EXPECT_FALSE(d.resource);
  ASSERT_THAT(d.diagnostics, SizeIs(1));
  EXPECT_EQ(d.diagnostics[0].severity, Severity::kNote);
  EXPECT_EQ(d.diagnostics[0].code, "unused-kind");
  EXPECT_EQ(d.diagnostics[0].field, "kind");
  EXPECT_EQ(d.diagnostics[0].line, 2u);
  EXPECT_EQ(d.diagnostics[0].column, 7u);
  EXPECT_EQ(d.diagnostics[0].message, "apps/v1 Deployment is not used by weft; ignored");
}

TEST(Decode, MeshKindsWeftDoesNotImplementAreWarnings) {
  for (std::string kind :
       {"networking.istio.io/v1 Gateway", "networking.istio.io/v1 Sidecar",
        "security.istio.io/v1 RequestAuthentication", "telemetry.istio.io/v1 Telemetry",
        "gateway.networking.k8s.io/v1 GRPCRoute", "gateway.networking.k8s.io/v1 GatewayClass"}) {
    std::string api = kind.substr(0, kind.find(' '));
    std::string k = kind.substr(kind.find(' ') + 1);
    auto d = DecodeSingle("apiVersion: " + api + "\nkind: " + k + "\nmetadata: {name: x}\n");
    EXPECT_FALSE(d.rejected) << kind;
    EXPECT_FALSE(d.resource) << kind;
    ASSERT_THAT(d.diagnostics, SizeIs(1)) << kind;
    EXPECT_EQ(d.diagnostics[0].severity, Severity::kWarning) << kind;
    EXPECT_EQ(d.diagnostics[0].code, "unsupported") << kind;
    EXPECT_EQ(d.diagnostics[0].message, kind + " is not supported by weft; ignored");
  }
}

TEST(Decode, MissingKindOrApiVersion) {
  auto d = DecodeSingle("apiVersion: v1\nmetadata: {name: x}\n");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(1));
  EXPECT_EQ(d.diagnostics[0].code, "missing-field");
  EXPECT_EQ(d.diagnostics[0].field, "kind");
  auto d2 = DecodeSingle("kind: Widget\nmetadata: {name: x}\n");
  EXPECT_TRUE(d2.rejected);
  ASSERT_THAT(d2.diagnostics, SizeIs(1));
  EXPECT_EQ(d2.diagnostics[0].field, "apiVersion");
}

TEST(Decode, MissingApiVersionOfACoreKindIsAMissingField) {
  // "Service" with no apiVersion looks like core/v1 with an empty version; say what is wrong.
  auto d = DecodeSingle("kind: Service\nmetadata: {name: x}\nspec: {ports: [{port: 80}]}\n");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(1)) << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[0].code, "missing-field");
  EXPECT_EQ(d.diagnostics[0].field, "apiVersion");
  EXPECT_EQ(d.diagnostics[0].line, 1u);
  EXPECT_EQ(d.diagnostics[0].message, "required field \"apiVersion\" is missing");
}

TEST(Decode, MetadataAndNameAreRequiredAndValidated) {
  auto d = DecodeSingle("apiVersion: v1\nkind: ServiceAccount\n");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(1));
  EXPECT_EQ(d.diagnostics[0].field, "metadata");
  auto noname = DecodeSingle("apiVersion: v1\nkind: ServiceAccount\nmetadata: {namespace: a}\n");
  EXPECT_TRUE(noname.rejected);
  ASSERT_THAT(noname.diagnostics, SizeIs(1));
  EXPECT_EQ(noname.diagnostics[0].field, "metadata.name");
  auto bad = DecodeSingle("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: Bad_Name}\n");
  EXPECT_TRUE(bad.rejected);
  ASSERT_THAT(bad.diagnostics, SizeIs(1));
  EXPECT_EQ(bad.diagnostics[0].code, "value");
  EXPECT_EQ(bad.diagnostics[0].field, "metadata.name");
}

TEST(Decode, UnknownTopLevelAndMetadataFields) {
  auto d = DecodeSingle(
      "apiVersion: v1\n"
      "kind: ServiceAccount\n"
      "metadata:\n"
      "  name: sa\n"
      "  lables: {a: b}\n"
      "extra: 1\n");
  EXPECT_TRUE(d.rejected);
  std::vector<std::string> fields;
  for (const auto& x : d.diagnostics) fields.push_back(x.code + " " + x.field);
  EXPECT_THAT(fields, ElementsAre("unknown-field metadata.lables", "unknown-field extra"));
}

TEST(Decode, ListsAndNonObjectsAreRejected) {
  auto list = DecodeSingle("apiVersion: v1\nkind: List\nitems: []\n");
  EXPECT_TRUE(list.rejected);
  ASSERT_THAT(list.diagnostics, SizeIs(1));
  EXPECT_EQ(list.diagnostics[0].code, "unsupported");
  auto scalar = DecodeSingle("just a string\n");
  EXPECT_TRUE(scalar.rejected);
  ASSERT_THAT(scalar.diagnostics, SizeIs(1));
  EXPECT_EQ(scalar.diagnostics[0].code, "type");
}

TEST(Decode, JsonDocument) {
  auto d = DecodeSingle(R"({
  "apiVersion": "v1",
  "kind": "Service",
  "metadata": {"name": "web", "namespace": "shop"},
  "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}
})",
                        "svc.json");
  ASSERT_FALSE(d.rejected) << Dump(d.diagnostics);
  ASSERT_TRUE(d.resource);
  const auto& s = d.resource->as<ServiceSpec>();
  EXPECT_EQ(s.ports[0].port, 80u);
  EXPECT_EQ(s.ports[0].target_port, 8080u);
  EXPECT_EQ(d.ref.file, "svc.json");
}

TEST(Decode, JsonTypeErrorsHaveLines) {
  auto d = DecodeSingle(R"({
  "apiVersion": "v1",
  "kind": "Service",
  "metadata": {"name": "web"},
  "spec": {"ports": [{"port": "80"}]}
})");
  EXPECT_TRUE(d.rejected);
  ASSERT_THAT(d.diagnostics, SizeIs(1)) << Dump(d.diagnostics);
  EXPECT_EQ(d.diagnostics[0].code, "type");
  EXPECT_EQ(d.diagnostics[0].line, 5u);
  EXPECT_EQ(d.diagnostics[0].column, 31u);
  EXPECT_EQ(d.diagnostics[0].field, "spec.ports[0].port");
}

TEST(Decode, ThreadsKeepInputOrderAndResults) {
  std::string text;
  for (int i = 0; i < 50; ++i) {
    text += "apiVersion: v1\nkind: Service\nmetadata: {name: s" + std::to_string(i) +
            ", namespace: \"n\"}\nspec: {ports: [{port: " + std::to_string(1000 + i) + "}]}\n---\n";
    if (i % 7 == 3) text += "apiVersion: v1\nkind: Service\nmetadata: {name: bad}\nspec: 5\n---\n";
  }
  DecodeOptions one, many;
  many.threads = 4;
  auto a = DecodeText(text, "f", one);
  auto b = DecodeText(text, "f", many);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ref, b[i].ref) << i;
    EXPECT_EQ(a[i].rejected, b[i].rejected) << i;
    EXPECT_EQ(a[i].diagnostics.size(), b[i].diagnostics.size()) << i;
  }
}

}  // namespace
}  // namespace weft::policy

namespace weft::policy {
namespace {

// A document of a mesh API group without kind: the missing field, not a crash pointing at the
// kind that is not there (found by policy_decode_fuzzer).
TEST(Decode, MeshGroupWithoutKindIsAMissingField) {
  auto d = testing::DecodeSingle(
      "apiVersion: gateway.networking.k8s.io/v1\nkifrom:nd: HTTPRoute\nmetadata: {name: a}\n");
  EXPECT_TRUE(d.rejected);
  ASSERT_EQ(d.diagnostics.size(), 1u);
  EXPECT_EQ(d.diagnostics[0].code, code::kMissingField);
  EXPECT_EQ(d.diagnostics[0].field, "kind");
}

}  // namespace
}  // namespace weft::policy
