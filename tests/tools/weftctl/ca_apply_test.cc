// `weftctl ca init` against a real API server (tools/kube/control-plane): --apply creates the
// Secret and ConfigMap weft-ca-root, a second --apply leaves the root alone, --force replaces
// it, a missing namespace is an error; the printed YAML piped to kubectl works.

#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/escaping.h"
#include "core/identity/ca.h"
#include "core/kube/client.h"
#include "core/kube/config.h"
#include "tests/testing/command.h"
#include "tests/testing/kube_control_plane.h"
#include "tests/testing/temp_dir.h"

namespace {

using weft::identity::CertificateAuthority;

using Result = weft::testing::CommandResult;

class WeftctlCaApply : public ::testing::Test {
 protected:
  weft::testing::TempDir tmp_{"weftctl-ca-apply"};
  std::string dir_ = tmp_.str();

  // weftctl `args` with `env` (VAR=value words) in front; the key must never be on stderr.
  Result Weftctl(const std::string& args, const std::string& env = "") {
    Result r = weft::testing::RunCommand(env + " " + std::string(WEFTCTL_PATH) + " " + args);
    EXPECT_EQ(r.err.find("PRIVATE KEY"), std::string::npos) << "key on stderr: " << args;
    EXPECT_EQ(r.out.find("PRIVATE KEY"), std::string::npos) << "key on stdout: " << args;
    return r;
  }

  std::shared_ptr<weft::kube::Client> Client(const weft::testing::KubeControlPlane& cp) {
    auto cfg = weft::kube::LoadKubeconfig(cp.kubeconfig());
    EXPECT_TRUE(cfg.ok()) << cfg.status();
    auto c = weft::kube::Client::Create(*cfg);
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }
};

// What the cluster holds, read back with the API.
struct Root {
  std::string ca_crt, ca_key, root_cert_pem, secret_version;
  nlohmann::json secret, configmap;
};

Root Read(weft::kube::Client& c, const std::string& ns) {
  Root r;
  auto s = c.Get("/api/v1/namespaces/" + ns + "/secrets/weft-ca-root");
  EXPECT_TRUE(s.ok()) << s.status();
  auto m = c.Get("/api/v1/namespaces/" + ns + "/configmaps/weft-ca-root");
  EXPECT_TRUE(m.ok()) << m.status();
  if (!s.ok() || !m.ok()) return r;
  r.secret = *s;
  r.configmap = *m;
  EXPECT_TRUE(absl::Base64Unescape(s->at("data").value("ca.crt", ""), &r.ca_crt));
  EXPECT_TRUE(absl::Base64Unescape(s->at("data").value("ca.key", ""), &r.ca_key));
  r.secret_version = (*s)["metadata"].value("resourceVersion", "");
  r.root_cert_pem = (*m)["data"].value("root-cert.pem", "");
  return r;
}

// Both objects as `weftctl ca init` makes them: a CA for `td` with its key.
void ExpectRoot(const Root& r, const std::string& td) {
  EXPECT_EQ(r.secret.value("type", ""), "Opaque");
  EXPECT_EQ(r.secret["data"].size(), 2u);
  EXPECT_EQ(r.secret["metadata"]["labels"].value("app.kubernetes.io/part-of", ""), "weft");
  EXPECT_EQ(r.configmap["metadata"]["labels"].value("app.kubernetes.io/part-of", ""), "weft");
  EXPECT_EQ(r.configmap["data"].size(), 1u);
  EXPECT_EQ(r.root_cert_pem, r.ca_crt);
  auto ca = CertificateAuthority::FromPem(r.ca_crt, r.ca_key);
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_EQ(ca->trust_domain(), td);
  EXPECT_TRUE(ca->root().IsCa());
}

TEST_F(WeftctlCaApply, CreatesKeepsAndForces) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  auto c = Client(cp);
  ASSERT_TRUE(c);
  const std::string kc = " --kubeconfig " + cp.kubeconfig();

