// `weftctl validate` (validate.h).

#include "tools/weftctl/validate.h"

#include <algorithm>
#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/source/files.h"

namespace weft::weftctl {

namespace {

using nlohmann::ordered_json;
namespace pb = ::weft::config::v1;

struct Verdict {
  policy::ResourceRef ref;
  std::vector<policy::Diagnostic> errors, warnings, notes;
};

policy::Diagnostic FromProto(const pb::Diagnostic& d, const policy::ResourceRef& ref) {
  policy::Diagnostic out;
  out.severity = d.severity() == pb::Diagnostic::ERROR     ? policy::Severity::kError
                 : d.severity() == pb::Diagnostic::WARNING ? policy::Severity::kWarning
                                                           : policy::Severity::kNote;
  out.code = d.code();
  out.message = d.message();
  out.field = d.source().field();
  out.resource = ref;
  out.line = d.source().line();
  out.column = d.source().column();
  return out;
}

// One document alone through the compiler: decoding's diagnostics and the compile passes'
// checks of that resource by itself.
Verdict ValidateOne(policy::DecodedDocument doc, const policy::CompileOptions& options) {
  Verdict v;
  v.ref = doc.ref;
  std::vector<policy::DecodedDocument> one;
  one.push_back(std::move(doc));
  policy::CompileOptions alone = options;
  alone.standalone = true;
  policy::CompileResult r = policy::CompileDocuments(std::move(one), alone);
  for (const auto& d : r.snapshot.diagnostics()) {
    policy::Diagnostic pd = FromProto(d, v.ref);
    (pd.severity == policy::Severity::kError     ? v.errors
     : pd.severity == policy::Severity::kWarning ? v.warnings
                                                 : v.notes)
        .push_back(std::move(pd));
  }
  return v;
}

ordered_json ToJson(size_t index, const Verdict& v) {
  auto lines = [](const std::vector<policy::Diagnostic>& ds) {
    ordered_json a = ordered_json::array();
    for (const auto& d : ds) a.push_back(d.field.empty() ? d.message : d.field + ": " + d.message);
    return a;
  };
  // The warnings that say a field is accepted and not enforced (code `unsupported`).
  std::vector<policy::Diagnostic> unsupported;
  for (const auto& d : v.warnings) {
    if (d.code == policy::code::kUnsupported) unsupported.push_back(d);
  }
  return {{"index", index},
          {"file", v.ref.file},
          {"line", v.ref.line},
          {"kind", v.ref.kind},
          {"apiVersion", v.ref.api_version},
          {"namespace", v.ref.ns},
          {"name", v.ref.name},
          {"valid", v.errors.empty()},
          {"errors", lines(v.errors)},
          {"warnings", lines(v.warnings)},
          {"unsupported", lines(unsupported)}};
}

std::string Describe(const policy::ResourceRef& r) {
  std::string what = r.kind.empty() ? "document" : r.kind;
  if (!r.name.empty()) what += "/" + (r.ns.empty() ? "" : r.ns + "/") + r.name;
  std::string where = r.file.empty() ? "<input>" : r.file;
  if (r.line) where += ":" + std::to_string(r.line);
  return what + " (" + where + ")";
}

}  // namespace

int RunValidate(const ValidateOptions& o, std::ostream& out, std::ostream& err) {
  policy::DecodeOptions decode;
  decode.default_namespace = o.default_namespace;
  decode.threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  source::LoadedFiles loaded = source::LoadPaths(o.files, decode);
  for (const auto& e : loaded.io_errors) err << policy::FormatDiagnostic(e, o.color) << "\n";

  std::vector<Verdict> verdicts(loaded.documents.size());
  {
    // Documents are independent: threads take them in turn, results keep input order.
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(1)) < verdicts.size();) {
        verdicts[i] = ValidateOne(std::move(loaded.documents[i]), o.compile);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < decode.threads; ++t) pool.emplace_back(work);
    work();
    for (auto& th : pool) th.join();
  }

  size_t invalid = 0;
  for (const auto& v : verdicts) invalid += !v.errors.empty();
  if (o.format == "jsonl") {
    for (size_t i = 0; i < verdicts.size(); ++i) out << ToJson(i, verdicts[i]).dump() << "\n";
  } else if (o.format == "json") {
    ordered_json a = ordered_json::array();
    for (size_t i = 0; i < verdicts.size(); ++i) a.push_back(ToJson(i, verdicts[i]));
    out << ordered_json{{"documents", verdicts.size()},
                        {"invalid", invalid},
                        {"verdicts", std::move(a)}}
               .dump(2)
        << "\n";
  } else {
    for (const auto& v : verdicts) {
      for (const auto* list : {&v.errors, &v.warnings}) {
        for (const auto& d : *list) out << policy::FormatDiagnostic(d, o.color) << "\n";
      }
      if (!v.errors.empty()) out << "\u2718 " << Describe(v.ref) << " is invalid\n";
    }
    size_t n = verdicts.size();
    if (invalid == 0) {
      out << "\u2714 " << n << (n == 1 ? " document" : " documents") << " valid\n";
    } else {
      out << invalid << " of " << n << (n == 1 ? " document" : " documents") << " invalid\n";
    }
  }
  if (!loaded.io_errors.empty()) return 2;
  return invalid == 0 ? 0 : 1;
}

}  // namespace weft::weftctl
