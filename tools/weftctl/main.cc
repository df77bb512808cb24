// weftctl: the command line of weft. `analyze` and `compile` run the policy compiler offline,
// on the same Kubernetes/Istio/Gateway API YAML users `kubectl apply`, like `istioctl analyze`;
// `waypoint generate|apply|delete|list` write, create and list waypoints, like `istioctl
// waypoint`; `ca init` makes the CA root of a Kubernetes install.

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <optional>
#include <thread>
#include <tuple>

#include "core/policy/compiler.h"
#include "core/source/files.h"
#include "tools/weftctl/analyze.h"
#include "tools/weftctl/ca.h"
#include "tools/weftctl/explain.h"
#include "tools/weftctl/kube_access.h"
#include "tools/weftctl/node.h"
#include "tools/weftctl/render.h"
#include "tools/weftctl/validate.h"
#include "tools/weftctl/waypoint.h"
#include "tools/weftctl/waypoint_admin.h"
#include "tools/weftctl/waypoint_apply.h"
#include "tools/weftctl/waypoint_pods.h"

namespace {

using weft::policy::Severity;
using weft::weftctl::Locate;
namespace pb = ::weft::config::v1;

struct CommonOptions {
  std::vector<std::string> files;
  std::string color = "auto";
  std::string default_namespace = "default";
  weft::policy::CompileOptions compile;
  std::string threshold = "note";
};

void AddCommon(CLI::App* cmd, CommonOptions& o) {
  cmd->add_option("-f,--filename", o.files,
                  "Files or directories (recursive: *.yaml, *.yml, *.json) to read; - for stdin")
      ->required();
  cmd->add_option("-n,--namespace", o.default_namespace, "Namespace for resources that name none")
      ->capture_default_str();
  cmd->add_option("--trust-domain", o.compile.trust_domain, "SPIFFE trust domain")
      ->capture_default_str();
  cmd->add_option("--cluster-domain", o.compile.cluster_domain, "Cluster DNS domain")
      ->capture_default_str();
  cmd->add_option("--root-namespace", o.compile.root_namespace,
                  "Namespace whose policies apply mesh-wide")
      ->capture_default_str();
  cmd->add_option("--color", o.color, "Colour diagnostics: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
  cmd->add_option("--output-threshold", o.threshold,
                  "Lowest severity printed: note, warning or error")
      ->check(CLI::IsMember({"note", "warning", "error"}))
      ->capture_default_str();
}

Severity Threshold(const std::string& s) {
  return s == "error" ? Severity::kError : s == "warning" ? Severity::kWarning : Severity::kNote;
}

Severity FromProto(pb::Diagnostic::Severity s) {
  return s == pb::Diagnostic::ERROR     ? Severity::kError
         : s == pb::Diagnostic::WARNING ? Severity::kWarning
                                        : Severity::kNote;
}

struct Compiled {
  pb::MeshSnapshot snapshot;
  size_t files = 0;
  int errors = 0;
  int warnings = 0;
  int notes = 0;
};

void Count(Compiled& c) {
  c.errors = c.warnings = c.notes = 0;
  for (const auto& d : c.snapshot.diagnostics()) {
    c.errors += d.severity() == pb::Diagnostic::ERROR;
    c.warnings += d.severity() == pb::Diagnostic::WARNING;
    c.notes += d.severity() == pb::Diagnostic::NOTE;
  }
}

Compiled Run(const CommonOptions& o) {
  weft::policy::DecodeOptions decode;
  decode.default_namespace = o.default_namespace;
  decode.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  weft::source::LoadedFiles loaded = weft::source::LoadPaths(o.files, decode);
  Compiled out;
  out.files = loaded.files.size();
  auto result = weft::policy::CompileDocuments(std::move(loaded.documents), o.compile);
  out.snapshot = std::move(result.snapshot);
  // Unreadable paths come first: nothing else about them is known.
  google::protobuf::RepeatedPtrField<pb::Diagnostic> all;
  for (const auto& e : loaded.io_errors) {
    pb::Diagnostic d;
    d.set_severity(pb::Diagnostic::ERROR);
    d.set_code(e.code);
    d.set_message(e.message);
    d.mutable_source()->set_file(e.resource.file);
    *all.Add() = std::move(d);
  }
  for (auto& d : *out.snapshot.mutable_diagnostics()) *all.Add() = d;
  *out.snapshot.mutable_diagnostics() = std::move(all);
  Count(out);
  return out;
}

bool UseColor(const std::string& mode, int fd) {
  if (mode == "always") return true;
  if (mode == "never") return false;
  const char* no_color = std::getenv("NO_COLOR");
  return isatty(fd) && !(no_color && *no_color);
}

void PrintDiagnostics(const Compiled& c, const CommonOptions& o, std::ostream& out, int fd,
                      Locate locate = Locate::kFile) {
  bool color = UseColor(o.color, fd);
  Severity threshold = Threshold(o.threshold);
  for (const auto& d : c.snapshot.diagnostics()) {
    if (FromProto(d.severity()) > threshold) continue;
    out << weft::policy::FormatDiagnostic(weft::weftctl::ForDisplay(d, locate), color) << "\n";
  }
}

std::string Plural(int n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

struct AnalyzeOptions {
  bool cluster = false;
  std::string kubeconfig;
  size_t chunk_size = 500;
  bool chunk_size_set = false;
  bool namespace_set = false;
  std::string format = "text";
};

int Analyze(const CommonOptions& o, const AnalyzeOptions& a) {
  auto fail = [](const std::string& msg, int code) {
    std::cerr << "weftctl: " << msg << "\n";
    return code;
  };
  if (a.cluster && !o.files.empty()) return fail("-f and --cluster exclude each other", 2);
  if (!a.cluster && o.files.empty()) {
    return fail("analyze reads files (-f PATH...) or a cluster (--cluster)", 2);
  }
  if (!a.cluster && !a.kubeconfig.empty()) return fail("--kubeconfig goes with --cluster", 2);
  if (!a.cluster && a.chunk_size_set) return fail("--chunk-size goes with --cluster", 2);
  if (a.cluster && a.namespace_set && !weft::weftctl::IsDnsLabel(o.default_namespace)) {
    return fail(
        "invalid namespace \"" + o.default_namespace + "\": lowercase letters, digits and '-'", 2);
  }

  Compiled c;
  std::string scope;  // "3 files", "12 objects in the cluster"
  Locate locate = Locate::kFile;
  if (a.cluster) {
    auto config = weft::weftctl::LoadKubeConfig(a.kubeconfig);
    if (!config.ok()) return fail(std::string(config.status().message()), 1);
    auto client = weft::kube::Client::Create(*config);
    if (!client.ok()) return fail(std::string(client.status().message()), 1);
    weft::weftctl::ClusterAnalyzeOptions co;
    co.ns = a.namespace_set ? o.default_namespace : "";
    co.compile = o.compile;
    co.chunk_size = a.chunk_size;
    auto analysis = weft::weftctl::AnalyzeCluster(**client, co);
    if (!analysis.ok()) return fail(std::string(analysis.status().message()), 1);
    c.snapshot = std::move(analysis->snapshot);
    c.files = analysis->objects;
    Count(c);
    scope =
        Plural(c.files, "object") + (co.ns.empty() ? " in the cluster" : " in namespace " + co.ns);
    locate = Locate::kObject;
  } else {
    c = Run(o);
    scope = Plural(c.files, "file");
  }

  if (a.format == "json") {
    auto j = weft::weftctl::AnalyzeJson(c.snapshot, Threshold(o.threshold), locate);
    if (a.cluster) {
      j["objects"] = c.files;
      if (a.namespace_set) j["namespace"] = o.default_namespace;
    } else {
      j["files"] = c.files;
    }
    std::cout << j.dump(2) << "\n";
    return c.errors == 0 ? 0 : 1;
  }
  PrintDiagnostics(c, o, std::cout, STDOUT_FILENO, locate);
  if (c.errors == 0 && c.warnings == 0) {
    std::cout << "\u2714 No validation issues found when analyzing " << scope << ".\n";
  } else {
    std::cout << Plural(c.errors, "error") << ", " << Plural(c.warnings, "warning") << " in "
              << scope << ".";
    if (c.snapshot.excluded_size()) {
      std::cout << " Left out: " << c.snapshot.excluded_size() << " resource(s).";
    }
    std::cout << "\n";
  }
  return c.errors == 0 ? 0 : 1;
}

int CompileCmd(const CommonOptions& o, const std::string& format) {
  Compiled c = Run(o);
  PrintDiagnostics(c, o, std::cerr, STDERR_FILENO);
  if (format == "json") {
    std::cout << weft::weftctl::RenderJson(c.snapshot);
  } else if (format == "yaml") {
    std::cout << weft::weftctl::RenderYaml(c.snapshot);
  } else {
    std::cout << weft::weftctl::RenderText(c.snapshot);
  }
  return c.errors == 0 ? 0 : 1;
}

// Without -f, or with --cluster: the directory of a tools/cluster cluster, with its waypoint
// pods' state (waypoint_pods.h).
int WaypointList(CommonOptions o, const std::string& format, const std::string& cluster) {
  std::optional<weft::weftctl::LocalCluster> local;
  if (o.files.empty() || !cluster.empty()) {
    auto lc = weft::weftctl::ReadLocalCluster(weft::weftctl::ClusterStatePath(cluster));
    if (!lc.ok()) {
      std::cerr << "weftctl: " << lc.status().message() << "\n";
      return 2;
    }
    local = std::move(*lc);
    if (o.files.empty()) o.files = {local->dir};
  }
  Compiled c = Run(o);
  PrintDiagnostics(c, o, std::cerr, STDERR_FILENO);
  if (format == "json") {
    std::string out = weft::weftctl::RenderWaypointsJson(c.snapshot);
    std::cout << (local ? weft::weftctl::AddWaypointPodsJson(out, *local) : out);
  } else {
    std::cout << weft::weftctl::RenderWaypointsText(c.snapshot);
    if (local) std::cout << weft::weftctl::RenderWaypointPodsText(c.snapshot, *local);
  }
  return c.errors == 0 ? 0 : 1;
}

struct GenerateOptions {
  std::string ns;
  std::string name = "waypoint";
  std::string node;
};

int WaypointGenerate(const GenerateOptions& o) {
  using weft::weftctl::IsDnsLabel;
  using weft::weftctl::IsDnsSubdomain;
  for (const auto& [what, value, ok] :
       {std::tuple{"namespace", o.ns, IsDnsLabel(o.ns)},
        std::tuple{"name", o.name, IsDnsSubdomain(o.name)},
        std::tuple{"node", o.node, o.node.empty() || IsDnsSubdomain(o.node)}}) {
    if (!ok) {
      std::cerr << "weftctl: invalid " << what << " \"" << value
                << "\": lowercase letters, digits, '-' (and '.' in names)\n";
      return 2;
    }
  }
  std::cout << weft::weftctl::GenerateWaypointYaml(o.ns, o.name, o.node);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"weftctl: inspect and check weft, the eBPF-accelerated sidecarless service mesh"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("weftctl 0.1.0 (snapshot schema weft.config.v1)"));

  weft::weftctl::ValidateOptions validate_opts;
  std::string validate_color = "auto";
  CLI::App* validate = app.add_subcommand(
      "validate",
      "Check each document on its own, as `istioctl validate -f` and `kubectl apply "
      "--dry-run=server` do: schema, values, rules between fields of one resource (what "
      "depends on other resources is analyze's). Exit status 0 when all are valid, 1 otherwise, "
      "2 when a path cannot be read.");
  validate
      ->add_option("-f,--filename", validate_opts.files,
                   "Files or directories (recursive: *.yaml, *.yml, *.json) to read; - for stdin")
      ->required();
  validate
      ->add_option("-n,--namespace", validate_opts.default_namespace,
                   "Namespace for resources that name none")
      ->capture_default_str();
  validate
      ->add_option("-o,--output", validate_opts.format,
                   "Output format: text, json, or jsonl (one verdict per document per line)")
      ->check(CLI::IsMember({"text", "json", "jsonl"}))
      ->capture_default_str();
  validate
      ->add_option("--color", validate_color,
                   "Colour diagnostics: auto (on a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();

  weft::weftctl::ExplainOptions explain_opts;
  CLI::App* explain = app.add_subcommand(
      "explain",
      "Why the mesh does what it does: what a resource (KIND/[NAMESPACE/]NAME) produced (routes, "
      "clusters, authorization rules, BPF map entries and on which nodes) or why nothing; or, "
      "for traffic --to HOST[:PORT] or a --pod, which resources decide it, in the order they "
      "apply, with file:line. Exit status 0 when the subject was found, 1 when not, 2 for bad "
      "input.");
  // One path per -f (repeat it): a positional resource follows.
  explain
      ->add_option("-f,--filename", explain_opts.files,
                   "A file or directory (recursive: *.yaml, *.yml, *.json) to read, - for stdin; "
                   "repeat -f for several")
      ->required()
      ->allow_extra_args(false);
  explain->add_option("resource", explain_opts.resource, "KIND/NAMESPACE/NAME or KIND/NAME");
  explain->add_option("--to", explain_opts.to,
                      "A destination: HOST[:PORT] (a short name is in -n's namespace) or IP:PORT");
  explain->add_option("--pod", explain_opts.pod, "A pod: NAMESPACE/NAME");
  explain
      ->add_option("-n,--namespace", explain_opts.default_namespace,
                   "Namespace for resources and short names that name none")
      ->capture_default_str();
  explain->add_option("-o,--output", explain_opts.format, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  CommonOptions analyze_opts;
  CLI::App* analyze = app.add_subcommand(
      "analyze",
      "Check Kubernetes, Istio and Gateway API YAML offline (-f), or what a live cluster holds "
      "(--cluster). Exit status 0 when there are no errors, 1 otherwise (or when the cluster "
      "cannot be read), 2 for bad input.");
  AddCommon(analyze, analyze_opts);
  AnalyzeOptions analyze_more;
  analyze->get_option("--filename")
      ->required(false)
      ->description("Files or directories (recursive: *.yaml, *.yml, *.json) to read; - for stdin");
  analyze->get_option("--namespace")
      ->description(
          "Files: namespace for resources that name none. --cluster: report only this "
          "namespace's objects (default: every namespace)");
  analyze->add_flag("--cluster", analyze_more.cluster,
                    "Read the live cluster instead of files: every kind weft reads, as "
                    "weft-agent --kubernetes reads it; diagnostics name Kind/namespace/name");
  analyze->add_option("--kubeconfig", analyze_more.kubeconfig,
                      "With --cluster: the kubeconfig (default: $KUBECONFIG, ~/.kube/config, "
                      "else the in-cluster config)");
  CLI::Option* chunk_size =
      analyze
          ->add_option("--chunk-size", analyze_more.chunk_size,
                       "With --cluster: objects per list request (limit/continue)")
          ->check(CLI::Range(1, 100000))
          ->capture_default_str();
  analyze->add_option("-o,--output", analyze_more.format, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  analyze->callback([&analyze_more, analyze, chunk_size] {
    analyze_more.chunk_size_set = chunk_size->count() > 0;
    analyze_more.namespace_set = analyze->get_option("--namespace")->count() > 0;
  });

  CommonOptions compile_opts;
  std::string format = "text";
  CLI::App* compile = app.add_subcommand(
      "compile",
      "Compile YAML into the MeshSnapshot the agent and waypoints consume. Diagnostics go to "
      "stderr; exit status 1 when there are errors (the snapshot leaves those resources out).");
  AddCommon(compile, compile_opts);
  compile->add_option("-o,--output", format, "Output format: json (protobuf JSON), yaml or text")
      ->check(CLI::IsMember({"json", "yaml", "text"}))
      ->capture_default_str();

  CLI::App* waypoint = app.add_subcommand(
      "waypoint",
      "Waypoints: generate the Gateway that declares one, apply or delete it in a cluster, list "
      "those of a config, show a running one's clusters and counters");
  waypoint->require_subcommand(1);
  GenerateOptions generate_opts;
  CLI::App* generate = waypoint->add_subcommand(
      "generate",
      "Print the Gateway (class weft-waypoint) that declares a waypoint, for kubectl apply or "
      "the watched directory");
  generate->add_option("-n,--namespace", generate_opts.ns, "Namespace of the waypoint")->required();
  generate->add_option("--name", generate_opts.name, "Name of the waypoint (its Gateway)")
      ->capture_default_str();
  generate->add_option("--node", generate_opts.node,
                       "Local mode: the node that runs it (annotation weft.dev/node)");
  CommonOptions list_opts;
  std::string list_format = "text";
  CLI::App* list = waypoint->add_subcommand(
      "list",
      "Compile YAML and list its waypoints: class, node, pod addresses, identity, the Services "
      "bound to each. Diagnostics go to stderr; exit status 1 when there are errors.");
  AddCommon(list, list_opts);
  list->get_option("--filename")
      ->required(false)
      ->description("Files or directories to read (default: the directory of the local cluster)");
  std::string list_cluster;
  list->add_option("--cluster", list_cluster,
                   "Local mode: the tools/cluster cluster (a name, or \"default\") whose "
                   "directory to read (unless -f) and whose waypoint pods to show; without -f, "
                   "$WEFT_CLUSTER or the default cluster");
  list->add_option("-o,--output", list_format, "Output format: text (a table) or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();

  weft::weftctl::WaypointApplyOptions waypoint_apply_opts;
  weft::weftctl::WaypointDeleteOptions waypoint_delete_opts;
  std::string waypoint_apply_cmd;
  weft::weftctl::AddWaypointApplyCommands(*waypoint, waypoint_apply_opts, waypoint_delete_opts,
                                          waypoint_apply_cmd);

  weft::weftctl::WaypointAdminOptions waypoint_admin_opts;
  std::string waypoint_admin_cmd;
  weft::weftctl::AddWaypointAdminCommands(*waypoint, waypoint_admin_opts, waypoint_admin_cmd);

  weft::weftctl::NodeOptions node_opts;
  std::string node_cmd;
  weft::weftctl::AddNodeCommands(app, node_opts, node_cmd);

  weft::weftctl::CaInitOptions ca_init_opts;
  bool ca_init = false;
  weft::weftctl::AddCaCommands(app, ca_init_opts, ca_init);

  // A command line weftctl cannot parse is bad input: exit status 2, as for bad values.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (ca_init) return weft::weftctl::RunCaInit(ca_init_opts);
  if (!node_cmd.empty()) return weft::weftctl::RunNodeCommand(node_opts, node_cmd);
  if (waypoint_apply_cmd == "apply") return weft::weftctl::RunWaypointApply(waypoint_apply_opts);
  if (waypoint_apply_cmd == "delete") {
    return weft::weftctl::RunWaypointDelete(waypoint_delete_opts);
  }
  if (!waypoint_admin_cmd.empty()) {
    return weft::weftctl::RunWaypointAdminCommand(waypoint_admin_opts, waypoint_admin_cmd);
  }
  if (explain->parsed()) return weft::weftctl::RunExplain(explain_opts, std::cout, std::cerr);
  if (validate->parsed()) {
    validate_opts.color = UseColor(validate_color, STDOUT_FILENO);
    return weft::weftctl::RunValidate(validate_opts, std::cout, std::cerr);
  }
  if (analyze->parsed()) return Analyze(analyze_opts, analyze_more);
  if (compile->parsed()) return CompileCmd(compile_opts, format);
  if (generate->parsed()) return WaypointGenerate(generate_opts);
  if (list->parsed()) return WaypointList(list_opts, list_format, list_cluster);
  return 2;
}