  // No namespace: a clear error, nothing made.
  Result none = Weftctl("ca init --apply -n weft-system" + kc);
  EXPECT_EQ(none.exit_code, 1) << none.out << none.err;
  EXPECT_NE(none.err.find("namespace weft-system does not exist"), std::string::npos) << none.err;
  EXPECT_NE(cp.Kubectl("get namespace weft-system"), 0);

  ASSERT_EQ(cp.Kubectl("create namespace weft-system"), 0);
  Result made = Weftctl("ca init --apply --trust-domain example.org" + kc);
  ASSERT_EQ(made.exit_code, 0) << made.out << made.err;
  EXPECT_NE(made.out.find("secret/weft-ca-root created (trust domain example.org"),
            std::string::npos)
      << made.out;
  EXPECT_NE(made.out.find("configmap/weft-ca-root created"), std::string::npos) << made.out;
  Root first = Read(*c, "weft-system");
  ExpectRoot(first, "example.org");

  // Again: the root stays (same key, same object version).
  Result again = Weftctl("ca init --apply" + kc);
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_NE(again.out.find("secret/weft-ca-root exists in namespace weft-system (trust domain "
                           "example.org"),
            std::string::npos)
      << again.out;
  EXPECT_NE(again.out.find("left unchanged"), std::string::npos) << again.out;
  Root kept = Read(*c, "weft-system");
  EXPECT_EQ(kept.ca_key, first.ca_key);
  EXPECT_EQ(kept.ca_crt, first.ca_crt);
  EXPECT_EQ(kept.secret_version, first.secret_version);
  EXPECT_EQ(kept.root_cert_pem, first.ca_crt);

  // A lost ConfigMap is made again from the Secret's certificate, through $KUBECONFIG.
  ASSERT_EQ(cp.Kubectl("-n weft-system delete configmap weft-ca-root"), 0);
  Result remade = Weftctl("ca init --apply", "KUBECONFIG=" + cp.kubeconfig());
  EXPECT_EQ(remade.exit_code, 0) << remade.out << remade.err;
  EXPECT_NE(remade.out.find("configmap/weft-ca-root created from the existing Secret's"),
            std::string::npos)
      << remade.out;
  Root healed = Read(*c, "weft-system");
  EXPECT_EQ(healed.root_cert_pem, first.ca_crt);
  EXPECT_EQ(healed.ca_key, first.ca_key);

  // A ConfigMap that does not match the Secret is reported, not changed.
  auto stranger = CertificateAuthority::CreateRoot("example.org", std::chrono::hours(24));
  ASSERT_TRUE(stranger.ok());
  auto patched = c->Patch("/api/v1/namespaces/weft-system/configmaps/weft-ca-root",
                          {{"data", {{"root-cert.pem", stranger->root().ToPem()}}}});
  ASSERT_TRUE(patched.ok()) << patched.status();
  Result mismatch = Weftctl("ca init --apply" + kc);
  EXPECT_EQ(mismatch.exit_code, 1) << mismatch.out << mismatch.err;
  EXPECT_NE(mismatch.err.find("does not hold the Secret's certificate"), std::string::npos)
      << mismatch.err;
  EXPECT_EQ(Read(*c, "weft-system").ca_key, first.ca_key);

  // --force: a new root in both.
  Result forced = Weftctl("ca init --apply --force --trust-domain example.org" + kc);
  EXPECT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  EXPECT_NE(forced.out.find("secret/weft-ca-root replaced"), std::string::npos) << forced.out;
  EXPECT_NE(forced.out.find("configmap/weft-ca-root replaced"), std::string::npos) << forced.out;
  Root replaced = Read(*c, "weft-system");
  ExpectRoot(replaced, "example.org");
  EXPECT_NE(replaced.ca_key, first.ca_key);
  EXPECT_NE(replaced.ca_crt, first.ca_crt);

