// `tools/cluster up --kubernetes` (root, the control plane of tools/setup-go-tools): the real
// kube-apiserver, controller manager and scheduler, two netns nodes acting as kubelets. Nodes
// register Ready; a Deployment's pods run with pod IPs and reach each other; `kubectl delete
// pod` stops and removes a pod (netns included) and the ReplicaSet replaces it; a hostNetwork
// pod of weft's image runs weft's binary with its env, a hostPath and a projected token the
// API server accepts; `down` leaves nothing. Its own cluster name and state file, so it runs
// next to other clusters. Skips without root or the control plane's binaries, unless CI is
// set (then that is a failure).

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "tests/testing/command.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kGoBin =
    std::string(getenv("WEFT_CACHE") ? getenv("WEFT_CACHE") : "/var/cache/weft") + "/go/bin";

using Result = weft::testing::CommandResult;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool Alive(pid_t pid) {
  std::string s = Slurp("/proc/" + std::to_string(pid) + "/stat");
  auto p = s.rfind(')');
  return !s.empty() && p != std::string::npos && p + 2 < s.size() && s[p + 2] != 'Z';
}

bool WaitFor(const std::function<bool()>& pred, int timeout_ms) {
  auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return pred();
}

std::string Cgroup2() {
  std::ifstream in("/proc/mounts");
  std::string dev, dir, type, rest, found;
  while (in >> dev >> dir >> type && std::getline(in, rest)) {
    if (type == "cgroup2" && (found.empty() || dir == "/sys/fs/cgroup")) found = dir;
  }
  return found;
}

constexpr char kNodes[] = R"(apiVersion: v1
kind: Node
metadata:
  name: n1
  labels:
    topology.kubernetes.io/region: here
    topology.kubernetes.io/zone: zone-a
---
apiVersion: v1
kind: Node
metadata:
  name: n2
  labels:
    topology.kubernetes.io/zone: zone-b
spec:
  podCIDR: 10.244.9.0/24
)";

constexpr char kDeployment[] = R"(apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
      annotations:
        weft.dev/run: exec weft-testapp serve --port 8080 --http-port 8081
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: web
        image: busybox
        ports: [{name: http, containerPort: 8081}]
        readinessProbe:
          httpGet: {path: /ready, port: http}
          periodSeconds: 1
)";

// Its readinessProbe never passes: Running, never Ready.
constexpr char kUnready[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: unready
  annotations:
    weft.dev/run: exec weft-testapp serve --http-port 8081
spec:
  nodeName: n1
  containers:
  - name: c
    image: busybox
    readinessProbe:
      tcpSocket: {port: 9999}
      periodSeconds: 1
)";

// Of weft's image: its binaries at /usr/local/bin, env from fieldRefs with $(VAR) expansion,
// a hostPath, a projected token for an audience of its own (the default kube-api-access
// volume comes from the ServiceAccount admission).
std::string WeftPod(const std::string& host_dir) {
  return R"Y(apiVersion: v1
kind: Pod
metadata:
  name: weftpod
spec:
  nodeName: n2
  hostNetwork: true
  containers:
  - name: main
    image: ghcr.io/weft-mesh/weft:0.1.0
    command: ["/usr/local/bin/weft-testapp", "serve", "--port", "18080", "--name", "$(POD)-on-$(NODE)"]
    env:
    - {name: NODE, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}
    - {name: POD, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
    - {name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}
    volumeMounts:
    - {name: token, mountPath: /var/run/secrets/weft-test}
    - {name: host, mountPath: /weft-e2e-host}
  volumes:
  - name: token
    projected:
      sources:
      - serviceAccountToken: {audience: weft-test, expirationSeconds: 600, path: token}
  - name: host
    hostPath: {path: )Y" +
         host_dir + R"Y(, type: DirectoryOrCreate}
)Y";
}

