// Splitting layers over pipeline stages that do not divide them (pipeline_split.h), how the step
// model uses the split (per-stage work, parameters and memory), and ZeRO traffic that outlasts
// the compute being reported as DP communication.
#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "sim/common/input_error.h"
#include "sim/step/step_model.h"
#include "sim/workload/layer_work.h"
#include "sim/workload/pipeline_split.h"
#include "tests/sim/test_support.h"

namespace braid::sim {
namespace {

std::vector<int> Split(int layers, int pp, int v, bool uneven = true) {
  std::string why;
  return VirtualStageLayers(layers, pp, v, uneven, &why);
}

TEST(PipelineSplit, EvenWhenTheStagesDivideTheLayers) {
  EXPECT_EQ(Split(96, 8, 1), std::vector<int>(8, 12));
  EXPECT_EQ(Split(96, 8, 3, /*uneven=*/false), std::vector<int>(24, 4));
  EXPECT_EQ(SplitShortfall(Split(96, 8, 3)), 0);
  EXPECT_EQ(SplitText(Split(96, 8, 1)), "8 x 12");
}

// Llama 3 405B: 126 layers on 16 stages ran as 7 + 14 x 8 + 7.
TEST(PipelineSplit, TheEndsHoldFewerLayersTheLastTheFewest) {
  std::vector<int> llama(16, 8);
  llama.front() = 7;
  llama.back() = 7;
  EXPECT_EQ(Split(126, 16, 1), llama);
  EXPECT_EQ(SplitShortfall(llama), 2);
  EXPECT_EQ(SplitText(llama), "7 + 14 x 8 + 7");
  // An odd shortfall: the last stage (logits and loss) takes the larger cut.
  EXPECT_EQ(Split(127, 16, 1).front(), 8);
  EXPECT_EQ(Split(127, 16, 1).back(), 7);
  EXPECT_EQ(Split(9, 2, 1), (std::vector<int>{5, 4}));
  // Interleaved: the first and last virtual stages are the short ones; stage 0 holds virtual
  // stages 0 and 16, stage 15 holds 15 and 31.
  const std::vector<int> v2 = Split(126, 16, 2);
  ASSERT_EQ(v2.size(), 32u);
  EXPECT_EQ(std::accumulate(v2.begin(), v2.end(), 0), 126);
  EXPECT_EQ(StageLayerCount(v2, 16, 0), 7);
  EXPECT_EQ(StageLayerCount(v2, 16, 1), 8);
  EXPECT_EQ(StageLayerCount(v2, 16, 15), 7);
}

TEST(PipelineSplit, ImpossibleSplitsNameTheLayersAndStages) {
  std::string why;
  EXPECT_TRUE(VirtualStageLayers(126, 16, 1, /*uneven=*/false, &why).empty());
  EXPECT_NE(why.find("layers (126) not divisible by pp*v (16*1)"), std::string::npos) << why;
  EXPECT_TRUE(VirtualStageLayers(10, 16, 1, true, &why).empty());
  EXPECT_NE(why.find("cannot fill"), std::string::npos) << why;
  // 10 layers on 8 stages: 2 on each middle stage leaves nothing for the last. The message says
  // what would fit instead, and never prints the negative counts the split would give.
  EXPECT_TRUE(VirtualStageLayers(10, 8, 1, true, &why).empty());
  EXPECT_NE(why.find("give up 6 layers"), std::string::npos) << why;
  EXPECT_NE(why.find("pp*v values that divide 10: 1, 2, 5, 10"), std::string::npos) << why;
  EXPECT_EQ(why.find("-"), std::string::npos) << why;
}

std::vector<int> Explicit(int layers, const std::string& keys, std::string* why) {
  return LayoutStageLayers(layers, ParseLayout(keys), /*uneven=*/false, why);
}

// first=/last= name the ends; the other virtual stages share the rest evenly, whatever the
// even/uneven default.
TEST(PipelineSplit, ExplicitFirstAndLastLayerCounts) {
  std::string why;
  std::vector<int> both(16, 8);
  both.front() = 6;
  EXPECT_EQ(Explicit(126, "pp=16,first=6,last=8", &why), both) << why;
  EXPECT_EQ(SplitText(both), "6 + 14 x 8 + 8");
  EXPECT_EQ(Explicit(27, "pp=4,first=3", &why), (std::vector<int>{3, 8, 8, 8})) << why;
  EXPECT_EQ(Explicit(27, "pp=4,last=3", &why), (std::vector<int>{8, 8, 8, 3})) << why;
  // Interleaved: the first chunk of stage 0 and the last chunk of the last stage.
  const std::vector<int> v2 = Explicit(30, "pp=2,v=2,first=6,last=6", &why);
  EXPECT_EQ(v2, (std::vector<int>{6, 9, 9, 6})) << why;
  EXPECT_EQ(StageLayerCount(v2, 2, 0), 15);
  EXPECT_EQ(Explicit(9, "pp=2,first=4,last=5", &why), (std::vector<int>{4, 5})) << why;
  EXPECT_EQ(LayoutToString(ParseLayout("pp=2,first=4")), "tp=1,pp=2,dp=1,mb=1,v=1,zero=0,recompute=none,sp=off,first=4");
}

TEST(PipelineSplit, ExplicitCountsThatDoNotFitNameTheRest) {
  std::string why;
  EXPECT_TRUE(Explicit(126, "pp=16,first=5,last=5", &why).empty());
  EXPECT_NE(why.find("layers (126) over pp*v (16*1) virtual stages with first=5 last=5: the other 14 "
                     "virtual stages cannot share the remaining 116 layers evenly"),
            std::string::npos) << why;
  EXPECT_TRUE(Explicit(12, "pp=1,first=4", &why).empty());
  EXPECT_NE(why.find("at least 2 virtual stages"), std::string::npos) << why;
  EXPECT_TRUE(Explicit(10, "pp=2,first=4,last=5", &why).empty());
  EXPECT_NE(why.find("must hold all 10 layers"), std::string::npos) << why;
  EXPECT_TRUE(Explicit(10, "pp=4,first=9", &why).empty());
  EXPECT_NE(why.find("remaining 1 layers"), std::string::npos) << why;
  // More than the model holds is said as such, whatever the pipeline (it was "at least 2 virtual
  // stages" on pp=1 and "the remaining -6 layers" on pp=2; QA, session 53).
  for (const char* keys : {"pp=1,first=30", "pp=2,first=30", "pp=4,v=2,first=20,last=10"}) {
    EXPECT_TRUE(Explicit(24, keys, &why).empty()) << keys;
    EXPECT_NE(why.find("more than the model's 24 layers"), std::string::npos) << why;
    EXPECT_EQ(why.find("-"), std::string::npos) << why;
  }
  EXPECT_TRUE(Explicit(24, "pp=4,first=12,last=12", &why).empty());
  EXPECT_NE(why.find("all of the model's 24 layers, none left"), std::string::npos) << why;
}

TEST(PipelineSplit, StepModelSimulatesTheLlama3Layout) {
  const ModelSpec model = LoadModel("llama-3-405b");
  TrainingSpec t;
  t.global_batch = 256;
  const ClusterSpec cluster = PresetWithGpus("dgx-h100", 8 * 16 * 2);
  const Layout l = ParseLayout("tp=8,pp=16,dp=2,mb=1,v=1,zero=1,recompute=full,sp=on");
  StepModel uneven(model, cluster, t, ComputeModel(cluster.gpu));
  ASSERT_EQ(uneven.Infeasible(l), "");
  const StepResult r = uneven.Simulate(l, /*keep_trace=*/false);
  std::vector<int> llama(16, 8);
  llama.front() = llama.back() = 7;
  EXPECT_EQ(r.stage_layers, llama);
  EXPECT_NE(r.simulated.find("7 + 14 x 8 + 7"), std::string::npos) << r.simulated;
  // A middle stage (8 layers, no embedding or output layer) holds the most activations.
  EXPECT_GT(r.memory.activations, 0);

  // Megatron-LM 2021 needed an even split: the same layout is rejected, naming the rule.
  t.uneven_pipeline = false;
  StepModel even(model, cluster, t, ComputeModel(cluster.gpu));
  std::string rule;
  EXPECT_NE(even.Infeasible(l, &rule).find("not divisible by pp*v (16*1)"), std::string::npos);
  EXPECT_EQ(rule, "pp-v-split-layers");
  EXPECT_THROW(even.Simulate(l, false), InputError);
}

// The first stage's weights: its 7 layers and the embedding, against 8 layers on a middle stage.
TEST(PipelineSplit, StageWorkFollowsTheSplit) {
  const ModelSpec model = LoadModel("llama-3-405b");
  TrainingSpec t;
  t.global_batch = 64;
  const ClusterSpec cluster = PresetWithGpus("dgx-h100", 8 * 16);
  StepModel m(model, cluster, t, ComputeModel(cluster.gpu));
  const StepResult r = m.Simulate(ParseLayout("tp=8,pp=16,dp=1,mb=1,v=1,zero=1,recompute=full,sp=on"), true);
  // Forward tasks of stage 1 (8 layers) take 8/7 of stage 0's minus the embedding's share, and
  // more than stage 0's: the embedding lookup is cheap next to a layer.
  double first = 0, middle = 0;
  for (const TaskTiming& task : r.pipeline.tasks[0]) {
    if (task.task.forward) first = task.end - task.start;
  }
  for (const TaskTiming& task : r.pipeline.tasks[1]) {
    if (task.task.forward) middle = task.end - task.start;
  }
  ASSERT_GT(first, 0);
  EXPECT_GT(middle, first);
  EXPECT_LT(middle, first * 8.0 / 7.0);
}

}  // namespace
}  // namespace braid::sim
