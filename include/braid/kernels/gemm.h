// GEMM with fused epilogues: D = epilogue(alpha * op(A) op(B) + beta * C).
//
// Every tensor is row-major (the last index is contiguous), as in PyTorch. The shapes are
// op(A): M x K, op(B): K x N, C and D: M x N. The three products of a linear layer
// Y = X W^T (X: tokens x in, W: out x in) map onto it as:
//
//   forward        Y  = X W^T    op_a = kAsIs,       op_b = kTransposed   ("nt")
//   data gradient  dX = dY W     op_a = kAsIs,       op_b = kAsIs         ("nn")
//   weight grad.   dW = dY^T X   op_a = kTransposed, op_b = kAsIs         ("tn")
//
// and the fourth combination ("tt") is supported too. Inputs A and B: bf16 or fp16 (both the
// same); accumulation in fp32; D, C, bias, residual and the saved pre-activation: bf16, fp16 or
// fp32 (all of output_type).
//
// The epilogue, per element (m, n), in fp32:
//   t = alpha * sum_k op(A)[m,k] op(B)[k,n] + beta * C[m,n]      (C read only when beta != 0)
//   t = t + bias[n]                                               (kBias, kBiasGelu)
//   pre_activation[m,n] = t  (rounded to output_type)             (kBiasGelu, if requested)
//   t = gelu_tanh(t)                                              (kBiasGelu)
//   t = t + residual[m,n]                                         (if residual != nullptr)
//   D[m,n] = round(t) to output_type (round-to-nearest-even)
// C may alias D exactly (same pointer and leading dimension); no other overlap is allowed.
// Every pointer must be aligned to its element size (2 bytes for A and B, the output type's size
// for the rest); ValidateGemm refuses others. alpha = 0 still computes A op B, so an Inf or NaN
// there reaches D (reference BLAS skips the product; cuBLAS does not promise to).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "braid/export.h"
#include "braid/status.h"
#include "braid/types.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers

namespace braid::kernels {

// How an operand is stored. For A: kAsIs means A is M x K (lda >= K), kTransposed means A is
// stored K x M (lda >= M) and used transposed. For B: kAsIs means B is K x N (ldb >= N),
// kTransposed means B is stored N x K (ldb >= K), e.g. a weight matrix [out, in].
enum class GemmOperand : uint8_t { kAsIs, kTransposed };

enum class GemmEpilogue : uint8_t {
  kNone,      // D = alpha * AB + beta * C (+ residual)
  kBias,      // ... + bias[n]
  kBiasGelu,  // gelu_tanh(... + bias[n]) (+ residual); optionally saves the pre-activation
};

// Largest m, n or k: the kernels index tiles in int, and rounding a size up to whole tiles (at
// most 256 wide) must stay below 2^31.
inline constexpr int64_t kGemmMaxDim = (int64_t{1} << 31) - 257;

struct GemmArgs {
  int64_t m = 0, n = 0, k = 0;  // each in [1, kGemmMaxDim]
  DataType input_type = DataType::kBfloat16;   // A and B: kBfloat16 or kFloat16
  DataType output_type = DataType::kBfloat16;  // D, C, bias, residual, pre_activation
  GemmOperand op_a = GemmOperand::kAsIs;
  GemmOperand op_b = GemmOperand::kTransposed;
  const void* a = nullptr;
  int64_t lda = 0;  // elements between consecutive stored rows of A
  const void* b = nullptr;
  int64_t ldb = 0;
  void* d = nullptr;
  int64_t ldd = 0;  // >= N
  float alpha = 1.0f;
  float beta = 0.0f;
  const void* c = nullptr;  // needed when beta != 0; may equal d (then ldc must equal ldd)
  int64_t ldc = 0;
  GemmEpilogue epilogue = GemmEpilogue::kNone;
  const void* bias = nullptr;     // N elements; needed by kBias and kBiasGelu
  void* pre_activation = nullptr;  // optional, kBiasGelu only: M x N, leading dimension ld_pre
  int64_t ld_pre = 0;
  const void* residual = nullptr;  // optional: M x N, leading dimension ld_residual
  int64_t ld_residual = 0;
};

// Checks shapes, types, leading dimensions and required pointers; the message names the field,
// its value and what is allowed. Called by GemmHost and GemmCuda before any work.
BRAID_API Status ValidateGemm(const GemmArgs& args);

// CPU reference: fp32 accumulation in a fixed blocked order, `threads` worker threads (0: one per
// hardware thread). Host pointers. Deterministic for a given thread count and shape. Each output
// is one running fp32 sum over k (the K blocks carry it on, no pairwise or split-K summation),
// so its rounding error grows as K x 2^-24 at worst (bf16 ones, K = 2^25: 2^24, half the sum;
// QA): judge large-K results against an fp64 reference with that bound.
BRAID_API Status GemmHost(const GemmArgs& args, int threads = 0);

// Workspace the CUDA GEMM needs for these arguments, in bytes. The current kernels need none
// (0); callers should still ask, so split-K style paths can be added without an API change.
BRAID_API size_t GemmCudaWorkspaceBytes(const GemmArgs& args);

// CUDA GEMM on `stream` (device pointers). Asynchronous: no synchronisation, no allocation.
// Picks the sm_90a TMA + wgmma kernel when the device is a Hopper (sm_90) GPU and A and B are
// 16-byte aligned with leading dimensions that are multiples of 8 elements and rows under
// 2^40 bytes (TMA's rules); otherwise a portable kernel for any element-aligned arguments. Both
// take any M, N, K up to kGemmMaxDim. Returns kInvalidArgument for bad arguments (nothing
// launched; checked first also in builds without CUDA, which then return kUnsupported), and
// kSystemError for CUDA errors at launch.
BRAID_API Status GemmCuda(const GemmArgs& args, void* workspace, size_t workspace_bytes,
                          CUstream_st* stream);

// The kernel GemmCuda would run for these arguments on the current device and why, e.g.
// "sm90a-tma-wgmma bf16_nt 128x256x64" or "portable-simt (lda=113 is not a multiple of 8)".
BRAID_API std::string GemmCudaKernelName(const GemmArgs& args);

}  // namespace braid::kernels
