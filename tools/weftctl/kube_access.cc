#include "tools/weftctl/kube_access.h"

#include <unistd.h>

#include <cstdlib>

namespace weft::weftctl {

absl::StatusOr<kube::Config> LoadKubeConfig(const std::string& flag) {
  if (flag.empty() && !std::getenv("KUBECONFIG")) {
    if (const char* home = std::getenv("HOME"); home && *home) {
      std::string path = std::string(home) + "/.kube/config";
      if (access(path.c_str(), R_OK) == 0) return kube::LoadKubeconfig(path);
    }
  }
  return kube::LoadConfig(flag);
}

std::string ApiError(std::string_view method, const std::string& what, const kube::Response& r) {
  std::string msg = std::string(method) + " " + what + ": HTTP " + std::to_string(r.status);
  nlohmann::json j = r.Json();
  if (j.is_object() && j.value("kind", "") == "Status" && j.contains("message") &&
      j["message"].is_string()) {
    msg += ": " + j["message"].get<std::string>();
  }
  return msg;
}

bool IsDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && !(c == '-' && i > 0 && i + 1 < s.size())) return false;
  }
  return true;
}

bool IsDnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  for (;;) {
    size_t dot = s.find('.', start);
    if (!IsDnsLabel(s.substr(start, dot == std::string::npos ? dot : dot - start))) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

}  // namespace weft::weftctl
