#include "core/kube/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "absl/strings/escaping.h"

namespace weft::kube {
namespace {

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/weft-kubeconfig.XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string p = dir_ + "/" + name;
    std::ofstream(p) << text;
    return p;
  }
  std::string dir_;
};

TEST_F(KubeconfigTest, CurrentContextWithFilesRelativeToTheKubeconfig) {
  Write("ca.crt", "CA PEM");
  Write("me.crt", "CERT PEM");
  Write("me.key", "KEY PEM");
  std::string path = Write("config", R"(apiVersion: v1
kind: Config
current-context: dev
clusters:
- name: other
  cluster: {server: "https://10.0.0.9:6443"}
- name: c
  cluster:
    server: https://10.250.0.1:6443
    certificate-authority: ca.crt
users:
- name: me
  user: {client-certificate: me.crt, client-key: me.key}
contexts:
- name: dev
  context: {cluster: c, user: me, namespace: demo}
)");
  auto c = LoadKubeconfig(path);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "10.250.0.1");
  EXPECT_EQ(c->port, 6443);
  EXPECT_EQ(c->ca_pem, "CA PEM");
  EXPECT_EQ(c->client_cert_pem, "CERT PEM");
  EXPECT_EQ(c->client_key_pem, "KEY PEM");
  EXPECT_EQ(c->ns, "demo");
  EXPECT_EQ(c->server(), "https://10.250.0.1:6443");
}

TEST_F(KubeconfigTest, InlineDataTokensAndNamedContexts) {
  std::string path = Write("config", R"(current-context: a
clusters:
- name: c
  cluster:
    server: https://[fd00::1]
    certificate-authority-data: )" + absl::Base64Escape("INLINE CA") +
                                         R"(
users:
- {name: t, user: {token: abc}}
- {name: f, user: {tokenFile: tok}}
contexts:
- {name: a, context: {cluster: c, user: t}}
- {name: b, context: {cluster: c, user: f}}
)");
  auto a = LoadKubeconfig(path);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "fd00::1");
  EXPECT_EQ(a->port, 443);
  EXPECT_EQ(a->ca_pem, "INLINE CA");
  EXPECT_EQ(a->token, "abc");
  EXPECT_EQ(a->ns, "default");
  auto b = LoadKubeconfig(path, "b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->token_file, dir_ + "/tok");
  EXPECT_EQ(LoadKubeconfig(path, "zzz").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KubeconfigTest, ExecPluginsAreRefusedClearly) {
  std::string path = Write("config", R"(current-context: a
clusters: [{name: c, cluster: {server: "https://1.2.3.4"}}]
users: [{name: u, user: {exec: {command: aws}}}]
contexts: [{name: a, context: {cluster: c, user: u}}]
)");
  auto c = LoadKubeconfig(path);
  EXPECT_EQ(c.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_NE(c.status().message().find("exec"), std::string::npos) << c.status();
}

TEST(ParseKubeconfig, FromTextWithFilesThroughTheReader) {
  std::vector<std::string> asked;
  auto read = [&](const std::string& path) -> absl::StatusOr<std::string> {
    asked.push_back(path);
    if (path == "/base/ca.crt") return std::string("CA PEM");
    return absl::NotFoundError("cannot read " + path);
  };
  std::string yaml = R"(current-context: a
clusters: [{name: c, cluster: {server: "https://h:6443", certificate-authority: ca.crt}}]
users: [{name: u, user: {client-certificate: /abs/me.crt}}]
contexts: [{name: a, context: {cluster: c}}, {name: b, context: {cluster: c, user: u}}]
)";
  auto a = ParseKubeconfig(yaml, "/base", "", read);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->host, "h");
  EXPECT_EQ(a->ca_pem, "CA PEM");
  auto b = ParseKubeconfig(yaml, "/base", "b", read);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(asked, (std::vector<std::string>{"/base/ca.crt", "/base/ca.crt", "/abs/me.crt"}));
  auto none = ParseKubeconfig("clusters: []", "/base");
  EXPECT_EQ(none.status().message(), "kubeconfig: no current-context");
}

TEST(ParseServer, Forms) {
  Config c;
  EXPECT_TRUE(ParseServer("https://example.com:8443/", c).ok());
  EXPECT_EQ(c.host, "example.com");
  EXPECT_EQ(c.port, 8443);
  EXPECT_FALSE(ParseServer("http://example.com", c).ok()) << "plain HTTP is refused";
  EXPECT_FALSE(ParseServer("https://example.com:99999", c).ok());
  EXPECT_FALSE(ParseServer("https://example.com/prefix", c).ok());
  EXPECT_TRUE(ParseServer("https://[fd00::1]:6443", c).ok());
  EXPECT_EQ(c.host, "fd00::1");
  EXPECT_EQ(c.port, 6443);
  EXPECT_TRUE(ParseServer("https://kubernetes.default.svc", c).ok());
  EXPECT_EQ(c.port, 443);
}

// Found by tests/fuzz/kubeconfig_fuzzer: hosts that are neither a name nor an address were
// taken, a colon in one made server() bracket it as IPv6 (another server than the one read),
// and text after "[v6]" was dropped.
TEST(ParseServer, RefusesWhatIsNotAHostAndPort) {
  for (const char* url :
       {"https://a:b:443", "https://::1", "https://[::1]x", "https://[::1]x:443", "https://[]:443",
        "https://[example.com]:443", "https://h ost:443", "https://user@host:443",
        "https://127.0.0.! [{name: weft}] current-context: weft :36443", "https://h:+443",
        "https://h: 443", "https://h:0x1bb"}) {
    Config c;
    EXPECT_FALSE(ParseServer(url, c).ok()) << url << " -> " << c.server();
  }
}

TEST(InClusterConfig, FromTheEnvironmentAndTheServiceAccountDirectory) {
  char tmpl[] = "/tmp/weft-sa.XXXXXX";
  std::string dir = mkdtemp(tmpl);
  std::ofstream(dir + "/ca.crt") << "CA";
  std::ofstream(dir + "/namespace") << "weft-system\n";
  std::ofstream(dir + "/token") << "tok";
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  auto c = InClusterConfig(dir);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->host, "10.96.0.1");
  EXPECT_EQ(c->ns, "weft-system");
  EXPECT_EQ(c->token_file, dir + "/token");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_EQ(InClusterConfig(dir).status().code(), absl::StatusCode::kFailedPrecondition);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace weft::kube
