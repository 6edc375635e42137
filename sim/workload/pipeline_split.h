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
#pragma once

#include <string>
#include <vector>

namespace braid::sim {

// Layers of each of the pp * v virtual stages, or an empty vector with *why set (naming the
// layers, pp, v and the rule) when no split exists.
std::vector<int> VirtualStageLayers(int layers, int pp, int v, bool uneven, std::string* why);

// Layers the first and last virtual stages lack against the others (0 for an even split).
int SplitShortfall(const std::vector<int>& virtual_stage_layers);

// Layers stage `stage` holds over its chunks.
int StageLayerCount(const std::vector<int>& virtual_stage_layers, int pp, int stage);

// "4 x 10" for 4 virtual stages of 10 layers; "7 + 14 x 8 + 7" for an uneven split (first,
// middle, last).
std::string SplitText(const std::vector<int>& virtual_stage_layers);

}  // namespace braid::sim
