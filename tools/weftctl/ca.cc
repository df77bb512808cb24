// `weftctl ca init` (ca.h).

#include "tools/weftctl/ca.h"

#include <cctype>
#include <ctime>
#include <fstream>
#include <iostream>
#include <optional>

#include "absl/strings/escaping.h"
#include "core/identity/trust_bundle.h"
#include "core/kube/client.h"
#include "core/kube/config.h"
#include "tools/weftctl/kube_access.h"

namespace weft::weftctl {

using identity::CertificateAuthority;
using nlohmann::ordered_json;

namespace {

constexpr int64_t kHour = 3600;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kYear = 365 * kDay;

// "2035-01-02T03:04:05Z".
std::string Rfc3339(identity::TimePoint t) {
  std::time_t tt = identity::Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "root weft root CA 1a2b3c4d (trust domain cluster.local, serial 1a2b..., until 2035-...)".
std::string Describe(const identity::Certificate& root, std::string_view trust_domain) {
  return "trust domain " + std::string(trust_domain) + ", serial " + root.SerialHex() +
         ", valid until " + Rfc3339(root.not_after());
}

// As CertificateAuthority::FromPem reads it: the first spiffe://<td> URI SAN.
std::string TrustDomainOf(const identity::Certificate& root) {
  for (const auto& uri : root.UriSans()) {
    if (uri.starts_with("spiffe://") && identity::IsValidTrustDomain(uri.substr(9))) {
      return uri.substr(9);
    }
  }
  return "";
}

// YAML scalars: plain when nothing could read them as anything but this string.
bool Plain(const std::string& s) {
  if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_' &&
        c != '/') {
      return false;
    }
  }
  std::string lower;
  for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* r : {"true", "false", "null", "yes", "no", "on", "off", "y", "n"}) {
    if (lower == r) return false;
  }
  return true;
}

// A literal block ("|") keeps the string exactly: printable lines, the first not starting
// with a space, and exactly one newline at the end.
bool LiteralBlock(const std::string& s) {
  if (s.size() < 2 || s.back() != '\n' || s[s.size() - 2] == '\n' || s[0] == ' ') return false;
  for (unsigned char c : s) {
    if (c != '\n' && (c < 0x20 || c == 0x7f)) return false;
  }
  return true;
}

void Emit(const ordered_json& j, int indent, std::string& out) {
  std::string pad(indent, ' ');
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string key = Plain(it.key()) ? it.key() : nlohmann::json(it.key()).dump();
    const ordered_json& v = it.value();
    if (v.is_object() && !v.empty()) {
      out += pad + key + ":\n";
      Emit(v, indent + 2, out);
    } else if (v.is_string() && LiteralBlock(v.get_ref<const std::string&>())) {
      out += pad + key + ": |\n";
      const std::string& s = v.get_ref<const std::string&>();
      for (size_t start = 0; start < s.size();) {
        size_t nl = s.find('\n', start);
        std::string line = s.substr(start, nl - start);
        out += line.empty() ? "\n" : pad + "  " + line + "\n";
        start = nl + 1;
      }
    } else if (v.is_string()) {
      const std::string& s = v.get_ref<const std::string&>();
      out += pad + key + ": " + (Plain(s) ? s : nlohmann::json(s).dump()) + "\n";
    } else {
      out += pad + key + ": " + (v.is_object() ? "{}" : v.dump()) + "\n";
    }
  }
}

ordered_json Metadata(const std::string& ns) {
  return {{"name", kCaRootName},
          {"namespace", ns},
          {"labels", {{"app.kubernetes.io/part-of", "weft"}}}};
}

// A message that might hold key material is not shown: the key must not reach stderr or logs.
std::string Safe(std::string msg) {
  if (msg.find("PRIVATE KEY") != std::string::npos ||
      msg.find("LS0tLS1CRUdJTiBQUklWQVRFIEtFWS") != std::string::npos) {  // base64 of it
    return "(message withheld: it may hold the key)";
  }
  return msg;
}

