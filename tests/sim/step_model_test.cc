// StepModel's data-parallel and optimizer phases: when gradient buckets may start reducing (the
// overlap policy, bucketing) and the bytes the optimizer step moves per parameter.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/common/input_error.h"
#include "sim/step/step_model.h"
#include "test_support.h"

namespace braid::sim {
namespace {

// `model` on `gpus` GPUs of the preset `cluster_name`, one step of `layout_keys`, with its trace.
StepResult SimulateOn(const std::string& cluster_name, int gpus, const std::string& model_name,
                      const TrainingSpec& training, const std::string& layout_keys) {
  ClusterSpec cluster = LoadCluster(cluster_name);
  SizeForGpus(&cluster, gpus);
  StepModel model(LoadModel(model_name), cluster, training, ComputeModel(cluster.gpu));
  return model.Simulate(ParseLayout(layout_keys), /*keep_trace=*/true);
}

// Megatron 1.7B on two DGX A100 nodes: small enough to simulate in milliseconds, with enough
// gradient bytes (GBs per GPU) that the DP all-reduce is visible.
StepResult Simulate(const TrainingSpec& training, const std::string& layout_keys) {
  return SimulateOn("dgx-a100", 16, "megatron-1.7b", training, layout_keys);
}

TrainingSpec WithOverlap(GradReduceOverlap overlap) {
  TrainingSpec t;
  t.global_batch = 64;
  t.overlap_grad_reduce = overlap;
  return t;
}

constexpr char kNoPipeline[] = "tp=1,pp=1,dp=16,mb=1,recompute=full";
constexpr char kPipeline[] = "tp=1,pp=2,dp=8,mb=1,recompute=full";

// Overlapped, the buckets reduce during the last micro-batch's backward. On a pipeline Megatron-LM
// buckets only the first stage (the others reduce their one bucket after their backward, which
// ends earlier), so there the step still shortens but a later stage's reduction stays exposed.
// One replica has no DP group: no bucket is reduced and no DP time is reported, not even a
// rounding leftover of the buckets' issue times (4e-15 s was). (Llama: untied embeddings, so
// the pipeline's ends sum no embedding gradients either.)
TEST(GradReduceOverlap, OneReplicaReducesNothing) {
  TrainingSpec training = WithOverlap(GradReduceOverlap::kAlways);
  training.global_batch = 16;
  for (const char* keys : {"tp=8,pp=1,dp=1,mb=1,zero=0", "tp=8,pp=2,dp=1,mb=1,zero=0", "tp=4,pp=1,dp=1,mb=1,zero=1"}) {
    Layout layout;
    ParseLayoutKeys(keys, "test", &layout, nullptr);
    ClusterSpec cluster = LoadCluster("dgx-h100");
    SizeForGpus(&cluster, layout.gpus());
    StepModel model(LoadModel("llama-3-8b"), cluster, training, ComputeModel(cluster.gpu));
    const StepResult r = model.Simulate(layout, /*keep_trace=*/true);
    EXPECT_EQ(r.breakdown.dp_exposed, 0.0) << keys;
    for (const auto& spans : r.dp_spans) EXPECT_TRUE(spans.empty()) << keys;
  }
}

TEST(GradReduceOverlap, OverlappingHidesPartOfTheReduction) {
  for (const char* layout : {kNoPipeline, kPipeline}) {
    const StepResult always = Simulate(WithOverlap(GradReduceOverlap::kAlways), layout);
    const StepResult never = Simulate(WithOverlap(GradReduceOverlap::kNever), layout);
    EXPECT_GT(never.breakdown.dp_exposed, 0) << layout;
    EXPECT_LT(always.step_time_s, never.step_time_s) << layout;
  }
  const StepResult always = Simulate(WithOverlap(GradReduceOverlap::kAlways), kNoPipeline);
  const StepResult never = Simulate(WithOverlap(GradReduceOverlap::kNever), kNoPipeline);
  EXPECT_LT(always.breakdown.dp_exposed, 0.5 * never.breakdown.dp_exposed);
}

// Megatron-LM 2021: PyTorch DDP overlaps without a pipeline; pipelined runs reduce after the flush.
TEST(GradReduceOverlap, WithoutPipelineOverlapsOnlyWhenThereIsNoPipeline) {
  const TrainingSpec without_pipeline = WithOverlap(GradReduceOverlap::kWithoutPipeline);
  EXPECT_DOUBLE_EQ(Simulate(without_pipeline, kNoPipeline).step_time_s,
                   Simulate(WithOverlap(GradReduceOverlap::kAlways), kNoPipeline).step_time_s);
  EXPECT_DOUBLE_EQ(Simulate(without_pipeline, kPipeline).step_time_s,
                   Simulate(WithOverlap(GradReduceOverlap::kNever), kPipeline).step_time_s);
}

size_t GradBuckets(const std::vector<CommSpan>& spans) {
  size_t n = 0;
  for (const auto& s : spans) n += s.label.rfind("grad bucket", 0) == 0;
  return n;
}

TEST(GradReduceOverlap, BucketsOnlyWhenOverlapping) {
  TrainingSpec t = WithOverlap(GradReduceOverlap::kAlways);
  t.bucket_bytes = 25e6;
  const StepResult bucketed = Simulate(t, kPipeline);
  // Megatron-LM buckets the first stage only (DDP's bucket_size is None on later stages).
  EXPECT_GT(GradBuckets(bucketed.dp_spans[0]), 10u);
  EXPECT_EQ(GradBuckets(bucketed.dp_spans[1]), 1u);
  t.overlap_grad_reduce = GradReduceOverlap::kNever;
  const StepResult whole = Simulate(t, kPipeline);
  for (const auto& spans : whole.dp_spans) EXPECT_EQ(GradBuckets(spans), 1u);
}

// DDP buckets whole parameters, not whole layers: a bucket smaller than a layer's gradients holds
// one or two of its weights (1.7B: a layer's FC1 and FC2 hold 21M parameters each, its QKV 16M and
// its projection 5M, 42 / 42 / 32 / 11 MB in fp16). Bucketed by layer, every limit below a
// layer's 127 MB gave the same buckets, one per layer (QA, session 53).
TEST(GradReduceOverlap, BucketsSmallerThanALayerHoldSingleWeights) {
  TrainingSpec t = WithOverlap(GradReduceOverlap::kAlways);
  t.grad_reduce_bytes = 2;
  t.bucket_bytes = 1e6;  // below every weight: one bucket per weight
  const size_t per_weight = GradBuckets(Simulate(t, kNoPipeline).dp_spans[0]);
  t.bucket_bytes = 25e6;  // QKV and the projection share one (32 + 11 MB), FC1 and FC2 one each
  const size_t ddp_default = GradBuckets(Simulate(t, kNoPipeline).dp_spans[0]);
  t.bucket_bytes = 500e6;  // about four layers each
  const size_t large = GradBuckets(Simulate(t, kNoPipeline).dp_spans[0]);
  const size_t layers = 24;
  EXPECT_GE(per_weight, 4 * layers);
  EXPECT_GE(ddp_default, 3 * layers);
  EXPECT_LT(ddp_default, per_weight);
  EXPECT_LT(large, layers);
}

// Interleaved, each chunk's gradients go as one reduction (the first stage's first chunk as
// buckets, all at once), issued by stage s s backward tasks after the chunk's last backward, so
// that the stages issue together (schedules.py's grad_sync_func).
TEST(GradReduceOverlap, InterleavedChunksAreIssuedInStepAcrossThePipeline) {
  const StepResult r = Simulate(WithOverlap(GradReduceOverlap::kAlways), "tp=1,pp=4,dp=4,mb=1,v=2,recompute=full");
  ASSERT_EQ(r.dp_spans.size(), 4u);
  EXPECT_GT(GradBuckets(r.dp_spans[0]), 2u);
  for (size_t s = 1; s < 4; ++s) {
    EXPECT_EQ(GradBuckets(r.dp_spans[s]), 2u) << "stage " << s;
    std::vector<const TaskTiming*> backward;
    for (const TaskTiming& t : r.pipeline.tasks[s])
      if (!t.task.forward) backward.push_back(&t);
    for (int c = 0; c < 2; ++c) {
      size_t last = 0;
      for (size_t i = 0; i < backward.size(); ++i)
        if (backward[i]->task.chunk == c) last = i;  // execution order: the chunk's last backward
      const double issued = backward[std::min(last + s, backward.size() - 1)]->end;
      bool found = false;
      for (const CommSpan& span : r.dp_spans[s])
        found |= span.label.rfind("grad bucket", 0) == 0 && span.start >= issued - 1e-12 && span.start <= issued + 1.0;
      EXPECT_TRUE(found) << "stage " << s << " chunk " << c << " issued at " << issued;
    }
  }
}

// Megatron-LM's default bucket holds max(40M, 1M x dp) parameters' gradients.
TEST(GradReduceOverlap, DefaultBucketGrowsWithDataParallelism) {
  TrainingSpec t = WithOverlap(GradReduceOverlap::kAlways);
  Layout l;
  l.dp = 8;
  EXPECT_DOUBLE_EQ(BucketBytes(t, l), 40e6 * 4);
  l.dp = 128;
  EXPECT_DOUBLE_EQ(BucketBytes(t, l), 128e6 * 4);
  t.grad_reduce_bytes = 2;
  EXPECT_DOUBLE_EQ(BucketBytes(t, l), 128e6 * 2);
  t.bucket_bytes = 25e6;  // a size given is bytes, as PyTorch DDP's bucket_cap_mb
  EXPECT_DOUBLE_EQ(BucketBytes(t, l), 25e6);
}

// GPT ties its output layer to the embedding: with a pipeline the last stage keeps a copy, whose
// gradient the first and last stages all-reduce after the backward. Nothing to tie without a
// pipeline, or for Llama (untied).
TEST(TiedEmbedding, FirstAndLastStagesSumTheirCopiesGradients) {
  const StepResult piped = Simulate(WithOverlap(GradReduceOverlap::kAlways), kPipeline);
  for (const auto& spans : piped.dp_spans) {
    int tied = 0;
    for (const auto& s : spans) tied += s.label == "embedding grad all-reduce";
    EXPECT_EQ(tied, 1);
  }
  // Both ends start it together (the later one's readiness) and end together.
  auto tied_span = [&](int stage) {
    for (const auto& s : piped.dp_spans[size_t(stage)])
      if (s.label == "embedding grad all-reduce") return s;
    return CommSpan{};
  };
  EXPECT_DOUBLE_EQ(tied_span(0).start, tied_span(1).start);
  EXPECT_GT(tied_span(0).end, tied_span(0).start);
  const StepResult flat = Simulate(WithOverlap(GradReduceOverlap::kAlways), kNoPipeline);
  for (const auto& s : flat.dp_spans[0]) EXPECT_NE(s.label, "embedding grad all-reduce");
}

// The mean time of stage `from`'s transfers in the direction given (activations or gradients).
double MeanTransferSeconds(const StepResult& r, int from, bool forward) {
  double sum = 0;
  int n = 0;
  for (const TaskTiming& t : r.pipeline.transfers[size_t(from)])
    if (t.task.forward == forward) sum += t.end - t.start, ++n;
  return n ? sum / n : 0;
}

// Each pipeline boundary is costed on its own GPUs: tp=4, pp=4 on two DGX H100 nodes keeps the
// 0 -> 1 and 2 -> 3 boundaries inside a node and crosses between nodes at 1 -> 2, whose transfers
// take longer (they were all costed as 0 -> 1, NVLink; QA, session 56).
TEST(PipelineTransfers, EachBoundaryIsCostedOnItsOwnGpus) {
  TrainingSpec t;
  t.global_batch = 8;
  const StepResult r = SimulateOn("dgx-h100", 16, "llama-2-7b", t, "tp=4,pp=4,dp=1,mb=1");
  const double inside = MeanTransferSeconds(r, 0, true), across = MeanTransferSeconds(r, 1, true);
  EXPECT_GT(across, 2 * inside) << inside << " s inside a node, " << across << " s across";
  EXPECT_NEAR(MeanTransferSeconds(r, 2, true), inside, 1e-9 * inside);
  EXPECT_NEAR(MeanTransferSeconds(r, 2, false), across, 1e-9 * across) << "stage 2's gradients cross back to stage 1";
}

// The DP replicas whose GPUs share a node send their pipeline messages and tied-embedding
// reductions at the same moment, through the node's NICs: on the PCIe preset (2 NICs for 8 GPUs,
// GPUs 0-3 on the first) tp=2, dp=4 puts four GPUs' flows on each NIC, where replica 0's two
// alone were costed (QA, session 56).
TEST(PipelineTransfers, ReplicasSharingANodeShareItsNics) {
  ClusterSpec cluster = LoadCluster("pcie-a100");
  SizeForGpus(&cluster, 16);
  TrainingSpec t;
  t.global_batch = 16;
  const ModelSpec gpt = LoadModel("megatron-1.7b");
  StepModel model(gpt, cluster, t, ComputeModel(cluster.gpu));
  const StepResult r = model.Simulate(ParseLayout("tp=2,pp=2,dp=4,mb=1"), /*keep_trace=*/true);
  const double nic_Bps = cluster.node.nic_Gbps / 8 * 1e9 * cluster.node.nic_efficiency;
  // Each GPU sends half of one micro-batch's activation (scatter/gather), four per NIC.
  const double activation = double(gpt.seq_len) * gpt.hidden * t.bytes_per_value;
  const double nic_seconds = 4 * (activation / 2) / nic_Bps;
  EXPECT_GT(MeanTransferSeconds(r, 0, true), nic_seconds);
  EXPECT_LT(MeanTransferSeconds(r, 0, true), 1.25 * nic_seconds) << "the NIC time and a 2-GPU all-gather";
  // Each pair exchanges its half of the vocabulary's gradients, four pairs per NIC.
  double tied = 0;
  for (const CommSpan& span : r.dp_spans[0])
    if (span.label == "embedding grad all-reduce") tied = span.end - span.start;
  const double shard_bytes = VocabShard(gpt, 2) * gpt.hidden * t.grad_reduce_bytes;
  EXPECT_GT(tied, 0.95 * 4 * shard_bytes / nic_Bps);
}

// Backward TP collectives beside the GEMMs (modern Megatron-LM) expose less TP time and shorten
// the step; forward ones stay exposed, so some TP time remains.
TEST(TpCommOverlap, HidesBackwardCollectivesBehindGemms) {
  ClusterSpec cluster = LoadCluster("dgx-h100");
  SizeForGpus(&cluster, 8);
  for (const char* keys : {"tp=8,pp=1,dp=1,mb=1,recompute=selective,sp=on", "tp=8,pp=1,dp=1,mb=1,sp=off"}) {
    Layout layout;
    std::vector<std::string> present;
    ParseLayoutKeys(keys, "test", &layout, &present);
    TrainingSpec t;
    t.global_batch = 4;
    const StepResult overlapped = StepModel(LoadModel("llama-2-7b"), cluster, t, ComputeModel(cluster.gpu)).Simulate(layout);
    t.tp_comm_overlap = false;
    const StepResult serial = StepModel(LoadModel("llama-2-7b"), cluster, t, ComputeModel(cluster.gpu)).Simulate(layout);
    EXPECT_LT(overlapped.breakdown.tp_exposed, 0.8 * serial.breakdown.tp_exposed) << keys;
    EXPECT_GT(overlapped.breakdown.tp_exposed, 0) << keys;
    EXPECT_LT(overlapped.step_time_s, serial.step_time_s) << keys;
  }
}

TEST(GradReduceOverlap, NamesRoundTripAndBadNameIsNamed) {
  for (GradReduceOverlap o : {GradReduceOverlap::kAlways, GradReduceOverlap::kWithoutPipeline,
                              GradReduceOverlap::kNever}) {
    EXPECT_EQ(ParseGradReduceOverlap(GradReduceOverlapName(o), "test"), o);
  }
  try {
    ParseGradReduceOverlap("sometimes", "--grad-reduce-overlap");
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("--grad-reduce-overlap: \"sometimes\""), std::string::npos) << e.what();
  }
}

// The optimizer step is memory-bound: 38 B per parameter (gradient norm 4, fused Adam 28, master
// to model copy 6), + 6 B to copy 16-bit gradients to fp32, + 8 B to unscale fp16 gradients.
TEST(OptimizerStep, BytesPerParameterFollowTheKernelsMegatronRuns) {
  TrainingSpec t = WithOverlap(GradReduceOverlap::kAlways);
  t.grad_reduce_bytes = 4;
  const double base = Simulate(t, kNoPipeline).breakdown.optimizer;
  t.grad_reduce_bytes = 2;
  const double copied = Simulate(t, kNoPipeline).breakdown.optimizer;
  t.loss_scaling = true;
  const double unscaled = Simulate(t, kNoPipeline).breakdown.optimizer;
  EXPECT_NEAR(copied / base, 44.0 / 38, 1e-12);
  EXPECT_NEAR(unscaled / base, 52.0 / 38, 1e-12);
  // 1.7B parameters on one GPU (no TP/PP, no ZeRO) at 85% of 2039 GB/s.
  const double params = Simulate(t, kNoPipeline).memory.weights / t.bytes_per_value;
  EXPECT_NEAR(base, params * 38 / (2039e9 * 0.85), 1e-3 * base);
}

// A search ranks long pipelines by a step time extrapolated from two short ones (2 pp and 4 pp
// micro-batches): it must be what the full simulation gives, for 1F1B and interleaved schedules,
// ZeRO-1's overlapped gathers, blocking and overlapped pipeline sends, and no pipeline at all.
// Too short a pipeline to gain is not extrapolated.
TEST(ExtrapolatedStep, MatchesTheFullSimulation) {
  ClusterSpec cluster = LoadCluster("dgx-a100");
  SizeForGpus(&cluster, 16);
  for (bool pp_overlap : {false, true}) {
    TrainingSpec t;
    t.global_batch = 640;  // 160 micro-batches of 1 per pipeline at dp=4
    t.pp_overlap = pp_overlap;
    StepModel model(LoadModel("megatron-1.7b"), cluster, t, ComputeModel(cluster.gpu));
    for (const char* keys : {"tp=1,pp=4,dp=4,mb=1,v=1,zero=1,recompute=full", "tp=1,pp=4,dp=4,mb=1,v=3,zero=1,recompute=full",
                             "tp=2,pp=4,dp=2,mb=1,v=2,zero=0,recompute=selective", "tp=2,pp=1,dp=8,mb=1,zero=1"}) {
      Layout layout;
      std::vector<std::string> present;
      ParseLayoutKeys(keys, "test", &layout, &present);
      const std::optional<double> extrapolated = model.ExtrapolatedSeconds(layout);
      ASSERT_TRUE(extrapolated.has_value()) << keys;
      const double full = model.Simulate(layout).step_time_s;
      EXPECT_NEAR(*extrapolated / full, 1.0, 1e-4) << keys << " pp_overlap " << pp_overlap;
    }
  }
  TrainingSpec t;
  t.global_batch = 112;  // 28 micro-batches at dp=4: fewer than 8 pp = 32
  StepModel model(LoadModel("megatron-1.7b"), cluster, t, ComputeModel(cluster.gpu));
  Layout layout;
  std::vector<std::string> present;
  ParseLayoutKeys("tp=1,pp=4,dp=4,mb=1,v=1,zero=1,recompute=full", "test", &layout, &present);
  EXPECT_FALSE(model.ExtrapolatedSeconds(layout).has_value());
}

}  // namespace
}  // namespace braid::sim

