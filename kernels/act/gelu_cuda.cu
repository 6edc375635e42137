// GeLU (tanh form) forward and backward on CUDA (portable: sm_80+), element-wise.
//
// The arrays are cut into a scalar head (up to the first 16-byte boundary of x), a body of
// 16-byte packs (8 bf16/fp16 or 4 fp32 elements) and a scalar tail. The vector body is used only
// when every array has the same address modulo 16 (then one head length aligns all of them);
// otherwise everything takes the scalar path. Each thread loads kUnroll packs of every input
// before computing (64 bytes per thread), so enough bytes are in flight to run at memory bandwidth.
// The math is GeluTanh / GeluTanhDerivative from gelu_math.h (the same code as the CPU reference),
// in fp32.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "braid/kernels/act.h"
#include "kernels/act/gelu_math.h"
#include "kernels/act/gelu_validate.h"

namespace braid::kernels {

namespace {

constexpr int kThreads = 256;
// Packs per thread per input array, loaded together: 64 bytes of loads in flight per thread
// either way (the backward reads two arrays), within the 64-register budget.
template <bool kBackward>
constexpr int kUnrollOf = kBackward ? 2 : 4;
constexpr int64_t kMaxGrid = 1 << 20;  // blocks; the kernel loops over the remaining tiles

__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ void FromFloat(float v, float* out) { *out = v; }
__device__ __forceinline__ void FromFloat(float v, __nv_bfloat16* out) {
  *out = __float2bfloat16_rn(v);
}
__device__ __forceinline__ void FromFloat(float v, __half* out) { *out = __float2half_rn(v); }

template <bool kBackward>
__device__ __forceinline__ float Gelu(float x, float dy) {
  if constexpr (kBackward) {
    return dy * GeluTanhDerivative(x);
  } else {
    return GeluTanh(x);
  }
}

// kVec elements loaded or stored as one 16-byte access (kVec * sizeof(T) == 16), or one element
// (kVec == 1, the scalar path).
template <typename T, int kVec>
struct alignas(sizeof(T) * kVec) Pack {
  T v[kVec];
};

template <typename T, int kVec>
__device__ __forceinline__ Pack<T, kVec> Load(const T* p) {
  Pack<T, kVec> r;
  if constexpr (kVec == 1) {
    r.v[0] = *p;
  } else {
    const uint4 raw = *reinterpret_cast<const uint4*>(p);
    memcpy(&r, &raw, 16);
  }
  return r;
}

template <typename T, int kVec>
__device__ __forceinline__ void Store(T* p, const Pack<T, kVec>& pack) {
  if constexpr (kVec == 1) {
    *p = pack.v[0];
  } else {
    uint4 raw;
    memcpy(&raw, &pack, 16);
    *reinterpret_cast<uint4*>(p) = raw;
  }
}

// out = gelu(x) or dy * gelu'(x). Packs [0, packs) start at element `head`; block 0 also does
// the scalar elements [0, head) and [head + packs * kVec, count). dy is null for the forward.
template <typename T, int kVec, bool kBackward>
__global__ void __launch_bounds__(kThreads, 4)  // <= 64 registers: >= 1024 threads per SM
    GeluKernel(const T* x, const T* dy, T* out, int64_t head, int64_t packs, int64_t count) {
  constexpr int kUnroll = kUnrollOf<kBackward>;
  constexpr int64_t kTile = int64_t{kThreads} * kUnroll;
  for (int64_t tile = blockIdx.x * kTile; tile < packs; tile += gridDim.x * kTile) {
    Pack<T, kVec> xv[kUnroll], dv[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = tile + u * kThreads + threadIdx.x;
      if (i < packs) {
        xv[u] = Load<T, kVec>(x + head + i * kVec);
        if constexpr (kBackward) dv[u] = Load<T, kVec>(dy + head + i * kVec);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t i = tile + u * kThreads + threadIdx.x;
      if (i < packs) {
        Pack<T, kVec> r;
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          const float d = kBackward ? ToFloat(dv[u].v[j]) : 0.0f;
          FromFloat(Gelu<kBackward>(ToFloat(xv[u].v[j]), d), &r.v[j]);
        }
        Store<T, kVec>(out + head + i * kVec, r);
      }
    }
  }
  if (blockIdx.x == 0) {
    const int64_t tail = head + packs * kVec;
    for (int64_t i = threadIdx.x; i < head + (count - tail); i += kThreads) {
      const int64_t e = i < head ? i : tail + (i - head);
      const float d = kBackward ? ToFloat(dy[e]) : 0.0f;
      FromFloat(Gelu<kBackward>(ToFloat(x[e]), d), &out[e]);
    }
  }
}

template <typename T, bool kBackward>
void Launch(const void* x_raw, const void* dy_raw, void* out_raw, int64_t count,
            cudaStream_t stream) {
  const T* x = static_cast<const T*>(x_raw);
  const T* dy = static_cast<const T*>(dy_raw);
  T* out = static_cast<T*>(out_raw);
  constexpr int kVec = 16 / sizeof(T);
  constexpr int64_t kTile = int64_t{kThreads} * kUnrollOf<kBackward>;
  const uintptr_t phase = reinterpret_cast<uintptr_t>(x) % 16;
  const bool vector = reinterpret_cast<uintptr_t>(out) % 16 == phase &&
                      (!kBackward || reinterpret_cast<uintptr_t>(dy) % 16 == phase);
  if (vector) {
    // Elements before x's first 16-byte boundary (pointers are element-aligned: validated).
    const int64_t head =
        std::min<int64_t>(count, static_cast<int64_t>((16 - phase) % 16 / sizeof(T)));
    const int64_t packs = (count - head) / kVec;
    const int64_t tiles = (packs + kTile - 1) / kTile;
    const auto grid = static_cast<unsigned>(std::clamp<int64_t>(tiles, 1, kMaxGrid));
    GeluKernel<T, kVec, kBackward><<<grid, kThreads, 0, stream>>>(x, dy, out, head, packs, count);
  } else {
    const int64_t tiles = (count + kTile - 1) / kTile;
    const auto grid = static_cast<unsigned>(std::clamp<int64_t>(tiles, 1, kMaxGrid));
    GeluKernel<T, 1, kBackward><<<grid, kThreads, 0, stream>>>(x, dy, out, 0, count, count);
  }
}

template <bool kBackward>
Status Run(const char* op, const void* x, const void* dy, void* out, int64_t count, DataType type,
           cudaStream_t stream) {
  if (Status s = ValidateGelu(op, kBackward, x, dy, out, count, type); !s.ok()) return s;
  switch (type) {
    case DataType::kBfloat16:
      Launch<__nv_bfloat16, kBackward>(x, dy, out, count, stream);
      break;
    case DataType::kFloat16:
      Launch<__half, kBackward>(x, dy, out, count, stream);
      break;
    default:
      Launch<float, kBackward>(x, dy, out, count, stream);
      break;
  }
  if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) {
    return Status::SystemError(std::string(op) +
                               ": kernel launch failed: " + cudaGetErrorString(err));
  }
  return Status::Ok();
}

}  // namespace

Status GeluForwardCuda(const void* x, void* y, int64_t count, DataType type, CUstream_st* stream) {
  return Run<false>("GeluForwardCuda", x, nullptr, y, count, type, stream);
}

Status GeluBackwardCuda(const void* dy, const void* x, void* dx, int64_t count, DataType type,
                        CUstream_st* stream) {
  return Run<true>("GeluBackwardCuda", x, dy, dx, count, type, stream);
}

}  // namespace braid::kernels
