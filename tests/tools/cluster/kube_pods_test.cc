// Kubernetes mode of the netns cluster, the pure part (tools/netns-cluster/kube_pods.h): what
// the node stand-in makes of API Pods, the launch of a pod of weft's image, the statuses it
// reports.

#include "tools/netns-cluster/kube_pods.h"

#include <gtest/gtest.h>

#include "tools/netns-cluster/naming.h"
#include "tools/netns-cluster/plan.h"

namespace weft::cluster {
namespace {

using nlohmann::json;

json Pod(const std::string& yamlish_json) {
  return json::parse(yamlish_json);
}

const char kAgentPod[] = R"J({
  "metadata": {"name": "weft-agent-x7", "namespace": "weft-system", "uid": "u-1",
               "labels": {"app": "weft-agent", "tier": "node"}},
  "spec": {
    "nodeName": "node2", "hostNetwork": true, "serviceAccountName": "weft-agent",
    "initContainers": [{"name": "prep", "image": "ghcr.io/weft-mesh/weft:0.1.0",
                        "command": ["/usr/local/bin/weftctl", "version"]},
                       {"name": "other", "image": "busybox"}],
    "containers": [{
      "name": "agent", "image": "ghcr.io/weft-mesh/weft:0.1.0",
      "args": ["--kubernetes", "--node", "$(NODE_NAME)", "--pod-ip=$(POD_IP)", "$$(NOT)", "$(UNSET)"],
      "env": [
        {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "GREETING", "value": "hi $(NODE_NAME)"},
        {"name": "LEVEL", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "level"}}},
        {"name": "PASS", "valueFrom": {"secretKeyRef": {"name": "s", "key": "p"}}},
        {"name": "MAYBE", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "p",
                                                         "optional": true}}}
      ],
      "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CFG_"}],
      "volumeMounts": [
        {"name": "kube-api-access-abcde", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
         "readOnly": true},
        {"name": "bpf", "mountPath": "/sys/fs/bpf"},
        {"name": "run", "mountPath": "/run/weft"},
        {"name": "cfg", "mountPath": "/etc/weft/level", "subPath": "level"}
      ]
    }],
    "volumes": [
      {"name": "kube-api-access-abcde", "projected": {"sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
      {"name": "bpf", "hostPath": {"path": "/sys/fs/bpf", "type": "DirectoryOrCreate"}},
      {"name": "run", "hostPath": {"path": "/run/weft"}},
      {"name": "cfg", "configMap": {"name": "cfg"}}
    ]
  },
  "status": {"podIP": "10.250.0.3"}
})J";

TEST(KubePods, WeftImages) {
  EXPECT_TRUE(k8s::IsWeftImage("ghcr.io/weft-mesh/weft:0.1.0"));
  EXPECT_TRUE(k8s::IsWeftImage("weft"));
  EXPECT_TRUE(k8s::IsWeftImage("localhost:5000/weft@sha256:abc"));
  EXPECT_TRUE(k8s::IsWeftImage("registry:5000/x/weft:dev"));
  EXPECT_FALSE(k8s::IsWeftImage("ghcr.io/weft-mesh/weft-agent:0.1.0"));
  EXPECT_FALSE(k8s::IsWeftImage("busybox"));
  EXPECT_FALSE(k8s::IsWeftImage("weft.io/busybox:1"));
}

TEST(KubePods, ExpandVarsAsKubernetes) {
  std::map<std::string, std::string> v{{"A", "1"}, {"B", "two"}};
  EXPECT_EQ(k8s::ExpandVars("$(A)-$(B)", v), "1-two");
  EXPECT_EQ(k8s::ExpandVars("$(C)", v), "$(C)");
  EXPECT_EQ(k8s::ExpandVars("$$(A)", v), "$(A)");
  EXPECT_EQ(k8s::ExpandVars("$A $", v), "$A $");
  EXPECT_EQ(k8s::ExpandVars("x$(A", v), "x$(A");
}

