// Output of `plan-sim collective`: a predicted collective sweep as an nccl-tests-shaped table,
// JSON or CSV.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "sim/cost/collective_sweep.h"
#include "sim/report/report.h"

namespace braid::sim {

struct CollectiveReportContext {
  const ClusterSpec* cluster = nullptr;  // sized for spec.ranks
  CollectiveSweepSpec spec;
  std::string type;  // element type name, e.g. "float32"
  std::string op;    // reduction operator name, e.g. "sum" (reductions only)
  bool explain = false;  // table: the rows' tuner estimates listed under it
};

// JSON: {"cluster", "runtime" ("host" or "gpu"), "collective", "op", "ranks", "nodes", "type",
// "rows": [{"size", "count", "time_us", "algbw", "busbw", "algorithm", "slice_bytes", "tuner"}]};
// bandwidths in GB/s; "tuner" is the tuner's estimates it chose from (CollectiveSweepRow). CSV:
// the same row fields with a header line ("tuner" quoted).
void WriteCollectiveSweep(std::ostream& out, Format format, const CollectiveReportContext& context,
                          const std::vector<CollectiveSweepRow>& rows);

}  // namespace braid::sim
