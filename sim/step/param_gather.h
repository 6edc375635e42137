// ZeRO-1's parameter all-gather under the next step's forward pass (Megatron-LM's distributed
// optimizer with --overlap-param-gather).
//
// After the optimizer step each data-parallel rank holds its updated shard of the stage's
// parameters; the all-gather that rebuilds the full weights runs on the data-parallel links while
// the next step's first micro-batch goes forward. Megatron-LM gathers bucket by bucket, and the
// forward pre-hook of a bucket's first module waits for it. The buckets are the gradient buckets:
// on the first pipeline stage's first chunk max(40M, 1M x dp) parameters of whole tensors, formed
// in backward order; every other stage and chunk is one bucket (Megatron-LM turns bucketing off
// there).
// Only micro-batch 0's forward of each chunk can wait: later micro-batches find the weights in
// place. Dispatch follows Megatron-LM:
//  - one chunk per stage: the first pre-hook dispatches bucket 0 and waits for it, and waiting for
//    bucket i dispatches bucket i+1, which runs under bucket i's kernels;
//  - interleaved (v > 1): the schedule dispatches every bucket of chunks 0 and 1 at the step's
//    start, and stage r those of chunk c >= 2 when it starts its forward number (c-1) x pp - r,
//    pp forwards before chunk c's first on the first stage and in step with it on the others
//    (schedules.py's param_sync_func under --align-param-gather, Megatron-LM's default there);
//    a chunk's buckets go in backward order (DDP.start_param_sync), so the bucket its forward
//    needs first arrives last; the pre-hooks then only wait.
// One step is simulated, so "after the previous step's optimizer" is this step's time 0.
#pragma once

#include <string>
#include <vector>

#include "sim/step/zero_overlap.h"  // ZeroLinkSpan

namespace braid::sim {

// A tensor of a chunk's forward pass (a layer's linear weights, the embedding table, the output
// layer), in forward order: a bucket holds it whole.
struct GatherUnit {
  std::string label;      // e.g. "layer 12 fc1", for trace spans
  double compute = 0;     // seconds of the forward kernels (and TP collectives) that use it
  double parameters = 0;  // elements this GPU holds
};

// The parameters one all-gather rebuilds, and the forward kernels that need them first.
struct GatherBucket {
  std::string label;      // the units it holds, e.g. "layer 3 to layer 5"
  double compute = 0;     // seconds of micro-batch 0's forward kernels between its wait and the next's
  double parameters = 0;  // elements
  double gather = 0;      // seconds of its all-gather (filled in by the caller)
};

// Megatron-LM's bucket rule over `sizes` in the order buckets are filled (backward order): a
// bucket closes once it holds at least `limit` (infinity: one bucket), the last one at the end.
// Returns the index of each bucket's last item, in that order.
std::vector<size_t> BucketEnds(const std::vector<double>& sizes, double limit);

// Megatron-LM's buckets of a chunk: units taken in backward order into a bucket until it holds at
// least `bucket_parameters` (infinity: one bucket). Returned in forward order.
std::vector<GatherBucket> BucketUnits(const std::vector<GatherUnit>& units, double bucket_parameters);

struct GatherSchedule {
  std::vector<double> first_forward;  // [chunk]: seconds of micro-batch 0's forward, waits included
  std::vector<double> exposed;        // [chunk]: of which waiting for gathers
  std::vector<ZeroLinkSpan> spans;    // the gathers on the link, seconds from the step's start
};

// Schedules one stage's gathers. `chunks[c]`: chunk c's buckets in gather order (gather seconds
// set); `first_start[c]`: when micro-batch 0's forward of chunk c starts; `dispatched[c]`: when
// chunk c's buckets are dispatched, interleaved; empty: the pre-hook chain of a single chunk.
// The caller takes these times from a simulation that charged no waits (StepModel::Simulate).
GatherSchedule ScheduleParamGather(const std::vector<std::vector<GatherBucket>>& chunks,
                                   const std::vector<double>& first_start, const std::vector<double>& dispatched);

// When stage `stage` dispatches each chunk's gathers under the interleaved schedule, from the
// start times of its forward tasks in execution order (see above).
std::vector<double> InterleavedDispatchTimes(const std::vector<double>& forward_starts, int pp, int v, int stage);

}  // namespace braid::sim
