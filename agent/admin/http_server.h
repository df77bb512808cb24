#pragma once

// A small HTTP/1.1 server for the agent's admin (:15000, JSON), metrics (:15020, Prometheus
// text) and readiness (:15021) endpoints. It runs on its own thread, apart from the proxy's
// workers, and serves GET requests from registered handlers.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace weft::agent::admin {

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

using Handler = std::function<Response(const std::string& query)>;

class HttpServer {
 public:
  // Listens on address:port (port 0 = any; see port()).
  static absl::StatusOr<std::unique_ptr<HttpServer>> Create(const std::string& address,
                                                            uint16_t port);
  ~HttpServer();

  // Exact path match; register before Start().
  void Handle(const std::string& path, Handler handler);
  void Start();
  uint16_t port() const;

  class Impl;

 private:
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weft::agent::admin
