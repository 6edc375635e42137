// What each pipeline stage does, in order: its compute tasks (StageOrder) and, under Megatron-LM's
// blocking communication, the send/receive exchanges between them (StageProgram).
#pragma once

#include <optional>
#include <vector>

#include "sim/workload/training.h"

namespace braid::sim {

struct PipelineTask {
  bool forward = true;
  int microbatch = 0;
  int chunk = 0;  // model chunk on this stage (0 .. v-1); virtual stage = chunk * pp + stage
};

// The order stage `stage` runs its tasks in. Interleaving (v > 1) follows Megatron-LM and needs
// microbatches % pp == 0 (the caller checks); with as many micro-batches as stages every stage
// runs all its forwards first, as Megatron-LM does.
std::vector<PipelineTask> StageOrder(PipelineSchedule schedule, int pp, int v, int microbatches, int stage);

// The most bytes stage `stage` holds at once when each forward of its chunk c keeps
// held_per_chunk[c] bytes until that chunk's backward (activations, and an output kept for its
// send), counting the forward in progress: the peak over StageOrder's task order. Chunks of
// different sizes make the peak depend on which chunks are in flight together, not only on how
// many. The 1F1B steady state repeats every pp * v tasks, so only that much of it is replayed.
double PeakHeldBytes(PipelineSchedule schedule, int pp, int v, int microbatches, int stage,
                     const std::vector<double>& held_per_chunk);

// One step of a stage's program: a task, or an exchange with the neighbouring stages whose
// operations are posted together and all waited for before the next step (Megatron-LM's
// batched isend/irecv followed by a wait). A send carries the output of the named task
// (activation to the next virtual stage, or gradient to the previous one); a receive takes the
// next message in order on its link.
struct ProgramStep {
  bool compute = true;
  PipelineTask task;                                // compute
  std::optional<PipelineTask> send_forward;         // exchange: whose activation is sent
  std::optional<PipelineTask> send_backward;        // exchange: whose gradient is sent
  bool recv_forward = false, recv_backward = false;  // exchange
};

// A step that runs `task` and communicates nothing.
ProgramStep ComputeStep(const PipelineTask& task);

// Stage `stage`'s program under Megatron-LM's 1F1B schedules: for v > 1 the interleaved one
// (forward, backward, then one exchange in both directions per steady-state step); for v = 1 the
// non-interleaved one (an exchange after each task). Empty exchanges are left out. Every send
// is matched, in order, by a receive of the stage it goes to.
std::vector<ProgramStep> StageProgram(int pp, int v, int microbatches, int stage);

}  // namespace braid::sim
