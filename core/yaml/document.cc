#include "core/yaml/document.h"

#include <cctype>

#include <yaml.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "core/yaml/block_parser.h"

namespace weft::yaml {

std::string Node::Describe() const {
  switch (type()) {
    case NodeType::kNull:
      return "null";
    case NodeType::kMap:
      return "a mapping";
    case NodeType::kSeq:
      return "a list";
    case NodeType::kScalar: {
      std::string s(scalar());
      if (s.size() > 60) s = s.substr(0, 57) + "...";
      return "\"" + s + "\"";
    }
  }
  return "?";
}

namespace {

bool IsDigits(std::string_view s, int base) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok = base == 16  ? std::isxdigit(static_cast<unsigned char>(c)) != 0
              : base == 8 ? (c >= '0' && c <= '7')
              : base == 2 ? (c == '0' || c == '1')
                          : (c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// go-yaml v2's resolve(): integers as strconv.ParseInt(s, 0, 64) after removing '_' (so
// 0x, 0o, 0b prefixes and a leading 0 for octal), "0b"/"-0b" binary, floats by its regular
// expression ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$.
bool IsYamlInt(std::string_view s) {
  std::string t;
  for (char c : s) {
    if (c != '_') t += c;
  }
  std::string_view v = t;
  if (!v.empty() && (v[0] == '+' || v[0] == '-')) v.remove_prefix(1);
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) return IsDigits(v.substr(2), 16);
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'o' || v[1] == 'O')) return IsDigits(v.substr(2), 8);
  if (v.size() > 2 && v[0] == '0' && (v[1] == 'b' || v[1] == 'B')) return IsDigits(v.substr(2), 2);
  if (v.size() > 1 && v[0] == '0') return IsDigits(v.substr(1), 8);
  return IsDigits(v, 10);
}

// ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$, by hand (it runs on every plain
// scalar that starts like a number, such as each pod IP).
bool IsYamlFloat(std::string_view s) {
  auto digits = [&](size_t& i) {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > start;
  };
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digits(i)) return false;
  } else {
    if (!digits(i)) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      digits(i);
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits(i)) return false;
  }
  return i == s.size();
}

}  // namespace

std::string_view Node::NonStringType() const {
  if (type() != NodeType::kScalar || style() != ScalarStyle::kPlain) return {};
  std::string_view s = scalar();
  static constexpr std::string_view kBools[] = {
      "y",    "Y",    "yes",   "Yes",   "YES",   "n",  "N",  "no", "No",  "NO",  "true",
      "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF"};
  for (auto b : kBools) {
    if (s == b) return "a boolean";
  }
  static constexpr std::string_view kSpecial[] = {".inf",  ".Inf",  ".INF",  "+.inf",
                                                  "+.Inf", "+.INF", "-.inf", "-.Inf",
                                                  "-.INF", ".nan",  ".NaN",  ".NAN"};
  for (auto f : kSpecial) {
    if (s == f) return "a number";
  }
  if (s.empty() || std::string_view("-+.0123456789").find(s[0]) == std::string_view::npos) {
    return {};
  }
  if (IsYamlInt(s)) return "an integer";
  if (IsYamlFloat(s)) return "a number";
  return {};
}

// Builds a Document from libyaml events.
class DocumentBuilder {
 public:
  explicit DocumentBuilder(uint32_t first_line) : line_offset_(first_line - 1) {}

  // Returns false and fills `error` on a syntax error.
  bool Build(std::string_view text, Document& doc, SyntaxError& error);

 private:
  uint32_t AddNode(Document& doc, NodeType type, ScalarStyle style, const yaml_mark_t& m) {
    doc.nodes_.push_back({type, style, static_cast<uint32_t>(m.line) + 1 + line_offset_,
                          static_cast<uint32_t>(m.column) + 1, 0, 0});
    return static_cast<uint32_t>(doc.nodes_.size() - 1);
  }
  void AddChild(uint32_t index) {
    if (!stack_.empty()) kids_.push_back(index);
  }

