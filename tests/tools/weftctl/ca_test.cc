// `weftctl ca init` offline: the lifetime parser, the root and its checks (tools/weftctl/ca.h),
// and the real binary: the YAML it prints parses and holds a CA for the trust domain with its
// key, --from-cert/--from-key round trip, bad input exits 2 with a clear message, and the key
// never reaches stderr.

#include "tools/weftctl/ca.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/identity/key_pair.h"
#include "core/identity/trust_bundle.h"
#include "core/yaml/document.h"
#include "tests/testing/command.h"
#include "tests/testing/temp_dir.h"

namespace weft::weftctl {
namespace {

namespace fs = std::filesystem;
using identity::CertificateAuthority;
using identity::Clock;
using std::chrono::hours;

constexpr int64_t kYear = 365 * 86400;

TEST(WeftctlCaLifetime, UnitsAndLimits) {
  EXPECT_EQ(ParseLifetime("10y").value().count(), 10 * kYear);
  EXPECT_EQ(ParseLifetime("87600h").value().count(), 10 * kYear);
  EXPECT_EQ(ParseLifetime("1y30d").value().count(), kYear + 30 * 86400);
  EXPECT_EQ(ParseLifetime("90m").value().count(), 5400);
  EXPECT_EQ(ParseLifetime("3600").value().count(), 3600);
  EXPECT_EQ(ParseLifetime("100y").value().count(), 100 * kYear);
  for (const char* bad : {"", "10", "59m", "0y", "101y", "5x", "1h30", "-1y", "1.5y", "y",
                          "99999999999999999999y", "10 y"}) {
    auto d = ParseLifetime(bad);
    EXPECT_FALSE(d.ok()) << bad;
    EXPECT_NE(d.status().message().find("bad lifetime"), std::string_view::npos) << bad;
  }
  EXPECT_NE(ParseLifetime("5x").status().message().find("unknown unit 'x'"), std::string::npos);
  EXPECT_NE(ParseLifetime("101y").status().message().find("longer than 100y"), std::string::npos);
}

// The objects' PEM, as a consumer reads it back.
struct Objects {
  std::string secret_ns, cm_ns, secret_type, ca_crt, ca_key, root_cert_pem, secret_label, cm_label;
};

std::string Scalar(const yaml::Node& n, std::initializer_list<std::string_view> path) {
  yaml::Node at = n;
  for (auto k : path) {
    auto next = at.Find(k);
    if (!next) return "<missing " + std::string(k) + ">";
    at = *next;
  }
  return std::string(at.scalar());
}

// Parses the stream (with libyaml itself, not only the fast path) into the two objects.
Objects ParseObjects(const std::string& text) {
  Objects o;
  auto docs = yaml::ParseStream(text);
  EXPECT_EQ(docs.size(), 2u) << text;
  if (docs.size() != 2) return o;
  for (const auto& d : docs) {
    EXPECT_TRUE(d.doc.has_value()) << (d.error ? d.error->message : "") << "\n" << text;
    if (!d.doc) return o;
    auto ref = yaml::ParseDocumentWithLibyaml(d.text, d.first_line);
    EXPECT_TRUE(ref.doc.has_value() && *ref.doc == *d.doc) << d.text;
    yaml::Node root = d.doc->root();
    EXPECT_EQ(Scalar(root, {"apiVersion"}), "v1");
    EXPECT_EQ(Scalar(root, {"metadata", "name"}), "weft-ca-root");
    std::string kind = Scalar(root, {"kind"});
    if (kind == "Secret") {
      o.secret_ns = Scalar(root, {"metadata", "namespace"});
      o.secret_type = Scalar(root, {"type"});
      o.secret_label = Scalar(root, {"metadata", "labels", "app.kubernetes.io/part-of"});
      o.ca_crt = Scalar(root, {"stringData", "ca.crt"});
      o.ca_key = Scalar(root, {"stringData", "ca.key"});
      EXPECT_EQ(root.Find("stringData")->size(), 2u);
    } else {
      EXPECT_EQ(kind, "ConfigMap");
      o.cm_ns = Scalar(root, {"metadata", "namespace"});
      o.cm_label = Scalar(root, {"metadata", "labels", "app.kubernetes.io/part-of"});
      o.root_cert_pem = Scalar(root, {"data", "root-cert.pem"});
      EXPECT_EQ(root.Find("data")->size(), 1u);
    }
  }
  return o;
}

// The objects hold a root CA for `td` and its key; returns it.
absl::StatusOr<CertificateAuthority> CheckObjects(const Objects& o, const std::string& ns,
                                                  const std::string& td) {
  EXPECT_EQ(o.secret_ns, ns);
  EXPECT_EQ(o.cm_ns, ns);
  EXPECT_EQ(o.secret_type, "Opaque");
  EXPECT_EQ(o.secret_label, "weft");
  EXPECT_EQ(o.cm_label, "weft");
  EXPECT_EQ(o.root_cert_pem, o.ca_crt);
  EXPECT_NE(o.ca_key.find("-----BEGIN PRIVATE KEY-----\n"), std::string::npos);
  EXPECT_EQ(o.root_cert_pem.find("PRIVATE"), std::string::npos);
  auto ca = CertificateAuthority::FromPem(o.ca_crt, o.ca_key);  // the key matches
  if (!ca.ok()) return ca.status();
  EXPECT_EQ(ca->trust_domain(), td);
  EXPECT_TRUE(ca->root().IsCa());
  EXPECT_EQ(ca->root().UriSans(), std::vector<std::string>{"spiffe://" + td});
  // As the agents load root-cert.pem.
  EXPECT_TRUE(identity::TrustBundle::FromPem(td, o.root_cert_pem).ok());
  return ca;
}

TEST(WeftctlCaRoot, YamlOfANewRoot) {
  auto now = Clock::now();
  auto ca = NewCaRoot("example.org", hours(24 * 365), now);
  ASSERT_TRUE(ca.ok()) << ca.status();
  std::string text = CaRootYaml("mesh", *ca);
  EXPECT_TRUE(text.starts_with("# The weft CA root (weftctl ca init): trust domain example.org"))
      << text;
  EXPECT_NE(text.find("  ca.crt: |\n    -----BEGIN CERTIFICATE-----\n"), std::string::npos) << text;
  Objects o = ParseObjects(text);
  auto back = CheckObjects(o, "mesh", "example.org");
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->root().ToDer(), ca->root().ToDer());
  EXPECT_EQ(o.ca_key, ca->RootKeyPem());
  auto lifetime = ca->root().not_after() - now;
  EXPECT_LE(std::chrono::abs(lifetime - hours(24 * 365)), std::chrono::seconds(2));
}

TEST(WeftctlCaRoot, ToYamlQuotesWhatPlainWouldChange) {
  nlohmann::ordered_json j = {{"a", "yes"},          {"b", "1.0"},         {"c", "two\nlines"},
                              {"d", " x\n"},         {"e", "ok.name/x-y"}, {"f", ""},
                              {"g", "a: b"},         {"h", "end\n\n"},     {"i", {{"j", "k"}}},
                              {"l", "multi\nline\n"}};
  std::string y = ToYaml(j);
  EXPECT_EQ(y,
            "a: \"yes\"\nb: \"1.0\"\nc: \"two\\nlines\"\nd: \" x\\n\"\ne: ok.name/x-y\nf: \"\"\n"
            "g: \"a: b\"\nh: \"end\\n\\n\"\ni:\n  j: k\nl: |\n  multi\n  line\n");
  auto doc = yaml::ParseDocumentWithLibyaml(y);
  ASSERT_TRUE(doc.doc.has_value());
  yaml::Node root = doc.doc->root();
  for (const auto& [k, v] : j.items()) {
    if (v.is_string()) {
      EXPECT_EQ(Scalar(root, {k}), v.get<std::string>()) << k;
    }
  }
}

TEST(WeftctlCaRoot, FromPemChecksWhatItWraps) {
  auto now = Clock::now();
  auto ca = NewCaRoot("cluster.local", hours(24 * 365), now);
  ASSERT_TRUE(ca.ok());
  std::string cert = ca->root().ToPem(), key = ca->RootKeyPem();

  auto same = CaRootFromPem(cert, key, "", now);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->trust_domain(), "cluster.local");
  EXPECT_EQ(same->root().ToDer(), ca->root().ToDer());
  EXPECT_EQ(same->RootKeyPem(), key);
  EXPECT_TRUE(CaRootFromPem(cert, key, "cluster.local", now).ok());

