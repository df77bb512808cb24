// `weftctl explain` and `weftctl validate`, run as the real binary on a small mesh: what a
// resource produced (down to the BPF map entries and their nodes), why a VirtualService does not
// apply, which resources decide traffic to a host or a pod, and per-document verdicts.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/testing/command.h"
#include "tests/testing/temp_dir.h"

namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

weft::testing::CommandResult Weftctl(const std::string& args) {
  return weft::testing::RunCommand(std::string(WEFTCTL_PATH) + " " + args);
}

constexpr char kMesh[] = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {weft.dev/dataplane-mode: ambient, weft.dev/use-waypoint: waypoint}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: shop}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
---
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: shop}
spec:
  clusterIP: 10.96.0.30
  selector: {app: reviews}
  ports: [{name: http, port: 9080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: reviews-1
  namespace: shop
  labels: {app: reviews, version: v1}
spec: {nodeName: node-a, serviceAccountName: reviews}
status: {podIP: 10.1.0.5, phase: Running}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: reviews-get, namespace: shop}
spec:
  targetRefs: [{kind: Service, group: "", name: reviews}]
  rules: [{to: [{operation: {methods: [GET]}}]}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: first, namespace: shop, creationTimestamp: "2026-01-01T00:00:00Z"}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews, subset: v1}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: second, namespace: shop, creationTimestamp: "2026-02-01T00:00:00Z"}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
)";

class ExplainTest : public ::testing::Test {
 protected:
  weft::testing::TempDir tmp_{"weftctl-explain"};
  fs::path dir_ = tmp_.path();
  std::string file_ = tmp_.Write("mesh.yaml", kMesh);
};

TEST_F(ExplainTest, AResourceAndWhatItProduced) {
  auto svc = Weftctl("explain -f " + file_ + " Service/shop/reviews");
  ASSERT_EQ(svc.exit_code, 0) << svc.all();
  EXPECT_THAT(svc.out, HasSubstr("Service/shop/reviews (" + file_ + ":14)"));
  EXPECT_THAT(svc.out, HasSubstr("compiled"));
  EXPECT_THAT(svc.out, HasSubstr("service reviews.shop.svc.cluster.local VIP 10.96.0.30 ports "
                                 "9080; waypoint: shop/waypoint"));
  EXPECT_THAT(svc.out, HasSubstr("weft_svc_v1 10.96.0.30:9080/tcp -> service "
                                 "reviews.shop.svc.cluster.local id"));

  auto pod = Weftctl("explain -f " + file_ + " Pod/shop/reviews-1");
  ASSERT_EQ(pod.exit_code, 0) << pod.all();
  EXPECT_THAT(pod.out, HasSubstr("workload shop/reviews-1 on node node-a"));
  EXPECT_THAT(pod.out, HasSubstr("weft_svc_v1 10.1.0.5:*/tcp -> workload shop/reviews-1"));
  EXPECT_THAT(pod.out, HasSubstr("weft_inbound_v1 10.1.0.5 -> its :15006 listener (agent of "
                                 "node node-a)"));
  EXPECT_THAT(pod.out, HasSubstr("endpoint 10.1.0.5 of reviews.shop.svc.cluster.local on node "
                                 "node-a"));

  auto pa = Weftctl("explain -f " + file_ + " PeerAuthentication/shop/strict");
  EXPECT_THAT(pa.out, HasSubstr("decides mTLS of workload shop/reviews-1 (node node-a): STRICT"));

  auto ap = Weftctl("explain -f " + file_ + " AuthorizationPolicy/shop/reviews-get");
  EXPECT_THAT(ap.out, HasSubstr("enforced at the waypoint, for Service reviews"));

  auto vs = Weftctl("explain -f " + file_ + " VirtualService/shop/first");
  EXPECT_THAT(vs.out, HasSubstr("route table reviews.shop.svc.cluster.local (every port), owned "
                                "by VirtualService/shop/first"));
  EXPECT_THAT(vs.out, HasSubstr("evaluated by waypoint shop/waypoint"));
  EXPECT_THAT(vs.out, HasSubstr("-> reviews.shop.svc.cluster.local subset v1 100%"));
}

