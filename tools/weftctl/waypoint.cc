#include "tools/weftctl/waypoint.h"

namespace weft::weftctl {

namespace {

// `text` followed by `comment` at column 34 (at least one space after the text), as in the
// example of docs/waypoint.md.
std::string WithComment(const std::string& text, const std::string& comment) {
  constexpr size_t kCommentColumn = 34;
  std::string pad(text.size() < kCommentColumn ? kCommentColumn - text.size() : 1, ' ');
  return text + pad + "# " + comment + "\n";
}

}  // namespace

std::string GenerateWaypointYaml(const std::string& ns, const std::string& name,
                                 const std::string& node) {
  std::string out =
      "apiVersion: gateway.networking.k8s.io/v1\n"
      "kind: Gateway\n"
      "metadata:\n"
      "  name: " +
      name +
      "\n"
      "  namespace: " +
      ns + "\n";
  if (!node.empty()) {
    out += "  annotations:\n";
    out += WithComment("    weft.dev/node: " + node,
                       "local mode: the node that runs it (default: the first)");
  }
  out += "spec:\n";
  out += WithComment("  gatewayClassName: weft-waypoint", "istio-waypoint is accepted too");
  out +=
      "  listeners:\n"
      "  - {name: mesh, port: 15008, protocol: HBONE}\n";
  return out;
}

nlohmann::ordered_json WaypointGateway(const std::string& ns, const std::string& name,
                                       const std::string& node) {
  nlohmann::ordered_json meta = {{"name", name}, {"namespace", ns}};
  if (!node.empty()) meta["annotations"] = {{"weft.dev/node", node}};
  return {
      {"apiVersion", "gateway.networking.k8s.io/v1"},
      {"kind", "Gateway"},
      {"metadata", meta},
      {"spec",
       {{"gatewayClassName", kWaypointClass},
        {"listeners", nlohmann::ordered_json::array(
                          {{{"name", "mesh"}, {"port", kWaypointPort}, {"protocol", "HBONE"}}})}}}};
}

}  // namespace weft::weftctl
