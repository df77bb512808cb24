// Runs the real weftctl binary: exit codes, diagnostics naming file/line/field, input forms
// (files, directories, stdin, JSON), and the three output formats.

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/yaml/document.h"
#include "tests/testing/command.h"
#include "tests/testing/temp_dir.h"
#include "weft/config/v1/snapshot.pb.h"

namespace {

namespace fs = std::filesystem;
namespace pb = ::weft::config::v1;

using Result = weft::testing::CommandResult;

// Runs weftctl with `args` (shell words, redirections included).
Result Weftctl(const std::string& args) {
  return weft::testing::RunCommand(std::string(WEFTCTL_PATH) + " " + args);
}

class WeftctlTest : public ::testing::Test {
 protected:
  weft::testing::TempDir tmp_{"weftctl-test"};
  fs::path dir_ = tmp_.path();

  std::string Write(const std::string& rel, const std::string& text) {
    return tmp_.Write(rel, text);
  }
  std::string Examples() const { return std::string(WEFT_SOURCE_DIR) + "/tests/testdata/istio"; }
};

constexpr char kServices[] = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: Service
metadata:
  name: cart
  namespace: shop
spec:
  clusterIP: 10.96.0.20
  selector:
    app: cart
  ports:
  - name: http
    port: 80
    targetPort: 8080
---
apiVersion: v1
kind: Pod
metadata:
  name: cart-1
  namespace: shop
  labels: {app: cart, version: v1}
spec:
  nodeName: node-a
status:
  podIP: 10.244.1.5
)";

constexpr char kBrokenRule[] = R"(apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: cart
  namespace: shop
spec:
  host: cart
  trafficPolicy:
    connectionPool:
      tcp:
        maxConnections: 1 -maximo de conexao
)";

TEST_F(WeftctlTest, AnalyzeCleanInputExitsZero) {
  Write("mesh.yaml", kServices);
  Result r = Weftctl("analyze -f " + dir_.string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("No validation issues found when analyzing 1 file."), std::string::npos)
      << r.out;
}

TEST_F(WeftctlTest, AnalyzeNamesFileLineAndFieldAndExitsOne) {
  Write("mesh.yaml", kServices);
  std::string bad = Write("rules/dr.yaml", kBrokenRule);
  Result r = Weftctl("analyze -f " + dir_.string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find(bad + ":11:25: error: DestinationRule/shop/cart: "
                             "spec.trafficPolicy.connectionPool.tcp.maxConnections: expected an "
                             "integer, got \"1 -maximo de conexao\""),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("1 error, 0 warnings in 2 files. Left out: 1 resource(s)."),
            std::string::npos)
      << r.out;
  // Not a terminal: no escape sequences.
  EXPECT_EQ(r.out.find('\033'), std::string::npos);
}

TEST_F(WeftctlTest, ColorAlwaysUsesAnsiEscapes) {
  std::string bad = Write("dr.yaml", kBrokenRule);
  Result r = Weftctl("analyze --color always -f " + bad);
  EXPECT_NE(r.out.find("\033[31m"), std::string::npos) << r.out;
}

TEST_F(WeftctlTest, DirectoriesAreRecursiveAndSkipHiddenAndOtherFiles) {
  Write("a/b/mesh.yml", kServices);
  Write(".hidden/dr.yaml", kBrokenRule);
  Write("a/README.md", "not: yaml: at: all: [");
  Result r = Weftctl("analyze -f " + dir_.string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("analyzing 1 file."), std::string::npos) << r.out;
}

TEST_F(WeftctlTest, ReadsStdinAndJson) {
  std::string json = Write("svc.json", R"({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "cart", "namespace": "shop"},
    "spec": {"ports": [{"port": "eighty"}]}})");
  Result r = Weftctl("analyze -f - <" + json);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("<stdin>:3:33: error: Service/shop/cart: spec.ports[0].port: expected an "
                       "integer, got \"eighty\""),
            std::string::npos)
      << r.out;
}

