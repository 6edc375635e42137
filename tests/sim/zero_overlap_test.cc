// ZeRO-2/3 traffic beside a pass's kernels (sim/step/zero_overlap.h): closed forms of the
// one-link schedule, and what the step model and its trace make of it.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sim/step/step_model.h"
#include "sim/step/zero_overlap.h"
#include "tests/sim/test_support.h"

namespace braid::sim {
namespace {

std::vector<ZeroUnit> Layers(int n, double compute, double gather, double reduce) {
  std::vector<ZeroUnit> units;
  for (int i = 0; i < n; ++i) units.push_back({"layer", i, compute, gather, reduce});
  return units;
}

constexpr bool kOverlap = true;  // reduce-scatters beside the next unit's kernels

// Gathers shorter than a layer hide behind the layer before, except the first one.
TEST(ZeroPassSchedule, ForwardExposesOnlyTheFirstGatherWhenLayersAreLonger) {
  const ZeroPass p = ScheduleZeroPass(Layers(10, 1.0, 0.4, 0), kOverlap, false);
  EXPECT_DOUBLE_EQ(p.seconds, 0.4 + 10 * 1.0);
  EXPECT_NEAR(p.exposed, 0.4, 1e-12);
}

// Gathers longer than a layer set the pace: n gathers back to back, then the last layer.
TEST(ZeroPassSchedule, ForwardIsLinkBoundWhenGathersAreLonger) {
  const ZeroPass p = ScheduleZeroPass(Layers(10, 0.5, 1.0, 0), kOverlap, false);
  EXPECT_DOUBLE_EQ(p.seconds, 10 * 1.0 + 0.5);
  EXPECT_NEAR(p.exposed, p.seconds - 10 * 0.5, 1e-12);
}

// A backward's reduce-scatters hide behind the next layer; the last one has nothing after it.
TEST(ZeroPassSchedule, BackwardExposesTheLastReduceScatter) {
  const ZeroPass p = ScheduleZeroPass(Layers(10, 1.0, 0, 0.5), kOverlap, false);
  EXPECT_DOUBLE_EQ(p.seconds, 10 * 1.0 + 0.5);
  EXPECT_NEAR(p.exposed, 0.5, 1e-12);
}

// ZeRO-3's backward gathers and reduce-scatters share the link: each alone (0.6 s) is shorter
// than a layer (1 s), together (1.2 s) they are not, so the pass runs at the link's pace.
// Hand schedule: the first two layers start at 0.6 and 1.6, then every layer 1.2 s after the
// one before (layer 2 at 2.8, layer 9 at 11.2, ending 12.2), and the last reduce-scatter ends
// at 12.8.
TEST(ZeroPassSchedule, GathersAndReduceScattersAddUpOnTheLink) {
  const ZeroPass p = ScheduleZeroPass(Layers(10, 1.0, 0.6, 0.6), kOverlap, false);
  EXPECT_NEAR(p.seconds, 12.8, 1e-12);
  EXPECT_GE(p.seconds, 10 * (0.6 + 0.6));  // the link's own work, whatever the overlap
  EXPECT_NEAR(p.exposed, 2.8, 1e-12);
}

// With gradient reduction not overlapped (--grad-reduce-overlap never), each reduce-scatter holds
// up the next unit: the pass is every layer plus every reduce-scatter, all exposed.
TEST(ZeroPassSchedule, ReduceScattersNotOverlappedAllAddToThePass) {
  const ZeroPass p = ScheduleZeroPass(Layers(10, 1.0, 0, 0.5), !kOverlap, false);
  EXPECT_DOUBLE_EQ(p.seconds, 10 * (1.0 + 0.5));
  EXPECT_NEAR(p.exposed, 10 * 0.5, 1e-12);
}

TEST(ZeroPassSchedule, WithoutTrafficThePassIsItsKernels) {
  const ZeroPass p = ScheduleZeroPass(Layers(7, 0.25, 0, 0), kOverlap, true);
  EXPECT_DOUBLE_EQ(p.seconds, 7 * 0.25);
  EXPECT_NEAR(p.exposed, 0, 1e-12);
  EXPECT_TRUE(p.spans.empty());
  EXPECT_DOUBLE_EQ(ScheduleZeroPass({}, kOverlap, true).seconds, 0);
}

// The spans name each collective and its unit, one at a time on the link, in issue order.
TEST(ZeroPassSchedule, SpansAreTheLinksCollectivesInOrder) {
  std::vector<ZeroUnit> units = Layers(3, 1.0, 0.3, 0.2);
  units.push_back({"embedding", -1, 0.5, 0.1, 0.1});
  const ZeroPass p = ScheduleZeroPass(units, kOverlap, true);
  ASSERT_EQ(p.spans.size(), 8u);
  EXPECT_EQ(p.spans[0].label, "param all-gather layer 0");
  EXPECT_EQ(p.spans[1].label, "param all-gather layer 1");
  EXPECT_EQ(p.spans[2].label, "grad reduce-scatter layer 0");
  EXPECT_EQ(p.spans.back().label, "grad reduce-scatter embedding");
  for (size_t i = 1; i < p.spans.size(); ++i) EXPECT_GE(p.spans[i].start, p.spans[i - 1].end - 1e-12);
  EXPECT_DOUBLE_EQ(p.spans.back().end, p.seconds);
}

// ZeRO-3 gathers each layer's weights beside its compute; when they take longer, the excess is
// DP communication in the breakdown and the compute stays what the kernels take.
TEST(ZeroTraffic, GathersLongerThanComputeAreExposedDataParallelTime) {
  const ModelSpec model = LoadModel("llama-2-7b");
  TrainingSpec t;
  t.global_batch = 64;
  ClusterSpec cluster = PresetWithGpus("dgx-h100", 64);
  cluster.node.nic_Gbps = 10;  // a slow network, so the per-layer gathers outlast the layers
  StepModel m(model, cluster, t, ComputeModel(cluster.gpu));
  const StepResult z1 = m.Simulate(ParseLayout("tp=1,pp=1,dp=64,mb=1,zero=1,recompute=full"), false);
  const StepResult z3 = m.Simulate(ParseLayout("tp=1,pp=1,dp=64,mb=1,zero=3,recompute=full"), false);
  EXPECT_NEAR(z3.breakdown.compute, z1.breakdown.compute, 1e-9 * z1.breakdown.compute);
  EXPECT_GT(z3.breakdown.dp_exposed, z3.breakdown.compute);
  const Breakdown& b = z3.breakdown;
  EXPECT_NEAR(b.compute + b.tp_exposed + b.pp_exposed + b.bubble + b.dp_exposed + b.optimizer,
              z3.step_time_s, 1e-6 * z3.step_time_s);
}

size_t SpansContaining(const StepResult& r, const std::string& part) {
  return size_t(std::count_if(r.dp_spans[0].begin(), r.dp_spans[0].end(),
                              [&](const CommSpan& c) { return c.label.find(part) != std::string::npos; }));
}

// Even on a network fast enough to hide the per-layer traffic, ZeRO-2/3 pay the tails (the
// first gather of each forward, the last reduce-scatter of each backward), and the trace shows
// every collective: ZeRO-3 gathers every layer in each forward and backward and reduce-scatters
// it in each backward; ZeRO-2 only reduce-scatters, then gathers the updated parameters once.
TEST(ZeroTraffic, TracesEveryCollectiveAndExposesTheTails) {
  const ModelSpec model = LoadModel("llama-2-7b");
  TrainingSpec t;
  t.global_batch = 128;
  const ClusterSpec cluster = PresetWithGpus("dgx-h100", 64);
  StepModel m(model, cluster, t, ComputeModel(cluster.gpu));
  const StepResult z2 = m.Simulate(ParseLayout("tp=2,pp=1,dp=32,mb=1,zero=2,recompute=full"), true);
  const StepResult z3 = m.Simulate(ParseLayout("tp=2,pp=1,dp=32,mb=1,zero=3,recompute=full"), true);
  const size_t layers = size_t(model.layers), microbatches = size_t(z3.microbatches);
  ASSERT_EQ(microbatches, 4u);
  EXPECT_EQ(SpansContaining(z3, "param all-gather layer"), 2 * layers * microbatches);
  EXPECT_EQ(SpansContaining(z3, "grad reduce-scatter layer"), layers * microbatches);
  EXPECT_EQ(SpansContaining(z2, "param all-gather layer"), 0u);
  EXPECT_EQ(SpansContaining(z2, "grad reduce-scatter layer"), layers * microbatches);
  EXPECT_EQ(SpansContaining(z2, "param all-gather"), 1u);  // after the optimizer
  for (const StepResult* r : {&z2, &z3}) {
    const Breakdown& b = r->breakdown;
    EXPECT_GT(b.dp_exposed, 0);
    EXPECT_LT(b.dp_exposed, 0.1 * r->step_time_s);  // the rest hides behind the kernels
    EXPECT_NEAR(b.compute + b.tp_exposed + b.pp_exposed + b.bubble + b.dp_exposed + b.optimizer,
                r->step_time_s, 1e-6 * r->step_time_s);
  }
}

}  // namespace
}  // namespace braid::sim
