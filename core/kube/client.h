#pragma once

// A small client for the Kubernetes API over HTTPS (HTTP/1.1, Boost.Beast on OpenSSL).
//
// Blocking calls with deadlines, safe to call from many threads at once (each call has its own
// connection and io_context): the reflectors (reflector.h) each hold one long watch, the CA
// posts TokenReviews, the node stand-in of tools/cluster patches pod status. Bearer tokens
// from a file are re-read when the file changes, so a rotated projected token is picked up.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "core/kube/config.h"
#include "nlohmann/json.hpp"

namespace weft::kube {

struct Response {
  int status = 0;  // HTTP status
  std::string body;

  bool ok() const { return status >= 200 && status < 300; }
  // The body as JSON (null when it is not JSON).
  nlohmann::json Json() const;
  // For an error: the Status object's message, else the body's start.
  std::string Message() const;
};

// Stops a Stream() in progress from another thread.
class Canceller {
 public:
  void Cancel();
  bool cancelled() const;

 private:
  friend class Client;
  struct Active;
  bool Attach(std::shared_ptr<Active> a);  // false when already cancelled
  void Detach();
  mutable std::mutex mu_;
  bool cancelled_ = false;
  std::shared_ptr<Active> active_;
};

class Client {
 public:
  static absl::StatusOr<std::shared_ptr<Client>> Create(Config config);
  ~Client();

  // One request; `path` includes the query string. Transport errors are statuses; HTTP
  // errors are responses with their status.
  absl::StatusOr<Response> Request(std::string_view method, std::string_view path,
                                   std::string_view body = {},
                                   std::string_view content_type = "application/json",
                                   std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // Convenience: the JSON body of a 2xx response, else an error with the API's message
  // (NotFound for 404, Aborted for 409, FailedPrecondition for 410, ...).
  absl::StatusOr<nlohmann::json> Get(std::string_view path);
  absl::StatusOr<nlohmann::json> Post(std::string_view path, const nlohmann::json& body);
  absl::StatusOr<nlohmann::json> Put(std::string_view path, const nlohmann::json& body);
  // A merge patch (application/merge-patch+json).
  absl::StatusOr<nlohmann::json> Patch(std::string_view path, const nlohmann::json& body);
  absl::Status Delete(std::string_view path);

  // A streaming GET (watches): calls `on_line` with each line of a 2xx body as it arrives,
  // until the server ends the response, `on_line` returns false, nothing arrived for
  // `idle_timeout`, or `cancel` fires. Returns the HTTP status in `*status`; a non-2xx body
  // is returned whole in `*error_body` instead of being streamed. `on_head`, if given, is
  // called with the status as soon as the response head arrives (a watch is open from then,
  // before its first event).
  absl::Status Stream(std::string_view path, const std::function<bool(std::string_view)>& on_line,
                      int* status, std::string* error_body, Canceller* cancel,
                      std::chrono::milliseconds idle_timeout,
                      const std::function<void(int)>& on_head = nullptr);

  const Config& config() const { return config_; }

 private:
  struct Impl;
  explicit Client(Config config);
  std::string Token();
  // The absl status for a non-2xx response.
  static absl::Status ErrorOf(std::string_view method, std::string_view path, const Response& r);

  Config config_;
  std::unique_ptr<Impl> impl_;
  std::mutex token_mu_;
  std::string token_;
  int64_t token_mtime_ = -1;
};

// Percent-encodes a query parameter value.
std::string QueryEscape(std::string_view s);

}  // namespace weft::kube
