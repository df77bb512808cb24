#include "agent/source/cluster_state.h"

#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

namespace weft::agent {

std::optional<std::map<std::string, std::string>> ClusterStateReader::ReadIfChanged() {
  if (path_.empty()) return std::nullopt;
  struct stat sb;
  if (stat(path_.c_str(), &sb) != 0) return std::nullopt;
  int64_t mtime = static_cast<int64_t>(sb.st_mtim.tv_sec) * 1'000'000'000 + sb.st_mtim.tv_nsec;
  if (mtime == mtime_) return std::nullopt;
  std::ifstream in(path_);
  nlohmann::json state = nlohmann::json::parse(in, nullptr, false);
  if (state.is_discarded()) return std::nullopt;  // being rewritten: read it next time
  mtime_ = mtime;
  std::map<std::string, std::string> ips;
  for (const auto& p : state.value("pods", nlohmann::json::array())) {
    std::string ip = p.value("ip", "");
    if (!ip.empty()) ips[p.value("namespace", "") + "/" + p.value("name", "")] = ip;
  }
  return ips;
}

}  // namespace weft::agent
