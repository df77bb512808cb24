#include "agent/identity/ca_daemon.h"

#include <unistd.h>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include <iostream>

#include "agent/identity/ca_client.h"
#include "agent/source/directory_watcher.h"

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
      std::cerr << "weft-agent ca: " << r.file << ": " << r.rejected << " document(s) rejected\n";
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
    std::cerr << "weft-agent ca: " << ca.status() << "\n";
    return 1;
  }
  if (!options.trust_domain.empty() && ca->trust_domain() != options.trust_domain) {
    std::cerr << "weft-agent ca: the root is for trust domain " << ca->trust_domain() << ", not "
              << options.trust_domain << "\n";
    return 1;
  }
  auto ep = ParseEndpoint(options.listen);
  if (!ep.ok()) {
    std::cerr << "weft-agent ca: --listen: " << ep.status().message() << "\n";
    return 2;
  }

  ConfigStore store;
  auto watcher = DirectoryWatcher::Create(options.local_dir);
  if (!watcher.ok()) {
    std::cerr << "weft-agent ca: " << watcher.status() << "\n";
    return 1;
  }
  LogResults((*watcher)->InitialSync(store));
  store.Snapshot();

  asio::io_context io;
  auto has_pod = [&store](std::string_view node, std::string_view ns, std::string_view sa) {
    return SnapshotHasPod(store.Snapshot(), node, ns, sa);
  };
  CaServerOptions sopts;
  sopts.address = ep->address().to_string();
  sopts.port = ep->port();
  auto server = CaServer::Start(io, std::move(*ca), has_pod, sopts);
  if (!server.ok()) {
    std::cerr << "weft-agent ca: " << server.status() << "\n";
    return 1;
  }

  // Follow the directory on the same thread as the server (ConfigStore is not thread-safe).
  asio::posix::stream_descriptor inotify(io, ::dup((*watcher)->fd()));
  std::function<void()> wait_dir = [&] {
    inotify.async_wait(asio::posix::stream_descriptor::wait_read, [&](error_code e) {
      if (e) return;
      LogResults((*watcher)->Drain(store));
      wait_dir();
    });
  };
  wait_dir();

  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](error_code, int) {
    std::cerr << "weft-agent ca: stopping\n";
    (*server)->Stop();
    error_code ignored;
    inotify.cancel(ignored);
    io.stop();
  });
  std::cerr << "weft-agent ca: serving trust domain " << (*server)->bundle().trust_domain()
            << " on " << sopts.address << ":" << (*server)->port() << "\n";
  io.run();
  auto stats = (*server)->Stats();
  std::cerr << "weft-agent ca: signed " << stats.signed_total << "\n";
  return 0;
}

}  // namespace weft::agent
