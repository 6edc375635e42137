// Device helpers shared by the LayerNorm / RMSNorm kernels (private to kernels/norm): element
// conversion, 16-byte packs, and the per-row sum used for the row statistics.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <cstring>

namespace braid::kernels::norm_detail {

__device__ __forceinline__ float ToFloat(float v) { return v; }
// bf16 is the top half of an fp32: widening is a 16-bit shift. Written as integer code rather
// than the cuda_bf16.h conversion (inline PTX), so the compiler can take a pack's elements out
// of its 32-bit words and re-derive them cheaply (ForgetConversions).
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) {
  return __uint_as_float(static_cast<uint32_t>(__bfloat16_as_ushort(v)) << 16);
}
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }

// Round-to-nearest-even narrowing, the same rounding as the host's FloatToBfloat16/FloatToHalf.
template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ float FromFloat<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}
template <>
__device__ __forceinline__ __half FromFloat<__half>(float v) {
  return __float2half_rn(v);
}

// kVec consecutive elements. kVec * sizeof(T) == 16 is the vector case (one 16-byte access,
// which needs a 16-byte aligned address); kVec == 1 is the scalar fallback.
template <typename T, int kVec>
struct Pack {
  T v[kVec];
};

template <typename T, int kVec>
__device__ __forceinline__ Pack<T, kVec> LoadPack(const T* p) {
  Pack<T, kVec> r;
  if constexpr (sizeof(T) * kVec == 16) {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    memcpy(&r, &raw, 16);
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) r.v[i] = p[i];
  }
  return r;
}

// Makes the compiler forget what it knows about a 16-bit pack's registers, so that a later pass
// over the pack converts its elements to fp32 again instead of keeping every converted value
// live from an earlier pass. A 16-byte pack is 4 registers; its 8 fp32 values would be 8. With
// this and the integer bf16 widening above, 4 bf16 packs per thread fit the 64-register cap
// without spilling (ptxas, sm_90 and sm_80; 12 bytes spilled before). Re-converting costs one
// or two integer instructions per element. No code is emitted; fp32 packs are left alone.
template <typename T, int kVec>
__device__ __forceinline__ void ForgetConversions(Pack<T, kVec>& pack) {
  if constexpr (sizeof(T) == 2 && sizeof(T) * kVec == 16) {
    uint32_t words[4];
    memcpy(words, &pack, 16);
#pragma unroll
    for (int i = 0; i < 4; ++i) asm volatile("" : "+r"(words[i]));
    memcpy(&pack, words, 16);
  }
}

template <typename T, int kVec>
__device__ __forceinline__ void StorePack(T* p, const Pack<T, kVec>& pack) {
  if constexpr (sizeof(T) * kVec == 16) {
    uint4 raw;
    memcpy(&raw, &pack, 16);
    *reinterpret_cast<uint4*>(p) = raw;
  } else {
#pragma unroll
    for (int i = 0; i < kVec; ++i) p[i] = pack.v[i];
  }
}

// Sums each of v[0..N) over the `tpr` consecutive threads of the block that share a row, and
// leaves the total in all of them (the same bits in every thread: each butterfly step adds the
// same two values). tpr is a power of two <= 32 or a multiple of 32, and blockDim.x is a
// multiple of both 32 and tpr. Every thread of the block must call it with the same tpr: for
// tpr > 32 it synchronises the block. smem holds at least 32 * N floats.
template <int N>
__device__ __forceinline__ void RowSum(float (&v)[N], int tpr, float* smem) {
  const int width = tpr < 32 ? tpr : 32;
#pragma unroll
  for (int offset = 16; offset > 0; offset >>= 1) {
    if (offset < width) {
#pragma unroll
      for (int i = 0; i < N; ++i) v[i] += __shfl_xor_sync(0xffffffffu, v[i], offset);
    }
  }
  if (tpr <= 32) return;
  const int warp = static_cast<int>(threadIdx.x) >> 5;
  const int warps_per_row = tpr >> 5;
  const int first = warp - warp % warps_per_row;
  __syncthreads();  // the previous call's readers are done with smem
  if ((threadIdx.x & 31) == 0) {
#pragma unroll
    for (int i = 0; i < N; ++i) smem[warp * N + i] = v[i];
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < N; ++i) {
    float s = 0.0f;
    for (int w = 0; w < warps_per_row; ++w) s += smem[(first + w) * N + i];
    v[i] = s;
  }
}

// Threads per row and block shape for the "row in registers" kernels: a row has `chunks` packs
// and each thread holds at most `chunks_per_thread` of them.
struct RowLayout {
  int tpr = 0;    // threads per row; 0: the row does not fit in max_threads threads
  int block = 0;  // threads per block (a multiple of 32 and of tpr)
  int rows_per_block = 0;
};

inline RowLayout PlanRowLayout(int64_t chunks, int chunks_per_thread, int max_threads) {
  RowLayout l;
  const int64_t need = (chunks + chunks_per_thread - 1) / chunks_per_thread;
  if (need > max_threads) return l;
  if (need <= 32) {
    l.tpr = 1;
    while (l.tpr < need) l.tpr *= 2;
  } else {
    l.tpr = static_cast<int>((need + 31) / 32 * 32);
  }
  // Small rows share 128-thread blocks (4 warps: enough blocks per SM for full occupancy).
  l.block = (l.tpr <= 128 && 128 % l.tpr == 0) ? 128 : l.tpr;
  l.rows_per_block = l.block / l.tpr;
  return l;
}

inline bool Aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// How `tpr` threads of a block share one row held in registers: the block holds
// rows_per_block rows, this thread is `lane` of row `slot`, and handles the packs of kVec
// elements lane, lane + tpr, ... (my_chunks of them, `stride` elements apart). The host picks
// kVec > 1 only if it divides cols, so cols / kVec packs cover the row exactly.
struct RowGeometry {
  int rows_per_block;
  int slot;
  int lane;
  int stride;
  int my_chunks;
};

template <int kVec>
__device__ __forceinline__ RowGeometry RowGeometryOf(int64_t cols, int tpr) {
  const int lane = static_cast<int>(threadIdx.x) % tpr;
  const int64_t chunks = cols / kVec;
  return {static_cast<int>(blockDim.x) / tpr, static_cast<int>(threadIdx.x) / tpr, lane, tpr * kVec,
          lane < chunks ? static_cast<int>((chunks - 1 - lane) / tpr) + 1 : 0};
}

}  // namespace braid::kernels::norm_detail
