// `weftctl analyze --cluster` against a real API server (tools/kube/control-plane): kinds whose
// CRDs are not installed are skipped with a note; with deploy/crds, a clean cluster exits 0; a
// VirtualService the CRD accepts but weft rejects is reported as VirtualService/ns/name with
// its field (exit 1); -n restricts the report to a namespace; -o json parses; listing page by
// page (--chunk-size 1) reads the same; a user who may only list one namespace gets that
// namespace analysed with -n.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testing/command.h"
#include "tests/testing/kube_control_plane.h"
#include "tests/testing/temp_dir.h"

namespace {

using nlohmann::json;

using Result = weft::testing::CommandResult;

class WeftctlAnalyzeCluster : public ::testing::Test {
 protected:
  weft::testing::TempDir tmp_{"weftctl-analyze-cluster"};
  std::string dir_ = tmp_.str();

  // weftctl analyze --cluster `args` with the kubeconfig `kc`.
  Result Analyze(const std::string& kc, const std::string& args = "") {
    return weft::testing::RunCommand(std::string(WEFTCTL_PATH) +
                                     " analyze --cluster --kubeconfig " + kc + " " + args);
  }

  void Apply(weft::testing::KubeControlPlane& cp, const std::string& yaml) {
    std::string f = dir_ + "/apply.yaml";
    std::ofstream(f) << yaml;
    std::string out;
    ASSERT_EQ(cp.Kubectl("apply -f " + f, &out), 0) << out;
  }
};

constexpr char kGood[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: good, labels: {weft.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: good}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: good}
spec:
  host: web
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: good}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /v1}}]
    route: [{destination: {host: web, subset: v1}}]
)";

// Valid for the CRD's schema, not for weft (RE2 cannot compile the regex), as in
// tests/agent/source/kube_source_test.cc.
constexpr char kBad[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: bad}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: bad}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: bad}
spec:
  hosts: [api]
  http:
  - match: [{uri: {regex: "(("}}]
    route: [{destination: {host: api}}]
)";

constexpr char kBadLine[] =
    "VirtualService/bad/api: error: spec.http[0].match[0].uri.regex: invalid regular expression "
    "\"((\"";