TEST(KubePods, PodFromApiPicksTheWorkload) {
  std::string error;
  DesiredPod p = k8s::PodFromApi(Pod(kAgentPod), &error);
  EXPECT_EQ(error, "");
  EXPECT_EQ(p.key(), "weft-system/weft-agent-x7");
  EXPECT_EQ(p.uid, "u-1");
  EXPECT_EQ(p.node, "node2");
  EXPECT_TRUE(p.host_network);
  EXPECT_EQ(p.ip, "");  // hostNetwork: the node's address, not status.podIP
  EXPECT_EQ(p.workload, k8s::kWorkloadImage);
  EXPECT_EQ(p.container, "agent");
  EXPECT_EQ(p.service_account, "weft-agent");
  EXPECT_FALSE(p.terminating);

  json run = Pod(R"J({"metadata": {"name": "w", "namespace": "d", "uid": "u",
      "annotations": {"weft.dev/run": "exec sleep 1"}, "deletionTimestamp": "2026-01-01T00:00:00Z",
      "deletionGracePeriodSeconds": 90},
      "spec": {"nodeName": "n1", "restartPolicy": "Never",
               "containers": [{"name": "c", "image": "ghcr.io/weft-mesh/weft:1"}]},
      "status": {"podIP": "10.244.0.9"}})J");
  p = k8s::PodFromApi(run, &error);
  EXPECT_EQ(p.workload, k8s::kWorkloadRun);  // the annotation wins over the image
  EXPECT_EQ(p.run, "exec sleep 1");
  EXPECT_EQ(p.container, "c");
  EXPECT_EQ(p.ip, "10.244.0.9");
  EXPECT_TRUE(p.terminating);
  EXPECT_EQ(p.grace_seconds, 30);  // capped
  EXPECT_EQ(p.restart_policy, "Never");

  json other = Pod(R"J({"metadata": {"name": "n", "namespace": "d", "uid": "u"},
      "spec": {"nodeName": "n1", "containers": [{"name": "nginx", "image": "nginx:1"}]}})J");
  p = k8s::PodFromApi(other, &error);
  EXPECT_EQ(p.workload, k8s::kWorkloadPlaceholder);
  EXPECT_EQ(p.image, "nginx:1");

  json bad = Pod(R"J({"metadata": {"name": "N_1", "namespace": "d", "uid": "u"},
      "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}})J");
  k8s::PodFromApi(bad, &error);
  EXPECT_NE(error.find("metadata.name"), std::string::npos) << error;
}

TEST(KubePods, ReferencedObjects) {
  k8s::References r = k8s::ReferencedObjects(Pod(kAgentPod));
  EXPECT_EQ(r.config_maps, (std::vector<std::string>{"cfg", "kube-root-ca.crt"}));
  EXPECT_EQ(r.secrets, (std::vector<std::string>{"absent", "s"}));
  EXPECT_TRUE(r.optional["secret/absent"]);
  EXPECT_FALSE(r.optional["secret/s"]);
}

// The netns nodes share one kernel and file system: a hostPath of node-local state is the
// node's own directory, so deploy/'s DaemonSets run unchanged on every node.
TEST(KubePods, NodeLocalHostPathsAreTheNodesOwn) {
  NodeState n;
  n.name = "n2";
  n.bpf_root = "/sys/fs/bpf/weft-c-nodes/n2";
  n.cgroup = "/sys/fs/cgroup/unified/weft-c/n2";
  n.run_dir = "/run/weft/cluster-c/nodes/n2";
  EXPECT_EQ(k8s::NodeHostPath(n, "/sys/fs/bpf"), n.bpf_root);
  EXPECT_EQ(k8s::NodeHostPath(n, "/sys/fs/bpf/"), n.bpf_root);
  EXPECT_EQ(k8s::NodeHostPath(n, "/sys/fs/bpf/weft"), n.bpf_root + "/weft");
  EXPECT_EQ(k8s::NodeHostPath(n, "/sys/fs/cgroup"), n.cgroup);
  EXPECT_EQ(k8s::NodeHostPath(n, "/sys/fs/cgroup/kubepods"), n.cgroup + "/kubepods");
  EXPECT_EQ(k8s::NodeHostPath(n, "/run/weft"), n.run_dir + "/host/run/weft");
  EXPECT_EQ(k8s::NodeHostPath(n, "/var/run/weft"), n.run_dir + "/host/run/weft");
  EXPECT_EQ(k8s::NodeHostPath(n, "/run"), n.run_dir + "/host/run");
  EXPECT_EQ(k8s::NodeHostPath(n, "/var/lib/weft/x"), n.run_dir + "/host/var/lib/weft/x");
  EXPECT_EQ(k8s::NodeHostPath(n, "/run/./weft//a/../b"), n.run_dir + "/host/run/weft/b");
  // Only whole path elements: /running is not /run; the rest is the host's.
  EXPECT_EQ(k8s::NodeHostPath(n, "/running"), "/running");
  EXPECT_EQ(k8s::NodeHostPath(n, "/sys/fs/bpffs"), "/sys/fs/bpffs");
  EXPECT_EQ(k8s::NodeHostPath(n, "/proc"), "/proc");
  EXPECT_EQ(k8s::NodeHostPath(n, "/etc/ssl/certs"), "/etc/ssl/certs");
  EXPECT_EQ(k8s::NodeHostPath(n, "/var/log"), "/var/log");
  EXPECT_EQ(k8s::NodeHostPath(n, "/"), "/");
  EXPECT_EQ(k8s::NodeHostPath(n, "relative"), "relative");
  // A node without a run dir (an old state file) keeps the host's /run.
  n.run_dir.clear();
  EXPECT_EQ(k8s::NodeHostPath(n, "/run/weft"), "/run/weft");
  EXPECT_EQ(k8s::NodeHostPath(n, "/sys/fs/bpf/weft"), n.bpf_root + "/weft");
}

