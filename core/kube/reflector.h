#pragma once

// Reflector: keeps one kind of object of the API server mirrored into an EventQueue, with
// client-go's informer semantics:
//   - an initial list, paginated (limit/continue), delivered as one Replace of the whole set;
//   - a watch from the list's resourceVersion, with bookmarks, re-opened from the last seen
//     resourceVersion when the server ends it (timeoutSeconds) or the connection drops — so an
//     API server restart costs no relist while its resourceVersion is still valid;
//   - 410 Gone (as an HTTP status, or as an ERROR event) → a new list, delivered as a Replace:
//     the consumer keeps its state until then and diffs against the new set, nothing dropped;
//   - errors (connection refused, 5xx, 429) → retries with jittered exponential backoff;
//   - a kind the server does not serve (404: its CRD is not installed) counts as synced and
//     empty, and is listed again periodically so that a CRD installed later is picked up.
// Each Reflector runs on its own thread (blocking I/O with deadlines, see client.h).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "core/kube/client.h"
#include "nlohmann/json.hpp"

namespace weft::kube {

// A kind as the API serves it.
struct ResourceType {
  std::string group;  // "" for the core group
  std::string version;
  std::string resource;  // plural, lower case: "pods"
  std::string kind;      // "Pod"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
  // The collection's path, all namespaces or one.
  std::string Path(std::string_view ns = {}) const;
  // "pods" or "virtualservices.networking.istio.io".
  std::string Name() const { return group.empty() ? resource : resource + "." + group; }
};

struct Delta {
  enum Op { kReplace, kUpsert, kDelete };
  Op op = kUpsert;
  const ResourceType* type = nullptr;
  // kReplace: every object of the kind; kUpsert/kDelete: one. Objects carry apiVersion and
  // kind (list items come without; the reflector adds them) and no metadata.managedFields.
  std::vector<nlohmann::json> objects;
};

// Many reflectors push, one consumer drains; an eventfd wakes the consumer's poll().
class EventQueue {
 public:
  EventQueue();
  ~EventQueue();
  void Push(Delta d);
  std::vector<Delta> Drain();  // never blocks
  int fd() const { return fd_; }

 private:
  std::mutex mu_;
  std::vector<Delta> pending_;
  int fd_;
};

// One line of a watch stream.
struct WatchEvent {
  enum Type { kAdded, kModified, kDeleted, kBookmark, kError, kUnknown };
  Type type = kUnknown;          // kUnknown: a `type` the reflector does not know (ignored)
  nlohmann::json object;         // the event's `object` (null when absent)
  std::string resource_version;  // object.metadata.resourceVersion, or ""
  int error_code = 0;         // kError: the Status's `code` (410: resourceVersion expired), else 0
  std::string error_message;  // kError: the Status's `message`, or "error"
};

// Parses a watch line: InvalidArgument when it is not a JSON object, or an ADDED, MODIFIED or
// DELETED event's object is not one. Fields of another type than the API's count as absent
// (a `type` that is not a string: kUnknown; an ERROR's code that is not an HTTP status: 0).
absl::StatusOr<WatchEvent> ParseWatchEvent(std::string_view line);

struct ReflectorOptions {
  size_t page_size = 500;
  std::chrono::seconds watch_timeout{300};  // timeoutSeconds of each watch request
  std::chrono::milliseconds min_backoff{200};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::seconds absent_recheck{30};  // a kind not served (404): list again after
  std::string ns;                           // one namespace; empty: all
  std::string field_selector;               // e.g. spec.nodeName=node1
  std::string label_selector;
};

struct ReflectorStatus {
  bool synced = false;     // a first list completed (or the kind is not served)
  bool served = true;      // false: 404, the CRD is not installed
  bool connected = false;  // a watch is open
  std::string resource_version;
  uint64_t lists = 0, watches = 0, expired = 0 /* 410s */, errors = 0, events = 0;
  std::string last_error;
};

class Reflector {
 public:
  Reflector(std::shared_ptr<Client> client, const ResourceType* type, EventQueue* queue,
            ReflectorOptions options = {});
  ~Reflector();  // Stop()s

  void Start();
  void Stop();
  ReflectorStatus status() const;
  const ResourceType& type() const { return *type_; }

 private:
  void Run();
  // A full list into one Replace; false (and an error recorded) on failure.
  bool List();
  // One watch request from resource_version_; returns when it ends. Sets relist_ on 410.
  void Watch();
  void Fail(const std::string& error);
  // Sleeps up to `d`, or until Stop(). False when stopping.
  bool Sleep(std::chrono::milliseconds d);
  std::chrono::milliseconds NextBackoff();
  std::string Query(bool watch) const;
  nlohmann::json Normalize(nlohmann::json object) const;

  std::shared_ptr<Client> client_;
  const ResourceType* type_;
  EventQueue* queue_;
  ReflectorOptions options_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  Canceller cancel_;
  std::mutex sleep_mu_;
  std::condition_variable sleep_cv_;

  mutable std::mutex mu_;
  ReflectorStatus status_;
  std::string resource_version_;
  bool relist_ = true;
  std::chrono::milliseconds backoff_{0};
};

}  // namespace weft::kube
