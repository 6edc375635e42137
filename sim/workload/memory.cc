#include "sim/workload/memory.h"

#include <algorithm>
#include <vector>

#include "sim/step/pipeline_program.h"

namespace braid::sim {
namespace {

constexpr double kGiB = 1024.0 * 1024 * 1024;
// Adam in mixed precision keeps an fp32 master copy, first and second moments: 12 bytes/param.
constexpr double kOptimizerBytesPerParam = 12;
// Adam steps on fp32 gradients. Gradients reduced in 16 bits are copied to fp32 ones that the
// optimizer keeps from step to step (Megatron-LM's Float16Optimizer: main_param.grad =
// model_param.grad.float(), never freed by zero_grad).
double OptimizerBytesPerParam(const TrainingSpec& tr) {
  return kOptimizerBytesPerParam + (tr.grad_reduce_bytes < 4 ? 4 : 0);
}

}  // namespace

double LayerActivationBytes(const ModelSpec& m, const Layout& l, const TrainingSpec& tr) {
  const double b = l.mb, s = m.seq_len, h = m.hidden, t = l.tp, bpv = tr.bytes_per_value;
  const double tokens = b * s;
  const double shard_seq = l.sp ? t : 1;  // sequence parallelism shards the replicated tensors
  if (l.recompute == Recompute::kFull) return bpv * tokens * h / shard_seq;  // the layer input
  // Replicated across TP ranks: norm inputs and outputs (2 x 2 values/element), two 1-byte
  // dropout masks: KORT's 10 sbh (8 sbh without dropout, as Llama trains).
  const double masks = m.has_dropout() ? 2 : 0;
  const double replicated = (4 * bpv + masks) * tokens * h / shard_seq;
  // Sharded over TP: Q, K, V; the attention output; FFN input and output of the activation
  // (SwiGLU keeps both halves of FC1's output). Under GQA a fused kernel keeps K and V at their
  // groups' width; the unfused PyTorch attention first repeats them to every query head
  // (Megatron-LM's DotProductAttention: repeat_interleave before baddbmm and bmm, which save
  // the repeated copies).
  const double kv_heads = tr.attention == AttentionKernel::kUnfused ? m.heads : m.kv_heads;
  const double kv_width = 2.0 * kv_heads * m.head_dim();
  const double ffn = double(m.ffn_hidden) / t;
  const bool swiglu = m.activation == Activation::kSwiglu;
  double sharded = bpv * tokens * ((h + kv_width) / t + h / t + (swiglu ? 3 : 2) * ffn);
  // What the attention core keeps beyond its inputs, only without selective recompute (which
  // runs the core again in backward): unfused, the s x s score tensors (softmax output, dropout
  // mask and output: KORT's 5as^2b; the softmax output alone without dropout); fused, a per-row
  // log-sum-exp (fp32).
  const double heads = double(m.heads) / t;
  if (l.recompute == Recompute::kNone) {
    sharded += tr.attention == AttentionKernel::kUnfused ? (m.has_dropout() ? 2 * bpv + 1 : bpv) * b * heads * s * s
                                                         : 4 * b * heads * s;
  }
  return replicated + sharded;
}

MemoryBreakdown StageMemory(const ModelSpec& m, const Layout& l, const TrainingSpec& tr,
                            const GpuSpec& gpu, int stage, const std::vector<int>& chunk_layers,
                            double params, double largest_unit, bool last_stage) {
  MemoryBreakdown mem;
  const double dp = l.dp;
  mem.weights = tr.bytes_per_value * params / (l.zero >= 3 ? dp : 1);
  mem.gradients = tr.grad_reduce_bytes * params / (l.zero >= 2 ? dp : 1);
  if (CopiesGradsToBuckets(tr, l)) mem.gradients *= 2;  // the DDP buckets hold a second copy
  mem.optimizer = OptimizerBytesPerParam(tr) * params / (l.zero >= 1 ? dp : 1);
  // ZeRO-2/3 reduce-scatter each unit's gradients once its backward ran: until then they are
  // whole, for the unit being reduced and the one whose backward runs beside it. (A single
  // replica shards nothing, so it holds no such buffers.)
  const bool sharded = l.dp > 1;
  if (l.zero >= 2 && sharded) mem.gradients += 2 * tr.grad_reduce_bytes * largest_unit;
  // ZeRO-3 gathers whole weights: the unit being computed and the one prefetched.
  if (l.zero >= 3 && sharded) mem.weights += 2 * tr.bytes_per_value * largest_unit;
  // Each in-flight chunk of a micro-batch holds its layers' activations and, where outputs are
  // kept (pp > 1), its output (b x s x h) until its backward; the model's last chunk ends in the
  // loss and sends nothing. The peak follows the schedule's order, chunk by chunk.
  const double layer = LayerActivationBytes(m, l, tr);
  const bool kept = tr.keep_pipeline_outputs && l.pp > 1;
  const double output = tr.bytes_per_value * l.mb * m.seq_len * m.hidden / (l.sp ? l.tp : 1);
  std::vector<double> held(chunk_layers.size());
  for (size_t c = 0; c < held.size(); ++c) {
    const bool sends = !(last_stage && int(c) == l.v - 1);
    held[c] = chunk_layers[c] * layer + (kept && sends ? output : 0);
  }
  mem.activations = PeakHeldBytes(tr.schedule, l.pp, l.v, MicroBatches(tr, l), stage, held);
  if (l.recompute == Recompute::kFull) {
    // During a layer's backward its full activations are rebuilt, one layer at a time.
    Layout none = l;
    none.recompute = Recompute::kNone;
    mem.activations += LayerActivationBytes(m, none, tr);
  }
  if (last_stage) {
    // The logits of the micro-batch in flight (16-bit), and the fp32 softmax the loss keeps for
    // its backward: one micro-batch's under 1F1B, which runs each loss's backward at once; every
    // micro-batch's under GPipe, which runs all forwards first.
    const double logits = l.mb * m.seq_len * VocabShard(m, l.tp);
    const double losses_kept = tr.schedule == PipelineSchedule::kGPipe ? MicroBatches(tr, l) : 1;
    mem.activations += (tr.bytes_per_value + 4.0 * losses_kept) * logits;
  }
  mem.reserved = gpu.reserved_GiB * kGiB;
  return mem;
}

}  // namespace braid::sim
