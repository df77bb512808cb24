// libFuzzer target for weft::kube::ParseWatchEvent (core/kube/reflector.h): one line of a
// watch stream as the reflector reads it from the API server.
//
// Build and run as http1_request_fuzzer.cc says, with this target's name, or
// `tests/fuzz/run watch_event_fuzzer`, which seeds it from tests/fuzz/seeds/TARGET and gives it
// tests/fuzz/dicts/TARGET.dict. Mutations: libFuzzer's, and
// json_mutator.h's (a value of the JSON input replaced by one of another type).
//
// Beyond memory safety (and no exception escaping: the reflector's thread would end the
// process) it checks, on every input:
//   - a line that is not a JSON object is refused;
//   - an ADDED, MODIFIED or DELETED event has an object (a JSON object: what the reflector
//     queues and its consumers read);
//   - the resourceVersion is the object's metadata.resourceVersion when that is a string,
//     else empty;
//   - an event it accepts, serialized again ({"type", "object"}), parses to the same event.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/kube/reflector.h"
#include "tests/fuzz/json_mutator.h"

namespace {

using weft::kube::WatchEvent;
using json = nlohmann::json;

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string TypeName(WatchEvent::Type t) {
  switch (t) {
    case WatchEvent::kAdded:
      return "ADDED";
    case WatchEvent::kModified:
      return "MODIFIED";
    case WatchEvent::kDeleted:
      return "DELETED";
    case WatchEvent::kBookmark:
      return "BOOKMARK";
    case WatchEvent::kError:
      return "ERROR";
    case WatchEvent::kUnknown:
      break;
  }
  return "SOMETHING-ELSE";
}

}  // namespace

// Swaps the types of the input's values (json_mutator.h), besides libFuzzer's byte mutations.
extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
  return weft::fuzz::MutateJson(data, size, max_size, seed);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view line(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<WatchEvent> ev = weft::kube::ParseWatchEvent(line);
  if (!json::parse(line, nullptr, false).is_object()) Check(!ev.ok());
  if (!ev.ok()) return 0;

  bool object_event = ev->type == WatchEvent::kAdded || ev->type == WatchEvent::kModified ||
                      ev->type == WatchEvent::kDeleted;
  if (object_event) Check(ev->object.is_object());
  if (ev->type != WatchEvent::kError) {
    const json* rv = nullptr;
    if (ev->object.is_object()) {
      auto m = ev->object.find("metadata");
      if (m != ev->object.end() && m->is_object()) {
        auto r = m->find("resourceVersion");
        if (r != m->end() && r->is_string()) rv = &*r;
      }
    }
    Check(ev->resource_version == (rv ? rv->get<std::string>() : std::string()));
  }

  // Serialized again: the same event. Compared as text, since a number beyond a double's
  // range parses to infinity and serializes as null (nlohmann's choice), stable after that.
  json again_json = {{"type", TypeName(ev->type)}, {"object", ev->object}};
  absl::StatusOr<WatchEvent> again = weft::kube::ParseWatchEvent(again_json.dump());
  Check(again.ok());
  Check(again->type == ev->type);
  Check(again->object.dump() == ev->object.dump());
  Check(again->resource_version == ev->resource_version);
  Check(again->error_code == ev->error_code);
  Check(again->error_message == ev->error_message);
  return 0;
}
