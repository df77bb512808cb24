#include "tools/netns-cluster/kube_pods.h"

#include <time.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "absl/strings/escaping.h"
#include "tools/netns-cluster/ipv4.h"
#include "tools/netns-cluster/naming.h"

namespace weft::cluster::k8s {

namespace {

const json& Null() {
  static const json null;
  return null;
}

// j[key] when j is an object that has it, else null (never inserts).
const json& At(const json& j, std::string_view key) {
  if (!j.is_object()) return Null();
  auto it = j.find(key);
  return it == j.end() ? Null() : *it;
}

std::string Str(const json& j, std::string_view key, const std::string& def = "") {
  const json& v = At(j, key);
  return v.is_string() ? v.get<std::string>() : def;
}

bool Bool(const json& j, std::string_view key, bool def = false) {
  const json& v = At(j, key);
  return v.is_boolean() ? v.get<bool>() : def;
}

const json& Arr(const json& j, std::string_view key) {
  static const json empty = json::array();
  const json& v = At(j, key);
  return v.is_array() ? v : empty;
}

// Exit code of a ProcessState::last_exit ("exit 3" → 3, "signal 9" → 137).
int ExitCode(const std::string& last_exit) {
  try {
    if (last_exit.starts_with("exit ")) return std::stoi(last_exit.substr(5));
    if (last_exit.starts_with("signal ")) return 128 + std::stoi(last_exit.substr(7));
  } catch (...) {
  }
  return last_exit.empty() ? 0 : 1;
}

std::string LabelLines(const json& labels) {
  std::string out;
  if (!labels.is_object()) return out;
  std::map<std::string, std::string> sorted;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (it.value().is_string()) sorted[it.key()] = it.value().get<std::string>();
  }
  for (const auto& [k, v] : sorted) {
    std::string escaped;
    for (char c : v) {
      if (c == '"' || c == '\\') escaped += '\\';
      if (c == '\n') {
        escaped += "\\n";
        continue;
      }
      escaped += c;
    }
    if (!out.empty()) out += "\n";
    out += k + "=\"" + escaped + "\"";
  }
  return out;
}

// Ordered environment with replacement (a later definition wins, keeping the first's place).
class Env {
 public:
  void Set(const std::string& k, const std::string& v) {
    if (auto it = index_.find(k); it != index_.end()) {
      list_[it->second].second = v;
    } else {
      index_[k] = list_.size();
      list_.emplace_back(k, v);
    }
    vars_[k] = v;
  }
  const std::map<std::string, std::string>& vars() const { return vars_; }
  std::vector<std::string> List() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : list_) out.push_back(k + "=" + v);
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> list_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> vars_;
};

absl::StatusOr<std::string> KeyOf(const json& ref, const Fetched& f, bool secret,
                                  const std::string& what) {
  std::string name = Str(ref, "name"), key = Str(ref, "key");
  bool optional = Bool(ref, "optional");
  const auto& objects = secret ? f.secrets : f.config_maps;
  auto it = objects.find(name);
  if (it == objects.end()) {
    if (optional) return std::string();
    return absl::NotFoundError(what + ": " + (secret ? "secret " : "configmap ") + name +
                               " not found");
  }
  auto data = ObjectData(it->second, secret);
  auto d = data.find(key);
  if (d == data.end()) {
    if (optional) return std::string();
    return absl::NotFoundError(what + ": key " + key + " not in " +
                               (secret ? "secret " : "configmap ") + name);
  }
  return d->second;
}

