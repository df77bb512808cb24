// End to end: tools/cluster makes a real 2-node netns cluster (root). Each test uses its own
// cluster name and state file, so tests run in parallel with each other and with other
// clusters on the host, and `down` runs even when an assertion failed.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/testing/command.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using Result = weft::testing::CommandResult;
using weft::testing::RunCommand;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Cgroup2() {
  std::ifstream in("/proc/mounts");
  std::string dev, dir, type, rest, found;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (type == "cgroup2" && (found.empty() || dir == "/sys/fs/cgroup")) found = dir;
  }
  return found;
}

bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto p = s.rfind(')');
  return !s.empty() && p != std::string::npos && p + 2 < s.size() && s[p + 2] != 'Z';
}

bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return pred();
}

constexpr char kNodes[] = R"(apiVersion: v1
kind: Node
metadata:
  name: n1
spec:
  podCIDR: 10.244.7.0/24
---
apiVersion: v1
kind: Node
metadata:
  name: n2
)";

std::string PodYaml(const std::string& ns, const std::string& name, const std::string& node,
                    const std::string& run, const std::string& ip = "") {
  // Quoted: a pod named y or n is a string only so (kubectl reads a plain y as a boolean).
  std::string y = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"" + name +
                  "\"\n  namespace: \"" + ns + "\"\n  annotations:\n    weft.dev/run: \"" + run +
                  "\"\nspec:\n  nodeName: \"" + node + "\"\n";
  if (!ip.empty()) y += "status:\n  podIP: " + ip + "\n";
  return y;
}

std::string Serve(const std::string& extra = "") {
  return "exec weft-testapp serve --port 8080" + extra;
}

class ClusterE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) {
      if (getenv("CI")) FAIL() << "the netns cluster tests need root (CI is set: no skipping)";
      GTEST_SKIP() << "the netns cluster tests need root";
    }
    std::random_device rd;
    const char* chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    name_ = "t";
    for (int i = 0; i < 4; ++i) name_ += chars[rd() % 36];
    char tmpl[] = "/tmp/weft-cluster-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ / "dir";
    state_ = root_ / "state" / "state.json";
    fs::create_directories(dir_);
    cgroup2_ = Cgroup2();
    ASSERT_FALSE(cgroup2_.empty()) << "no cgroup2 mount";
    active_ = true;
  }

  void TearDown() override {
    if (!active_) return;
    if (HasFailure()) {
      // What the cluster said, for the failure report.
      std::cerr << Cluster("status").all() << Slurp(root_ / "state" / "supervisor.log");
    }
    Result r = Cluster("down");
    EXPECT_EQ(r.exit_code, 0) << r.all();
    EXPECT_EQ(Leftovers(), std::vector<std::string>{});
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // tools/cluster (the wrapper) on this test's cluster, bounded by `timeout`.
  Result Cluster(const std::string& args, const std::string& stdin_text = "") {
    std::string prefix = "WEFT_BUILD=" + std::string(WEFT_BINARY_DIR) + " WEFT_CLUSTER=" + name_ +
                         " WEFT_CLUSTER_STATE=" + state_.string() + " timeout 60 " +
                         std::string(WEFT_SOURCE_DIR) + "/tools/cluster ";
    return RunCommand(prefix + args, stdin_text);
  }

  Result Call(const std::string& from, const std::string& target, int n,
              const std::string& extra = "") {
    return Cluster("exec " + from + " -- weft-testapp call " + target + " -n " + std::to_string(n) +
                   " --timeout-ms 1000 " + extra);
  }

  json Status() {
    Result r = Cluster("status --json");
    if (r.exit_code != 0) return json::object();
    return json::parse(r.out, nullptr, false);
  }

  json Pod(const json& st, const std::string& ns, const std::string& name) {
    for (const auto& p : st.value("pods", json::array())) {
      if (p["namespace"] == ns && p["name"] == name) return p;
    }
    return json();
  }

  void WriteFile(const std::string& rel, const std::string& text) {
    // Written aside and renamed in, as editors and kubectl-style tools do: one inotify event.
    fs::path tmp = root_ / (".tmp-" + rel);
    std::ofstream(tmp) << text;
    fs::rename(tmp, dir_ / rel);
  }

  std::string Prefix() const { return "weft-" + name_ + "-"; }

  std::vector<std::string> Leftovers() {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& root : {fs::path("/run/netns"), fs::path("/sys/class/net")}) {
      for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
           it.increment(ec)) {
        std::string n = it->path().filename().string();
        if (n.starts_with(Prefix())) out.push_back(it->path().string());
      }
    }
    fs::path cg = fs::path(cgroup2_) / ("weft-" + name_);
    if (fs::exists(cg)) out.push_back(cg.string());
    if (fs::exists(state_)) out.push_back(state_.string());
    return out;
  }

  bool active_ = false;
  std::string name_, cgroup2_;
  fs::path root_, dir_, state_;
};

