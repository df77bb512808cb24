#pragma once

// Keeps weft_svc_v1 equal to the desired set of mesh destinations by writing only the
// difference. Its view of the map starts from the map itself (Load), so an agent that
// restarted and adopted the pinned map diffs against what the previous agent wrote instead of
// rewriting everything.

#include <cstddef>
#include <map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/datapath/map_writer.h"

namespace weft::agent::datapath {

class Reconciler {
 public:
  struct Result {
    size_t upserts = 0;    // new or changed keys written
    size_t deletes = 0;    // keys no longer desired, removed
    size_t unchanged = 0;  // desired keys already right
    size_t writes() const { return upserts + deletes; }
    bool operator==(const Result&) const = default;
  };

  explicit Reconciler(MapWriter* writer) : writer_(writer) {}

  // Reads the map into the view. Apply() calls it the first time if nobody did.
  absl::Status Load();

  // Makes the map hold exactly `desired`. Deletes go first, so a nearly full map makes room
  // before new keys arrive. InvalidArgument, before any write, when one key is desired with two
  // different values. On a write error the view keeps what did succeed and the error is
  // returned: the next Apply retries only the rest.
  absl::StatusOr<Result> Apply(const std::vector<ServiceEntry>& desired);

  // What the reconciler believes the map holds.
  const std::map<ServiceKey, ServiceEntry>& view() const { return view_; }

 private:
  MapWriter* writer_;
  bool loaded_ = false;
  std::map<ServiceKey, ServiceEntry> view_;
};

}  // namespace weft::agent::datapath
