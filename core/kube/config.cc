#include "core/kube/config.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "core/yaml/document.h"

namespace weft::kube {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Str(const yaml::Node& map, std::string_view key) {
  auto v = map.Find(key);
  return v && v->IsScalar() ? std::string(v->scalar()) : std::string();
}

// The entry of a kubeconfig list (`clusters`, `users`, `contexts`) with that name: its inner
// mapping (`cluster`, `user`, `context`).
std::optional<yaml::Node> Named(const yaml::Node& root, std::string_view list,
                                std::string_view inner, std::string_view name) {
  auto l = root.Find(list);
  if (!l || !l->IsSeq()) return std::nullopt;
  for (size_t i = 0; i < l->size(); ++i) {
    yaml::Node e = l->item(i);
    if (Str(e, "name") != name) continue;
    auto in = e.Find(inner);
    if (in && in->IsMap()) return *in;
  }
  return std::nullopt;
}

// A "-data" field (base64) or a file path field, relative to `dir`.
absl::StatusOr<std::string> DataOrFile(const yaml::Node& m, std::string_view data_key,
                                       std::string_view file_key, const std::string& dir,
                                       const KubeconfigFileReader& read) {
  if (std::string d = Str(m, data_key); !d.empty()) {
    std::string out;
    if (!absl::Base64Unescape(d, &out)) {
      return absl::InvalidArgumentError(std::string(data_key) + " is not base64");
    }
    return out;
  }
  std::string f = Str(m, file_key);
  if (f.empty()) return std::string();
  if (f[0] != '/') f = dir + "/" + f;
  return read(f);
}

}  // namespace

