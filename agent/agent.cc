#include "agent/agent.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <google/protobuf/util/json_util.h>
#include <linux/close_range.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/admin/metrics.h"
#include "agent/datapath/dump_json.h"
#include "agent/inpod/pod_cgroup.h"
#include "agent/proxy/node_view.h"
#include "agent/proxy/original_destination.h"
#include "core/lb/balancer.h"
#include "core/log/log.h"

namespace weft::agent {

namespace pb = ::weft::config::v1;
using datapath::EnrolledWorkloads;
using datapath::MeshDestinations;
using nlohmann::json;

namespace {

int64_t MonotonicMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

json ToJson(const proxy::SocketAddress& a) {
  return a.address + ":" + std::to_string(a.port);
}

std::string ProtoJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.add_whitespace = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Agent>> Agent::Create(AgentSettings settings) {
  if (settings.node.empty()) return absl::InvalidArgumentError("--node is required");
  if (settings.local_dir.empty() == !settings.kubernetes) {
    return absl::InvalidArgumentError(
        "exactly one of --local-dir (local mode) and --kubernetes is required");
  }
  auto agent = std::unique_ptr<Agent>(new Agent(std::move(settings)));
  if (auto st = agent->Init(); !st.ok()) return st;
  return agent;
}

Agent::~Agent() {
  // Listeners and connections close with the proxy; pinned maps and links stay (restart).
  admin_.reset();
  metrics_.reset();
  readiness_.reset();
  proxy_.reset();
  if (datapath_) (void)datapath_->Close(/*unpin=*/false);
}

absl::Status Agent::Init() {
  if (settings_.join_cgroup && !settings_.datapath.cgroup_path.empty()) {
    // The proxy's ends of the loopback hops must be under the cgroup where sockops is attached,
    // or only the application's end could be accelerated. A child cgroup keeps the pods' own
    // cgroups free of agent processes.
    std::string dir = settings_.datapath.cgroup_path + "/weft-agent";
    mkdir(dir.c_str(), 0755);
    FILE* f = fopen((dir + "/cgroup.procs").c_str(), "w");
    if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0) {
      return absl::UnavailableError("cannot move the agent into " + dir + ": " + strerror(errno));
    }
  }
  store_ = std::make_unique<ConfigStore>(settings_.config);
  cluster_state_ = ClusterStateReader(settings_.cluster_state);
  if (settings_.kubernetes) {
    auto config = kube::LoadConfig(settings_.kubeconfig);
    if (!config.ok()) return config.status();
    auto client = kube::Client::Create(*config);
    if (!client.ok()) return client.status();
    kube::ReflectorOptions ro;
    ro.absent_recheck = std::chrono::seconds(10);  // a CRD installed after the agent
    auto source = KubeSource::Create(*client, ro);
    if (!source.ok()) return source.status();
    kube_ = std::move(*source);
  } else {
    auto watcher = DirectoryWatcher::Create(settings_.local_dir);
    if (!watcher.ok()) return watcher.status();
    watcher_ = std::move(*watcher);
  }

  auto dp = datapath::Datapath::Open(settings_.datapath);
  if (!dp.ok()) return dp.status();
  datapath_ = std::move(*dp);
  reconciler_ = std::make_unique<datapath::Reconciler>(&datapath_->writer());

  auto connected = ConnectProxy(/*wait=*/true);
  if (!connected.ok()) return connected.status();
  SetProxy(std::move(*connected));

  auto admin = admin::HttpServer::Create(settings_.admin_address, settings_.admin_port);
  if (!admin.ok()) return admin.status();
  admin_ = std::move(*admin);
  auto metrics = admin::HttpServer::Create(settings_.metrics_address, settings_.metrics_port);
  if (!metrics.ok()) return metrics.status();
  metrics_ = std::move(*metrics);
  auto readiness = admin::HttpServer::Create(settings_.metrics_address, settings_.readiness_port);
  if (!readiness.ok()) return readiness.status();
  readiness_ = std::move(*readiness);
  RegisterAdmin();
  admin_->Start();
  metrics_->Start();
  readiness_->Start();

