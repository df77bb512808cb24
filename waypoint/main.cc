// weft-waypoint: the L7 proxy of one Gateway (docs/waypoint.md).

#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>

#include "agent/identity/cert_flags.h"
#include "core/log/log.h"
#include "core/log/log_flag.h"
#include "core/process/malloc_tuning.h"
#include "waypoint/waypoint.h"

namespace {

std::atomic<bool> g_stop{false};

void OnSignal(int) {
  g_stop = true;
}

}  // namespace

int main(int argc, char** argv) {
  weft::process::EnsureMallocTuning(argv);  // may execute this program again, tuned
  CLI::App app{"weft-waypoint: the L7 proxy (HTTP/1.1, HTTP/2, gRPC) of a weft-waypoint Gateway"};
  weft::waypoint::WaypointSettings s;
  app.add_option("--namespace", s.ns, "The Gateway's namespace")->required();
  app.add_option("--name", s.name, "The Gateway's name (also the service account)")->required();
  app.add_option("--local-dir", s.local_dir,
                 "Local mode: read Kubernetes-shaped YAML from this directory and follow changes");
  app.add_flag("--kubernetes", s.kubernetes,
               "Kubernetes mode: list and watch the API server (the agent's kinds)");
  app.add_option("--kubeconfig", s.kubeconfig,
                 "Kubernetes mode: kubeconfig file (default $KUBECONFIG, else in-cluster)");
  if (const char* env = std::getenv("WEFT_CLUSTER_STATE")) s.cluster_state = env;
  app.add_option("--cluster-state", s.cluster_state,
                 "Local mode: tools/cluster's state.json (pod IPs); default $WEFT_CLUSTER_STATE");
  app.add_option("--service-cidr", s.config.service_cidr,
                 "Range for ClusterIPs assigned to Services that have none (as the agent's)")
      ->capture_default_str();
  app.add_option("--listen", s.listen_address, "HBONE listener address")->capture_default_str();
  app.add_option("--port", s.port, "HBONE listener port")->capture_default_str();
  app.add_option("--admin-port", s.admin_port, "Admin JSON on 127.0.0.1 (0: none)")
      ->capture_default_str();
  app.add_option("--workers", s.workers, "Worker threads")->capture_default_str();
  std::string ttl = "24h";
  weft::agent::AddCertFlags(&app, s.identity, ttl);
  std::string log_level = "info";
  weft::log::AddLogLevelFlag(&app, log_level);
  CLI11_PARSE(app, argc, argv);
  weft::log::SetLevel(weft::log::ParseLevel(log_level).value_or(weft::log::Level::kInfo));
  if (s.kubernetes == !s.local_dir.empty()) {
    std::cerr << "weft-waypoint: give exactly one of --local-dir DIR and --kubernetes\n";
    return 2;
  }
  if (!weft::agent::FinishCertFlags(s.identity, ttl, "weft-waypoint")) return 2;
  if (s.kubernetes) s.identity.kubeconfig = s.kubeconfig;
  if (!s.identity.enabled()) {
    std::cerr << "weft-waypoint: --ca-address is required: a waypoint speaks only mTLS\n";
    return 2;
  }
  if (s.admin_port == 0) s.admin_enabled = false;

  signal(SIGINT, OnSignal);
  signal(SIGTERM, OnSignal);
  signal(SIGPIPE, SIG_IGN);
  auto wp = weft::waypoint::Waypoint::Create(std::move(s));
  if (!wp.ok()) {
    WEFT_LOG(kError, "weft-waypoint") << wp.status();
    return 1;
  }
  WEFT_LOG(kInfo, "weft-waypoint")
      << (*wp)->identity().str() << " listening on " << (*wp)->hbone_endpoint();
  (*wp)->Run(g_stop);
  return 0;
}