TEST_F(ClusterE2E, TwoNodesTrafficCgroupsRestartLiveChangesAndDown) {
  WriteFile("nodes.yaml", kNodes);
  WriteFile("pods.yaml", PodYaml("default", "a", "n1", Serve(), "10.244.7.10") + "---\n" +
                             PodYaml("default", "b", "n1", Serve()) + "---\n" +
                             PodYaml("demo", "c", "n2", Serve()));
  Result up = Cluster("up -f " + dir_.string() + " --no-agents");
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_NE(up.out.find("pod demo/c"), std::string::npos) << up.out;

  // Addresses: given podCIDR/podIP honoured, the rest assigned.
  json st = Status();
  ASSERT_EQ(st["nodes"].size(), 2u) << st.dump(2);
  ASSERT_EQ(st["pods"].size(), 3u) << st.dump(2);
  EXPECT_TRUE(st["supervisor_running"].get<bool>());
  EXPECT_EQ(st["nodes"][0]["pod_cidr"], "10.244.7.0/24");
  EXPECT_EQ(st["nodes"][1]["pod_cidr"], "10.244.1.0/24");
  EXPECT_EQ(st["nodes"][0]["netns"], Prefix() + "node-n1");
  EXPECT_EQ(st["nodes"][0]["agent"]["state"], "disabled");
  EXPECT_EQ(Pod(st, "default", "a")["ip"], "10.244.7.10");
  EXPECT_EQ(Pod(st, "default", "b")["ip"], "10.244.7.2");
  EXPECT_EQ(Pod(st, "demo", "c")["ip"], "10.244.1.2");

  // Cross-node, both ways, with the client's pod address seen by the server (no NAT).
  ASSERT_TRUE(
      WaitFor([&] { return Call("default/a", "10.244.1.2:8080", 1).exit_code == 0; }, 10000));
  Result cross = Call("default/a", "10.244.1.2:8080", 5, "-v");
  EXPECT_EQ(cross.exit_code, 0) << cross.all();
  EXPECT_NE(cross.out.find("\nc 5\n"), std::string::npos) << cross.out;
  EXPECT_NE(cross.out.find("c 10.244.1.2:8080 10.244.7.10:"), std::string::npos) << cross.out;
  Result back = Call("demo/c", "10.244.7.10:8080", 3);
  EXPECT_EQ(back.exit_code, 0) << back.all();
  EXPECT_EQ(back.out, "a 3\n");
  // Same node.
  ASSERT_TRUE(
      WaitFor([&] { return Call("default/a", "10.244.7.2:8080", 1).exit_code == 0; }, 10000));
  Result same = Call("default/a", "10.244.7.2:8080", 5);
  EXPECT_EQ(same.exit_code, 0) << same.all();
  EXPECT_EQ(same.out, "b 5\n");

  // The pod's process runs in the pod's cgroup and netns; so does `exec`, with stdin, stdout
  // and the exit status passed through.
  int pid_a = Pod(st, "default", "a")["process"]["pid"];
  ASSERT_GT(pid_a, 0);
  std::string want_cg = "0::/weft-" + name_ + "/n1/default_a\n";
  EXPECT_NE(Slurp("/proc/" + std::to_string(pid_a) + "/cgroup").find(want_cg), std::string::npos);
  struct stat pod_ns, proc_ns;
  ASSERT_EQ(stat(("/run/netns/" + Prefix() + "pod-default-a").c_str(), &pod_ns), 0);
  ASSERT_EQ(stat(("/proc/" + std::to_string(pid_a) + "/ns/net").c_str(), &proc_ns), 0);
  EXPECT_EQ(pod_ns.st_ino, proc_ns.st_ino);
  Result cg = Cluster("exec default/a -- cat /proc/self/cgroup");
  EXPECT_NE(cg.out.find(want_cg), std::string::npos) << cg.all();
  EXPECT_EQ(Cluster("exec default/a -- cat", "hello pod\n").out, "hello pod\n");
  EXPECT_EQ(Cluster("exec default/a -- sh -c 'exit 7'").exit_code, 7);
  Result nopod = Cluster("exec default/nope -- true");
  EXPECT_NE(nopod.exit_code, 0);
  EXPECT_NE(nopod.err.find("no pod default/nope"), std::string::npos) << nopod.err;

  // A killed process is restarted.
  int pid_b = Pod(st, "default", "b")["process"]["pid"];
  ASSERT_GT(pid_b, 0);
  ASSERT_EQ(kill(pid_b, SIGKILL), 0);
  int new_b = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        json p = Pod(Status(), "default", "b");
        if (p.is_null() || p["process"]["state"] != "running") return false;
        new_b = p["process"]["pid"];
        return new_b != pid_b && p["process"]["restarts"].get<int>() >= 1;
      },
      5000));
  EXPECT_TRUE(Alive(new_b));
  EXPECT_TRUE(
      WaitFor([&] { return Call("default/a", "10.244.7.2:8080", 1).out == "b 1\n"; }, 5000));

  // A Pod file added to DIR appears live; a changed command restarts it; removal tears it down.
  WriteFile("d.yaml", PodYaml("default", "d", "n2", Serve(" --name dee")));
  ASSERT_TRUE(WaitFor([&] { return !Pod(Status(), "default", "d").is_null(); }, 5000));
  std::string ip_d = Pod(Status(), "default", "d")["ip"];
  EXPECT_EQ(ip_d, "10.244.1.3");
  EXPECT_TRUE(
      WaitFor([&] { return Call("default/a", ip_d + ":8080", 1).out == "dee 1\n"; }, 10000));
  WriteFile("d.yaml", PodYaml("default", "d", "n2", Serve(" --name dee2")));
  EXPECT_TRUE(
      WaitFor([&] { return Call("default/a", ip_d + ":8080", 1).out == "dee2 1\n"; }, 10000));
  fs::remove(dir_ / "d.yaml");
  EXPECT_TRUE(WaitFor(
      [&] {
        return Pod(Status(), "default", "d").is_null() &&
               !fs::exists("/run/netns/" + Prefix() + "pod-default-d");
      },
      5000));

  // A broken edit is reported and changes nothing that runs.
  WriteFile("bad.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lost\n");
  EXPECT_TRUE(WaitFor(
      [&] { return Cluster("status").out.find("spec.nodeName: required") != std::string::npos; },
      5000));

  Result human = Cluster("status");
  EXPECT_EQ(human.exit_code, 0);
  for (const char* s :
       {"default/a", "default/b", "demo/c", "n1", "n2", "10.244.7.10", "running (pid"}) {
    EXPECT_NE(human.out.find(s), std::string::npos) << s << " in\n" << human.out;
  }
  EXPECT_NE(Cluster("logs default/a").out.find("listening tcp 0.0.0.0:8080 as a"),
            std::string::npos);

  Result down = Cluster("down");
  EXPECT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid_a) && !Alive(new_b); }, 3000));
  Result again = Cluster("down");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_NE(again.out.find("nothing to remove"), std::string::npos) << again.all();
}