TEST(KubePods, LaunchOfWeftsImage) {
  k8s::LaunchContext ctx;
  ctx.node = "node2";
  ctx.pod_ip = "10.250.0.3";
  ctx.host_ip = "10.250.0.3";
  ctx.api_host = "10.250.0.1";
  ctx.api_port = 6443;
  ctx.bin_dir = "/src/build/bin";
  ctx.volume_paths = {{"kube-api-access-abcde", "/state/pods/u-1/volumes/kube-api-access-abcde"},
                      {"bpf", "/sys/fs/bpf"},
                      {"run", "/run/weft"},
                      {"cfg", "/state/pods/u-1/volumes/cfg"}};
  k8s::Fetched f;
  f.config_maps["cfg"] = Pod(R"J({"data": {"level": "debug", "x": "1"}})J");
  f.secrets["s"] = Pod(R"J({"data": {"p": "c2VjcmV0"}})J");  // "secret"
  auto spec = k8s::BuildLaunchSpec(Pod(kAgentPod), ctx, f);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->pod, "weft-system/weft-agent-x7");
  EXPECT_EQ(spec->hostname, "node2");  // hostNetwork: the node's
  EXPECT_EQ(spec->bin_dir, "/src/build/bin");
  ASSERT_EQ(spec->init.size(), 1u);  // the other image's init container is not run
  EXPECT_EQ(spec->init[0].argv, (std::vector<std::string>{"/usr/local/bin/weftctl", "version"}));
  const auto& c = spec->main;
  EXPECT_EQ(c.name, "agent");
  EXPECT_EQ(c.argv,
            (std::vector<std::string>{"/usr/local/bin/weft-agent", "--kubernetes", "--node",
                                      "node2", "--pod-ip=10.250.0.3", "$(NOT)", "$(UNSET)"}));
  auto has = [&](const std::string& kv) {
    return std::find(c.env.begin(), c.env.end(), kv) != c.env.end();
  };
  EXPECT_TRUE(has("KUBERNETES_SERVICE_HOST=10.250.0.1"));
  EXPECT_TRUE(has("KUBERNETES_SERVICE_PORT=6443"));
  EXPECT_TRUE(has("NODE_NAME=node2"));
  EXPECT_TRUE(has("POD_IP=10.250.0.3"));
  EXPECT_TRUE(has("NS=weft-system"));
  EXPECT_TRUE(has("GREETING=hi node2"));
  EXPECT_TRUE(has("LEVEL=debug"));
  EXPECT_TRUE(has("PASS=secret"));
  EXPECT_TRUE(has("MAYBE="));
  EXPECT_TRUE(has("CFG_x=1"));
  EXPECT_TRUE(has("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
  // Parents before children; the projected volume read-only; subPath honoured.
  ASSERT_EQ(c.mounts.size(), 4u);
  EXPECT_EQ(c.mounts[0].target, "/run/weft");
  EXPECT_FALSE(c.mounts[0].readonly);
  EXPECT_EQ(c.mounts[3].target, "/var/run/secrets/kubernetes.io/serviceaccount");
  EXPECT_TRUE(c.mounts[3].readonly);
  bool found_level = false;
  for (const auto& m : c.mounts) {
    if (m.target != "/etc/weft/level") continue;
    found_level = true;
    EXPECT_EQ(m.source, "/state/pods/u-1/volumes/cfg/level");
    EXPECT_TRUE(m.readonly);
  }
  EXPECT_TRUE(found_level);

  // The spec survives its file.
  auto back = k8s::LaunchSpecFromJson(k8s::ToJson(*spec));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->main.argv, c.argv);
  EXPECT_EQ(back->main.mounts, c.mounts);
  EXPECT_EQ(back->init.size(), 1u);

  // A missing secret that is not optional fails the launch, and says which.
  f.secrets.clear();
  auto missing = k8s::BuildLaunchSpec(Pod(kAgentPod), ctx, f);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("secret s"), std::string::npos) << missing.status();
}