absl::StatusOr<ContainerLaunch> Container(const json& pod, const json& c, const LaunchContext& ctx,
                                          const Fetched& fetched) {
  ContainerLaunch out;
  out.name = Str(c, "name");
  const json& spec = At(pod, "spec");
  bool host_network = Bool(spec, "hostNetwork");
  std::string what = "container " + out.name;
  Env env;
  env.Set("PATH", kDefaultPath);
  env.Set("HOSTNAME", host_network ? ctx.node : Str(At(pod, "metadata"), "name").substr(0, 63));
  env.Set("HOME", "/root");
  // The API server's real address: there is no kube-proxy here, so the kubernetes Service's
  // ClusterIP would lead nowhere (docs/kubernetes.md).
  std::string host = ctx.api_host, port = std::to_string(ctx.api_port);
  std::string tcp = "tcp://" + host + ":" + port;
  env.Set("KUBERNETES_SERVICE_HOST", host);
  env.Set("KUBERNETES_SERVICE_PORT", port);
  env.Set("KUBERNETES_SERVICE_PORT_HTTPS", port);
  env.Set("KUBERNETES_PORT", tcp);
  env.Set("KUBERNETES_PORT_" + port + "_TCP", tcp);
  env.Set("KUBERNETES_PORT_" + port + "_TCP_PROTO", "tcp");
  env.Set("KUBERNETES_PORT_" + port + "_TCP_PORT", port);
  env.Set("KUBERNETES_PORT_" + port + "_TCP_ADDR", host);

  for (const auto& from : Arr(c, "envFrom")) {
    std::string prefix = Str(from, "prefix");
    for (bool secret : {false, true}) {
      const json& ref = At(from, secret ? "secretRef" : "configMapRef");
      if (!ref.is_object()) continue;
      std::string name = Str(ref, "name");
      const auto& objects = secret ? fetched.secrets : fetched.config_maps;
      auto it = objects.find(name);
      if (it == objects.end()) {
        if (Bool(ref, "optional")) continue;
        return absl::NotFoundError(what + ": envFrom " + (secret ? "secret " : "configmap ") +
                                   name + " not found");
      }
      for (const auto& [k, v] : ObjectData(it->second, secret)) env.Set(prefix + k, v);
    }
  }
  for (const auto& e : Arr(c, "env")) {
    std::string name = Str(e, "name");
    if (name.empty()) continue;
    const json& from = At(e, "valueFrom");
    if (!from.is_object()) {
      env.Set(name, ExpandVars(Str(e, "value"), env.vars()));
      continue;
    }
    absl::StatusOr<std::string> v;
    if (const json& f = At(from, "fieldRef"); f.is_object()) {
      v = FieldRef(pod, Str(f, "fieldPath"), ctx);
    } else if (const json& r = At(from, "configMapKeyRef"); r.is_object()) {
      v = KeyOf(r, fetched, false, what + " env " + name);
    } else if (const json& s = At(from, "secretKeyRef"); s.is_object()) {
      v = KeyOf(s, fetched, true, what + " env " + name);
    } else if (const json& rf = At(from, "resourceFieldRef"); rf.is_object()) {
      v = std::string("0");  // no resource accounting here
    } else {
      return absl::InvalidArgumentError(what + " env " + name + ": unsupported valueFrom");
    }
    if (!v.ok()) return v.status();
    env.Set(name, *v);
  }
  out.env = env.List();

  const json& command = At(c, "command");
  if (command.is_array() && !command.empty()) {
    for (const auto& a : command) {
      if (a.is_string()) out.argv.push_back(ExpandVars(a.get<std::string>(), env.vars()));
    }
  } else {
    out.argv.push_back(kImageEntrypoint);
  }
  for (const auto& a : Arr(c, "args")) {
    if (a.is_string()) out.argv.push_back(ExpandVars(a.get<std::string>(), env.vars()));
  }
  if (out.argv.empty()) return absl::InvalidArgumentError(what + ": empty command");
  out.workdir = Str(c, "workingDir");

  for (const auto& m : Arr(c, "volumeMounts")) {
    std::string name = Str(m, "name"), target = Str(m, "mountPath");
    auto it = ctx.volume_paths.find(name);
    if (it == ctx.volume_paths.end()) {
      return absl::InvalidArgumentError(what + ": volumeMount " + name +
                                        ": no such volume (or of a type not supported here)");
    }
    if (target.empty() || target[0] != '/') {
      return absl::InvalidArgumentError(what + ": volumeMount " + name +
                                        ": mountPath must be absolute");
    }
    Mount mount;
    mount.source = it->second;
    if (std::string sub = Str(m, "subPath"); !sub.empty()) {
      if (sub.find("..") != std::string::npos || sub[0] == '/') {
        return absl::InvalidArgumentError(what + ": volumeMount " + name + ": bad subPath");
      }
      mount.source += "/" + sub;
    }
    mount.target = target;
    mount.readonly = Bool(m, "readOnly");
    // configMap, secret, projected and downwardAPI volumes are read-only in Kubernetes.
    for (const auto& v : Arr(spec, "volumes")) {
      if (Str(v, "name") != name) continue;
      for (const char* ro : {"configMap", "secret", "projected", "downwardAPI"}) {
        if (At(v, ro).is_object()) mount.readonly = true;
      }
    }
    out.mounts.push_back(std::move(mount));
  }
  std::stable_sort(out.mounts.begin(), out.mounts.end(), [](const Mount& a, const Mount& b) {
    return std::count(a.target.begin(), a.target.end(), '/') <
           std::count(b.target.begin(), b.target.end(), '/');
  });
  return out;
}

