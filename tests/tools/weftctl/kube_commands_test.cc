// The weftctl commands that talk to a cluster, offline: `waypoint apply|delete` (its timeout
// parser, the Programmed condition, the Gateway it creates being the one `waypoint generate`
// prints) and, through the real binary, bad input of `waypoint apply|delete` and `analyze
// --cluster` (exit 2, nothing contacted) and a missing kubeconfig (exit 1).

#include <gtest/gtest.h>

#include "core/yaml/document.h"
#include "tests/testing/command.h"
#include "tools/weftctl/waypoint.h"
#include "tools/weftctl/waypoint_apply.h"

namespace weft::weftctl {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

using Result = weft::testing::CommandResult;

// weftctl `args`, with `env` (VAR=value words) in front; a kubeconfig nobody has, so that
// nothing reaches a cluster by accident.
Result Weftctl(const std::string& args, const std::string& env = "") {
  return weft::testing::RunCommand("KUBECONFIG=/nonexistent/no-kubeconfig " + env + " " +
                                   std::string(WEFTCTL_PATH) + " " + args);
}

TEST(WeftctlKubeCommands, TimeoutUnitsAndLimits) {
  EXPECT_EQ(ParseTimeout("60s").value(), milliseconds(60000));
  EXPECT_EQ(ParseTimeout("2m").value(), milliseconds(120000));
  EXPECT_EQ(ParseTimeout("1m30s").value(), milliseconds(90000));
  EXPECT_EQ(ParseTimeout("500ms").value(), milliseconds(500));
  EXPECT_EQ(ParseTimeout("1h").value(), milliseconds(3600000));
  EXPECT_EQ(ParseTimeout("90").value(), milliseconds(90000));
  EXPECT_EQ(ParseTimeout("24h").value(), milliseconds(24 * 3600000));
  for (const char* bad :
       {"", "0", "0s", "25h", "5x", "1m30", "-1s", "1.5s", "s", "10 s", "99999999999999999999s"}) {
    auto t = ParseTimeout(bad);
    EXPECT_FALSE(t.ok()) << bad;
    EXPECT_NE(t.status().message().find("bad timeout"), std::string_view::npos) << bad;
  }
  EXPECT_NE(ParseTimeout("5x").status().message().find("unknown unit 'x'"), std::string::npos);
}

json Gateway(int64_t generation, json conditions) {
  return {{"metadata", {{"name", "waypoint"}, {"generation", generation}}},
          {"status", {{"conditions", std::move(conditions)}}}};
}

TEST(WeftctlKubeCommands, ProgrammedConditionForTheCurrentGeneration) {
  std::string why;
  // What the Gateway CRD defaults a new Gateway's status to.
  EXPECT_FALSE(GatewayProgrammed(
      Gateway(1, {{{"type", "Accepted"}, {"status", "Unknown"}, {"reason", "Pending"}},
                  {{"type", "Programmed"},
                   {"status", "Unknown"},
                   {"reason", "Pending"},
                   {"message", "Waiting for controller"}}}),
      &why));
  EXPECT_EQ(why, "Programmed is Unknown (Pending: Waiting for controller)");
  EXPECT_FALSE(GatewayProgrammed(Gateway(1, json::array()), &why));
  EXPECT_EQ(why, "no Programmed condition");
  EXPECT_FALSE(GatewayProgrammed({{"metadata", {{"generation", 1}}}}, &why));
  EXPECT_EQ(why, "no Programmed condition");
  EXPECT_FALSE(GatewayProgrammed(
      Gateway(2, {{{"type", "Programmed"}, {"status", "True"}, {"observedGeneration", 1}}}), &why));
  EXPECT_EQ(why, "Programmed is True for generation 1, the Gateway is at generation 2");
  EXPECT_FALSE(GatewayProgrammed(
      Gateway(1, {{{"type", "Programmed"}, {"status", "False"}, {"reason", "NoResources"}}}),
      &why));
  EXPECT_EQ(why, "Programmed is False (NoResources)");
  EXPECT_TRUE(GatewayProgrammed(
      Gateway(2, {{{"type", "Programmed"}, {"status", "True"}, {"observedGeneration", 2}}}), &why));
  EXPECT_TRUE(why.empty());
  // Without observedGeneration: taken as current.
  EXPECT_TRUE(GatewayProgrammed(Gateway(3, {{{"type", "Programmed"}, {"status", "True"}}}), &why));
}

// YAML as JSON (plain scalars that read as numbers become numbers).
json ToJson(yaml::Node n) {
  if (n.IsMap()) {
    json j = json::object();
    for (size_t i = 0; i < n.size(); ++i) j[std::string(n.key(i).scalar())] = ToJson(n.value(i));
    return j;
  }
  if (n.IsSeq()) {
    json j = json::array();
    for (size_t i = 0; i < n.size(); ++i) j.push_back(ToJson(n.item(i)));
    return j;
  }
  std::string s(n.scalar());
  auto parsed = json::parse(s, nullptr, false);
  if (n.style() == yaml::ScalarStyle::kPlain && !parsed.is_discarded() && parsed.is_number()) {
    return parsed;
  }
  return s;
}

TEST(WeftctlKubeCommands, AppliedGatewayIsTheGeneratedOne) {
  for (const char* node : {"", "node1"}) {
    auto doc = yaml::ParseDocument(GenerateWaypointYaml("demo", "wp", node));
    ASSERT_TRUE(doc.doc.has_value());
    EXPECT_EQ(ToJson(doc.doc->root()), json(WaypointGateway("demo", "wp", node))) << node;
  }
  json gw = WaypointGateway("demo", "waypoint", "");
  EXPECT_EQ(gw["spec"]["gatewayClassName"], "weft-waypoint");
  EXPECT_EQ(gw["spec"]["listeners"],
            json::parse(R"([{"name": "mesh", "port": 15008, "protocol": "HBONE"}])"));
  EXPECT_FALSE(gw["metadata"].contains("annotations"));
}

TEST(WeftctlKubeCommands, WaypointApplyAndDeleteBadInputExit2) {
  struct Case {
    const char* args;
    const char* says;
  };
  for (const Case& c : {
           Case{"waypoint apply", "--namespace is required"},
           Case{"waypoint apply -n Demo", "invalid namespace \"Demo\""},
           Case{"waypoint apply -n demo --name -x", "invalid name \"-x\""},
           Case{"waypoint apply -n demo --name Way_Point", "invalid name \"Way_Point\""},
           Case{"waypoint apply -n demo --timeout 10s", "--timeout goes with --wait"},
           Case{"waypoint apply -n demo --wait --timeout 0s", "bad timeout \"0s\""},
           Case{"waypoint apply -n demo --wait --timeout soon", "bad timeout \"soon\""},
           Case{"waypoint apply -n demo --no-such-flag", "no-such-flag"},
           Case{"waypoint delete", "--namespace is required"},
           Case{"waypoint delete -n demo Bad.Name", "invalid name \"Bad.Name\""},
           Case{"waypoint delete -n demo a b", "not expected"},
       }) {
    Result r = Weftctl(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args << "\n" << r.out;
  }
}

TEST(WeftctlKubeCommands, AnalyzeClusterBadInputExit2) {
  struct Case {
    const char* args;
    const char* says;
  };
  for (const Case& c : {
           Case{"analyze", "analyze reads files (-f PATH...) or a cluster (--cluster)"},
           Case{"analyze --cluster -f /dev/null", "-f and --cluster exclude each other"},
           Case{"analyze -f /dev/null --kubeconfig /k", "--kubeconfig goes with --cluster"},
           Case{"analyze -f /dev/null --chunk-size 5", "--chunk-size goes with --cluster"},
           Case{"analyze --cluster -n Bad_NS", "invalid namespace \"Bad_NS\""},
           Case{"analyze --cluster --chunk-size 0", "--chunk-size"},
           Case{"analyze --cluster -o yaml", "--output"},
       }) {
    Result r = Weftctl(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << c.args << "\n" << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args << "\n" << r.out;
  }
}

TEST(WeftctlKubeCommands, NoKubeconfigExit1NamingIt) {
  for (const char* args :
       {"waypoint apply -n demo", "waypoint delete -n demo", "analyze --cluster"}) {
    Result r = Weftctl(args);
    EXPECT_EQ(r.exit_code, 1) << args << "\n" << r.out << r.err;
    EXPECT_NE(r.err.find("no-kubeconfig"), std::string::npos) << args << "\n" << r.err;
    Result flag = Weftctl(std::string(args) + " --kubeconfig /nonexistent/kc");
    EXPECT_EQ(flag.exit_code, 1) << args << "\n" << flag.out << flag.err;
    EXPECT_NE(flag.err.find("/nonexistent/kc"), std::string::npos) << args << "\n" << flag.err;
  }
}

TEST(WeftctlKubeCommands, HelpNamesTheCommands) {
  Result r = Weftctl("waypoint --help");
  EXPECT_EQ(r.exit_code, 0);
  for (const char* cmd : {"apply", "delete", "generate", "list"}) {
    EXPECT_NE(r.out.find(cmd), std::string::npos) << cmd << "\n" << r.out;
  }
  Result a = Weftctl("waypoint apply --help");
  for (const char* flag : {"--enroll-namespace", "--overwrite", "--kubeconfig", "--wait",
                           "--timeout", "--name", "--namespace"}) {
    EXPECT_NE(a.out.find(flag), std::string::npos) << flag << "\n" << a.out;
  }
}

}  // namespace
}  // namespace weft::weftctl
