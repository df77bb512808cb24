#include "waypoint/tcp/tcp_proxy.h"

#include <random>

#include "core/authz/ip.h"

namespace weft::waypoint {

namespace {

bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& want,
                 const pb::Workload* client) {
  if (want.empty()) return true;
  if (!client) return false;
  for (const auto& [k, v] : want) {
    auto it = client->labels().find(k);
    if (it == client->labels().end() || it->second != v) return false;
  }
  return true;
}

bool SubnetsMatch(const google::protobuf::RepeatedPtrField<std::string>& subnets,
                  const std::string& ip) {
  if (subnets.empty()) return true;
  auto addr = authz::IpAddress::Parse(ip);
  if (!addr) return false;
  for (const auto& s : subnets) {
    auto cidr = authz::Cidr::Parse(s);
    if (cidr && cidr->Contains(*addr)) return true;
  }
  return false;
}

}  // namespace

const pb::WeightedDestination* PickTcpRoute(const WaypointView& view, const BoundService& target,
                                            const ConnectionInfo& conn, uint64_t random) {
  const route::CompiledRouteTable* table =
      view.Routes(target.service->hostname(), target.port->port());
  if (!table || table->proto().tcp_routes_size() == 0) return nullptr;
  const pb::Workload* client = view.WorkloadByAddress(conn.source_ip);
  for (const auto& r : table->proto().tcp_routes()) {
    bool match = r.matches_size() == 0;
    for (const auto& m : r.matches()) {
      if (m.port() != 0 && m.port() != target.port->port()) continue;
      if (!LabelsMatch(m.source_labels(), client)) continue;
      if (!SubnetsMatch(m.destination_subnets(), conn.target_ip)) continue;
      match = true;
      break;
    }
    if (!match || r.destinations_size() == 0) continue;
    uint64_t total = 0;
    for (const auto& d : r.destinations()) total += d.weight();
    if (total == 0) return nullptr;
    uint64_t roll = random % total;
    for (const auto& d : r.destinations()) {
      if (roll < d.weight()) return &d;
      roll -= d.weight();
    }
  }
  return nullptr;
}

namespace {

struct TcpSession : std::enable_shared_from_this<TcpSession> {
  std::shared_ptr<hbone::ByteStream> client;
  std::shared_ptr<const WaypointView> view;
  std::shared_ptr<const ConnectionInfo> conn;
  std::shared_ptr<UpstreamPool> pool;
  TcpStats* stats = nullptr;
  std::shared_ptr<Cluster> cluster;
  std::vector<size_t> tried;

  void Connect() {
    auto ep = cluster->Pick(lb::StableHash(conn->source_ip), &tried);
    if (!ep || tried.size() >= 3) {
      stats->connect_failures.fetch_add(1, std::memory_order_relaxed);
      client->Close();
      return;
    }
    tried.push_back(*ep);
    cluster->Started(*ep);
    auto self = shared_from_this();
    size_t index = *ep;
    pool->ConnectStream(
        cluster->endpoint(index), std::chrono::milliseconds(cluster->connect_timeout_ms()),
        [self, index](ResetReason, std::shared_ptr<hbone::ByteStream> up) {
          if (!up) {
            self->cluster->Finished(index);
            self->cluster->stats(index).connect_failures.fetch_add(1, std::memory_order_relaxed);
            return self->Connect();
          }
          hbone::Splice(self->client, up, {}, [self, index](const hbone::SpliceResult& r) {
            self->cluster->Finished(index);
            self->stats->bytes_in.fetch_add(r.a_to_b, std::memory_order_relaxed);
            self->stats->bytes_out.fetch_add(r.b_to_a, std::memory_order_relaxed);
          });
        });
  }
};

}  // namespace

void ProxyTcp(std::shared_ptr<hbone::ByteStream> client, std::shared_ptr<const WaypointView> view,
              const BoundService* target, std::shared_ptr<const ConnectionInfo> conn,
              std::shared_ptr<UpstreamPool> pool, TcpStats* stats) {
  stats->connections.fetch_add(1, std::memory_order_relaxed);
  thread_local std::mt19937_64 rng(std::random_device{}());
  std::string host = target->service->hostname();
  std::string subset;
  uint32_t port = target->port->port();
  const route::CompiledRouteTable* table = view->Routes(host, port);
  if (table && table->proto().tcp_routes_size() > 0) {
    const pb::WeightedDestination* d = PickTcpRoute(*view, *target, *conn, rng());
    if (!d) {
      stats->no_route.fetch_add(1, std::memory_order_relaxed);
      client->Close();
      return;
    }
    host = d->hostname();
    subset = d->subset();
    if (d->port() != 0) port = d->port();
  }
  auto cluster = view->ClusterFor(host, subset, port);
  if (!cluster || cluster->healthy() == 0) {
    stats->no_route.fetch_add(1, std::memory_order_relaxed);
    client->Close();
    return;
  }
  auto s = std::make_shared<TcpSession>();
  s->client = std::move(client);
  s->view = std::move(view);
  s->conn = std::move(conn);
  s->pool = std::move(pool);
  s->stats = stats;
  s->cluster = std::move(cluster);
  s->Connect();
}

}  // namespace weft::waypoint