  // An open mapping or sequence; its children are kids_[kids_base...], so nested containers
  // share one vector instead of one each.
  struct Frame {
    uint32_t index;
    size_t kids_base;
  };
  uint32_t line_offset_;
  std::vector<Frame> stack_;
  std::vector<uint32_t> kids_;
  std::unordered_map<std::string, uint32_t> anchors_;
};

bool DocumentBuilder::Build(std::string_view text, Document& doc, SyntaxError& error) {
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  std::unique_ptr<yaml_parser_t, void (*)(yaml_parser_t*)> guard(&parser, yaml_parser_delete);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  doc.text_.reserve(text.size() / 2);
  int documents = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(&parser, &ev)) {
      const yaml_mark_t& m = parser.problem ? parser.problem_mark : parser.context_mark;
      error.mark = {static_cast<uint32_t>(m.line) + 1 + line_offset_,
                    static_cast<uint32_t>(m.column) + 1};
      error.message = parser.problem ? parser.problem : "invalid YAML";
      if (parser.context) error.message = std::string(parser.context) + ": " + error.message;
      return false;
    }
    std::unique_ptr<yaml_event_t, void (*)(yaml_event_t*)> ev_guard(&ev, yaml_event_delete);
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        return true;
      case YAML_DOCUMENT_START_EVENT:
        if (++documents > 1) {
          // ParseStream splits at "---"; a second document here means a marker it could not
          // see (e.g. "..." followed by content). Report rather than merge silently.
          error.mark = {static_cast<uint32_t>(ev.start_mark.line) + 1 + line_offset_, 1};
          error.message = "unexpected second document in one section";
          return false;
        }
        break;
      case YAML_SCALAR_EVENT: {
        const auto& s = ev.data.scalar;
        std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
        ScalarStyle style = ScalarStyle::kPlain;
        if (s.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
            s.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
          style = ScalarStyle::kQuoted;
        } else if (s.style == YAML_LITERAL_SCALAR_STYLE || s.style == YAML_FOLDED_SCALAR_STYLE) {
          style = ScalarStyle::kBlock;
        }
        bool is_null =
            style == ScalarStyle::kPlain && (value.empty() || value == "~" || value == "null" ||
                                             value == "Null" || value == "NULL");
        uint32_t idx =
            AddNode(doc, is_null ? NodeType::kNull : NodeType::kScalar, style, ev.start_mark);
        doc.nodes_[idx].first = static_cast<uint32_t>(doc.text_.size());
        doc.nodes_[idx].count = static_cast<uint32_t>(value.size());
        doc.text_.append(value);
        if (s.anchor) anchors_[reinterpret_cast<const char*>(s.anchor)] = idx;
        AddChild(idx);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        bool seq = ev.type == YAML_SEQUENCE_START_EVENT;
        uint32_t idx =
            AddNode(doc, seq ? NodeType::kSeq : NodeType::kMap, ScalarStyle::kPlain, ev.start_mark);
        const yaml_char_t* anchor =
            seq ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor;
        if (anchor) anchors_[reinterpret_cast<const char*>(anchor)] = idx;
        AddChild(idx);
        stack_.push_back({idx, kids_.size()});
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT: {
        Frame f = stack_.back();
        auto& rec = doc.nodes_[f.index];
        size_t n = kids_.size() - f.kids_base;
        rec.first = static_cast<uint32_t>(doc.children_.size());
        rec.count = static_cast<uint32_t>(rec.type == NodeType::kMap ? n / 2 : n);
        doc.children_.insert(doc.children_.end(), kids_.begin() + f.kids_base, kids_.end());
        kids_.resize(f.kids_base);
        stack_.pop_back();
        break;
      }
      case YAML_ALIAS_EVENT: {
        auto it = anchors_.find(reinterpret_cast<const char*>(ev.data.alias.anchor));
        if (it == anchors_.end()) {
          error.mark = {static_cast<uint32_t>(ev.start_mark.line) + 1 + line_offset_,
                        static_cast<uint32_t>(ev.start_mark.column) + 1};
          error.message = "unknown alias";
          return false;
        }
        AddChild(it->second);
        break;
      }
      default:
        break;
    }
  }
}