TEST(KubePods, FieldRefs) {
  k8s::LaunchContext ctx;
  ctx.node = "node2";
  ctx.host_ip = "10.250.0.3";
  json pod = Pod(kAgentPod);
  EXPECT_EQ(*k8s::FieldRef(pod, "metadata.labels", ctx), "app=\"weft-agent\"\ntier=\"node\"");
  EXPECT_EQ(*k8s::FieldRef(pod, "metadata.labels['app']", ctx), "weft-agent");
  EXPECT_EQ(*k8s::FieldRef(pod, "spec.serviceAccountName", ctx), "weft-agent");
  EXPECT_EQ(*k8s::FieldRef(pod, "status.hostIP", ctx), "10.250.0.3");
  EXPECT_FALSE(k8s::FieldRef(pod, "spec.nope", ctx).ok());
}

TEST(KubePods, StatusFollowsTheProcess) {
  json pod = Pod(R"J({"metadata": {"name": "w", "namespace": "d", "uid": "u-9"},
      "spec": {"containers": [{"name": "c", "image": "busybox"}, {"name": "d", "image": "x"}]}})J");
  PodState p;
  p.uid = "u-9";
  p.ip = "10.244.0.5";
  p.created_at_ms = 1767225600000;  // 2026-01-01T00:00:00Z
  p.process.state = "waiting";
  json s = k8s::PodStatusPatch(pod, p, "10.250.0.2");
  EXPECT_EQ(s["metadata"]["uid"], "u-9");  // the precondition
  EXPECT_EQ(s["status"]["phase"], "Pending");
  EXPECT_EQ(s["status"]["containerStatuses"][0]["state"]["waiting"]["reason"], "ContainerCreating");

  p.process.state = "running";
  p.process.pid = 4242;
  p.process.started_at_ms = 1767225601000;
  s = k8s::PodStatusPatch(pod, p, "10.250.0.2");
  const json& st = s["status"];
  EXPECT_EQ(st["phase"], "Running");
  EXPECT_EQ(st["podIP"], "10.244.0.5");
  EXPECT_EQ(st["podIPs"][0]["ip"], "10.244.0.5");
  EXPECT_EQ(st["hostIP"], "10.250.0.2");
  EXPECT_EQ(st["startTime"], "2026-01-01T00:00:00Z");
  ASSERT_EQ(st["containerStatuses"].size(), 2u);  // every container mirrors the pod's process
  for (const auto& c : st["containerStatuses"]) {
    EXPECT_EQ(c["ready"], true);
    EXPECT_EQ(c["started"], true);
    EXPECT_EQ(c["containerID"], "weft://4242");
    EXPECT_EQ(c["state"]["running"]["startedAt"], "2026-01-01T00:00:01Z");
  }
  for (const auto& c : st["conditions"]) EXPECT_EQ(c["status"], "True") << c.dump();

  p.process.state = "backoff";
  p.process.pid = 0;
  p.process.restarts = 2;
  p.process.last_exit = "exit 3";
  p.process.finished_at_ms = 1767225602000;
  s = k8s::PodStatusPatch(pod, p, "10.250.0.2");
  EXPECT_EQ(s["status"]["phase"], "Running");
  const json& c = s["status"]["containerStatuses"][0];
  EXPECT_EQ(c["ready"], false);
  EXPECT_EQ(c["restartCount"], 2);
  EXPECT_EQ(c["state"]["waiting"]["reason"], "CrashLoopBackOff");
  EXPECT_EQ(c["lastState"]["terminated"]["exitCode"], 3);
  for (const auto& cond : s["status"]["conditions"]) {
    if (cond["type"] == "Ready") {
      EXPECT_EQ(cond["status"], "False");
    }
  }

  p.process.state = "succeeded";
  p.process.last_exit = "exit 0";
  s = k8s::PodStatusPatch(pod, p, "10.250.0.2");
  EXPECT_EQ(s["status"]["phase"], "Succeeded");
  EXPECT_EQ(s["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
  p.process.state = "failed";
  p.process.last_exit = "signal 9";
  s = k8s::PodStatusPatch(pod, p, "10.250.0.2");
  EXPECT_EQ(s["status"]["phase"], "Failed");
  EXPECT_EQ(s["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 137);
}

TEST(KubePods, ReadinessProbes) {
  json pod = Pod(R"J({"spec": {"containers": [
      {"name": "web", "ports": [{"name": "http", "containerPort": 8081}],
       "readinessProbe": {"httpGet": {"path": "healthz", "port": "http",
                                      "httpHeaders": [{"name": "X-A", "value": "1"}]},
                          "periodSeconds": 2, "failureThreshold": 1}},
      {"name": "tcp", "readinessProbe": {"tcpSocket": {"port": 15008}}},
      {"name": "exec", "readinessProbe": {"exec": {"command": ["true"]}}},
      {"name": "tls", "readinessProbe": {"httpGet": {"port": 443, "scheme": "HTTPS"}}},
      {"name": "none"}]}})J");
  auto web = k8s::ReadinessProbe(pod, "web");
  ASSERT_TRUE(web.has_value());
  EXPECT_TRUE(web->http);
  EXPECT_EQ(web->port, 8081);
  EXPECT_EQ(web->path, "/healthz");
  EXPECT_EQ(web->period_seconds, 2);
  EXPECT_EQ(web->failure_threshold, 1);
  EXPECT_EQ(web->success_threshold, 1);
  EXPECT_EQ(web->headers.size(), 1u);
  auto tcp = k8s::ReadinessProbe(pod, "tcp");
  ASSERT_TRUE(tcp.has_value());
  EXPECT_FALSE(tcp->http);
  EXPECT_EQ(tcp->port, 15008);
  EXPECT_EQ(tcp->period_seconds, 10);
  EXPECT_FALSE(k8s::ReadinessProbe(pod, "exec").has_value());
  auto tls = k8s::ReadinessProbe(pod, "tls");
  ASSERT_TRUE(tls.has_value());
  EXPECT_FALSE(tls->http);  // a TCP connection counts
  EXPECT_FALSE(k8s::ReadinessProbe(pod, "none").has_value());

  // Ready follows the probe, not the process, when there is one.
  PodState p;
  p.uid = "u";
  p.process.state = "running";
  p.process.pid = 7;
  p.process.started_at_ms = 1767225600000;
  p.probed = true;
  json s = k8s::PodStatusPatch(pod, p, "10.250.0.2");
  EXPECT_EQ(s["status"]["containerStatuses"][0]["ready"], false);
  EXPECT_EQ(s["status"]["containerStatuses"][0]["started"], true);
  p.probe_ready = true;
  p.ready_changed_ms = 1767225605000;
  s = k8s::PodStatusPatch(pod, p, "10.250.0.2");
  EXPECT_EQ(s["status"]["containerStatuses"][0]["ready"], true);
  for (const auto& c : s["status"]["conditions"]) {
    if (c["type"] == "Ready") {
      EXPECT_EQ(c["lastTransitionTime"], "2026-01-01T00:00:05Z");
    }
  }
}

