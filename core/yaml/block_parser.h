#pragma once

// Internal to core/yaml: the fast path of ParseDocument.
//
// libyaml parses ~30 MB/s here, which alone is more than the compiler's time budget for a
// large mesh (docs/performance.md). Kubernetes objects, as kubectl and most people write them,
// use a small part of YAML: block mappings and sequences, plain or simply quoted one-line
// scalars, comments, and the empty flow collections {} and []. BlockParser parses exactly that
// part, an order of magnitude faster, and gives up on anything else (tabs, CR, non-ASCII,
// anchors, tags, flow collections, block or multi-line scalars, escapes, anything unusual and
// every error), so that libyaml parses the document instead. A document it accepts gets the
// tree, styles and marks libyaml would give it; tests/core/yaml compare the two parsers.

#include <cstdint>
#include <string_view>

namespace weft::yaml {

class Document;

// Returns false, with `doc` in an unspecified state, when the document is outside the subset.
bool ParseBlockSubset(std::string_view text, uint32_t first_line, Document& doc);

}  // namespace weft::yaml
