#include "core/policy/decode/reader.h"

#include "core/policy/decode/values.h"

namespace weft::policy {

ObjectReader::ObjectReader(DiagnosticSink& sink, yaml::Node node, std::string path)
    : sink_(sink), node_(node), path_(std::move(path)), has_path_(true) {
  Init();
}

ObjectReader::ObjectReader(DiagnosticSink& sink, yaml::Node node, const ObjectReader* parent,
                           std::string_view key, size_t index)
    : sink_(sink), node_(node), parent_(parent), key_(key), index_(index) {
  Init();
}

void ObjectReader::Init() {
  if (node_.valid() && !node_.IsMap() && !node_.IsNull()) {
    sink_.Error(code::kType, node_.mark(), path(), "expected a mapping, got " + node_.Describe());
  }
  size_t n = node_.IsMap() ? node_.size() : 0;
  if (n > 64) seen_.assign(n, false);
}

ObjectReader::~ObjectReader() {
  if (!node_.IsMap() || ignore_others_) return;
  for (size_t i = 0, n = node_.size(); i < n; ++i) {
    if (seen(i)) continue;
    yaml::Node k = node_.key(i);
    std::string name = k.IsScalar() ? std::string(k.scalar()) : k.Describe();
    sink_.Error(code::kUnknownField, k.mark(), Child(name), "unknown field \"" + name + "\"");
  }
}

const std::string& ObjectReader::path() const {
  if (!has_path_) {
    path_ = parent_->Child(key_);
    if (index_ != kNoIndex) {
      path_ += '[';
      path_ += std::to_string(index_);
      path_ += ']';
    }
    has_path_ = true;
  }
  return path_;
}

std::string ObjectReader::Child(std::string_view key) const {
  const std::string& p = path();
  if (p.empty()) return std::string(key);
  std::string out;
  out.reserve(p.size() + 1 + key.size());
  out += p;
  out += '.';
  out += key;
  return out;
}

bool ObjectReader::Has(std::string_view key) const {
  auto v = node_.Find(key);
  return v && !v->IsNull();
}

yaml::Mark ObjectReader::MarkOf(std::string_view key) const {
  if (!node_.IsMap()) return node_.mark();
  for (size_t i = 0; i < node_.size(); ++i) {
    if (node_.key(i).scalar() == key) {
      yaml::Node v = node_.value(i);
      return v.IsNull() ? node_.key(i).mark() : v.mark();
    }
  }
  return node_.mark();
}

std::optional<yaml::Node> ObjectReader::Take(std::string_view key) {
  if (!node_.IsMap()) return std::nullopt;
  // Reading a key twice is allowed (a decoder and its caller may both look at it); a key that
  // appears twice in the mapping is an error, reported once.
  std::optional<yaml::Node> found;
  for (size_t i = 0; i < node_.size(); ++i) {
    yaml::Node k = node_.key(i);
    if (!k.IsScalar() || k.scalar() != key) continue;
    bool first_read = !seen(i);
    set_seen(i);
    if (found) {
      if (first_read) {
        sink_.Error(code::kConflict, k.mark(), Child(key),
                    "duplicate field \"" + std::string(key) + "\"");
      }
      continue;
    }
    found = node_.value(i);
  }
  if (found && found->IsNull()) return std::nullopt;
  return found;
}

std::optional<yaml::Node> ObjectReader::Raw(std::string_view key) {
  return Take(key);
}

std::optional<std::string_view> ObjectReader::ScalarOf(std::string_view key, yaml::Node n,
                                                       std::string_view what) {
  if (!n.IsScalar()) {
    sink_.Error(code::kType, n.mark(), Child(key),
                "expected " + std::string(what) + ", got " + n.Describe());
    return std::nullopt;
  }
  return n.scalar();
}

std::optional<std::string> ObjectReader::String(std::string_view key) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  return ScalarString(sink_, *n, Child(key));
}

std::optional<std::string> ObjectReader::Text(std::string_view key) {
  return String(key);
}