bool operator==(const Document& a, const Document& b) {
  if (a.nodes_.size() != b.nodes_.size()) return false;
  // Node indices may differ (children are stored in the order containers close); compare
  // the trees from the root.
  std::vector<std::pair<Node, Node>> todo;
  if (!a.nodes_.empty()) todo.push_back({a.root(), b.root()});
  while (!todo.empty()) {
    auto [x, y] = todo.back();
    todo.pop_back();
    if (x.type() != y.type() || x.mark().line != y.mark().line ||
        x.mark().column != y.mark().column) {
      return false;
    }
    if (x.type() == NodeType::kScalar && (x.scalar() != y.scalar() || x.style() != y.style())) {
      return false;
    }
    if (x.size() != y.size()) return false;
    for (size_t i = 0; i < x.size(); ++i) {
      if (x.IsMap()) {
        todo.push_back({x.key(i), y.key(i)});
        todo.push_back({x.value(i), y.value(i)});
      } else {
        todo.push_back({x.item(i), y.item(i)});
      }
    }
  }
  return true;
}

ParsedDocument ParseDocument(std::string_view text, uint32_t first_line) {
  {
    ParsedDocument out;
    out.first_line = first_line;
    out.text = text;
    Document doc;
    if (ParseBlockSubset(text, first_line, doc)) {
      out.doc = std::move(doc);
      return out;
    }
  }
  return ParseDocumentWithLibyaml(text, first_line);
}

ParsedDocument ParseDocumentWithLibyaml(std::string_view text, uint32_t first_line) {
  ParsedDocument out;
  out.first_line = first_line;
  out.text = text;
  Document doc;
  SyntaxError err;
  DocumentBuilder builder(first_line);
  if (builder.Build(text, doc, err)) {
    out.doc = std::move(doc);
  } else {
    out.error = std::move(err);
  }
  return out;
}

namespace {

bool IsMarkerLine(std::string_view line, std::string_view marker) {
  if (line.substr(0, 3) != marker) return false;
  return line.size() == 3 || line[3] == ' ' || line[3] == '\t' || line[3] == '\r' ||
         line[3] == '\n';
}

// True for a "---" or "..." line with nothing after the marker but blanks and a comment. A
// document may start on its "---" line ("--- {a: 1}", "--- |", "--- !tag"): that is content.
bool IsBareMarkerLine(std::string_view line) {
  if (!IsMarkerLine(line, "---") && !IsMarkerLine(line, "...")) return false;
  size_t p = line.find_first_not_of(" \t\r", 3);
  return p == std::string_view::npos || line[p] == '#';
}

// True when the section holds nothing but comments, blank lines, directives and bare markers.
bool IsBlank(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t eol = s.find('\n', i);
    std::string_view line = s.substr(i, eol == std::string_view::npos ? s.npos : eol - i);
    size_t p = line.find_first_not_of(" \t\r");
    if (p != std::string_view::npos && line[p] != '#' && line[p] != '%' &&
        !IsBareMarkerLine(line)) {
      return false;
    }
    if (eol == std::string_view::npos) break;
    i = eol + 1;
  }
  return true;
}

}  // namespace

std::vector<Section> SplitStream(std::string_view text) {
  // A "---" at column 0 always starts a document in YAML 1.2, even inside block or quoted
  // scalars, so splitting on such lines is exact.
  std::vector<Section> out;
  size_t start = 0;
  uint32_t start_line = 1;
  uint32_t line_no = 1;
  auto flush = [&](size_t end) {
    std::string_view section = text.substr(start, end - start);
    if (!IsBlank(section)) out.push_back({start_line, section});
  };
  size_t i = 0;
  while (i < text.size()) {
    size_t eol = text.find('\n', i);
    size_t next = eol == std::string_view::npos ? text.size() : eol + 1;
    std::string_view line = text.substr(i, next - i);
    if (i > start && IsMarkerLine(line, "---")) {
      flush(i);
      start = i;
      start_line = line_no;
    }
    i = next;
    ++line_no;
  }
  if (start < text.size()) flush(text.size());
  return out;
}

std::vector<ParsedDocument> ParseStream(std::string_view text) {
  std::vector<ParsedDocument> out;
  for (const Section& s : SplitStream(text)) out.push_back(ParseDocument(s.text, s.first_line));
  return out;
}

}  // namespace weft::yaml
