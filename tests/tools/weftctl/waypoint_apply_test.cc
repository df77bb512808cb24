// `weftctl waypoint apply|delete` against a real API server (tools/kube/control-plane) with the
// upstream CRDs of deploy/crds: the Gateway is created as `waypoint generate` prints it, applying
// again changes nothing, another spec is refused without --overwrite and replaced with it,
// --enroll-namespace labels the namespace, --wait times out without a controller (exit 1) and
// returns once something sets Programmed, delete removes the Gateway and the namespace's label.

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "core/kube/client.h"
#include "core/kube/config.h"
#include "tests/testing/command.h"
#include "tests/testing/kube_control_plane.h"
#include "tests/testing/temp_dir.h"

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

using Result = weft::testing::CommandResult;

class WeftctlWaypointApply : public ::testing::Test {
 protected:
  weft::testing::TempDir tmp_{"weftctl-waypoint-apply"};
  std::string dir_ = tmp_.str();

  // weftctl `args` with `env` (VAR=value words) in front.
  Result Weftctl(const std::string& args, const std::string& env = "") {
    return weft::testing::RunCommand(env + " " + std::string(WEFTCTL_PATH) + " " + args);
  }

  std::shared_ptr<weft::kube::Client> Client(const weft::testing::KubeControlPlane& cp) {
    auto cfg = weft::kube::LoadKubeconfig(cp.kubeconfig());
    EXPECT_TRUE(cfg.ok()) << cfg.status();
    auto c = weft::kube::Client::Create(*cfg);
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }
};

constexpr char kGateways[] = "/apis/gateway.networking.k8s.io/v1/namespaces/";

json GetGateway(weft::kube::Client& c, const std::string& ns, const std::string& name) {
  auto g = c.Get(kGateways + ns + "/gateways/" + name);
  return g.ok() ? *g : json();
}

std::string UseWaypoint(weft::kube::Client& c, const std::string& ns) {
  auto n = c.Get("/api/v1/namespaces/" + ns);
  if (!n.ok()) return "<" + std::string(n.status().message()) + ">";
  const json& labels = (*n)["metadata"].value("labels", json::object());
  return labels.value("weft.dev/use-waypoint", "");
}

void InstallCrds(weft::testing::KubeControlPlane& cp) {
  std::string out;
  ASSERT_EQ(
      cp.Kubectl("apply --server-side -k " + std::string(WEFT_SOURCE_DIR) + "/deploy/crds", &out),
      0)
      << out;
  ASSERT_EQ(cp.Kubectl("wait --for condition=established --timeout 30s crd --all", &out), 0) << out;
}