// A bridge left to itself takes the lowest MAC of its ports: a new pod whose veth has a lower
// one would change the gateway's address under the pods that cached it, and their packets
// would be dropped until their ARP entries expire (15-60 s). The bridges keep a fixed address.
TEST_F(ClusterE2E, BridgesKeepTheirAddressAsPodsComeAndGo) {
  WriteFile("nodes.yaml", kNodes);
  WriteFile("pods.yaml", PodYaml("default", "a", "n1", Serve()) + "---\n" +
                             PodYaml("default", "x", "n1", Serve()) + "---\n" +
                             PodYaml("demo", "c", "n2", Serve()));
  Result up = Cluster("up -f " + dir_.string() + " --no-agents");
  ASSERT_EQ(up.exit_code, 0) << up.all();
  const std::string n1 = Prefix() + "node-n1";
  auto cbr0 = [&](const std::string& attr) {
    return RunCommand("ip netns exec " + n1 + " cat /sys/class/net/cbr0/" + attr).out;
  };
  auto set_veth_mac = [&](const std::string& pod, const std::string& mac) {
    std::string veth = Pod(Status(), "default", pod).value("veth", "");
    ASSERT_FALSE(veth.empty());
    Result r = RunCommand("ip -n " + n1 + " link set " + veth + " address " + mac);
    ASSERT_EQ(r.exit_code, 0) << r.all();
  };
  EXPECT_EQ(cbr0("address"), "0a:58:0a:f4:07:01\n");  // from 10.244.7.1
  EXPECT_EQ(cbr0("addr_assign_type"), "3\n");         // NET_ADDR_SET: the kernel keeps it
  // The host's bridge too (the nodes' gateway to the CA).
  json st = Status();
  std::string bridge = st.value("bridge", "");
  ASSERT_FALSE(bridge.empty()) << st.dump(2);
  EXPECT_EQ(Slurp("/sys/class/net/" + bridge + "/addr_assign_type"), "3\n");

  // Without a fixed address the bridge would now take x's, and pod a would cache that.
  set_veth_mac("x", "02:00:00:00:00:02");
  ASSERT_TRUE(
      WaitFor([&] { return Call("default/a", "10.244.1.2:8080", 1).exit_code == 0; }, 10000));
  // A new pod on n1 whose veth has the lowest MAC there is: the bridge would move to it, and
  // a's frames to x's address would be taken in as another host's and dropped.
  WriteFile("b.yaml", PodYaml("default", "b", "n1", Serve()));
  ASSERT_TRUE(WaitFor([&] { return !Pod(Status(), "default", "b").is_null(); }, 5000));
  set_veth_mac("b", "02:00:00:00:00:01");
  EXPECT_EQ(cbr0("address"), "0a:58:0a:f4:07:01\n");
  // At once, not after an ARP timeout.
  Result cross = Call("default/a", "10.244.1.2:8080", 3);
  EXPECT_EQ(cross.exit_code, 0) << cross.all();
  EXPECT_EQ(cross.out, "c 3\n");
}

