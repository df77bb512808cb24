#include "tools/netns-cluster/ca.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

#include "core/identity/ca.h"
#include "core/identity/key_pair.h"
#include "core/identity/trust_bundle.h"
#include "tools/netns-cluster/sys.h"

namespace weft::cluster {

namespace {

constexpr auto kRootLifetime = std::chrono::hours(24 * 365 * 10);

// Writes `text` to `path` with `mode` via a temporary file and rename.
absl::Status WriteSecret(const std::string& path, const std::string& text, mode_t mode) {
  std::string tmp = path + ".tmp";
  unlink(tmp.c_str());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError("cannot create " + tmp);
  fchmod(fd, mode);
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = close(fd) == 0 && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return absl::InternalError("cannot write " + path);
  }
  return absl::OkStatus();
}

}  // namespace

std::string CaRootCert(const std::string& ca_dir) {
  return ca_dir + "/root.crt";
}

std::string CaRootKey(const std::string& ca_dir) {
  return ca_dir + "/root.key";
}

absl::Status EnsureRoot(const std::string& ca_dir, const std::string& trust_domain, bool* created) {
  if (created) *created = false;
  auto have = identity::CertificateAuthority::FromFiles(CaRootCert(ca_dir), CaRootKey(ca_dir));
  if (have.ok() && have->trust_domain() == trust_domain &&
      have->root().not_after() > identity::Clock::now() + std::chrono::hours(24 * 30)) {
    return absl::OkStatus();
  }
  if (auto s = sys::MakeDirs(ca_dir, 0700); !s.ok()) return s;
  chmod(ca_dir.c_str(), 0700);
  auto ca = identity::CertificateAuthority::CreateRoot(trust_domain, kRootLifetime);
  if (!ca.ok()) return ca.status();
  if (auto s = WriteSecret(CaRootKey(ca_dir), ca->RootKeyPem(), 0600); !s.ok()) return s;
  if (auto s = WriteSecret(CaRootCert(ca_dir), ca->root().ToPem(), 0644); !s.ok()) return s;
  if (created) *created = true;
  return absl::OkStatus();
}

absl::Status EnsureNodeCertificate(const std::string& ca_dir, const std::string& node,
                                   const std::string& cert_file, const std::string& key_file) {
  auto ca = identity::CertificateAuthority::FromFiles(CaRootCert(ca_dir), CaRootKey(ca_dir));
  if (!ca.ok()) return ca.status();
  // Keep a certificate that still fits.
  auto cert_pem = sys::ReadFile(cert_file);
  auto key_pem = sys::ReadFile(key_file);
  if (cert_pem.ok() && key_pem.ok()) {
    auto cert = identity::Certificate::FromPem(*cert_pem);
    auto key = identity::KeyPair::FromPrivateKeyPem(*key_pem);
    auto bundle = identity::TrustBundle::Create(ca->trust_domain(), {ca->root()});
    if (cert.ok() && key.ok() && bundle.ok()) {
      identity::VerifyResult v =
          bundle->Verify({*cert}, {.now = identity::Clock::now() + std::chrono::hours(24),
                                   .kind = identity::SpiffeId::Kind::kNode,
                                   .role = identity::PeerRole::kClient});
      if (v.ok() && v.id && v.id->node() == node &&
          X509_check_private_key(cert->get(), key->get()) == 1) {
        return absl::OkStatus();
      }
    }
  }
  auto key = identity::KeyPair::GenerateP256();
  if (!key.ok()) return key.status();
  auto lifetime = std::chrono::duration_cast<std::chrono::seconds>(ca->root().not_after() -
                                                                   identity::Clock::now());
  auto cert = ca->IssueNodeCertificate(node, key->get(), lifetime);
  if (!cert.ok()) return cert.status();
  std::string dir = std::filesystem::path(cert_file).parent_path().string();
  if (auto s = sys::MakeDirs(dir); !s.ok()) return s;
  if (auto s = WriteSecret(key_file, key->PrivateKeyPem(), 0600); !s.ok()) return s;
  return WriteSecret(cert_file, cert->ToPem(), 0644);
}

std::vector<std::string> CaCommand(const State& s) {
  return {s.agent_bin,          "ca",          "--listen",          s.ca_address,  "--root-cert",
          CaRootCert(s.ca_dir), "--root-key",  CaRootKey(s.ca_dir), "--local-dir", s.dir,
          "--trust-domain",     s.trust_domain};
}

std::vector<std::string> AgentCaArgs(const State& s, const NodeState& n) {
  return {"--ca-address", s.ca_address, "--ca-bundle", CaRootCert(s.ca_dir), "--node-cert",
          n.node_cert,    "--node-key", n.node_key,    "--trust-domain",     s.trust_domain};
}

}  // namespace weft::cluster
