#include "tools/netns-cluster/kubelet.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "tools/netns-cluster/sys.h"

namespace weft::cluster {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kLeaseRenewMs = 10000;
constexpr int64_t kStatusEveryMs = 30000;
constexpr int64_t kRetryMs = 1000;
constexpr auto kCallTimeout = std::chrono::seconds(10);

const kube::ResourceType kPods{"", "v1", "pods", "Pod", true};

void Log(const std::string& line) {
  std::cerr << sys::Rfc3339Now() << " kube: " << line << std::endl;
}

int64_t WallUs() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1000000 + ts.tv_nsec / 1000;
}

// "2026-01-02T03:04:05Z" → ms since the epoch (0 when unreadable).
int64_t ParseRfc3339(const std::string& s) {
  tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return int64_t{timegm(&tm)} * 1000;
}

const json& At(const json& j, std::string_view key) {
  static const json null;
  if (!j.is_object()) return null;
  auto it = j.find(key);
  return it == j.end() ? null : *it;
}

std::string Str(const json& j, std::string_view key, const std::string& def = "") {
  const json& v = At(j, key);
  return v.is_string() ? v.get<std::string>() : def;
}

// Writes `data` to `path` atomically (a temporary file renamed over it), so that a reader of
// a bind-mounted volume never sees half a token.
absl::Status WriteAtomic(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp =
      fs::path(path).parent_path().string() + "/.." + fs::path(path).filename().string() + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return absl::InternalError("cannot write " + tmp + ": " + std::strerror(errno));
  bool ok = write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
  fchmod(fd, mode);
  close(fd);
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return absl::InternalError("cannot write " + path + ": " + std::strerror(errno));
  }
  return absl::OkStatus();
}

mode_t ModeOf(const json& j, mode_t def) {
  const json& m = At(j, "mode");
  if (m.is_number_integer()) return static_cast<mode_t>(m.get<int>());
  const json& d = At(j, "defaultMode");
  if (d.is_number_integer()) return static_cast<mode_t>(d.get<int>());
  return def;
}

uint64_t MemoryKib() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  uint64_t v;
  std::string unit;
  while (in >> key >> v >> unit) {
    if (key == "MemTotal:") return v;
  }
  return 1024 * 1024;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Kubelets>> Kubelets::Create(const Options& options) {
  std::unique_ptr<Kubelets> k(new Kubelets(options));
  auto config = kube::LoadKubeconfig(options.admin_kubeconfig);
  if (!config.ok()) return config.status();
  auto client = kube::Client::Create(*config);
  if (!client.ok()) return client.status();
  k->admin_ = *client;
  k->results_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (k->results_fd_ < 0) return absl::InternalError("eventfd failed");
  kube::ReflectorOptions ro;
  ro.field_selector = "spec.nodeName!=";
  ro.max_backoff = std::chrono::milliseconds(2000);
  k->pods_ = std::make_unique<kube::Reflector>(k->admin_, &kPods, &k->pod_queue_, ro);
  return k;
}

Kubelets::~Kubelets() {
  Stop();
  if (results_fd_ >= 0) close(results_fd_);
}

void Kubelets::Start() {
  pods_->Start();
  thread_ = std::thread([this] { Loop(); });
  prober_ = std::thread([this] { ProbeLoop(); });
}

void Kubelets::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    cv_.notify_all();
    probe_cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
  if (prober_.joinable()) prober_.join();
  if (pods_) pods_->Stop();
}

void Kubelets::Post(int64_t at, std::function<void()> fn) {
  std::lock_guard<std::mutex> l(mu_);
  tasks_.push_back({at, std::move(fn)});
  cv_.notify_all();
}

void Kubelets::PushResult(Prepared p) {
  {
    std::lock_guard<std::mutex> l(mu_);
    results_.push_back(std::move(p));
  }
  uint64_t one = 1;
  (void)!write(results_fd_, &one, sizeof one);
}

Kubelets::Drained Kubelets::Drain() {
  uint64_t n;
  (void)!read(results_fd_, &n, sizeof n);
  Drained d;
  d.pods = pod_queue_.Drain();
  std::lock_guard<std::mutex> l(mu_);
  d.prepared.swap(results_);
  d.readiness.swap(readiness_);
  return d;
}