TEST(KubePods, NodeRegistration) {
  NodeState n;
  n.name = "node1";
  n.pod_cidr = "10.244.0.0/24";
  n.underlay_ip = "10.250.0.2";
  n.labels = {{"topology.kubernetes.io/zone", "zone-a"}};
  json obj = k8s::NodeObject(n);
  EXPECT_EQ(obj["metadata"]["labels"]["kubernetes.io/hostname"], "node1");
  EXPECT_EQ(obj["metadata"]["labels"]["topology.kubernetes.io/zone"], "zone-a");
  EXPECT_EQ(obj["spec"]["podCIDR"], "10.244.0.0/24");
  json st = k8s::NodeStatusPatch(n, 2, 4096000, "2026-01-01T00:00:00Z", "2026-01-01T00:00:10Z");
  EXPECT_EQ(st["status"]["allocatable"]["pods"], "110");
  EXPECT_EQ(st["status"]["capacity"]["memory"], "4096000Ki");
  EXPECT_EQ(st["status"]["addresses"][0]["address"], "10.250.0.2");
  EXPECT_EQ(st["status"]["nodeInfo"]["kubeletVersion"], "v1.37.2");
  bool ready = false;
  for (const auto& c : st["status"]["conditions"]) {
    if (c["type"] == "Ready") ready = c["status"] == "True";
  }
  EXPECT_TRUE(ready);
  json lease = k8s::NodeLease("node1", "uid-1", k8s::Rfc3339Micro(1767225600123456));
  EXPECT_EQ(lease["spec"]["renewTime"], "2026-01-01T00:00:00.123456Z");
  EXPECT_EQ(lease["spec"]["leaseDurationSeconds"], 40);
  EXPECT_EQ(lease["metadata"]["ownerReferences"][0]["uid"], "uid-1");
}

