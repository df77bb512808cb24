// The CA's Kubernetes side against a real API server: TokenReview of real projected tokens
// (bound to pods, with audiences), pod placement from the informer and the API, and the
// whole path — a CaServer in token mode signing for a CaClient that sends a real token.

#include "agent/identity/kube_authority.h"

#include <gtest/gtest.h>

#include "agent/identity/ca_address.h"
#include "core/identity/csr.h"
#include "core/kube/config.h"
#include "tests/agent/identity/fixture.h"
#include "tests/testing/kube_control_plane.h"

namespace weft::agent {
namespace {

using namespace std::chrono_literals;
using identity::SpiffeId;
using identity::testing::Must;
using json = nlohmann::json;

std::shared_ptr<kube::Client> AdminClient(const ::weft::testing::KubeControlPlane& cp) {
  auto cfg = kube::LoadKubeconfig(cp.kubeconfig());
  EXPECT_TRUE(cfg.ok()) << cfg.status();
  return Must(kube::Client::Create(*cfg));
}

class KubeAuthorityTest : public ::testing::Test {
 protected:
  void Create(const std::string& path, const json& obj) {
    auto r = admin_->Post(path, obj);
    ASSERT_TRUE(r.ok()) << path << ": " << r.status();
    last_ = *r;
  }
  void Namespace(const std::string& name) {
    Create("/api/v1/namespaces",
           {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}});
  }
  void ServiceAccount(const std::string& ns, const std::string& name) {
    Create("/api/v1/namespaces/" + ns + "/serviceaccounts",
           {{"apiVersion", "v1"},
            {"kind", "ServiceAccount"},
            {"metadata", {{"name", name}, {"namespace", ns}}}});
  }
  void Node(const std::string& name) {
    Create("/api/v1/nodes",
           {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", name}}}});
  }
  // A pod bound to `node` (no scheduler or kubelet needed: spec.nodeName is set).
  std::string Pod(const std::string& ns, const std::string& name, const std::string& sa,
                  const std::string& node) {
    Create("/api/v1/namespaces/" + ns + "/pods",
           {{"apiVersion", "v1"},
            {"kind", "Pod"},
            {"metadata", {{"name", name}, {"namespace", ns}}},
            {"spec",
             {{"serviceAccountName", sa},
              {"nodeName", node},
              {"automountServiceAccountToken", false},
              {"containers", {{{"name", "c"}, {"image", "weft"}}}}}}});
    return last_["metadata"]["uid"];
  }
  // A projected-style token (TokenRequest) for `sa`, bound to the pod when given.
  std::string Token(const std::string& ns, const std::string& sa, const std::string& audience,
                    const std::string& pod = "", const std::string& uid = "") {
    json spec = {{"audiences", {audience}}, {"expirationSeconds", 3600}};
    if (!pod.empty()) {
      spec["boundObjectRef"] = {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", pod}, {"uid", uid}};
    }
    Create("/api/v1/namespaces/" + ns + "/serviceaccounts/" + sa + "/token",
           {{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}});
    return last_["status"]["token"];
  }
  // The usual layout: the agent's account, a node with an agent pod, and a workload.
  void Populate() {
    Namespace("weft-system");
    Namespace("demo");
    ServiceAccount("weft-system", "weft-agent");
    ServiceAccount("demo", "web");
    ServiceAccount("demo", "wp");
    Node("node1");
    Node("node2");
    agent_uid_ = Pod("weft-system", "agent-1", "weft-agent", "node1");
    Pod("demo", "web-1", "web", "node1");
  }

  std::shared_ptr<kube::Client> admin_;
  json last_;
  std::string agent_uid_;
};

TEST_F(KubeAuthorityTest, TokenReviewMapsAgentsToTheirNodeAndOthersToThemselves) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  admin_ = AdminClient(cp);
  Populate();
  TokenReviewer reviewer(admin_, {});

  auto agent =
      reviewer.Authenticate(Token("weft-system", "weft-agent", "weft-ca", "agent-1", agent_uid_));
  ASSERT_TRUE(agent.ok()) << agent.status();
  EXPECT_EQ(agent->str(), "spiffe://cluster.local/weft/node/node1");

  auto wp = reviewer.Authenticate(Token("demo", "wp", "weft-ca"));
  ASSERT_TRUE(wp.ok()) << wp.status();
  EXPECT_EQ(wp->str(), "spiffe://cluster.local/ns/demo/sa/wp");

  // Another audience (e.g. the API server's own): not for us.
  auto aud = reviewer.Authenticate(
      Token("weft-system", "weft-agent", "https://kubernetes.default.svc", "agent-1", agent_uid_));
  EXPECT_EQ(aud.status().code(), absl::StatusCode::kUnauthenticated) << aud.status();
  // An agent token not bound to a pod speaks for no node.
  auto unbound = reviewer.Authenticate(Token("weft-system", "weft-agent", "weft-ca"));
  EXPECT_EQ(unbound.status().code(), absl::StatusCode::kPermissionDenied) << unbound.status();
  EXPECT_EQ(reviewer.Authenticate("not-a-token").status().code(),
            absl::StatusCode::kUnauthenticated);

  // The agent's pod is deleted: its bound token dies with it.
  std::string token = Token("weft-system", "weft-agent", "weft-ca", "agent-1", agent_uid_);
  ASSERT_TRUE(
      admin_->Delete("/api/v1/namespaces/weft-system/pods/agent-1?gracePeriodSeconds=0").ok());
  bool refused = false;
  for (int i = 0; i < 50 && !refused; ++i) {
    refused = reviewer.Authenticate(token).status().code() == absl::StatusCode::kUnauthenticated;
    if (!refused) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(refused) << "a token bound to a deleted pod is refused";
}

TEST_F(KubeAuthorityTest, TokenReviewFailuresAreUnavailableNotTheRequestersFault) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  admin_ = AdminClient(cp);
  Populate();
  std::string token = Token("demo", "wp", "weft-ca");
  // A reviewer whose own credentials may not create TokenReviews.
  std::string out;
  ASSERT_EQ(std::system((::weft::testing::KubeControlPlane::Script() + " user " + cp.dir +
                         " nobody >/dev/null 2>&1")
                            .c_str()),
            0);
  auto cfg = kube::LoadKubeconfig(cp.dir + "/nobody.kubeconfig");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  TokenReviewer unprivileged(Must(kube::Client::Create(*cfg)), {});
  auto r = unprivileged.Authenticate(token);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("403"), std::string::npos) << r.status();

  ASSERT_TRUE(cp.Stop("kube-apiserver"));
  TokenReviewer reviewer(admin_, {});
  EXPECT_EQ(reviewer.Authenticate(token).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(KubeAuthorityTest, PodPlacementFollowsPodsAndAsksTheApiOnAMiss) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  admin_ = AdminClient(cp);
  Populate();
  PodPlacement placement(admin_);
  ASSERT_TRUE(testing::WaitFor([&] { return placement.synced(); }, 20s));
  EXPECT_TRUE(testing::WaitFor([&] { return placement.HasPod("node1", "demo", "web"); }, 5s));
  uint64_t lookups = placement.api_lookups();
  EXPECT_FALSE(placement.HasPod("node2", "demo", "web"));
  EXPECT_FALSE(placement.HasPod("node1", "demo", "db"));
  EXPECT_EQ(placement.api_lookups(), lookups + 2) << "a miss is checked against the API";

  // A pod that finished (Succeeded) no longer places its account there.
  json status = {{"status", {{"phase", "Succeeded"}}}};
  auto r = admin_->Request("PATCH", "/api/v1/namespaces/demo/pods/web-1/status", status.dump(),
                           "application/merge-patch+json");
  ASSERT_TRUE(r.ok() && r->ok()) << (r.ok() ? r->body : std::string(r.status().message()));
  EXPECT_TRUE(testing::WaitFor([&] { return !placement.HasPod("node1", "demo", "web"); }, 5s));

  // The default ServiceAccount is "default" (no controllers here to make it).
  ServiceAccount("demo", "default");
  Create("/api/v1/namespaces/demo/pods",
         {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", {{"name", "plain"}, {"namespace", "demo"}}},
          {"spec",
           {{"nodeName", "node2"},
            {"automountServiceAccountToken", false},
            {"containers", {{{"name", "c"}, {"image", "weft"}}}}}}});
  // Straight after the create: the informer may not have it yet, the API has.
  EXPECT_TRUE(placement.HasPod("node2", "demo", "default"));
  ASSERT_TRUE(admin_->Delete("/api/v1/namespaces/demo/pods/plain?gracePeriodSeconds=0").ok());
  EXPECT_TRUE(testing::WaitFor([&] { return !placement.HasPod("node2", "demo", "default"); }, 5s));
}

TEST_F(KubeAuthorityTest, ATokenClientGetsItsCertificatesFromTheCaEndToEnd) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  admin_ = AdminClient(cp);
  Populate();
  auto reviewer = std::make_shared<TokenReviewer>(admin_, TokenReviewOptions{});
  PodPlacement placement(admin_);
  CaServerOptions o;
  o.authenticate_token = [reviewer](const std::string& t) { return reviewer->Authenticate(t); };
  auto ca = testing::MakeShortCa();
  testing::RunningCa server(
      ca,
      [&](std::string_view node, std::string_view ns, std::string_view sa) {
        return placement.HasPod(node, ns, sa);
      },
      0, o);
  testing::TempDir dir;
  std::string bundle = dir.Write("root-cert.pem", ca.root().ToPem());
  auto creds = [&](const std::string& token) {
    return Must(LoadTokenCredentials(dir.Write("token", token), bundle, "cluster.local"));
  };
  auto csr = [](std::string_view ns, std::string_view sa) {
    auto key = Must(identity::KeyPair::GenerateP256());
    return Must(identity::CreateCsr(key, Must(SpiffeId::Workload("cluster.local", ns, sa))));
  };
  CaClientOptions copts{.address = server.address()};
  std::string agent = Token("weft-system", "weft-agent", "weft-ca", "agent-1", agent_uid_);

  auto r = SignBlocking(copts, creds(agent), csr("demo", "web"), 1h);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(Must(Must(identity::Certificate::FromPem(r->cert_pem)).GetSpiffeId()).str(),
            "spiffe://cluster.local/ns/demo/sa/web");
  // Nothing of demo/wp runs on node1.
  EXPECT_EQ(SignBlocking(copts, creds(agent), csr("demo", "wp"), 1h).status().code(),
            absl::StatusCode::kPermissionDenied);
  // The waypoint's own token: its own identity.
  EXPECT_TRUE(
      SignBlocking(copts, creds(Token("demo", "wp", "weft-ca")), csr("demo", "wp"), 1h).ok());
  EXPECT_EQ(server.stats().token_requests, 3u);
}

TEST_F(KubeAuthorityTest, ACaServiceAddressResolvesFromItsEndpointSlices) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  admin_ = AdminClient(cp);
  Namespace("weft-system");
  Create("/api/v1/namespaces/weft-system/services",
         {{"apiVersion", "v1"},
          {"kind", "Service"},
          {"metadata", {{"name", "weft-ca"}, {"namespace", "weft-system"}}},
          {"spec",
           {{"ports",
             {{{"name", "tcp-ca"}, {"port", 15012}, {"targetPort", 15012}},
              {{"name", "other"}, {"port", 80}, {"targetPort", 8080}}}}}}});
  // No controllers here: the slice the EndpointSlice controller would write.
  Create("/apis/discovery.k8s.io/v1/namespaces/weft-system/endpointslices",
         {{"apiVersion", "discovery.k8s.io/v1"},
          {"kind", "EndpointSlice"},
          {"metadata",
           {{"name", "weft-ca-abc"},
            {"namespace", "weft-system"},
            {"labels", {{"kubernetes.io/service-name", "weft-ca"}}}}},
          {"addressType", "IPv4"},
          {"ports", {{{"name", "tcp-ca"}, {"port", 15013}}, {{"name", "other"}, {"port", 8080}}}},
          {"endpoints",
           {{{"addresses", {"10.244.1.7"}}, {"conditions", {{"ready", false}}}},
            {{"addresses", {"10.244.2.9"}}, {"conditions", {{"ready", true}}}}}}});
  for (std::string name :
       {"weft-ca.weft-system.svc:15012", "weft-ca.weft-system.svc.cluster.local:15012"}) {
    CaAddressResolver resolver(name, cp.kubeconfig());
    auto ep = resolver.Resolve();
    ASSERT_TRUE(ep.ok()) << name << ": " << ep.status();
    EXPECT_EQ(ep->address().to_string(), "10.244.2.9") << "the ready endpoint";
    EXPECT_EQ(ep->port(), 15013) << "the port the Service port maps to";
  }
  CaAddressResolver missing("nope.weft-system.svc:15012", cp.kubeconfig());
  EXPECT_EQ(missing.Resolve().status().code(), absl::StatusCode::kUnavailable);
  CaAddressResolver wrong_port("weft-ca.weft-system.svc:9999", cp.kubeconfig());
  auto w = wrong_port.Resolve();
  EXPECT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("no port 9999"), std::string::npos) << w.status();
}

