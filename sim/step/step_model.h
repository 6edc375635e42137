// One training step of a layout: per-chunk forward/backward times (kernels on the compute model,
// TP collectives replayed on the fabric), the pipeline schedule simulated over one representative
// pipeline (every DP replica and TP rank is identical by symmetry), then each stage's DP gradient
// buckets on its communication stream as their gradients become final, and the optimizer.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/cost/collective_cost.h"
#include "sim/cost/compute_model.h"
#include "sim/step/param_gather.h"
#include "sim/step/pipeline.h"
#include "sim/step/zero_overlap.h"
#include "sim/workload/layer_work.h"
#include "sim/workload/memory.h"
#include "sim/workload/model.h"
#include "sim/workload/training.h"

namespace braid::sim {

// Where the critical stage's step time goes (the busiest stage, the bottleneck: see step_model.cc);
// the parts add up to the step time.
struct Breakdown {
  double compute = 0;      // kernels (incl. recomputation)
  double tp_exposed = 0;   // tensor-parallel collectives (on the critical path)
  double pp_exposed = 0;   // waiting on pipeline transfers beyond the schedule's own bubble
  double bubble = 0;       // pipeline fill/drain idle time with instantaneous transfers
  double dp_exposed = 0;   // gradient reduction (and ZeRO parameter gather) not hidden by compute,
                           // and idle time other stages' ZeRO-1 gather waits pass down the pipeline
  double optimizer = 0;    // optimizer step
};

struct CommSpan {
  std::string label;
  double start = 0, end = 0;
};

struct StepResult {
  Layout layout;
  int microbatches = 0;
  double step_time_s = 0;
  double tokens_per_s = 0;
  double tflops_per_gpu = 0;        // executed FLOPs (incl. recomputation), Megatron's convention
  double model_tflops_per_gpu = 0;  // model FLOPs (fwd + bwd, no recomputation)
  double mfu = 0;                   // model FLOPs / (time x peak)
  double memory_gib_per_gpu = 0;    // the fullest stage
  MemoryBreakdown memory;           // of that stage
  Breakdown breakdown;
  int critical_stage = 0;
  std::vector<int> stage_layers;  // transformer layers of each pipeline stage
  std::string simulated;  // what was simulated explicitly, and what follows by symmetry
  // For traces: the representative pipeline's tasks/transfers and each stage's DP spans and TP
  // collective time per task.
  PipelineResult pipeline;
  std::vector<std::vector<CommSpan>> dp_spans;
  std::vector<CommSpan> optimizer_spans;  // [stage]: its optimizer step, on the compute stream
  std::vector<std::vector<double>> tp_seconds_forward, tp_seconds_backward;  // [stage][chunk]
  // DP time inside each task, [stage][chunk]: ZeRO-2/3's exposed collectives, and in micro-batch
  // 0's forward (first_forward_dp_seconds) also the wait for ZeRO-1's overlapped parameter
  // gathers. The breakdown counts them as DP, not compute; the trace's task events say how much
  // of each is so (a sum of the events read them as compute; QA, session 55).
  std::vector<std::vector<double>> dp_seconds_forward, dp_seconds_backward, first_forward_dp_seconds;
};

class StepModel {
 public:
  StepModel(const ModelSpec& model, const ClusterSpec& cluster, const TrainingSpec& training,
            ComputeModel compute);
  StepModel(const StepModel&) = delete;  // coster_ refers to cluster_
  StepModel& operator=(const StepModel&) = delete;

  const ModelSpec& model() const { return model_; }
  const TrainingSpec& training() const { return training_; }
  // Empty if the layout can run; otherwise why not, naming the field and constraint. `rule`
  // (optional) receives a short name of the violated constraint, e.g. "memory".
  std::string Infeasible(const Layout& layout, std::string* rule = nullptr) const;
  // Memory of the fullest stage (bytes) without simulating.
  MemoryBreakdown PeakMemory(const Layout& layout, int* stage = nullptr) const;
  // A quick closed-form step-time estimate used to rank candidates before simulating them.
  double EstimateSeconds(const Layout& layout);
  // Simulates one step. Throws InputError if the layout is infeasible. The per-task timings
  // (StepResult::pipeline, dp_spans) are kept only when `keep_trace` (they can be large).
  StepResult Simulate(const Layout& layout, bool keep_trace = false);
  // For ranking a search's candidates: the step time of a feasible layout whose pipeline has many
  // micro-batches, extrapolated from two simulations of fewer (m1 = 2 pp and 2 m1): once the
  // pipeline is full, each further micro-batch adds the same time (the steady 1F1B period), so
  // the step is linear in their count. For 1T on 3072 H100s (docs/PERFORMANCE.md, session 49) the
  // line through 2 pp and 4 pp micro-batches met the full simulation at 1024-2048 within 1e-5
  // (pp=16, v=1 and 4; pp=64, v=2). nullopt when the pipeline is too short for that to save time
  // (fewer than 4 m1 micro-batches): simulate it.
  std::optional<double> ExtrapolatedSeconds(const Layout& layout);

