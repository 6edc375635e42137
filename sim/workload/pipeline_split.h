// How a model's transformer layers are split over the pipeline's virtual stages: pp stages of
// v chunks each (v > 1: interleaved schedule), pp * v virtual stages in model order, virtual
// stage c * pp + s being chunk c of stage s.
//
// Even: every virtual stage holds layers / (pp * v). Megatron-LM required that in 2021
// (ParallelTransformer asserts "num_layers must be divisible by pipeline_model_parallel_size",
// then the same for the virtual stages).
//
// Uneven, when pp * v does not divide the layers: every virtual stage holds ceil(layers /
// (pp * v)) except the first and the last, which share the shortfall, the last (it also computes
// the logits and the loss) taking the larger cut when the shortfall is odd. This is what Llama 3
// 405B ran (126 layers on 16 stages: 7 + 14 x 8 + 7, one layer fewer on the first and the last
// stage, which hold the embedding and the output layer) and what Megatron-LM expresses with
// --decoder-first/last-pipeline-num-layers (v = 1) or a --pipeline-model-parallel-layout (any v).
// Of the splits that give every middle virtual stage the same count, it has the fewest layers on
// the busiest one.
//
// Explicit (layout keys first=N and/or last=N): the first and/or last virtual stage hold what is
// given and the others share the rest evenly, which must divide. Megatron-LM's
// --decoder-first/last-pipeline-num-layers for v = 1; with v > 1 the counts name the first chunk of
// stage 0 and the last chunk of the last stage.
#pragma once

#include <string>
#include <vector>

#include "sim/workload/training.h"

namespace braid::sim {

// Layers of each of the pp * v virtual stages, or an empty vector with *why set (naming the
// layers, pp, v and the rule) when no split exists.
std::vector<int> VirtualStageLayers(int layers, int pp, int v, bool uneven, std::string* why);

// The split `layout` asks for: explicit when it gives first or last, else VirtualStageLayers.
// Empty with *why set when there is none.
std::vector<int> LayoutStageLayers(int layers, const Layout& layout, bool uneven, std::string* why);

// Layers the first and last virtual stages lack against the others (0 for an even split).
int SplitShortfall(const std::vector<int>& virtual_stage_layers);

// Layers of each of stage `stage`'s chunks (virtual stages stage, stage + pp, ...), chunk 0 first.
std::vector<int> StageChunkLayers(const std::vector<int>& virtual_stage_layers, int pp, int stage);

// Layers stage `stage` holds over its chunks.
int StageLayerCount(const std::vector<int>& virtual_stage_layers, int pp, int stage);

// "4 x 10" for 4 virtual stages of 10 layers; "7 + 14 x 8 + 7" for an uneven split (first,
// middle, last; the middle ones always hold the same count).
std::string SplitText(const std::vector<int>& virtual_stage_layers);

}  // namespace braid::sim
