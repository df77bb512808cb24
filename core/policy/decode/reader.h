#pragma once

// ObjectReader: strict, position-aware decoding of one YAML mapping into typed values.
//
// Every getter consumes a key. When the reader is finished (destroyed), each key nobody asked
// for is an "unknown field" error naming its line and path, so a misspelt field is never
// silently ignored. Wrong types are "type" errors; the getter then returns nullopt and the
// caller keeps going, so one pass reports every problem of a resource.

#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/policy/diagnostics.h"
#include "core/yaml/document.h"

namespace weft::policy {

// A non-owning reference to a callable, for callbacks that run before the call returns: what
// std::function would do here, without its allocation on every call.
template <class Sig>
class FunctionRef;
template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, FunctionRef> &&
                                              std::is_invocable_r_v<R, F&, Args...>>>
  FunctionRef(F&& f)  // NOLINT(google-explicit-constructor): used like std::function
      : obj_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* obj, Args... args) -> R {
          return (*static_cast<std::add_pointer_t<std::remove_reference_t<F>>>(obj))(
              std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(obj_, std::forward<Args>(args)...); }

 private:
  void* obj_;
  R (*call_)(void*, Args...);
};

class ObjectReader {
 public:
  // `node` should be a mapping; anything else is a type error (null counts as empty).
  ObjectReader(DiagnosticSink& sink, yaml::Node node, std::string path);
  ~ObjectReader();
  ObjectReader(const ObjectReader&) = delete;
  ObjectReader& operator=(const ObjectReader&) = delete;

  bool is_map() const { return node_.IsMap(); }
  // The object's field path, e.g. "spec.http[0]". Readers for nested objects build it only
  // when something asks (most objects have no diagnostics).
  const std::string& path() const;
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
  std::optional<std::string> Enum(std::string_view key,
                                  std::initializer_list<std::string_view> allowed);
  std::optional<std::string> Enum(std::string_view key,
                                  const std::vector<std::string_view>& allowed) {
    return Enum(key, std::initializer_list<std::string_view>{}, &allowed);
  }
  std::optional<std::map<std::string, std::string>> StringMap(std::string_view key);
  std::optional<std::vector<std::string>> StringList(std::string_view key);

  // Nested mapping: calls fn(reader) when present.
  void Object(std::string_view key, FunctionRef<void(ObjectReader&)> fn);
  // List of mappings: calls fn(reader, index) for each item.
  void ObjectList(std::string_view key, FunctionRef<void(ObjectReader&, size_t)> fn);
  // List of anything: calls fn(node, path, index) for each item.
  void List(std::string_view key, FunctionRef<void(yaml::Node, const std::string&, size_t)> fn);

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
  static constexpr size_t kNoIndex = static_cast<size_t>(-1);
  // A nested object's reader: its path is parent.Child(key), or that plus "[index]".
  ObjectReader(DiagnosticSink& sink, yaml::Node node, const ObjectReader* parent,
               std::string_view key, size_t index);
  void Init();

  std::optional<yaml::Node> Take(std::string_view key);
  std::optional<std::string_view> ScalarOf(std::string_view key, yaml::Node n,
                                           std::string_view what);
  std::optional<std::string> Enum(std::string_view key,
                                  std::initializer_list<std::string_view> allowed,
                                  const std::vector<std::string_view>* allowed_vector);
  bool seen(size_t i) const { return seen_.empty() ? (seen_bits_ >> i) & 1 : seen_[i]; }
  void set_seen(size_t i) {
    if (seen_.empty()) {
      seen_bits_ |= uint64_t{1} << i;
    } else {
      seen_[i] = true;
    }
  }

  DiagnosticSink& sink_;
  yaml::Node node_;
  const ObjectReader* parent_ = nullptr;
  std::string_view key_;
  size_t index_ = kNoIndex;
  mutable std::string path_;
  mutable bool has_path_ = false;
  // Which keys were consumed: a bit each, in a vector only for mappings over 64 keys.
  uint64_t seen_bits_ = 0;
  std::vector<bool> seen_;
  bool ignore_others_ = false;
};

// Type errors for free-standing nodes (list items).
std::optional<std::string> ScalarString(DiagnosticSink& sink, yaml::Node n,
                                        const std::string& path);

}  // namespace weft::policy
