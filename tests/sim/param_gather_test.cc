// ZeRO-1's parameter all-gather under the next step's forward (sim/step/param_gather.h): Megatron-
// LM's buckets, the two dispatch orders in closed form, and what the step model makes of them.
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

#include "sim/step/param_gather.h"
#include "sim/step/pipeline.h"
#include "sim/step/step_model.h"

namespace braid::sim {
namespace {

std::vector<GatherUnit> Layers(int n, double compute, double parameters) {
  std::vector<GatherUnit> units;
  for (int i = 0; i < n; ++i) units.push_back({"layer " + std::to_string(i), compute, parameters});
  return units;
}

std::vector<GatherBucket> WithGather(std::vector<GatherBucket> buckets, double seconds_per_parameter) {
  for (GatherBucket& b : buckets) b.gather = b.parameters * seconds_per_parameter;
  return buckets;
}

// Buckets close in backward order once they hold the threshold, so the leftover is the bucket
// gathered first: 5 layers of 30 in buckets of 50 -> {4,3} {2,1} {0}.
TEST(ParamGatherBuckets, CloseInBackwardOrderAndComeBackInForwardOrder) {
  const std::vector<GatherBucket> b = BucketUnits(Layers(5, 1.0, 30), 50);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].label, "layer 0");
  EXPECT_EQ(b[1].label, "layer 1 to layer 2");
  EXPECT_EQ(b[2].label, "layer 3 to layer 4");
  EXPECT_DOUBLE_EQ(b[0].parameters, 30);
  EXPECT_DOUBLE_EQ(b[1].parameters, 60);
  EXPECT_DOUBLE_EQ(b[1].compute, 2.0);
}

// Buckets hold whole tensors and close only once past the threshold, so a large tensor joins the
// open bucket whole: backward, {layer 2, layer 1} closes at 60, then {layer 0, embedding} at 530.
// An infinite threshold (every stage and chunk but the first one's, in Megatron-LM) makes one.
TEST(ParamGatherBuckets, WholeTensorsAndNoThresholdMakesOneBucket) {
  std::vector<GatherUnit> units = {{"embedding", 0.1, 500}};
  for (const GatherUnit& u : Layers(3, 1.0, 30)) units.push_back(u);
  const std::vector<GatherBucket> b = BucketUnits(units, 50);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_EQ(b[0].label, "embedding to layer 0");
  EXPECT_DOUBLE_EQ(b[0].parameters, 530);
  EXPECT_DOUBLE_EQ(b[0].compute, 1.1);
  EXPECT_EQ(b[1].label, "layer 1 to layer 2");
  const std::vector<GatherBucket> one = BucketUnits(units, std::numeric_limits<double>::infinity());
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].label, "embedding to layer 2");
  EXPECT_DOUBLE_EQ(one[0].parameters, 590);
  EXPECT_DOUBLE_EQ(one[0].compute, 3.1);
}

// One chunk, the pre-hook chain: the first bucket's gather is exposed, and each later one hides
// under the bucket before it when shorter (10 buckets of 1 s compute, 0.4 s gather each).
TEST(ParamGatherSchedule, ChainedExposesTheFirstBucketWhenBucketsOutlastTheirGathers) {
  const auto buckets = WithGather(BucketUnits(Layers(10, 1.0, 100), 100), 0.004);
  const GatherSchedule g = ScheduleParamGather({buckets}, {5.0}, /*dispatched=*/{});
  ASSERT_EQ(g.first_forward.size(), 1u);
  EXPECT_NEAR(g.first_forward[0], 0.4 + 10 * 1.0, 1e-12);
  EXPECT_NEAR(g.exposed[0], 0.4, 1e-12);
  ASSERT_EQ(g.spans.size(), 10u);
  EXPECT_DOUBLE_EQ(g.spans[0].start, 5.0);  // dispatched by the chunk's first pre-hook
  EXPECT_NEAR(g.spans[0].end, 5.4, 1e-12);
}

// Gathers longer than their buckets' kernels set the pace: 10 gathers back to back, then the last
// bucket's kernels.
TEST(ParamGatherSchedule, ChainedIsLinkBoundWhenGathersAreLonger) {
  const auto buckets = WithGather(BucketUnits(Layers(10, 0.5, 100), 100), 0.01);
  const GatherSchedule g = ScheduleParamGather({buckets}, {0.0}, {});
  EXPECT_NEAR(g.first_forward[0], 10 * 1.0 + 0.5, 1e-12);
  EXPECT_NEAR(g.exposed[0], 10 * 1.0 + 0.5 - 10 * 0.5, 1e-12);
}