json ContainerToJson(const ContainerLaunch& c) {
  json mounts = json::array();
  for (const auto& m : c.mounts) {
    mounts.push_back({{"source", m.source}, {"target", m.target}, {"readonly", m.readonly}});
  }
  return {{"name", c.name},
          {"argv", c.argv},
          {"env", c.env},
          {"workdir", c.workdir},
          {"mounts", mounts}};
}

ContainerLaunch ContainerFromJson(const json& j) {
  ContainerLaunch c;
  c.name = Str(j, "name");
  for (const auto& a : Arr(j, "argv")) c.argv.push_back(a.get<std::string>());
  for (const auto& e : Arr(j, "env")) c.env.push_back(e.get<std::string>());
  c.workdir = Str(j, "workdir");
  for (const auto& m : Arr(j, "mounts")) {
    c.mounts.push_back({Str(m, "source"), Str(m, "target"), Bool(m, "readonly")});
  }
  return c;
}

}  // namespace

bool IsWeftImage(std::string_view image) {
  if (auto at = image.find('@'); at != std::string_view::npos) image = image.substr(0, at);
  auto slash = image.rfind('/');
  std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
  if (auto colon = last.find(':'); colon != std::string_view::npos) last = last.substr(0, colon);
  return last == "weft";
}

DesiredPod PodFromApi(const json& pod, std::string* error) {
  DesiredPod d;
  const json& meta = At(pod, "metadata");
  const json& spec = At(pod, "spec");
  d.ns = Str(meta, "namespace", "default");
  d.name = Str(meta, "name");
  d.uid = Str(meta, "uid");
  d.node = Str(spec, "nodeName");
  d.host_network = Bool(spec, "hostNetwork");
  d.restart_policy = Str(spec, "restartPolicy", "Always");
  d.service_account = Str(spec, "serviceAccountName", "default");
  d.terminating = At(meta, "deletionTimestamp").is_string();
  const json& grace = At(meta, "deletionGracePeriodSeconds");
  const json& spec_grace = At(spec, "terminationGracePeriodSeconds");
  int64_t g = grace.is_number_integer()        ? grace.get<int64_t>()
              : spec_grace.is_number_integer() ? spec_grace.get<int64_t>()
                                               : 30;
  d.grace_seconds = static_cast<int>(std::clamp<int64_t>(g, 0, kMaxGraceSeconds));
  const json& containers = Arr(spec, "containers");
  std::string run = Str(At(meta, "annotations"), kRunAnnotation);
  if (!run.empty()) {
    d.workload = kWorkloadRun;
    d.run = run;
  } else {
    for (const auto& c : containers) {
      if (IsWeftImage(Str(c, "image"))) {
        d.workload = kWorkloadImage;
        d.container = Str(c, "name");
        d.image = Str(c, "image");
        break;
      }
    }
    if (d.workload.empty()) d.workload = kWorkloadPlaceholder;
  }
  if (d.container.empty() && !containers.empty()) {
    d.container = Str(containers[0], "name");
    d.image = Str(containers[0], "image");
  }
  if (!d.host_network) {
    if (auto ip = Str(At(pod, "status"), "podIP"); ParseIpv4(ip)) d.ip = ip;
  }
  std::string e;
  if (!IsValidObjectName(d.ns)) {
    e = "metadata.namespace: not a valid name here";
  } else if (!IsValidObjectName(d.name)) {
    e = "metadata.name: must be 1-63 characters [a-z0-9.-] in a netns cluster";
  } else if (d.uid.empty()) {
    e = "metadata.uid: missing";
  } else if (d.container.empty()) {
    e = "spec.containers: none";
  }
  if (error) *error = e;
  return d;
}

