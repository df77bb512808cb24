// Workloads pass: Pods become Workloads with identity, enrollment, the effective
// PeerAuthentication and the AuthorizationPolicies that select them. Also Namespaces.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/core/policy/policy_test_util.h"

namespace weft::policy {
namespace {

using testing::CompileYaml;
using testing::DiagsOf;
using testing::Dump;
using ::testing::ElementsAre;
using testing::ErrorCount;
using testing::FindNamespace;
using testing::FindWorkload;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::SizeIs;
using ::testing::UnorderedElementsAre;

TEST(Workloads, IdentityAddressesAndLocality) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Node
metadata:
  name: node-a
  labels: {topology.kubernetes.io/region: r1, topology.kubernetes.io/zone: z1, topology.istio.io/subzone: s1}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec:
  nodeName: node-a
  serviceAccountName: web-sa
  containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]
status:
  phase: Running
  podIPs: [{ip: 10.1.0.5}, {ip: "fd00::5"}]
---
apiVersion: v1
kind: Pod
metadata: {name: job, namespace: shop}
status: {phase: Succeeded}
)"});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Workload* w = FindWorkload(res.snapshot, "shop/web-0");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->name(), "web-0");
  EXPECT_EQ(w->namespace_(), "shop");
  EXPECT_EQ(w->node(), "node-a");
  EXPECT_THAT(w->addresses(), ElementsAre("10.1.0.5", "fd00::5"));
  EXPECT_EQ(w->service_account(), "web-sa");
  EXPECT_EQ(w->identity(), "spiffe://cluster.local/ns/shop/sa/web-sa");
  EXPECT_THAT(w->labels(), ElementsAre(Pair("app", "web")));
  EXPECT_THAT(w->named_ports(), ElementsAre(Pair("http", 8080u)));
  EXPECT_TRUE(w->ready());
  EXPECT_EQ(w->locality().region(), "r1");
  EXPECT_EQ(w->locality().zone(), "z1");
  EXPECT_EQ(w->locality().subzone(), "s1");
  EXPECT_EQ(w->source().kind(), "Pod");
  EXPECT_EQ(w->source().line(), 7u);
  // No PeerAuthentication anywhere: PERMISSIVE, Istio's default, with no source.
  EXPECT_EQ(w->mtls().mode(), pb::MTLS_MODE_PERMISSIVE);
  EXPECT_FALSE(w->mtls().has_source());
  const pb::Workload* job = FindWorkload(res.snapshot, "shop/job");
  ASSERT_NE(job, nullptr);
  EXPECT_FALSE(job->ready());
  EXPECT_EQ(job->identity(), "spiffe://cluster.local/ns/shop/sa/default");
  std::vector<std::string> uids;
  for (const auto& x : res.snapshot.workloads()) uids.push_back(x.uid());
  EXPECT_THAT(uids, ElementsAre("shop/job", "shop/web-0"));
}

TEST(Workloads, TrustDomainOption) {
  CompileOptions opt;
  opt.trust_domain = "example.org";
  auto res = testing::CompileInputs(
      {{"p.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: \"n\"}\n"}}, opt);
  EXPECT_EQ(FindWorkload(res.snapshot, "n/p")->identity(), "spiffe://example.org/ns/n/sa/default");
  EXPECT_EQ(res.snapshot.settings().trust_domain(), "example.org");
}

// ---- enrollment ----

struct ModeCase {
  std::string name;
  std::string ns_label;   // "" = no label
  std::string pod_label;  // "" = no label
  pb::DataplaneMode want;
};

class DataplaneMode : public ::testing::TestWithParam<ModeCase> {};

TEST_P(DataplaneMode, PodLabelOverridesNamespace) {
  const auto& c = GetParam();
  std::string ns = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n";
  if (!c.ns_label.empty()) ns += "  labels: {weft.dev/dataplane-mode: " + c.ns_label + "}\n";
  std::string pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: shop\n";
  if (!c.pod_label.empty()) pod += "  labels: {weft.dev/dataplane-mode: " + c.pod_label + "}\n";
  auto res = CompileYaml({ns, pod});
  const pb::Workload* w = FindWorkload(res.snapshot, "shop/p");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dataplane_mode(), c.want);
}