class KubeClusterE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (geteuid() != 0) why = "needs root";
    for (const char* b : {"weft-kube", "etcd", "kubectl"}) {
      if (why.empty() && access((kGoBin + "/" + b).c_str(), X_OK) != 0) {
        why = kGoBin + "/" + b + " is missing (tools/setup-go-tools builds it)";
      }
    }
    if (!why.empty()) {
      if (getenv("CI")) FAIL() << "the Kubernetes cluster test " << why << " (CI is set)";
      GTEST_SKIP() << "the Kubernetes cluster test " << why;
    }
    std::random_device rd;
    const char* chars = "abcdefghijklmnopqrstuvwxyz0123456789";
    name_ = "k";
    for (int i = 0; i < 4; ++i) name_ += chars[rd() % 36];
    char tmpl[] = "/tmp/weft-kube-e2e-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ / "dir";
    state_ = root_ / "state" / "state.json";
    fs::create_directories(dir_);
    std::ofstream(dir_ / "nodes.yaml") << kNodes;
    cgroup2_ = Cgroup2();
    ASSERT_FALSE(cgroup2_.empty());
    active_ = true;
  }

  void TearDown() override {
    if (!active_) return;
    if (HasFailure()) {
      std::cerr << Cluster("status").all() << Slurp(root_ / "state" / "supervisor.log");
      std::cerr << K("get pods -A -o wide").all() << K("get nodes -o wide").all();
    }
    // Also the nodes' bpffs directories, where the agents' pins outlive them by design.
    Result r = Cluster("down");
    EXPECT_EQ(r.exit_code, 0) << r.all();
    EXPECT_EQ(Leftovers(), std::vector<std::string>{});
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Result Sh(const std::string& cmd, const std::string& stdin_text = "") {
    return weft::testing::RunCommand(cmd, stdin_text);
  }

  Result Cluster(const std::string& args, const std::string& stdin_text = "") {
    return Sh("WEFT_BUILD=" + std::string(WEFT_BINARY_DIR) + " WEFT_CLUSTER=" + name_ +
                  " WEFT_CLUSTER_STATE=" + state_.string() + " timeout 120 " +
                  std::string(WEFT_SOURCE_DIR) + "/tools/cluster " + args,
              stdin_text);
  }

  Result K(const std::string& args, const std::string& stdin_text = "") {
    return Sh("timeout 90 " + kGoBin + "/kubectl --kubeconfig " + kubeconfig_ + " " + args,
              stdin_text);
  }

  json KJson(const std::string& args) {
    Result r = K(args + " -o json");
    if (r.exit_code != 0) return json();
    return json::parse(r.out, nullptr, false);
  }

  json State() {
    Result r = Cluster("status --json");
    return r.exit_code == 0 ? json::parse(r.out, nullptr, false) : json::object();
  }

  json PodState(const std::string& ns, const std::string& name) {
    for (const auto& p : State().value("pods", json::array())) {
      if (p["namespace"] == ns && p["name"] == name) return p;
    }
    return json();
  }

  // The Running pods of the Deployment, by name.
  std::map<std::string, json> WebPods() {
    std::map<std::string, json> out;
    json list = KJson("get pods -l app=web");
    for (const auto& p : list.value("items", json::array())) {
      if (p["metadata"].contains("deletionTimestamp")) continue;
      if (p["status"].value("phase", "") != "Running") continue;
      out[p["metadata"]["name"]] = p;
    }
    return out;
  }

  std::vector<std::string> Leftovers() {
    std::vector<std::string> out;
    std::error_code ec;
    std::string prefix = "weft-" + name_ + "-";
    for (const auto& root : {fs::path("/run/netns"), fs::path("/sys/class/net")}) {
      for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
           it.increment(ec)) {
        if (it->path().filename().string().starts_with(prefix)) out.push_back(it->path());
      }
    }
    for (const auto& p :
         {fs::path(cgroup2_) / ("weft-" + name_), fs::path(state_), state_.parent_path() / "kube",
          state_.parent_path() / "pods", fs::path("/weft-e2e-host"),
          fs::path("/sys/fs/bpf/weft-" + name_), fs::path("/run/weft/cluster-" + name_)}) {
      if (fs::exists(p)) out.push_back(p);
    }
    return out;
  }

  bool active_ = false;
  std::string name_, cgroup2_, kubeconfig_;
  fs::path root_, dir_, state_;
};