TEST_F(WeftctlAnalyzeCluster, ReportsWhatWeftRejectsByObject) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  const std::string kc = cp.kubeconfig();

  // No CRDs: the Istio and Gateway API kinds are skipped with a note each; nothing is wrong.
  Result bare = Analyze(kc);
  EXPECT_EQ(bare.exit_code, 0) << bare.out << bare.err;
  for (const char* kind :
       {"VirtualService (networking.istio.io/v1)", "DestinationRule (networking.istio.io/v1)",
        "ServiceEntry (networking.istio.io/v1)", "PeerAuthentication (security.istio.io/v1)",
        "AuthorizationPolicy (security.istio.io/v1)", "Gateway (gateway.networking.k8s.io/v1)",
        "HTTPRoute (gateway.networking.k8s.io/v1)"}) {
    EXPECT_NE(bare.out.find(std::string(kind) + ": note: not served by the API server"),
              std::string::npos)
        << kind << "\n"
        << bare.out;
  }
  EXPECT_NE(bare.out.find("\u2714 No validation issues found when analyzing"), std::string::npos)
      << bare.out;
  Result quiet = Analyze(kc, "--output-threshold warning");
  EXPECT_EQ(quiet.exit_code, 0) << quiet.out << quiet.err;
  EXPECT_EQ(quiet.out.find("note:"), std::string::npos) << quiet.out;

  std::string out;
  ASSERT_EQ(
      cp.Kubectl("apply --server-side -k " + std::string(WEFT_SOURCE_DIR) + "/deploy/crds", &out),
      0)
      << out;
  ASSERT_EQ(cp.Kubectl("wait --for condition=established --timeout 30s crd --all", &out), 0) << out;

  // A clean cluster: exit 0, no note, every object counted.
  Apply(cp, kGood);
  Result clean = Analyze(kc);
  EXPECT_EQ(clean.exit_code, 0) << clean.out << clean.err;
  EXPECT_EQ(clean.out.find("note:"), std::string::npos) << clean.out;
  EXPECT_NE(clean.out.find("\u2714 No validation issues found when analyzing "), std::string::npos)
      << clean.out;
  EXPECT_NE(clean.out.find(" objects in the cluster."), std::string::npos) << clean.out;

  // What the API server accepted and weft rejects: named by object and field, exit 1.
  Apply(cp, kBad);
  Result bad = Analyze(kc);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_EQ(bad.out.rfind(kBadLine, 0), 0u) << "the first line\n" << bad.out;
  EXPECT_NE(bad.out.find("1 error, 0 warnings in "), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find(" objects in the cluster. Left out: 1 resource(s)."), std::string::npos)
      << bad.out;
  EXPECT_EQ(bad.out.find("k8s:"), std::string::npos) << bad.out;
  EXPECT_EQ(bad.out.find(":1:"), std::string::npos) << "no line numbers\n" << bad.out;

  // -n: that namespace's objects only (the Namespace itself, a Service, a DR, a VS).
  Result good_only = Analyze(kc, "-n good");
  EXPECT_EQ(good_only.exit_code, 0) << good_only.out << good_only.err;
  EXPECT_EQ(good_only.out,
            "\u2714 No validation issues found when analyzing 4 objects in namespace good.\n");
  Result bad_only = Analyze(kc, "--namespace bad");
  EXPECT_EQ(bad_only.exit_code, 1) << bad_only.out << bad_only.err;
  EXPECT_NE(bad_only.out.find(kBadLine), std::string::npos) << bad_only.out;
  EXPECT_NE(bad_only.out.find("1 error, 0 warnings in 3 objects in namespace bad. Left out: 1 "
                              "resource(s)."),
            std::string::npos)
      << bad_only.out;
  Result nothing = Analyze(kc, "-n nowhere");
  EXPECT_EQ(nothing.exit_code, 0) << nothing.out << nothing.err;
  EXPECT_EQ(nothing.out,
            "\u2714 No validation issues found when analyzing 0 objects in namespace nowhere.\n");

  // JSON.
  Result j = Analyze(kc, "-o json");
  EXPECT_EQ(j.exit_code, 1) << j.out << j.err;
  json report = json::parse(j.out, nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << j.out;
  EXPECT_EQ(report["errors"], 1);
  EXPECT_EQ(report["warnings"], 0);
  EXPECT_GE(report["objects"].get<int>(), 11);
  ASSERT_EQ(report["diagnostics"].size(), 1u) << report.dump(2);
  const json& d = report["diagnostics"][0];
  EXPECT_EQ(d["severity"], "error");
  EXPECT_EQ(d["code"], "value");
  EXPECT_EQ(d["location"], "VirtualService/bad/api");
  EXPECT_EQ(d["kind"], "VirtualService");
  EXPECT_EQ(d["apiVersion"], "networking.istio.io/v1");
  EXPECT_EQ(d["namespace"], "bad");
  EXPECT_EQ(d["name"], "api");
  EXPECT_EQ(d["field"], "spec.http[0].match[0].uri.regex");
  EXPECT_FALSE(d.contains("line")) << d.dump();
  ASSERT_EQ(report["excluded"].size(), 1u);
  EXPECT_EQ(report["excluded"][0]["name"], "api");
  Result jg = Analyze(kc, "-o json -n good");
  EXPECT_EQ(jg.exit_code, 0) << jg.out << jg.err;
  json good = json::parse(jg.out, nullptr, false);
  ASSERT_FALSE(good.is_discarded()) << jg.out;
  EXPECT_EQ(good["diagnostics"], json::array());
  EXPECT_EQ(good["objects"], 4);
  EXPECT_EQ(good["namespace"], "good");

  // Page by page: the same report.
  Result paged = Analyze(kc, "--chunk-size 1");
  EXPECT_EQ(paged.exit_code, 1) << paged.out << paged.err;
  EXPECT_EQ(paged.out, bad.out);
}

TEST_F(WeftctlAnalyzeCluster, NamespaceOnlyUserGetsTheirNamespace) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  std::string out;
  ASSERT_EQ(
      cp.Kubectl("apply --server-side -k " + std::string(WEFT_SOURCE_DIR) + "/deploy/crds", &out),
      0)
      << out;
  ASSERT_EQ(cp.Kubectl("wait --for condition=established --timeout 30s crd --all", &out), 0) << out;
  Apply(cp, kBad);
  Apply(cp, R"(apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: bad}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: bad}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: dev}]
)");
  ASSERT_EQ(std::system((weft::testing::KubeControlPlane::Script() + " user " + cp.dir +
                         " dev >/dev/null 2>&1")
                            .c_str()),
            0);
  const std::string dev = cp.dir + "/dev.kubeconfig";

  // The whole cluster: forbidden, exit 1.
  Result all = Analyze(dev);
  EXPECT_EQ(all.exit_code, 1) << all.out << all.err;
  EXPECT_NE(all.err.find("list namespaces"), std::string::npos) << all.err;
  EXPECT_NE(all.err.find("forbidden"), std::string::npos) << all.err;

  // Its namespace: read there, with notes saying so; the rejected VirtualService is reported.
  Result mine = Analyze(dev, "-n bad");
  EXPECT_EQ(mine.exit_code, 1) << mine.out << mine.err;
  EXPECT_NE(mine.out.find("Namespace (v1): note: may not be listed (forbidden): skipped"),
            std::string::npos)
      << mine.out;
  EXPECT_NE(mine.out.find("Service (v1): note: may not be listed in every namespace: only "
                          "namespace bad's read"),
            std::string::npos)
      << mine.out;
  EXPECT_NE(mine.out.find(kBadLine), std::string::npos) << mine.out;
  EXPECT_NE(mine.out.find("1 error, 0 warnings in 2 objects in namespace bad."), std::string::npos)
      << mine.out;
}

}  // namespace
