#include "waypoint/http/hop_by_hop.h"

#include <string>
#include <vector>

namespace weft::waypoint {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string> Tokens(const http::HeaderMap& headers, std::string_view name) {
  std::vector<std::string> out;
  for (std::string_view v : headers.GetAll(name)) {
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      std::string_view t =
          Trim(v.substr(start, comma == std::string_view::npos ? v.size() - start : comma - start));
      if (!t.empty()) out.push_back(http::ToLower(t));
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
  }
  return out;
}

}  // namespace

bool IsHopByHopName(std::string_view name) {
  switch (name.size()) {
    case 2:
      return name == "te";
    case 7:
      return name == "upgrade";
    case 10:
      return name == "connection" || name == "keep-alive";
    case 16:
      return name == "proxy-connection";
    case 17:
      return name == "transfer-encoding";
    default:
      return false;
  }
}

bool HasHopByHop(const http::HeaderMap& headers) {
  for (const auto& f : headers) {
    if (IsHopByHopName(f.name)) return true;
  }
  return false;
}

bool WantsTrailers(const http::HeaderMap& headers) {
  for (const auto& t : Tokens(headers, "te")) {
    if (t == "trailers") return true;
  }
  return false;
}

void StripHopByHop(http::HeaderMap& headers, bool keep_te_trailers) {
  if (!HasHopByHop(headers)) return;  // nothing to remove (names are stored lowercase)
  bool te_trailers = keep_te_trailers && WantsTrailers(headers);
  for (const auto& named : Tokens(headers, "connection")) {
    // A Connection header may not remove end-to-end semantics we rely on.
    if (named == "te" && te_trailers) continue;
    headers.Remove(named);
  }
  auto& fields = headers.mutable_fields();
  std::erase_if(fields, [](const http::HeaderField& f) { return IsHopByHopName(f.name); });
  if (te_trailers) headers.Add("te", "trailers");
}

}  // namespace weft::waypoint