INSTANTIATE_TEST_SUITE_P(
    Table, DataplaneMode,
    ::testing::Values(ModeCase{"none", "", "", pb::DATAPLANE_MODE_UNSPECIFIED},
                      ModeCase{"nsAmbient", "ambient", "", pb::DATAPLANE_MODE_AMBIENT},
                      ModeCase{"podOptsOut", "ambient", "none", pb::DATAPLANE_MODE_NONE},
                      ModeCase{"podOptsIn", "none", "ambient", pb::DATAPLANE_MODE_AMBIENT},
                      ModeCase{"podOnly", "", "ambient", pb::DATAPLANE_MODE_AMBIENT},
                      ModeCase{"nsNone", "none", "", pb::DATAPLANE_MODE_NONE}),
    [](const auto& info) { return info.param.name; });

TEST(Workloads, UnknownModeWarnsAndIsNone) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/dataplane-mode: sidecar}}
---
apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop}
)"});
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/p")->dataplane_mode(), pb::DATAPLANE_MODE_NONE);
  EXPECT_EQ(FindNamespace(res.snapshot, "shop")->dataplane_mode(), pb::DATAPLANE_MODE_NONE);
  auto w = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().kind(), "Namespace");
  EXPECT_EQ(w[0].source().field(), "metadata.labels.weft.dev/dataplane-mode");
}

TEST(Workloads, HostNetworkPodsAreNotCaptured) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Pod
metadata: {name: p, namespace: shop, labels: {weft.dev/dataplane-mode: ambient}}
spec: {hostNetwork: true}
)"});
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/p")->dataplane_mode(), pb::DATAPLANE_MODE_NONE);
  auto w = DiagsOf(res.snapshot, code::kUnsupported);
  ASSERT_THAT(w, SizeIs(1));
  EXPECT_EQ(w[0].source().field(), "spec.hostNetwork");
}

TEST(Workloads, WaypointPodLabelOverNamespace) {
  auto res = CompileYaml({R"(apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {weft.dev/use-waypoint: ns-wp, weft.dev/dataplane-mode: ambient}}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: shop, labels: {weft.dev/use-waypoint: pod-wp}}
)"});
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/a")->waypoint(), "ns-wp");
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/b")->waypoint(), "pod-wp");
  const pb::Namespace* ns = FindNamespace(res.snapshot, "shop");
  ASSERT_NE(ns, nullptr);
  EXPECT_EQ(ns->waypoint(), "ns-wp");
  EXPECT_EQ(ns->dataplane_mode(), pb::DATAPLANE_MODE_AMBIENT);
  EXPECT_THAT(ns->labels(), SizeIs(2));
  EXPECT_EQ(ns->source().kind(), "Namespace");
}

// ---- PeerAuthentication precedence ----

std::string Pa(const std::string& ns, const std::string& name, const std::string& mode,
               const std::string& selector = "", const std::string& extra = "",
               const std::string& created = "") {
  std::string y =
      "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: " + name +
      ", namespace: " + ns;
  if (!created.empty()) y += ", creationTimestamp: \"" + created + "\"";
  y += "}\nspec:\n";
  if (!selector.empty()) y += "  selector: {matchLabels: {" + selector + "}}\n";
  if (!mode.empty()) y += "  mtls: {mode: " + mode + "}\n";
  y += extra;
  if (mode.empty() && selector.empty() && extra.empty()) y += "  {}\n";
  return y;
}

constexpr char kPods[] = R"(apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: db, namespace: shop, labels: {app: db}}
---
apiVersion: v1
kind: Pod
metadata: {name: web, namespace: other, labels: {app: web}}
---
apiVersion: v1
kind: Pod
metadata: {name: gw, namespace: istio-system, labels: {app: web}}
)";

struct PaCase {
  std::string name;
  std::string mesh, ns, workload;  // "" = no such policy, else the mode (or UNSET)
  pb::MtlsMode want;
  std::string source;  // name of the deciding policy; "" = the default
};

class PeerAuthPrecedence : public ::testing::TestWithParam<PaCase> {};

TEST_P(PeerAuthPrecedence, WorkloadOverNamespaceOverMesh) {
  const auto& c = GetParam();
  std::vector<std::string> in = {kPods};
  if (!c.mesh.empty()) in.push_back(Pa("istio-system", "mesh", c.mesh));
  if (!c.ns.empty()) in.push_back(Pa("shop", "ns", c.ns));
  if (!c.workload.empty()) in.push_back(Pa("shop", "wl", c.workload, "app: web"));
  auto res = CompileYaml(in);
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Workload* w = FindWorkload(res.snapshot, "shop/web");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->mtls().mode(), c.want);
  EXPECT_EQ(w->mtls().source().name(), c.source);
}

