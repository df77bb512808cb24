#include "core/yaml/block_parser.h"

#include <array>
#include <vector>

#include "core/yaml/document.h"

namespace weft::yaml {

namespace {

// Byte classes for the line scanner: anything libyaml would treat specially at the byte level
// (tab, CR, other control characters, DEL, every non-ASCII byte including a BOM) sends the
// document to libyaml.
enum : uint8_t { kOrdinary = 0, kNewline = 1, kUnusual = 2 };

constexpr std::array<uint8_t, 256> MakeByteClasses() {
  std::array<uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) t[c] = (c < 0x20 || c >= 0x7f) ? kUnusual : kOrdinary;
  t['\n'] = kNewline;
  return t;
}
constexpr std::array<uint8_t, 256> kByteClass = MakeByteClasses();

// Characters that may not start a plain scalar (YAML 1.1 as libyaml implements it). '-', '?'
// and ':' may start one when not followed by a space, but those forms are left to libyaml.
constexpr bool IsIndicator(char c) {
  switch (c) {
    case '-':
    case '?':
    case ':':
    case ',':
    case '[':
    case ']':
    case '{':
    case '}':
    case '#':
    case '&':
    case '*':
    case '!':
    case '|':
    case '>':
    case '\'':
    case '"':
    case '%':
    case '@':
    case '`':
      return true;
    default:
      return false;
  }
}

// Beyond this, libyaml rejects a simple key ("could not find expected ':'"); leave such lines
// to it.
constexpr size_t kMaxKeyLength = 1000;
// Deeper documents go to libyaml, which does not recurse.
constexpr int kMaxDepth = 200;

}  // namespace

class BlockParser {
 public:
  BlockParser(std::string_view text, uint32_t first_line, Document& doc)
      : p_(text.data()), size_(text.size()), first_line_(first_line), doc_(doc) {}

  bool Parse();

 private:
  enum class Kind { kEnd, kSeqEntry, kKey, kScalar, kEmptyMap, kEmptySeq, kBail };
  // What starts at a position of the current line.
  struct Token {
    Kind kind = Kind::kBail;
    size_t start = 0;                     // first byte (the quote, for quoted scalars)
    size_t text_begin = 0, text_end = 0;  // the scalar's (or key's) text
    size_t after = 0;                     // kKey: just past the ':'
    ScalarStyle style = ScalarStyle::kPlain;
  };

  // The current content line (blank and comment lines are skipped).
  struct Line {
    size_t begin = 0;
    size_t end = 0;  // the '\n' or the end of the text
    uint32_t index = 0;
    uint32_t indent = 0;
    bool valid = false;
  };

  void NextContentLine();
  Token Classify(size_t pos) const;
  bool OnlyCommentFrom(size_t pos) const;
  size_t SkipSpaces(size_t pos) const {
    while (pos < line_.end && p_[pos] == ' ') ++pos;
    return pos;
  }
  bool IsSeqEntry(size_t pos) const {
    return p_[pos] == '-' && (pos + 1 == line_.end || p_[pos + 1] == ' ');
  }

  bool ParseNodeAtLine(uint32_t* out);
  bool ParseMap(uint32_t col, Token key, uint32_t* out);
  bool ParseSeq(uint32_t col, bool indentless, uint32_t* out);
  // Parses the value that starts at `pos` of the current line (after "key: " or "- ") when it
  // is a scalar or an empty flow collection, then moves to the next content line.
  bool InlineValue(const Token& t, uint32_t parent_col, uint32_t* out);

  uint32_t AddScalar(uint32_t line_index, size_t pos, std::string_view value, ScalarStyle style);
  uint32_t AddEmpty(uint32_t line_index, uint32_t col0);
  uint32_t Begin(NodeType type, uint32_t line_index, uint32_t col0);
  void End(uint32_t index, size_t kids_base);