std::string Config::server() const {
  bool v6 = host.find(':') != std::string::npos;
  return "https://" + (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

absl::Status ParseServer(std::string_view url, Config& out) {
  constexpr std::string_view kHttps = "https://";
  if (url.substr(0, kHttps.size()) != kHttps) {
    return absl::InvalidArgumentError("server '" + std::string(url) + "' is not https://");
  }
  std::string_view rest = url.substr(kHttps.size());
  if (size_t slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return absl::InvalidArgumentError("server '" + std::string(url) +
                                        "': a path prefix is not supported");
    }
    rest = rest.substr(0, slash);
  }
  auto bad = [&](const char* what) {
    return absl::InvalidArgumentError("server '" + std::string(url) + "': " + what);
  };
  // A name or an IPv4 address, or an IPv6 address in brackets; then ":port" or nothing.
  std::string_view host, port;
  bool has_port = false;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("bad IPv6 server");
    host = rest.substr(1, close - 1);
    if (host.find(':') == std::string_view::npos ||
        host.find_first_not_of("0123456789abcdefABCDEF:.") != std::string_view::npos) {
      return bad("not an IPv6 address in brackets");
    }
    std::string_view after = rest.substr(close + 1);
    if (!after.empty() && after[0] != ':') return bad("bad host");
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    has_port = colon != std::string_view::npos;
    if (has_port) port = rest.substr(colon + 1);
    if (host.find_first_not_of(
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_") !=
        std::string_view::npos) {
      return bad("bad host");
    }
  }
  if (host.empty()) return absl::InvalidArgumentError("server '" + std::string(url) + "'");
  uint32_t p = 443;
  // "host:" is the default port, as in Go's net/url.
  if (has_port && !port.empty() &&
      (port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos ||
       !absl::SimpleAtoi(absl::string_view(port.data(), port.size()), &p) || p == 0 || p > 65535)) {
    return bad("bad port");
  }
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(p);
  return absl::OkStatus();
}

namespace {

// The kubeconfig's parse; `name` starts its error messages.
absl::StatusOr<Config> Parse(std::string_view text, const std::string& name, const std::string& dir,
                             const std::string& context, const KubeconfigFileReader& read_file) {
  const KubeconfigFileReader& read = read_file ? read_file : KubeconfigFileReader(ReadFile);
  yaml::ParsedDocument parsed = yaml::ParseDocument(text);
  if (!parsed.doc) {
    return absl::InvalidArgumentError(name + ": " +
                                      (parsed.error ? parsed.error->message : "not YAML"));
  }
  yaml::Node root = parsed.doc->root();
  std::string ctx_name = context.empty() ? Str(root, "current-context") : context;
  if (ctx_name.empty()) return absl::InvalidArgumentError(name + ": no current-context");
  auto ctx = Named(root, "contexts", "context", ctx_name);
  if (!ctx) return absl::NotFoundError(name + ": no context '" + ctx_name + "'");
  Config c;
  if (std::string ns = Str(*ctx, "namespace"); !ns.empty()) c.ns = ns;
  std::string cluster_name = Str(*ctx, "cluster"), user_name = Str(*ctx, "user");
  auto cluster = Named(root, "clusters", "cluster", cluster_name);
  if (!cluster) return absl::NotFoundError(name + ": no cluster '" + cluster_name + "'");
  if (auto st = ParseServer(Str(*cluster, "server"), c); !st.ok()) {
    return absl::InvalidArgumentError(name + ": " + std::string(st.message()));
  }
  auto ca = DataOrFile(*cluster, "certificate-authority-data", "certificate-authority", dir, read);
  if (!ca.ok()) return ca.status();
  c.ca_pem = *ca;
  c.insecure_skip_verify = Str(*cluster, "insecure-skip-tls-verify") == "true";
  if (user_name.empty()) return c;
  auto user = Named(root, "users", "user", user_name);
  if (!user) return absl::NotFoundError(name + ": no user '" + user_name + "'");
  if (user->Find("exec") || user->Find("auth-provider")) {
    return absl::UnimplementedError(name + ": user '" + user_name +
                                    "' uses an exec or auth-provider plugin, which weft does not "
                                    "run; use a client certificate or a token");
  }
  auto cert = DataOrFile(*user, "client-certificate-data", "client-certificate", dir, read);
  if (!cert.ok()) return cert.status();
  auto key = DataOrFile(*user, "client-key-data", "client-key", dir, read);
  if (!key.ok()) return key.status();
  c.client_cert_pem = *cert;
  c.client_key_pem = *key;
  c.token = Str(*user, "token");
  c.token_file = Str(*user, "tokenFile");
  if (!c.token_file.empty() && c.token_file[0] != '/') c.token_file = dir + "/" + c.token_file;
  return c;
}

}  // namespace

absl::StatusOr<Config> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                       const std::string& context,
                                       const KubeconfigFileReader& read_file) {
  return Parse(yaml, "kubeconfig", base_dir, context, read_file);
}

absl::StatusOr<Config> LoadKubeconfig(const std::string& path, const std::string& context) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::string dir = std::filesystem::path(path).parent_path().string();
  if (dir.empty()) dir = ".";
  return Parse(*text, path, dir, context, nullptr);
}

absl::StatusOr<Config> InClusterConfig(const std::string& sa_dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return absl::FailedPreconditionError(
        "not in a cluster: KUBERNETES_SERVICE_HOST/PORT are not set (give --kubeconfig)");
  }
  std::string h = host;
  Config c;
  if (auto st = ParseServer(
          "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port, c);
      !st.ok()) {
    return st;
  }
  auto ca = ReadFile(sa_dir + "/ca.crt");
  if (!ca.ok()) return ca.status();
  c.ca_pem = *ca;
  c.token_file = sa_dir + "/token";
  if (auto ns = ReadFile(sa_dir + "/namespace"); ns.ok()) {
    std::string n = *ns;
    while (!n.empty() && (n.back() == '\n' || n.back() == ' ')) n.pop_back();
    if (!n.empty()) c.ns = n;
  }
  return c;
}

absl::StatusOr<Config> LoadConfig(const std::string& kubeconfig) {
  if (!kubeconfig.empty()) return LoadKubeconfig(kubeconfig);
  if (const char* env = std::getenv("KUBECONFIG"); env && *env) {
    std::string first = env;
    first = first.substr(0, first.find(':'));  // the first file of a list
    return LoadKubeconfig(first);
  }
  return InClusterConfig();
}

}  // namespace weft::kube
