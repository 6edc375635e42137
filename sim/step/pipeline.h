// Pipeline-parallel schedules (GPipe, 1F1B, Megatron's interleaved 1F1B) and their simulation:
// each stage runs its forward/backward tasks in the schedule's order on one compute stream; a
// task starts when its stage is free and its input has arrived from the neighbouring virtual
// stage (activation or gradient transfer, on a per-direction link between the two stages).
#pragma once

#include <vector>

#include "sim/step/pipeline_program.h"
#include "sim/workload/training.h"

namespace braid::sim {

struct PipelineInput {
  PipelineSchedule schedule = PipelineSchedule::kOneFOneB;
  int pp = 1, v = 1, microbatches = 1;
  // Seconds per micro-batch for each stage and chunk: [stage][chunk].
  std::vector<std::vector<double>> forward, backward;
  // Micro-batch 0's forward per stage and chunk when it takes longer than the others (it waits
  // for ZeRO-1's overlapped parameter all-gather, param_gather.h); empty: the same as forward.
  std::vector<std::vector<double>> first_forward;
  double transfer_seconds = 0;  // one activation (or its gradient) between adjacent stages
  // Per boundary, when they differ: [s] between stage s and s+1 (mod pp; the last is the
  // interleaved schedule's wrap from stage pp-1 to 0), both directions. Empty: transfer_seconds.
  std::vector<double> boundary_transfer_seconds;
  // Megatron-LM's default: communication and compute take turns. Under 1F1B each stage runs
  // StageProgram: at an exchange it waits until its neighbours have posted the matching
  // operations (a transfer starts only when both ends are there) and every transfer has landed.
  // Under GPipe a stage waits for each of its sends to land. False: sends overlap compute and a
  // task starts as soon as its input has arrived.
  bool blocking_sends = true;
};

struct TaskTiming {
  PipelineTask task;
  double start = 0, end = 0;
};

struct PipelineResult {
  double makespan = 0;                        // last task end over all stages
  std::vector<double> stage_end;              // per stage
  std::vector<double> stage_busy;             // per stage, seconds of task work
  std::vector<std::vector<TaskTiming>> tasks; // per stage, in execution order
  std::vector<std::vector<TaskTiming>> transfers;  // per stage: transfers it sent
  uint64_t events = 0;
};

PipelineResult SimulatePipeline(const PipelineInput& input);

}  // namespace braid::sim
