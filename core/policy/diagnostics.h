#pragma once

// Compiler diagnostics, printed as users expect from a compiler:
//   file:line:col: error|warning|note: Kind/namespace/name: spec.path.to.field: message

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/yaml/document.h"

namespace weft::policy {

enum class Severity { kError, kWarning, kNote };

// Stable diagnostic classes (documented in docs/policies.md).
namespace code {
inline constexpr std::string_view kYamlSyntax = "yaml-syntax";
inline constexpr std::string_view kType = "type";
inline constexpr std::string_view kDuration = "duration";
inline constexpr std::string_view kUnknownField = "unknown-field";
inline constexpr std::string_view kMissingField = "missing-field";
inline constexpr std::string_view kValue = "value";
inline constexpr std::string_view kReference = "reference";
inline constexpr std::string_view kConflict = "conflict";
inline constexpr std::string_view kUnsupported = "unsupported";
inline constexpr std::string_view kWeights = "weights";
inline constexpr std::string_view kUnusedKind = "unused-kind";
inline constexpr std::string_view kIo = "io";
}  // namespace code

// The resource a diagnostic is about.
struct ResourceRef {
  std::string file;
  std::string kind;
  std::string api_version;
  std::string ns;
  std::string name;
  uint32_t line = 0;  // the resource's first line.
  uint32_t column = 0;
  bool operator==(const ResourceRef&) const = default;
};

struct Diagnostic {
  Severity severity = Severity::kError;
  std::string code;
  std::string message;
  ResourceRef resource;
  uint32_t line = 0;  // of the offending node; 0 = unknown (the resource's line is used).
  uint32_t column = 0;
  std::string field;  // e.g. "spec.http[0].route[1].weight"; empty = whole resource.
};

std::string_view SeverityName(Severity s);

// "file:line:col: error: Kind/ns/name: field: message". ANSI colour when `color`.
std::string FormatDiagnostic(const Diagnostic& d, bool color = false);

// Collects diagnostics about one resource at a time.
class DiagnosticSink {
 public:
  explicit DiagnosticSink(ResourceRef resource = {}) : resource_(std::move(resource)) {}

  void set_resource(ResourceRef r) { resource_ = std::move(r); }
  const ResourceRef& resource() const { return resource_; }

  void Add(Severity severity, std::string_view code, yaml::Mark at, std::string field,
           std::string message);
  void Error(std::string_view code, yaml::Mark at, std::string field, std::string message) {
    Add(Severity::kError, code, at, std::move(field), std::move(message));
  }
  void Warning(std::string_view code, yaml::Mark at, std::string field, std::string message) {
    Add(Severity::kWarning, code, at, std::move(field), std::move(message));
  }
  void Note(std::string_view code, yaml::Mark at, std::string field, std::string message) {
    Add(Severity::kNote, code, at, std::move(field), std::move(message));
  }

  size_t error_count() const { return errors_; }
  const std::vector<Diagnostic>& diagnostics() const { return diags_; }
  std::vector<Diagnostic> Take() {
    errors_ = 0;
    return std::move(diags_);
  }

 private:
  ResourceRef resource_;
  std::vector<Diagnostic> diags_;
  size_t errors_ = 0;
};

}  // namespace weft::policy