INSTANTIATE_TEST_SUITE_P(
    Table, PeerAuthPrecedence,
    ::testing::Values(
        PaCase{"default", "", "", "", pb::MTLS_MODE_PERMISSIVE, ""},
        PaCase{"mesh", "STRICT", "", "", pb::MTLS_MODE_STRICT, "mesh"},
        PaCase{"nsOverMesh", "STRICT", "PERMISSIVE", "", pb::MTLS_MODE_PERMISSIVE, "ns"},
        PaCase{"nsUnsetInherits", "STRICT", "UNSET", "", pb::MTLS_MODE_STRICT, "mesh"},
        PaCase{"workloadOverAll", "STRICT", "DISABLE", "PERMISSIVE", pb::MTLS_MODE_PERMISSIVE,
               "wl"},
        PaCase{"workloadUnsetInheritsNs", "DISABLE", "STRICT", "UNSET", pb::MTLS_MODE_STRICT, "ns"},
        PaCase{"workloadUnsetInheritsMesh", "DISABLE", "", "UNSET", pb::MTLS_MODE_DISABLE, "mesh"},
        PaCase{"allUnset", "UNSET", "UNSET", "UNSET", pb::MTLS_MODE_PERMISSIVE, ""},
        PaCase{"workloadOnly", "", "", "STRICT", pb::MTLS_MODE_STRICT, "wl"}),
    [](const auto& info) { return info.param.name; });

TEST(PeerAuth, PoliciesApplyOnlyWhereTheyLive) {
  auto res =
      CompileYaml({kPods, Pa("shop", "ns", "STRICT"), Pa("shop", "wl-web", "DISABLE", "app: web"),
                   Pa("istio-system", "root-sel", "STRICT", "app: web")});
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/web")->mtls().mode(), pb::MTLS_MODE_DISABLE);
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/db")->mtls().mode(), pb::MTLS_MODE_STRICT);
  // other/web matches the labels of shop/wl-web and istio-system/root-sel, but a selector
  // policy never reaches another namespace, not even from the root namespace.
  EXPECT_EQ(FindWorkload(res.snapshot, "other/web")->mtls().mode(), pb::MTLS_MODE_PERMISSIVE);
}

TEST(PeerAuth, RootNamespacePolicyWithSelectorIsIgnored) {
  // Istio's ComposePeerAuthentication: mesh level = root namespace without selector; workload
  // level = with selector and not in the root namespace. A root policy with a selector is
  // neither, so it applies nowhere, not even to the root namespace's own Pods.
  auto res = CompileYaml({kPods, Pa("istio-system", "root-sel", "STRICT", "app: web")});
  for (const char* uid : {"istio-system/gw", "shop/web", "other/web"}) {
    EXPECT_EQ(FindWorkload(res.snapshot, uid)->mtls().mode(), pb::MTLS_MODE_PERMISSIVE) << uid;
  }
  auto w = DiagsOf(res.snapshot, code::kValue);
  ASSERT_THAT(w, SizeIs(1)) << Dump(res.snapshot);
  EXPECT_EQ(w[0].severity(), pb::Diagnostic::WARNING);
  EXPECT_EQ(w[0].source().field(), "spec.selector");
  EXPECT_EQ(w[0].message(),
            "a PeerAuthentication with a selector in the root namespace istio-system is ignored, "
            "as in Istio");
}