  const char* p_;
  size_t size_;
  uint32_t first_line_;
  Document& doc_;
  Line line_;
  size_t next_ = 0;          // where the line after line_ starts
  uint32_t next_index_ = 0;  // its 0-based line number
  bool failed_ = false;
  int depth_ = 0;
  std::vector<uint32_t> kids_;  // children of the open containers, innermost last
};

void BlockParser::NextContentLine() {
  while (next_ < size_) {
    size_t b = next_;
    size_t i = b;
    // One pass finds the end of the line and checks its bytes.
    while (i < size_) {
      uint8_t cls = kByteClass[static_cast<unsigned char>(p_[i])];
      if (cls == kOrdinary) {
        ++i;
        continue;
      }
      if (cls == kUnusual) {
        failed_ = true;
        line_.valid = false;
        next_ = size_;
        return;
      }
      break;  // newline
    }
    size_t e = i;
    next_ = i < size_ ? i + 1 : size_;
    uint32_t index = next_index_++;
    size_t c = b;
    while (c < e && p_[c] == ' ') ++c;
    if (c == e || p_[c] == '#') continue;  // blank or comment-only
    if (c == b && (p_[b] == '%' ||
                   (e - b >= 3 && ((p_[b] == '-' && p_[b + 1] == '-' && p_[b + 2] == '-') ||
                                   (p_[b] == '.' && p_[b + 1] == '.' && p_[b + 2] == '.'))))) {
      failed_ = true;  // directives and document markers
      line_.valid = false;
      next_ = size_;
      return;
    }
    line_ = {b, e, index, static_cast<uint32_t>(c - b), true};
    return;
  }
  line_.valid = false;
}

bool BlockParser::OnlyCommentFrom(size_t pos) const {
  // After a token: nothing, or spaces and then nothing or a comment.
  if (pos == line_.end) return true;
  if (p_[pos] != ' ') return false;
  pos = SkipSpaces(pos);
  return pos == line_.end || p_[pos] == '#';
}

BlockParser::Token BlockParser::Classify(size_t pos) const {
  Token t;
  t.start = pos;
  const size_t e = line_.end;
  if (pos == e || p_[pos] == '#') {
    t.kind = Kind::kEnd;
    return t;
  }
  char c = p_[pos];
  if (c == '-') {
    t.kind = (pos + 1 == e || p_[pos + 1] == ' ') ? Kind::kSeqEntry : Kind::kBail;
    return t;
  }
  if (c == '"' || c == '\'') {
    size_t i = pos + 1;
    while (i < e && p_[i] != c) {
      if (c == '"' && p_[i] == '\\') return t;  // escapes: libyaml
      ++i;
    }
    if (i == e) return t;                                       // continues on the next line
    if (c == '\'' && i + 1 < e && p_[i + 1] == '\'') return t;  // '' escape
    t.text_begin = pos + 1;
    t.text_end = i;
    t.style = ScalarStyle::kQuoted;
    size_t j = i + 1;
    if (j < e && p_[j] == ':' && (j + 1 == e || p_[j + 1] == ' ')) {
      if (i - pos > kMaxKeyLength) return t;
      t.kind = Kind::kKey;
      t.after = j + 1;
      return t;
    }
    if (!OnlyCommentFrom(j)) return t;
    t.kind = Kind::kScalar;
    return t;
  }
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    if (pos + 1 < e && p_[pos + 1] == close && OnlyCommentFrom(pos + 2)) {
      t.kind = c == '{' ? Kind::kEmptyMap : Kind::kEmptySeq;
    }
    return t;
  }
  if (IsIndicator(c)) return t;
  // Plain scalar: up to ": " (then it is a key), " #" (a comment) or the end of the line.
  size_t i = pos;
  for (; i < e; ++i) {
    char ch = p_[i];
    if (ch == ':' && (i + 1 == e || p_[i + 1] == ' ')) {
      if (p_[i - 1] == ' ' || i - pos > kMaxKeyLength) return t;  // "key :": libyaml
      t.kind = Kind::kKey;
      t.text_begin = pos;
      t.text_end = i;
      t.after = i + 1;
      return t;
    }
    if (ch == '#' && p_[i - 1] == ' ') break;
  }
  size_t end = i;
  while (end > pos && p_[end - 1] == ' ') --end;
  t.kind = Kind::kScalar;
  t.text_begin = pos;
  t.text_end = end;
  return t;
}