  auto error = [&](std::string_view c, std::string_view k, std::string_view td = "") {
    auto r = CaRootFromPem(c, k, td, now);
    EXPECT_FALSE(r.ok());
    std::string msg(r.status().message());
    EXPECT_EQ(msg.find("PRIVATE KEY"), std::string::npos) << msg;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << msg;
    return msg;
  };
  auto other = NewCaRoot("cluster.local", hours(24), now);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(error(cert, other->RootKeyPem()).find("does not match"), std::string::npos);
  EXPECT_NE(error(cert, key, "example.org").find("trust domain cluster.local, not example.org"),
            std::string::npos);
  EXPECT_NE(error("", key).find("certificate"), std::string::npos);
  EXPECT_NE(error(cert + other->root().ToPem(), key).find("one certificate"), std::string::npos);
  EXPECT_NE(error(cert, "").find("not a PEM private key"), std::string::npos);
  EXPECT_NE(error(cert, cert).find("not a PEM private key"), std::string::npos);
  EXPECT_NE(error(cert,
                  "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE "
                  "KEY-----\n")
                .find("encrypted"),
            std::string::npos);

  // A certificate the CA issued is no CA.
  auto leaf_key = identity::KeyPair::GenerateP256();
  ASSERT_TRUE(leaf_key.ok());
  auto leaf = ca->IssueNodeCertificate("node1", leaf_key->get(), hours(1));
  ASSERT_TRUE(leaf.ok());
  EXPECT_NE(error(leaf->ToPem(), leaf_key->PrivateKeyPem()).find("not a CA"), std::string::npos);