TEST_F(KubeClusterE2E, NodesPodsDeletionWeftImageAndDown) {
  auto t0 = std::chrono::steady_clock::now();
  Result up = Cluster("up --kubernetes -f " + dir_.string());
  ASSERT_EQ(up.exit_code, 0) << up.all();
  EXPECT_NE(up.out.find("node n1: registered, Ready"), std::string::npos) << up.out;
  Result kc = Cluster("kubeconfig");
  ASSERT_EQ(kc.exit_code, 0) << kc.all();
  kubeconfig_ = Trim(kc.out);
  ASSERT_TRUE(fs::exists(kubeconfig_)) << kubeconfig_;
  json st = State();
  ASSERT_TRUE(st.value("kubernetes", false)) << st.dump(2);
  const std::string host_ip = st["host_ip"];
  std::map<std::string, json> nodes;
  for (const auto& n : st["nodes"]) nodes[n["name"]] = n;
  ASSERT_EQ(nodes.size(), 2u);

  // Both Nodes registered and Ready, with the node's podCIDR, underlay IP and labels; each
  // holds its Lease. The API server listens on the bridge's host address.
  Result ready = K("wait --for=condition=Ready node/n1 node/n2 --timeout=30s");
  ASSERT_EQ(ready.exit_code, 0) << ready.all();
  for (const auto& [name, n] : nodes) {
    json node = KJson("get node " + name);
    ASSERT_TRUE(node.is_object()) << name;
    EXPECT_EQ(node["spec"]["podCIDR"], n["pod_cidr"]);
    EXPECT_EQ(node["metadata"]["labels"]["kubernetes.io/hostname"], name);
    EXPECT_EQ(node["status"]["nodeInfo"]["kubeletVersion"], "v1.37.2");
    EXPECT_EQ(node["status"]["allocatable"]["pods"], "110");
    bool internal = false;
    for (const auto& a : node["status"]["addresses"]) {
      internal |= a["type"] == "InternalIP" && a["address"] == n["underlay_ip"];
    }
    EXPECT_TRUE(internal) << node["status"]["addresses"].dump();
    json lease = KJson("get lease -n kube-node-lease " + name);
    EXPECT_EQ(lease["spec"].value("holderIdentity", ""), name) << lease.dump();
  }
  EXPECT_EQ(KJson("get node n1")["metadata"]["labels"]["topology.kubernetes.io/zone"], "zone-a");
  EXPECT_EQ(KJson("get node n2")["spec"]["podCIDR"], "10.244.9.0/24");
  json endpoints = KJson("get endpointslices -n default -l kubernetes.io/service-name=kubernetes");
  EXPECT_NE(endpoints.dump().find(host_ip), std::string::npos) << endpoints.dump();

  // A Deployment: the scheduler binds, the nodes run its pods with addresses of their CIDR.
  Result apply = K("apply -f -", kDeployment);
  ASSERT_EQ(apply.exit_code, 0) << apply.all();
  Result rollout = K("rollout status deploy/web --timeout=60s");
  ASSERT_EQ(rollout.exit_code, 0) << rollout.all();
  std::map<std::string, json> web;
  ASSERT_TRUE(WaitFor([&] { return (web = WebPods()).size() == 2; }, 20000));
  std::vector<std::string> names;
  for (const auto& [name, p] : web) {
    names.push_back(name);
    const json& s = p["status"];
    std::string node = p["spec"]["nodeName"];
    ASSERT_TRUE(nodes.contains(node)) << node;
    EXPECT_EQ(s["hostIP"], nodes[node]["underlay_ip"]);
    std::string ip = s.value("podIP", "");
    std::string cidr = nodes[node]["pod_cidr"];
    EXPECT_EQ(ip.substr(0, ip.rfind('.')), cidr.substr(0, cidr.rfind('.'))) << ip << " " << cidr;
    EXPECT_EQ(s["podIPs"][0]["ip"], ip);
    EXPECT_EQ(s["containerStatuses"][0]["ready"], true);
    EXPECT_TRUE(s["containerStatuses"][0]["containerID"].get<std::string>().starts_with("weft://"));
  }
  // Readiness follows the probe: a pod whose probe never passes runs but is not Ready.
  ASSERT_EQ(K("apply -f -", kUnready).exit_code, 0);
  EXPECT_TRUE(WaitFor(
      [&] {
        json u = KJson("get pod unready");
        return u.is_object() && u["status"].value("phase", "") == "Running";
      },
      10000));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  json unready = KJson("get pod unready");
  for (const auto& c : unready["status"]["conditions"]) {
    if (c["type"] == "Ready") {
      EXPECT_EQ(c["status"], "False") << unready["status"].dump();
    }
  }

  // Pod to pod (maybe across nodes): the server greets with its pod's name.
  std::string to = web[names[1]]["status"]["podIP"];
  Result call;
  ASSERT_TRUE(WaitFor(
      [&] {
        call = Cluster("exec default/" + names[0] + " -- weft-testapp call " + to +
                       ":8080 -n 1 --timeout-ms 1000");
        return call.exit_code == 0;
      },
      10000))
      << call.all();
  EXPECT_EQ(call.out, names[1] + " 1\n");

  // The cgroup layout the agent looks for: <base>/<node>/pod<uid>/<container> for the
  // process, <base>/<node>/pod<uid> for the sandbox, both in the pod's netns.
  json p0 = PodState("default", names[0]);
  std::string uid = web[names[0]]["metadata"]["uid"];
  std::string node0 = web[names[0]]["spec"]["nodeName"];
  int pid0 = p0["process"]["pid"], sandbox0 = p0["sandbox_pid"];
  ASSERT_GT(pid0, 0);
  ASSERT_GT(sandbox0, 0);
  std::string pod_cg = "/weft-" + name_ + "/" + node0 + "/pod" + uid;
  EXPECT_NE(Slurp("/proc/" + std::to_string(pid0) + "/cgroup").find("0::" + pod_cg + "/web\n"),
            std::string::npos);
  EXPECT_NE(Slurp("/proc/" + std::to_string(sandbox0) + "/cgroup").find("0::" + pod_cg + "\n"),
            std::string::npos);
  std::string netns0 = "/run/netns/weft-" + name_ + "-pod-default-" + names[0];
  struct stat ns_file, ns_sandbox;
  ASSERT_EQ(stat(netns0.c_str(), &ns_file), 0);
  ASSERT_EQ(stat(("/proc/" + std::to_string(sandbox0) + "/ns/net").c_str(), &ns_sandbox), 0);
  EXPECT_EQ(ns_file.st_ino, ns_sandbox.st_ino);

  // kubectl delete pod: SIGTERM, the pod's netns and processes gone, the API object deleted
  // by the node (kubectl returns), a replacement from the ReplicaSet.
  Result del = K("delete pod " + names[0] + " --timeout=30s");
  ASSERT_EQ(del.exit_code, 0) << del.all();
  EXPECT_FALSE(fs::exists(netns0));
  EXPECT_TRUE(WaitFor([&] { return !Alive(pid0) && !Alive(sandbox0); }, 3000));
  EXPECT_TRUE(PodState("default", names[0]).is_null());
  EXPECT_TRUE(WaitFor(
      [&] {
        web = WebPods();
        return web.size() == 2 && !web.contains(names[0]);
      },
      30000))
      << K("get pods -o wide").all();

  // A hostNetwork pod of weft's image: the node's address, weft's binary with its env,
  // volumes at their mountPaths, a token the API server authenticates.
  fs::path host_dir = root_ / "hostpath";
  Result weft = K("apply -f -", WeftPod(host_dir.string()));
  ASSERT_EQ(weft.exit_code, 0) << weft.all();
  Result wready = K("wait --for=condition=Ready pod/weftpod --timeout=30s");
  ASSERT_EQ(wready.exit_code, 0) << wready.all() << Cluster("logs default/weftpod").all();
  json wp = KJson("get pod weftpod");
  EXPECT_EQ(wp["status"]["podIP"], nodes["n2"]["underlay_ip"]);
  EXPECT_TRUE(WaitFor(
      [&] {
        return Cluster("logs default/weftpod")
                   .out.find("listening tcp 0.0.0.0:18080 as weftpod-on-n2") != std::string::npos;
      },
      5000))
      << Cluster("logs default/weftpod").all();
  Result env = Cluster(
      "exec default/weftpod -- sh -c 'echo $MY_IP $KUBERNETES_SERVICE_HOST $(hostname) && "
      "test -x /usr/local/bin/weft-cluster && touch /weft-e2e-host/hello'");
  EXPECT_EQ(env.exit_code, 0) << env.all();
  EXPECT_EQ(env.out, std::string(nodes["n2"]["underlay_ip"]) + " " + host_ip + " n2\n");
  EXPECT_TRUE(fs::exists(host_dir / "hello"));
  EXPECT_FALSE(fs::exists("/weft-e2e-host/hello"));  // a mount of the pod only

  Result token = Cluster("exec default/weftpod -- cat /var/run/secrets/weft-test/token");
  ASSERT_EQ(token.exit_code, 0) << token.all();
  json review{{"apiVersion", "authentication.k8s.io/v1"},
              {"kind", "TokenReview"},
              {"spec", {{"token", token.out}, {"audiences", {"weft-test"}}}}};
  json reviewed = json::parse(K("create -f - -o json", review.dump()).out, nullptr, false);
  ASSERT_TRUE(reviewed.is_object());
  EXPECT_EQ(reviewed["status"].value("authenticated", false), true) << reviewed.dump(2);
  EXPECT_EQ(reviewed["status"]["user"]["username"], "system:serviceaccount:default:default");
  EXPECT_EQ(reviewed["status"]["user"]["extra"]["authentication.kubernetes.io/pod-name"][0],
            "weftpod");
  // The default ServiceAccount volume, used from inside as a client in the cluster would.
  Result whoami = Cluster(
      "exec default/weftpod -- sh -c '" + kGoBin +
      "/kubectl --server https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT "
      "--certificate-authority /var/run/secrets/kubernetes.io/serviceaccount/ca.crt "
      "--token $(cat /var/run/secrets/kubernetes.io/serviceaccount/token) auth whoami -o json'");
  EXPECT_EQ(whoami.exit_code, 0) << whoami.all();
  EXPECT_NE(whoami.out.find("system:serviceaccount:default:default"), std::string::npos)
      << whoami.all();

  // down: no netns, links, cgroups, processes (pods and the control plane) left.
  std::vector<pid_t> pids;
  json final_state = State();
  for (const auto& p : final_state["pods"]) {
    pids.push_back(p["process"]["pid"]);
    pids.push_back(p["sandbox_pid"]);
  }
  for (const char* c : {"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}) {
    pids.push_back(atoi(Slurp(state_.parent_path() / "kube" / (std::string(c) + ".pid")).c_str()));
  }
  Result down = Cluster("down");
  EXPECT_EQ(down.exit_code, 0) << down.all();
  EXPECT_EQ(Leftovers(), std::vector<std::string>{});
  for (pid_t p : pids) EXPECT_FALSE(p > 0 && Alive(p)) << "pid " << p << " survived `down`";
  std::cerr << "up to down: "
            << std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() -
                                                                t0)
                   .count()
            << " s\n";
}

