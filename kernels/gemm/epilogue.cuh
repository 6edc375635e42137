// The GEMM epilogue on the GPU, shared by the Hopper and the portable kernel: alpha/beta, bias,
// GeLU (saving the pre-activation), residual, rounding to the output type, and the stores. The
// order is the one include/braid/kernels/gemm.h documents.
//
// The output type and the epilogue kind are template parameters of the per-element code, and a
// kernel picks the instantiation once per tile (WithEpilogue) around its store loop. Run-time
// switches inside the loop (the first version) inlined every output type and epilogue into each
// of the Hopper kernel's 64 unrolled store sites per thread: 370 KB of machine code. On the H100
// (2026-11-24) that kernel paid about 125 us per 128 x 256 tile on top of its main loop
// (0.20-0.57x cuBLAS, by K), far more than the stores themselves take: fetching that code once
// per tile is the likely cause (inferred, not profiled). The Hopper kernel now stages its
// fragments in shared memory and runs this code in a rolled loop (sm90a/epilogue_staging.h).
// What stays run-time here (beta, residual, pre-activation, bounds) is a branch uniform across
// the tile.
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

template <OutputKind kOut>
__device__ __forceinline__ float LoadAs(const void* base, int64_t index) {
  if constexpr (kOut == OutputKind::kBfloat16) {
    return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[index]);
  } else if constexpr (kOut == OutputKind::kFloat16) {
    return __half2float(static_cast<const __half*>(base)[index]);
  } else {
    return static_cast<const float*>(base)[index];
  }
}

template <OutputKind kOut>
__device__ __forceinline__ void StoreAs(void* base, int64_t index, float v) {
  if constexpr (kOut == OutputKind::kBfloat16) {
    static_cast<__nv_bfloat16*>(base)[index] = __float2bfloat16_rn(v);
  } else if constexpr (kOut == OutputKind::kFloat16) {
    static_cast<__half*>(base)[index] = __float2half_rn(v);
  } else {
    static_cast<float*>(base)[index] = v;
  }
}

// Elements `index` and `index + 1` in one store; `index` must be even and the row aligned.
template <OutputKind kOut>
__device__ __forceinline__ void StorePairAs(void* base, int64_t index, float v0, float v1) {
  if constexpr (kOut == OutputKind::kBfloat16) {
    *reinterpret_cast<__nv_bfloat162*>(static_cast<__nv_bfloat16*>(base) + index) =
        __floats2bfloat162_rn(v0, v1);
  } else if constexpr (kOut == OutputKind::kFloat16) {
    *reinterpret_cast<__half2*>(static_cast<__half*>(base) + index) = __floats2half2_rn(v0, v1);
  } else {
    *reinterpret_cast<float2*>(static_cast<float*>(base) + index) = make_float2(v0, v1);
  }
}

// Stores elements (row, col) and, when `both`, (row, col + 1) of the matrix at `base`.
// kPaired: the caller knows `both` and paired_stores hold.
template <OutputKind kOut, bool kPaired>
__device__ __forceinline__ void StoreNeighbours(const EpilogueParams& e, void* base, int64_t ld,
                                                int row, int col, bool both, float v0, float v1) {
  const int64_t index = static_cast<int64_t>(row) * ld + col;
  if (kPaired || (both && e.paired_stores)) {
    StorePairAs<kOut>(base, index, v0, v1);
    return;
  }
  StoreAs<kOut>(base, index, v0);
  if (both) StoreAs<kOut>(base, index + 1, v1);
}

// Finishes and stores output elements (row, col) and (row, col + 1) from their fp32
// accumulators: alpha * acc + beta * C + bias, the activation, the residual. In general
// (kSimple false) rows >= M and columns >= N (edge tiles) are skipped and a pair is stored as
// one access only where D's alignment allows. kSimple: the caller knows both elements are
// inside D, paired_stores holds, beta is 0 and there is no residual, so the pair is finished
// without those checks: a few instructions per element, for the common case.
template <OutputKind kOut, GemmEpilogue kKind, bool kSimple = false>
__device__ __forceinline__ void EpilogueStorePair(const EpilogueParams& e, int row, int col,
                                                  float acc0, float acc1) {
  if constexpr (!kSimple) {
    if (row >= e.m || col >= e.n) return;
  }
  const bool both = kSimple || col + 1 < e.n;
  float p0 = e.alpha * acc0, p1 = e.alpha * acc1;
  if (!kSimple && e.beta != 0.0f) {
    const int64_t index = static_cast<int64_t>(row) * e.ldc + col;
    p0 += e.beta * LoadAs<kOut>(e.c, index);
    if (both) p1 += e.beta * LoadAs<kOut>(e.c, index + 1);
  }
  if constexpr (kKind != GemmEpilogue::kNone) {
    p0 += LoadAs<kOut>(e.bias, col);
    if (both) p1 += LoadAs<kOut>(e.bias, col + 1);
  }
  float v0 = p0, v1 = p1;
  if constexpr (kKind == GemmEpilogue::kBiasGelu) {
    v0 = GeluTanh(p0);
    v1 = GeluTanh(p1);
    if (e.pre != nullptr) StoreNeighbours<kOut, kSimple>(e, e.pre, e.ld_pre, row, col, both, p0, p1);
  }
  if (!kSimple && e.residual != nullptr) {
    const int64_t index = static_cast<int64_t>(row) * e.ld_residual + col;
    v0 += LoadAs<kOut>(e.residual, index);
    if (both) v1 += LoadAs<kOut>(e.residual, index + 1);
  }
  StoreNeighbours<kOut, kSimple>(e, e.d, e.ldd, row, col, both, v0, v1);
}

template <OutputKind kOut, typename Store>
__device__ __forceinline__ void WithEpilogueKind(const EpilogueParams& e, const Store& store) {
  switch (e.kind) {
    case GemmEpilogue::kNone:
      store.template Run<kOut, GemmEpilogue::kNone>();
      break;
    case GemmEpilogue::kBias:
      store.template Run<kOut, GemmEpilogue::kBias>();
      break;
    default:
      store.template Run<kOut, GemmEpilogue::kBiasGelu>();
  }
}

// Calls store.Run<out, kind>() with e's output type and epilogue kind as compile-time
// constants. `store` is a kernel's functor whose Run is its store loop, marked
// __forceinline__ so the accumulators it reads by reference stay in registers.
template <typename Store>
__device__ __forceinline__ void WithEpilogue(const EpilogueParams& e, const Store& store) {
  switch (e.out) {
    case OutputKind::kBfloat16:
      WithEpilogueKind<OutputKind::kBfloat16>(e, store);
      break;
    case OutputKind::kFloat16:
      WithEpilogueKind<OutputKind::kFloat16>(e, store);
      break;
    default:
      WithEpilogueKind<OutputKind::kFloat32>(e, store);
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
