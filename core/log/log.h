#pragma once

// Log lines of weft's processes (agent, node proxy, CA, waypoint) on stderr, filtered by one
// process-wide level (--log-level; the Helm chart's logLevel):
//
//   2026-12-06T21:03:04.123Z info weft-agent: node proxy connected
//
// UTC with milliseconds so that lines of several processes and nodes can be put side by side;
// each line is written with one write(2), so lines of several threads never interleave.
//
//   WEFT_LOG(kWarning, "weft-agent") << file << ": rejected: " << message;
//
// The stream expression is not evaluated when the level is filtered out.

#include <atomic>
#include <sstream>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace weft::log {

enum class Level : int { kError = 0, kWarning = 1, kInfo = 2, kDebug = 3 };

// "error", "warn"/"warning", "info", "debug".
absl::StatusOr<Level> ParseLevel(std::string_view name);
std::string_view LevelName(Level level);
// What --log-level accepts, for help texts.
inline constexpr char kLevelNames[] = "error, warn, info, debug";

void SetLevel(Level level);  // default kInfo
Level GetLevel();
bool Enabled(Level level);

// One line, written when it goes out of scope.
class Line {
 public:
  Line(Level level, std::string_view component);
  ~Line();
  Line(const Line&) = delete;
  Line& operator=(const Line&) = delete;

  template <typename T>
  Line& operator<<(const T& v) {
    out_ << v;
    return *this;
  }

 private:
  std::ostringstream out_;
};

// `cond ? (void)0 : Voidify() & line << ...`, as glog does: an expression, so it is safe as
// the body of an unbraced if/else; operator& binds after every <<.
struct Voidify {
  void operator&(const Line&) {}
};

}  // namespace weft::log

#define WEFT_LOG(level, component)                 \
  !::weft::log::Enabled(::weft::log::Level::level) \
      ? (void)0                                    \
      : ::weft::log::Voidify() & ::weft::log::Line(::weft::log::Level::level, component)
