#pragma once

// Prometheus text exposition (version 0.0.4): families with HELP/TYPE lines and labelled
// samples, built per scrape from the agent's counters.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace weft::agent::admin {

class MetricsWriter {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;

  // Starts a family; `type` is "counter" or "gauge".
  void Family(const std::string& name, const std::string& type, const std::string& help);
  void Sample(const std::string& name, const Labels& labels, double value);
  void Sample(const std::string& name, double value) { Sample(name, {}, value); }

  const std::string& text() const { return out_; }

 private:
  std::string out_;
};

}  // namespace weft::agent::admin