void Kubelets::SetProbe(const std::string& key, const std::string& uid, const std::string& netns,
                        const k8s::Probe& probe) {
  std::lock_guard<std::mutex> l(mu_);
  ProbeEntry e;
  e.uid = uid;
  e.netns = netns;
  e.probe = probe;
  e.next = sys::MonotonicMs() + int64_t{probe.initial_delay_seconds} * 1000;
  e.generation = ++probe_generation_;
  probes_[key] = std::move(e);
  probe_cv_.notify_all();
}

void Kubelets::ClearProbe(const std::string& key) {
  std::lock_guard<std::mutex> l(mu_);
  probes_.erase(key);
}

bool Kubelets::RunProbe(const std::string& netns, const k8s::Probe& probe) {
  int ns = open(netns.c_str(), O_RDONLY | O_CLOEXEC);
  if (ns < 0) return false;
  bool entered = setns(ns, CLONE_NEWNET) == 0;  // this thread only
  close(ns);
  if (!entered) return false;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(probe.port));
  if (inet_pton(AF_INET, probe.host.c_str(), &a.sin_addr) != 1) {
    close(fd);
    return false;
  }
  int64_t deadline = sys::MonotonicMs() + int64_t{probe.timeout_seconds} * 1000;
  auto wait = [&](short events) {
    while (true) {
      int64_t left = deadline - sys::MonotonicMs();
      if (left <= 0) return false;
      pollfd p{fd, events, 0};
      int r = poll(&p, 1, static_cast<int>(left));
      if (r > 0) return true;
      if (r < 0 && errno != EINTR) return false;
    }
  };
  bool ok = false;
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ||
      (errno == EINPROGRESS && wait(POLLOUT))) {
    int err = 0;
    socklen_t len = sizeof err;
    ok = getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
  }
  if (ok && probe.http) {
    std::string req = "GET " + probe.path + " HTTP/1.1\r\nHost: " + probe.host + ":" +
                      std::to_string(probe.port) +
                      "\r\nUser-Agent: kube-probe/1.37\r\nAccept: */*\r\nConnection: close\r\n";
    for (const auto& [k, v] : probe.headers) req += k + ": " + v + "\r\n";
    req += "\r\n";
    ok = send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
    std::string head;
    while (ok && head.find("\r\n") == std::string::npos && head.size() < 4096) {
      if (!wait(POLLIN)) {
        ok = false;
        break;
      }
      char buf[1024];
      ssize_t n = recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      head.append(buf, static_cast<size_t>(n));
    }
    // "HTTP/1.1 200 OK": 200-399 is success, as the kubelet's prober says.
    int code = 0;
    if (ok && head.starts_with("HTTP/") && head.find(' ') != std::string::npos) {
      code = atoi(head.c_str() + head.find(' ') + 1);
    }
    ok = code >= 200 && code < 400;
  }
  close(fd);
  return ok;
}

void Kubelets::ProbeLoop() {
  while (true) {
    std::string key;
    ProbeEntry e;
    {
      std::unique_lock<std::mutex> l(mu_);
      while (!stop_) {
        int64_t now = sys::MonotonicMs(), next = now + 60000;
        for (const auto& [k, p] : probes_) {
          if (p.next < next) {
            next = p.next;
            key = k;
          }
        }
        if (next <= now) break;
        key.clear();
        probe_cv_.wait_for(l, std::chrono::milliseconds(next - now));
      }
      if (stop_) return;
      e = probes_[key];
    }
    bool ok = RunProbe(e.netns, e.probe);
    std::lock_guard<std::mutex> l(mu_);
    auto it = probes_.find(key);
    if (it == probes_.end() || it->second.generation != e.generation) continue;
    ProbeEntry& p = it->second;
    p.next = sys::MonotonicMs() + int64_t{p.probe.period_seconds} * 1000;
    if (ok) {
      p.failures = 0;
      ++p.successes;
    } else {
      p.successes = 0;
      ++p.failures;
    }
    bool ready = p.ready;
    if (!p.ready && p.successes >= p.probe.success_threshold) ready = true;
    if (p.ready && p.failures >= p.probe.failure_threshold) ready = false;
    if (ready != p.ready) {
      p.ready = ready;
      readiness_.push_back({key, p.uid, ready});
      uint64_t one = 1;
      (void)!write(results_fd_, &one, sizeof one);
    }
  }
}

