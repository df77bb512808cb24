#pragma once

// ObjectReader: strict, position-aware decoding of one YAML mapping into typed values.
//
// Every getter consumes a key. When the reader is finished (destroyed), each key nobody asked
// for is an "unknown field" error naming its line and path, so a misspelt field is never
// silently ignored. Wrong types are "type" errors; the getter then returns nullopt and the
// caller keeps going, so one pass reports every problem of a resource.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy/diagnostics.h"
#include "core/yaml/document.h"

namespace weft::policy {

class ObjectReader {
 public:
  // `node` should be a mapping; anything else is a type error (null counts as empty).
  ObjectReader(DiagnosticSink& sink, yaml::Node node, std::string path);
  ~ObjectReader();
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  bool is_map() const { return node_.IsMap(); }
  const std::string& path() const { return path_; }
  yaml::Node node() const { return node_; }
  DiagnosticSink& sink() { return sink_; }

  // The path of a child field, e.g. "spec.hosts".
  std::string Child(std::string_view key) const;

  bool Has(std::string_view key) const;
  // The raw node of a field (consumed). nullopt when absent or null.
  std::optional<yaml::Node> Raw(std::string_view key);
  yaml::Mark MarkOf(std::string_view key) const;

  std::optional<std::string> String(std::string_view key);
  // Accepts any scalar (numbers too) as text, e.g. label values written as 1.0.
  std::optional<std::string> Text(std::string_view key);
  std::optional<int64_t> Int(std::string_view key, int64_t min, int64_t max);
  std::optional<uint32_t> Uint32(std::string_view key) {
    auto v = Int(key, 0, UINT32_MAX);
    return v ? std::optional<uint32_t>(static_cast<uint32_t>(*v)) : std::nullopt;
  }
  std::optional<uint32_t> Port(std::string_view key) {
    auto v = Int(key, 1, 65535);
    return v ? std::optional<uint32_t>(static_cast<uint32_t>(*v)) : std::nullopt;
  }
  std::optional<double> Double(std::string_view key, double min, double max);
  std::optional<bool> Bool(std::string_view key);
  // A duration in Go syntax ("5s", "1m30s"), returned in milliseconds.
  std::optional<uint64_t> DurationMs(std::string_view key);
  // One of `allowed`; an unlisted value is a "value" error listing the choices.
  std::optional<std::string> Enum(std::string_view key, const std::vector<std::string_view>& allowed);
  std::optional<std::map<std::string, std::string>> StringMap(std::string_view key);
  std::optional<std::vector<std::string>> StringList(std::string_view key);

  // Nested mapping: calls fn(reader) when present.
  void Object(std::string_view key, const std::function<void(ObjectReader&)>& fn);
  // List of mappings: calls fn(reader, index) for each item.
  void ObjectList(std::string_view key, const std::function<void(ObjectReader&, size_t)>& fn);
  // List of anything: calls fn(node, path, index) for each item.
  void List(std::string_view key,
            const std::function<void(yaml::Node, const std::string&, size_t)>& fn);

  // A field weft knows and deliberately does not use: consumed silently.
  void Ignore(std::string_view key);
  void IgnoreAllOthers() { ignore_others_ = true; }
  // A field weft knows but does not implement: consumed with an "unsupported" warning.
  void Unsupported(std::string_view key, std::string_view why = {});
  // Errors for a required field that is absent.
  bool Require(std::string_view key);

  // Reports a problem at a field of this object.
  void Error(std::string_view code, std::string_view key, std::string message);
  void Warning(std::string_view code, std::string_view key, std::string message);

 private:
  std::optional<yaml::Node> Take(std::string_view key);
  std::optional<std::string_view> ScalarOf(std::string_view key, yaml::Node n,
                                           std::string_view what);

  DiagnosticSink& sink_;
  yaml::Node node_;
  std::string path_;
  std::vector<bool> seen_;
  bool ignore_others_ = false;
};

// Type errors for free-standing nodes (list items).
std::optional<std::string> ScalarString(DiagnosticSink& sink, yaml::Node n, const std::string& path);

}  // namespace weft::policy