TEST(PeerAuth, PortLevelOverridesTheWorkloadMode) {
  auto res =
      CompileYaml({kPods, Pa("shop", "ns", "PERMISSIVE"),
                   Pa("shop", "wl", "STRICT", "app: web",
                      "  portLevelMtls:\n    8080: {mode: DISABLE}\n    9090: {mode: UNSET}\n"),
                   Pa("shop", "wl-db", "UNSET", "app: db",
                      "  portLevelMtls:\n    5432: {mode: STRICT}\n    6432: {mode: UNSET}\n")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Workload* web = FindWorkload(res.snapshot, "shop/web");
  EXPECT_EQ(web->mtls().mode(), pb::MTLS_MODE_STRICT);
  EXPECT_THAT(web->mtls().port_modes(), UnorderedElementsAre(Pair(8080u, pb::MTLS_MODE_DISABLE),
                                                             Pair(9090u, pb::MTLS_MODE_STRICT)));
  const pb::Workload* db = FindWorkload(res.snapshot, "shop/db");
  EXPECT_EQ(db->mtls().mode(), pb::MTLS_MODE_PERMISSIVE);  // UNSET: the namespace's
  EXPECT_THAT(db->mtls().port_modes(), UnorderedElementsAre(Pair(5432u, pb::MTLS_MODE_STRICT),
                                                            Pair(6432u, pb::MTLS_MODE_PERMISSIVE)));
}

TEST(PeerAuth, OldestOfOneLevelWinsOthersWarn) {
  auto res =
      CompileYaml({kPods, Pa("shop", "newer", "DISABLE", "", "", "2024-06-01T00:00:00Z"),
                   Pa("shop", "older", "STRICT", "", "", "2024-01-01T00:00:00Z"),
                   Pa("shop", "wl-new", "DISABLE", "app: web", "", "2024-06-01T00:00:00Z"),
                   Pa("shop", "wl-old", "PERMISSIVE", "app: web", "", "2024-01-01T00:00:00Z")});
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/db")->mtls().mode(), pb::MTLS_MODE_STRICT);
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/db")->mtls().source().name(), "older");
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/web")->mtls().mode(), pb::MTLS_MODE_PERMISSIVE);
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/web")->mtls().source().name(), "wl-old");
  auto c = DiagsOf(res.snapshot, code::kConflict);
  ASSERT_THAT(c, SizeIs(2)) << Dump(res.snapshot);
  std::vector<std::string> who;
  for (const auto& d : c) {
    EXPECT_EQ(d.severity(), pb::Diagnostic::WARNING);
    who.push_back(d.source().name());
  }
  EXPECT_THAT(who, UnorderedElementsAre("newer", "wl-new"));
  EXPECT_THAT(res.snapshot.excluded(), IsEmpty());
}

// ---- AuthorizationPolicy selection ----

std::string Ap(const std::string& ns, const std::string& name, const std::string& selector,
               const std::string& extra = "") {
  std::string y =
      "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
      ", namespace: " + ns + "}\nspec:\n";
  if (!selector.empty()) y += "  selector: {matchLabels: {" + selector + "}}\n";
  y += extra.empty() ? "  action: ALLOW\n" : extra;
  return y;
}

TEST(AuthzSelection, SelectorsScopePolicies) {
  auto res = CompileYaml(
      {kPods, Ap("istio-system", "mesh-wide", ""), Ap("istio-system", "root-web", "app: web"),
       Ap("shop", "ns-wide", ""), Ap("shop", "web-only", "app: web"),
       Ap("shop", "db-only", "app: db"), Ap("other", "other-ns", ""),
       Ap("shop", "at-waypoint", "", "  targetRefs: [{kind: Service, group: \"\", name: web}]\n")});
  EXPECT_THAT(FindWorkload(res.snapshot, "shop/web")->authorization_policies(),
              ElementsAre("istio-system/mesh-wide", "istio-system/root-web", "shop/ns-wide",
                          "shop/web-only"));
  EXPECT_THAT(FindWorkload(res.snapshot, "shop/db")->authorization_policies(),
              ElementsAre("istio-system/mesh-wide", "shop/db-only", "shop/ns-wide"));
  EXPECT_THAT(FindWorkload(res.snapshot, "other/web")->authorization_policies(),
              ElementsAre("istio-system/mesh-wide", "istio-system/root-web", "other/other-ns"));
  EXPECT_THAT(FindWorkload(res.snapshot, "istio-system/gw")->authorization_policies(),
              ElementsAre("istio-system/mesh-wide", "istio-system/root-web"));
}

TEST(AuthzSelection, DenyAndAllowPoliciesBothReachTheWorkload) {
  // DENY before ALLOW is the enforcer's evaluation order; the compiler must hand it both, with
  // their actions intact.
  auto res =
      CompileYaml({kPods, Ap("shop", "allow-web", "app: web", "  action: ALLOW\n  rules: [{}]\n"),
                   Ap("shop", "deny-web", "app: web", "  action: DENY\n  rules: [{}]\n")});
  EXPECT_THAT(FindWorkload(res.snapshot, "shop/web")->authorization_policies(),
              ElementsAre("shop/allow-web", "shop/deny-web"));
  ASSERT_EQ(res.snapshot.authorization_policies_size(), 2);
  EXPECT_EQ(res.snapshot.authorization_policies(0).action(), pb::AuthorizationPolicy::ALLOW);
  EXPECT_EQ(res.snapshot.authorization_policies(1).action(), pb::AuthorizationPolicy::DENY);
}

}  // namespace
}  // namespace weft::policy