constexpr char kMeshDemo[] = R"(apiVersion: v1
kind: Namespace
metadata: {name: demo}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: demo}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {weft.dev/run: exec weft-testapp serve --port 8080}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule,
         labelSelector: {matchLabels: {app: web}}}
      containers: [{name: web, image: example.com/web, ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: demo}
spec:
  selector: {app: web}
  ports: [{name: tcp-echo, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Pod
metadata:
  name: client
  namespace: demo
  annotations: {weft.dev/run: exec sleep infinity}
spec:
  nodeName: n1
  containers: [{name: c, image: example.com/client}]
---
apiVersion: v1
kind: Namespace
metadata: {name: outside}
---
apiVersion: v1
kind: Pod
metadata:
  name: outsider
  namespace: outside
  annotations: {weft.dev/run: exec sleep infinity}
spec:
  nodeName: n1
  containers: [{name: c, image: example.com/client}]
)";

constexpr char kWaypointDemo[] = R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: api-v1, namespace: demo}
spec:
  selector: {matchLabels: {app: api, version: v1}}
  template:
    metadata:
      labels: {app: api, version: v1}
      annotations: {weft.dev/run: exec weft-testapp serve --http --port 8080 --name v1}
    spec: {containers: [{name: api, image: example.com/api}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api-v2, namespace: demo}
spec:
  selector: {matchLabels: {app: api, version: v2}}
  template:
    metadata:
      labels: {app: api, version: v2}
      annotations: {weft.dev/run: exec weft-testapp serve --http --port 8080 --name v2}
    spec: {containers: [{name: api, image: example.com/api}]}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: demo}
spec:
  selector: {app: api}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: demo}
