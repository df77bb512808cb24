#include "tools/weftctl/certs.h"

#include <algorithm>
#include <ctime>
#include <iomanip>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <vector>

namespace weft::weftctl {

using nlohmann::json;
using Clock = std::chrono::system_clock;

namespace {

// "2025-01-02T03:04:05Z" -> time point.
std::optional<Clock::time_point> ParseRfc3339(const json& j) {
  if (!j.is_string()) return std::nullopt;
  std::tm tm{};
  std::string s = j.get<std::string>();
  std::istringstream in(s);
  in >> std::get_time(&tm, "%Y-%m-%dT%H:%M:%SZ");
  if (in.fail()) return std::nullopt;
  return Clock::from_time_t(timegm(&tm));
}

// 90061 s -> "1d1h1m"; under a minute "45s".
std::string Span(std::chrono::seconds d) {
  int64_t s = d.count();
  if (s < 60) return std::to_string(s) + "s";
  std::string out;
  if (s >= 86400) out += std::to_string(s / 86400) + "d";
  if (s % 86400 >= 3600) out += std::to_string(s % 86400 / 3600) + "h";
  if (s % 3600 >= 60) out += std::to_string(s % 3600 / 60) + "m";
  return out;
}

std::string Relative(Clock::time_point t, Clock::time_point now) {
  auto d = std::chrono::duration_cast<std::chrono::seconds>(t - now);
  if (d.count() >= 0) return "in " + Span(d);
  return Span(-d) + " ago";
}

std::string Text(const json& j, const std::string& key) {
  if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty()) return "-";
  return j[key].get<std::string>();
}

}  // namespace

absl::StatusOr<std::string> RenderCerts(std::string_view json_text, Clock::time_point now) {
  json j = json::parse(json_text, nullptr, false);
  if (!j.is_array()) return absl::InvalidArgumentError("the agent's /certs answer is not a list");
  std::vector<std::vector<std::string>> rows = {
      {"IDENTITY", "SERIAL", "NOT AFTER", "STATE", "NEXT", "ERROR"}};
  for (const auto& c : j) {
    if (!c.is_object()) continue;
    std::string not_after = "-";
    if (auto t = ParseRfc3339(c.value("not_after", json())); t) {
      not_after =
          Text(c, "not_after") + " (" + (*t > now ? "in " : "expired ") +
          (*t > now ? Span(std::chrono::duration_cast<std::chrono::seconds>(*t - now))
                    : Span(std::chrono::duration_cast<std::chrono::seconds>(now - *t)) + " ago") +
          ")";
    }
    std::string next = "-";
    if (auto t = ParseRfc3339(c.value("next_attempt", json())); t) next = Relative(*t, now);
    rows.push_back({Text(c, "identity"), Text(c, "serial"), not_after, Text(c, "state"), next,
                    Text(c, "error")});
  }
  std::vector<size_t> w(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
  std::ostringstream o;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(w[i] - r[i].size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    o << line << "\n";
  }
  return o.str();
}

}  // namespace weft::weftctl
