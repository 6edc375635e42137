#include "sim/workload/layer_work.h"

#include <stdexcept>
#include <string>

namespace braid::sim {
namespace {

using coll::Collective;

// Backward of a forward pass: each GEMM C = A B needs dA = dC B^T and dB = A^T dC (same FLOPs
// each); fused attention's backward does 2.5x its forward's work (five GEMM-like products
// against two, the scores recomputed inside); a memory-bound kernel moves its backward_factor
// times its forward traffic (what its backward kernels read and write, see the kernels below).
std::vector<Kernel> BackwardOf(const std::vector<Kernel>& forward, int bpv) {
  std::vector<Kernel> out;
  for (const Kernel& k : forward) {
    switch (k.kind) {
      case KernelKind::kGemm:
        out.push_back(Gemm(k.name + ".dgrad", k.m, k.k, k.n, k.batch, bpv));
        out.back().model_share = k.model_share;
        out.push_back(Gemm(k.name + ".wgrad", k.k, k.n, k.m, k.batch, bpv));
        out.back().model_share = k.model_share;
        break;
      case KernelKind::kAttention: {
        Kernel b = k;
        b.name += ".bwd";
        b.flops *= 2.5;
        b.counted_flops *= 2;  // Megatron counts the backward pass as twice the forward
        b.bytes *= 2;
        out.push_back(b);
        break;
      }
      case KernelKind::kMemory:
        if (k.backward_factor > 0) out.push_back(MemoryOp(k.name + ".bwd", k.backward_factor * k.bytes));
        break;
    }
  }
  return out;
}

// A fused LayerNorm/RMSNorm over `elements` values of `bpv` bytes: reads and writes each once.
// Its backward (Apex's and Megatron-LM's fused kernel) reads the gradient and the input twice,
// once for the weight gradients' partial sums and once for the input gradient, and writes the
// input gradient: 2.5x.
Kernel Norm(std::string name, int bpv, double elements) {
  return MemoryOp(std::move(name), 2.0 * bpv * elements, 2.5);
}

// The add that closes a residual branch. GPT-style: fused bias + dropout + residual add, which
// reads the branch and the residual and writes the sum and a 1-byte mask; its backward is
// dropout's (gradient and mask in, gradient out) plus the bias gradient (one more read): the
// forward's bytes again. Llama: a plain add (read two, write one) whose backward passes the
// gradient on unchanged (no kernel).
Kernel ResidualAdd(std::string name, const ModelSpec& m, int bpv, double elements) {
  if (m.has_dropout()) return MemoryOp(std::move(name), (3.0 * bpv + 1) * elements, 1.0);
  return MemoryOp(std::move(name), 3.0 * bpv * elements, 0);
}

struct Dims {
  double b, s, h, t, tokens, norm_tokens, bpv;
};

Dims DimsOf(const ModelSpec& m, const Layout& l, const TrainingSpec& tr) {
  Dims d;
  d.b = l.mb;
  d.s = m.seq_len;
  d.h = m.hidden;
  d.t = l.tp;
  d.tokens = d.b * d.s;
  // Norms, dropouts and residual adds run on the whole sequence on every TP rank, or on 1/t of
  // it with sequence parallelism.
  d.norm_tokens = l.sp ? d.tokens / d.t : d.tokens;
  d.bpv = tr.bytes_per_value;
  return d;
}

// Converts between the replicated activations of the TP region's input/output: an all-reduce
// without sequence parallelism, otherwise all-gather at entry and reduce-scatter at exit.
void AddTpEntry(const Layout& l, const Dims& d, PassWork* pass) {
  if (l.tp > 1 && l.sp) pass->tp_collectives.push_back({Collective::kAllGather, d.tokens * d.h * d.bpv});
}
void AddTpExit(const Layout& l, const Dims& d, PassWork* pass) {
  if (l.tp == 1) return;
  pass->tp_collectives.push_back(
      {l.sp ? Collective::kReduceScatter : Collective::kAllReduce, d.tokens * d.h * d.bpv});
}

// Index of the kernel named `name` in `pass` (it must be there).
int KernelIndex(const PassWork& pass, const std::string& name) {
  for (size_t i = 0; i < pass.kernels.size(); ++i) {
    if (pass.kernels[i].name == name) return int(i);
  }
  throw std::logic_error("no kernel " + name + " in the pass");
}

// The backward collectives of a column-parallel linear at a TP entry (QKV, FC1, the logits), as
// Megatron-LM's LinearWithGradAccumulationAndAsyncCommunication runs them. Its input gradient is
// partial on each rank: all-reduced, or reduce-scattered with sequence parallelism, which also
// kept only its 1/t share of the input and all-gathers it again for the weight gradient. With
// tp_comm_overlap the all-gather runs beside the data-gradient GEMM and the reduction beside the
// weight-gradient GEMM (`backward` holds both, named "<linear>.dgrad" / ".wgrad").
void AddColumnParallelBackward(const std::string& linear, const Layout& l, const Dims& d, const TrainingSpec& tr,
                               PassWork* backward) {
  if (l.tp == 1) return;
  const double bytes = d.tokens * d.h * d.bpv;
  const bool overlap = tr.tp_comm_overlap;
  if (l.sp) {
    backward->tp_collectives.push_back(
        {Collective::kAllGather, bytes, overlap ? KernelIndex(*backward, linear + ".dgrad") : -1});
  }
  backward->tp_collectives.push_back({l.sp ? Collective::kReduceScatter : Collective::kAllReduce, bytes,
                                      overlap ? KernelIndex(*backward, linear + ".wgrad") : -1});
}

// The backward collective of a TP exit (after the attention projection, FC2, the embedding): with
// sequence parallelism the output gradient is all-gathered before anything can use it (exposed);
// without, the forward all-reduce's backward is the identity.
void AddTpExitBackward(const Layout& l, const Dims& d, PassWork* backward) {
  if (l.tp > 1 && l.sp) backward->tp_collectives.push_back({Collective::kAllGather, d.tokens * d.h * d.bpv});
}

// Passes over the weight gradients besides the GEMMs that produce them, one kernel per pass
// standing for the per-parameter work, its bytes spread over the micro-batches (which all cost
// the same here):
// - without fused accumulation, every micro-batch after the first adds its fresh gradients
//   (bytes_per_value each) into the buffer (grad_reduce_bytes each): read both, write the buffer;
// - with DDP bucket copies, the last micro-batch copies each gradient into its bucket before the
//   reduction and back after it: a read and a write each way.
void AddGradientPasses(const Layout& l, const TrainingSpec& tr, LayerWork* w) {
  if (w->parameters == 0) return;
  const int microbatches = MicroBatches(tr, l);
  if (!tr.fused_grad_accumulation && microbatches > 1) {
    const double share = double(microbatches - 1) / microbatches;
    const double bytes = w->parameters * (tr.bytes_per_value + 2.0 * tr.grad_reduce_bytes);
    w->backward.kernels.push_back(MemoryOp("grad-accumulate", share * bytes));
  }
  if (CopiesGradsToBuckets(tr, l)) {
    const double bytes = 4.0 * tr.grad_reduce_bytes * w->parameters;
    w->backward.kernels.push_back(MemoryOp("grad-bucket-copy", bytes / microbatches));
  }
}

}  // namespace

LayerWork TransformerLayerWork(const ModelSpec& m, const Layout& l, const TrainingSpec& tr) {
  const Dims d = DimsOf(m, l, tr);
  const int bpv = tr.bytes_per_value;
  const double heads = double(m.heads) / l.tp;
  const double dh = m.head_dim();
  const double kv_width = 2.0 * m.kv_heads * dh;  // K and V projections
  const double ffn = m.ffn_hidden / d.t;
  const bool swiglu = m.activation == Activation::kSwiglu;

  std::vector<Kernel> core;  // attention core (what selective recompute repeats)
  const bool unfused = tr.attention == AttentionKernel::kUnfused;
  if (tr.attention == AttentionKernel::kFlash) {
    Kernel a;
    a.name = "attention";
    a.kind = KernelKind::kAttention;
    a.counted_flops = 4 * d.b * heads * d.s * d.s * dh;
    a.flops = a.counted_flops / 2;  // causal: only the lower triangle is computed
    a.model_share = 0.5;
    a.seq = d.s;
    a.bytes = bpv * d.tokens * (2 * heads * dh + kv_width / l.tp);  // Q, O and K, V
    core.push_back(a);
  } else {
    // Megatron-LM's PyTorch attention: the scores are materialised, a fused kernel scales, masks
    // and normalises them (its backward reads the output and the gradient, writes one: 1.5x),
    // dropout writes them again with a 1-byte mask (backward: gradient and mask in, one out: 1x).
    const double scores = d.b * heads * d.s * d.s;  // elements of QK^T
    // Under GQA, K and V are first repeated to every query head (repeat_interleave: groups in,
    // heads out); the backward sums each group's gradients back (the same bytes: 1x).
    if (m.kv_heads < m.heads) {
      core.push_back(MemoryOp("kv-repeat", bpv * d.tokens * (kv_width / l.tp + 2 * heads * dh), 1.0));
    }
    // Both products run in full; the masked half is no model work (model_share).
    core.push_back(Gemm("qk", d.s, d.s, dh, d.b * heads, bpv));
    core.back().model_share = 0.5;
    core.push_back(MemoryOp("scale-mask-softmax", 2.0 * bpv * scores, 1.5));
    if (m.has_dropout()) core.push_back(MemoryOp("attention-dropout", (2.0 * bpv + 1) * scores, 1.0));
    core.push_back(Gemm("av", d.s, dh, d.s, d.b * heads, bpv));
    core.back().model_share = 0.5;
    // The context comes out as [b, heads, s, dh] and is copied to [s, b, h] for the projection
    // (permute().contiguous()); its backward needs no copy (the batched GEMM reads the permuted
    // gradient as it is).
    core.push_back(MemoryOp("context-permute", 2.0 * bpv * d.tokens * heads * dh, 0));
  }

  LayerWork w;
  PassWork& f = w.forward;
  const double qkv_width = (d.h + kv_width) / d.t;
  f.kernels.push_back(Norm("norm1", bpv, d.norm_tokens * d.h));
  AddTpEntry(l, d, &f);
  f.kernels.push_back(Gemm("qkv", d.tokens, qkv_width, d.h, 1, bpv));
  // PyTorch's linear on a 3-D input adds the bias by a separate in-place kernel (read and write
  // the output); its backward sums the gradient over the tokens (one read: 0.5x).
  if (unfused) f.kernels.push_back(MemoryOp("qkv-bias", 2.0 * bpv * d.tokens * qkv_width, 0.5));
  f.kernels.insert(f.kernels.end(), core.begin(), core.end());
  f.kernels.push_back(Gemm("proj", d.tokens, d.h, d.h / d.t, 1, bpv));
  AddTpExit(l, d, &f);
  f.kernels.push_back(ResidualAdd("residual1", m, bpv, d.norm_tokens * d.h));
  f.kernels.push_back(Norm("norm2", bpv, d.norm_tokens * d.h));
  AddTpEntry(l, d, &f);
  f.kernels.push_back(Gemm("fc1", d.tokens, (swiglu ? 2 : 1) * ffn, d.h, 1, bpv));
  // bias-GeLU reads and writes the FFN activation; its backward reads the gradient and the
  // pre-activation, writes a gradient and reads it again for the bias sum (2x). SwiGLU reads two
  // halves and writes one; its backward reads the gradient and both halves and writes both
  // halves' gradients (5/3).
  if (swiglu) {
    f.kernels.push_back(MemoryOp("swiglu", 3.0 * bpv * d.tokens * ffn, 5.0 / 3.0));
  } else {
    f.kernels.push_back(MemoryOp("bias-gelu", 2.0 * bpv * d.tokens * ffn, 2.0));
  }
  f.kernels.push_back(Gemm("fc2", d.tokens, d.h, ffn, 1, bpv));
  AddTpExit(l, d, &f);
  f.kernels.push_back(ResidualAdd("residual2", m, bpv, d.norm_tokens * d.h));

  w.backward.kernels = BackwardOf(f.kernels, bpv);
  // Autograd's own passes: each residual branch point (the layer input and the attention
  // block's output each feed a norm and a residual add) sums two gradients (read two, write
  // one); splitting the QKV output into Q, K and V views costs a concatenation of their
  // gradients in backward.
  w.backward.kernels.push_back(MemoryOp("residual-grad-sum", 2 * 3.0 * bpv * d.norm_tokens * d.h));
  if (unfused) w.backward.kernels.push_back(MemoryOp("qkv-split.bwd", 2.0 * bpv * d.tokens * qkv_width));
  // Backward runs FC2, FC1, the projection, then QKV: each TP exit's gradient gathered (sequence
  // parallelism), each entry's reduced.
  AddTpExitBackward(l, d, &w.backward);
  AddColumnParallelBackward("fc1", l, d, tr, &w.backward);
  AddTpExitBackward(l, d, &w.backward);
  AddColumnParallelBackward("qkv", l, d, tr, &w.backward);
  if (l.recompute == Recompute::kFull) {
    w.recompute = f;
  } else if (l.recompute == Recompute::kSelective) {
    // Megatron-LM checkpoints the attention core under selective recomputation whatever kernel
    // computes it (megatron/core/transformer/attention.py, checkpoint_core_attention), so a fused
    // attention's forward runs twice too, though it keeps no score matrix to save.
    w.recompute.kernels = core;
  }
  w.parameters = LayerParameters(m) / l.tp;
  AddGradientPasses(l, tr, &w);
  return w;
}

LayerWork EmbeddingWork(const ModelSpec& m, const Layout& l, const TrainingSpec& tr) {
  const Dims d = DimsOf(m, l, tr);
  LayerWork w;
  // Row gather from the (vocabulary-parallel) table, plus positions for GPT-style models.
  w.forward.kernels.push_back(MemoryOp("embedding", 2.0 * d.bpv * d.tokens * d.h));
  AddTpExit(l, d, &w.forward);  // partial rows from each vocabulary shard are summed
  // Backward (PyTorch's dense embedding backward): a zeroed gradient of the whole local table,
  // into which the tokens' gradient rows are summed in fp32 (read-modify-write).
  const double table = VocabShard(m, l.tp) * m.hidden;
  w.backward.kernels.push_back(MemoryOp("embedding.bwd", d.bpv * table + 8.0 * d.tokens * d.h));
  // No GEMM produces this gradient, so fused accumulation does not apply: it is added to the
  // accumulated gradient every micro-batch (read both, write the sum). Unfused, AddGradientPasses
  // charges every parameter that pass.
  if (tr.fused_grad_accumulation) {
    w.backward.kernels.push_back(
        MemoryOp("embedding.grad-accumulate", table * (d.bpv + 2.0 * tr.grad_reduce_bytes)));
  }
  AddTpExitBackward(l, d, &w.backward);
  // Recomputation covers the transformer layers only (Megatron-LM checkpoints those): the
  // embedding's output is kept.
  w.parameters = table + (m.gpt_style() ? double(m.seq_len) * m.hidden : 0);
  AddGradientPasses(l, tr, &w);
  return w;
}

LayerWork HeadWork(const ModelSpec& m, const Layout& l, const TrainingSpec& tr) {
  const Dims d = DimsOf(m, l, tr);
  const int bpv = tr.bytes_per_value;
  const double vocab = VocabShard(m, l.tp);
  LayerWork w;
  PassWork& f = w.forward;
  f.kernels.push_back(Norm("final-norm", bpv, d.norm_tokens * d.h));
  AddTpEntry(l, d, &f);
  f.kernels.push_back(Gemm("logits", d.tokens, vocab, d.h, 1, bpv));
  f.kernels.back().model_share = m.vocab / (vocab * l.tp);  // the padding's logits are no model work
  w.backward.kernels = BackwardOf(f.kernels, bpv);
  // Megatron-LM's vocabulary-parallel cross-entropy, in fp32 over the local vocabulary shard, one
  // PyTorch kernel per pass (bytes per logit): logits.float() (bpv + 4), max (4), subtract the
  // max in place (8), exp in place (8), sum (4), divide by the sum in place (8). Its backward
  // scales the saved softmax in place (8) and converts the gradient back (4 + bpv). Three tiny
  // all-reduces of one fp32 per token join the shards.
  const double logits = d.tokens * vocab;
  f.kernels.push_back(MemoryOp("logits-to-fp32", (bpv + 4.0) * logits));
  f.kernels.push_back(MemoryOp("cross-entropy", 32.0 * logits));
  w.backward.kernels.push_back(MemoryOp("cross-entropy.bwd", 8.0 * logits));
  w.backward.kernels.push_back(MemoryOp("logits-to-fp32.bwd", (4.0 + bpv) * logits));
  if (l.tp > 1) {
    for (int i = 0; i < 3; ++i) f.tp_collectives.push_back({Collective::kAllReduce, 4.0 * d.tokens});
  }
  AddColumnParallelBackward("logits", l, d, tr, &w.backward);
  // Untied output weights (Llama). GPT ties them to the embedding: the same tensor when one stage
  // holds both; with a pipeline the last stage keeps a copy, trained like any weight, whose
  // gradient is summed with the embedding's after the backward (StepModel::TiedEmbeddingSeconds).
  w.parameters = (m.gpt_style() && l.pp == 1) ? 0 : vocab * m.hidden;
  AddGradientPasses(l, tr, &w);
  return w;
}

double CountedFlops(const PassWork& pass) {
  double total = 0;
  for (const Kernel& k : pass.kernels) total += k.counted_flops;
  return total;
}

double ModelFlops(const PassWork& pass) {
  double total = 0;
  for (const Kernel& k : pass.kernels) total += k.counted_flops * k.model_share;
  return total;
}

}  // namespace braid::sim