// One API call; `what` names the object for messages. Transport errors and refusals become
// errors that quote only the API's Status message, never a body (a Secret's would hold the
// key).
struct Api {
  kube::Client& client;

  absl::StatusOr<kube::Response> Call(std::string_view method, const std::string& path,
                                      const ordered_json& body = nullptr) {
    auto r = client.Request(method, path, body.is_null() ? std::string() : body.dump());
    if (!r.ok()) return absl::UnavailableError(Safe(std::string(r.status().message())));
    return r;
  }
  static std::string Error(std::string_view method, const std::string& what,
                           const kube::Response& r) {
    std::string msg = std::string(method) + " " + what + ": HTTP " + std::to_string(r.status);
    nlohmann::json j = r.Json();
    if (j.is_object() && j.value("kind", "") == "Status" && j.contains("message") &&
        j["message"].is_string()) {
      msg += ": " + Safe(j["message"].get<std::string>());
    }
    return msg;
  }
};

int Fail(const std::string& msg, int code) {
  std::cerr << "weftctl: " << msg << "\n";
  return code;
}

// --apply.
int Apply(const CaInitOptions& o, const CertificateAuthority& root) {
  auto config = LoadKubeConfig(o.kubeconfig);
  if (!config.ok()) return Fail(Safe(std::string(config.status().message())), 1);
  auto client = kube::Client::Create(*config);
  if (!client.ok()) return Fail(Safe(std::string(client.status().message())), 1);
  Api api{**client};
  const std::string base = "/api/v1/namespaces/" + o.ns;
  const std::string secret_path = base + "/secrets/" + kCaRootName;
  const std::string cm_path = base + "/configmaps/" + kCaRootName;
  const std::string secret = "secret/" + std::string(kCaRootName);
  const std::string cm = "configmap/" + std::string(kCaRootName);

  // The namespace first, for a clear message (a user who may not read namespaces goes on).
  auto ns = api.Call("GET", base);
  if (!ns.ok()) return Fail(std::string(ns.status().message()), 1);
  if (ns->status == 404) {
    return Fail("namespace " + o.ns +
                    " does not exist: install weft first (kubectl apply --server-side -k "
                    "deploy/, or helm install ... -n " +
                    o.ns + " --create-namespace), or name its namespace with --namespace",
                1);
  }
  if (!ns->ok() && ns->status != 403) return Fail(Api::Error("GET", "namespace " + o.ns, *ns), 1);

  auto existing = api.Call("GET", secret_path);
  if (!existing.ok()) return Fail(std::string(existing.status().message()), 1);
  if (!existing->ok() && existing->status != 404) {
    return Fail(Api::Error("GET", secret + " in " + o.ns, *existing), 1);
  }
  ordered_json secret_obj = CaRootSecret(o.ns, root);
  ordered_json cm_obj = CaRootConfigMap(o.ns, root);

  if (existing->ok() && !o.force) {
    // Leave the root alone. Its certificate (never its key) says which it is, and makes the
    // ConfigMap if that is missing.
    nlohmann::json have = existing->Json();
    std::string cert_pem;
    std::string b64 = have.is_object() && have.contains("data") && have["data"].is_object()
                          ? have["data"].value("ca.crt", "")
                          : "";
    std::optional<identity::Certificate> cert;
    if (absl::Base64Unescape(b64, &cert_pem)) {
      if (auto c = identity::Certificate::FromPem(cert_pem); c.ok()) cert = *c;
    }
    std::cout << secret << " exists in namespace " << o.ns << " ("
              << (cert ? Describe(*cert, TrustDomainOf(*cert)) : "no readable ca.crt")
              << "): left unchanged; --force replaces it and the ConfigMap with a new root\n";
    if (!cert) {
      return Fail("it holds no readable ca.crt: the CA cannot use it (--force replaces it)", 1);
    }
    auto have_cm = api.Call("GET", cm_path);
    if (!have_cm.ok()) return Fail(std::string(have_cm.status().message()), 1);
    if (have_cm->status == 404) {
      ordered_json from_secret = cm_obj;
      from_secret["data"]["root-cert.pem"] = cert->ToPem();
      auto made = api.Call("POST", base + "/configmaps", from_secret);
      if (!made.ok()) return Fail(std::string(made.status().message()), 1);
      if (!made->ok()) return Fail(Api::Error("POST", cm + " in " + o.ns, *made), 1);
      std::cout << cm << " created from the existing Secret's certificate\n";
      return 0;
    }
    if (!have_cm->ok()) return Fail(Api::Error("GET", cm + " in " + o.ns, *have_cm), 1);
    nlohmann::json j = have_cm->Json();
    std::string pem = j.is_object() && j.contains("data") && j["data"].is_object()
                          ? j["data"].value("root-cert.pem", "")
                          : "";
    auto cm_cert = identity::Certificate::FromPem(pem);
    if (!cm_cert.ok() || cm_cert->ToDer() != cert->ToDer()) {
      return Fail(cm + " in " + o.ns +
                      " does not hold the Secret's certificate: the agents will not trust the "
                      "CA. Delete the ConfigMap and run this again to make it from the "
                      "Secret, or --force to replace both with a new root",
                  1);
    }
    return 0;
  }

  if (existing->ok()) {  // --force
    auto put = api.Call("PUT", secret_path, secret_obj);
    if (!put.ok()) return Fail(std::string(put.status().message()), 1);
    if (!put->ok()) return Fail(Api::Error("PUT", secret + " in " + o.ns, *put), 1);
    std::cout << secret << " replaced (" << Describe(root.root(), root.trust_domain()) << ")\n";
  } else {
    auto post = api.Call("POST", base + "/secrets", secret_obj);
    if (!post.ok()) return Fail(std::string(post.status().message()), 1);
    if (post->status == 409) {
      std::cout << secret << " was created meanwhile in namespace " << o.ns << ": left unchanged\n";
      return 0;
    }
    if (!post->ok()) return Fail(Api::Error("POST", secret + " in " + o.ns, *post), 1);
    std::cout << secret << " created (" << Describe(root.root(), root.trust_domain()) << ")\n";
  }
  // The ConfigMap follows the Secret: a stale one (from an earlier root) is replaced.
  auto put = api.Call("PUT", cm_path, cm_obj);
  if (!put.ok()) return Fail(std::string(put.status().message()), 1);
  if (put->status == 404) {
    auto post = api.Call("POST", base + "/configmaps", cm_obj);
    if (!post.ok()) return Fail(std::string(post.status().message()), 1);
    if (!post->ok()) return Fail(Api::Error("POST", cm + " in " + o.ns, *post), 1);
    std::cout << cm << " created\n";
  } else if (!put->ok()) {
    return Fail(Api::Error("PUT", cm + " in " + o.ns, *put), 1);
  } else {
    std::cout << cm << " replaced\n";
  }
  if (existing->ok()) {
    std::cout << "Restart the CA and the agents to load the new root: kubectl -n " << o.ns
              << " rollout restart deployment/weft-ca daemonset/weft-agent\n";
  }
  return 0;
}

}  // namespace