std::optional<int64_t> ObjectReader::Int(std::string_view key, int64_t min, int64_t max) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  auto s = ScalarOf(key, *n, "an integer");
  if (!s) return std::nullopt;
  auto v = n->style() == yaml::ScalarStyle::kPlain ? ParseInt(*s) : std::nullopt;
  if (!v) {
    sink_.Error(code::kType, n->mark(), Child(key), "expected an integer, got " + n->Describe());
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    sink_.Error(code::kValue, n->mark(), Child(key),
                std::to_string(*v) + " is out of range [" + std::to_string(min) + ", " +
                    std::to_string(max) + "]");
    return std::nullopt;
  }
  return v;
}

std::optional<double> ObjectReader::Double(std::string_view key, double min, double max) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  auto s = ScalarOf(key, *n, "a number");
  if (!s) return std::nullopt;
  auto v = n->style() == yaml::ScalarStyle::kPlain ? ParseDouble(*s) : std::nullopt;
  if (!v) {
    sink_.Error(code::kType, n->mark(), Child(key), "expected a number, got " + n->Describe());
    return std::nullopt;
  }
  if (*v < min || *v > max) {
    sink_.Error(code::kValue, n->mark(), Child(key),
                std::string(*s) + " is out of range [" + std::to_string(min) + ", " +
                    std::to_string(max) + "]");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> ObjectReader::Bool(std::string_view key) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  auto s = ScalarOf(key, *n, "a boolean");
  if (!s) return std::nullopt;
  auto v = n->style() == yaml::ScalarStyle::kPlain ? ParseBool(*s) : std::nullopt;
  if (!v) {
    sink_.Error(code::kType, n->mark(), Child(key),
                "expected a boolean (true or false), got " + n->Describe());
  }
  return v;
}

std::optional<uint64_t> ObjectReader::DurationMs(std::string_view key) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  auto s = ScalarOf(key, *n, "a duration");
  if (!s) return std::nullopt;
  std::string why;
  auto ns = ParseDuration(*s, &why);
  if (!ns) {
    sink_.Error(code::kDuration, n->mark(), Child(key),
                "invalid duration " + n->Describe() + ": " + why);
    return std::nullopt;
  }
  return NanosToMillis(*ns);
}

std::optional<std::string> ObjectReader::Enum(std::string_view key,
                                              std::initializer_list<std::string_view> allowed) {
  return Enum(key, allowed, nullptr);
}

std::optional<std::string> ObjectReader::Enum(std::string_view key,
                                              std::initializer_list<std::string_view> list,
                                              const std::vector<std::string_view>* vec) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  auto s = ScalarOf(key, *n, "a string");
  if (!s) return std::nullopt;
  const std::string_view* begin = vec ? vec->data() : list.begin();
  const std::string_view* end = vec ? vec->data() + vec->size() : list.end();
  for (auto* a = begin; a != end; ++a) {
    if (*a == *s) return std::string(*s);
  }
  std::string choices;
  for (auto* a = begin; a != end; ++a) {
    if (!choices.empty()) choices += ", ";
    choices += *a;
  }
  sink_.Error(code::kValue, n->mark(), Child(key),
              "invalid value " + n->Describe() + "; expected one of: " + choices);
  return std::nullopt;
}

std::optional<std::map<std::string, std::string>> ObjectReader::StringMap(std::string_view key) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  if (!n->IsMap()) {
    sink_.Error(code::kType, n->mark(), Child(key),
                "expected a mapping of strings, got " + n->Describe());
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  for (size_t i = 0; i < n->size(); ++i) {
    yaml::Node k = n->key(i);
    yaml::Node v = n->value(i);
    if (!k.IsScalar()) {
      sink_.Error(code::kType, k.mark(), Child(key), "expected a string key, got " + k.Describe());
      continue;
    }
    if (v.IsNull()) {
      out[std::string(k.scalar())] = "";
      continue;
    }
    auto value = ScalarString(sink_, v, Child(key) + "." + std::string(k.scalar()));
    if (!value) continue;
    out[std::string(k.scalar())] = std::move(*value);
  }
  return out;
}