TEST_F(ClusterE2E, DownAndUpCleanUpAfterTheSupervisorIsKilled) {
  WriteFile("nodes.yaml", kNodes);
  WriteFile("pods.yaml", PodYaml("default", "x", "n1", Serve()) + "---\n" +
                             PodYaml("default", "y", "n2", Serve()));
  ASSERT_EQ(Cluster("up -f " + dir_.string() + " --no-agents").exit_code, 0);
  json st = Status();
  int sup = st["supervisor_pid"], pid_x = Pod(st, "default", "x")["process"]["pid"];
  ASSERT_GT(sup, 0);
  ASSERT_GT(pid_x, 0);
  ASSERT_EQ(kill(sup, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !Status().value("supervisor_running", true); }, 5000));
  EXPECT_TRUE(Alive(pid_x));  // orphaned, still running in its pod
  EXPECT_NE(Cluster("status").out.find("NOT RUNNING"), std::string::npos);

  // `up` over the remains of the crashed run cleans them first.
  Result up = Cluster("up -f " + dir_.string() + " --no-agents");
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_NE(up.out.find("cleaning up what a previous run left"), std::string::npos) << up.out;
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid_x); }, 3000));
  ASSERT_TRUE(
      WaitFor([&] { return Call("default/x", "10.244.1.2:8080", 1).exit_code == 0; }, 10000));

  // And `down` after a second kill -9 removes everything.
  st = Status();
  sup = st["supervisor_pid"];
  int pid_y = Pod(st, "default", "y")["process"]["pid"];
  ASSERT_EQ(kill(sup, SIGKILL), 0);
  ASSERT_TRUE(WaitFor([&] { return !Status().value("supervisor_running", true); }, 5000));
  Result down = Cluster("down");
  EXPECT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid_y); }, 3000));
}