absl::StatusOr<std::chrono::seconds> ParseLifetime(std::string_view text) {
  auto bad = [&](std::string why) {
    return absl::InvalidArgumentError("bad lifetime \"" + std::string(text) + "\": " + why +
                                      " (e.g. 10y, 365d, 87600h)");
  };
  if (text.empty()) return bad("empty");
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("expected a number");
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1000 * kYear) return bad("too long");
      ++i;
    }
    int64_t unit = 1;
    if (i < text.size()) {
      switch (text[i]) {
        case 'y':
          unit = kYear;
          break;
        case 'd':
          unit = kDay;
          break;
        case 'h':
          unit = kHour;
          break;
        case 'm':
          unit = 60;
          break;
        case 's':
          unit = 1;
          break;
        default:
          return bad(std::string("unknown unit '") + text[i] + "' (y, d, h, m, s)");
      }
      ++i;
    } else if (total != 0) {
      return bad("a number without a unit after another part");
    }
    if (n > 1000 * kYear / unit) return bad("too long");
    total += n * unit;
    if (total > 1000 * kYear) return bad("too long");
  }
  if (total < kHour) return bad("shorter than 1h");
  if (total > 100 * kYear) return bad("longer than 100y");
  return std::chrono::seconds(total);
}

absl::StatusOr<CertificateAuthority> NewCaRoot(std::string_view trust_domain,
                                               std::chrono::seconds lifetime,
                                               identity::TimePoint now) {
  return CertificateAuthority::CreateRoot(trust_domain, lifetime, now);
}

