#pragma once

#include <string>
#include <vector>

namespace weft::testapp {

struct ServeOptions {
  std::vector<int> ports;       // greeting + echo
  std::vector<int> http_ports;  // HTTP/1.1: every request is answered with the name
  std::string name;
  std::string bind = "0.0.0.0";
  int max_connections = 4096;
};

// Listens on every port (a line "listening tcp|http ADDR:PORT" each on stdout, so that port 0
// can be used) and serves until killed. Returns an exit code on setup errors only.
int Serve(const ServeOptions& options);

}  // namespace weft::testapp