std::string NodeHostPath(const NodeState& node, std::string_view path_in) {
  if (path_in.empty() || path_in[0] != '/') return std::string(path_in);
  std::string path = std::filesystem::path(std::string(path_in)).lexically_normal().string();
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  std::vector<std::pair<std::string_view, std::string>> roots{{"/sys/fs/bpf", node.bpf_root},
                                                              {"/sys/fs/cgroup", node.cgroup}};
  if (!node.run_dir.empty()) {
    const std::string host = node.run_dir + "/host";
    roots.insert(
        roots.end(),
        {{"/var/run", host + "/run"}, {"/run", host + "/run"}, {"/var/lib", host + "/var/lib"}});
  }
  for (const auto& [root, to] : roots) {
    if (to.empty()) continue;
    if (path == root) return to;
    if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
        path[root.size()] == '/') {
      return to + path.substr(root.size());
    }
  }
  return path;
}

std::string ExpandVars(std::string_view s, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] != '$' || i + 1 == s.size()) {
      out += s[i++];
      continue;
    }
    if (s[i + 1] == '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (s[i + 1] != '(') {
      out += s[i++];
      continue;
    }
    size_t close = s.find(')', i + 2);
    if (close == std::string_view::npos) {
      out += s.substr(i);
      break;
    }
    std::string name(s.substr(i + 2, close - i - 2));
    if (auto it = vars.find(name); it != vars.end()) {
      out += it->second;
    } else {
      out += "$(" + name + ")";
    }
    i = close + 1;
  }
  return out;
}

json ToJson(const LaunchSpec& s) {
  json init = json::array();
  for (const auto& c : s.init) init.push_back(ContainerToJson(c));
  return {{"pod", s.pod},
          {"hostname", s.hostname},
          {"bin_dir", s.bin_dir},
          {"init", init},
          {"main", ContainerToJson(s.main)}};
}

absl::StatusOr<LaunchSpec> LaunchSpecFromJson(const json& j) {
  if (!j.is_object() || !At(j, "main").is_object()) {
    return absl::InvalidArgumentError("not a launch spec");
  }
  try {
    LaunchSpec s;
    s.pod = Str(j, "pod");
    s.hostname = Str(j, "hostname");
    s.bin_dir = Str(j, "bin_dir");
    for (const auto& c : Arr(j, "init")) s.init.push_back(ContainerFromJson(c));
    s.main = ContainerFromJson(At(j, "main"));
    if (s.main.argv.empty()) return absl::InvalidArgumentError("launch spec: empty argv");
    return s;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(std::string("launch spec: ") + e.what());
  }
}