uint32_t BlockParser::AddScalar(uint32_t line_index, size_t pos, std::string_view value,
                                ScalarStyle style) {
  bool is_null =
      style == ScalarStyle::kPlain &&
      (value.empty() || value == "~" || value == "null" || value == "Null" || value == "NULL");
  uint32_t col0 = static_cast<uint32_t>(pos - line_.begin);
  doc_.nodes_.push_back(
      {is_null ? NodeType::kNull : NodeType::kScalar, style, first_line_ + line_index, col0 + 1,
       static_cast<uint32_t>(doc_.text_.size()), static_cast<uint32_t>(value.size())});
  doc_.text_.append(value);
  return static_cast<uint32_t>(doc_.nodes_.size() - 1);
}

uint32_t BlockParser::AddEmpty(uint32_t line_index, uint32_t col0) {
  doc_.nodes_.push_back({NodeType::kNull, ScalarStyle::kPlain, first_line_ + line_index, col0 + 1,
                         static_cast<uint32_t>(doc_.text_.size()), 0});
  return static_cast<uint32_t>(doc_.nodes_.size() - 1);
}

uint32_t BlockParser::Begin(NodeType type, uint32_t line_index, uint32_t col0) {
  doc_.nodes_.push_back({type, ScalarStyle::kPlain, first_line_ + line_index, col0 + 1, 0, 0});
  return static_cast<uint32_t>(doc_.nodes_.size() - 1);
}

void BlockParser::End(uint32_t index, size_t kids_base) {
  auto& rec = doc_.nodes_[index];
  size_t n = kids_.size() - kids_base;
  rec.first = static_cast<uint32_t>(doc_.children_.size());
  rec.count = static_cast<uint32_t>(rec.type == NodeType::kMap ? n / 2 : n);
  doc_.children_.insert(doc_.children_.end(), kids_.begin() + kids_base, kids_.end());
  kids_.resize(kids_base);
}

bool BlockParser::InlineValue(const Token& t, uint32_t parent_col, uint32_t* out) {
  uint32_t line_index = line_.index;
  switch (t.kind) {
    case Kind::kScalar:
      *out =
          AddScalar(line_index, t.start, {p_ + t.text_begin, t.text_end - t.text_begin}, t.style);
      break;
    case Kind::kEmptyMap:
    case Kind::kEmptySeq: {
      uint32_t idx = Begin(t.kind == Kind::kEmptyMap ? NodeType::kMap : NodeType::kSeq, line_index,
                           static_cast<uint32_t>(t.start - line_.begin));
      End(idx, kids_.size());
      *out = idx;
      break;
    }
    default:
      return false;
  }
  NextContentLine();
  // A more indented line would continue a plain scalar or be an error: libyaml decides.
  return !(line_.valid && line_.indent > parent_col);
}

bool BlockParser::ParseNodeAtLine(uint32_t* out) {
  uint32_t col = line_.indent;
  size_t pos = line_.begin + col;
  if (IsSeqEntry(pos)) return ParseSeq(col, false, out);
  Token t = Classify(pos);
  if (t.kind == Kind::kKey) return ParseMap(col, t, out);
  return false;  // a scalar or flow collection on a line of its own
}

