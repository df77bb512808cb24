// weft-agent: the per-node agent of weft (BPF capture, node proxy, admin).

#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>

#include "agent/agent.h"
#include "agent/identity/ca_daemon.h"
#include "agent/identity/cert_flags.h"
#include "agent/identity/duration.h"
#include "agent/proxy/proxy_control.h"
#include "core/log/log.h"
#include "core/log/log_flag.h"
#include "core/process/malloc_tuning.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) {
  g_stop = true;
}

}  // namespace

int main(int argc, char** argv) {
  weft::process::EnsureMallocTuning(argv);  // may execute this program again, tuned
  CLI::App app{"weft-agent: captures opted-in pods' traffic with BPF and proxies it (L4)"};
  weft::agent::AgentSettings s;
  std::string bpf_root = s.datapath.bpf_root;
  bool no_accel = false;
  int idle_seconds = 3600;

  app.add_option("--node", s.node, "This node's name (Pod spec.nodeName)");
  app.add_option("--local-dir", s.local_dir,
                 "Local mode: read Kubernetes-shaped YAML from this directory and follow changes");
  app.add_flag("--kubernetes", s.kubernetes,
               "Kubernetes mode: list+watch the API server (instead of --local-dir)");
  app.add_option("--kubeconfig", s.kubeconfig,
                 "Kubernetes mode: kubeconfig file (default $KUBECONFIG, else in-cluster)");
  app.add_option("--host-proc", s.proc_root,
                 "Kubernetes mode: the host's /proc (pods' netns are found from their cgroups)")
      ->capture_default_str();
  app.add_option("--bpf-root", bpf_root, "bpffs directory for pinned maps and links")
      ->capture_default_str();
  app.add_option("--cgroup", s.datapath.cgroup_path,
                 "cgroup v2 directory holding this node's pods (BPF programs attach here)");
  if (const char* env = std::getenv("WEFT_CLUSTER_STATE")) s.cluster_state = env;
  if (const char* env = std::getenv("WEFT_POD_NETNS_PREFIX")) s.pod_netns_prefix = env;
  app.add_option("--cluster-state", s.cluster_state,
                 "Local mode: tools/cluster's state.json (pod IPs); default $WEFT_CLUSTER_STATE");
  app.add_option("--run-dir", s.run_dir,
                 "Runtime files (proxy socket, log); default /run/weft/NODE");
  app.add_flag("--proxy-in-process", s.proxy_in_process,
               "Run the proxy inside this process (it then dies with it)");

  weft::agent::proxy::ProxyProcessOptions popts;
  int proxy_idle = 3600;
  CLI::App* proxy_cmd = app.add_subcommand(
      "proxy", "The node proxy process (started by the agent; survives agent restarts)");
  proxy_cmd->add_option("--socket", popts.socket_path, "Control socket")->required();
  proxy_cmd->add_option("--bpf-root", popts.bpf_root, "Where the agent pinned the maps")
      ->required();
  proxy_cmd->add_option("--workers", popts.settings.workers, "Worker threads (0: one per CPU)");
  proxy_cmd->add_option("--idle-timeout", proxy_idle, "Seconds before an idle connection closes");
  app.add_option("--pod-netns-dir", s.pod_netns_dir, "Where pods' network namespaces are")
      ->capture_default_str();
  app.add_option("--pod-netns-prefix", s.pod_netns_prefix,
                 "Pod netns file name: <prefix><namespace>-<name>")
      ->capture_default_str();
  app.add_option("--workers", s.proxy.workers, "Proxy worker threads (0: one per CPU)")
      ->capture_default_str();
  app.add_option("--service-cidr", s.config.service_cidr,
                 "Range for ClusterIPs assigned to Services that have none")
      ->capture_default_str();
  app.add_option("--idle-timeout", idle_seconds, "Seconds before an idle connection is closed")
      ->capture_default_str();
  app.add_flag("--no-sockmap-accel", no_accel,
               "Do not accelerate same-node loopback hops with sockops/sk_msg");
  app.add_option("--admin-port", s.admin_port, "Admin JSON on 127.0.0.1")->capture_default_str();
  app.add_option("--metrics-port", s.metrics_port, "Prometheus metrics (/metrics)")
      ->capture_default_str();
  app.add_option("--readiness-port", s.readiness_port, "Readiness (/healthz/ready)")
      ->capture_default_str();
  app.add_option("--max-services", s.datapath.max_services, "Capacity for Service VIP:port entries")
      ->capture_default_str();
  app.add_option("--max-workloads", s.datapath.max_workloads, "Capacity for workload addresses")
      ->capture_default_str();
  app.add_option("--max-connections", s.datapath.max_connections,
                 "Capacity for captured connections in flight")
      ->capture_default_str();
  std::string agent_cert_ttl = "24h", proxy_cert_ttl = "24h";
  weft::agent::AddCertFlags(&app, s.identity, agent_cert_ttl);
  weft::agent::AddCertFlags(proxy_cmd, popts.identity, proxy_cert_ttl);
  int wait_for_maps = 0;
  proxy_cmd
      ->add_option("--wait-for-maps", wait_for_maps,
                   "Seconds to wait for the agent to pin the maps (a proxy run as its own "
                   "DaemonSet may start first); 0: fail at once")
      ->capture_default_str();
  app.add_flag("--fail-open", s.fail_open,
               "While the node proxy is away, release the pods (they connect directly and take "
               "plaintext) instead of refusing their connections (the default: fail closed)");
  app.add_flag("--external-proxy", s.external_proxy,
               "The node proxy (`weft-agent proxy`) is run by someone else (Kubernetes: the "
               "weft-proxy DaemonSet): wait for its control socket instead of starting it");
  proxy_cmd->add_option("--ca-kubeconfig", popts.identity.kubeconfig,
                        "kubeconfig to resolve a SERVICE.NAMESPACE.svc CA address (default "
                        "$KUBECONFIG, else in-cluster)");

  weft::agent::CaDaemonOptions ca_opts;
  std::string ca_max_ttl = "24h";
  CLI::App* ca_cmd = app.add_subcommand(
      "ca", "The certificate authority: signs workload certificates for node agents (mTLS)");
  ca_cmd->add_option("--listen", ca_opts.listen, "IP:port to serve on")->capture_default_str();
  ca_cmd->add_option("--root-cert", ca_opts.root_cert_file, "Root certificate (PEM)")->required();
  ca_cmd->add_option("--root-key", ca_opts.root_key_file, "Root private key (PEM)")->required();
  ca_cmd->add_option("--local-dir", ca_opts.local_dir,
                     "Local mode: the manifests directory (which pods run on which node)");
  ca_cmd->add_flag("--kubernetes", ca_opts.kubernetes,
                   "Kubernetes mode: ServiceAccount tokens checked with TokenReview, pod "
                   "placement from the API");
  ca_cmd->add_option("--kubeconfig", ca_opts.kubeconfig,
                     "Kubernetes mode: kubeconfig file (default $KUBECONFIG, else in-cluster)");
  ca_cmd
      ->add_option("--agent-service-account", ca_opts.agent_service_accounts,
                   "Kubernetes mode: NAMESPACE/NAME of the node agents' ServiceAccount, whose "
                   "tokens speak for their pod's node (repeatable)")
      ->capture_default_str();
  ca_cmd
      ->add_option("--token-audience", ca_opts.token_audience,
                   "Kubernetes mode: the audience tokens must carry")
      ->capture_default_str();
  bool no_waypoint_controller = false;
  ca_cmd->add_flag("--no-waypoint-controller", no_waypoint_controller,
                   "Kubernetes mode: do not make Deployments for weft-waypoint Gateways");
  ca_cmd->add_option("--waypoint-image", ca_opts.waypoint_image,
                     "Kubernetes mode: the waypoints' image (default: this pod's)");
  ca_cmd->add_option("--waypoint-ca-address", ca_opts.waypoint_ca_address,
                     "Kubernetes mode: the CA address waypoints use (default "
                     "weft-ca.<this pod's namespace>.svc:<listen port>)");
  ca_cmd->add_option("--trust-domain", ca_opts.trust_domain,
                     "Trust domain (default: the root's spiffe://<td> SAN)");
  ca_cmd->add_option("--max-ttl", ca_max_ttl, "Longest workload certificate (e.g. 24h)")
      ->capture_default_str();

  // One level for the agent, the proxy and the CA (and, from the CA, the waypoints it makes).
  std::string log_level = "info";
  for (CLI::App* a : {&app, proxy_cmd, ca_cmd}) weft::log::AddLogLevelFlag(a, log_level);

  CLI11_PARSE(app, argc, argv);
  weft::log::SetLevel(weft::log::ParseLevel(log_level).value_or(weft::log::Level::kInfo));
  signal(SIGPIPE, SIG_IGN);
  if (ca_cmd->parsed()) {
    auto d = weft::agent::ParseDuration(ca_max_ttl);
    if (!d.ok() || d->count() <= 0) {
      std::cerr << "weft-agent ca: --max-ttl: bad duration " << ca_max_ttl << "\n";
      return 2;
    }
    ca_opts.max_ttl = *d;
    ca_opts.waypoint_controller = !no_waypoint_controller;
    if (ca_opts.kubernetes == !ca_opts.local_dir.empty()) {
      std::cerr << "weft-agent ca: give exactly one of --local-dir DIR and --kubernetes\n";
      return 2;
    }
    return weft::agent::RunCaDaemon(ca_opts);
  }
  if (proxy_cmd->parsed()) {
    if (!weft::agent::FinishCertFlags(popts.identity, proxy_cert_ttl)) return 2;
    popts.settings.idle_timeout = std::chrono::seconds(proxy_idle);
    popts.wait_for_maps = std::chrono::seconds(wait_for_maps);
    static std::atomic<bool> never{false};
    return weft::agent::proxy::RunProxyProcess(popts, never);
  }
  for (auto [value, flag] :
       {std::pair{&s.node, "--node"}, std::pair{&s.datapath.cgroup_path, "--cgroup"}}) {
    if (value->empty()) {
      std::cerr << "weft-agent: " << flag << " is required\n" << app.help();
      return 2;
    }
  }
  if (s.kubernetes == !s.local_dir.empty()) {
    std::cerr << "weft-agent: give exactly one of --local-dir DIR (local mode) and --kubernetes\n";
    return 2;
  }

  // Kubernetes mode: the agent stays in its pod's cgroup (the kubelet accounts and kills it
  // there); --cgroup is an ancestor of it, so the proxy's sockets are under the programs.
  if (s.kubernetes) s.join_cgroup = false;
  if (!weft::agent::FinishCertFlags(s.identity, agent_cert_ttl)) return 2;
  s.identity.kubeconfig = s.kubeconfig;
  s.datapath.bpf_root = bpf_root;
  s.datapath.sockmap_accel = !no_accel;
  s.datapath.inbound_fail_open = s.fail_open;
  s.datapath.proxy_mark = s.proxy.mark;
  s.proxy.idle_timeout = std::chrono::seconds(idle_seconds);

  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  auto agent = weft::agent::Agent::Create(std::move(s));
  if (!agent.ok()) {
    WEFT_LOG(kError, "weft-agent") << agent.status();
    return 1;
  }
  WEFT_LOG(kInfo, "weft-agent") << "ready";
  (*agent)->Run(g_stop);
  WEFT_LOG(kInfo, "weft-agent") << "stopping (pinned maps and links stay in place)";
  return 0;
}