TEST_F(ClusterE2E, UpRejectsAPodWithoutNodeAndMakesNothing) {
  WriteFile("nodes.yaml", kNodes);
  WriteFile("pods.yaml", "apiVersion: v1\nkind: Pod\nmetadata:\n  name: lost\n");
  Result up = Cluster("up -f " + dir_.string() + " --no-agents");
  EXPECT_NE(up.exit_code, 0);
  EXPECT_NE(up.err.find("pods.yaml:1:1: error: Pod/default/lost: spec.nodeName: required"),
            std::string::npos)
      << up.all();
  EXPECT_NE(up.err.find("nothing was made"), std::string::npos) << up.all();
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  Result status = Cluster("status");
  EXPECT_NE(status.exit_code, 0);
  EXPECT_NE(status.err.find("no cluster is up"), std::string::npos) << status.all();
}

TEST_F(ClusterE2E, AgentsRunInTheirNodeAndRestart) {
  // A stand-in for weft-agent: prints its command line and netns, then waits.
  fs::path agent = root_ / "fake-agent";
  std::ofstream(agent) << "#!/bin/sh\necho \"args: $*\"\necho \"prefix: $WEFT_POD_NETNS_PREFIX\"\n"
                          "exec sleep 600\n";
  fs::permissions(agent, fs::perms::owner_all);
  WriteFile("nodes.yaml", kNodes);
  Result up = Cluster("up -f " + dir_.string() + " --agent-bin " + agent.string() +
                      " --agent-arg=--workers=2 --agent-arg=-v");
  ASSERT_EQ(up.exit_code, 0) << up.all();
  json st = Status();
  ASSERT_EQ(st["nodes"].size(), 2u);
  EXPECT_EQ(st["nodes"][0]["agent"]["state"], "running");
  int pid = st["nodes"][0]["agent"]["pid"];
  ASSERT_GT(pid, 0);

  // The local-mode command line of docs/local-mode.md, inside the node's netns.
  std::string want =
      "args: --local-dir " + dir_.string() + " --node n1 --bpf-root /sys/fs/bpf/weft-" + name_ +
      "/n1 --cgroup " + cgroup2_ + "/weft-" + name_ +
      "/n1 --pod-netns-dir /run/netns --run-dir /run/weft/cluster-" + name_ +
      "/nodes/n1 --ca-address " + st["host_ip"].get<std::string>() +
      ":15012 --ca-bundle /run/weft/cluster-" + name_ +
      "/ca/root.crt --node-cert /run/weft/cluster-" + name_ +
      "/nodes/n1/node.crt --node-key /run/weft/cluster-" + name_ +
      "/nodes/n1/node.key --trust-domain cluster.local --workers=2 -v\nprefix: " + Prefix() +
      "pod-\n";
  EXPECT_TRUE(
      WaitFor([&] { return Cluster("logs --agent n1").out.find(want) != std::string::npos; }, 3000))
      << Cluster("logs --agent n1").out << "\nwanted:\n"
      << want;
  struct stat node_ns, agent_ns;
  ASSERT_EQ(stat(("/run/netns/" + Prefix() + "node-n1").c_str(), &node_ns), 0);
  ASSERT_EQ(stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &agent_ns), 0);
  EXPECT_EQ(node_ns.st_ino, agent_ns.st_ino);

  // restart-agent: SIGKILL and a new process at once.
  Result r = Cluster("restart-agent n1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(pid (\d+))"))) << r.out;
  int fresh = std::stoi(m[1]);
  EXPECT_NE(fresh, pid);
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid); }, 2000));
  EXPECT_TRUE(Alive(fresh));
  EXPECT_EQ(Status()["nodes"][0]["agent"]["pid"], fresh);
  Result nope = Cluster("restart-agent ghost");
  EXPECT_NE(nope.exit_code, 0);
  EXPECT_NE(nope.err.find("no node \"ghost\""), std::string::npos) << nope.all();

  // An agent that dies is restarted by the supervisor.
  ASSERT_EQ(kill(fresh, SIGKILL), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        json a = Status()["nodes"][0]["agent"];
        return a["state"] == "running" && a["pid"] != fresh && a["restarts"].get<int>() >= 1;
      },
      5000));
}