bool BlockParser::ParseMap(uint32_t col, Token key, uint32_t* out) {
  if (++depth_ > kMaxDepth) return false;
  // A block mapping starts where its first key does.
  uint32_t idx = Begin(NodeType::kMap, line_.index, static_cast<uint32_t>(key.start - line_.begin));
  size_t base = kids_.size();
  for (;;) {
    uint32_t key_line = line_.index;
    kids_.push_back(AddScalar(key_line, key.start,
                              {p_ + key.text_begin, key.text_end - key.text_begin}, key.style));
    uint32_t after_colon = static_cast<uint32_t>(key.after - line_.begin);
    Token v = Classify(SkipSpaces(key.after));
    uint32_t value = 0;
    if (v.kind == Kind::kEnd) {
      NextContentLine();
      if (line_.valid && line_.indent > col) {
        if (!ParseNodeAtLine(&value)) return false;
      } else if (line_.valid && line_.indent == col && IsSeqEntry(line_.begin + col)) {
        if (!ParseSeq(col, true, &value)) return false;
      } else {
        value = AddEmpty(key_line, after_colon);  // libyaml marks it just past the ':'
      }
    } else if (!InlineValue(v, col, &value)) {
      return false;
    }
    kids_.push_back(value);
    if (!line_.valid || line_.indent < col) break;
    if (line_.indent > col) return false;
    key = Classify(line_.begin + col);
    if (key.kind != Kind::kKey) return false;
  }
  End(idx, base);
  --depth_;
  *out = idx;
  return true;
}

bool BlockParser::ParseSeq(uint32_t col, bool indentless, uint32_t* out) {
  if (++depth_ > kMaxDepth) return false;
  uint32_t idx = Begin(NodeType::kSeq, line_.index, col);
  size_t base = kids_.size();
  for (;;) {
    uint32_t dash_line = line_.index;
    size_t pos = SkipSpaces(line_.begin + col + 1);
    Token v = Classify(pos);
    uint32_t item = 0;
    if (v.kind == Kind::kEnd) {
      NextContentLine();
      if (line_.valid && line_.indent > col) {
        if (!ParseNodeAtLine(&item)) return false;
      } else {
        item = AddEmpty(dash_line, col + 1);  // libyaml marks it just past the '-'
      }
    } else if (v.kind == Kind::kKey) {
      if (!ParseMap(static_cast<uint32_t>(pos - line_.begin), v, &item)) return false;
    } else if (!InlineValue(v, col, &item)) {
      return false;
    }
    kids_.push_back(item);
    if (!line_.valid || line_.indent < col) break;
    if (line_.indent > col) return false;
    if (!IsSeqEntry(line_.begin + col)) {
      if (indentless) break;  // the enclosing mapping goes on
      return false;
    }
  }
  End(idx, base);
  --depth_;
  *out = idx;
  return true;
}

bool BlockParser::Parse() {
  doc_.nodes_.reserve(size_ / 12 + 4);
  doc_.children_.reserve(size_ / 12 + 4);
  doc_.text_.reserve(size_ / 3);
  // An explicit document start may open the section: "---", then nothing or a comment.
  if (size_ >= 3 && p_[0] == '-' && p_[1] == '-' && p_[2] == '-') {
    size_t i = 3;
    while (i < size_ && p_[i] == ' ') ++i;
    if (i < size_ && p_[i] != '\n') {
      if (i == 3 || p_[i] != '#') return false;  // "---x" or content after the marker
      while (i < size_ && p_[i] != '\n') {
        if (kByteClass[static_cast<unsigned char>(p_[i])] != kOrdinary) return false;
        ++i;
      }
    }
    next_ = i < size_ ? i + 1 : size_;
    next_index_ = 1;
  }
  NextContentLine();
  if (failed_ || !line_.valid) return false;
  uint32_t root = 0;
  if (!ParseNodeAtLine(&root)) return false;
  // Anything after the root (less indented content) is for libyaml to report.
  return !failed_ && !line_.valid && root == 0;
}

bool ParseBlockSubset(std::string_view text, uint32_t first_line, Document& doc) {
  BlockParser parser(text, first_line, doc);
  return parser.Parse();
}

}  // namespace weft::yaml
