// Waypoints: the waypoints table (Gateways of class weft-waypoint or istio-waypoint and the
// pods that run them), how Services, Pods and Namespaces bind to a waypoint, waypoint pods
// never being captured, and AuthorizationPolicy targetRefs that nothing would enforce.

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
using testing::FindAuthz;
using testing::FindNamespace;
using testing::FindService;
using testing::FindWorkload;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

std::string Waypoint(const std::string& ns, const std::string& name,
                     const std::string& gateway_class = "weft-waypoint",
                     const std::string& listener_extra = "") {
  return "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: " + name +
         ", namespace: " + ns + "}\nspec:\n  gatewayClassName: " + gateway_class +
         "\n  listeners:\n  - name: mesh\n    port: 15008\n    protocol: HBONE\n" + listener_extra;
}

std::string Service(const std::string& ns, const std::string& name, const std::string& labels) {
  return "apiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns +
         ", labels: {" + labels + "}}\nspec: {clusterIP: 10.96.0.10, ports: [{port: 80}]}\n";
}

std::string Namespace(const std::string& name, const std::string& labels) {
  return "apiVersion: v1\nkind: Namespace\nmetadata: {name: " + name + ", labels: {" + labels +
         "}}\n";
}

const pb::Waypoint* FindWaypoint(const pb::MeshSnapshot& s, std::string_view ns,
                                 std::string_view name) {
  for (const auto& w : s.waypoints()) {
    if (w.namespace_() == ns && w.name() == name) return &w;
  }
  return nullptr;
}

// "severity field: message" of every diagnostic of `kind`/`name`.
std::vector<std::string> DiagsFor(const pb::MeshSnapshot& s, std::string_view kind,
                                  std::string_view name) {
  std::vector<std::string> out;
  for (const auto& d : s.diagnostics()) {
    if (d.source().kind() != kind || d.source().name() != name) continue;
    out.push_back(pb::Diagnostic::Severity_Name(d.severity()) + " " + d.source().field() + ": " +
                  d.message());
  }
  return out;
}

// ---- the waypoints table ----

constexpr char kWaypointPods[] = R"(apiVersion: v1
kind: Pod
metadata: {name: waypoint-b, namespace: demo, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node2, serviceAccountName: waypoint}
status: {phase: Pending, podIP: 10.1.0.9}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-a, namespace: demo, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {nodeName: node1, serviceAccountName: waypoint}
status: {phase: Running, podIPs: [{ip: 10.1.0.20}, {ip: "fd00::20"}]}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-old, namespace: demo, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint}
status: {phase: Failed, podIP: 10.1.0.30}
---
apiVersion: v1
kind: Pod
metadata: {name: waypoint-new, namespace: demo, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
spec: {serviceAccountName: waypoint}
---
apiVersion: v1
kind: Pod
metadata: {name: elsewhere, namespace: other, labels: {gateway.networking.k8s.io/gateway-name: waypoint}}
status: {podIP: 10.1.0.40}
)";

TEST(Waypoints, EndpointsAreTheGatewaysPods) {
  auto res = CompileYaml({R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
  annotations: {weft.dev/node: node1}
spec:
  gatewayClassName: weft-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
)",
                          kWaypointPods});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  ASSERT_THAT(res.snapshot.waypoints(), SizeIs(1));
  const pb::Waypoint& w = res.snapshot.waypoints(0);
  EXPECT_EQ(w.name(), "waypoint");
  EXPECT_EQ(w.namespace_(), "demo");
  EXPECT_EQ(w.identity(), "spiffe://cluster.local/ns/demo/sa/waypoint");
  EXPECT_EQ(w.service_account(), "waypoint");
  EXPECT_EQ(w.node(), "node1");
  EXPECT_EQ(w.port(), 15008u);
  EXPECT_EQ(w.gateway_class(), "weft-waypoint");
  EXPECT_EQ(w.source().kind(), "Gateway");
  EXPECT_EQ(w.source().api_version(), "gateway.networking.k8s.io/v1");
  // One endpoint per address of a Running or Pending pod (not Failed, not without an address,
  // not in another namespace), sorted by address.
  std::vector<std::string> eps;
  for (const auto& ep : w.endpoints()) {
    eps.push_back(ep.address() + " " + ep.workload_uid() + " " + ep.node() +
                  (ep.ready() ? " ready" : " not-ready"));
  }
  EXPECT_THAT(eps, ElementsAre("10.1.0.20 demo/waypoint-a node1 ready",
                               "10.1.0.9 demo/waypoint-b node2 not-ready",
                               "fd00::20 demo/waypoint-a node1 ready"));
}