// The plan of Kubernetes pods: hostNetwork pods take their node's netns and address, the
// cgroup is <node>/pod<uid>/<container>, a new uid makes the pod anew.
TEST(KubePods, PlanOfApiPods) {
  auto naming = *Naming::For("");
  State st;
  st.underlay = "10.250.0.0/24";
  st.cgroup2 = "/sys/fs/cgroup";
  Desired d;
  d.nodes["n1"] = DesiredNode{"n1", "", "", 0, {}};
  std::string error;
  DesiredPod host =
      k8s::PodFromApi(Pod(R"J({"metadata": {"name": "h", "namespace": "s", "uid": "u1"},
      "spec": {"nodeName": "n1", "hostNetwork": true,
               "containers": [{"name": "agent", "image": "weft"}]}})J"),
                      &error);
  DesiredPod pod =
      k8s::PodFromApi(Pod(R"J({"metadata": {"name": "p", "namespace": "s", "uid": "u2"},
      "spec": {"nodeName": "n1", "containers": [{"name": "web", "image": "x"}]}})J"),
                      &error);
  d.pods[host.key()] = host;
  d.pods[pod.key()] = pod;
  Plan plan = MakePlan(d, st, naming);
  ASSERT_TRUE(plan.errors.empty());
  ASSERT_EQ(plan.pods.size(), 2u);
  const PodState& h = plan.pods[0];
  EXPECT_TRUE(h.host_network);
  EXPECT_EQ(h.netns, "weft-node-n1");
  EXPECT_EQ(h.ip, plan.nodes[0].underlay_ip);
  EXPECT_EQ(h.veth, "");
  EXPECT_EQ(h.pod_cgroup, "/sys/fs/cgroup/weft/n1/podu1");
  EXPECT_EQ(h.cgroup, "/sys/fs/cgroup/weft/n1/podu1/agent");
  const PodState& p = plan.pods[1];
  EXPECT_EQ(p.netns, "weft-pod-s-p");
  EXPECT_EQ(p.ip, "10.244.0.2");
  EXPECT_EQ(p.cgroup, "/sys/fs/cgroup/weft/n1/podu2/web");

  PodState renamed = p;
  renamed.uid = "u3";
  EXPECT_TRUE(PodNetworkChanged(p, renamed));

  // A new pod of the API gets the first free address after the node's last one (no reuse of
  // a just deleted pod's address); the others keep theirs.
  st.nodes = plan.nodes;
  st.nodes[0].last_pod_ip = "10.244.0.5";
  st.pods = plan.pods;
  DesiredPod q = k8s::PodFromApi(Pod(R"J({"metadata": {"name": "q", "namespace": "s", "uid": "u4"},
      "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}})J"),
                                 &error);
  d.pods[q.key()] = q;
  Plan again = MakePlan(d, st, naming);
  ASSERT_EQ(again.pods.size(), 3u);
  EXPECT_EQ(again.pods[1].ip, "10.244.0.2");  // s/p
  EXPECT_EQ(again.pods[2].ip, "10.244.0.6");  // s/q
  st.nodes[0].last_pod_ip = "10.244.0.254";   // wraps around
  again = MakePlan(d, st, naming);
  EXPECT_EQ(again.pods[2].ip, "10.244.0.3");
}

}  // namespace
}  // namespace weft::cluster