namespace braid::sim {
namespace {

// MFU counts causal attention's model work only (the masked half of the scores is none): so it
// stays below 1 even where a causal kernel at its best beats the full count. A 262k-token model
// whose step is nearly all attention, on an H100 whose attention runs at the peak, passed 160%
// when the scores were counted in full.
TEST(Mfu, StaysBelowOneForLongCausalSequencesAtPeakAttention) {
  ModelSpec m;
  m.name = "long-attention";
  m.layers = 4;
  m.hidden = 256;
  m.heads = 2;
  m.kv_heads = 2;
  m.ffn_hidden = 1024;
  m.seq_len = 262144;
  m.vocab = 1;
  ClusterSpec cluster = LoadCluster("dgx-h100");
  cluster.gpu.attention_efficiency = 1.0;
  SizeForGpus(&cluster, 1);
  TrainingSpec training;
  training.global_batch = 8;
  StepModel model(m, cluster, training, ComputeModel(cluster.gpu));
  Layout layout;
  std::vector<std::string> keys;
  ParseLayoutKeys("tp=1,pp=1,dp=1", "test", &layout, &keys);
  const StepResult r = model.Simulate(layout, false);
  EXPECT_GT(r.mfu, 0.3) << "attention dominates this step and runs at the peak";
  EXPECT_LT(r.mfu, 1.0);
  // Megatron's count keeps the scores in full, so its rate may pass the peak here: that is the
  // convention (report.h), not work done.
  EXPECT_GT(r.tflops_per_gpu, r.model_tflops_per_gpu);
}

// The breakdown describes the busiest stage, the pipeline's bottleneck, and its parts still add
// up to the step. With 5 + 11 + 11 + 5 layers the light first stage finishes last (it runs the
// last backward) and is idle most of the step; describing it made the heavy stages' pace read as
// a bubble that more micro-batches would fill.
TEST(Breakdown, DescribesTheBusiestStage) {
  TrainingSpec training;
  training.global_batch = 32;
  const StepResult r = SimulateOn("dgx-a100", 16, "llama-2-7b", training, "tp=2,pp=4,dp=2,first=5,last=5");
  ASSERT_EQ(r.stage_layers, (std::vector<int>{5, 11, 11, 5}));
  EXPECT_TRUE(r.critical_stage == 1 || r.critical_stage == 2) << r.critical_stage;
  const Breakdown& b = r.breakdown;
  EXPECT_NEAR(b.compute + b.tp_exposed + b.pp_exposed + b.bubble + b.dp_exposed + b.optimizer, r.step_time_s, 1e-9);
  EXPECT_GT(b.compute, 0.75 * r.step_time_s);  // stage 0 would show ~40% compute and ~58% bubble
  for (size_t s = 0; s < r.pipeline.stage_busy.size(); ++s)
    EXPECT_LE(r.pipeline.stage_busy[s], r.pipeline.stage_busy[size_t(r.critical_stage)] + 1e-12) << s;
}

}  // namespace
}  // namespace braid::sim