kube::ReflectorStatus Kubelets::PodsStatus() const {
  return pods_->status();
}

std::shared_ptr<kube::Client> Kubelets::NodeClient(const std::string& node) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(node);
  if (it == nodes_.end() || !it->second.client) return admin_;
  return it->second.client;
}

void Kubelets::AddNode(const NodeState& n) {
  std::shared_ptr<kube::Client> client;
  if (auto config = kube::LoadKubeconfig(n.kubeconfig); config.ok()) {
    if (auto c = kube::Client::Create(*config); c.ok()) client = *c;
  }
  if (!client) Log("node " + n.name + ": no credentials in " + n.kubeconfig + "; using admin's");
  std::lock_guard<std::mutex> l(mu_);
  removed_nodes_.erase(n.name);
  auto& e = nodes_[n.name];
  e.node = n;
  e.client = client ? client : admin_;
  e.registered = false;  // (re-)register: labels may have changed
  e.next_register = 0;
  ++e.generation;
  cv_.notify_all();
}

void Kubelets::RemoveNode(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  nodes_.erase(name);
  removed_nodes_.insert(name);
  cv_.notify_all();
}

bool Kubelets::NodeReady(const std::string& name) {
  std::lock_guard<std::mutex> l(mu_);
  auto it = nodes_.find(name);
  return it != nodes_.end() && it->second.ready_reported;
}

void Kubelets::ReportStatus(const std::string& node, const std::string& key, json patch) {
  std::lock_guard<std::mutex> l(mu_);
  statuses_[key] = {node, std::move(patch)};
  cv_.notify_all();
}

void Kubelets::DeletePod(const std::string& node, const std::string& ns, const std::string& name,
                         const std::string& uid) {
  std::string path = "/api/v1/namespaces/" + ns + "/pods/" + name;
  json body{{"kind", "DeleteOptions"},
            {"apiVersion", "v1"},
            {"gracePeriodSeconds", 0},
            {"preconditions", {{"uid", uid}}}};
  Post(0, [this, node, path, body = body.dump()] { TryDelete(node, path, body); });
}

void Kubelets::TryDelete(const std::string& node, const std::string& path,
                         const std::string& body) {
  auto r = NodeClient(node)->Request("DELETE", path, body, "application/json", kCallTimeout);
  if (r.ok() && (r->ok() || r->status == 404 || r->status == 409)) {
    Log("deleted " + path + (r->ok() ? "" : " (" + std::to_string(r->status) + ")"));
    return;
  }
  Log("DELETE " + path + " failed (" +
      (r.ok() ? std::to_string(r->status) + " " + r->Message()
              : std::string(r.status().message())) +
      "); retrying");
  Post(sys::MonotonicMs() + 2 * kRetryMs,
       [this, node, path, body] { TryDelete(node, path, body); });
}

void Kubelets::Prepare(const std::string& node, const json& pod, const k8s::LaunchContext& ctx) {
  std::string uid = Str(At(pod, "metadata"), "uid");
  {
    std::lock_guard<std::mutex> l(mu_);
    forgotten_.erase(uid);
  }
  Post(0, [this, node, pod, ctx] { TryPrepare(node, pod, ctx, 0); });
}

