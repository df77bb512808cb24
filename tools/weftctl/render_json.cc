#include <google/protobuf/util/json_util.h>

#include <nlohmann/json.hpp>

#include "tools/weftctl/render.h"

namespace weft::weftctl {

std::string RenderJson(const pb::MeshSnapshot& snapshot) {
  std::string out;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = false;
  auto status = google::protobuf::util::MessageToJsonString(snapshot, &out, options);
  if (!status.ok()) return "{\"error\": \"" + std::string(status.message()) + "\"}\n";
  return out;
}

namespace {

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  static const char* reserved[] = {"true", "false", "null", "yes", "no", "on", "off", "~",
                                   "True", "False", "Null", "Yes", "No", "On", "Off"};
  for (auto r : reserved) {
    if (s == r) return true;
  }
  if (s.find_first_of(":#{}[],&*!|>'\"%@`\n\t") != std::string::npos) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '-' || s.front() == '?') return true;
  bool numeric = s.find_first_not_of("0123456789.+-eE") == std::string::npos;
  return numeric;
}

std::string Scalar(const nlohmann::ordered_json& j) {
  if (j.is_string()) {
    const std::string& s = j.get_ref<const std::string&>();
    return NeedsQuotes(s) ? nlohmann::json(s).dump() : s;
  }
  return j.dump();
}

void Emit(const nlohmann::ordered_json& j, int indent, std::string& out) {
  std::string pad(indent, ' ');
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      const auto& v = it.value();
      std::string key = NeedsQuotes(it.key()) ? nlohmann::json(it.key()).dump() : it.key();
      if ((v.is_object() || v.is_array()) && !v.empty()) {
        out += pad + key + ":\n";
        Emit(v, v.is_array() ? indent : indent + 2, out);
      } else {
        out += pad + key + ": " + (v.is_object() ? "{}" : v.is_array() ? "[]" : Scalar(v)) + "\n";
      }
    }
  } else if (j.is_array()) {
    for (const auto& v : j) {
      if (v.is_object() && !v.empty()) {
        std::string nested;
        Emit(v, indent + 2, nested);
        nested.replace(indent, 2, "- ");  // the first line's indent becomes the dash
        out += nested;
      } else if (v.is_array() && !v.empty()) {
        out += pad + "-\n";
        Emit(v, indent + 2, out);
      } else {
        out += pad + "- " + (v.is_object() ? "{}" : v.is_array() ? "[]" : Scalar(v)) + "\n";
      }
    }
  }
}

}  // namespace

std::string RenderWaypointsJson(const pb::MeshSnapshot& snapshot) {
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  for (const auto& w : snapshot.waypoints()) {
    nlohmann::ordered_json addresses = nlohmann::ordered_json::array();
    for (const auto& ep : w.endpoints()) {
      addresses.push_back({{"address", ep.address()},
                           {"workloadUid", ep.workload_uid()},
                           {"node", ep.node()},
                           {"ready", ep.ready()}});
    }
    out.push_back({{"namespace", w.namespace_()},
                   {"name", w.name()},
                   {"gatewayClass", w.gateway_class()},
                   {"node", w.node()},
                   {"port", w.port()},
                   {"identity", w.identity()},
                   {"endpoints", std::move(addresses)},
                   {"boundServices", BoundServices(snapshot, w)}});
  }
  return out.dump(2) + "\n";
}

std::string RenderYaml(const pb::MeshSnapshot& snapshot) {
  nlohmann::ordered_json j = nlohmann::ordered_json::parse(RenderJson(snapshot));
  std::string out;
  Emit(j, 0, out);
  return out;
}

}  // namespace weft::weftctl
