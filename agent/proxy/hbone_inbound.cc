// HBONE in the node proxy: a pod's :15008 server (one per worker, presenting the pod's
// identity) and each worker's outbound pool. The per-connection logic is in connection.cc.

#include "agent/proxy/connection.h"
#include "agent/proxy/credentials.h"
#include "agent/proxy/proxy_internal.h"

namespace weft::agent::proxy {

std::shared_ptr<hbone::HboneServer> Proxy::Impl::MakeHboneServer(std::shared_ptr<Pod> pod, size_t w,
                                                                 tcp::acceptor acceptor) {
  const ProxySettings& s = inputs_.settings;
  hbone::ServerSettings settings;
  settings.h2.stream_window = s.hbone_stream_window;
  settings.h2.connection_window = s.hbone_connection_window;
  settings.h2.max_concurrent_streams = static_cast<uint32_t>(s.hbone_max_streams);
  // The context of the pod's identity at the time of each handshake: a renewed certificate
  // applies to new connections, and a pod with none refuses them (counted by the server).
  // The server lives in the Pod (per_worker): hold the Pod weakly, no cycle.
  std::weak_ptr<Pod> weak = pod;
  auto tls = [this, weak]() -> std::shared_ptr<asio::ssl::context> {
    auto pod = weak.lock();
    if (!pod) return nullptr;
    auto view = View();
    const pb::Workload* self = view ? view->Workload(pod->info.uid) : nullptr;
    if (self == nullptr || !inputs_.credentials) return nullptr;
    auto id = identity::SpiffeId::Parse(self->identity());
    if (!id.ok()) return nullptr;
    return inputs_.credentials->ServerTls(*id);
  };
  auto handler = [this, weak, w](const hbone::InboundRequest& req, hbone::Respond respond) {
    auto pod = weak.lock();
    if (!pod) return respond(hbone::Decision::Refuse(hbone::kBadRequest));
    counters_.accepted_inbound.fetch_add(1);
    auto c = std::make_shared<Connection>(*this, workers_[w]->io, pod, Connection::Kind::kHbone);
    Track(c);
    c->StartHbone(req, std::move(respond));
  };
  return hbone::HboneServer::Create(std::move(acceptor), std::move(tls), settings,
                                    std::move(handler));
}

hbone::HbonePool* Proxy::Impl::PoolFor(Worker& worker) {
  if (!inputs_.credentials) return nullptr;
  auto tls = inputs_.credentials->ClientTls();
  if (!tls) return nullptr;
  if (!worker.pool) {
    const ProxySettings& s = inputs_.settings;
    hbone::PoolSettings ps;
    ps.max_streams_per_connection = s.hbone_max_streams;
    ps.idle_timeout = s.hbone_idle_timeout;
    ps.h2.stream_window = s.hbone_stream_window;
    ps.h2.connection_window = s.hbone_connection_window;
    // A pool connection is made in the source pod's namespace (its address is the source),
    // with the proxy's mark: the pool tag is the pod's uid.
    ps.make_socket = [this](asio::any_io_executor ex,
                            const hbone::ConnectRequest& r) -> absl::StatusOr<tcp::socket> {
      auto pod = FindPod(r.pool_tag);
      if (!pod) return absl::NotFoundError("pod " + r.pool_tag + " is gone");
      return ProxySocketIn(*pod, ex, r.destination.address().is_v6(), inputs_.settings.mark);
    };
    worker.pool = hbone::HbonePool::Create(worker.io.get_executor(), tls, std::move(ps));
    worker.pool_tls = tls;
  } else if (worker.pool_tls != tls) {
    worker.pool->SetClientTls(tls);  // a new trust bundle: new connections use it
    worker.pool_tls = tls;
  }
  return worker.pool.get();
}

}  // namespace weft::agent::proxy
