// The GEMM epilogue on the GPU, shared by the Hopper and the portable kernel: alpha/beta, bias,
// GeLU (saving the pre-activation), residual, rounding to the output type, and the stores. The
// order is the one include/braid/kernels/gemm.h documents. The output type is a run-time value:
// the branch is uniform across the grid and runs once per output element, far from the
// tensor-core loop, so it costs less than three times the kernel instantiations.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

#include "braid/kernels/gemm.h"
#include "kernels/act/gelu_math.h"

namespace braid::kernels {

enum class OutputKind : int { kBfloat16 = 0, kFloat16 = 1, kFloat32 = 2 };

// Everything the epilogue needs, by value in the kernel parameters.
struct EpilogueParams {
  int m = 0, n = 0;
  OutputKind out = OutputKind::kBfloat16;
  GemmEpilogue kind = GemmEpilogue::kNone;
  float alpha = 1.0f, beta = 0.0f;
  void* d = nullptr;
  int64_t ldd = 0;
  const void* c = nullptr;  // read when beta != 0
  int64_t ldc = 0;
  const void* bias = nullptr;
  void* pre = nullptr;
  int64_t ld_pre = 0;
  const void* residual = nullptr;
  int64_t ld_residual = 0;
  // True when D (and pre_activation) rows start 2-element aligned, so a pair of neighbouring
  // columns is one 4-byte (16-bit types) or 8-byte (fp32) store.
  bool paired_stores = false;
};

__device__ __forceinline__ float LoadOutput(const void* base, int64_t index, OutputKind kind) {
  switch (kind) {
    case OutputKind::kBfloat16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[index]);
    case OutputKind::kFloat16:
      return __half2float(static_cast<const __half*>(base)[index]);
    default:
      return static_cast<const float*>(base)[index];
  }
}

__device__ __forceinline__ void StoreOutput(void* base, int64_t index, OutputKind kind, float v) {
  switch (kind) {
    case OutputKind::kBfloat16:
      static_cast<__nv_bfloat16*>(base)[index] = __float2bfloat16_rn(v);
      break;
    case OutputKind::kFloat16:
      static_cast<__half*>(base)[index] = __float2half_rn(v);
      break;
    default:
      static_cast<float*>(base)[index] = v;
  }
}

// Elements `index` and `index + 1` in one store; `index` must be even and the row aligned.
__device__ __forceinline__ void StoreOutputPair(void* base, int64_t index, OutputKind kind,
                                                float v0, float v1) {
  switch (kind) {
    case OutputKind::kBfloat16:
      *reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(base) + index) =
          __floats2bfloat162_rn(v0, v1);
      break;
    case OutputKind::kFloat16:
      *reinterpret_cast<__half2*>(static_cast<__half*>(base) + index) = __floats2half2_rn(v0, v1);
      break;
    default:
      *reinterpret_cast<float2*>(static_cast<float*>(base) + index) = make_float2(v0, v1);
  }
}

// Everything before the activation: alpha * acc + beta * C + bias.
__device__ __forceinline__ float PreActivation(const EpilogueParams& e, int row, int col,
                                               float acc) {
  float t = e.alpha * acc;
  if (e.beta != 0.0f) t += e.beta * LoadOutput(e.c, row * e.ldc + col, e.out);
  if (e.kind != GemmEpilogue::kNone) t += LoadOutput(e.bias, col, e.out);
  return t;
}

__device__ __forceinline__ float Activate(const EpilogueParams& e, int row, int col, float t) {
  if (e.kind == GemmEpilogue::kBiasGelu) t = GeluTanh(t);
  if (e.residual != nullptr) t += LoadOutput(e.residual, row * e.ld_residual + col, e.out);
  return t;
}

// Finishes and stores output elements (row, col) and (row, col + 1) from their fp32
// accumulators. Rows >= M and columns >= N (edge tiles) are skipped.
__device__ __forceinline__ void EpilogueStorePair(const EpilogueParams& e, int row, int col,
                                                  float acc0, float acc1) {
  if (row >= e.m || col >= e.n) return;
  const bool both = col + 1 < e.n;
  const float p0 = PreActivation(e, row, col, acc0);
  const float p1 = both ? PreActivation(e, row, col + 1, acc1) : 0.0f;
  const float v0 = Activate(e, row, col, p0);
  const float v1 = both ? Activate(e, row, col + 1, p1) : 0.0f;
  const int64_t d_index = static_cast<int64_t>(row) * e.ldd + col;
  const int64_t pre_index = static_cast<int64_t>(row) * e.ld_pre + col;
  const bool save_pre = e.pre != nullptr;
  if (both && e.paired_stores) {
    StoreOutputPair(e.d, d_index, e.out, v0, v1);
    if (save_pre) StoreOutputPair(e.pre, pre_index, e.out, p0, p1);
    return;
  }
  StoreOutput(e.d, d_index, e.out, v0);
  if (save_pre) StoreOutput(e.pre, pre_index, e.out, p0);
  if (both) {
    StoreOutput(e.d, d_index + 1, e.out, v1);
    if (save_pre) StoreOutput(e.pre, pre_index + 1, e.out, p1);
  }
}

// Host side: the epilogue parameters for validated arguments.
inline EpilogueParams MakeEpilogueParams(const GemmArgs& args) {
  EpilogueParams e;
  e.m = static_cast<int>(args.m);
  e.n = static_cast<int>(args.n);
  e.out = args.output_type == DataType::kBfloat16  ? OutputKind::kBfloat16
          : args.output_type == DataType::kFloat16 ? OutputKind::kFloat16
                                                   : OutputKind::kFloat32;
  e.kind = args.epilogue;
  e.alpha = args.alpha;
  e.beta = args.beta;
  e.d = args.d;
  e.ldd = args.ldd;
  e.c = args.c;
  e.ldc = args.ldc;
  e.bias = args.bias;
  e.pre = args.epilogue == GemmEpilogue::kBiasGelu ? args.pre_activation : nullptr;
  e.ld_pre = args.ld_pre;
  e.residual = args.residual;
  e.ld_residual = args.ld_residual;
  const uintptr_t pair_bytes = args.output_type == DataType::kFloat32 ? 8 : 4;
  const auto pair_aligned = [&](const void* p, int64_t ld) {
    return reinterpret_cast<uintptr_t>(p) % pair_bytes == 0 && ld % 2 == 0;
  };
  e.paired_stores = pair_aligned(e.d, e.ldd) && (e.pre == nullptr || pair_aligned(e.pre, e.ld_pre));
  return e;
}

}  // namespace braid::kernels