// Interleaved: chunks 0 and 1 are dispatched whole at the step's start and queue on the link,
// each chunk's buckets in backward order; chunk 2 here when chunk 1's first forward starts (stage
// 0 of pp = 1). Chunks of 2 buckets (1 s of kernels, 2 s of gather each). By hand: the link runs
// chunk 0's second bucket 0-2, its first 2-4, chunk 1's 4-6-8; chunk 0 (from 0) waits 4 for its
// first bucket and ends at 6; chunk 1 (from 9) finds its weights in place; chunk 2, dispatched at
// 9 on an idle link, gathers its second bucket 9-11 and its first 11-13, so from 11 it waits 2.
// (Dispatched at the start, it would have gathered 8-10-12 and waited 1.)
TEST(ParamGatherSchedule, InterleavedDispatchesTwoChunksAtTheStartAndTheRestOneAhead) {
  const auto chunk = WithGather(BucketUnits(Layers(2, 1.0, 100), 100), 0.02);
  const GatherSchedule g = ScheduleParamGather({chunk, chunk, chunk}, {0.0, 9.0, 11.0}, {0.0, 0.0, 9.0});
  ASSERT_EQ(g.first_forward.size(), 3u);
  EXPECT_NEAR(g.first_forward[0], 6.0, 1e-12);
  EXPECT_NEAR(g.exposed[0], 4.0, 1e-12);
  EXPECT_NEAR(g.first_forward[1], 2.0, 1e-12);
  EXPECT_NEAR(g.exposed[1], 0.0, 1e-12);
  EXPECT_NEAR(g.first_forward[2], 4.0, 1e-12);
  EXPECT_NEAR(g.exposed[2], 2.0, 1e-12);
  ASSERT_EQ(g.spans.size(), 6u);
  EXPECT_EQ(g.spans[0].label, "param all-gather layer 1");  // backward order
  EXPECT_NEAR(g.spans[2].start, 4.0, 1e-12);  // chunk 1 dispatched at 0, behind chunk 0
  EXPECT_NEAR(g.spans[4].start, 9.0, 1e-12);  // chunk 2 dispatched at chunk 1's first forward
}

// Stage r dispatches chunk c >= 2 at its forward number (c-1) x pp - r: with pp = 4, v = 4, stage
// 0 at forwards 4 and 8 (chunks 1 and 2 begin there), stage 3 at forwards 1 and 5.
TEST(ParamGatherSchedule, InterleavedDispatchFollowsMegatronsVirtualMicrobatchIds) {
  std::vector<double> starts;
  for (int k = 0; k < 16; ++k) starts.push_back(10.0 * k);
  EXPECT_EQ(InterleavedDispatchTimes(starts, 4, 4, 0), (std::vector<double>{0, 0, 40, 80}));
  EXPECT_EQ(InterleavedDispatchTimes(starts, 4, 4, 3), (std::vector<double>{0, 0, 10, 50}));
}

// The step model: under ZeRO-1 the gather that ended the step now waits only where the first
// forward needs it, so the step is shorter and the DP share smaller; micro-batch 0's forward is
// the only one that grew. ZeRO-2 (DeepSpeed) and the switch turned off keep it after the optimizer.
StepResult SimulateOn(const std::string& model, const std::string& cluster_name, int gpus, int batch,
                      const std::string& keys, bool overlap) {
  ClusterSpec cluster = LoadCluster(cluster_name);
  SizeForGpus(&cluster, gpus);
  TrainingSpec t;
  t.global_batch = batch;
  t.overlap_param_gather = overlap;
  Layout layout;
  std::vector<std::string> present;
  ParseLayoutKeys(keys, "test", &layout, &present);
  return StepModel(LoadModel(model), cluster, t, ComputeModel(cluster.gpu)).Simulate(layout, true);
}

StepResult SimulateLlama(const std::string& keys, bool overlap) {
  return SimulateOn("llama-3-8b", "dgx-h100", 64, 128, keys, overlap);
}

size_t Spans(const std::vector<CommSpan>& spans, const std::string& prefix) {
  size_t n = 0;
  for (const CommSpan& s : spans) n += s.label.rfind(prefix, 0) == 0;
  return n;
}

