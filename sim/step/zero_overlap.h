// ZeRO-2/3 data-parallel traffic beside one pass (forward or backward) of a pipeline chunk.
//
// Under ZeRO-3 each unit (a transformer layer, the embedding, the head) gathers its parameter
// shards before it runs, in the forward and again in the backward; under ZeRO-2 and -3 each unit
// reduce-scatters its gradients once its backward has run. These collectives share the GPU's
// data-parallel links but not its compute stream, so they hide behind the units' kernels except
// where the schedule leaves nothing to hide behind: the first unit's gather (the pass cannot
// start before its weights arrive), the last unit's reduce-scatter (nothing runs after it), and
// any unit whose traffic takes longer than the kernels it overlaps.
#pragma once

#include <string>
#include <vector>

namespace braid::sim {

// One unit of a pass, in execution order.
struct ZeroUnit {
  const char* kind;     // "layer", "embedding" or "head", for trace spans
  int index;            // the layer's number in the model; -1 for the others
  double compute = 0;   // seconds on the compute stream (kernels and TP collectives)
  double gather = 0;    // seconds of the all-gather of its parameters, needed before it runs
  double reduce = 0;    // seconds of the reduce-scatter of its gradients, after it ran
};

struct ZeroLinkSpan {
  std::string label;
  double start = 0, end = 0;  // seconds from the start of the pass
};

struct ZeroPass {
  double seconds = 0;  // from the pass's start until its last kernel or collective ends
  double exposed = 0;  // seconds - the units' compute: traffic the kernels did not hide
  std::vector<ZeroLinkSpan> spans;  // the collectives on the link, when asked for
};

// Schedules one pass on a compute stream and one data-parallel link. Gathers are prefetched one
// unit ahead (issued when the unit before starts), as FSDP and DeepSpeed do by default; each
// reduce-scatter is issued when its unit ends; the link runs collectives in the order issued, one
// at a time (each saturates the links it uses). Without `overlap_reduce` (gradient reduction not
// overlapped, --grad-reduce-overlap) each unit's reduce-scatter blocks the compute stream, as
// DeepSpeed's reduction does with overlap_comm off.
ZeroPass ScheduleZeroPass(const std::vector<ZeroUnit>& units, bool overlap_reduce, bool keep_spans);

}  // namespace braid::sim
