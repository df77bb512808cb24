#include "agent/admin/metrics.h"

#include <cmath>
#include <cstdio>

namespace weft::agent::admin {

namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

void MetricsWriter::Family(const std::string& name, const std::string& type,
                           const std::string& help) {
  out_ += "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
}

void MetricsWriter::Sample(const std::string& name, const Labels& labels, double value) {
  out_ += name;
  if (!labels.empty()) {
    out_ += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i) out_ += ",";
      out_ += labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
    }
    out_ += "}";
  }
  char buf[64];
  if (std::floor(value) == value && std::fabs(value) < 1e15) {
    snprintf(buf, sizeof(buf), " %.0f\n", value);
  } else {
    snprintf(buf, sizeof(buf), " %g\n", value);
  }
  out_ += buf;
}

}  // namespace weft::agent::admin