TEST(ParamGatherStep, ZeroOneGatherHidesUnderTheNextForward) {
  for (const char* keys : {"tp=2,pp=1,dp=32,mb=1,zero=1,recompute=selective,sp=on",
                           "tp=2,pp=4,dp=8,mb=1,v=4,zero=1,recompute=selective,sp=on"}) {
    const StepResult overlapped = SimulateLlama(keys, true);
    const StepResult after = SimulateLlama(keys, false);
    EXPECT_LT(overlapped.step_time_s, after.step_time_s) << keys;
    EXPECT_LT(overlapped.breakdown.dp_exposed, after.breakdown.dp_exposed) << keys;
    // Megatron-LM buckets the first stage's first chunk only; every other chunk is one bucket.
    for (size_t s = 0; s < overlapped.dp_spans.size(); ++s) {
      const size_t chunks = overlapped.pipeline.tasks[s].empty() ? 0 : size_t(overlapped.layout.v);
      if (s == 0) {
        EXPECT_GT(Spans(overlapped.dp_spans[s], "param all-gather "), chunks) << keys;
      } else {
        EXPECT_EQ(Spans(overlapped.dp_spans[s], "param all-gather "), chunks) << keys;
      }
      EXPECT_EQ(Spans(after.dp_spans[s], "param all-gather"), 1u) << keys;  // the whole stage
    }
    // Only micro-batch 0's forwards grew.
    for (size_t s = 0; s < overlapped.pipeline.tasks.size(); ++s) {
      for (const TaskTiming& t : overlapped.pipeline.tasks[s]) {
        if (!t.task.forward || t.task.microbatch == 0) continue;
        for (const TaskTiming& u : after.pipeline.tasks[s]) {
          if (u.task.forward && u.task.chunk == t.task.chunk && u.task.microbatch == t.task.microbatch) {
            EXPECT_NEAR(t.end - t.start, u.end - u.start, 1e-12) << keys;
          }
        }
      }
    }
  }
  // Without interleaving a later stage's one bucket is dispatched by its first pre-hook, so its
  // micro-batch 0 forward is its usual forward plus the whole gather.
  {
    const StepResult overlapped = SimulateLlama("tp=2,pp=4,dp=8,mb=1,zero=1,recompute=selective,sp=on", true);
    const StepResult after = SimulateLlama("tp=2,pp=4,dp=8,mb=1,zero=1,recompute=selective,sp=on", false);
    auto first_forward = [](const StepResult& r, int s) {
      for (const TaskTiming& t : r.pipeline.tasks[size_t(s)])
        if (t.task.forward && t.task.microbatch == 0) return t.end - t.start;
      return -1.0;
    };
    for (int s = 1; s < 4; ++s) {
      double gather = 0;
      for (const CommSpan& c : overlapped.dp_spans[size_t(s)])
        if (c.label.rfind("param all-gather ", 0) == 0) gather += c.end - c.start;
      EXPECT_GT(gather, 0);
      EXPECT_NEAR(first_forward(overlapped, s), first_forward(after, s) + gather, 1e-9) << "stage " << s;
    }
  }
  const char* zero2 = "tp=2,pp=1,dp=32,mb=1,zero=2,recompute=selective,sp=on";
  EXPECT_DOUBLE_EQ(SimulateLlama(zero2, true).step_time_s, SimulateLlama(zero2, false).step_time_s);
}

// Without interleaving nothing dispatches a stage's gathers before its first forward needs them,
// so on a pipeline each stage's first forward waits in turn. GPT-3 on A100s, DP across nodes:
// a layer's gather (200 Gb/s per GPU) outlasts its forward, so the overlapped gather costs more
// than gathering everything after the optimizer, all stages at once. The other stages' waits
// reach the busiest one as idle time, reported as DP time, not as bubble.
TEST(ParamGatherStep, NonInterleavedPipelineWaitsStageByStage) {
  const char* keys = "tp=8,pp=16,dp=8,mb=1,zero=1,recompute=selective,sp=on";
  const StepResult overlapped = SimulateOn("gpt3-175b", "dgx-a100", 1024, 1536, keys, true);
  const StepResult after = SimulateOn("gpt3-175b", "dgx-a100", 1024, 1536, keys, false);
  EXPECT_GT(overlapped.step_time_s, after.step_time_s);
  EXPECT_GT(overlapped.breakdown.dp_exposed, 2 * after.breakdown.dp_exposed);
  EXPECT_NEAR(overlapped.breakdown.bubble, after.breakdown.bubble, 0.02 * after.breakdown.bubble);
}

}  // namespace
}  // namespace braid::sim