TEST_F(ClusterE2E, CaServesTheNodesOverTheUnderlayAndGoesAtDown) {
  // The real `weft-agent ca`; the node agents are stand-ins (no BPF needed here).
  fs::path agent = root_ / "agent-wrapper";
  std::ofstream(agent) << "#!/bin/sh\nif [ \"$1\" = ca ]; then exec " << WEFT_BINARY_DIR
                       << "/bin/weft-agent \"$@\"; fi\nexec sleep 600\n";
  fs::permissions(agent, fs::perms::owner_all);
  WriteFile("nodes.yaml", kNodes);
  WriteFile("pods.yaml", PodYaml("demo", "web", "n1", "exec sleep 600"));
  Result up = Cluster("up -f " + dir_.string() + " --agent-bin " + agent.string());
  ASSERT_EQ(up.exit_code, 0) << up.all();
  json st = Status();
  std::string ca_dir = "/run/weft/cluster-" + name_ + "/ca";
  std::string address = st["host_ip"].get<std::string>() + ":15012";
  EXPECT_EQ(st["ca_address"], address);
  EXPECT_EQ(st["ca_dir"], ca_dir);
  ASSERT_EQ(st["ca"]["state"], "running") << st.dump(2);
  int ca_pid = st["ca"]["pid"];
  EXPECT_TRUE(Alive(ca_pid));
  struct stat key_st {};
  ASSERT_EQ(stat((ca_dir + "/root.key").c_str(), &key_st), 0);
  EXPECT_EQ(key_st.st_mode & 0777, 0600u);
  std::string node_dir = "/run/weft/cluster-" + name_ + "/nodes/n1";
  EXPECT_TRUE(fs::exists(node_dir + "/node.crt"));
  EXPECT_TRUE(fs::exists("/run/weft/cluster-" + name_ + "/nodes/n2/node.crt"));
  EXPECT_NE(Cluster("status").out.find("ca          " + address), std::string::npos)
      << Cluster("status").out;

  // From inside node n1's netns, with n1's certificate: the bundle, a certificate for a service
  // account with a pod on n1, and a 403 for one without.
  std::string probe = "ip netns exec " + Prefix() + "node-n1 timeout 20 " +
                      std::string(WEFT_BINARY_DIR) + "/bin/tests/weft_ca_probe " + address + " " +
                      node_dir + "/node.crt " + node_dir + "/node.key " + ca_dir + "/root.crt ";
  Result bundle;
  ASSERT_TRUE(WaitFor(
      [&] {
        bundle = RunCommand(probe + "bundle");
        return bundle.exit_code == 0;
      },
      5000))
      << bundle.all() << Slurp(root_ / "state" / "logs" / "ca.log");
  EXPECT_EQ(bundle.out, Slurp(ca_dir + "/root.crt"));
  Result sign = RunCommand(probe + "sign demo default");
  EXPECT_EQ(sign.exit_code, 0) << sign.all();
  EXPECT_EQ(sign.out, "spiffe://cluster.local/ns/demo/sa/default\n");
  Result refused = RunCommand(probe + "sign demo admin");
  EXPECT_EQ(refused.exit_code, 3) << refused.all();
  // n2's certificate cannot get n1's service account.
  std::string n2 = "/run/weft/cluster-" + name_ + "/nodes/n2";
  Result other =
      RunCommand("ip netns exec " + Prefix() + "node-n2 timeout 20 " +
                 std::string(WEFT_BINARY_DIR) + "/bin/tests/weft_ca_probe " + address + " " + n2 +
                 "/node.crt " + n2 + "/node.key " + ca_dir + "/root.crt sign demo default");
  EXPECT_EQ(other.exit_code, 3) << other.all();

  // The CA is supervised: killed, it comes back.
  ASSERT_EQ(kill(ca_pid, SIGKILL), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        json ca = Status()["ca"];
        return ca["state"] == "running" && ca["pid"] != ca_pid && ca["restarts"].get<int>() >= 1;
      },
      8000));
  int fresh = Status()["ca"]["pid"];

  Result down = Cluster("down");
  ASSERT_EQ(down.exit_code, 0) << down.all();
  EXPECT_TRUE(WaitFor([&] { return !Alive(fresh); }, 3000));
  EXPECT_FALSE(fs::exists(ca_dir));
  EXPECT_FALSE(fs::exists(node_dir));
}