TEST(Waypoints, SortedAndOnlyWaypointClasses) {
  auto res = CompileYaml({Waypoint("zeta", "wp"), Waypoint("alpha", "wp", "istio-waypoint"),
                          Waypoint("alpha", "b-wp"), Waypoint("alpha", "ingress", "example")});
  std::vector<std::string> names;
  for (const auto& w : res.snapshot.waypoints()) {
    names.push_back(w.namespace_() + "/" + w.name() + " " + w.gateway_class());
  }
  EXPECT_THAT(names, ElementsAre("alpha/b-wp weft-waypoint", "alpha/wp istio-waypoint",
                                 "zeta/wp weft-waypoint"));
  EXPECT_TRUE(res.snapshot.waypoints(0).endpoints().empty());
}

TEST(Waypoints, UnknownNodeWarnsOnlyWhenNodesAreKnown) {
  std::string gw = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: wp, namespace: demo, annotations: {weft.dev/node: node9}}
spec: {gatewayClassName: weft-waypoint, listeners: [{name: mesh, port: 15008, protocol: HBONE}]}
)";
  EXPECT_THAT(DiagsOf(CompileYaml({gw}).snapshot, code::kReference), IsEmpty());
  auto res = CompileYaml({gw, "apiVersion: v1\nkind: Node\nmetadata: {name: node1}\n"});
  EXPECT_THAT(DiagsFor(res.snapshot, "Gateway", "wp"),
              ElementsAre("WARNING metadata.annotations.weft.dev/node: node \"node9\" does not "
                          "exist (no Node of that name)"));
  EXPECT_EQ(FindWaypoint(res.snapshot, "demo", "wp")->node(), "node9");
}

// ---- binding ----