void Kubelets::TryPrepare(const std::string& node, const json& pod, const k8s::LaunchContext& ctx,
                          int attempt) {
  std::string key = Str(At(pod, "metadata"), "namespace") + "/" + Str(At(pod, "metadata"), "name");
  std::string uid = Str(At(pod, "metadata"), "uid");
  auto forgotten = [&] {
    std::lock_guard<std::mutex> l(mu_);
    return forgotten_.contains(uid);
  };
  if (forgotten()) return;
  std::string launch;
  absl::Status s = DoPrepare(node, pod, ctx, &launch);
  if (forgotten()) return;
  if (s.ok()) {
    PushResult({key, uid, launch, ""});
    return;
  }
  Log("pod " + key + ": volumes: " + std::string(s.message()) + " (retrying)");
  PushResult({key, uid, "", std::string(s.message())});
  int64_t delay = std::min<int64_t>(500LL << std::min(attempt, 4), 8000);
  Post(sys::MonotonicMs() + delay,
       [this, node, pod, ctx, attempt] { TryPrepare(node, pod, ctx, attempt + 1); });
}

void Kubelets::ForgetPod(const std::string& uid) {
  if (uid.empty()) return;
  {
    std::lock_guard<std::mutex> l(mu_);
    forgotten_.insert(uid);
    std::erase_if(tokens_, [&](const Token& t) { return t.uid == uid; });
  }
  // On the worker, after any preparation of it still running.
  Post(0, [this, uid] { (void)sys::RemoveTree(options_.pods_dir + "/" + uid); });
}

absl::Status Kubelets::MakeDir(const std::string& path) {
  fs::path p(path);
  std::vector<fs::path> missing;
  for (fs::path q = p; !q.empty() && q != q.root_path(); q = q.parent_path()) {
    std::error_code ec;
    if (fs::exists(q, ec)) break;
    missing.push_back(q);
  }
  std::reverse(missing.begin(), missing.end());
  for (const auto& q : missing) {
    if (mkdir(q.c_str(), 0755) != 0 && errno != EEXIST) {
      return absl::InternalError("cannot create " + q.string() + ": " + std::strerror(errno));
    }
    // Outside the cluster's own dirs: recorded, so that `down` removes it again.
    if (!options_.created_paths.empty() && !q.string().starts_with(options_.pods_dir + "/")) {
      (void)sys::AppendFile(options_.created_paths, q.string() + "\n");
    }
  }
  return absl::OkStatus();
}

absl::Status Kubelets::WriteToken(Token& t) {
  json spec{
      {"expirationSeconds", t.expiration_seconds},
      {"boundObjectRef", {{"kind", "Pod"}, {"apiVersion", "v1"}, {"name", t.pod}, {"uid", t.uid}}}};
  if (!t.audience.empty()) spec["audiences"] = json::array({t.audience});
  json body{{"apiVersion", "authentication.k8s.io/v1"}, {"kind", "TokenRequest"}, {"spec", spec}};
  auto r = NodeClient(t.node)->Post(
      "/api/v1/namespaces/" + t.ns + "/serviceaccounts/" + t.sa + "/token", body);
  if (!r.ok()) return r.status();
  std::string token = Str(At(*r, "status"), "token");
  if (token.empty()) return absl::InternalError("TokenRequest: no token in the answer");
  int64_t now = sys::WallMs();
  int64_t exp = ParseRfc3339(Str(At(*r, "status"), "expirationTimestamp"));
  if (exp <= now) exp = now + t.expiration_seconds * 1000;
  // As the kubelet: a new token once 80 % of its life has passed (at most a day on).
  t.refresh_at = now + std::min<int64_t>((exp - now) * 8 / 10, 24LL * 3600 * 1000);
  return WriteAtomic(t.file, token, 0644);
}

