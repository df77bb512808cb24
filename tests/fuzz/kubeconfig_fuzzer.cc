// libFuzzer target for weft::kube::ParseKubeconfig (core/kube/config.h), and through it the
// YAML document parser (core/yaml: the block-style fast path and libyaml).
//
// Build and run as http1_request_fuzzer.cc says, with this target's name, or
// `tests/fuzz/run kubeconfig_fuzzer`, which seeds it from tests/fuzz/seeds/TARGET and gives it
// tests/fuzz/dicts/TARGET.dict.
//
// The input is a kubeconfig's text; when its first line is a comment "#NAME", it is also
// parsed for the context NAME. Nothing is read from disk: the files a kubeconfig names
// (certificate-authority, client-certificate, client-key) go through a reader that serves a
// few names under a made-up base directory from memory and refuses every other path, so
// neither relative names ("../../etc/shadow") nor absolute ones ("/dev/zero", "/dev/stdin")
// reach the file system.
//
// Beyond memory safety and hangs it checks, on every input:
//   - the fast YAML path and libyaml alone agree: the same Document, or both refuse;
//   - an accepted config has a non-empty host and a port (1..65535), and its server() parses
//     back with ParseServer to the same host and port;
//   - every file asked for has an absolute path (relative names are joined to the base);
//   - parsing again gives the same result (no hidden state).

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/kube/config.h"
#include "core/yaml/document.h"

namespace {

using weft::kube::Config;

constexpr char kBase[] = "/weft-fuzz/kubeconfig";

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

const std::map<std::string, std::string>& Files() {
  static const auto* files = new std::map<std::string, std::string>{
      {std::string(kBase) + "/ca.crt", "CA PEM"},
      {std::string(kBase) + "/me.crt", "CERT PEM"},
      {std::string(kBase) + "/me.key", "KEY PEM"},
      {"/etc/weft/ca.crt", "ABSOLUTE CA PEM"},
  };
  return *files;
}

absl::StatusOr<std::string> Read(const std::string& path) {
  Check(!path.empty() && path[0] == '/');
  auto it = Files().find(path);
  if (it == Files().end()) return absl::NotFoundError("cannot read " + path);
  return it->second;
}

std::string Key(const absl::StatusOr<Config>& c) {
  if (!c.ok()) return c.status().ToString();
  return c->host + '\n' + std::to_string(c->port) + '\n' + c->ca_pem + '\n' +
         (c->insecure_skip_verify ? "insecure\n" : "verify\n") + c->client_cert_pem + '\n' +
         c->client_key_pem + '\n' + c->token + '\n' + c->token_file + '\n' + c->ns;
}

void CheckConfig(std::string_view text, const std::string& context) {
  absl::StatusOr<Config> c = weft::kube::ParseKubeconfig(text, kBase, context, Read);
  Check(Key(c) == Key(weft::kube::ParseKubeconfig(text, kBase, context, Read)));
  if (!c.ok()) return;
  Check(!c->host.empty());
  Check(c->port != 0);
  Config again;
  Check(weft::kube::ParseServer(c->server(), again).ok());
  Check(again.host == c->host && again.port == c->port);
  Check(c->token_file.empty() || c->token_file[0] == '/');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  weft::yaml::ParsedDocument fast = weft::yaml::ParseDocument(text);
  weft::yaml::ParsedDocument reference = weft::yaml::ParseDocumentWithLibyaml(text);
  Check(fast.doc.has_value() == reference.doc.has_value());
  if (fast.doc) Check(*fast.doc == *reference.doc);

  CheckConfig(text, "");
  if (!text.empty() && text[0] == '#') {
    std::string_view line = text.substr(1, text.find('\n') - 1);
    if (!line.empty()) CheckConfig(text, std::string(line));
  }
  return 0;
}
