// Differential check of the fast YAML path (core/yaml/block_parser.h) against libyaml.
//
//   build/bin/weft-yaml-fastpath-check [--mutants=N] [FILE...]
//
// Every document of the generated benchmark mesh, of the given files, of a list of tricky
// snippets, and N randomly mutated copies of them (characters that matter to YAML inserted,
// deleted or replaced, lines re-indented or duplicated) is parsed by both parsers. Whenever
// the fast path accepts a document, libyaml must parse it too, to the same tree (types,
// styles, scalar text, marks). Exits 1 on the first few mismatches, printing them. Not a
// ctest test: it takes a while, and it is the tool to rerun after changing the fast path.

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "bench/mesh_generator.h"
#include "core/yaml/block_parser.h"
#include "core/yaml/document.h"

namespace {

using weft::yaml::Document;

long g_total = 0, g_accepted = 0, g_mismatches = 0;

void Check(const std::string& text, uint32_t first_line = 1) {
  ++g_total;
  Document fast;
  if (!weft::yaml::ParseBlockSubset(text, first_line, fast)) return;
  ++g_accepted;
  weft::yaml::ParsedDocument ref = weft::yaml::ParseDocumentWithLibyaml(text, first_line);
  const char* what = !ref.doc              ? "the fast path accepted what libyaml rejects"
                     : !(fast == *ref.doc) ? "the trees differ"
                                           : nullptr;
  if (!what) return;
  if (g_mismatches++ < 10) {
    std::fprintf(stderr, "%s%s%s\n----- input:\n%s\n-----\n", what, ref.error ? ": " : "",
                 ref.error ? ref.error->message.c_str() : "", text.c_str());
  }
}

const char* const kSnippets[] = {
    "a:\n",
    "a:\nb:\n",
    "- \n- a\n-\n",
    "a:\n- x\n- y\nb: 1\n",
    "a:\n  - x\n  - y\nb: 1\n",
    "- a:\n  - x\n  b: 1\n",
    "- a:\n    x: 1\n  b:\n",
    "a: {}\nb: []\n",
    "- {}\n- []\n",
    "a: 'x'\nb: \"y\"\n'c': 1\n\"d\": 2\n",
    "a: ''\nb: \"\"\n",
    "a: b # c\nd: e#f\n",
    "a: # c\nb: 1\n",
    "-   a: 1\n    b: 2\n",
    "a: null\nb: ~\nc: Null\nd: NULL\n~: x\nnull: y\n",
    "a:    \n  b: 1\n",
    "- # c\n- 1\n",
    "---\na: 1\n",
    "--- # x\na: 1\n",
    "---  \na: 1\n",
    "  a: 1\n  b: 2\n",
    "a: 1\n  # c\nb: 2\n",
    "a: x:y\n",
    "a: http://x\n",
    "a: x,y\nb: [x\n",
    "a: - b\n",
    "a: b: c\n",
    "a: b:\n",
    "a\n",
    "a: 1\n b: 2\n",
    "a:\n  b: 1\n c: 2\n",
    "- a\n b\n",
    "- a: 1\n - b\n",
    "a:\n- b\n  c: 1\n",
    "a:\n  - b\n  c: 1\n",
    "a: 'it''s'\n",
    "a: \"x\\ny\"\n",
    "a: \"x\"y\n",
    "a: \"x\" #c\n",
    "a: \"x\"#c\n",
    "a: |\n  x\n",
    "a: >\n  x\n",
    "a: &x 1\nb: *x\n",
    "a: !t 1\n",
    "? a\n: b\n",
    "a: [1, 2]\n",
    "a: {b: 1}\n",
    "key : v\n",
    "a: { }\n",
    "a: {} x\n",
    "a: {}#x\n",
    "a: 1\n...\n",
    "%YAML 1.1\n---\na: 1\n",
    "-\n  a: 1\n",
    "-\n  - a\n",
    "- - a\n",
    "a:\n-\n- b\n",
    "a:\n -\n - b\n",
    "a: b\n  c\n",
    "a:\n  b\n",
    "a: 'x\n  y'\n",
    "a: @x\n",
    "a: `x\n",
    "a: %x\n",
    "a: ,x\n",
    "a: ]x\n",
    "a: x]\n",
    "a: x}\n",
    "a: -1\n",
    "a: -x\n",
    "a: ?x\n",
    "a: :x\n",
    "a: x :y\n",
    "a: x: \n",
    "a:   b  \n",
    "\n\na: 1\n\n\n",
    "# c\na: 1\n",
    "a: 1",
    "a:",
    "-",
    "- a",
    "a: 'b'",
    "a:\n  - b:\n    - c\n",
    "a:\n  b:\n  - c\n  d: 1\n",
    "- a: 1\n  b:\n  - x\n- c\n",
    "a: \"b\": 1\n",
    "'a':b\n",
    "\"a\" : b\n",
    "a: b\nb: c\n a: d\n",
    "a:\tb\n",
    "a: b\r\n",
    "\xef\xbb\xbf"
    "a: b\n",
};

}  // namespace

int main(int argc, char** argv) {
  long mutants = 400'000;
  std::vector<std::string> bases;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--mutants=", 0) == 0) {
      mutants = std::atol(a.c_str() + 10);
      continue;
    }
    std::ifstream f(a, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string text = ss.str();  // SplitStream returns views into it
    for (const auto& s : weft::yaml::SplitStream(text)) bases.emplace_back(s.text);
  }
  weft::bench::MeshGenerator gen(weft::bench::MeshSpec{}.Scaled(0.02));
  const std::string mesh = gen.Generate();
  for (const auto& s : weft::yaml::SplitStream(mesh)) bases.emplace_back(s.text);
  for (const char* s : kSnippets) bases.emplace_back(s);
  for (const auto& b : bases) {
    Check(b, 1);
    Check(b, 17);
  }
  std::fprintf(stderr, "%zu documents: the fast path took %ld of %ld parses\n", bases.size(),
               g_accepted, g_total);

  std::mt19937_64 rng(12345);  // fixed: a failure reproduces
  const char alphabet[] = " \n:-#\"'{}[]a1\t|>&*!?,%@.~ \n  :-";
  for (long it = 0; it < mutants; ++it) {
    std::string t = bases[rng() % bases.size()];
    for (int m = 0, n = 1 + static_cast<int>(rng() % 3); m < n && !t.empty(); ++m) {
      size_t pos = rng() % t.size();
      char c = alphabet[rng() % (sizeof(alphabet) - 1)];
      size_t line = t.rfind('\n', pos);
      line = line == std::string::npos ? 0 : line + 1;
      switch (rng() % 6) {
        case 0:
          t.insert(pos, 1, c);
          break;
        case 1:
          t.erase(pos, 1);
          break;
        case 2:
          t[pos] = c;
          break;
        case 3:
          t.insert(line, 1 + rng() % 2, ' ');
          break;
        case 4:
          if (t[line] == ' ') t.erase(line, 1);
          break;
        default: {
          size_t end = t.find('\n', pos);
          if (end != std::string::npos) t.insert(line, t.substr(line, end - line + 1));
        }
      }
    }
    Check(t);
  }
  std::fprintf(stderr, "%ld parses, %ld by the fast path, %ld mismatches\n", g_total, g_accepted,
               g_mismatches);
  return g_mismatches ? 1 : 0;
}
