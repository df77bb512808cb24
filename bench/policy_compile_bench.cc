// Policy compiler benchmarks (issue 2, item 8): a generated mesh of 10,000 Services, 100,000
// endpoints and Pods, 1,000 each of VirtualServices, DestinationRules and
// AuthorizationPolicies, compiled from YAML text.
//
//   build/bin/weft-bench-compile --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Goals: end to end (parse + decode + compile + snapshot) <= 1 s; one EndpointSlice changed
// (decode its text + Apply + Snapshot) <= 10 ms. The split benchmarks (parse, decode,
// compile) show where the end-to-end time goes. docs/performance.md records the figures.
//
// Extra flags (before the Google Benchmark ones):
//   --weft_scale=F        scale the mesh by F (e.g. 0.05 to profile under valgrind)
//   --weft_threads=N      decode threads (default: std::thread::hardware_concurrency())
//   --weft_dump_mesh=PATH write the generated mesh to PATH and exit (for weftctl, profilers)

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/mesh_generator.h"
#include "core/policy/compiler.h"
#include "core/policy/decode/decode.h"
#include "core/yaml/document.h"

namespace weft::bench {
namespace {

using policy::Compiler;
using policy::DecodedDocument;
using policy::DecodeOptions;

double g_scale = 1.0;
int g_threads = 0;

int Threads() {
  if (g_threads > 0) return g_threads;
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

struct Mesh {
  MeshGenerator generator;
  std::string text;
  MeshCounts counts;
  explicit Mesh(const MeshSpec& spec) : generator(spec) { text = generator.Generate(&counts); }
};

const Mesh& TheMesh() {
  static const Mesh* mesh = new Mesh(MeshSpec{}.Scaled(g_scale));
  return *mesh;
}

void AddCounters(benchmark::State& state, const Mesh& m) {
  state.counters["input_MB"] = static_cast<double>(m.text.size()) / 1e6;
  state.counters["documents"] = m.counts.documents();
  state.counters["services"] = m.counts.services;
  state.counters["endpoints"] = m.counts.endpoints;
  state.counters["pods"] = m.counts.pods;
  state.counters["virtual_services"] = m.counts.virtual_services;
  state.counters["destination_rules"] = m.counts.destination_rules;
  state.counters["authz_policies"] = m.counts.authorization_policies;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(m.text.size()));
}

// What an input handler does with decoded documents: resources to Apply(), the rest to the
// input report. (The one-shot CompileDocuments() also rejects duplicates; the generated mesh
// has none.)
void Load(Compiler& compiler, std::vector<DecodedDocument> docs, const std::string& origin) {
  std::vector<policy::Resource> resources;
  std::vector<policy::Diagnostic> diagnostics;
  std::vector<policy::ResourceRef> rejected;
  resources.reserve(docs.size());
  for (auto& d : docs) {
    for (auto& diag : d.diagnostics) diagnostics.push_back(std::move(diag));
    if (d.rejected) rejected.push_back(d.ref);
    if (d.resource) resources.push_back(std::move(*d.resource));
  }
  compiler.SetInputReport(origin, std::move(diagnostics), std::move(rejected));
  compiler.Apply(std::move(resources));
}

policy::CompileOptions CompileOn(int threads) {
  policy::CompileOptions options;
  options.threads = threads;
  return options;
}

std::vector<DecodedDocument> Decode(std::string_view text, int threads) {
  DecodeOptions options;
  options.threads = threads;
  return policy::DecodeText(text, "mesh.yaml", options);
}

// Stops the run when the generated mesh does not compile cleanly: a benchmark of a mesh full
// of errors would measure the error paths.
void CheckClean(const google::protobuf::RepeatedPtrField<config::v1::Diagnostic>& diags) {
  if (diags.empty()) return;
  std::cerr << "generated mesh has " << diags.size()
            << " diagnostics, e.g.: " << diags[0].ShortDebugString() << "\n";
  std::abort();
}

// (a) End to end: YAML text -> snapshot, as `weftctl compile` or the agent's first sync.
void BM_EndToEnd(benchmark::State& state) {
  const Mesh& m = TheMesh();
  int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto compiler = std::make_unique<Compiler>(CompileOn(threads));
    Load(*compiler, Decode(m.text, threads), "mesh.yaml");
    const auto& snap = compiler->Snapshot();
    benchmark::DoNotOptimize(snap.content_hash().data());
    state.PauseTiming();
    CheckClean(snap.diagnostics());
    compiler.reset();  // freeing the mesh is not part of compiling it
    state.ResumeTiming();
  }
  AddCounters(state, m);
  state.counters["threads"] = threads;
}

// The one-shot API that `weftctl compile` uses (returns the snapshot by value).
void BM_CompileDocuments(benchmark::State& state) {
  const Mesh& m = TheMesh();
  for (auto _ : state) {
    auto result = std::make_unique<policy::CompileResult>(
        policy::CompileDocuments(Decode(m.text, Threads()), CompileOn(Threads())));
    benchmark::DoNotOptimize(result->snapshot.content_hash().data());
    state.PauseTiming();
    if (result->has_errors) std::abort();
    result.reset();
    state.ResumeTiming();
  }
  AddCounters(state, m);
}

// Parse only: split the stream and build every document's YAML tree (no decoding).
// `libyaml` parses with libyaml alone (the reference for the fast block-style path).
template <bool libyaml>
void BM_ParseYaml(benchmark::State& state) {
  const Mesh& m = TheMesh();
  int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::vector<yaml::Section> sections = yaml::SplitStream(m.text);
    std::vector<size_t> nodes(threads, 0);
    auto work = [&](int t, size_t b, size_t e) {
      for (size_t i = b; i < e; ++i) {
        yaml::ParsedDocument pd =
            libyaml ? yaml::ParseDocumentWithLibyaml(sections[i].text, sections[i].first_line)
                    : yaml::ParseDocument(sections[i].text, sections[i].first_line);
        nodes[t] += pd.doc ? 1 : 0;
      }
    };
    size_t per = (sections.size() + threads - 1) / threads;
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) {
      pool.emplace_back(work, t, std::min(sections.size(), t * per),
                        std::min(sections.size(), (t + 1) * per));
    }
    work(0, 0, std::min(sections.size(), per));
    for (auto& th : pool) th.join();
    benchmark::DoNotOptimize(nodes.data());
  }
  AddCounters(state, m);
  state.counters["threads"] = threads;
}