References ReferencedObjects(const json& pod) {
  std::set<std::string> cms, secrets;
  References r;
  auto add = [&](bool secret, const std::string& name, bool optional) {
    if (name.empty()) return;
    (secret ? secrets : cms).insert(name);
    std::string k = (secret ? "secret/" : "configmap/") + name;
    // Optional only when every reference says so.
    auto it = r.optional.find(k);
    r.optional[k] = (it == r.optional.end() ? true : it->second) && optional;
  };
  const json& spec = At(pod, "spec");
  for (const char* list : {"initContainers", "containers"}) {
    for (const auto& c : Arr(spec, list)) {
      for (const auto& from : Arr(c, "envFrom")) {
        if (const json& ref = At(from, "configMapRef"); ref.is_object()) {
          add(false, Str(ref, "name"), Bool(ref, "optional"));
        }
        if (const json& ref = At(from, "secretRef"); ref.is_object()) {
          add(true, Str(ref, "name"), Bool(ref, "optional"));
        }
      }
      for (const auto& e : Arr(c, "env")) {
        const json& from = At(e, "valueFrom");
        if (const json& ref = At(from, "configMapKeyRef"); ref.is_object()) {
          add(false, Str(ref, "name"), Bool(ref, "optional"));
        }
        if (const json& ref = At(from, "secretKeyRef"); ref.is_object()) {
          add(true, Str(ref, "name"), Bool(ref, "optional"));
        }
      }
    }
  }
  for (const auto& v : Arr(spec, "volumes")) {
    if (const json& cm = At(v, "configMap"); cm.is_object()) {
      add(false, Str(cm, "name"), Bool(cm, "optional"));
    }
    if (const json& s = At(v, "secret"); s.is_object()) {
      add(true, Str(s, "secretName"), Bool(s, "optional"));
    }
    for (const auto& src : Arr(At(v, "projected"), "sources")) {
      if (const json& cm = At(src, "configMap"); cm.is_object()) {
        add(false, Str(cm, "name"), Bool(cm, "optional"));
      }
      if (const json& s = At(src, "secret"); s.is_object()) {
        add(true, Str(s, "name"), Bool(s, "optional"));
      }
    }
  }
  r.config_maps.assign(cms.begin(), cms.end());
  r.secrets.assign(secrets.begin(), secrets.end());
  return r;
}

std::map<std::string, std::string> ObjectData(const json& object, bool secret) {
  std::map<std::string, std::string> out;
  auto decode = [&](const json& data, bool base64) {
    if (!data.is_object()) return;
    for (auto it = data.begin(); it != data.end(); ++it) {
      if (!it.value().is_string()) continue;
      std::string v = it.value().get<std::string>();
      if (base64) {
        std::string raw;
        if (!absl::Base64Unescape(v, &raw)) continue;
        v = std::move(raw);
      }
      out[it.key()] = std::move(v);
    }
  };
  if (secret) {
    decode(At(object, "data"), true);
    decode(At(object, "stringData"), false);
  } else {
    decode(At(object, "data"), false);
    decode(At(object, "binaryData"), true);
  }
  return out;
}

absl::StatusOr<std::string> FieldRef(const json& pod, std::string_view path,
                                     const LaunchContext& ctx) {
  const json& meta = At(pod, "metadata");
  const json& spec = At(pod, "spec");
  if (path == "metadata.name") return Str(meta, "name");
  if (path == "metadata.namespace") return Str(meta, "namespace", "default");
  if (path == "metadata.uid") return Str(meta, "uid");
  if (path == "metadata.labels") return LabelLines(At(meta, "labels"));
  if (path == "metadata.annotations") return LabelLines(At(meta, "annotations"));
  for (const char* which : {"labels", "annotations"}) {
    std::string prefix = std::string("metadata.") + which + "['";
    if (path.starts_with(prefix) && path.ends_with("']")) {
      std::string key(path.substr(prefix.size(), path.size() - prefix.size() - 2));
      return Str(At(meta, which), key);
    }
  }
  if (path == "spec.nodeName") return ctx.node;
  if (path == "spec.serviceAccountName") return Str(spec, "serviceAccountName", "default");
  if (path == "status.podIP" || path == "status.podIPs") return ctx.pod_ip;
  if (path == "status.hostIP" || path == "status.hostIPs") return ctx.host_ip;
  return absl::InvalidArgumentError("fieldRef " + std::string(path) + " is not supported");
}