absl::StatusOr<CertificateAuthority> CaRootFromPem(std::string_view cert_pem,
                                                   std::string_view key_pem,
                                                   std::string_view trust_domain,
                                                   identity::TimePoint now) {
  // OpenSSL would ask for the passphrase of an encrypted key on the terminal.
  if (key_pem.find("ENCRYPTED") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        "the key is encrypted: give it unencrypted (openssl pkey -in KEY -out KEY.plain); the "
        "Secret holds it unencrypted anyway");
  }
  if (key_pem.find("PRIVATE KEY-----") == std::string_view::npos) {
    return absl::InvalidArgumentError("the key is not a PEM private key");
  }
  auto cert = identity::Certificate::FromPem(cert_pem);
  if (!cert.ok()) {
    return absl::InvalidArgumentError("the certificate: " + std::string(cert.status().message()));
  }
  if (!cert->IsCa()) {
    return absl::InvalidArgumentError("the certificate is not a CA (basicConstraints CA:TRUE)");
  }
  auto ca = CertificateAuthority::FromPem(cert_pem, key_pem, trust_domain);
  if (!ca.ok()) return absl::InvalidArgumentError(Safe(std::string(ca.status().message())));
  // As the agents will load it (a self-signed CA certificate).
  auto bundle = identity::TrustBundle::Create(ca->trust_domain(), {ca->root()});
  if (!bundle.ok()) {
    return absl::InvalidArgumentError("the certificate cannot be a root: " +
                                      std::string(bundle.status().message()));
  }
  if (ca->root().not_after() <= now) {
    return absl::InvalidArgumentError("the certificate expired on " +
                                      Rfc3339(ca->root().not_after()));
  }
  return ca;
}

ordered_json CaRootSecret(const std::string& ns, const CertificateAuthority& root) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"metadata", Metadata(ns)},
          {"type", "Opaque"},
          {"stringData", {{"ca.crt", root.root().ToPem()}, {"ca.key", root.RootKeyPem()}}}};
}

ordered_json CaRootConfigMap(const std::string& ns, const CertificateAuthority& root) {
  return {{"apiVersion", "v1"},
          {"kind", "ConfigMap"},
          {"metadata", Metadata(ns)},
          {"data", {{"root-cert.pem", root.root().ToPem()}}}};
}

std::string ToYaml(const ordered_json& object) {
  std::string out;
  Emit(object, 0, out);
  return out;
}

std::string CaRootYaml(const std::string& ns, const CertificateAuthority& root) {
  return "# The weft CA root (weftctl ca init): " + Describe(root.root(), root.trust_domain()) +
         ".\n# The Secret holds its private key. kubectl create -f - refuses to replace an "
         "existing root.\n" +
         ToYaml(CaRootSecret(ns, root)) + "---\n" + ToYaml(CaRootConfigMap(ns, root));
}

