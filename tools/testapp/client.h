#pragma once

#include <string>

namespace weft::testapp {

struct CallOptions {
  std::string target;  // HOST:PORT
  int count = 1;
  int timeout_ms = 2000;
  int hold_ms = 0;        // > 0: one connection, kept open this long with echo round trips
  int interval_ms = 100;  // between round trips while holding
  bool http = false;      // GET / instead of reading a greeting
  bool verbose = false;   // print each greeting (or response name) as it comes
};

// N sequential connections: prints "NAME COUNT" lines (sorted by name) on stdout and
// "error: REASON (K of N)" lines on stderr. Exit code 0 when every connection worked, 1 if
// any failed, 2 for bad arguments.
int Call(const CallOptions& options);

}  // namespace weft::testapp