std::optional<std::string> ScalarString(DiagnosticSink& sink, yaml::Node n,
                                        const std::string& path) {
  if (!n.IsScalar()) {
    sink.Error(code::kType, n.mark(), path, "expected a string, got " + n.Describe());
    return std::nullopt;
  }
  if (std::string_view t = n.NonStringType(); !t.empty()) {
    // kubectl reads it as a number or boolean, which the API server refuses for a string.
    sink.Error(code::kType, n.mark(), path,
               "expected a string, got " + std::string(t) + " (" + std::string(n.scalar()) +
                   "); quote it: \"" + std::string(n.scalar()) + "\"");
    return std::nullopt;
  }
  return std::string(n.scalar());
}

std::optional<std::vector<std::string>> ObjectReader::StringList(std::string_view key) {
  auto n = Take(key);
  if (!n) return std::nullopt;
  if (!n->IsSeq()) {
    sink_.Error(code::kType, n->mark(), Child(key),
                "expected a list of strings, got " + n->Describe());
    return std::nullopt;
  }
  std::vector<std::string> out;
  out.reserve(n->size());
  for (size_t i = 0; i < n->size(); ++i) {
    yaml::Node item = n->item(i);
    if (item.IsScalar() && item.NonStringType().empty()) {
      out.emplace_back(item.scalar());
    } else {  // the path only for the error
      ScalarString(sink_, item, Child(key) + "[" + std::to_string(i) + "]");
    }
  }
  return out;
}

void ObjectReader::Object(std::string_view key, FunctionRef<void(ObjectReader&)> fn) {
  auto n = Take(key);
  if (!n) return;
  ObjectReader r(sink_, *n, this, key, kNoIndex);
  if (r.is_map()) fn(r);
}

void ObjectReader::ObjectList(std::string_view key, FunctionRef<void(ObjectReader&, size_t)> fn) {
  auto n = Take(key);
  if (!n) return;
  if (!n->IsSeq()) {
    sink_.Error(code::kType, n->mark(), Child(key), "expected a list, got " + n->Describe());
    return;
  }
  for (size_t i = 0; i < n->size(); ++i) {
    ObjectReader r(sink_, n->item(i), this, key, i);
    if (r.is_map() || n->item(i).IsNull()) fn(r, i);
  }
}

void ObjectReader::List(std::string_view key,
                        FunctionRef<void(yaml::Node, const std::string&, size_t)> fn) {
  auto n = Take(key);
  if (!n) return;
  if (!n->IsSeq()) {
    sink_.Error(code::kType, n->mark(), Child(key), "expected a list, got " + n->Describe());
    return;
  }
  // One buffer for every item's path ("key[i]").
  std::string base = Child(key);
  std::string item_path;
  for (size_t i = 0; i < n->size(); ++i) {
    item_path.assign(base);
    item_path += '[';
    item_path += std::to_string(i);
    item_path += ']';
    fn(n->item(i), item_path, i);
  }
}

void ObjectReader::Ignore(std::string_view key) {
  Take(key);
}

void ObjectReader::Unsupported(std::string_view key, std::string_view why) {
  if (!Has(key)) {
    Take(key);
    return;
  }
  yaml::Mark m = MarkOf(key);
  Take(key);
  std::string msg = "field \"" + std::string(key) + "\" is not supported by weft and is ignored";
  if (!why.empty()) msg += ": " + std::string(why);
  sink_.Warning(code::kUnsupported, m, Child(key), msg);
}

bool ObjectReader::Require(std::string_view key) {
  if (Has(key)) return true;
  sink_.Error(code::kMissingField, node_.mark(), Child(key),
              "required field \"" + std::string(key) + "\" is missing");
  return false;
}

void ObjectReader::Error(std::string_view c, std::string_view key, std::string message) {
  sink_.Error(c, MarkOf(key), key.empty() ? path() : Child(key), std::move(message));
}

void ObjectReader::Warning(std::string_view c, std::string_view key, std::string message) {
  sink_.Warning(c, MarkOf(key), key.empty() ? path() : Child(key), std::move(message));
}

}  // namespace weft::policy
