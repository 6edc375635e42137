// How a model is trained (batch, precision, optimiser, kernels used) and how it is laid out on
// the GPUs (the parallel dimensions and the memory-saving options a search chooses).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace braid::sim {

enum class Recompute { kNone, kSelective, kFull };
enum class PipelineSchedule { kOneFOneB, kGPipe };  // interleaving is 1F1B with v > 1
// Fused FlashAttention, or Megatron-LM's PyTorch attention block (QK^T / softmax / dropout / AV
// kernels, a separate QKV bias add, the context permuted back by a copy).
enum class AttentionKernel { kFlash, kUnfused };
// When a data-parallel gradient bucket may start reducing.
enum class GradReduceOverlap {
  kAlways,           // as soon as its gradients are final (PyTorch DDP; Megatron --overlap-grad-reduce)
  kWithoutPipeline,  // kAlways when pp == 1, kNever when pp > 1: Megatron-LM 2021, whose PyTorch
                     // DDP overlapped only in its no_sync schedule (no pipeline) and whose
                     // pipelined runs used its local DDP (one all-reduce after the flush)
  kNever,            // after the backward pass (after the flush)
};

// What a search may choose: one candidate parallel layout. Keys as on the command line
// (--layout / --fix): tp, pp, dp, mb, v, zero, recompute, sp.
struct Layout {
  int tp = 1;   // tensor parallel degree (Megatron column/row parallel)
  int pp = 1;   // pipeline stages
  int dp = 1;   // data-parallel replicas
  int mb = 1;   // micro-batch size, sequences
  int v = 1;    // virtual pipeline stages per GPU (interleaved 1F1B when > 1)
  int zero = 0; // ZeRO stage 0-3 (1 = distributed optimizer state, 2 + gradients, 3 + weights)
  Recompute recompute = Recompute::kNone;
  bool sp = false;  // sequence parallelism (tp > 1 only)
  // Layers on the first / last virtual stage; 0 = the default split (pipeline_split.h). Megatron-LM's
  // --decoder-first/last-pipeline-num-layers for v = 1.
  int first = 0, last = 0;

  int64_t gpus() const { return int64_t{tp} * pp * dp; }  // 64-bit: each key may be large
};

// What the training run fixes.
struct TrainingSpec {
  int global_batch = 0;                 // sequences per optimiser step
  int bytes_per_value = 2;              // bf16 / fp16 weights and activations
  bool loss_scaling = false;            // fp16 (not bf16): gradients unscaled and checked each step
  int grad_reduce_bytes = 4;            // gradients accumulated and reduced in fp32 (Megatron default)
  // Weight-gradient GEMMs add into the accumulation buffer (Megatron-LM
  // --gradient-accumulation-fusion, since 2022). False: each GEMM writes a fresh gradient that a
  // separate element-wise kernel adds to the buffer, every micro-batch after the first (PyTorch
  // autograd's AccumulateGrad, as Megatron-LM ran in 2021).
  bool fused_grad_accumulation = true;
  // A stage keeps each micro-batch's output after sending it, until that micro-batch's backward
  // (Megatron-LM before --deallocate-pipeline-outputs, 2022: the autograd call needs the tensor).
  bool keep_pipeline_outputs = false;
  PipelineSchedule schedule = PipelineSchedule::kOneFOneB;
  AttentionKernel attention = AttentionKernel::kFlash;
  GradReduceOverlap overlap_grad_reduce = GradReduceOverlap::kAlways;
  bool pp_scatter_gather = true;        // pipeline messages split over the TP ranks (SC'21 4.1)
  bool pp_overlap = false;              // sends overlap compute (Megatron: --overlap-p2p-comm)
  // DP gradient bucket when overlapped, bytes of gradients; 0: Megatron-LM's default (megatron/core
  // distributed_data_parallel.py), max(40M, 1M x dp) parameters' gradients (BucketBytes()).
  double bucket_bytes = 0;
  // Tensor-parallel communication in the backward pass runs beside the GEMMs that do not need it
  // (Megatron-LM's asynchronous TP communication, CUDA_DEVICE_MAX_CONNECTIONS=1, since 2022): a
  // column-parallel linear's input-gradient all-reduce (or, with sequence parallelism, its
  // reduce-scatter) during its weight-gradient GEMM, and the all-gather of its saved input during
  // its data-gradient GEMM. False: every TP collective on the critical path (Megatron-LM 2021).
  bool tp_comm_overlap = true;
  // ZeRO-1's parameter all-gather after the optimizer runs under the next step's first forward
  // pass (Megatron-LM's distributed optimizer with --overlap-param-gather, which its performance
  // recipes set): each bucket is waited for just before its first layer's forward (param_gather.h).
  // Needs the gradient reduction overlapped, as Megatron-LM does. False, and always under ZeRO-2
  // (DeepSpeed's stage 2 gathers inside its optimizer step): the gather ends the step, exposed.
  bool overlap_param_gather = true;
  // The overlapped DP reduction copies gradients into bucket buffers of its own (PyTorch DDP's
  // default, gradient_as_bucket_view=False, which Megatron-LM's 2021 runs without a pipeline
  // used): one more copy of the gradients stays allocated, and every reduced gradient is copied
  // into its bucket and back. False: buckets are views of one contiguous gradient buffer
  // (Megatron-LM's DDP, PyTorch with gradient_as_bucket_view=True).
  bool grad_bucket_copies = false;
  // Layers that pp does not divide go to the middle stages first, the first and last stages
  // holding fewer (pipeline_split.h; modern Megatron-LM, Llama 3). False: pp must divide the
  // layers (Megatron-LM 2021).
  bool uneven_pipeline = true;
};

