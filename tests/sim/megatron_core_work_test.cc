// The work of a layer as modern Megatron-LM (megatron/core) runs it, where it differs from the
// 2021 software that Table 1 checks: tensor-parallel collectives of the backward pass beside the
// GEMMs, the sequence-parallel input gathered again for the weight gradient, the attention core
// recomputed under selective recomputation even when fused, no dropout for Llama, the embedding
// outside recomputation, GPT's tied output layer on a pipeline's last stage, and the losses a GPipe
// schedule keeps.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sim/workload/layer_work.h"
#include "sim/workload/memory.h"
#include "sim/workload/model.h"
#include "sim/workload/training.h"

namespace braid::sim {
namespace {

using coll::Collective;

Layout Tp8(bool sp) {
  Layout l;
  l.tp = 8;
  l.mb = 1;
  l.sp = sp;
  return l;
}

TrainingSpec Modern() {
  TrainingSpec t;
  t.global_batch = 8;
  return t;
}

// The names of the kernels hiding each collective ("" when none) and the collectives' kinds.
struct Placed {
  Collective collective;
  std::string hidden_by;
};
std::vector<Placed> Placement(const PassWork& pass) {
  std::vector<Placed> out;
  for (const TpCollective& c : pass.tp_collectives) {
    out.push_back({c.collective, c.hidden_by >= 0 ? pass.kernels[size_t(c.hidden_by)].name : ""});
  }
  return out;
}

int Count(const std::vector<Placed>& placed, Collective c, const std::string& hidden_by) {
  int n = 0;
  for (const Placed& p : placed) n += p.collective == c && p.hidden_by == hidden_by;
  return n;
}

// Without sequence parallelism each column-parallel linear (QKV, FC1) all-reduces its input
// gradient beside its weight-gradient GEMM; the exits' all-reduces have an identity backward.
TEST(TpBackward, AllReducesRunBesideTheWeightGradientGemms) {
  const ModelSpec m = LoadModel("llama-3-70b");
  const std::vector<Placed> p = Placement(TransformerLayerWork(m, Tp8(false), Modern()).backward);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(Count(p, Collective::kAllReduce, "qkv.wgrad"), 1);
  EXPECT_EQ(Count(p, Collective::kAllReduce, "fc1.wgrad"), 1);
}

// With sequence parallelism: the exits' gradients are all-gathered in the open (2), each entry's
// saved 1/t input is all-gathered again beside its data-gradient GEMM (2) and its input gradient
// reduce-scattered beside its weight-gradient GEMM (2). Forward: 2 all-gathers, 2 reduce-scatters.
TEST(TpBackward, SequenceParallelGathersTheInputAgainForTheWeightGradient) {
  const ModelSpec m = LoadModel("llama-3-70b");
  const LayerWork w = TransformerLayerWork(m, Tp8(true), Modern());
  const std::vector<Placed> p = Placement(w.backward);
  ASSERT_EQ(p.size(), 6u);
  EXPECT_EQ(Count(p, Collective::kAllGather, ""), 2);
  EXPECT_EQ(Count(p, Collective::kAllGather, "qkv.dgrad"), 1);
  EXPECT_EQ(Count(p, Collective::kAllGather, "fc1.dgrad"), 1);
  EXPECT_EQ(Count(p, Collective::kReduceScatter, "qkv.wgrad"), 1);
  EXPECT_EQ(Count(p, Collective::kReduceScatter, "fc1.wgrad"), 1);
  const std::vector<Placed> f = Placement(w.forward);
  EXPECT_EQ(Count(f, Collective::kAllGather, ""), 2);
  EXPECT_EQ(Count(f, Collective::kReduceScatter, ""), 2);
  // The logits layer is column-parallel too.
  const std::vector<Placed> head = Placement(HeadWork(m, Tp8(true), Modern()).backward);
  EXPECT_EQ(Count(head, Collective::kAllGather, "logits.dgrad"), 1);
  EXPECT_EQ(Count(head, Collective::kReduceScatter, "logits.wgrad"), 1);
}

// Megatron-LM 2021: the same collectives, every one on the critical path.
TEST(TpBackward, WithoutOverlapNothingIsHidden) {
  const ModelSpec m = LoadModel("gpt3-175b");
  TrainingSpec t = Modern();
  t.tp_comm_overlap = false;
  for (bool sp : {false, true}) {
    for (const Placed& p : Placement(TransformerLayerWork(m, Tp8(sp), t).backward)) EXPECT_EQ(p.hidden_by, "");
    for (const Placed& p : Placement(HeadWork(m, Tp8(sp), t).backward)) EXPECT_EQ(p.hidden_by, "");
  }
}

// Selective recomputation repeats the attention core, fused or not (Megatron-LM checkpoints it
// whatever computes it): one more forward of the core's FLOPs, nothing else.
TEST(SelectiveRecompute, RepeatsTheAttentionCoreEvenWhenFused) {
  const ModelSpec m = LoadModel("llama-3-70b");
  Layout l = Tp8(true);
  l.recompute = Recompute::kSelective;
  for (AttentionKernel a : {AttentionKernel::kFlash, AttentionKernel::kUnfused}) {
    TrainingSpec t = Modern();
    t.attention = a;
    const LayerWork w = TransformerLayerWork(m, l, t);
    double core = 0;
    for (const Kernel& k : w.forward.kernels) {
      if (k.name == "attention" || k.name == "qk" || k.name == "av") core += k.counted_flops;
    }
    EXPECT_GT(core, 0) << AttentionKernelName(a);
    EXPECT_DOUBLE_EQ(CountedFlops(w.recompute), core) << AttentionKernelName(a);
    EXPECT_TRUE(w.recompute.tp_collectives.empty());
  }
}

// Llama trains without dropout: no masks kept (8 sbh replicated instead of KORT's 10 sbh) and a
// plain residual add (3 values per element, no backward kernel); GPT keeps both.
TEST(Dropout, LlamaKeepsNoMasksAndAddsResidualsPlainly) {
  const ModelSpec llama = LoadModel("llama-2-7b");
  const ModelSpec gpt = LoadModel("megatron-7.5b");  // same h = 4096, s differs
  Layout l;
  l.tp = 1;
  l.mb = 1;
  l.recompute = Recompute::kSelective;  // KORT's sbh(10 + 24/t), t = 1: 34 sbh for GPT
  TrainingSpec t = Modern();
  const double sbh_llama = double(llama.seq_len) * llama.hidden;
  const double sbh_gpt = double(gpt.seq_len) * gpt.hidden;
  const double ffn_llama = llama.ffn_hidden, h = llama.hidden;
  // Llama: 8 sbh replicated + QKV, the attention output, both SwiGLU halves and their product.
  const double llama_sharded = 2 * llama.seq_len * (3 * h + h + 3 * ffn_llama);  // K, V: 2h (32 KV heads)
  // Selective recompute runs the fused core again in backward, so its log-sum-exp is not kept.
  EXPECT_DOUBLE_EQ(LayerActivationBytes(llama, l, t), 8 * sbh_llama + llama_sharded);
  EXPECT_DOUBLE_EQ(LayerActivationBytes(gpt, l, t), 34 * sbh_gpt);
  l.recompute = Recompute::kNone;  // ... which it keeps otherwise: one fp32 per head and token
  EXPECT_DOUBLE_EQ(LayerActivationBytes(gpt, l, t), 34 * sbh_gpt + 4.0 * gpt.heads * gpt.seq_len);
  l.recompute = Recompute::kSelective;
  auto residual = [&](const ModelSpec& m, bool backward) {
    const LayerWork w = TransformerLayerWork(m, l, t);
    double bytes = 0;
    for (const Kernel& k : backward ? w.backward.kernels : w.forward.kernels) {
      if (k.name.rfind("residual1", 0) == 0) bytes += k.bytes;
    }
    return bytes;
  };
  EXPECT_DOUBLE_EQ(residual(llama, false), 6 * sbh_llama);
  EXPECT_EQ(residual(llama, true), 0);
  EXPECT_DOUBLE_EQ(residual(gpt, false), 7 * sbh_gpt);
  EXPECT_DOUBLE_EQ(residual(gpt, true), 7 * sbh_gpt);
}

// Recomputation covers the transformer layers only; the embedding's backward writes a zeroed
// gradient of its table and, with fused accumulation, adds it to the accumulated one.
TEST(Embedding, NotRecomputedAndItsGradientIsAddedEveryMicroBatch) {
  const ModelSpec m = LoadModel("llama-3-70b");
  Layout l = Tp8(false);
  l.recompute = Recompute::kFull;
  const TrainingSpec t = Modern();
  const LayerWork w = EmbeddingWork(m, l, t);
  EXPECT_TRUE(w.recompute.kernels.empty());
  EXPECT_TRUE(w.recompute.tp_collectives.empty());
  const double table = 129024.0 / 8 * m.hidden, tokens = m.seq_len;  // 128256 padded to 1024 x 126
  double zero_and_scatter = 0, accumulate = 0;
  for (const Kernel& k : w.backward.kernels) {
    if (k.name == "embedding.bwd") zero_and_scatter = k.bytes;
    if (k.name == "embedding.grad-accumulate") accumulate = k.bytes;
  }
  EXPECT_DOUBLE_EQ(zero_and_scatter, 2 * table + 8 * tokens * m.hidden);
  EXPECT_DOUBLE_EQ(accumulate, table * (2 + 2 * 4));
}

// GPT ties the output layer to the embedding: one tensor without a pipeline, a trained copy on
// the last stage with one. Llama's output layer is its own.
TEST(OutputLayer, GptCopiesTheEmbeddingOnlyWithAPipeline) {
  const ModelSpec gpt = LoadModel("gpt3-175b");
  const ModelSpec llama = LoadModel("llama-3-70b");
  Layout l = Tp8(false);
  const TrainingSpec t = Modern();
  EXPECT_EQ(HeadWork(gpt, l, t).parameters, 0);
  EXPECT_DOUBLE_EQ(HeadWork(llama, l, t).parameters, 129024.0 / 8 * llama.hidden);  // padded vocabulary
  l.pp = 4;
  EXPECT_DOUBLE_EQ(HeadWork(gpt, l, t).parameters, double(gpt.vocab) / 8 * gpt.hidden);
}

// The last stage keeps one fp32 softmax per micro-batch whose backward has not run: one under
// 1F1B, all of them under GPipe.
TEST(LastStageMemory, GpipeKeepsEveryMicroBatchsLoss) {
  const ModelSpec m = LoadModel("llama-2-7b");
  Layout l;
  l.tp = 2;
  l.pp = 4;
  l.dp = 1;
  l.mb = 1;
  l.recompute = Recompute::kFull;
  TrainingSpec t = Modern();
  t.global_batch = 16;
  GpuSpec gpu;
  auto last = [&](PipelineSchedule s) {
    t.schedule = s;
    return StageMemory(m, l, t, gpu, 3, {8}, 0, 0, true).activations;
  };
  const double one_f_one_b = last(PipelineSchedule::kOneFOneB);
  const double gpipe = last(PipelineSchedule::kGPipe);
  const double logits = double(m.seq_len) * m.vocab / 2;
  // GPipe also holds 16 micro-batches' layer inputs instead of 1F1B's one on the last stage.
  const double inputs = 15.0 * 8 * 2 * m.seq_len * m.hidden;
  EXPECT_DOUBLE_EQ(gpipe - one_f_one_b, 15 * 4 * logits + inputs);
}

}  // namespace
}  // namespace braid::sim