absl::Status Kubelets::DoPrepare(const std::string& node, const json& pod,
                                 const k8s::LaunchContext& ctx_in, std::string* launch) {
  auto client = NodeClient(node);
  const json& meta = At(pod, "metadata");
  const json& spec = At(pod, "spec");
  std::string ns = Str(meta, "namespace", "default"), name = Str(meta, "name"),
              uid = Str(meta, "uid"), sa = Str(spec, "serviceAccountName", "default");
  std::string dir = options_.pods_dir + "/" + uid;
  NodeState node_state;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return absl::NotFoundError("node " + node + " is not in the cluster");
    node_state = it->second.node;
  }

  k8s::Fetched fetched;
  k8s::References refs = k8s::ReferencedObjects(pod);
  for (bool secret : {false, true}) {
    for (const auto& obj : secret ? refs.secrets : refs.config_maps) {
      std::string path = "/api/v1/namespaces/" + ns + (secret ? "/secrets/" : "/configmaps/") + obj;
      auto r = client->Get(path);
      if (r.ok()) {
        (secret ? fetched.secrets : fetched.config_maps)[obj] = std::move(*r);
      } else if (!absl::IsNotFound(r.status()) ||
                 !refs.optional[(secret ? "secret/" : "configmap/") + obj]) {
        return r.status();
      }
    }
  }

  k8s::LaunchContext ctx = ctx_in;
  auto write_items = [&](const std::string& vdir, const std::map<std::string, std::string>& data,
                         const json& src, mode_t def_mode) -> absl::Status {
    const json& items = At(src, "items");
    mode_t dm = ModeOf(src, def_mode);
    if (items.is_array() && !items.empty()) {
      for (const auto& it : items) {
        auto d = data.find(Str(it, "key"));
        if (d == data.end()) {
          if (At(src, "optional").is_boolean() && At(src, "optional").get<bool>()) continue;
          return absl::NotFoundError("key " + Str(it, "key") + " not found");
        }
        std::string file = vdir + "/" + Str(it, "path");
        if (auto s = sys::MakeDirs(fs::path(file).parent_path().string()); !s.ok()) return s;
        if (auto s = WriteAtomic(file, d->second, ModeOf(it, dm)); !s.ok()) return s;
      }
      return absl::OkStatus();
    }
    for (const auto& [k, v] : data) {
      if (auto s = WriteAtomic(vdir + "/" + k, v, dm); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  auto downward = [&](const std::string& vdir, const json& src) -> absl::Status {
    for (const auto& it : At(src, "items")) {
      const json& f = At(it, "fieldRef");
      std::string value;
      if (f.is_object()) {
        auto v = k8s::FieldRef(pod, Str(f, "fieldPath"), ctx);
        if (!v.ok()) return v.status();
        value = *v;
      }
      std::string file = vdir + "/" + Str(it, "path");
      if (auto s = sys::MakeDirs(fs::path(file).parent_path().string()); !s.ok()) return s;
      if (auto s = WriteAtomic(file, value, ModeOf(it, ModeOf(src, 0644))); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  std::vector<Token> new_tokens;
  for (const auto& v : At(spec, "volumes")) {
    std::string vname = Str(v, "name");
    std::string vdir = dir + "/volumes/" + vname;
    if (const json& hp = At(v, "hostPath"); hp.is_object()) {
      // The node's own directory for node-local paths (bpffs, cgroup, /run, /var/lib).
      std::string path = k8s::NodeHostPath(node_state, Str(hp, "path")), type = Str(hp, "type");
      if (type == "DirectoryOrCreate") {
        if (auto s = MakeDir(path); !s.ok()) return s;
      } else if (type == "FileOrCreate" && !sys::Exists(path)) {
        if (auto s = MakeDir(fs::path(path).parent_path().string()); !s.ok()) return s;
        (void)sys::AppendFile(path, "");
      }
      ctx.volume_paths[vname] = path;
      continue;
    }
    bool known = false;
    for (const char* k : {"emptyDir", "configMap", "secret", "projected", "downwardAPI"}) {
      known |= At(v, k).is_object();
    }
    if (!known) continue;  // mounting it fails the launch spec, with the volume's name
    if (auto s = sys::MakeDirs(vdir); !s.ok()) return s;
    ctx.volume_paths[vname] = vdir;
    if (const json& cm = At(v, "configMap"); cm.is_object()) {
      auto it = fetched.config_maps.find(Str(cm, "name"));
      if (it != fetched.config_maps.end()) {
        if (auto s = write_items(vdir, k8s::ObjectData(it->second, false), cm, 0644); !s.ok()) {
          return s;
        }
      }
    } else if (const json& sec = At(v, "secret"); sec.is_object()) {
      auto it = fetched.secrets.find(Str(sec, "secretName"));
      if (it != fetched.secrets.end()) {
        if (auto s = write_items(vdir, k8s::ObjectData(it->second, true), sec, 0644); !s.ok()) {
          return s;
        }
      }
    } else if (const json& dw = At(v, "downwardAPI"); dw.is_object()) {
      if (auto s = downward(vdir, dw); !s.ok()) return s;
    } else if (const json& pr = At(v, "projected"); pr.is_object()) {
      mode_t dm = ModeOf(pr, 0644);
      for (const auto& src : At(pr, "sources")) {
        if (const json& t = At(src, "serviceAccountToken"); t.is_object()) {
          Token tok;
          tok.node = node;
          tok.uid = uid;
          tok.ns = ns;
          tok.pod = name;
          tok.sa = sa;
          tok.audience = Str(t, "audience");
          const json& es = At(t, "expirationSeconds");
          tok.expiration_seconds = es.is_number_integer() ? es.get<int64_t>() : 3600;
          tok.file = vdir + "/" + Str(t, "path", "token");
          if (auto s = sys::MakeDirs(fs::path(tok.file).parent_path().string()); !s.ok()) return s;
          if (auto s = WriteToken(tok); !s.ok()) return s;
          new_tokens.push_back(std::move(tok));
        } else if (const json& cm = At(src, "configMap"); cm.is_object()) {
          auto it = fetched.config_maps.find(Str(cm, "name"));
          if (it == fetched.config_maps.end()) continue;
          json with_mode = cm;
          if (!with_mode.contains("defaultMode")) with_mode["defaultMode"] = dm;
          if (auto s = write_items(vdir, k8s::ObjectData(it->second, false), with_mode, dm);
              !s.ok()) {
            return s;
          }
        } else if (const json& sec = At(src, "secret"); sec.is_object()) {
          auto it = fetched.secrets.find(Str(sec, "name"));
          if (it == fetched.secrets.end()) continue;
          if (auto s = write_items(vdir, k8s::ObjectData(it->second, true), sec, dm); !s.ok()) {
            return s;
          }
        } else if (const json& dw = At(src, "downwardAPI"); dw.is_object()) {
          if (auto s = downward(vdir, dw); !s.ok()) return s;
        }
      }
    }
  }

  auto spec_or = k8s::BuildLaunchSpec(pod, ctx, fetched);
  if (!spec_or.ok()) return spec_or.status();
  // Mount points that do not exist on the host are made here (and removed by `down`): the
  // pod's mount namespace shares the host's file systems.
  std::vector<const k8s::ContainerLaunch*> all{&spec_or->main};
  for (const auto& c : spec_or->init) all.push_back(&c);
  for (const auto* c : all) {
    for (const auto& m : c->mounts) {
      if (sys::Exists(m.target)) continue;
      std::error_code ec;
      bool dir_source = fs::is_directory(m.source, ec);
      if (!sys::Exists(m.source)) {
        return absl::NotFoundError("volume source " + m.source + " does not exist");
      }
      if (dir_source) {
        if (auto s = MakeDir(m.target); !s.ok()) return s;
      } else {
        if (auto s = MakeDir(fs::path(m.target).parent_path().string()); !s.ok()) return s;
        if (auto s = sys::AppendFile(m.target, ""); !s.ok()) return s;
        (void)sys::AppendFile(options_.created_paths, m.target + "\n");
      }
    }
  }
  std::string file = dir + "/launch.json";
  if (auto s = WriteAtomic(file, k8s::ToJson(*spec_or).dump(2) + "\n", 0600); !s.ok()) return s;
  {
    std::lock_guard<std::mutex> l(mu_);
    std::erase_if(tokens_, [&](const Token& t) { return t.uid == uid; });
    for (auto& t : new_tokens) tokens_.push_back(std::move(t));
  }
  *launch = file;
  return absl::OkStatus();
}

bool Kubelets::Register(NodeEntry& e) {
  json obj = k8s::NodeObject(e.node);
  const std::string path = "/api/v1/nodes/" + e.node.name;
  auto r = admin_->Post("/api/v1/nodes", obj);
  if (!r.ok() && absl::IsAborted(r.status())) {  // 409: it exists (a restarted supervisor)
    auto have = admin_->Get(path);
    if (!have.ok()) {
      Log("node " + e.node.name + ": " + std::string(have.status().message()));
      return false;
    }
    if (Str(At(*have, "spec"), "podCIDR") != e.node.pod_cidr) {
      (void)admin_->Delete(path);  // podCIDR is immutable: register it anew
      r = admin_->Post("/api/v1/nodes", obj);
    } else {
      r = admin_->Patch(path, {{"metadata", {{"labels", obj["metadata"]["labels"]}}}});
    }
  }
  if (!r.ok()) {
    Log("node " + e.node.name + ": cannot register: " + std::string(r.status().message()));
    return false;
  }
  e.uid = Str(At(*r, "metadata"), "uid");
  e.since = k8s::Rfc3339(sys::WallMs());
  e.lease_exists = false;
  Log("node " + e.node.name + ": registered (podCIDR " + e.node.pod_cidr + ", InternalIP " +
      e.node.underlay_ip + ")");
  return true;
}

bool Kubelets::PatchNodeStatus(NodeEntry& e) {
  static const int cpus = std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
  static const uint64_t mem = MemoryKib();
  static const json host = [] {
    utsname u{};
    uname(&u);
    auto first_line = [](const std::string& file) {
      auto t = sys::ReadFile(file);
      std::string s = t.ok() ? *t : "";
      return s.substr(0, s.find('\n'));
    };
    return json{{"kernelVersion", u.release},
                {"machineID", first_line("/etc/machine-id")},
                {"bootID", first_line("/proc/sys/kernel/random/boot_id")}};
  }();
  json patch = k8s::NodeStatusPatch(e.node, cpus, mem, e.since, k8s::Rfc3339(sys::WallMs()));
  patch["status"]["nodeInfo"].update(host);
  auto r = e.client->Patch("/api/v1/nodes/" + e.node.name + "/status", patch);
  if (!r.ok()) {
    Log("node " + e.node.name + ": status: " + std::string(r.status().message()));
    if (absl::IsNotFound(r.status())) e.registered = false;  // deleted behind our back
    return false;
  }
  return true;
}

bool Kubelets::RenewLease(NodeEntry& e) {
  const std::string base = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases";
  std::string now = k8s::Rfc3339Micro(WallUs());
  if (!e.lease_exists) {
    auto r = e.client->Post(base, k8s::NodeLease(e.node.name, e.uid, now));
    if (r.ok()) {
      e.lease_exists = true;
      return true;
    }
    if (!absl::IsAborted(r.status())) {
      Log("node " + e.node.name + ": lease: " + std::string(r.status().message()));
      return false;
    }
    e.lease_exists = true;
  }
  auto r = e.client->Patch(base + "/" + e.node.name,
                           {{"spec",
                             {{"holderIdentity", e.node.name},
                              {"leaseDurationSeconds", k8s::kLeaseDurationSeconds},
                              {"renewTime", now}}}});
  if (!r.ok()) {
    if (absl::IsNotFound(r.status())) e.lease_exists = false;
    Log("node " + e.node.name + ": lease: " + std::string(r.status().message()));
    return false;
  }
  return true;
}

void Kubelets::Tick(NodeEntry& e, int64_t now) {
  if (!e.registered) {
    if (now < e.next_register) return;
    if (!Register(e)) {
      e.next_register = now + kRetryMs;
      return;
    }
    e.registered = true;
    e.next_status = e.next_lease = 0;
  }
  if (now >= e.next_status) {
    bool ok = PatchNodeStatus(e);
    e.next_status = now + (ok ? kStatusEveryMs : kRetryMs);
    if (ok) e.ready_reported = true;
  }
  if (now >= e.next_lease) e.next_lease = now + (RenewLease(e) ? kLeaseRenewMs : kRetryMs * 2);
}

void Kubelets::Loop() {
  int64_t status_retry_at = 0;
  while (true) {
    std::vector<std::string> removed;
    std::vector<std::function<void()>> due;
    std::map<std::string, std::pair<std::string, json>> statuses;
    std::vector<std::string> node_names;
    std::vector<Token> refresh;
    int64_t now;
    {
      std::unique_lock<std::mutex> l(mu_);
      while (!stop_) {
        now = sys::MonotonicMs();
        int64_t wall = sys::WallMs();
        int64_t next = now + 60000;
        for (const auto& t : tasks_) next = std::min(next, t.at);
        for (const auto& [n, e] : nodes_) {
          next = std::min(next,
                          e.registered ? std::min(e.next_status, e.next_lease) : e.next_register);
        }
        for (const auto& t : tokens_) next = std::min(next, now + (t.refresh_at - wall));
        if (!statuses_.empty()) next = std::min(next, status_retry_at);
        if (!removed_nodes_.empty()) next = now;
        if (next <= now) break;
        cv_.wait_for(l, std::chrono::milliseconds(next - now));
      }
      if (stop_) return;
      removed.assign(removed_nodes_.begin(), removed_nodes_.end());
      removed_nodes_.clear();
      for (auto it = tasks_.begin(); it != tasks_.end();) {
        if (it->at <= now) {
          due.push_back(std::move(it->run));
          it = tasks_.erase(it);
        } else {
          ++it;
        }
      }
      if (now >= status_retry_at) statuses.swap(statuses_);
      for (const auto& [n, e] : nodes_) node_names.push_back(n);
      int64_t wall = sys::WallMs();
      for (const auto& t : tokens_) {
        if (t.refresh_at <= wall) refresh.push_back(t);
      }
    }
    for (const auto& name : removed) {
      auto s = admin_->Delete("/api/v1/nodes/" + name);
      Log("node " + name + ": deleted from the API" +
          (s.ok() ? "" : " (" + std::string(s.message()) + ")"));
    }
    for (const auto& name : node_names) {
      // Worked on outside the lock: only this thread touches an entry's state, and AddNode
      // and RemoveNode replace or erase entries, so work on a copy and write the result back.
      NodeEntry copy;
      {
        std::lock_guard<std::mutex> l(mu_);
        auto it = nodes_.find(name);
        if (it == nodes_.end()) continue;
        copy = it->second;
      }
      Tick(copy, sys::MonotonicMs());
      std::lock_guard<std::mutex> l(mu_);
      auto it = nodes_.find(name);
      if (it == nodes_.end()) continue;
      if (it->second.generation != copy.generation) {
        // AddNode ran meanwhile (new labels, credentials): register again with those.
        copy.node = it->second.node;
        copy.client = it->second.client;
        copy.generation = it->second.generation;
        copy.registered = false;
        copy.next_register = 0;
      }
      it->second = std::move(copy);
    }
    for (auto& fn : due) fn();
    bool failed = false;
    for (auto& [key, v] : statuses) {
      auto slash = key.find('/');
      std::string path = "/api/v1/namespaces/" + key.substr(0, slash) + "/pods/" +
                         key.substr(slash + 1) + "/status";
      auto r = NodeClient(v.first)->Patch(path, v.second);
      if (r.ok() || absl::IsNotFound(r.status()) || absl::IsAborted(r.status()) ||
          absl::IsInvalidArgument(r.status())) {
        if (!r.ok()) Log("status of " + key + ": " + std::string(r.status().message()));
        continue;
      }
      failed = true;
      std::lock_guard<std::mutex> l(mu_);
      statuses_.try_emplace(key, std::move(v));  // unless a newer one is pending
    }
    if (failed) status_retry_at = sys::MonotonicMs() + kRetryMs;
    for (auto& t : refresh) {
      absl::Status s = WriteToken(t);
      if (!s.ok()) {
        Log("token " + t.file + ": " + std::string(s.message()));
        t.refresh_at = sys::WallMs() + kRetryMs * 5;
      }
      std::lock_guard<std::mutex> l(mu_);
      for (auto& have : tokens_) {
        if (have.file == t.file && have.uid == t.uid) have.refresh_at = t.refresh_at;
      }
    }
  }
}

}  // namespace weft::cluster