  // Expired.
  auto old = NewCaRoot("cluster.local", hours(1), now - hours(3));
  ASSERT_TRUE(old.ok());
  EXPECT_NE(error(old->root().ToPem(), old->RootKeyPem()).find("expired on"), std::string::npos);
}

// The binary.

using Result = weft::testing::CommandResult;

class WeftctlCaInit : public ::testing::Test {
 protected:
  weft::testing::TempDir tmp_{"weftctl-ca-test"};
  fs::path dir_ = tmp_.path();

  // weftctl `args` (shell words); stdout and stderr apart. The key must never be on stderr.
  Result Weftctl(const std::string& args) {
    Result r = weft::testing::RunCommand(std::string(WEFTCTL_PATH) + " " + args);
    EXPECT_EQ(r.err.find("PRIVATE KEY"), std::string::npos) << "key on stderr: " << args;
    return r;
  }
  std::string Write(const std::string& name, const std::string& text) {
    return tmp_.Write(name, text);
  }
  // Bad input: exit 2, a message on stderr saying `says`, nothing on stdout.
  void ExpectBad(const std::string& args, const std::string& says) {
    Result r = Weftctl(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << args << "\nstderr: " << r.err;
    EXPECT_EQ(r.out, "") << args;
  }
};

TEST_F(WeftctlCaInit, PrintsBothObjectsForTheDefaults) {
  Result r = Weftctl("ca init");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  auto ca = CheckObjects(ParseObjects(r.out), "weft-system", "cluster.local");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto lifetime = ca->root().not_after() - Clock::now();
  EXPECT_LE(std::chrono::abs(lifetime - std::chrono::seconds(10 * kYear)), hours(1));
  // A new root each time.
  Result again = Weftctl("ca init");
  EXPECT_NE(ParseObjects(again.out).ca_key, ParseObjects(r.out).ca_key);
}

TEST_F(WeftctlCaInit, NamespaceTrustDomainLifetime) {
  Result r = Weftctl("ca init -n mesh --trust-domain example.org --lifetime 87600h");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto ca = CheckObjects(ParseObjects(r.out), "mesh", "example.org");
  ASSERT_TRUE(ca.ok()) << ca.status();
  auto lifetime = ca->root().not_after() - Clock::now();
  EXPECT_LE(std::chrono::abs(lifetime - hours(87600)), hours(1));
  Result longer = Weftctl("ca init --namespace other --lifetime 1y");
  ASSERT_EQ(longer.exit_code, 0) << longer.err;
  EXPECT_TRUE(CheckObjects(ParseObjects(longer.out), "other", "cluster.local").ok());
}

TEST_F(WeftctlCaInit, FromCertAndKeyRoundTrip) {
  Result first = Weftctl("ca init --trust-domain example.org");
  ASSERT_EQ(first.exit_code, 0) << first.err;
  Objects o = ParseObjects(first.out);
  std::string cert = Write("ca.crt", o.ca_crt), key = Write("ca.key", o.ca_key);

  // The trust domain comes from the certificate: no --trust-domain needed; a note says it is
  // not the default.
  Result wrapped = Weftctl("ca init -n mesh --from-cert " + cert + " --from-key " + key);
  ASSERT_EQ(wrapped.exit_code, 0) << wrapped.err;
  EXPECT_NE(wrapped.err.find("trust domain example.org"), std::string::npos) << wrapped.err;
  Objects w = ParseObjects(wrapped.out);
  EXPECT_TRUE(CheckObjects(w, "mesh", "example.org").ok());
  EXPECT_EQ(w.ca_crt, o.ca_crt);
  EXPECT_EQ(w.ca_key, o.ca_key);

  Result same_td =
      Weftctl("ca init --trust-domain example.org --from-cert " + cert + " --from-key " + key);
  EXPECT_EQ(same_td.exit_code, 0) << same_td.err;
  EXPECT_EQ(same_td.err, "");
  EXPECT_EQ(ParseObjects(same_td.out).ca_key, o.ca_key);

  // One file with both (text around the PEM blocks is ignored).
  std::string both = Write("both.pem", "# my root\n" + o.ca_crt + o.ca_key);
  Result one_file = Weftctl("ca init --from-cert " + both + " --from-key " + both);
  EXPECT_EQ(one_file.exit_code, 0) << one_file.err;
  Objects b = ParseObjects(one_file.out);
  EXPECT_EQ(b.ca_crt, o.ca_crt);
  EXPECT_EQ(b.ca_key, o.ca_key);
}

TEST_F(WeftctlCaInit, BadInputExitsTwoWithAClearMessage) {
  Result first = Weftctl("ca init");
  ASSERT_EQ(first.exit_code, 0);
  Objects o = ParseObjects(first.out);
  std::string cert = Write("ca.crt", o.ca_crt), key = Write("ca.key", o.ca_key);
  Result other = Weftctl("ca init");
  std::string other_key = Write("other.key", ParseObjects(other.out).ca_key);

  ExpectBad("ca init --lifetime 5x", "bad lifetime \"5x\": unknown unit 'x'");
  ExpectBad("ca init --lifetime 30m", "shorter than 1h");
  ExpectBad("ca init --lifetime 200y", "longer than 100y");
  ExpectBad("ca init --trust-domain 'Not A Domain'", "invalid trust domain \"Not A Domain\"");
  ExpectBad("ca init -n Weft_System", "invalid namespace \"Weft_System\"");
  ExpectBad("ca init --from-cert " + cert, "--from-cert and --from-key go together");
  ExpectBad("ca init --from-key " + key, "--from-cert and --from-key go together");
  ExpectBad("ca init --from-cert " + cert + " --from-key " + other_key,
            "root key does not match the root certificate");
  ExpectBad("ca init --from-cert " + key + " --from-key " + key, "the certificate:");
  ExpectBad("ca init --from-cert " + cert + " --from-key " + cert, "not a PEM private key");
  ExpectBad("ca init --from-cert " + (dir_ / "missing.crt").string() + " --from-key " + key,
            "cannot read " + (dir_ / "missing.crt").string());
  ExpectBad("ca init --from-cert " + cert + " --from-key " + key + " --trust-domain example.org",
            "root is for trust domain cluster.local, not example.org");
  ExpectBad("ca init --from-cert " + cert + " --from-key " + key + " --lifetime 1y",
            "--lifetime is for a new root");
  ExpectBad("ca init --force", "--force goes with --apply");
  ExpectBad("ca init --kubeconfig /dev/null", "--kubeconfig goes with --apply");
  ExpectBad("ca init --no-such-flag", "--no-such-flag");
  ExpectBad("ca init --lifetime", "--lifetime");
  ExpectBad("ca", "A subcommand is required");
}

}  // namespace
}  // namespace weft::weftctl
