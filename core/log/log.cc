#include "core/log/log.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>

#include "absl/strings/ascii.h"

namespace weft::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};

}  // namespace

absl::StatusOr<Level> ParseLevel(std::string_view name) {
  std::string n(name);
  absl::AsciiStrToLower(&n);
  if (n == "error") return Level::kError;
  if (n == "warn" || n == "warning") return Level::kWarning;
  if (n == "info") return Level::kInfo;
  if (n == "debug") return Level::kDebug;
  return absl::InvalidArgumentError("unknown log level \"" + std::string(name) + "\" (" +
                                    kLevelNames + ")");
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kError:
      return "error";
    case Level::kWarning:
      return "warn";
    case Level::kInfo:
      return "info";
    case Level::kDebug:
      return "debug";
  }
  return "?";
}

void SetLevel(Level level) {
  g_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

Level GetLevel() {
  return static_cast<Level>(g_level.load(std::memory_order_relaxed));
}

bool Enabled(Level level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

Line::Line(Level level, std::string_view component) {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char stamp[40];
  size_t n = std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03dZ", ms);
  out_ << stamp << ' ' << LevelName(level) << ' ' << component << ": ";
}

Line::~Line() {
  out_ << '\n';
  std::string s = out_.str();
  const char* p = s.data();
  size_t left = s.size();
  while (left > 0) {
    ssize_t w = write(STDERR_FILENO, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    p += w;
    left -= static_cast<size_t>(w);
  }
}

}  // namespace weft::log