TEST(Waypoints, ServiceLabelOverNamespaceLabelAndNone) {
  auto res =
      CompileYaml({Namespace("shop", "weft.dev/use-waypoint: ns-wp"), Waypoint("shop", "ns-wp"),
                   Waypoint("shop", "svc-wp"), Service("shop", "inherits", ""),
                   Service("shop", "own", "weft.dev/use-waypoint: svc-wp"),
                   Service("shop", "opted-out", "weft.dev/use-waypoint: none"),
                   Service("shop", "istio-none", "istio.io/use-waypoint: none")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_THAT(DiagsOf(res.snapshot, code::kReference), IsEmpty()) << Dump(res.snapshot);
  auto svc = [&](const std::string& name) {
    return FindService(res.snapshot, name + ".shop.svc.cluster.local");
  };
  EXPECT_EQ(svc("inherits")->waypoint(), "ns-wp");
  EXPECT_EQ(svc("inherits")->waypoint_namespace(), "shop");
  EXPECT_EQ(svc("own")->waypoint(), "svc-wp");
  EXPECT_EQ(svc("own")->waypoint_namespace(), "shop");
  EXPECT_EQ(svc("opted-out")->waypoint(), "");
  EXPECT_EQ(svc("opted-out")->waypoint_namespace(), "");
  EXPECT_EQ(svc("istio-none")->waypoint(), "");
  const pb::Namespace* ns = FindNamespace(res.snapshot, "shop");
  EXPECT_EQ(ns->waypoint(), "ns-wp");
  EXPECT_EQ(ns->waypoint_namespace(), "shop");
}

TEST(Waypoints, IstioLabelsAndWeftsWins) {
  auto res = CompileYaml(
      {Namespace("shop", "istio.io/use-waypoint: istio-ns-wp"), Waypoint("shop", "istio-ns-wp"),
       Waypoint("shop", "istio-wp"), Waypoint("shop", "weft-wp"), Service("shop", "inherits", ""),
       Service("shop", "istio", "istio.io/use-waypoint: istio-wp"),
       Service("shop", "both", "istio.io/use-waypoint: istio-wp, weft.dev/use-waypoint: weft-wp"),
       Namespace("none-ns", "istio.io/use-waypoint: none"), Service("none-ns", "svc", "")});
  EXPECT_THAT(DiagsOf(res.snapshot, code::kReference), IsEmpty()) << Dump(res.snapshot);
  EXPECT_EQ(FindService(res.snapshot, "inherits.shop.svc.cluster.local")->waypoint(),
            "istio-ns-wp");
  EXPECT_EQ(FindService(res.snapshot, "istio.shop.svc.cluster.local")->waypoint(), "istio-wp");
  EXPECT_EQ(FindService(res.snapshot, "both.shop.svc.cluster.local")->waypoint(), "weft-wp");
  EXPECT_EQ(FindService(res.snapshot, "svc.none-ns.svc.cluster.local")->waypoint(), "");
  EXPECT_EQ(FindNamespace(res.snapshot, "none-ns")->waypoint(), "");
}

TEST(Waypoints, UseWaypointNamespaceAndAllowedRoutes) {
  auto res = CompileYaml({
      Waypoint("infra", "open", "weft-waypoint", "    allowedRoutes: {namespaces: {from: All}}\n"),
      Waypoint("infra", "by-name", "istio-waypoint",
               "    allowedRoutes:\n      namespaces:\n        from: Selector\n"
               "        selector: {matchLabels: {kubernetes.io/metadata.name: shop}}\n"),
      Waypoint("infra", "same"),
      Namespace("shop", ""),
      Service("shop", "a", "istio.io/use-waypoint: open, istio.io/use-waypoint-namespace: infra"),
      Service("shop", "b",
              "istio.io/use-waypoint: by-name, istio.io/use-waypoint-namespace: infra"),
      Service("shop", "c", "weft.dev/use-waypoint: same, istio.io/use-waypoint-namespace: infra"),
      Service("infra", "local", "weft.dev/use-waypoint: same"),
      // The namespace label applies to the Namespace's own binding only.
      Namespace("apps", "istio.io/use-waypoint: open, istio.io/use-waypoint-namespace: infra"),
      Service("apps", "x", ""),
  });
  auto svc = [&](const std::string& host) { return FindService(res.snapshot, host); };
  EXPECT_EQ(svc("a.shop.svc.cluster.local")->waypoint(), "open");
  EXPECT_EQ(svc("a.shop.svc.cluster.local")->waypoint_namespace(), "infra");
  EXPECT_EQ(svc("b.shop.svc.cluster.local")->waypoint(), "by-name");
  EXPECT_EQ(svc("b.shop.svc.cluster.local")->waypoint_namespace(), "infra");
  // allowedRoutes defaults to Same: the binding from shop is refused and cleared.
  EXPECT_EQ(svc("c.shop.svc.cluster.local")->waypoint(), "");
  EXPECT_EQ(svc("c.shop.svc.cluster.local")->waypoint_namespace(), "");
  EXPECT_THAT(DiagsFor(res.snapshot, "Service", "c"),
              ElementsAre("WARNING metadata.labels.weft.dev/use-waypoint: waypoint infra/same "
                          "does not accept bindings from namespace shop (its HBONE listener's "
                          "allowedRoutes.namespaces.from is Same); no waypoint is used, traffic "
                          "goes direct"));
  EXPECT_EQ(svc("local.infra.svc.cluster.local")->waypoint(), "same");
  EXPECT_EQ(svc("x.apps.svc.cluster.local")->waypoint(), "open");
  EXPECT_EQ(svc("x.apps.svc.cluster.local")->waypoint_namespace(), "infra");
  EXPECT_EQ(FindNamespace(res.snapshot, "apps")->waypoint_namespace(), "infra");
}

TEST(Waypoints, MissingOrNonWaypointGatewayWarnsAndStaysSet) {
  auto res = CompileYaml({Namespace("shop", "weft.dev/use-waypoint: ns-ghost"),
                          Service("shop", "inherits", ""),
                          Service("shop", "ghost", "weft.dev/use-waypoint: ghost"),
                          Waypoint("shop", "ingress", "example"),
                          Service("shop", "ingress-bound", "istio.io/use-waypoint: ingress")});
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  const pb::Service* ghost = FindService(res.snapshot, "ghost.shop.svc.cluster.local");
  EXPECT_EQ(ghost->waypoint(), "ghost");
  EXPECT_EQ(ghost->waypoint_namespace(), "shop");
  EXPECT_THAT(DiagsFor(res.snapshot, "Service", "ghost"),
              ElementsAre("WARNING metadata.labels.weft.dev/use-waypoint: waypoint Gateway "
                          "shop/ghost does not exist; traffic bound to it is refused until it "
                          "does (the node proxy fails closed)"));
  EXPECT_EQ(FindService(res.snapshot, "ingress-bound.shop.svc.cluster.local")->waypoint(),
            "ingress");
  EXPECT_THAT(DiagsFor(res.snapshot, "Service", "ingress-bound"),
              ElementsAre("WARNING metadata.labels.istio.io/use-waypoint: Gateway shop/ingress "
                          "has class \"example\", not a waypoint class (weft-waypoint, "
                          "istio-waypoint); traffic bound to it is refused (the node proxy "
                          "fails closed)"));
  // A binding inherited from the Namespace is reported once, on the Namespace.
  EXPECT_EQ(FindService(res.snapshot, "inherits.shop.svc.cluster.local")->waypoint(), "ns-ghost");
  EXPECT_THAT(DiagsFor(res.snapshot, "Service", "inherits"), IsEmpty());
  EXPECT_THAT(DiagsFor(res.snapshot, "Namespace", "shop"),
              ElementsAre(HasSubstr("waypoint Gateway shop/ns-ghost does not exist")));
  EXPECT_TRUE(res.snapshot.waypoints().empty());
}

TEST(Waypoints, ServiceInFrontOfAWaypointHasNone) {
  auto res = CompileYaml({Namespace("shop", "weft.dev/use-waypoint: wp"), Waypoint("shop", "wp"),
                          R"(apiVersion: v1
kind: Service
metadata: {name: wp, namespace: shop}
spec:
  selector: {gateway.networking.k8s.io/gateway-name: wp}
  ports: [{name: mesh, port: 15008}]
---
apiVersion: v1
kind: Service
metadata: {name: wp-istio, namespace: shop, labels: {gateway.istio.io/managed: istio.io-mesh-controller}}
spec: {ports: [{port: 15021}]}
)"});
  EXPECT_EQ(FindService(res.snapshot, "wp.shop.svc.cluster.local")->waypoint(), "");
  EXPECT_EQ(FindService(res.snapshot, "wp-istio.shop.svc.cluster.local")->waypoint(), "");
}

TEST(Waypoints, WorkloadBinding) {
  auto res = CompileYaml({Namespace("shop", "istio.io/use-waypoint: wp"), Waypoint("shop", "wp"),
                          Waypoint("shop", "pod-wp"), R"(apiVersion: v1
kind: Pod
metadata: {name: a, namespace: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: b, namespace: shop, labels: {istio.io/use-waypoint: pod-wp}}
---
apiVersion: v1
kind: Pod
metadata: {name: c, namespace: shop, labels: {weft.dev/use-waypoint: none}}
---
apiVersion: v1
kind: Pod
metadata: {name: d, namespace: shop, labels: {weft.dev/use-waypoint: nope}}
)"});
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/a")->waypoint(), "wp");
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/a")->waypoint_namespace(), "shop");
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/b")->waypoint(), "pod-wp");
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/c")->waypoint(), "");
  EXPECT_EQ(FindWorkload(res.snapshot, "shop/d")->waypoint(), "nope");
  EXPECT_THAT(DiagsFor(res.snapshot, "Pod", "d"),
              ElementsAre(HasSubstr("waypoint Gateway shop/nope does not exist")));
}

// ---- waypoint pods are never captured ----

TEST(Waypoints, WaypointPodsAreNeverCaptured) {
  auto res = CompileYaml({Namespace("demo",
                                    "weft.dev/dataplane-mode: ambient, "
                                    "weft.dev/use-waypoint: waypoint"),
                          Waypoint("demo", "waypoint"), R"(apiVersion: v1
kind: Pod
metadata:
  name: waypoint-1
  namespace: demo
  labels: {gateway.networking.k8s.io/gateway-name: waypoint, weft.dev/dataplane-mode: ambient}
spec: {serviceAccountName: waypoint}
status: {podIP: 10.1.0.9}
---
apiVersion: v1
kind: Pod
metadata:
  name: wrong-sa
  namespace: demo
  labels: {gateway.networking.k8s.io/gateway-name: waypoint}
status: {podIP: 10.1.0.10}
---
apiVersion: v1
kind: Pod
metadata:
  name: not-a-waypoint
  namespace: demo
  labels: {gateway.networking.k8s.io/gateway-name: missing}
status: {podIP: 10.1.0.11}
)"});
  const pb::Workload* wp = FindWorkload(res.snapshot, "demo/waypoint-1");
  EXPECT_EQ(wp->dataplane_mode(), pb::DATAPLANE_MODE_NONE);
  EXPECT_EQ(wp->waypoint(), "");  // a waypoint has no waypoint
  EXPECT_EQ(FindWorkload(res.snapshot, "demo/wrong-sa")->dataplane_mode(), pb::DATAPLANE_MODE_NONE);
  EXPECT_THAT(DiagsFor(res.snapshot, "Pod", "wrong-sa"),
              ElementsAre("WARNING spec.serviceAccountName: runs as service account \"default\", "
                          "but waypoint demo/waypoint has the identity "
                          "spiffe://cluster.local/ns/demo/sa/waypoint: clients expecting it "
                          "refuse this pod"));
  const pb::Workload* other = FindWorkload(res.snapshot, "demo/not-a-waypoint");
  EXPECT_EQ(other->dataplane_mode(), pb::DATAPLANE_MODE_AMBIENT);
  EXPECT_EQ(other->waypoint(), "waypoint");
  EXPECT_THAT(FindWaypoint(res.snapshot, "demo", "waypoint")->endpoints(), SizeIs(2));
}

// ---- AuthorizationPolicy targetRefs ----

std::string Ap(const std::string& name, const std::string& target_refs) {
  return "apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {name: " + name +
         ", namespace: shop}\nspec:\n  targetRefs: " + target_refs +
         "\n  rules: [{to: [{operation: {methods: [GET]}}]}]\n";
}

TEST(Waypoints, TargetRefsThatNothingEnforces) {
  auto res = CompileYaml({
      Waypoint("shop", "wp"),
      Waypoint("shop", "ingress", "example"),
      Service("shop", "bound", "weft.dev/use-waypoint: wp"),
      Service("shop", "unbound", ""),
      Service("shop", "dangling", "weft.dev/use-waypoint: ghost"),
      Ap("to-waypoint", "[{kind: Gateway, group: gateway.networking.k8s.io, name: wp}]"),
      Ap("to-bound", "[{kind: Service, group: \"\", name: bound}]"),
      Ap("to-missing-gw", "[{kind: Gateway, group: gateway.networking.k8s.io, name: nope}]"),
      Ap("to-ingress", "[{kind: Gateway, group: gateway.networking.k8s.io, name: ingress}]"),
      Ap("to-unbound", "[{kind: Service, group: \"\", name: unbound}]"),
      Ap("to-dangling", "[{kind: Service, group: \"\", name: dangling}]"),
  });
  EXPECT_EQ(ErrorCount(res.snapshot), 0u) << Dump(res.snapshot);
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "to-waypoint"), IsEmpty());
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "to-bound"), IsEmpty());
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "to-missing-gw"),
              ElementsAre("WARNING spec.targetRefs[0]: not enforced: no waypoint named shop/nope"));
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "to-ingress"),
              ElementsAre("WARNING spec.targetRefs[0]: not enforced: no waypoint named "
                          "shop/ingress (Gateway shop/ingress has class \"example\")"));
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "to-unbound"),
              ElementsAre("WARNING spec.targetRefs[0]: enforced only by a waypoint; Service "
                          "shop/unbound has none, so this policy is not enforced"));
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "to-dangling"),
              ElementsAre("WARNING spec.targetRefs[0]: enforced only by a waypoint; Service "
                          "shop/dangling has none (its waypoint Gateway shop/ghost does not "
                          "exist), so this policy is not enforced"));
  // Still compiled for the waypoint, as before.
  for (auto name : {"to-waypoint", "to-bound", "to-missing-gw", "to-unbound"}) {
    const pb::AuthorizationPolicy* p = FindAuthz(res.snapshot, "shop", name);
    ASSERT_NE(p, nullptr) << name;
    EXPECT_EQ(p->scope(), pb::AuthorizationPolicy::WAYPOINT);
    EXPECT_EQ(p->l7_rules_size(), 1);
  }
}

