#include "core/process/malloc_tuning.h"

#include <unistd.h>

#include <cstdlib>

namespace weft::process {

std::optional<std::string> TunedGlibcTunables(const char* current, const char* opt_out) {
  if (opt_out != nullptr && std::string_view(opt_out) == "off") return std::nullopt;
  std::string value = current ? current : "";
  if (value.find("glibc.malloc.tcache_count=") != std::string::npos) return std::nullopt;
  if (!value.empty()) value += ':';
  value += "glibc.malloc.tcache_count=" + std::to_string(kTcacheCount);
  return value;
}

void EnsureMallocTuning(char** argv) {
  auto tuned = TunedGlibcTunables(std::getenv("GLIBC_TUNABLES"), std::getenv("WEFT_MALLOC_TUNING"));
  if (!tuned) return;
  // The variable stays set if the exec fails: a child would then start tuned, and this
  // process never tries twice.
  if (setenv("GLIBC_TUNABLES", tuned->c_str(), 1) != 0) return;
  execv("/proc/self/exe", argv);
}

}  // namespace weft::process
