// LayerNorm and RMSNorm over the last dimension, forward and backward.
//
// Tensors are row-major and contiguous: x, y, dy, dx are rows x cols (row r starts at element
// r * cols); gamma and beta have cols elements. Element types: bf16, fp16 or fp32 (`type` applies
// to x, y, dy, dx, gamma and beta alike). The per-row statistics mean and rstd are fp32 arrays of
// `rows` elements. All arithmetic is fp32; each bf16/fp16/fp32 output element is rounded once
// (round-to-nearest-even). Range: the CUDA kernels sum squares in fp32 (as PyTorch's do), so a
// row with |x| (LayerNorm: |x - mean|) above about 1.8e19 overflows the sum and gives rstd = 0;
// the host reference sums in double and does not.
//
// LayerNorm forward (var is the biased, i.e. population, variance over the row):
//   mean = sum_j x[j] / cols,  var = sum_j (x[j] - mean)^2 / cols,  rstd = 1 / sqrt(var + eps)
//   y[j] = (x[j] - mean) * rstd * gamma[j] + beta[j]
// RMSNorm forward:
//   rstd = 1 / sqrt(sum_j x[j]^2 / cols + eps),  y[j] = x[j] * rstd * gamma[j]
//
// Backward, with xhat[j] = (x[j] - mean) * rstd (RMSNorm: x[j] * rstd) and g[j] = dy[j] * gamma[j]:
//   LayerNorm: dx[j] = rstd * (g[j] - mean_j(g) - xhat[j] * mean_j(g * xhat))
//   RMSNorm:   dx[j] = rstd * (g[j] - xhat[j] * mean_j(g * xhat))
//   dgamma[j] = sum_rows dy[j] * xhat[j],  dbeta[j] = sum_rows dy[j]   (LayerNorm only)
// mean and rstd are the forward's saved statistics. dgamma and dbeta are fp32 arrays whatever
// `type` is: they accumulate over all rows, and rounding each to bf16 would lose the small
// contributions; callers convert (or feed the fp32 values to the optimizer) themselves.
//
// Aliasing: y may equal x (in-place forward); dx may equal dy (in-place backward). No other
// overlap is allowed. Every pointer must be aligned to its element size. The CUDA kernels use
// 16-byte vector accesses when every row array pointer is 16-byte aligned and cols is a multiple
// of 16 / element size; otherwise a scalar path (same results up to summation order).
#pragma once

#include <cstddef>
#include <cstdint>

#include "braid/export.h"
#include "braid/status.h"
#include "braid/types.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers

namespace braid::kernels {

enum class NormKind : uint8_t { kLayerNorm, kRmsNorm };

struct NormForwardArgs {
  NormKind kind = NormKind::kLayerNorm;
  int64_t rows = 0;                     // >= 1
  int64_t cols = 0;                     // 1 .. 2^31 - 1
  DataType type = DataType::kBfloat16;  // kBfloat16, kFloat16 or kFloat32
  float eps = 1e-5f;                    // > 0 and finite
  const void* x = nullptr;              // rows x cols
  const void* gamma = nullptr;          // cols
  const void* beta = nullptr;           // cols; LayerNorm only (must be null for RMSNorm)
  void* y = nullptr;                    // rows x cols
  float* mean = nullptr;                // rows, optional (null: not saved); LayerNorm only
  float* rstd = nullptr;                // rows, optional (null: not saved)
};

struct NormBackwardArgs {
  NormKind kind = NormKind::kLayerNorm;
  int64_t rows = 0;  // >= 1
  int64_t cols = 0;  // 1 .. 2^31 - 1
  DataType type = DataType::kBfloat16;
  const void* dy = nullptr;     // rows x cols
  const void* x = nullptr;      // rows x cols, the forward's input
  const void* gamma = nullptr;  // cols
  const float* mean = nullptr;  // rows; LayerNorm only (must be null for RMSNorm)
  const float* rstd = nullptr;  // rows
  void* dx = nullptr;           // rows x cols
  float* dgamma = nullptr;      // cols, fp32, overwritten (not accumulated into)
  float* dbeta = nullptr;       // cols, fp32; LayerNorm only (must be null for RMSNorm)
};

// Argument checks shared by the host and CUDA entry points. InvalidArgument names the field,
// its value and what is allowed (e.g. "rows=0: must be >= 1").
BRAID_API Status ValidateNormForward(const NormForwardArgs& args);
BRAID_API Status ValidateNormBackward(const NormBackwardArgs& args);

// CPU references on host pointers, `threads` workers (0: one per hardware thread; small inputs
// use fewer). Per-element math is fp32 as above; row sums (mean, variance, mean(g), mean(g*xhat))
// and the column sums dgamma/dbeta are accumulated in double and rounded once, so the reference
// is at least as accurate as any fp32 summation order. The per-element x - mean is fp32, with the
// mean rounded to fp32 (the saved statistic), as in fp32 GPU kernels: a LayerNorm row whose
// spread is near fp32's resolution of its mean (std / |mean| ~ 1e-7) normalises poorly (e.g.
// {4096, 4096 + 2^-10, 4096 + 2^-10} -> {-1.06, 1.06, 1.06}, not {-1.41, 0.71, 0.71}; QA).
BRAID_API Status NormForwardHost(const NormForwardArgs& args, int threads = 0);
BRAID_API Status NormBackwardHost(const NormBackwardArgs& args, int threads = 0);

// CUDA forward on `stream` (device pointers): asynchronous, no allocation, no synchronisation.
// kUnsupported in builds without CUDA; kInvalidArgument for bad arguments (nothing launched);
// kSystemError when a launch fails.
BRAID_API Status NormForwardCuda(const NormForwardArgs& args, CUstream_st* stream);

// Device workspace NormBackwardCuda needs for a rows x cols problem of either kind and any type
// or alignment, in bytes, on the current CUDA device (it depends on the device's SM count). It
// holds fp32 per-row-group partial sums of dgamma (and dbeta): 2 * 4 B * cols * groups, where
// groups ~ min(rows, rows resident on the GPU at once), i.e. up to ~14 MiB on an H100 for any
// cols <= 12288 (rounded up to whole blocks, so slightly more than 8 B * rows * cols for tiny
// inputs). 0 in builds without CUDA or without a device.
BRAID_API size_t NormBackwardCudaWorkspaceBytes(int64_t rows, int64_t cols);

// CUDA backward on `stream`: dx plus dgamma (and dbeta) via per-row-group partial sums in
// `workspace` (device memory, >= NormBackwardCudaWorkspaceBytes(rows, cols) bytes, any
// contents, 4-byte aligned) reduced by a second kernel in a fixed order, so results are
// deterministic for a given device and shape. Asynchronous: no allocation, no synchronisation;
// the workspace must not be reused until the stream has passed this call.
BRAID_API Status NormBackwardCuda(const NormBackwardArgs& args, void* workspace,
                                  size_t workspace_bytes, CUstream_st* stream);

}  // namespace braid::kernels