TEST_F(WeftctlWaypointApply, CreatesReappliesRefusesOverwritesEnrollsWaitsAndDeletes) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  auto c = Client(cp);
  ASSERT_TRUE(c);
  const std::string kc = " --kubeconfig " + cp.kubeconfig();
  std::string out;

  // No namespace, then no Gateway API: clear errors, exit 1.
  Result none = Weftctl("waypoint apply -n demo" + kc);
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_NE(none.err.find("namespace demo does not exist"), std::string::npos) << none.err;
  ASSERT_EQ(cp.Kubectl("create namespace demo"), 0);
  Result no_crd = Weftctl("waypoint apply -n demo" + kc);
  EXPECT_EQ(no_crd.exit_code, 1) << no_crd.out << no_crd.err;
  EXPECT_NE(no_crd.err.find("does not serve gateway.networking.k8s.io/v1 Gateways"),
            std::string::npos)
      << no_crd.err;
  InstallCrds(cp);

  // Created: what `waypoint generate` prints, as stored (the CRD's defaults added).
  Result made = Weftctl("waypoint apply -n demo" + kc);
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  EXPECT_NE(made.out.find("gateway demo/waypoint created"), std::string::npos) << made.out;
  json gw = GetGateway(*c, "demo", "waypoint");
  ASSERT_TRUE(gw.is_object());
  EXPECT_EQ(gw["spec"]["gatewayClassName"], "weft-waypoint");
  ASSERT_EQ(gw["spec"]["listeners"].size(), 1u);
  EXPECT_EQ(gw["spec"]["listeners"][0]["name"], "mesh");
  EXPECT_EQ(gw["spec"]["listeners"][0]["port"], 15008);
  EXPECT_EQ(gw["spec"]["listeners"][0]["protocol"], "HBONE");
  EXPECT_FALSE(gw["metadata"].contains("annotations")) << gw.dump();
  const std::string version = gw["metadata"]["resourceVersion"];
  // The same YAML through kubectl makes the same spec.
  ASSERT_EQ(std::system((std::string(WEFTCTL_PATH) +
                         " waypoint generate -n demo --name via-kubectl >" + dir_ + "/wp.yaml")
                            .c_str()),
            0);
  ASSERT_EQ(cp.Kubectl("apply -f " + dir_ + "/wp.yaml", &out), 0) << out;
  EXPECT_EQ(GetGateway(*c, "demo", "via-kubectl")["spec"], gw["spec"]);

  // Again (and through $KUBECONFIG): nothing changes, even though the stored spec carries the
  // CRD's defaults; a Gateway made by kubectl from `generate` counts as the same.
  Result again = Weftctl("waypoint apply -n demo", "KUBECONFIG=" + cp.kubeconfig());
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("gateway demo/waypoint unchanged"), std::string::npos) << again.out;
  EXPECT_EQ(GetGateway(*c, "demo", "waypoint")["metadata"]["resourceVersion"], version);
  Result same = Weftctl("waypoint apply -n demo --name via-kubectl" + kc);
  EXPECT_EQ(same.exit_code, 0) << same.out << same.err;
  EXPECT_NE(same.out.find("unchanged"), std::string::npos) << same.out;

  // Another spec: refused and left as it is, unless --overwrite, which keeps the metadata.
  ASSERT_EQ(cp.Kubectl("-n demo patch gateway waypoint --type=merge -p "
                       R"('{"metadata":{"annotations":{"team":"shop"}},)"
                       R"("spec":{"gatewayClassName":"istio-waypoint"}}')",
                       &out),
            0)
      << out;
  Result refused = Weftctl("waypoint apply -n demo" + kc);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("gateway demo/waypoint exists with another spec (it differs in "
                             "spec.gatewayClassName): --overwrite replaces it"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(GetGateway(*c, "demo", "waypoint")["spec"]["gatewayClassName"], "istio-waypoint");
  Result replaced = Weftctl("waypoint apply -n demo --overwrite" + kc);
  EXPECT_EQ(replaced.exit_code, 0) << replaced.out << replaced.err;
  EXPECT_NE(replaced.out.find("gateway demo/waypoint replaced (spec.gatewayClassName)"),
            std::string::npos)
      << replaced.out;
  gw = GetGateway(*c, "demo", "waypoint");
  EXPECT_EQ(gw["spec"]["gatewayClassName"], "weft-waypoint");
  EXPECT_EQ(gw["metadata"]["annotations"].value("team", ""), "shop");
  // An extra listener is another spec too.
  ASSERT_EQ(cp.Kubectl("-n demo patch gateway waypoint --type=json -p "
                       R"('[{"op":"add","path":"/spec/listeners/-","value":)"
                       R"({"name":"proxy","port":15021,"protocol":"HTTP"}}]')",
                       &out),
            0)
      << out;
  Result listener = Weftctl("waypoint apply -n demo" + kc);
  EXPECT_EQ(listener.exit_code, 1) << listener.out << listener.err;
  EXPECT_NE(listener.err.find("spec.listeners"), std::string::npos) << listener.err;
  ASSERT_EQ(Weftctl("waypoint apply -n demo --overwrite" + kc).exit_code, 0);
  EXPECT_EQ(GetGateway(*c, "demo", "waypoint")["spec"]["listeners"].size(), 1u);

  // --enroll-namespace: the label, once; another waypoint's label is kept without --overwrite,
  // and then nothing is created.
  Result enrolled = Weftctl("waypoint apply -n demo --enroll-namespace" + kc);
  EXPECT_EQ(enrolled.exit_code, 0) << enrolled.out << enrolled.err;
  EXPECT_NE(enrolled.out.find("namespace demo labelled weft.dev/use-waypoint=waypoint"),
            std::string::npos)
      << enrolled.out;
  EXPECT_EQ(UseWaypoint(*c, "demo"), "waypoint");
  Result enrolled_again = Weftctl("waypoint apply -n demo --enroll-namespace" + kc);
  EXPECT_EQ(enrolled_again.exit_code, 0) << enrolled_again.out << enrolled_again.err;
  EXPECT_NE(enrolled_again.out.find("namespace demo already uses waypoint waypoint"),
            std::string::npos)
      << enrolled_again.out;
  Result moved = Weftctl("waypoint apply -n demo --name other --enroll-namespace" + kc);
  EXPECT_EQ(moved.exit_code, 1) << moved.out << moved.err;
  EXPECT_NE(moved.err.find("namespace demo uses waypoint waypoint (weft.dev/use-waypoint=waypoint)"
                           ": --overwrite moves it to other"),
            std::string::npos)
      << moved.err;
  EXPECT_TRUE(GetGateway(*c, "demo", "other").is_null()) << "nothing is created on a conflict";
  EXPECT_EQ(UseWaypoint(*c, "demo"), "waypoint");
  Result forced =
      Weftctl("waypoint apply -n demo --name other --enroll-namespace --overwrite" + kc);
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_NE(forced.out.find("namespace demo labelled weft.dev/use-waypoint=other (was waypoint)"),
            std::string::npos)
      << forced.out;
  EXPECT_EQ(UseWaypoint(*c, "demo"), "other");

  // --wait without a controller: exit 1 after the timeout, saying what the condition is.
  auto start = Clock::now();
  Result timed_out = Weftctl("waypoint apply -n demo --wait --timeout 2s" + kc);
  auto took = Clock::now() - start;
  EXPECT_EQ(timed_out.exit_code, 1) << timed_out.out << timed_out.err;
  EXPECT_NE(timed_out.err.find("gateway demo/waypoint is not programmed after 2s: Programmed is "
                               "Unknown (Pending: Waiting for controller)"),
            std::string::npos)
      << timed_out.err;
  EXPECT_GE(took, std::chrono::milliseconds(1900));
  EXPECT_LT(took, std::chrono::seconds(15));

  // Something (the controller, here the test) sets Programmed meanwhile: exit 0.
  std::thread controller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    json status = {
        {"status",
         {{"conditions",
           {{{"type", "Programmed"},
             {"status", "True"},
             {"reason", "Programmed"},
             {"message", "test"},
             {"observedGeneration", GetGateway(*c, "demo", "waypoint")["metadata"]["generation"]},
             {"lastTransitionTime", "2026-01-01T00:00:00Z"}}}}}}};
    auto r = c->Patch(std::string(kGateways) + "demo/gateways/waypoint/status", status);
    EXPECT_TRUE(r.ok()) << r.status();
  });
  start = Clock::now();
  Result waited = Weftctl("waypoint apply -n demo --wait --timeout 30s" + kc);
  took = Clock::now() - start;
  controller.join();
  EXPECT_EQ(waited.exit_code, 0) << waited.out << waited.err;
  EXPECT_NE(waited.out.find("gateway demo/waypoint programmed"), std::string::npos) << waited.out;
  EXPECT_LT(took, std::chrono::seconds(15));

  // delete: the Gateway and, when it names it, the namespace's label; a Service still bound to
  // it is named (its traffic is refused while it names a waypoint that does not exist).
  ASSERT_EQ(cp.Kubectl("-n demo create service clusterip web --tcp=80:8080", &out), 0) << out;
  ASSERT_EQ(cp.Kubectl("-n demo label service web weft.dev/use-waypoint=other", &out), 0) << out;
  Result del_other = Weftctl("waypoint delete -n demo other" + kc);
  EXPECT_EQ(del_other.exit_code, 0) << del_other.out << del_other.err;
  EXPECT_NE(del_other.out.find("gateway demo/other deleted"), std::string::npos) << del_other.out;
  EXPECT_NE(del_other.out.find("namespace demo: label weft.dev/use-waypoint=other removed"),
            std::string::npos)
      << del_other.out;
  EXPECT_NE(del_other.err.find("service demo/web still has weft.dev/use-waypoint=other"),
            std::string::npos)
      << del_other.err;
  EXPECT_TRUE(GetGateway(*c, "demo", "other").is_null());
  EXPECT_EQ(UseWaypoint(*c, "demo"), "");
  // The default name; a namespace label that names another waypoint is left alone.
  ASSERT_EQ(cp.Kubectl("label namespace demo weft.dev/use-waypoint=via-kubectl", &out), 0) << out;
  Result del = Weftctl("waypoint delete -n demo" + kc);
  EXPECT_EQ(del.exit_code, 0) << del.out << del.err;
  EXPECT_NE(del.out.find("gateway demo/waypoint deleted"), std::string::npos) << del.out;
  EXPECT_EQ(del.out.find("removed"), std::string::npos) << del.out;
  EXPECT_TRUE(GetGateway(*c, "demo", "waypoint").is_null());
  EXPECT_EQ(UseWaypoint(*c, "demo"), "via-kubectl");
  Result gone = Weftctl("waypoint delete -n demo" + kc);
  EXPECT_EQ(gone.exit_code, 1) << gone.out << gone.err;
  EXPECT_NE(gone.err.find("gateway demo/waypoint not found"), std::string::npos) << gone.err;

  // A Gateway of another class is not a waypoint: not deleted.
  std::ofstream(dir_ + "/ingress.yaml") << R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: ingress, namespace: demo}
spec:
  gatewayClassName: some-ingress
  listeners: [{name: http, port: 80, protocol: HTTP}]
)";
  ASSERT_EQ(cp.Kubectl("apply -f " + dir_ + "/ingress.yaml", &out), 0) << out;
  Result not_ours = Weftctl("waypoint delete -n demo ingress" + kc);
  EXPECT_EQ(not_ours.exit_code, 1) << not_ours.out << not_ours.err;
  EXPECT_NE(not_ours.err.find("gateway demo/ingress is not a waypoint (class some-ingress)"),
            std::string::npos)
      << not_ours.err;
  EXPECT_TRUE(GetGateway(*c, "demo", "ingress").is_object());
}

}  // namespace
