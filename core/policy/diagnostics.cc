#include "core/policy/diagnostics.h"

namespace weft::policy {

std::string_view SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "error";
    case Severity::kWarning:
      return "warning";
    case Severity::kNote:
      return "note";
  }
  return "error";
}

void DiagnosticSink::Add(Severity severity, std::string_view code, yaml::Mark at, std::string field,
                         std::string message) {
  Diagnostic d;
  d.severity = severity;
  d.code = std::string(code);
  d.message = std::move(message);
  d.resource = resource_;
  d.line = at.line;
  d.column = at.column;
  d.field = std::move(field);
  if (severity == Severity::kError) ++errors_;
  diags_.push_back(std::move(d));
}

std::string FormatDiagnostic(const Diagnostic& d, bool color) {
  std::string out;
  const ResourceRef& r = d.resource;
  uint32_t line = d.line ? d.line : r.line;
  uint32_t column = d.line ? d.column : r.column;
  if (color) out += "\033[1m";
  out += r.file.empty() ? "<input>" : r.file;
  if (line) {
    out += ":" + std::to_string(line);
    if (column) out += ":" + std::to_string(column);
  }
  out += ": ";
  if (color) {
    out += d.severity == Severity::kError     ? "\033[31m"
           : d.severity == Severity::kWarning ? "\033[35m"
                                              : "\033[36m";
  }
  out += SeverityName(d.severity);
  out += ":";
  if (color) out += "\033[0m";
  out += " ";
  if (!r.kind.empty() || !r.name.empty()) {
    out += r.kind.empty() ? "?" : r.kind;
    out += "/";
    if (!r.ns.empty()) out += r.ns + "/";
    out += r.name.empty() ? "?" : r.name;
    out += ": ";
  }
  if (!d.field.empty()) out += d.field + ": ";
  out += d.message;
  return out;
}

}  // namespace weft::policy