// "Why does my VirtualService not apply?"
TEST_F(ExplainTest, TheLoserOfAConflictSaysWhy) {
  auto vs = Weftctl("explain -f " + file_ + " VirtualService/shop/second");
  ASSERT_EQ(vs.exit_code, 0) << vs.all();
  EXPECT_THAT(vs.out, HasSubstr("left out of the snapshot"));
  EXPECT_THAT(vs.out, HasSubstr("is already routed by VirtualService shop/first"));
  EXPECT_THAT(vs.out, Not(HasSubstr("route table")));

  auto to = Weftctl("explain -f " + file_ + " --to reviews.shop:9080");
  ASSERT_EQ(to.exit_code, 0) << to.all();
  const std::string& o = to.out;
  // In the order the data path applies them.
  size_t dst = o.find("1. destination"), wp = o.find("2. waypoint"), rt = o.find("3. routes"),
         dr = o.find("4. traffic policy"), az = o.find("5. authorization"), mt = o.find("6. mTLS"),
         ep = o.find("7. endpoints");
  ASSERT_NE(ep, std::string::npos) << o;
  EXPECT_TRUE(dst < wp && wp < rt && rt < dr && dr < az && az < mt && mt < ep) << o;
  EXPECT_THAT(o, HasSubstr("waypoint shop/waypoint"));
  EXPECT_THAT(o, HasSubstr("owned by VirtualService/shop/first"));
  EXPECT_THAT(o, HasSubstr("not applied: VirtualService/shop/second (" + file_ + ":"));
  EXPECT_THAT(o, HasSubstr("outbound|0|v1|reviews.shop.svc.cluster.local from "
                           "DestinationRule/shop/reviews"));
  EXPECT_THAT(o, HasSubstr("waypoint: ALLOW AuthorizationPolicy/shop/reviews-get"));
  EXPECT_THAT(o, HasSubstr("shop/reviews-1: STRICT from PeerAuthentication/shop/strict"));
  EXPECT_THAT(o, HasSubstr("10.1.0.5 shop/reviews-1 on node node-a"));

  auto vip = Weftctl("explain -f " + file_ + " --to 10.96.0.30:9080 -o json");
  ASSERT_EQ(vip.exit_code, 0) << vip.all();
  auto j = nlohmann::json::parse(vip.out);
  EXPECT_EQ(j["subject"], "traffic to 10.96.0.30:9080");
  EXPECT_EQ(j["sections"].size(), 7u);
}

TEST_F(ExplainTest, APod) {
  auto r = Weftctl("explain -f " + file_ + " --pod shop/reviews-1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_THAT(r.out, HasSubstr("node node-a, addresses 10.1.0.5, identity "
                               "spiffe://cluster.local/ns/shop/sa/reviews"));
  EXPECT_THAT(r.out, HasSubstr("ambient (in the mesh) (its Namespace's label"));
  EXPECT_THAT(r.out, HasSubstr("STRICT from PeerAuthentication/shop/strict"));
  EXPECT_THAT(r.out, HasSubstr("reviews.shop.svc.cluster.local from Service/shop/reviews"));
}

TEST_F(ExplainTest, NotFoundAndBadInput) {
  EXPECT_EQ(Weftctl("explain -f " + file_ + " Service/shop/nope").exit_code, 1);
  EXPECT_EQ(Weftctl("explain -f " + file_ + " --pod shop/nope").exit_code, 1);
  EXPECT_EQ(Weftctl("explain -f " + file_ + " --to nothing.example.com").exit_code, 1);
  EXPECT_EQ(Weftctl("explain -f " + file_).exit_code, 2);  // no subject
  EXPECT_EQ(Weftctl("explain -f " + file_ + " Service").exit_code, 2);
  EXPECT_EQ(Weftctl("explain -f " + file_ + " --to reviews:99999").exit_code, 2);
}

// validate: each document alone; references to other resources are taken to exist.
TEST_F(ExplainTest, ValidateChecksEachDocumentAlone) {
  std::string f = (dir_ / "v.yaml").string();
  std::ofstream(f) << R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ok, namespace: shop}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: elsewhere, subset: v9}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad, namespace: shop}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: a}}, {destination: {host: b}}]}]
)";
  auto text = Weftctl("validate -f " + f);
  EXPECT_EQ(text.exit_code, 1) << text.all();
  EXPECT_THAT(text.out, HasSubstr("spec.http[0].route: total destination weight = 0"));
  EXPECT_THAT(text.out, HasSubstr("VirtualService/shop/bad (" + f + ":8) is invalid"));
  EXPECT_THAT(text.out, HasSubstr("1 of 2 documents invalid"));
  auto jsonl = Weftctl("validate -f " + f + " -o jsonl");
  std::istringstream lines(jsonl.out);
  std::string line;
  std::vector<nlohmann::json> v;
  while (std::getline(lines, line)) v.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[0]["name"], "ok");
  EXPECT_TRUE(v[0]["valid"]);  // its host and subset are not this command's business
  EXPECT_FALSE(v[1]["valid"]);
  EXPECT_EQ(v[1]["errors"][0], "spec.http[0].route: total destination weight = 0");
  // The conflict between the two VirtualServices is analyze's, not validate's.
  EXPECT_EQ(Weftctl("validate -f " + file_).exit_code, 0);
  EXPECT_EQ(Weftctl("analyze -f " + file_).exit_code, 1);
}

}  // namespace