// Parse + decode: YAML text -> typed Resources with diagnostics.
void BM_DecodeText(benchmark::State& state) {
  const Mesh& m = TheMesh();
  int threads = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto docs = std::make_unique<std::vector<DecodedDocument>>(Decode(m.text, threads));
    benchmark::DoNotOptimize(docs->data());
    state.PauseTiming();
    docs.reset();
    state.ResumeTiming();
  }
  AddCounters(state, m);
  state.counters["threads"] = threads;
}

// Compile only: decoded Resources -> snapshot (Apply + Snapshot on a fresh Compiler).
void BM_Compile(benchmark::State& state) {
  const Mesh& m = TheMesh();
  int threads = static_cast<int>(state.range(0));
  std::vector<DecodedDocument> decoded = Decode(m.text, Threads());
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<DecodedDocument> docs = decoded;
    auto compiler = std::make_unique<Compiler>(CompileOn(threads));
    state.ResumeTiming();
    Load(*compiler, std::move(docs), "mesh.yaml");
    const auto& snap = compiler->Snapshot();
    benchmark::DoNotOptimize(snap.content_hash().data());
    state.PauseTiming();
    compiler.reset();
    state.ResumeTiming();
  }
  AddCounters(state, m);
  state.counters["threads"] = threads;
}

// (b) Incremental: the full mesh is loaded; one EndpointSlice changes (an endpoint goes not
// ready). Each iteration decodes the slice's YAML, applies it and takes the new snapshot.
void BM_IncrementalEndpointSlice(benchmark::State& state) {
  const Mesh& m = TheMesh();
  Compiler compiler(CompileOn(Threads()));
  Load(compiler, Decode(m.text, Threads()), "mesh.yaml");
  CheckClean(compiler.Snapshot().diagnostics());
  std::string initial_hash = compiler.Snapshot().content_hash();
  // Alternate between changes of a Service in the middle of the mesh.
  int service = m.counts.services / 2;
  std::vector<std::string> variants;
  for (int v = 1; v <= 4; ++v) variants.push_back(m.generator.EndpointSlice(service, v));
  size_t n = 0;
  for (auto _ : state) {
    const std::string& text = variants[n++ % variants.size()];
    std::vector<DecodedDocument> docs = Decode(text, 1);
    std::vector<policy::Resource> upserts;
    upserts.push_back(std::move(*docs[0].resource));
    compiler.Apply(std::move(upserts));
    const auto& snap = compiler.Snapshot();
    benchmark::DoNotOptimize(snap.content_hash().data());
  }
  if (compiler.Snapshot().content_hash() == initial_hash) {
    state.SkipWithError("the change did not change the snapshot");
  }
  state.counters["slice_bytes"] = static_cast<double>(variants[0].size());
  state.counters["mesh_services"] = m.counts.services;
  state.counters["mesh_endpoints"] = m.counts.endpoints;
}

// Runs with the machine's thread count and, for comparison, with one thread.
void ThreadArgs(benchmark::internal::Benchmark* b) {
  int hw = Threads();
  b->Arg(hw);
  if (hw != 1) b->Arg(1);
  b->ArgName("threads");
}

void Register() {
  benchmark::RegisterBenchmark("BM_EndToEnd", BM_EndToEnd)
      ->Apply(ThreadArgs)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_CompileDocuments", BM_CompileDocuments)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_ParseYaml", BM_ParseYaml<false>)
      ->Apply(ThreadArgs)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_ParseYamlLibyaml", BM_ParseYaml<true>)
      ->Apply(ThreadArgs)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_DecodeText", BM_DecodeText)
      ->Apply(ThreadArgs)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_Compile", BM_Compile)
      ->Apply(ThreadArgs)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_IncrementalEndpointSlice", BM_IncrementalEndpointSlice)
      ->Unit(benchmark::kMillisecond)
      ->Iterations(200)
      ->UseRealTime();
}

}  // namespace
}  // namespace weft::bench

int main(int argc, char** argv) {
  using namespace weft::bench;
  std::string dump;
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--weft_scale=", 0) == 0) {
      g_scale = std::atof(a.c_str() + 13);
    } else if (a.rfind("--weft_threads=", 0) == 0) {
      g_threads = std::atoi(a.c_str() + 15);
    } else if (a.rfind("--weft_dump_mesh=", 0) == 0) {
      dump = a.substr(17);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (!dump.empty()) {
    const auto& m = TheMesh();
    std::ofstream(dump, std::ios::binary) << m.text;
    std::cerr << "wrote " << m.text.size() << " bytes, " << m.counts.documents() << " documents to "
              << dump << "\n";
    return 0;
  }
  int n = static_cast<int>(rest.size());
  benchmark::Initialize(&n, rest.data());
  if (benchmark::ReportUnrecognizedArguments(n, rest.data())) return 1;
  Register();
  benchmark::AddCustomContext("mesh_scale", std::to_string(g_scale));
  benchmark::AddCustomContext("decode_threads", std::to_string(Threads()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