TEST(Waypoints, GatewayClassAndCrossNamespaceTargetRefs) {
  std::string all = R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: all-waypoints, namespace: istio-system}
spec:
  targetRefs: [{kind: GatewayClass, group: gateway.networking.k8s.io, name: istio-waypoint}]
  action: DENY
  rules: [{to: [{operation: {paths: [/debug*]}}]}]
)";
  auto res = CompileYaml(
      {all, Waypoint("infra", "wp"), Service("infra", "web", "weft.dev/use-waypoint: wp"),
       Ap("class-not-root",
          "[{kind: GatewayClass, group: gateway.networking.k8s.io, name: weft-waypoint}]"),
       Ap("cross-ns",
          "[{kind: Gateway, group: gateway.networking.k8s.io, name: wp, namespace: infra}]"),
       Ap("cross-ns-svc", "[{kind: Service, group: \"\", name: web, namespace: infra}]")});
  // Cross-namespace targetRefs are refused, as Istio's validatePolicyTargetReference does.
  EXPECT_EQ(ErrorCount(res.snapshot), 2u) << Dump(res.snapshot);
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "all-waypoints"), IsEmpty());
  EXPECT_NE(FindAuthz(res.snapshot, "istio-system", "all-waypoints"), nullptr);
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "class-not-root"),
              ElementsAre("WARNING spec.targetRefs[0]: not enforced: a GatewayClass targetRef "
                          "applies only to a waypoint class (weft-waypoint, istio-waypoint), from "
                          "the root namespace istio-system"));
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "cross-ns"),
              ElementsAre("ERROR spec.targetRefs[0].namespace: targetRef namespace must not be "
                          "set; cross namespace referencing is not supported"));
  EXPECT_THAT(DiagsFor(res.snapshot, "AuthorizationPolicy", "cross-ns-svc"), SizeIs(1));
}

}  // namespace
}  // namespace weft::policy