  // --force with a root of one's own, in another namespace with nothing yet.
  std::ofstream(dir_ + "/ca.crt") << first.ca_crt;
  std::ofstream(dir_ + "/ca.key") << first.ca_key;
  ASSERT_EQ(cp.Kubectl("create namespace mesh"), 0);
  Result own = Weftctl("ca init --apply --force -n mesh --from-cert " + dir_ +
                       "/ca.crt --from-key " + dir_ + "/ca.key" + kc);
  EXPECT_EQ(own.exit_code, 0) << own.out << own.err;
  EXPECT_NE(own.out.find("secret/weft-ca-root created"), std::string::npos) << own.out;
  Root wrapped = Read(*c, "mesh");
  ExpectRoot(wrapped, "example.org");
  EXPECT_EQ(wrapped.ca_key, first.ca_key);
  EXPECT_EQ(wrapped.ca_crt, first.ca_crt);

  // A Secret of that name without a certificate: reported (exit 1), kept; --force replaces it.
  ASSERT_EQ(cp.Kubectl("create namespace broken"), 0);
  ASSERT_EQ(cp.Kubectl("-n broken create secret generic weft-ca-root --from-literal=x=y"), 0);
  Result broken = Weftctl("ca init --apply -n broken" + kc);
  EXPECT_EQ(broken.exit_code, 1) << broken.out << broken.err;
  EXPECT_NE(broken.err.find("no readable ca.crt"), std::string::npos) << broken.err;
  Result fixed = Weftctl("ca init --apply -n broken --force" + kc);
  EXPECT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
  ExpectRoot(Read(*c, "broken"), "cluster.local");

  // A kubeconfig that is not there: exit 1, naming it.
  Result down = Weftctl("ca init --apply", "KUBECONFIG=" + dir_ + "/no-such-kubeconfig");
  EXPECT_EQ(down.exit_code, 1) << down.out << down.err;
  EXPECT_NE(down.err.find("no-such-kubeconfig"), std::string::npos) << down.err;
}

TEST_F(WeftctlCaApply, PrintedYamlPipedToKubectl) {
  WEFT_KUBE_CONTROL_PLANE(cp, /*controllers=*/false);
  auto c = Client(cp);
  ASSERT_TRUE(c);
  ASSERT_EQ(cp.Kubectl("create namespace weft-system"), 0);

  // weftctl ca init | kubectl apply -f -  (through a file: Kubectl() takes no stdin).
  std::string cmd = std::string(WEFTCTL_PATH) + " ca init >" + dir_ + "/root.yaml";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string out;
  ASSERT_EQ(cp.Kubectl("apply -f " + dir_ + "/root.yaml", &out), 0) << out;
  EXPECT_NE(out.find("secret/weft-ca-root created"), std::string::npos) << out;
  EXPECT_NE(out.find("configmap/weft-ca-root created"), std::string::npos) << out;
  Root applied = Read(*c, "weft-system");
  ExpectRoot(applied, "cluster.local");

  // kubectl create (what docs/install.md says) refuses to replace the root.
  cmd = std::string(WEFTCTL_PATH) + " ca init >" + dir_ + "/second.yaml";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  EXPECT_NE(cp.Kubectl("create -f " + dir_ + "/second.yaml", &out), 0) << out;
  EXPECT_NE(out.find("AlreadyExists"), std::string::npos) << out;
  EXPECT_EQ(Read(*c, "weft-system").ca_key, applied.ca_key);

  // Server-side apply takes it too.
  ASSERT_EQ(cp.Kubectl("create namespace ssa"), 0);
  cmd = std::string(WEFTCTL_PATH) + " ca init -n ssa >" + dir_ + "/ssa.yaml";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  ASSERT_EQ(cp.Kubectl("apply --server-side -f " + dir_ + "/ssa.yaml", &out), 0) << out;
  ExpectRoot(Read(*c, "ssa"), "cluster.local");
}

}  // namespace