TEST_F(WeftctlTest, AnalyzeJsonListsDiagnosticsWithTheirFileAndLine) {
  std::string json = Write("svc.json", R"({"apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "cart", "namespace": "shop"},
    "spec": {"ports": [{"port": "eighty"}]}})");
  Result r = Weftctl("analyze -o json -f " + json);
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json report = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << r.out;
  EXPECT_EQ(report["errors"], 1);
  EXPECT_EQ(report["files"], 1);
  ASSERT_EQ(report["diagnostics"].size(), 1u) << r.out;
  const nlohmann::json& d = report["diagnostics"][0];
  EXPECT_EQ(d["severity"], "error");
  EXPECT_EQ(d["location"], json + ":3:33");
  EXPECT_EQ(d["file"], json);
  EXPECT_EQ(d["line"], 3);
  EXPECT_EQ(d["column"], 33);
  EXPECT_EQ(d["kind"], "Service");
  EXPECT_EQ(d["namespace"], "shop");
  EXPECT_EQ(d["name"], "cart");
  EXPECT_EQ(d["field"], "spec.ports[0].port");
  ASSERT_EQ(report["excluded"].size(), 1u);
  Result clean = Weftctl("analyze -o json -f " + Examples());
  EXPECT_EQ(clean.exit_code, 0) << clean.out;
  EXPECT_EQ(nlohmann::json::parse(clean.out)["errors"], 0);
}

TEST_F(WeftctlTest, MissingPathIsAnError) {
  Result r = Weftctl("analyze -f " + (dir_ / "nope").string());
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("nope: error: no such file or directory"), std::string::npos) << r.out;
}

TEST_F(WeftctlTest, ExamplesAnalyzeClean) {
  Result r = Weftctl("analyze -f " + Examples());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("No validation issues found"), std::string::npos) << r.out;
}

TEST_F(WeftctlTest, CompileJsonIsTheSnapshotInProtobufJson) {
  Result r = Weftctl("compile -o json -f " + Examples());
  ASSERT_EQ(r.exit_code, 0);
  pb::MeshSnapshot s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &s).ok()) << r.out;
  EXPECT_EQ(s.schema_version(), "weft.config.v1");
  ASSERT_EQ(s.services_size(), 3);
  EXPECT_EQ(s.services(0).hostname(), "catalog.istioinaction.svc.cluster.local");
  EXPECT_EQ(s.content_hash().size(), 64u);
  // lowerCamelCase names and enum names, as protobuf's JSON mapping prints them.
  EXPECT_NE(r.out.find("\"schemaVersion\""), std::string::npos);
  EXPECT_NE(r.out.find("\"SERVICE_KIND_KUBERNETES\""), std::string::npos);
}

// Converts a YAML tree to JSON so the two output formats can be compared.
nlohmann::json ToJson(weft::yaml::Node n) {
  if (n.IsMap()) {
    nlohmann::json j = nlohmann::json::object();
    for (size_t i = 0; i < n.size(); ++i) j[std::string(n.key(i).scalar())] = ToJson(n.value(i));
    return j;
  }
  if (n.IsSeq()) {
    nlohmann::json j = nlohmann::json::array();
    for (size_t i = 0; i < n.size(); ++i) j.push_back(ToJson(n.item(i)));
    return j;
  }
  if (n.IsNull()) return nullptr;
  std::string s(n.scalar());
  if (n.style() == weft::yaml::ScalarStyle::kPlain) {
    if (s == "true" || s == "false") return s == "true";
    auto parsed = nlohmann::json::parse(s, nullptr, false);
    if (!parsed.is_discarded() && parsed.is_number()) return parsed;
  }
  return s;
}

TEST_F(WeftctlTest, CompileYamlMatchesJson) {
  Result json = Weftctl("compile -o json -f " + Examples());
  Result yaml = Weftctl("compile -o yaml -f " + Examples());
  ASSERT_EQ(yaml.exit_code, 0);
  auto doc = weft::yaml::ParseDocument(yaml.out);
  ASSERT_TRUE(doc.doc.has_value()) << doc.error->message << "\n" << yaml.out;
  EXPECT_EQ(ToJson(doc.doc->root()), nlohmann::json::parse(json.out));
}

