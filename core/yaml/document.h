#pragma once

// A compact, read-only YAML document tree that remembers where every node came from.
//
// Why not yaml-cpp: the policy compiler must parse a 30 MB mesh in well under a second and
// report file:line:column for every field; yaml-cpp parses ~2 MB/s here, libyaml's event
// parser ~35 MB/s (docs/architecture.md, "Dependencies"). This tree is built from libyaml
// events into two flat arrays, so a document costs a handful of allocations. The common
// block-style subset skips libyaml altogether (block_parser.h).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weft::yaml {

// 1-based position in the source text.
struct Mark {
  uint32_t line = 0;
  uint32_t column = 0;
};

enum class NodeType : uint8_t { kNull, kScalar, kMap, kSeq };
enum class ScalarStyle : uint8_t { kPlain, kQuoted, kBlock };

class Document;

// A handle to one node of a Document; cheap to copy, valid while the Document lives.
class Node {
 public:
  Node() = default;

  bool valid() const { return doc_ != nullptr; }
  NodeType type() const;
  bool IsNull() const { return type() == NodeType::kNull; }
  bool IsScalar() const { return type() == NodeType::kScalar; }
  bool IsMap() const { return type() == NodeType::kMap; }
  bool IsSeq() const { return type() == NodeType::kSeq; }
  Mark mark() const;

  // Scalars: the text as written (after YAML unquoting/folding). Empty for non-scalars.
  std::string_view scalar() const;
  ScalarStyle style() const;

  // Maps: number of key/value pairs. Sequences: number of items.
  size_t size() const;
  Node key(size_t i) const;    // maps
  Node value(size_t i) const;  // maps
  Node item(size_t i) const;   // sequences
  // Maps: the value of the first pair whose scalar key equals `key`.
  std::optional<Node> Find(std::string_view key) const;

  // A short description for error messages: "a mapping", "a list", "the string \"x\"".
  std::string Describe() const;

  // What kubectl's YAML reader (sigs.k8s.io/yaml: YAML 1.1 on go-yaml v2, then JSON) makes of
  // this scalar when it is plain: "an integer" (12, 0x1f, 0o17, 1_000), "a number" (1.5, 1e3,
  // .inf), "a boolean" (true, yes, on, y, n, off...). Empty for strings, quoted or block
  // scalars, and non-scalars. The API server refuses such a value where its schema wants a
  // string, so weft's decoders do too.
  std::string_view NonStringType() const;

 private:
  friend class Document;
  friend class DocumentBuilder;
  Node(const Document* doc, uint32_t index) : doc_(doc), index_(index) {}
  const Document* doc_ = nullptr;
  uint32_t index_ = 0;
};

// One YAML document ("---" section) of a stream.
class Document {
 public:
  Node root() const { return nodes_.empty() ? Node() : Node(this, 0); }
  bool empty() const { return nodes_.empty() || nodes_[0].type == NodeType::kNull; }

  // The same tree: node types, scalar styles and text, marks, and order.
  friend bool operator==(const Document& a, const Document& b);

 private:
  friend class Node;
  friend class DocumentBuilder;
  friend class BlockParser;
  struct Rec {
    NodeType type;
    ScalarStyle style;
    uint32_t line;
    uint32_t column;
    uint32_t first;  // scalar: offset into text_; map/seq: index into children_.
    uint32_t count;  // scalar: length; seq: items; map: pairs (children are key,value,...).
  };
  std::vector<Rec> nodes_;
  std::vector<uint32_t> children_;
  std::string text_;
};

// Node accessors are inline: the decoders call them for every field of every object.
inline NodeType Node::type() const {
  return doc_ ? doc_->nodes_[index_].type : NodeType::kNull;
}

inline Mark Node::mark() const {
  if (!doc_) return {};
  const auto& r = doc_->nodes_[index_];
  return {r.line, r.column};
}

inline std::string_view Node::scalar() const {
  if (!doc_) return {};
  const auto& r = doc_->nodes_[index_];
  if (r.type != NodeType::kScalar) return {};
  return std::string_view(doc_->text_).substr(r.first, r.count);
}

inline ScalarStyle Node::style() const {
  return doc_ ? doc_->nodes_[index_].style : ScalarStyle::kPlain;
}

inline size_t Node::size() const {
  if (!doc_) return 0;
  const auto& r = doc_->nodes_[index_];
  return (r.type == NodeType::kMap || r.type == NodeType::kSeq) ? r.count : 0;
}

inline Node Node::key(size_t i) const {
  return Node(doc_, doc_->children_[doc_->nodes_[index_].first + 2 * i]);
}

inline Node Node::value(size_t i) const {
  return Node(doc_, doc_->children_[doc_->nodes_[index_].first + 2 * i + 1]);
}

inline Node Node::item(size_t i) const {
  return Node(doc_, doc_->children_[doc_->nodes_[index_].first + i]);
}

inline std::optional<Node> Node::Find(std::string_view k) const {
  if (!IsMap()) return std::nullopt;
  for (size_t i = 0, n = size(); i < n; ++i) {
    Node kn = key(i);
    if (kn.IsScalar() && kn.scalar() == k) return value(i);
  }
  return std::nullopt;
}

struct SyntaxError {
  Mark mark;
  std::string message;
};

// One document of a stream, with its position in the file so that a consumer can name it
// even when it failed to parse.
struct ParsedDocument {
  uint32_t first_line = 1;      // line where `text` starts (its "---" line, if any).
  std::string_view text;        // the document's source text (a view into the input).
  std::optional<Document> doc;  // absent when the document has a syntax error.
  std::optional<SyntaxError> error;
};

// One "---" section of a stream, not yet parsed.
struct Section {
  uint32_t first_line = 1;
  std::string_view text;
};

// Splits a multi-document stream at "---" lines without parsing. A section starts with its
// "---" line, which may already hold content ("--- {a: 1}"); its first_line is that line, so
// marks stay absolute. Sections that hold only comments or whitespace are dropped.
std::vector<Section> SplitStream(std::string_view text);

// Splits a multi-document stream at "---" lines and parses each document on its own, so a
// syntax error loses only the document it is in. `text` must outlive the result. Documents
// that hold only comments or whitespace are dropped.
std::vector<ParsedDocument> ParseStream(std::string_view text);

// Parses exactly one document (no splitting). Line numbers start at `first_line`.
//
// Block-style documents in the subset that Kubernetes objects use are parsed by a fast path
// (block_parser.h); everything else, and every syntax error, by libyaml. Both give the same
// Document for what the fast path accepts.
ParsedDocument ParseDocument(std::string_view text, uint32_t first_line = 1);

// ParseDocument with libyaml alone: the reference the fast path is tested against.
ParsedDocument ParseDocumentWithLibyaml(std::string_view text, uint32_t first_line = 1);

}  // namespace weft::yaml
