#include "agent/identity/ca_daemon.h"

#include <unistd.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include <iostream>

#include "agent/controller/policy_events.h"
#include "agent/controller/waypoint_controller.h"
#include "agent/identity/ca_client.h"
#include "agent/identity/kube_authority.h"
#include "agent/source/directory_watcher.h"
#include "core/log/log.h"

namespace weft::agent {

namespace asio = boost::asio;
using boost::system::error_code;

bool SnapshotHasPod(const policy::pb::MeshSnapshot& snapshot, std::string_view node,
                    std::string_view ns, std::string_view sa) {
  for (const auto& w : snapshot.workloads()) {
    if (w.node() == node && w.namespace_() == ns && w.service_account() == sa) return true;
  }
  return false;
}

namespace {

void LogResults(const std::vector<FileResult>& results) {
  for (const auto& r : results) {
    if (r.rejected > 0) {
      WEFT_LOG(kWarning, "weft-agent ca")
          << r.file << ": " << r.rejected << " document(s) rejected";
    }
  }
}

}  // namespace

int RunCaDaemon(const CaDaemonOptions& options) {
  identity::CaSettings settings;
  settings.max_workload_ttl = options.max_ttl;
  auto ca = identity::CertificateAuthority::FromFiles(options.root_cert_file, options.root_key_file,
                                                      options.trust_domain, settings);
  if (!ca.ok()) {
    WEFT_LOG(kError, "weft-agent ca") << ca.status();
    return 1;
  }
  if (!options.trust_domain.empty() && ca->trust_domain() != options.trust_domain) {
    WEFT_LOG(kError, "weft-agent ca") << "the root is for trust domain " << ca->trust_domain()
                                      << ", not " << options.trust_domain;
    return 1;
  }
  auto ep = ParseEndpoint(options.listen);
  if (!ep.ok()) {
    WEFT_LOG(kError, "weft-agent ca") << "--listen: " << ep.status().message();
    return 2;
  }

  asio::io_context io;
  CaServerOptions sopts;
  sopts.address = ep->address().to_string();
  sopts.port = ep->port();
  identity::HasPodOnNode has_pod;

  // Local mode: the directory, followed on the server's thread (ConfigStore is not
  // thread-safe).
  ConfigStore store;
  std::unique_ptr<DirectoryWatcher> watcher;
  asio::posix::stream_descriptor inotify(io);
  std::function<void()> wait_dir;
  // Kubernetes mode: tokens and placement from the API.
  std::unique_ptr<PodPlacement> placement;
  std::unique_ptr<WaypointController> waypoints;
  std::unique_ptr<PolicyEvents> policy_events;
  if (options.kubernetes) {
    auto cfg = kube::LoadConfig(options.kubeconfig);
    if (!cfg.ok()) {
      WEFT_LOG(kError, "weft-agent ca") << cfg.status();
      return 1;
    }
    auto client = kube::Client::Create(*cfg);
    if (!client.ok()) {
      WEFT_LOG(kError, "weft-agent ca") << client.status();
      return 1;
    }
    TokenReviewOptions ropts;
    ropts.audience = options.token_audience;
    ropts.trust_domain = ca->trust_domain();
    ropts.node_agents.clear();
    for (const auto& a : options.agent_service_accounts) {
      auto slash = a.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == a.size() ||
          a.find('/', slash + 1) != std::string::npos) {
        WEFT_LOG(kError, "weft-agent ca")
            << "--agent-service-account: " << a << " is not NAMESPACE/NAME";
        return 2;
      }
      ropts.node_agents.insert(a);
    }
    auto reviewer = std::make_shared<TokenReviewer>(*client, std::move(ropts));
    placement = std::make_unique<PodPlacement>(*client);
    has_pod = [p = placement.get()](std::string_view node, std::string_view ns,
                                    std::string_view sa) { return p->HasPod(node, ns, sa); };
    sopts.authenticate_token = [reviewer](const std::string& token) {
      return reviewer->Authenticate(token);
    };
    WEFT_LOG(kInfo, "weft-agent ca") << "Kubernetes mode, API server " << cfg->server();
    if (options.waypoint_controller) {
      WaypointControllerOptions w;
      w.log_level = std::string(log::LevelName(log::GetLevel()));
      w.trust_domain = ca->trust_domain();
      w.root_cert_pem = ca->root().ToPem();
      const char* pod_ns = std::getenv("POD_NAMESPACE");
      const char* pod_name = std::getenv("POD_NAME");
      std::string ns = pod_ns && *pod_ns ? pod_ns : "weft-system";
      w.ca_address = !options.waypoint_ca_address.empty()
                         ? options.waypoint_ca_address
                         : "weft-ca." + ns + ".svc:" + std::to_string(ep->port());
      w.image = options.waypoint_image;
      if (w.image.empty() && pod_name && *pod_name) {
        // Waypoints run the image this CA runs: one version of weft in the cluster.
        auto self = (*client)->Get("/api/v1/namespaces/" + ns + "/pods/" + pod_name);
        if (self.ok()) {
          w.image = self->value("/spec/containers/0/image"_json_pointer, std::string());
          w.image_pull_policy =
              self->value("/spec/containers/0/imagePullPolicy"_json_pointer, w.image_pull_policy);
        } else {
          WEFT_LOG(kWarning, "weft-agent ca")
              << "cannot read my pod for the waypoints' image: " << self.status().message();
        }
      }
      if (w.image.empty()) w.image = WaypointControllerOptions{}.image;
      WEFT_LOG(kInfo, "weft-agent ca") << "waypoint controller on, image " << w.image;
      waypoints = std::make_unique<WaypointController>(*client, std::move(w));
    }
    const char* pod = std::getenv("POD_NAME");
    auto events = PolicyEvents::Start(*client, pod && *pod ? pod : "weft-ca");
    if (!events.ok()) {
      WEFT_LOG(kError, "weft-agent ca") << events.status();
      return 1;
    }
    policy_events = std::move(*events);
  } else {
    auto w = DirectoryWatcher::Create(options.local_dir);
    if (!w.ok()) {
      WEFT_LOG(kError, "weft-agent ca") << w.status();
      return 1;
    }
    watcher = std::move(*w);
    LogResults(watcher->InitialSync(store));
    store.Snapshot();
    has_pod = [&store](std::string_view node, std::string_view ns, std::string_view sa) {
      return SnapshotHasPod(store.Snapshot(), node, ns, sa);
    };
    inotify.assign(::dup(watcher->fd()));
    wait_dir = [&] {
      inotify.async_wait(asio::posix::stream_descriptor::wait_read, [&](error_code e) {
        if (e) return;
        LogResults(watcher->Drain(store));
        wait_dir();
      });
    };
    wait_dir();
  }

  auto server = CaServer::Start(io, std::move(*ca), has_pod, sopts);
  if (!server.ok()) {
    WEFT_LOG(kError, "weft-agent ca") << server.status();
    return 1;
  }

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](error_code, int) {
    WEFT_LOG(kInfo, "weft-agent ca") << "stopping";
    (*server)->Stop();
    error_code ignored;
    if (inotify.is_open()) inotify.cancel(ignored);
    io.stop();
  });
  WEFT_LOG(kInfo, "weft-agent ca") << "serving trust domain " << (*server)->bundle().trust_domain()
                                   << " on " << sopts.address << ":" << (*server)->port();
  io.run();
  auto stats = (*server)->Stats();
  WEFT_LOG(kInfo, "weft-agent ca") << "signed " << stats.signed_total;
  return 0;
}

}  // namespace weft::agent