// Micro-batches each pipeline runs per optimiser step (the batch divided over dp * mb).
int MicroBatches(const TrainingSpec& training, const Layout& layout);
// The DP gradient bucket `layout` reduces at a time when overlapped, bytes (bucket_bytes or its default).
double BucketBytes(const TrainingSpec& training, const Layout& layout);
// Whether `layout`'s DP gradient reduction overlaps its backward pass.
bool OverlapsGradReduce(const TrainingSpec& training, const Layout& layout);
// Whether `layout`'s ZeRO-1 parameter all-gather runs under the next step's forward
// (TrainingSpec::overlap_param_gather).
bool OverlapsParamGather(const TrainingSpec& training, const Layout& layout);
// Whether `layout` keeps a second, bucketed copy of its gradients (grad_bucket_copies applies to
// the overlapped reduction only; PyTorch DDP builds its buckets even for a single replica).
bool CopiesGradsToBuckets(const TrainingSpec& training, const Layout& layout);

const char* RecomputeName(Recompute r);
const char* PipelineScheduleName(PipelineSchedule s);
// Forwards stage `stage` runs before its first backward under Megatron-LM's 1F1B schedules
// (interleaved when v > 1; with as many micro-batches as stages, interleaving runs them all).
int WarmupForwards(int pp, int v, int microbatches, int stage);
const char* AttentionKernelName(AttentionKernel a);
const char* GradReduceOverlapName(GradReduceOverlap o);
Recompute ParseRecompute(const std::string& text, const std::string& origin);
PipelineSchedule ParsePipelineSchedule(const std::string& text, const std::string& origin);
AttentionKernel ParseAttentionKernel(const std::string& text, const std::string& origin);
GradReduceOverlap ParseGradReduceOverlap(const std::string& text, const std::string& origin);

// "tp=8,pp=8,dp=16,mb=1,v=3,zero=1,recompute=selective,sp=on" (all keys optional; absent keys
// keep their value in *layout). `present` receives the keys given. Throws InputError naming
// the key and value.
void ParseLayoutKeys(const std::string& text, const std::string& origin, Layout* layout,
                     std::vector<std::string>* present);
std::string LayoutToString(const Layout& layout);

}  // namespace braid::sim