absl::StatusOr<LaunchSpec> BuildLaunchSpec(const json& pod, const LaunchContext& ctx,
                                           const Fetched& fetched) {
  const json& meta = At(pod, "metadata");
  const json& spec = At(pod, "spec");
  LaunchSpec s;
  s.pod = Str(meta, "namespace", "default") + "/" + Str(meta, "name");
  s.hostname = Bool(spec, "hostNetwork") ? ctx.node : Str(meta, "name").substr(0, 63);
  s.bin_dir = ctx.bin_dir;
  for (const auto& c : Arr(spec, "initContainers")) {
    if (!IsWeftImage(Str(c, "image"))) continue;  // nothing here could run another image
    auto launch = Container(pod, c, ctx, fetched);
    if (!launch.ok()) return launch.status();
    s.init.push_back(std::move(*launch));
  }
  for (const auto& c : Arr(spec, "containers")) {
    if (!IsWeftImage(Str(c, "image"))) continue;
    auto launch = Container(pod, c, ctx, fetched);
    if (!launch.ok()) return launch.status();
    s.main = std::move(*launch);
    return s;
  }
  return absl::InvalidArgumentError("no container of weft's image");
}

std::optional<Probe> ReadinessProbe(const json& pod, const std::string& container) {
  for (const auto& c : Arr(At(pod, "spec"), "containers")) {
    if (Str(c, "name") != container) continue;
    const json& rp = At(c, "readinessProbe");
    if (!rp.is_object()) return std::nullopt;
    Probe p;
    auto port_of = [&](const json& port) -> int {
      if (port.is_number_integer()) return port.get<int>();
      if (!port.is_string()) return 0;
      std::string name = port.get<std::string>();
      for (const auto& cp : Arr(c, "ports")) {
        if (Str(cp, "name") == name && At(cp, "containerPort").is_number_integer()) {
          return At(cp, "containerPort").get<int>();
        }
      }
      try {
        return std::stoi(name);
      } catch (...) {
        return 0;
      }
    };
    if (const json& h = At(rp, "httpGet"); h.is_object()) {
      p.http = Str(h, "scheme", "HTTP") == "HTTP";
      p.host = Str(h, "host");
      p.port = port_of(At(h, "port"));
      p.path = Str(h, "path", "/");
      if (p.path.empty() || p.path[0] != '/') p.path = "/" + p.path;
      for (const auto& hd : Arr(h, "httpHeaders"))
        p.headers.emplace_back(Str(hd, "name"), Str(hd, "value"));
    } else if (const json& t = At(rp, "tcpSocket"); t.is_object()) {
      p.host = Str(t, "host");
      p.port = port_of(At(t, "port"));
    } else if (const json& g = At(rp, "grpc"); g.is_object()) {
      p.port = port_of(At(g, "port"));
    } else {
      return std::nullopt;  // exec: not run here
    }
    if (p.port <= 0 || p.port > 65535) return std::nullopt;
    auto num = [&](const char* k, int def, int min) {
      const json& v = At(rp, k);
      return std::max(min, v.is_number_integer() ? v.get<int>() : def);
    };
    p.initial_delay_seconds = num("initialDelaySeconds", 0, 0);
    p.period_seconds = num("periodSeconds", 10, 1);
    p.timeout_seconds = num("timeoutSeconds", 1, 1);
    p.success_threshold = num("successThreshold", 1, 1);
    p.failure_threshold = num("failureThreshold", 3, 1);
    return p;
  }
  return std::nullopt;
}