TEST_F(WeftctlTest, CompileTextSummarisesServicesRoutesAndPolicies) {
  Result r = Weftctl("compile -o text -f " + Examples());
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("catalog.istioinaction.svc.cluster.local  [Service istioinaction/catalog]"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("http[0] * -> catalog.istioinaction.svc.cluster.local/version-v1 90% "
                       "catalog.istioinaction.svc.cluster.local/version-v2 10%"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("outbound|0||simple-backend.istioinaction.svc.cluster.local: lb "
                       "LEAST_REQUEST\n"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("retries 3 x 2s"), std::string::npos) << r.out;
}

// Issue 10's settings: analyze warns about retries that cannot avoid a hashed endpoint (exit
// 0: a warning), and the text summary shows the retry budget, retry details, gRPC abort and
// the outlier defaults in force.
TEST_F(WeftctlTest, ResilienceSettingsAnalyzedAndSummarised) {
  Write("mesh.yaml", R"(apiVersion: v1
kind: Namespace
metadata:
  name: istio-system
  annotations: {weft.dev/retry-budget: "ratio=0.1,ttl=5s"}
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cart, namespace: shop}
spec:
  host: cart
  trafficPolicy:
    loadBalancer: {consistentHash: {httpHeaderName: x-user}}
    outlierDetection: {interval: 5s}
    retryBudget: {percent: 25}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart, namespace: shop}
spec:
  hosts: [cart]
  http:
  - route: [{destination: {host: cart}}]
    retries: {attempts: 3, retryOn: "5xx,503", backoff: 50ms}
    fault: {abort: {grpcStatus: UNAVAILABLE, percentage: {value: 5}}}
)");
  Result a = Weftctl("analyze -f " + dir_.string() + " 2>&1");
  EXPECT_EQ(a.exit_code, 0) << a.out;
  EXPECT_NE(a.out.find("warning: VirtualService/shop/cart: spec.http[0].retries: retries go to "
                       "the same endpoint under consistent hashing"),
            std::string::npos)
      << a.out;
  Result t = Weftctl("compile -o text -f " + dir_.string());
  ASSERT_EQ(t.exit_code, 0) << t.out;
  EXPECT_NE(t.out.find("Retry budget: ratio 0.1, 10/s minimum, over 5s [Namespace istio-system"),
            std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("retries 3 on 5xx,503 backoff 50ms; fault abort grpc-status 14 5%"),
            std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("outlier 5x5xx/5s eject 30s max 10%, retryBudget 25% min 3"),
            std::string::npos)
      << t.out;
}

TEST_F(WeftctlTest, CompileWithErrorsPrintsDiagnosticsAndExitsOne) {
  Write("mesh.yaml", kServices);
  Write("dr.yaml", kBrokenRule);
  Result r = Weftctl("compile -o text -f " + dir_.string() + " 2>&1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("error: DestinationRule/shop/cart"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("left out: DestinationRule shop/cart"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("10.244.1.5  shop/cart-1  node=node-a"), std::string::npos) << r.out;
}

// ---- waypoint generate | list ----

// The first ```yaml block of docs/waypoint.md: the waypoint `weftctl waypoint generate` prints.
std::string DocsWaypointExample() {
  std::ifstream in(std::string(WEFT_SOURCE_DIR) + "/docs/waypoint.md");
  std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t begin = doc.find("```yaml\n");
  if (begin == std::string::npos) return "";
  begin += 8;
  return doc.substr(begin, doc.find("```", begin) - begin);
}

TEST_F(WeftctlTest, WaypointGenerateIsTheDocsExample) {
  std::string example = DocsWaypointExample();
  ASSERT_NE(example.find("kind: Gateway"), std::string::npos) << example;
  Result r = Weftctl("waypoint generate -n demo --node node1");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, example);
  // Without --node, no annotation.
  std::string without = example;
  size_t a = without.find("  annotations:\n");
  without.erase(a, without.find("spec:") - a);
  Result plain = Weftctl("waypoint generate -n demo");
  EXPECT_EQ(plain.exit_code, 0);
  EXPECT_EQ(plain.out, without);
  EXPECT_EQ(plain.out.find("weft.dev/node"), std::string::npos);
  Result named = Weftctl("waypoint generate -n shop --name shop-wp");
  EXPECT_NE(named.out.find("  name: shop-wp\n  namespace: shop\n"), std::string::npos) << named.out;
}

TEST_F(WeftctlTest, WaypointGenerateRejectsBadNames) {
  Result bad = Weftctl("waypoint generate -n Demo 2>&1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("invalid namespace \"Demo\""), std::string::npos) << bad.out;
  Result no_ns = Weftctl("waypoint generate 2>&1");
  EXPECT_NE(no_ns.exit_code, 0);
  EXPECT_NE(no_ns.out.find("--namespace is required"), std::string::npos) << no_ns.out;
}

constexpr char kWaypointMesh[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: demo, labels: {weft.dev/dataplane-mode: ambient, weft.dev/use-waypoint: waypoint}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec: {clusterIP: 10.96.0.10, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo, labels: {weft.dev/use-waypoint: none}}
spec: {clusterIP: 10.96.0.11, ports: [{name: http, port: 80}]}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: demo}
spec: {clusterIP: 10.96.0.12, ports: [{name: tcp, port: 5432}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-1, namespace: demo, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node1, serviceAccountName: waypoint}
status: {phase: Running, podIP: 10.1.0.9}
)";

