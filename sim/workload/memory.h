// Memory per GPU of one pipeline stage: weights, gradients and optimizer state per ZeRO stage,
// activations held for the backward pass (Korthikanti et al. 2022, per tensor, generalised to
// GQA, SwiGLU and fused attention), the micro-batches a pipeline schedule keeps in flight, the
// output logits, and a reserve for the CUDA context and communication buffers. Bytes.
#pragma once

#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/workload/model.h"
#include "sim/workload/training.h"

namespace braid::sim {

struct MemoryBreakdown {
  double weights = 0, gradients = 0, optimizer = 0, activations = 0, reserved = 0;
  double total() const { return weights + gradients + optimizer + activations + reserved; }
};

// Activation bytes one layer keeps per micro-batch on one GPU until its backward pass.
double LayerActivationBytes(const ModelSpec& model, const Layout& layout, const TrainingSpec& training);

// `chunk_layers` = the transformer layers of each of stage `stage`'s v chunks (StageChunkLayers,
// pipeline_split.h); `parameters` =
// weights this GPU holds before ZeRO sharding (its stage's share / tp); `largest_unit` = the
// weights of the stage's largest ZeRO unit on this GPU (a layer, or the embedding or head where
// the stage has them), which ZeRO-2/3 hold whole while they gather or reduce it.
MemoryBreakdown StageMemory(const ModelSpec& model, const Layout& layout, const TrainingSpec& training,
                            const GpuSpec& gpu, int stage, const std::vector<int>& chunk_layers,
                            double parameters, double largest_unit, bool last_stage);

}  // namespace braid::sim