json PodStatusPatch(const json& pod, const PodState& p, const std::string& host_ip) {
  const ProcessState& ps = p.process;
  const std::string created = Rfc3339(p.created_at_ms);
  std::string cid = "weft://" + std::to_string(ps.pid);
  int code = ExitCode(ps.last_exit);
  json state, last_state = json::object();
  bool ready = false, started = false;
  std::string phase = ps.started_at_ms > 0 ? "Running" : "Pending";
  auto terminated = [&]() {
    return json{{"terminated",
                 {{"exitCode", code},
                  {"reason", code == 0 ? "Completed" : "Error"},
                  {"startedAt", Rfc3339(ps.started_at_ms)},
                  {"finishedAt", Rfc3339(ps.finished_at_ms)}}}};
  };
  if (ps.state == "running") {
    state = {{"running", {{"startedAt", Rfc3339(ps.started_at_ms)}}}};
    started = true;
    ready = !p.probed || p.probe_ready;  // Ready once it runs, or once its readinessProbe passes
  } else if (ps.state == "succeeded" || ps.state == "failed") {
    state = terminated();
    phase = ps.state == "succeeded" ? "Succeeded" : "Failed";
  } else if (ps.state == "backoff" && ps.started_at_ms > 0) {
    state = {{"waiting",
              {{"reason", "CrashLoopBackOff"},
               {"message", "back-off restarting the container (last: " + ps.last_exit + ")"}}}};
  } else if (ps.state == "backoff") {
    state = {{"waiting", {{"reason", "CreateContainerError"}, {"message", ps.last_exit}}}};
  } else {
    state = {{"waiting", {{"reason", "ContainerCreating"}}}};
  }
  if (ps.restarts > 0 && ps.finished_at_ms > 0 && !state.contains("terminated")) {
    last_state = terminated();
  }
  json statuses = json::array();
  for (const auto& c : Arr(At(pod, "spec"), "containers")) {
    json s{{"name", Str(c, "name")}, {"image", Str(c, "image")}, {"imageID", Str(c, "image")},
           {"ready", ready},         {"started", started},       {"restartCount", ps.restarts},
           {"state", state},         {"lastState", last_state}};
    if (ps.pid > 0 && started) s["containerID"] = cid;
    statuses.push_back(std::move(s));
  }
  json init_statuses = json::array();
  bool initialized = ps.started_at_ms > 0 || ps.state == "running";
  for (const auto& c : Arr(At(pod, "spec"), "initContainers")) {
    json st = initialized ? json{{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}
                          : json{{"waiting", {{"reason", "PodInitializing"}}}};
    init_statuses.push_back({{"name", Str(c, "name")},
                             {"image", Str(c, "image")},
                             {"imageID", Str(c, "image")},
                             {"ready", initialized},
                             {"restartCount", 0},
                             {"state", st}});
  }
  std::string ready_since;
  if (p.probed && p.ready_changed_ms > 0) {
    ready_since = Rfc3339(p.ready_changed_ms);  // the probe's verdict changed then
  } else if (ready) {
    ready_since = Rfc3339(ps.started_at_ms);
  } else {
    ready_since = ps.finished_at_ms > 0 ? Rfc3339(ps.finished_at_ms) : created;
  }
  auto cond = [&](const char* type, bool status, const std::string& since) {
    return json{{"type", type},
                {"status", status ? "True" : "False"},
                {"lastProbeTime", nullptr},
                {"lastTransitionTime", since}};
  };
  json conditions = json::array(
      {cond("PodReadyToStartContainers", true, created), cond("Initialized", true, created),
       cond("Ready", ready, ready_since), cond("ContainersReady", ready, ready_since),
       cond("PodScheduled", true, created)});
  json status{{"phase", phase},       {"conditions", conditions},
              {"hostIP", host_ip},    {"hostIPs", json::array({{{"ip", host_ip}}})},
              {"podIP", p.ip},        {"podIPs", json::array({{{"ip", p.ip}}})},
              {"startTime", created}, {"containerStatuses", statuses}};
  if (!init_statuses.empty()) status["initContainerStatuses"] = init_statuses;
  return {{"metadata", {{"uid", p.uid}}}, {"status", status}};
}

namespace {

const char* Arch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__aarch64__)
  return "arm64";
#else
  return "unknown";
#endif
}

}  // namespace