// RequesterOf without an API server: the pod of a token that names only its pod comes from a
// getter. A status or pod whose fields have other types than the API's made RequesterOf throw
// (nlohmann's value()), which ends the CA process from its token worker: tests/fuzz/
// kube_auth_fuzzer found "user": null; the other cases here are the same reads.
TEST(TokenReviewerTest, RequesterOfStatusesOfAnyShape) {
  TokenReviewer reviewer(nullptr, {});
  const json agent_user = {{"username", "system:serviceaccount:weft-system:weft-agent"},
                           {"extra",
                            {{"authentication.kubernetes.io/pod-name", {"agent-1"}},
                             {"authentication.kubernetes.io/pod-uid", {"u1"}}}}};
  json status = {{"authenticated", true}, {"audiences", {"weft-ca"}}, {"user", agent_user}};
  json pod = {{"metadata", {{"uid", "u1"}}}, {"spec", {{"nodeName", "node2"}}}};
  auto get_pod = [&](const std::string& ns, const std::string& name) -> absl::StatusOr<json> {
    EXPECT_EQ(ns + "/" + name, "weft-system/agent-1");
    return pod;
  };
  auto id = reviewer.RequesterOf(status, get_pod);
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(id->str(), "spiffe://cluster.local/weft/node/node2");

  auto code = [&](const json& st) {
    try {
      return reviewer.RequesterOf(st, get_pod).status().code();
    } catch (const std::exception& e) {
      ADD_FAILURE() << st.dump() << " threw " << e.what();
      return absl::StatusCode::kInternal;
    }
  };
  EXPECT_EQ(code({{"authenticated", "true"}}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code({{"authenticated", 1}}), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(code({{"authenticated", false}, {"error", 5}}), absl::StatusCode::kUnauthenticated);
  json s = status;
  s["user"] = nullptr;
  EXPECT_EQ(code(s), absl::StatusCode::kPermissionDenied);
  s["user"] = json::array({1});
  EXPECT_EQ(code(s), absl::StatusCode::kPermissionDenied);
  s["user"] = {{"username", 7}};
  EXPECT_EQ(code(s), absl::StatusCode::kPermissionDenied);
  pod = {{"metadata", {{"uid", 5}}}, {"spec", {{"nodeName", "node2"}}}};
  EXPECT_EQ(code(status), absl::StatusCode::kPermissionDenied) << "not the token's pod";
  pod = {{"metadata", {{"uid", "u1"}}}, {"spec", {{"nodeName", 2}}}};
  EXPECT_EQ(code(status), absl::StatusCode::kPermissionDenied) << "no node";
  pod = json::array();
  EXPECT_EQ(code(status), absl::StatusCode::kPermissionDenied);
}

TEST(CaAddressTest, Parses) {
  auto p = Must(ParseCaAddress("weft-ca.weft-system.svc:15012"));
  EXPECT_EQ(p.service, "weft-ca");
  EXPECT_EQ(p.ns, "weft-system");
  EXPECT_EQ(p.port, 15012);
  EXPECT_EQ(Must(ParseCaAddress("weft-ca.weft-system.svc.cluster.local:1")).ns, "weft-system");
  EXPECT_TRUE(Must(ParseCaAddress("ca.example.com:15012")).service.empty());
  EXPECT_TRUE(Must(ParseCaAddress("a.b.svcx:1")).service.empty());
  EXPECT_EQ(Must(ParseCaAddress("[::1]:15012")).host, "::1");
  EXPECT_FALSE(ParseCaAddress("weft-ca").ok());
  EXPECT_FALSE(ParseCaAddress("weft-ca:0").ok());
  EXPECT_FALSE(ParseCaAddress("weft-ca:99999").ok());
  EXPECT_FALSE(ParseCaAddress("weft-ca:http").ok());
  // Hosts: a name, an IPv4 address, or an IPv6 address in brackets; nothing else.
  EXPECT_FALSE(ParseCaAddress("[]:1").ok());
  EXPECT_FALSE(ParseCaAddress("[[x]]:1").ok());
  EXPECT_FALSE(ParseCaAddress("a:b:1").ok());
  EXPECT_FALSE(ParseCaAddress("[::1:1").ok());
  EXPECT_FALSE(ParseCaAddress("ca example:1").ok());
  EXPECT_EQ(Must(ParseCaAddress("10.0.0.1:15012")).host, "10.0.0.1");
  CaAddressResolver literal("127.0.0.1:15012");
  EXPECT_EQ(Must(literal.Resolve()).port(), 15012);
  CaAddressResolver dns("localhost:15012");
  EXPECT_TRUE(Must(dns.Resolve()).address().is_loopback());
}

}  // namespace
}  // namespace weft::agent