spec:
  host: api
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
  - route: [{destination: {host: api, subset: v2}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: waypoint, namespace: demo}
spec:
  gatewayClassName: weft-waypoint
  listeners: [{name: mesh, port: 15008, protocol: HBONE}]
)";

TEST_F(KubeClusterE2E, TheAgentDaemonSetCapturesALabelledNamespace) {
  Result up = Cluster("up --kubernetes -f " + dir_.string());
  ASSERT_EQ(up.exit_code, 0) << up.all();
  kubeconfig_ = Trim(Cluster("kubeconfig").out);
  // weft exactly as deploy/ ships it (the node stand-in gives each netns node its own bpffs
  // directory, cgroup and /run for the DaemonSets' hostPath volumes): the namespace, the CA's
  // root made by weftctl, then `kubectl apply -k deploy/` — CRDs, RBAC, the CA, both DaemonSets.
  const std::string deploy = std::string(WEFT_SOURCE_DIR) + "/deploy";
  Result r = K("apply -f " + deploy + "/base/namespace.yaml");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = Sh(std::string(WEFT_BINARY_DIR) + "/bin/weftctl ca init --apply --kubeconfig " + kubeconfig_);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K("apply --server-side -k " + deploy);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K("rollout status deploy/weft-ca -n weft-system --timeout 90s");
  ASSERT_EQ(r.exit_code, 0) << r.all() << Cluster("status").all();
  // The client Pod needs its namespace's default ServiceAccount, which a controller makes (it
  // took over 20 s on a loaded CI machine).
  ASSERT_TRUE(WaitFor([&] { return (r = K("apply -f -", kMeshDemo)).exit_code == 0; }, 90000))
      << r.all();
  // The logs of weft-system's pods, for failure messages.
  auto system_logs = [&] {
    std::string logs;
    std::istringstream pods(K("get pods -n weft-system -o name").out);
    for (std::string p; pods >> p;) {
      std::string name = p.substr(p.find('/') + 1);
      logs += "--- " + name + "\n" + Cluster("logs weft-system/" + name).all();
    }
    return logs;
  };
  r = K("rollout status ds/weft-agent -n weft-system --timeout 60s");
  ASSERT_EQ(r.exit_code, 0) << r.all() << Cluster("status").all() << system_logs();
  r = K("rollout status ds/weft-proxy -n weft-system --timeout 60s");
  ASSERT_EQ(r.exit_code, 0) << r.all() << Cluster("status").all() << system_logs();
  r = K("rollout status deploy/web -n demo --timeout 60s");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_TRUE(WaitFor([&] { return PodState("demo", "client").value("ip", "") != ""; }, 30000));

  std::map<std::string, std::string> node_netns;
  for (const auto& n : State().value("nodes", json::array())) {
    node_netns[n.value("name", "")] = n.value("netns", "");
  }
  ASSERT_EQ(node_netns.size(), 2u) << State().dump();
  auto admin = [&](const std::string& node, const std::string& path) {
    Result a =
        Sh("ip netns exec " + node_netns[node] + " curl -s --max-time 5 127.0.0.1:15000" + path);
    return json::parse(a.out, nullptr, false);
  };
  auto enrolled = [&](const std::string& node, const std::string& uid) {
    json w = admin(node, "/workloads");
    if (!w.is_array()) return false;
    for (const auto& e : w) {
      if (e.value("uid", "") == uid) return e.value("enrolled", false);
    }
    return false;
  };
  EXPECT_FALSE(enrolled("n1", "demo/client")) << "not opted in yet";

  r = K("label namespace demo weft.dev/dataplane-mode=ambient");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  ASSERT_TRUE(WaitFor([&] { return enrolled("n1", "demo/client"); }, 20000))
      << admin("n1", "/workloads").dump(1)
      << Cluster("logs weft-system/" + Trim(K("get pods -n weft-system -o "
                                              "name")
                                                .out))
             .all();
  json restarts = KJson("get pods -n demo");
  for (const auto& p : restarts.value("items", json::array())) {
    for (const auto& c : p["status"].value("containerStatuses", json::array())) {
      EXPECT_EQ(c.value("restartCount", 0), 0) << "captured without a restart";
    }
  }
  auto inbound = [&](const std::string& node) {
    // With mTLS a connection to a pod on another node arrives there over HBONE (inbound); one
    // to a pod on the client's own node is delivered by that node's proxy directly.
    json st = admin(node, "/stats");
    return st.value("accepted_inbound", 0) + st.value("local_deliveries", 0);
  };
  int in1 = inbound("n1"), in2 = inbound("n2");
  std::string vip = Trim(K("get svc web -n demo -o jsonpath={.spec.clusterIP}").out);
  Result call = Cluster("exec demo/client -- weft-testapp call " + vip + ":80 -n 40");
  ASSERT_EQ(call.exit_code, 0) << call.all();
  int answered = 0;
  std::istringstream lines(call.out);
  for (std::string who, n; lines >> who >> n;) answered += std::atoi(n.c_str());
  EXPECT_EQ(answered, 40) << "every call answered\n" << call.all();
  int d1 = inbound("n1") - in1, d2 = inbound("n2") - in2;
  EXPECT_EQ(d1 + d2, 40) << "every connection arrived through a node proxy";
  EXPECT_GE(d1, 8) << "balanced across nodes";
  EXPECT_GE(d2, 8) << "balanced across nodes";
  // Over mTLS: the client's certificate came from the CA (the agent's token, TokenReview, the
  // client pod on n1), and the connections to n2's pod arrived as HBONE.
  json certs = admin("n1", "/certs");
  bool client_cert = false;
  for (const auto& c : certs.is_array() ? certs : json::array()) {
    client_cert |= c.value("identity", "") == "spiffe://cluster.local/ns/demo/sa/default";
  }
  EXPECT_TRUE(client_cert) << certs.dump(1);
  json s2 = admin("n2", "/stats");
  EXPECT_GE(s2.value("hbone_inbound", 0), 8) << s2.dump(1);
  EXPECT_EQ(admin("n1", "/stats").value("no_source_certificate", 0), 0);

  // A waypoint the Istio way: a Gateway of class weft-waypoint, which the controller in the
  // CA's pod turns into a Deployment, and the namespace bound to it. Without it an HTTP
  // Service's two versions share the calls; through it, the VirtualService sends all to v2.
  r = K("apply -f -", kWaypointDemo);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K("wait --for=condition=Programmed gateway/waypoint -n demo --timeout=90s");
  ASSERT_EQ(r.exit_code, 0) << r.all() << K("get gateway,deploy,pods -n demo -o wide").all()
                            << Cluster("logs weft-system/" +
                                       Trim(K("get pods -n weft-system -l "
                                              "app.kubernetes.io/name=weft-ca -o name")
                                                .out)
                                           .substr(4))
                                   .all();
  json gw = KJson("get gateway waypoint -n demo");
  EXPECT_FALSE(gw["status"].value("addresses", json::array()).empty()) << gw.dump(1);
  json wp_deploy = KJson("get deploy waypoint -n demo");
  EXPECT_EQ(wp_deploy["metadata"]["ownerReferences"][0].value("kind", ""), "Gateway");
  json crb = KJson("get clusterrolebinding weft-waypoints");
  EXPECT_NE(crb.dump().find("\"namespace\":\"demo\""), std::string::npos) << crb.dump(1);
  std::string api_vip = Trim(K("get svc api -n demo -o jsonpath={.spec.clusterIP}").out);
  auto http_calls = [&](int n) {
    std::map<std::string, int> got;
    Result c = Cluster("exec demo/client -- weft-testapp call --http " + api_vip + ":80 -n " +
                       std::to_string(n));
    std::istringstream out(c.out);
    for (std::string who, k; out >> who >> k;) got[who] += std::atoi(k.c_str());
    return got;
  };
  ASSERT_TRUE(WaitFor([&] { return http_calls(4).size() == 2; }, 30000))
      << "without the waypoint both versions answer (L4 balancing)";
  r = K("label namespace demo weft.dev/use-waypoint=waypoint");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  std::map<std::string, int> routed;
  EXPECT_TRUE(WaitFor(
      [&] {
        routed = http_calls(20);
        return routed.size() == 1 && routed.count("v2") && routed["v2"] == 20;
      },
      40000))
      << "through the waypoint every call goes to v2; last: " << json(routed).dump()
      << K("get pods -n demo -o wide").all();

  // A VirtualService the compiler rejects (the schema admits the regex, RE2 does not): the last
  // good one stays in force, and the rejection is a Warning Event on the object.
  r = K("apply -f -", R"(apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
  - match: [{uri: {regex: "(("}}]
    route: [{destination: {host: api, subset: v1}}]
)");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor(
      [&] {
        return K("get events -n demo --field-selector involvedObject.kind=VirtualService,"
                 "involvedObject.name=api,reason=Rejected -o name")
                   .out.find("event") != std::string::npos;
      },
      30000))
      << K("get events -n demo").all();
  routed = http_calls(20);
  EXPECT_EQ(json(routed).dump(), R"({"v2":20})") << "the last good VirtualService stays";

  // A DestinationRule alone changes the routing live: subset v2 redefined as version v1.
  r = K("apply -f -", R"(apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: demo}
spec:
  host: api
  subsets:
  - {name: v1, labels: {version: v2}}
  - {name: v2, labels: {version: v1}}
)");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor(
      [&] {
        routed = http_calls(20);
        return routed.size() == 1 && routed.count("v1") && routed["v1"] == 20;
      },
      30000))
      << "subset v2 now selects version v1; last: " << json(routed).dump();
  // The Gateway deleted: its Deployment is garbage-collected and its account unbound.
  r = K("label namespace demo weft.dev/use-waypoint-");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K("delete gateway waypoint -n demo");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor([&] { return K("get deploy waypoint -n demo").exit_code != 0; }, 30000))
      << "owned by the Gateway";
  EXPECT_TRUE(WaitFor(
      [&] {
        return KJson("get clusterrolebinding weft-waypoints").dump().find("\"demo\"") ==
               std::string::npos;
      },
      15000));

  // An L4 AuthorizationPolicy applied with kubectl takes effect live, and goes with `delete`.
  auto calls_answered = [&](int n) {
    Result c = Cluster("exec demo/client -- weft-testapp call " + vip + ":80 -n " +
                       std::to_string(n) + " --timeout-ms 1000");
    std::istringstream out(c.out);
    int got = 0;
    for (std::string who, k; out >> who >> k;) got += std::atoi(k.c_str());
    return got;
  };
  r = K("apply -f -", R"(apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-client, namespace: demo}
spec:
  selector: {matchLabels: {app: web}}
  action: DENY
  rules: [{from: [{source: {principals: [cluster.local/ns/demo/sa/default]}}]}]
)");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor([&] { return calls_answered(4) == 0; }, 20000))
      << "the client's identity is denied at the destination";
  r = K("delete authorizationpolicy deny-client -n demo");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor([&] { return calls_answered(4) == 4; }, 20000)) << "allowed again";

  // Agent restarts leave the data path alone: the node proxy runs in the weft-proxy DaemonSet
  // (the agents have --external-proxy), the programs and maps stay pinned, and a new agent
  // adopts the proxy's pods. A connection held open across `kubectl delete pod` of n1's agent
  // keeps working; during `kubectl rollout restart ds/weft-agent` a client connecting back to
  // back (a new connection every few ms) sees no failure.
  auto in_background = [&](const std::string& args, std::string* out, int* code) {
    return std::thread([this, args, out, code] {
      std::string cmd = "WEFT_BUILD=" + std::string(WEFT_BINARY_DIR) + " WEFT_CLUSTER=" + name_ +
                        " WEFT_CLUSTER_STATE=" + state_.string() + " timeout 150 " +
                        std::string(WEFT_SOURCE_DIR) + "/tools/cluster " + args + " 2>&1";
      Result r = weft::testing::RunCommand(cmd);
      *out = r.out;
      *code = r.exit_code;
    });
  };
  std::string held_out;
  int held_code = -1;
  std::thread held = in_background(
      "exec demo/client -- weft-testapp call " + vip + ":80 -n 1 --hold-ms 12000 --interval-ms 100",
      &held_out, &held_code);
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::string old_agent = Trim(K("get pods -n weft-system -l app.kubernetes.io/name=weft-agent "
                                 "--field-selector spec.nodeName=n1 -o name")
                                   .out);
  r = K("delete -n weft-system " + old_agent + " --wait=true --timeout 60s");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K("rollout status ds/weft-agent -n weft-system --timeout 90s");
  ASSERT_EQ(r.exit_code, 0) << r.all() << Cluster("status").all();
  held.join();
  EXPECT_EQ(held_code, 0) << "the connection held across the agent pod's deletion: " << held_out;
  EXPECT_TRUE(WaitFor([&] { return enrolled("n1", "demo/client"); }, 20000))
      << "the new agent adopted the pods";

  std::string load_out;
  int load_code = -1;
  std::thread load = in_background(
      "exec demo/client -- weft-testapp call " + vip + ":80 -n 4000 --timeout-ms 3000", &load_out,
      &load_code);
  r = K("rollout restart ds/weft-agent -n weft-system");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K("rollout status ds/weft-agent -n weft-system --timeout 90s");
  EXPECT_EQ(r.exit_code, 0) << r.all() << Cluster("status").all();
  load.join();
  int load_answered = 0;
  {
    std::istringstream out(load_out);
    for (std::string who, n; out >> who >> n;) load_answered += std::atoi(n.c_str());
  }
  EXPECT_EQ(load_code, 0) << load_out;
  EXPECT_EQ(load_answered, 4000) << "no failed connection through the agents' rollout\n"
                                 << load_out;
  EXPECT_TRUE(WaitFor([&] { return enrolled("n1", "demo/client"); }, 20000));

  // The node proxy's pod gone and not coming back (the weft-proxy DaemonSet's nodeSelector no
  // longer matches n1): n1's agent does not wait for it. It keeps following the API server (a
  // Service made meanwhile is in its maps), its readiness names the missing proxy, the pods'
  // captured connections are refused (fail closed); the proxy back, the agent connects to it
  // and enrolls the pods again.
  r = K("label node n2 weft.dev/test-proxy=on");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K(
      "patch ds weft-proxy -n weft-system --type merge -p "
      "'{\"spec\":{\"template\":{\"spec\":{\"nodeSelector\":{\"weft.dev/test-proxy\":\"on\"}}}}}'");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto ready_body = [&](const std::string& node) {
    return Sh("ip netns exec " + node_netns[node] +
              " curl -s --max-time 5 127.0.0.1:15021/healthz/ready")
        .out;
  };
  EXPECT_TRUE(WaitFor([&] { return ready_body("n1").starts_with("no node proxy"); }, 60000))
      << ready_body("n1");
  r = K("create service clusterip probe -n demo --tcp 81:8080");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto has_service = [&](const std::string& node, const std::string& host) {
    json s = admin(node, "/services");
    if (!s.is_array()) return false;
    for (const auto& e : s) {
      if (e.value("hostname", "") == host) return true;
    }
    return false;
  };
  EXPECT_TRUE(WaitFor([&] { return has_service("n1", "probe.demo.svc.cluster.local"); }, 20000))
      << "the agent follows the API server while it has no proxy";
  EXPECT_FALSE(enrolled("n1", "demo/client"));
  EXPECT_NE(Cluster("exec demo/client -- weft-testapp call " + vip + ":80 -n 1 --timeout-ms 1000")
                .exit_code,
            0)
      << "the VIP is not served without a proxy";
  r =
      K("patch ds weft-proxy -n weft-system --type json "
        "-p '[{\"op\":\"remove\",\"path\":\"/spec/template/spec/nodeSelector\"}]'");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  r = K("rollout status ds/weft-proxy -n weft-system --timeout 90s");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // Both nodes' proxies were replaced (the template changed twice): both agents reconnect.
  for (const char* node : {"n1", "n2"}) {
    EXPECT_TRUE(WaitFor([&] { return ready_body(node) == "ready\n"; }, 30000))
        << node << ": " << ready_body(node);
  }
  EXPECT_TRUE(WaitFor([&] { return enrolled("n1", "demo/client"); }, 20000));
  EXPECT_TRUE(WaitFor([&] { return calls_answered(4) == 4; }, 20000)) << "calls flow again";
  K("delete service probe -n demo");

  // The API server stopped: the agents keep the configuration in force (connections to the
  // VIP keep working), their readiness reports the outage; restarted, they reconnect.
  const std::string control_plane = std::string(WEFT_SOURCE_DIR) + "/tools/kube/control-plane";
  const std::string kube_dir = (state_.parent_path() / "kube").string();
  auto readiness = [&](const std::string& node) {
    return Sh("ip netns exec " + node_netns[node] +
              " curl -s -o /dev/null -w '%{http_code}' --max-time 5 127.0.0.1:15021/healthz/ready")
        .out;
  };
  const std::string web_n2 = Trim(K("get pods -n demo -l app=web --field-selector spec.nodeName=n2 "
                                    "-o jsonpath={.items[0].status.podIP}")
                                      .out);
  ASSERT_FALSE(web_n2.empty());
  auto from_outside = [&] {
    return Cluster("exec outside/outsider -- weft-testapp call " + web_n2 +
                   ":8080 -n 1 --timeout-ms 1000")
               .exit_code == 0;
  };
  // (n2's pods are enrolled again by its agent once its new proxy is up.)
  EXPECT_TRUE(WaitFor(from_outside, 20000)) << "PERMISSIVE admits plaintext from outside the mesh";
  r = Sh(control_plane + " stop " + kube_dir + " kube-apiserver");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor([&] { return readiness("n1") == "503" && readiness("n2") == "503"; }, 15000))
      << "readiness reports the outage";
  auto outage_start = std::chrono::steady_clock::now();
  int outage_answered = 0, outage_calls = 0;
  while (std::chrono::steady_clock::now() - outage_start < std::chrono::seconds(30)) {
    Result c = Cluster("exec demo/client -- weft-testapp call " + vip + ":80 -n 10");
    std::istringstream out(c.out);
    for (std::string who, n; out >> who >> n;) outage_answered += std::atoi(n.c_str());
    outage_calls += 10;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  EXPECT_EQ(outage_answered, outage_calls) << "traffic flows throughout the outage";
  r = Sh(control_plane + " start " + kube_dir + " kube-apiserver");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // A change made as soon as the API server answers, while the agents are still reconnecting
  // (their watches back off): PeerAuthentication STRICT in demo. A caller outside the mesh
  // (namespace outside, not enrolled) reaches a web pod in plaintext until then (PERMISSIVE:
  // steered into the pod's node proxy, admitted); the agents catch up, and it is refused.
  ASSERT_TRUE(WaitFor(
      [&] {
        return (r = K("apply -f -", R"(apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: demo}
spec: {mtls: {mode: STRICT}}
)"))
                   .exit_code == 0;
      },
      30000))
      << r.all();
  EXPECT_TRUE(WaitFor([&] { return readiness("n1") == "200" && readiness("n2") == "200"; }, 30000))
      << "reconnected after the outage";
  EXPECT_TRUE(WaitFor([&] { return !from_outside(); }, 20000))
      << "the change made while the agents reconnected is in force: STRICT refuses plaintext";
  EXPECT_EQ(calls_answered(4), 4) << "the mesh client still gets through over mTLS";
  r = K("delete peerauthentication strict -n demo");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor(from_outside, 20000)) << "plaintext admitted again without the policy";

  r = K("label namespace demo weft.dev/dataplane-mode-");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_TRUE(WaitFor([&] { return !enrolled("n1", "demo/client"); }, 20000))
      << "released when the label goes";

  // The agents' pinned programs and maps (they stay across agent restarts by design).
  // Nothing of the mesh ever steered the host's own network namespace (a pod's netns is found
  // from its cgroup; a process of the host's netns in that cgroup must not be taken for it).
  struct stat host_ns {};
  // kthreadd's when init's is not readable (a microVM's init hides it).
  ASSERT_TRUE(stat("/proc/1/ns/net", &host_ns) == 0 || stat("/proc/2/ns/net", &host_ns) == 0);
  Result links = Sh("bpftool link show");
  EXPECT_EQ(links.out.find("netns_ino " + std::to_string(host_ns.st_ino) + " "), std::string::npos)
      << links.out;
  K("delete ds weft-agent weft-proxy -n weft-system --wait=true --timeout 30s");
}

}  // namespace