  const CollectiveCoster& coster() const { return coster_; }
  const ClusterSpec& cluster() const { return cluster_; }

 private:
  // Simulate with `microbatches` per pipeline instead of the batch's (ExtrapolatedSeconds' shorter
  // pipelines; the throughput fields then describe that count, not the batch).
  StepResult SimulateMicroBatches(const Layout& layout, bool keep_trace, int microbatches);
  struct ChunkCost {
    double forward = 0, backward = 0;               // seconds per micro-batch, incl. TP comm
    double forward_tp = 0, backward_tp = 0;          // of which TP collectives (backward incl. recompute)
    double forward_dp = 0, backward_dp = 0;          // of which ZeRO-2/3 traffic beyond the compute
    std::vector<ZeroLinkSpan> forward_spans, backward_spans;  // that traffic, for traces
    // The chunk's gradients as DDP buckets them (whole parameters: a layer's four weights, the
    // embedding, the head), in backward order: the backward seconds that finish each, its bytes.
    std::vector<double> grad_backward;
    std::vector<double> grad_bytes;
    // ZeRO-1's parameter buckets, gathered under micro-batch 0's forward (OverlapsParamGather).
    std::vector<GatherBucket> gather_buckets;
  };
  struct StageCosts {
    std::vector<std::vector<ChunkCost>> chunks;  // [stage][chunk]
    // One micro-batch's activation (or its gradient) across boundary s: stage s to s+1, the last
    // from stage pp-1 back to 0 (interleaved schedules). Empty without a pipeline.
    std::vector<double> transfer_seconds;
    double counted_flops_per_mb = 0;  // whole model, one micro-batch, one TP rank
    double model_flops_per_mb = 0;
  };
  std::string Violation(const Layout& layout, std::string* rule) const;
  // kEstimate: what EstimateSeconds needs (no overlapped ZeRO-1 gathers); kSimulate: all of it;
  // kTrace: also each pass's ZeRO collectives (ChunkCost::*_spans).
  enum class CostsFor { kEstimate, kSimulate, kTrace };
  StageCosts Costs(const Layout& layout, CostsFor purpose);
  // A pass's kernels and its exposed TP communication (added to *tp_seconds), seconds.
  double PassSeconds(const PassWork& pass, const Layout& layout, int stage, double* tp_seconds);
  double DpCollectiveSeconds(coll::Collective c, double bytes, const Layout& layout, int stage);
  // When stage `stage`'s DP gradient reductions are issued and the bytes of each, in issue order:
  // Megatron-LM's buckets (on the first stage's first chunk; one per chunk elsewhere) and its
  // dispatch (during the last micro-batch's backward, or per chunk when interleaved), or one
  // reduction after the backward without `overlap`.
  std::vector<std::pair<double, double>> GradReductions(const StageCosts& costs, const PipelineResult& timing,
                                                        const Layout& layout, int stage, bool overlap) const;
  // Each stage's overlapped ZeRO-1 parameter gathers (param_gather.h), placed by the task times
  // of `timing`.
  std::vector<GatherSchedule> ParamGathers(const StageCosts& costs, const Layout& layout,
                                           const PipelineResult& timing) const;
  // A unit's ZeRO-3 parameter all-gather and ZeRO-2/3 gradient reduce-scatter (0 below those
  // stages), seconds, over the stage's DP groups.
  double ZeroGatherSeconds(const LayerWork& unit, const Layout& layout, int stage);
  double ZeroReduceSeconds(const LayerWork& unit, const Layout& layout, int stage);
  // GPT's tied embedding with a pipeline: the first and last stages all-reduce the gradients of
  // their two copies after the backward, before the optimizer (Megatron-LM's
  // _allreduce_embedding_grads), seconds; 0 when there is nothing to tie.
  double TiedEmbeddingSeconds(const Layout& layout);
  // What DP communication adds to a step at least (EstimateSeconds' share of it), seconds.
  double DpFloorSeconds(const Layout& layout, const StageCosts& costs);
  // The DP replicas (0 among them) whose GPUs of stages `stage_a` and `stage_b` lie on the nodes
  // of replica 0's: they send between those stages at the same moment, through the same NICs.
  std::vector<int> ReplicasSharingNodes(const Layout& layout, int stage_a, int stage_b) const;
  double StageParameters(const Layout& layout, int stage) const;
  // The layers of each virtual stage (pipeline_split.h); InputError when there is no split.
  std::vector<int> SplitOf(const Layout& layout) const;
  double OptimizerSeconds(const Layout& layout, int stage) const;  // the Adam step, memory-bound
  int Gpu(const Layout& l, int stage, int dp_rank, int tp_rank) const;

  ModelSpec model_;
  ClusterSpec cluster_;
  TrainingSpec training_;
  ComputeModel compute_;
  CollectiveCoster coster_;
};

}  // namespace braid::sim