  if (kube_) {
    // Nothing is enrolled or released before every kind is listed: a partial view would
    // release pods the proxy serves. Meanwhile (e.g. the agent restarted during an API server
    // outage) the proxy process keeps serving the last snapshot it was given.
    for (int waited = 1; !kube_->synced(); ++waited) {
      DrainInputs(1000);
      if (!kube_->synced() && waited % 10 == 0) {
        WEFT_LOG(kInfo, "weft-agent") << "waiting for the API server: " << kube_->Status().dump();
      }
    }
    DrainInputs(0);
  } else {
    watcher_->InitialSync(*store_);
  }
  ReadClusterState();
  if (auto st = AdoptServedPods(store_->Snapshot()); !st.ok()) return st;
  Reconcile();
  ready_ = true;
  return absl::OkStatus();
}

void Agent::SetProxy(std::shared_ptr<proxy::ProxyControl> p) {
  std::lock_guard<std::mutex> l(mu_);
  proxy_ = std::move(p);
}

std::shared_ptr<proxy::ProxyControl> Agent::CurrentProxy() const {
  std::lock_guard<std::mutex> l(mu_);
  return proxy_;
}

absl::StatusOr<std::shared_ptr<proxy::ProxyControl>> Agent::ConnectProxy(bool wait) {
  if (settings_.proxy_in_process) {
    proxy::ProxyInputs in;
    in.settings = settings_.proxy;
    in.original_destination = proxy::OriginalDestinationFrom(datapath_->writer());
    auto p = proxy::Proxy::Create(std::move(in));
    if (!p.ok()) return p.status();
    return std::make_shared<proxy::LocalProxyControl>(std::move(*p));
  }
  std::string dir = settings_.run_dir.empty() ? "/run/weft/" + settings_.node : settings_.run_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  std::string sock = dir + "/proxy.sock";
  // A running proxy (this is a control restart) is adopted as it is.
  auto remote = proxy::RemoteProxyControl::Connect(sock);
  if (!remote.ok() && settings_.external_proxy) {
    if (!wait) {
      return absl::UnavailableError(
          "no node proxy on " + sock + " (--external-proxy: the " +
          "weft-proxy DaemonSet runs it): " + std::string(remote.status().message()));
    }
    // The proxy's own pod waits for the maps this agent pins (Create pinned them already).
    for (int i = 1; !remote.ok(); ++i) {
      if (i % 20 == 0) {
        WEFT_LOG(kInfo, "weft-agent") << "waiting for the node proxy's control socket " << sock
                                      << ": " << remote.status().message();
      }
      if (i > 1200) {
        return absl::UnavailableError("no node proxy on " + sock +
                                      " after 10 minutes (--external-proxy: the weft-proxy "
                                      "DaemonSet runs it)");
      }
      usleep(500'000);
      remote = proxy::RemoteProxyControl::Connect(sock);
    }
  }
  if (!remote.ok()) {
    pid_t pid = fork();
    if (pid < 0) return absl::ErrnoToStatus(errno, "fork the proxy process");
    if (pid == 0) {
      // Its own session, so that it outlives this process; same cgroup (sockops sees it).
      setsid();
      std::string log = dir + "/proxy.log";
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      std::vector<std::string> args = {
          "weft-agent",
          "proxy",
          "--socket",
          sock,
          "--bpf-root",
          settings_.datapath.bpf_root,
          "--workers",
          std::to_string(settings_.proxy.workers),
          "--idle-timeout",
          std::to_string(
              std::chrono::duration_cast<std::chrono::seconds>(settings_.proxy.idle_timeout)
                  .count()),
          "--log-level",
          std::string(log::LevelName(log::GetLevel()))};
      // mTLS: the proxy process holds the workload keys and talks to the CA itself.
      const CertManagerOptions& id = settings_.identity;
      if (id.enabled()) {
        for (const auto& [flag, value] :
             {std::pair<std::string, std::string>{"--ca-address", id.ca_address},
              {"--ca-bundle", id.ca_bundle_file},
              {"--node-cert", id.node_cert_file},
              {"--node-key", id.node_key_file},
              {"--ca-token", id.ca_token_file},
              {"--ca-kubeconfig", id.kubeconfig},
              {"--trust-domain", id.trust_domain},
              {"--workload-cert-ttl", std::to_string(id.workload_ttl.count()) + "s"}}) {
          if (value.empty()) continue;
          args.push_back(flag);
          args.push_back(value);
        }
      }
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      // Nothing of the agent's but stdio: its admin, metrics and readiness listeners (asio
      // opens them without close-on-exec) must not outlive it in the proxy.
      close_range(3, ~0U, 0);
      execv(settings_.self_exe.c_str(), argv.data());
      _exit(127);
    }
    for (int i = 0; i < 100 && !remote.ok(); ++i) {
      usleep(50'000);
      remote = proxy::RemoteProxyControl::Connect(sock);
    }
    if (!remote.ok()) {
      return absl::UnavailableError("the proxy process did not start; see " + dir + "/proxy.log");
    }
  }
  return std::shared_ptr<proxy::ProxyControl>(std::move(*remote));
}

absl::Status Agent::AdoptServedPods(const pb::MeshSnapshot& snapshot) {
  auto served = proxy_->Pods();
  if (!served.ok()) return served.status();
  auto desired = EnrolledWorkloads(snapshot, settings_.node);
  datapath::MapWriter& mw = datapath_->writer();
  for (auto& p : *served) {
    auto it = desired.find(p.uid);
    auto netns = it == desired.end() ? absl::StatusOr<inpod::Netns>(absl::NotFoundError(""))
                                     : inpod::Netns::Open(PodNetnsPath(*it->second));
    if (!netns.ok() || netns->cookie() != p.netns_cookie) {
      // Not wanted any more, or the pod was recreated: start over for it.
      if (p.inbound_fd >= 0) close(p.inbound_fd);
      (void)mw.Unenroll(p.netns_cookie);
      (void)mw.DetachInbound(p.netns_cookie);
      (void)proxy_->RemovePod(p.uid);
      continue;
    }
    std::vector<datapath::IpAddr> addrs;
    for (const auto& a : it->second->addresses()) {
      if (auto ip = datapath::IpAddr::Parse(a); ip.ok()) addrs.push_back(*ip);
    }
    // The maps and the steering link were pinned by the previous agent; make sure.
    absl::Status attach = mw.AttachInbound(netns->fd(), netns->cookie());
    for (const auto& a : addrs) (void)mw.RegisterInboundListener(a, p.inbound_fd);
    if (p.inbound_fd >= 0) close(p.inbound_fd);
    uint32_t flags = settings_.datapath.sockmap_accel ? 0 : 0x1 /* WEFT_NETNS_F_NO_ACCEL */;
    (void)mw.Enroll(netns->cookie(), flags);
    (void)attach;
    std::lock_guard<std::mutex> l(mu_);
    enrolled_.emplace(p.uid, EnrolledPod{p.uid, std::move(*netns), std::move(addrs)});
  }
  return absl::OkStatus();
}

void Agent::Run(const std::atomic<bool>& stop) {
  while (!stop.load()) Step(500);
}

void Agent::DrainInputs(int timeout_ms) {
  pollfd p{kube_ ? kube_->fd() : watcher_->fd(), POLLIN, 0};
  poll(&p, 1, timeout_ms);
  std::vector<FileResult> results = kube_ ? kube_->Drain(*store_) : watcher_->Drain(*store_);
  for (const FileResult& r : results) {
    for (const auto& d : r.diagnostics) {
      if (d.severity == policy::Severity::kError) {
        WEFT_LOG(kWarning, "weft-agent") << r.file << ": rejected: " << d.message;
      }
    }
  }
}

void Agent::Step(int poll_timeout_ms) {
  DrainInputs(poll_timeout_ms);
  ReadClusterState();
  if (!proxy_ || !proxy_->Stats().ok()) RecoverProxy();
  Reconcile();
}

void Agent::ReadClusterState() {
  if (auto ips = cluster_state_.ReadIfChanged()) store_->SetAssignedPodIps(std::move(*ips));
}

void Agent::RecoverProxy() {
  if (proxy_) {
    // The proxy process is gone (crashed or killed): its listeners and connections went with
    // it. Until a new one serves the pods again, fail closed keeps them captured (connects
    // are refused); fail open releases them.
    std::map<std::string, EnrolledPod> lost;
    {
      std::lock_guard<std::mutex> l(mu_);
      lost.swap(enrolled_);
      ++proxy_restarts_;
      proxy_.reset();
      proxy_error_ = "the node proxy went away";
    }
    datapath::MapWriter& mw = datapath_->writer();
    for (auto& [uid, pod] : lost) {
      if (!settings_.fail_open) {
        // Fail closed: still captured, nobody listens: connects are refused, and plaintext
        // for the pod finds no :15006 listener (the listeners left the map with their sockets).
        stranded_.insert_or_assign(uid, std::move(pod));
        continue;
      }
      (void)mw.Unenroll(pod.netns.cookie());
      for (const auto& a : pod.addresses) (void)mw.UnregisterInboundListener(a);
    }
    WEFT_LOG(kWarning, "weft-agent") << "the node proxy went away; connecting a new one";
    next_proxy_attempt_ms_ = 0;
    proxy_backoff_ms_ = 0;
  }
  int64_t now = MonotonicMs();
  if (now < next_proxy_attempt_ms_) return;
  auto p = ConnectProxy(/*wait=*/false);
  if (!p.ok()) {
    // 0.5 s, doubling to 30 s: a proxy that crashes as it starts is not forked in a loop.
    // An external proxy is only waited for (a cheap connect): 2 s at most, so that pods are
    // served again soon after it is back.
    const int64_t cap = settings_.external_proxy ? 2000 : 30000;
    proxy_backoff_ms_ = std::min<int64_t>(proxy_backoff_ms_ ? proxy_backoff_ms_ * 2 : 500, cap);
    next_proxy_attempt_ms_ = now + proxy_backoff_ms_;
    std::string why(p.status().message());
    std::lock_guard<std::mutex> l(mu_);
    if (why != proxy_error_) WEFT_LOG(kWarning, "weft-agent") << "no node proxy: " << why;
    proxy_error_ = why;
    return;
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    proxy_ = std::move(*p);
    proxy_error_.clear();
  }
  WEFT_LOG(kInfo, "weft-agent") << "node proxy connected";
  applied_generation_ = UINT64_MAX;  // resend the snapshot
}

std::string Agent::PodNetnsPath(const pb::Workload& w) const {
  if (settings_.kubernetes) {
    // No CNI plugin tells us: the pod's processes' cgroup names it (inpod/pod_cgroup.h).
    auto path = inpod::FindPodNetnsPath(settings_.proc_root, w.kube_uid());
    return path.ok() ? *path : "";
  }
  return settings_.pod_netns_dir + "/" + settings_.pod_netns_prefix + w.namespace_() + "-" +
         w.name();
}

void Agent::Reconcile() {
  const pb::MeshSnapshot& snap = store_->Snapshot();
  bool changed = snap.generation() != applied_generation_;
  if (changed) {
    auto copy = std::make_shared<const pb::MeshSnapshot>(snap);
    // Without a proxy (RecoverProxy has not found one yet) the maps still follow the inputs;
    // the snapshot goes to the proxy that comes back (RecoverProxy resets the generation).
    if (auto st = proxy_ ? proxy_->SetSnapshot(copy, settings_.node) : absl::OkStatus(); !st.ok()) {
      std::lock_guard<std::mutex> l(mu_);
      ++reconcile_errors_;
    }
    auto r = reconciler_->Apply(MeshDestinations(*copy));
    std::lock_guard<std::mutex> l(mu_);
    if (!r.ok()) ++reconcile_errors_;
    snapshot_ = copy;
    applied_generation_ = snap.generation();
  }
  std::shared_ptr<const pb::MeshSnapshot> current;
  {
    std::lock_guard<std::mutex> l(mu_);
    current = snapshot_;
  }
  // Also runs without a snapshot change: a pod's namespace may appear after its Pod. Nothing
  // is enrolled without a proxy to serve it.
  if (proxy_) {
    ReconcileEnrollment(*current);
  } else if (!stranded_.empty()) {
    // No proxy: pods that are gone or no longer opted in leave the maps all the same.
    ReleaseStranded(EnrolledWorkloads(*current, settings_.node), /*check_netns=*/false);
  }
}

void Agent::ReconcileEnrollment(const pb::MeshSnapshot& snapshot) {
  auto desired = EnrolledWorkloads(snapshot, settings_.node);
  std::vector<std::string> gone;
  {
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& [uid, pod] : enrolled_) {
      if (!desired.count(uid)) gone.push_back(uid);
    }
  }
  for (const auto& uid : gone) Unenroll(uid);
  // Stranded pods that are gone or were recreated leave the maps before anything is enrolled,
  // so that releasing an address never undoes a new pod's registration of it.
  if (!stranded_.empty()) ReleaseStranded(desired, /*check_netns=*/true);
  for (const auto& [uid, w] : desired) {
    bool have;
    {
      std::lock_guard<std::mutex> l(mu_);
      have = enrolled_.count(uid) > 0;
    }
    if (have) continue;
    absl::Status st = Enroll(*w);
    std::lock_guard<std::mutex> l(mu_);
    if (st.ok()) {
      enroll_errors_.erase(uid);
    } else {
      enroll_errors_[uid] = std::string(st.message());
    }
  }
  if (!stranded_.empty()) ReleaseStranded(desired, /*check_netns=*/true);
}

void Agent::ReleaseStranded(const std::map<std::string, const pb::Workload*>& desired,
                            bool check_netns) {
  datapath::MapWriter& mw = datapath_->writer();
  for (auto it = stranded_.begin(); it != stranded_.end();) {
    const EnrolledPod& old = it->second;
    uint64_t cookie = old.netns.cookie();
    bool keep = false;
    {
      std::lock_guard<std::mutex> l(mu_);
      auto e = enrolled_.find(it->first);
      if (e != enrolled_.end() && e->second.netns.cookie() == cookie) {
        it = stranded_.erase(it);  // enrolled again, same netns: its entries are the new ones
        continue;
      }
    }
    if (auto d = desired.find(it->first); d != desired.end()) {
      if (!check_netns) {
        keep = true;  // still wanted; its netns is compared once a proxy enrolls it again
      } else {
        auto now = inpod::Netns::Open(PodNetnsPath(*d->second));
        keep = now.ok() && now->cookie() == cookie;  // not enrolled yet: stays captured
      }
    }
    if (keep) {
      ++it;
      continue;
    }
    (void)mw.Unenroll(cookie);
    for (const auto& a : old.addresses) (void)mw.UnregisterInboundListener(a);
    (void)mw.DetachInbound(cookie);
    it = stranded_.erase(it);
  }
}

absl::Status Agent::Enroll(const pb::Workload& w) {
  struct stat sb;
  std::string path = PodNetnsPath(w);
  if (stat(path.c_str(), &sb) != 0) {
    return absl::UnavailableError("network namespace " + path + " does not exist (yet)");
  }
  auto netns = inpod::Netns::Open(path);
  if (!netns.ok()) return netns.status();
  std::vector<datapath::IpAddr> addrs;
  for (const auto& a : w.addresses()) {
    auto ip = datapath::IpAddr::Parse(a);
    if (ip.ok()) addrs.push_back(*ip);
  }
  // Order matters: listeners, then steering, then capture, so that no captured connection
  // ever finds nobody listening.
  auto listener = proxy_->AddPod({w.uid(), netns->fd(), netns->cookie()});
  if (!listener.ok()) return listener.status();
  datapath::MapWriter& mw = datapath_->writer();
  auto undo = [&](absl::Status st) {
    close(*listener);
    (void)mw.DetachInbound(netns->cookie());
    for (const auto& a : addrs) (void)mw.UnregisterInboundListener(a);
    (void)proxy_->RemovePod(w.uid());
    return st;
  };
  // A restarted agent finds the previous agent's pinned link: keep it.
  absl::Status attach = mw.AttachInbound(netns->fd(), netns->cookie());
  if (!attach.ok() && !absl::IsAlreadyExists(attach)) return undo(attach);
  for (const auto& a : addrs) {
    if (auto st = mw.RegisterInboundListener(a, *listener); !st.ok()) return undo(st);
  }
  close(*listener);  // the map holds the socket itself
  uint32_t flags = settings_.datapath.sockmap_accel ? 0 : 0x1 /* WEFT_NETNS_F_NO_ACCEL */;
  if (auto st = mw.Enroll(netns->cookie(), flags); !st.ok()) {
    (void)mw.DetachInbound(netns->cookie());
    for (const auto& a : addrs) (void)mw.UnregisterInboundListener(a);
    (void)proxy_->RemovePod(w.uid());
    return st;
  }
  std::lock_guard<std::mutex> l(mu_);
  enrolled_.emplace(w.uid(), EnrolledPod{w.uid(), std::move(*netns), std::move(addrs)});
  return absl::OkStatus();
}

void Agent::Unenroll(const std::string& uid) {
  std::optional<EnrolledPod> pod;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = enrolled_.find(uid);
    if (it == enrolled_.end()) return;
    pod.emplace(std::move(it->second));
    enrolled_.erase(it);
  }
  // Reverse order: stop capturing new connections first; established ones are left alone.
  datapath::MapWriter& mw = datapath_->writer();
  (void)mw.Unenroll(pod->netns.cookie());
  for (const auto& a : pod->addresses) (void)mw.UnregisterInboundListener(a);
  (void)mw.DetachInbound(pod->netns.cookie());
  (void)proxy_->RemovePod(uid);
}

void Agent::RegisterAdmin() {
  admin_->Handle("/config_dump", [this](const std::string&) {
    std::shared_ptr<const pb::MeshSnapshot> s;
    {
      std::lock_guard<std::mutex> l(mu_);
      s = snapshot_;
    }
    return admin::Response{200, "application/json", s ? ProtoJson(*s) : "{}"};
  });
  admin_->Handle("/workloads", [this](const std::string&) {
    std::lock_guard<std::mutex> l(mu_);
    json out = json::array();
    if (snapshot_) {
      for (const auto& w : snapshot_->workloads()) {
        json j;
        j["uid"] = w.uid();
        j["node"] = w.node();
        j["addresses"] = std::vector<std::string>(w.addresses().begin(), w.addresses().end());
        j["identity"] = w.identity();
        j["mode"] = w.dataplane_mode() == pb::DATAPLANE_MODE_AMBIENT ? "ambient" : "none";
        j["local"] = w.node() == settings_.node;
        auto it = enrolled_.find(w.uid());
        j["enrolled"] = it != enrolled_.end();
        if (it != enrolled_.end()) j["netns_cookie"] = it->second.netns.cookie();
        if (auto e = enroll_errors_.find(w.uid()); e != enroll_errors_.end())
          j["error"] = e->second;
        out.push_back(std::move(j));
      }
    }
    return admin::Response{200, "application/json", out.dump(2)};
  });
  admin_->Handle("/services", [this](const std::string&) {
    std::lock_guard<std::mutex> l(mu_);
    json out = json::array();
    if (snapshot_) {
      for (const auto& s : snapshot_->services()) {
        json j;
        j["hostname"] = s.hostname();
        j["vips"] = std::vector<std::string>(s.vips().begin(), s.vips().end());
        json ports = json::array();
        for (const auto& p : s.ports()) ports.push_back(p.port());
        j["ports"] = ports;
        int ready = 0;
        for (const auto& e : s.endpoints()) ready += e.ready();
        j["endpoints"] = s.endpoints_size();
        j["ready_endpoints"] = ready;
        json subsets = json::array();
        for (const auto& sub : s.subsets()) subsets.push_back(sub.name());
        j["subsets"] = subsets;
        j["waypoint"] = s.waypoint();
        if (!s.waypoint().empty()) {
          std::string name = proxy::ServiceWaypointName(s);
          j["waypoint_namespace"] = name.substr(0, name.find('/'));
          const pb::Waypoint* wp = proxy::FindWaypoint(*snapshot_, name);
          j["waypoint_available"] =
              wp != nullptr && !wp->identity().empty() && proxy::ReadyWaypointEndpoints(*wp) > 0;
        }
        out.push_back(std::move(j));
      }
    }
    return admin::Response{200, "application/json", out.dump(2)};
  });
  admin_->Handle("/connections", [this](const std::string&) {
    json out = json::array();
    auto proxy = CurrentProxy();
    if (!proxy) return admin::Response{503, "text/plain", "no node proxy\n"};
    auto conns = proxy->Connections();
    if (!conns.ok())
      return admin::Response{503, "text/plain", std::string(conns.status().message())};
    for (const auto& c : *conns) {
      out.push_back({{"pod", c.pod},
                     {"direction", c.direction},
                     {"client", ToJson(c.client)},
                     {"original_destination", ToJson(c.original_destination)},
                     {"upstream", ToJson(c.upstream)},
                     {"cluster", c.cluster},
                     {"bytes_sent", c.bytes_sent},
                     {"bytes_received", c.bytes_received},
                     {"age_ms", c.age_ms},
                     {"peer_identity", c.peer_identity},
                     {"mtls", c.mtls},
                     {"buffer_bytes", c.buffer_bytes},
                     {"waypoint",
                      c.waypoint.empty()
                          ? json(nullptr)
                          : json{{"name", c.waypoint}, {"address", ToJson(c.waypoint_address)}}}});
    }
    return admin::Response{200, "application/json", out.dump(2)};
  });
  admin_->Handle("/bpf", [this](const std::string&) {
    auto dump = datapath_->writer().DumpMaps();
    if (!dump.ok()) return admin::Response{500, "text/plain", std::string(dump.status().message())};
    json j = datapath::ToJson(*dump);
    j["adopted"] = datapath_->adopted();
    json links = json::array();
    for (const auto& l : datapath_->Links()) {
      links.push_back(
          {{"name", l.name}, {"link_id", l.link_id}, {"prog_id", l.prog_id}, {"pinned", l.pinned}});
    }
    j["links"] = links;
    return admin::Response{200, "application/json", j.dump(2)};
  });
  admin_->Handle("/stats", [this](const std::string&) {
    auto proxy = CurrentProxy();
    if (!proxy) return admin::Response{503, "text/plain", "no node proxy\n"};
    auto stats = proxy->Stats();
    if (!stats.ok())
      return admin::Response{503, "text/plain", std::string(stats.status().message())};
    json j = proxy::ProxyStatsJson(*stats);
    return admin::Response{200, "application/json", j.dump(2)};
  });
  admin_->Handle("/certs", [this](const std::string&) {
    auto proxy = CurrentProxy();
    if (!proxy) return admin::Response{503, "text/plain", "no node proxy\n"};
    auto certs = proxy->CertsJson();
    if (!certs.ok())
      return admin::Response{503, "text/plain", std::string(certs.status().message())};
    return admin::Response{200, "application/json", *certs};
  });
  metrics_->Handle("/metrics", [this](const std::string&) {
    admin::MetricsWriter m;
    auto proxy = CurrentProxy();
    proxy::ProxyStats s =
        proxy ? proxy->Stats().value_or(proxy::ProxyStats{}) : proxy::ProxyStats{};
    m.Family("weft_proxy_connections_total", "counter", "Connections accepted by the node proxy.");
    m.Sample("weft_proxy_connections_total", {{"direction", "outbound"}}, s.accepted_outbound);
    m.Sample("weft_proxy_connections_total", {{"direction", "inbound"}}, s.accepted_inbound);
    m.Family("weft_proxy_active_connections", "gauge", "Connections open through the proxy.");
    m.Sample("weft_proxy_active_connections", s.active);
    m.Family("weft_proxy_connection_errors_total", "counter",
             "Connections the proxy could not serve, by reason.");
    m.Sample("weft_proxy_connection_errors_total", {{"reason", "no_original_destination"}},
             s.no_original_destination);
    m.Sample("weft_proxy_connection_errors_total", {{"reason", "no_endpoint"}}, s.no_endpoint);
    m.Sample("weft_proxy_connection_errors_total", {{"reason", "connect_failure"}},
             s.connect_failures);
    m.Sample("weft_proxy_connection_errors_total", {{"reason", "idle_timeout"}}, s.idle_timeouts);
    m.Sample("weft_proxy_connection_errors_total", {{"reason", "waypoint_unavailable"}},
             s.waypoint_unavailable);
    m.Family("weft_proxy_passthrough_total", "counter",
             "Connections to destinations outside the mesh.");
    m.Sample("weft_proxy_passthrough_total", s.passthrough);
    m.Family("weft_proxy_bytes_total", "counter", "Bytes relayed by the proxy.");
    m.Sample("weft_proxy_bytes_total", {{"direction", "sent"}}, s.bytes_sent);
    m.Sample("weft_proxy_bytes_total", {{"direction", "received"}}, s.bytes_received);
    m.Family("weft_hbone_connections_total", "counter",
             "Connections carried over HBONE (mTLS), by direction.");
    m.Sample("weft_hbone_connections_total", {{"direction", "outbound"}}, s.hbone_outbound);
    m.Sample("weft_hbone_connections_total", {{"direction", "inbound"}}, s.hbone_inbound);
    m.Family("weft_waypoint_connections_total", "counter",
             "Outbound connections sent to a waypoint (over HBONE; also in "
             "weft_hbone_connections_total).");
    m.Sample("weft_waypoint_connections_total", s.waypoint_outbound);
    m.Family("weft_local_deliveries_total", "counter",
             "Mesh connections between two pods of this node (policy checked, no TLS).");
    m.Sample("weft_local_deliveries_total", s.local_deliveries);
    m.Family("weft_hbone_errors_total", "counter", "HBONE connections that failed, by reason.");
    m.Sample("weft_hbone_errors_total", {{"reason", "no_source_certificate"}},
             s.no_source_certificate);
    m.Sample("weft_hbone_errors_total", {{"reason", "connect"}}, s.hbone_connect_failures);
    m.Sample("weft_hbone_errors_total", {{"reason", "bad_target"}}, s.hbone_bad_target);
    m.Sample("weft_hbone_errors_total", {{"reason", "app_unreachable"}}, s.hbone_app_unreachable);
    m.Family("weft_tls_handshakes_total", "counter", "Completed TLS handshakes (both sides).");
    m.Sample("weft_tls_handshakes_total", s.tls_handshakes);
    m.Family("weft_tls_handshake_failures_total", "counter",
             "TLS handshakes refused on the pods' :15008, by reason.");
    for (const auto& [reason, n] : s.tls_handshake_failures) {
      m.Sample("weft_tls_handshake_failures_total", {{"reason", reason}}, n);
    }
    m.Family("weft_authz_denied_total", "counter",
             "Connections denied by PeerAuthentication or AuthorizationPolicy, by reason.");
    m.Sample("weft_authz_denied_total", {{"reason", "deny_policy"}}, s.denied_policy);
    m.Sample("weft_authz_denied_total", {{"reason", "no_allow_match"}}, s.denied_no_allow_match);
    m.Sample("weft_authz_denied_total", {{"reason", "mtls_strict"}}, s.denied_mtls_strict);
    m.Sample("weft_authz_denied_total", {{"reason", "unknown_destination"}},
             s.denied_unknown_destination);
    if (auto counters = datapath_->writer().ReadCounters(); counters.ok()) {
      m.Family("weft_bpf_verdicts_total", "counter",
               "Verdicts of the BPF programs, by program and verdict.");
      for (const auto& c : *counters) {
        m.Sample("weft_bpf_verdicts_total", {{"program", c.program}, {"verdict", c.verdict}},
                 c.value);
      }
    }
    if (auto usage = datapath_->writer().MapUsage(); usage.ok()) {
      m.Family("weft_bpf_map_entries", "gauge", "Entries in each BPF map.");
      for (const auto& u : *usage) m.Sample("weft_bpf_map_entries", {{"map", u.map}}, u.entries);
      m.Family("weft_bpf_map_capacity", "gauge", "Capacity (max_entries) of each BPF map.");
      for (const auto& u : *usage) m.Sample("weft_bpf_map_capacity", {{"map", u.map}}, u.capacity);
    }
    std::lock_guard<std::mutex> l(mu_);
    m.Family("weft_enrolled_pods", "gauge", "Pods of this node whose traffic is captured.");
    m.Sample("weft_enrolled_pods", static_cast<double>(enrolled_.size()));
    m.Family("weft_snapshot_generation", "gauge", "Generation of the snapshot in force.");
    m.Sample("weft_snapshot_generation",
             snapshot_ ? static_cast<double>(snapshot_->generation()) : 0);
    m.Family("weft_proxy_restarts_total", "counter",
             "Times the proxy process had to be restarted.");
    m.Sample("weft_proxy_restarts_total", static_cast<double>(proxy_restarts_));
    m.Family("weft_reconcile_errors_total", "counter", "Failed BPF map reconciliations.");
    m.Sample("weft_reconcile_errors_total", static_cast<double>(reconcile_errors_));
    int errors = 0;
    if (snapshot_) {
      for (const auto& d : snapshot_->diagnostics())
        errors += d.severity() == pb::Diagnostic::ERROR;
    }
    m.Family("weft_config_errors", "gauge",
             "Errors in the configuration in force (left-out resources).");
    m.Sample("weft_config_errors", errors);
    return admin::Response{200, "text/plain; version=0.0.4", m.text()};
  });
  // Kubernetes mode: the reflectors (KubeSource's methods are safe from this thread).
  admin_->Handle("/kubernetes", [this](const std::string&) {
    if (!kube_) return admin::Response{404, "text/plain", "local mode\n"};
    return admin::Response{200, "application/json", kube_->Status().dump(2) + "\n"};
  });
  auto ready = [this](const std::string&) {
    if (!ready_.load()) return admin::Response{503, "text/plain", "starting\n"};
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!proxy_) {
        // Enrolled pods' captured connections are refused until a proxy serves them again.
        return admin::Response{503, "text/plain", "no node proxy: " + proxy_error_ + "\n"};
      }
    }
    if (kube_ && !kube_->connected()) {
      // The data path keeps the last good configuration; the outage is reported, not hidden.
      return admin::Response{503, "text/plain",
                             "API server unreachable: serving the last good configuration\n"};
    }
    return admin::Response{200, "text/plain", "ready\n"};
  };
  readiness_->Handle("/healthz/ready", ready);
  readiness_->Handle("/ready", ready);
}

}  // namespace weft::agent
