#include "core/source/files.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace weft::source {

namespace fs = std::filesystem;

bool IsManifestName(const std::string& name) {
  auto ends = [&](std::string_view s) { return name.size() >= s.size() && name.ends_with(s); };
  return ends(".yaml") || ends(".yml") || ends(".json");
}

namespace {

void IoError(LoadedFiles& out, const std::string& path, const std::string& message) {
  policy::Diagnostic d;
  d.severity = policy::Severity::kError;
  d.code = std::string(policy::code::kIo);
  d.resource.file = path;
  d.message = message;
  out.io_errors.push_back(std::move(d));
}

void ReadOne(LoadedFiles& out, const std::string& path, const policy::DecodeOptions& options) {
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      IoError(out, path, "cannot read: " + std::string(std::strerror(errno)));
      return;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  std::string name = path == "-" ? "<stdin>" : path;
  out.files.push_back(name);
  auto docs = policy::DecodeText(text, name, options);
  for (auto& d : docs) out.documents.push_back(std::move(d));
}

}  // namespace

LoadedFiles LoadPaths(const std::vector<std::string>& paths, const policy::DecodeOptions& options) {
  LoadedFiles out;
  for (const auto& path : paths) {
    if (path == "-") {
      ReadOne(out, path, options);
      continue;
    }
    std::error_code ec;
    auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      IoError(out, path, "no such file or directory");
      continue;
    }
    if (!fs::is_directory(status)) {
      ReadOne(out, path, options);
      continue;
    }
    std::vector<std::string> found;
    auto it =
        fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory()) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file() && IsManifestName(name)) found.push_back(it->path().string());
    }
    if (ec) IoError(out, path, "cannot list directory: " + ec.message());
    std::sort(found.begin(), found.end());
    for (const auto& f : found) ReadOne(out, f, options);
  }
  return out;
}

}  // namespace weft::source