// A Gateway of class weft-waypoint dropped into DIR: the cluster makes its pod (as Istio's
// gateway controller makes the Deployment), which runs weft-waypoint with the node's CA flags;
// the waypoint gets its identity from the real CA (a pod with its service account runs on the
// asking node: the generated manifest) and a snapshot, so its admin /ready answers 200. Killed,
// it is back at once; the Gateway removed, the pod and the manifest go.
TEST_F(ClusterE2E, WaypointPodFromAGatewayGetsItsIdentityRestartsAndGoes) {
  // The real `weft-agent ca`; the node agents are stand-ins (no BPF needed here).
  fs::path agent = root_ / "agent-wrapper";
  std::ofstream(agent) << "#!/bin/sh\nif [ \"$1\" = ca ]; then exec " << WEFT_BINARY_DIR
                       << "/bin/weft-agent \"$@\"; fi\nexec sleep 600\n";
  fs::permissions(agent, fs::perms::owner_all);
  // GET http://127.0.0.1:15000<path> inside a pod: prints the status, then the body.
  fs::path get = root_ / "admin_get.py";
  std::ofstream(get) << "import sys, urllib.request, urllib.error\n"
                        "try:\n"
                        "    r = urllib.request.urlopen('http://127.0.0.1:15000' + sys.argv[1], "
                        "timeout=2)\n"
                        "    print(r.status); print(r.read().decode())\n"
                        "except urllib.error.HTTPError as e:\n"
                        "    print(e.code); print(e.read().decode())\n"
                        "except Exception as e:\n"
                        "    print(0); print(e)\n";
  std::string python = fs::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  WriteFile("nodes.yaml", kNodes);
  Result up = Cluster("up -f " + dir_.string() + " --agent-bin " + agent.string());
  ASSERT_EQ(up.exit_code, 0) << up.all();
  ASSERT_EQ(Status()["pods"].size(), 0u);

  constexpr char kGateway[] = R"(apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: waypoint
  namespace: demo
  annotations:
    weft.dev/node: n2
spec:
  gatewayClassName: weft-waypoint
  listeners:
  - {name: mesh, port: 15008, protocol: HBONE}
)";
  WriteFile("waypoint.yaml", kGateway);
  auto start = std::chrono::steady_clock::now();
  json pod;
  ASSERT_TRUE(WaitFor(
      [&] {
        for (const auto& p : Status().value("pods", json::array())) {
          if (p.value("gateway", "") == "waypoint" && p["process"]["state"] == "running") pod = p;
        }
        return !pod.is_null();
      },
      5000));
  std::string name = pod["name"];
  EXPECT_TRUE(std::regex_match(name, std::regex("waypoint-[0-9a-f]{8}"))) << name;
  EXPECT_EQ(pod["namespace"], "demo");
  EXPECT_EQ(pod["node"], "n2");
  EXPECT_EQ(pod["netns"], Prefix() + "pod-demo-" + name);
  std::string run = pod["run"];
  for (const std::string& want :
       {std::string("/bin/weft-waypoint --namespace demo --name waypoint --local-dir ") +
            dir_.string() + " --cluster-state " + state_.string() +
            " --listen \"$WEFT_POD_IP\" --port 15008 --admin-port 15000 --ca-address ",
        "--node-cert /run/weft/cluster-" + name_ + "/nodes/n2/node.crt"}) {
    EXPECT_NE(run.find(want), std::string::npos) << want << " in " << run;
  }
  fs::path manifest = dir_ / "weft-generated" / "waypoint_demo_waypoint.yaml";
  EXPECT_TRUE(fs::exists(manifest));
  EXPECT_NE(Slurp(manifest).find("gateway.networking.k8s.io/gateway-name: \"waypoint\""),
            std::string::npos);
  Result human = Cluster("status");
  EXPECT_NE(human.out.find("demo/" + name + " (waypoint)"), std::string::npos) << human.out;

  std::string ref = "demo/" + name;
  auto admin = [&](const std::string& path) {
    return Cluster("exec " + ref + " -- " + python + " " + get.string() + " " + path).out;
  };
  // Ready: a certificate for its identity from the CA, and a snapshot.
  std::string ready;
  EXPECT_TRUE(WaitFor(
      [&] {
        ready = admin("/ready");
        return ready.starts_with("200\n");
      },
      15000))
      << ready << Cluster("logs " + ref).all() << Slurp(root_ / "state" / "logs" / "ca.log");
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  std::cerr << "waypoint ready " << took << " ms after its Gateway was written\n";
  std::string dump = admin("/config_dump");
  EXPECT_NE(dump.find("\"identity\": \"spiffe://cluster.local/ns/demo/sa/waypoint\""),
            std::string::npos)
      << dump;
  EXPECT_NE(
      Cluster("logs " + ref).out.find("listening on " + pod["ip"].get<std::string>() + ":15008"),
      std::string::npos)
      << Cluster("logs " + ref).all();

  // weftctl waypoint list without -f: the cluster's DIR, and the waypoint's pod running.
  Result list = RunCommand("WEFT_CLUSTER_STATE=" + state_.string() + " " +
                           std::string(WEFT_BINARY_DIR) + "/bin/weftctl waypoint list");
  EXPECT_EQ(list.exit_code, 0) << list.all();
  EXPECT_TRUE(std::regex_search(
      list.out, std::regex("demo +waypoint +" + name + " +n2 +" + pod["ip"].get<std::string>() +
                           " +running \\(pid \\d+\\)")))
      << list.all();
  Result list_json =
      RunCommand("WEFT_CLUSTER_STATE=" + state_.string() + " " + std::string(WEFT_BINARY_DIR) +
                 "/bin/weftctl waypoint list -o json");
  json lj = json::parse(list_json.out, nullptr, false);
  ASSERT_TRUE(lj.is_array() && lj.size() == 1u) << list_json.all();
  ASSERT_EQ(lj[0]["pods"].size(), 1u) << list_json.out;
  EXPECT_EQ(lj[0]["pods"][0]["name"], name);
  EXPECT_EQ(lj[0]["pods"][0]["state"], "running");

  // Killed, the supervisor starts it again at once; ready again within a second or so (the CA
  // knows the pod by now).
  int pid = pod["process"]["pid"];
  ASSERT_GT(pid, 0);
  auto killed = std::chrono::steady_clock::now();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        json p = Pod(Status(), "demo", name);
        return p["process"]["state"] == "running" && p["process"]["pid"] != pid &&
               p["process"]["restarts"].get<int>() >= 1 && admin("/ready").starts_with("200\n");
      },
      5000))
      << Cluster("logs " + ref).all();
  auto back = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - killed)
                  .count();
  std::cerr << "waypoint ready again " << back << " ms after SIGKILL\n";
  EXPECT_LT(back, 3000);

  // The Gateway goes: the pod, its netns and the manifest go.
  fs::remove(dir_ / "waypoint.yaml");
  int fresh = Pod(Status(), "demo", name)["process"]["pid"];
  EXPECT_TRUE(WaitFor(
      [&] {
        return Pod(Status(), "demo", name).is_null() &&
               !fs::exists("/run/netns/" + Prefix() + "pod-demo-" + name) && !fs::exists(manifest);
      },
      5000))
      << Status().dump(2);
  EXPECT_TRUE(WaitFor([&] { return !Alive(fresh); }, 3000));
  EXPECT_FALSE(fs::exists(dir_ / "weft-generated"));

  // Back again, then `down` takes the manifest with the cluster.
  WriteFile("waypoint.yaml", kGateway);
  EXPECT_TRUE(WaitFor([&] { return fs::exists(manifest); }, 5000));
  std::string host_ip = Status()["host_ip"];
  EXPECT_NE(RunCommand("ip rule list").out.find("from " + host_ip + " lookup"), std::string::npos);
  Result down = Cluster("down");
  EXPECT_EQ(down.exit_code, 0) << down.all();
  EXPECT_FALSE(fs::exists(manifest));
  // The host's reply rule for pods (network::SetHostReplyRoutes) goes too.
  EXPECT_EQ(RunCommand("ip rule list").out.find("from " + host_ip + " lookup"), std::string::npos);
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
}

}  // namespace