json NodeObject(const NodeState& n) {
  json labels{{"kubernetes.io/hostname", n.name},
              {"kubernetes.io/os", "linux"},
              {"kubernetes.io/arch", Arch()},
              {"beta.kubernetes.io/os", "linux"},
              {"beta.kubernetes.io/arch", Arch()}};
  for (const auto& [k, v] : n.labels) labels[k] = v;
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", n.name}, {"labels", labels}}},
          {"spec", {{"podCIDR", n.pod_cidr}, {"podCIDRs", json::array({n.pod_cidr})}}}};
}

json NodeStatusPatch(const NodeState& n, int cpus, uint64_t memory_kib, const std::string& since,
                     const std::string& now) {
  auto cond = [&](const char* type, bool status, const char* reason, const char* message) {
    return json{{"type", type},
                {"status", status ? "True" : "False"},
                {"reason", reason},
                {"message", message},
                {"lastHeartbeatTime", now},
                {"lastTransitionTime", since}};
  };
  json resources{{"cpu", std::to_string(cpus)},
                 {"memory", std::to_string(memory_kib) + "Ki"},
                 {"pods", std::to_string(kMaxPods)}};
  return {{"status",
           {{"conditions",
             json::array({cond("MemoryPressure", false, "KubeletHasSufficientMemory",
                               "kubelet has sufficient memory available"),
                          cond("DiskPressure", false, "KubeletHasNoDiskPressure",
                               "kubelet has no disk pressure"),
                          cond("PIDPressure", false, "KubeletHasSufficientPID",
                               "kubelet has sufficient PID available"),
                          cond("Ready", true, "KubeletReady",
                               "the node stand-in of tools/cluster is posting ready status")})},
            {"capacity", resources},
            {"allocatable", resources},
            {"addresses", json::array({{{"type", "InternalIP"}, {"address", n.underlay_ip}},
                                       {{"type", "Hostname"}, {"address", n.name}}})},
            {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", 10250}}}}},
            {"nodeInfo",
             {{"machineID", ""},
              {"systemUUID", ""},
              {"bootID", ""},
              {"kernelVersion", ""},
              {"osImage", "weft netns node (tools/cluster)"},
              {"containerRuntimeVersion", "weft-cluster://0.1.0"},
              {"kubeletVersion", kKubeletVersion},
              {"kubeProxyVersion", ""},
              {"operatingSystem", "linux"},
              {"architecture", Arch()}}}}}};
}

json NodeLease(const std::string& node, const std::string& node_uid, const std::string& now_micro) {
  json meta{{"name", node}, {"namespace", "kube-node-lease"}};
  if (!node_uid.empty()) {
    meta["ownerReferences"] =
        json::array({{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}, {"uid", node_uid}}});
  }
  return {{"apiVersion", "coordination.k8s.io/v1"},
          {"kind", "Lease"},
          {"metadata", meta},
          {"spec",
           {{"holderIdentity", node},
            {"leaseDurationSeconds", kLeaseDurationSeconds},
            {"renewTime", now_micro}}}};
}

std::string Rfc3339(int64_t wall_ms) {
  time_t t = static_cast<time_t>(wall_ms / 1000);
  tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string Rfc3339Micro(int64_t wall_us) {
  time_t t = static_cast<time_t>(wall_us / 1000000);
  tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%06lldZ", static_cast<long long>(wall_us % 1000000));
  return buf;
}

}  // namespace weft::cluster::k8s
