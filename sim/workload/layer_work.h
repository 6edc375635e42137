// The work of one micro-batch through one transformer layer (and through the embedding and the
// output head) on one GPU of a tensor-parallel group: the kernels it runs and the collectives
// over its TP group, for the forward pass, the backward pass and the recomputation that the
// layout's recompute mode adds before the backward pass.
#pragma once

#include <vector>

#include "collectives/schedule.h"
#include "sim/cost/compute_model.h"
#include "sim/workload/model.h"
#include "sim/workload/training.h"

namespace braid::sim {

struct TpCollective {
  coll::Collective collective;
  double bytes;  // NCCL "size" (see CollectiveQuery)
  // Index in the pass's kernels of the GEMM that runs beside it (TrainingSpec::tp_comm_overlap):
  // only what outlasts that GEMM is exposed. -1: on the critical path.
  int hidden_by = -1;
};

struct PassWork {
  std::vector<Kernel> kernels;
  std::vector<TpCollective> tp_collectives;
};

struct LayerWork {
  PassWork forward;
  PassWork backward;   // gradients only
  PassWork recompute;  // forward work repeated before the backward pass
  double parameters = 0;  // weights held by this GPU (elements)
};

LayerWork TransformerLayerWork(const ModelSpec& model, const Layout& layout, const TrainingSpec& training);
LayerWork EmbeddingWork(const ModelSpec& model, const Layout& layout, const TrainingSpec& training);
// Final norm, logits and the (vocabulary-parallel) cross-entropy loss.
LayerWork HeadWork(const ModelSpec& model, const Layout& layout, const TrainingSpec& training);

// Sums by Megatron's FLOP convention (see Kernel::counted_flops).
double CountedFlops(const PassWork& pass);
// Sums the model's own work (Kernel::model_share of each): what MFU counts.
double ModelFlops(const PassWork& pass);

}  // namespace braid::sim