TEST_F(WeftctlTest, WaypointListCompilesAndTabulates) {
  Write("gw.yaml", Weftctl("waypoint generate -n demo --node node1").out);
  Write("mesh.yaml", kWaypointMesh);
  Result r = Weftctl("waypoint list -f " + dir_.string());
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(r.out,
            "NAMESPACE  NAME      CLASS          NODE   ADDRESSES  IDENTITY                      "
            "              BOUND\n"
            "demo       waypoint  weft-waypoint  node1  10.1.0.9   "
            "spiffe://cluster.local/ns/demo/sa/waypoint  db,web\n");

  Result j = Weftctl("waypoint list -o json -f " + dir_.string());
  EXPECT_EQ(j.exit_code, 0);
  nlohmann::json list = nlohmann::json::parse(j.out);
  ASSERT_EQ(list.size(), 1u) << j.out;
  EXPECT_EQ(list[0]["namespace"], "demo");
  EXPECT_EQ(list[0]["name"], "waypoint");
  EXPECT_EQ(list[0]["gatewayClass"], "weft-waypoint");
  EXPECT_EQ(list[0]["port"], 15008);
  EXPECT_EQ(list[0]["endpoints"][0]["address"], "10.1.0.9");
  EXPECT_EQ(list[0]["endpoints"][0]["ready"], true);
  EXPECT_EQ(list[0]["boundServices"], nlohmann::json::array({"db", "web"}));
}

TEST_F(WeftctlTest, WaypointListCountsManyBoundServicesAndFailsOnErrors) {
  Write("gw.yaml", Weftctl("waypoint generate -n demo").out);
  std::string mesh = kWaypointMesh;
  for (const char* name : {"s1", "s2", "s3"}) {
    mesh += std::string("---\napiVersion: v1\nkind: Service\nmetadata: {name: ") + name +
            ", namespace: demo}\nspec: {ports: [{port: 80}]}\n";
  }
  Write("mesh.yaml", mesh);
  Result r = Weftctl("waypoint list -f " + dir_.string());
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("  -     10.1.0.9"), std::string::npos) << r.out;  // no node
  EXPECT_NE(r.out.find("  5 services\n"), std::string::npos) << r.out;
  // A waypoint without its HBONE listener is an error: left out, exit 1.
  Write("bad.yaml", R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: broken, namespace: demo}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: http, port: 80, protocol: HTTP}]
)");
  Result bad = Weftctl("waypoint list -f " + dir_.string() + " 2>&1");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("error: Gateway/demo/broken: spec.listeners: a waypoint needs the "
                         "listener {name: mesh, port: 15008, protocol: HBONE}"),
            std::string::npos)
      << bad.out;
}

TEST_F(WeftctlTest, CompileRendersWaypoints) {
  Write("gw.yaml", Weftctl("waypoint generate -n demo --node node1").out);
  Write("mesh.yaml", kWaypointMesh);
  Result text = Weftctl("compile -o text -f " + dir_.string());
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("Waypoints (1)\n  demo/waypoint  weft-waypoint  node=node1  10.1.0.9  "
                          "spiffe://cluster.local/ns/demo/sa/waypoint  bound: db,web\n"),
            std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("  Waypoint:  demo/waypoint\n"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("demo/waypoint-1  10.1.0.9  node=node1  not captured"), std::string::npos)
      << text.out;
  Result json = Weftctl("compile -o json -f " + dir_.string());
  pb::MeshSnapshot s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &s).ok()) << json.out;
  ASSERT_EQ(s.waypoints_size(), 1);
  EXPECT_EQ(s.waypoints(0).identity(), "spiffe://cluster.local/ns/demo/sa/waypoint");
  EXPECT_NE(json.out.find("\"waypointNamespace\": \"demo\""), std::string::npos);
  Result yaml = Weftctl("compile -o yaml -f " + dir_.string());
  EXPECT_NE(yaml.out.find("waypoints:\n- name: waypoint\n"), std::string::npos) << yaml.out;
}

TEST_F(WeftctlTest, HelpOnEveryCommand) {
  Result top = Weftctl("--help");
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("analyze"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("compile"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("waypoint"), std::string::npos) << top.out;
  for (const char* cmd : {"analyze --help", "compile --help", "waypoint list --help"}) {
    Result r = Weftctl(cmd);
    EXPECT_EQ(r.exit_code, 0) << cmd;
    EXPECT_NE(r.out.find("-f,--filename"), std::string::npos) << cmd << "\n" << r.out;
  }
  Result bad = Weftctl("compile -o xml -f x 2>&1");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("xml"), std::string::npos) << bad.out;
}

}  // namespace