void AddCaCommands(CLI::App& app, CaInitOptions& o, bool& chosen) {
  CLI::App* ca = app.add_subcommand("ca", "The CA root of a Kubernetes install");
  ca->require_subcommand(1);
  CLI::App* init = ca->add_subcommand(
      "init",
      "Make a CA root (or wrap an existing one) and print the Secret and ConfigMap "
      "weft-ca-root (YAML, for kubectl create -f -), or create them with --apply. The key goes "
      "to stdout or the API server only.");
  init->add_option("-n,--namespace", o.ns, "Namespace of weft (of the CA and the agents)")
      ->capture_default_str();
  CLI::Option* td = init->add_option("--trust-domain", o.trust_domain,
                                     "SPIFFE trust domain of a new root (with --from-cert: "
                                     "checked against the certificate's)")
                        ->capture_default_str();
  CLI::Option* lifetime =
      init->add_option("--lifetime", o.lifetime,
                       "Validity of a new root: 10y, 365d, 87600h, ... (y = 365 days)")
          ->capture_default_str();
  init->add_option("--from-cert", o.from_cert,
                   "An existing root certificate (PEM, self-signed CA) instead of a new one");
  init->add_option("--from-key", o.from_key, "The key of --from-cert (PEM, P-256, unencrypted)");
  init->add_flag("--apply", o.apply,
                 "Create the objects in the cluster instead of printing them; an existing "
                 "Secret is left unchanged");
  init->add_flag("--force", o.force, "With --apply: replace an existing root");
  init->add_option("--kubeconfig", o.kubeconfig,
                   "With --apply: the kubeconfig (default: $KUBECONFIG, ~/.kube/config, else "
                   "the in-cluster config)");
  init->callback([&o, &chosen, td, lifetime] {
    chosen = true;
    o.trust_domain_set = td->count() > 0;
    o.lifetime_set = lifetime->count() > 0;
  });
}

int RunCaInit(CaInitOptions o) {
  if (!IsDnsLabel(o.ns)) {
    return Fail("invalid namespace \"" + o.ns + "\": lowercase letters, digits and '-'", 2);
  }
  if (o.force && !o.apply) return Fail("--force goes with --apply", 2);
  if (!o.kubeconfig.empty() && !o.apply) return Fail("--kubeconfig goes with --apply", 2);
  if (o.from_cert.empty() != o.from_key.empty()) {
    return Fail("--from-cert and --from-key go together (a root certificate and its key)", 2);
  }
  identity::TimePoint now = identity::Clock::now();
  std::optional<CertificateAuthority> root;
  if (!o.from_cert.empty()) {
    if (o.lifetime_set) return Fail("--lifetime is for a new root, not with --from-cert", 2);
    std::string pem[2];
    const std::string* paths[2] = {&o.from_cert, &o.from_key};
    for (int i = 0; i < 2; ++i) {
      std::ifstream in(*paths[i], std::ios::binary);
      if (!in) return Fail("cannot read " + *paths[i], 2);
      pem[i].assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    // The trust domain is the certificate's; one without a spiffe:// SAN takes --trust-domain
    // (or its default, said out loud).
    auto cert = identity::Certificate::FromPem(pem[0]);
    bool no_san = cert.ok() && TrustDomainOf(*cert).empty();
    auto ca =
        CaRootFromPem(pem[0], pem[1], o.trust_domain_set || no_san ? o.trust_domain : "", now);
    if (ca.ok() && no_san) {
      std::cerr << "weftctl: " << o.from_cert << " has no spiffe:// URI SAN: trust domain "
                << o.trust_domain << " (the CA's and the agents' --trust-domain must say so)\n";
    }
    if (!ca.ok()) {
      return Fail("--from-cert " + o.from_cert + ", --from-key " + o.from_key + ": " +
                      std::string(ca.status().message()),
                  2);
    }
    if (!o.trust_domain_set && ca->trust_domain() != o.trust_domain) {
      std::cerr << "weftctl: the root is for trust domain " << ca->trust_domain()
                << ": give the CA and the agents --trust-domain=" << ca->trust_domain()
                << " (Helm: --set trustDomain=" << ca->trust_domain() << ")\n";
    }
    root = std::move(*ca);
  } else {
    auto lifetime = ParseLifetime(o.lifetime);
    if (!lifetime.ok()) return Fail(std::string(lifetime.status().message()), 2);
    auto ca = NewCaRoot(o.trust_domain, *lifetime, now);
    if (!ca.ok()) {
      return Fail(std::string(ca.status().message()),
                  ca.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1);
    }
    root = std::move(*ca);
  }
  if (o.apply) return Apply(o, *root);
  std::cout << CaRootYaml(o.ns, *root) << std::flush;
  if (!std::cout) return Fail("cannot write to stdout", 1);
  return 0;
}

}  // namespace weft::weftctl
