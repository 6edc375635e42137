// LayerNorm / RMSNorm forward on CUDA (portable: sm_80+; no arch-specific instructions).
//
// Main kernel: each row is read once into registers by `tpr` threads (16-byte packs when every
// pointer is 16-byte aligned and cols is a multiple of the pack, else single elements), the
// statistics come from those registers (two-pass mean then variance, no E[x^2] - mean^2
// cancellation), and y is written from them. So x is read from memory once and y written once,
// which is the minimum traffic. Rows too long for the registers (more than 16384 elements when
// vectorised, 4096 otherwise) use a kernel that re-reads the row (the re-reads mostly hit L2).
#include <cuda_runtime.h>

#include <algorithm>
#include <string>

#include "braid/kernels/norm.h"
#include "kernels/norm/norm_device.cuh"

namespace braid::kernels {

namespace {

using norm_detail::ForgetConversions;
using norm_detail::FromFloat;
using norm_detail::LoadPack;
using norm_detail::Pack;
using norm_detail::RowGeometryOf;
using norm_detail::RowSum;
using norm_detail::StorePack;
using norm_detail::ToFloat;

constexpr int kMaxRowThreads = 512;    // threads per row (and per block) in the register kernel
constexpr int kLongThreads = 512;      // threads per row in the long-row kernel
constexpr int64_t kMaxGrid = 1 << 20;  // blocks; the kernels loop over the remaining rows

template <typename T>
struct FwdParams {
  const T* x;
  const T* gamma;
  const T* beta;  // null for RMSNorm
  T* y;           // may equal x (every element is read before it is written)
  float* mean;    // optional
  float* rstd;    // optional
  int64_t rows;
  int64_t cols;
  float eps;
};

// One row per `tpr` threads, held in registers: kChunks packs of kVec elements per thread.
// Vector variants are held to 64 registers (2 blocks of 512 per SM); the scalar ones, whose many
// single-element addresses need more, to 128.
template <typename T, int kVec, int kChunks, bool kRms>
__global__ void __launch_bounds__(kMaxRowThreads, kVec == 1 ? 1 : 2)
    NormForwardRowsKernel(FwdParams<T> p, int tpr) {
  __shared__ float smem[32];
  const auto [rows_per_block, slot, lane, stride, my_chunks] = RowGeometryOf<kVec>(p.cols, tpr);
  const float cols = static_cast<float>(p.cols);

  const T* gamma = p.gamma + lane * kVec;
  const T* beta = kRms ? nullptr : p.beta + lane * kVec;

  // Every thread runs the same number of iterations (RowSum may synchronise the block).
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * rows_per_block; base < p.rows;
       base += static_cast<int64_t>(gridDim.x) * rows_per_block) {
    const int64_t row = base + slot;
    const int n = row < p.rows ? my_chunks : 0;  // packs this thread handles in this row
    const int64_t offset = row < p.rows ? row * p.cols + lane * kVec : 0;
    const T* x = p.x + offset;
    Pack<T, kVec> xv[kChunks];
    float acc[1] = {0.0f};  // sum of x (LayerNorm) or of x^2 (RMSNorm)
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (c < n) {
        xv[c] = LoadPack<T, kVec>(x + c * stride);
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          const float v = ToFloat(xv[c].v[j]);
          acc[0] += kRms ? v * v : v;
        }
      }
    }
    RowSum(acc, tpr, smem);
    float mean = 0.0f;
    if constexpr (!kRms) {
      mean = acc[0] / cols;
      acc[0] = 0.0f;  // now the sum of squared deviations
#pragma unroll
      for (int c = 0; c < kChunks; ++c) {
        if (c < n) {
          ForgetConversions(xv[c]);
#pragma unroll
          for (int j = 0; j < kVec; ++j) {
            const float d = ToFloat(xv[c].v[j]) - mean;
            acc[0] += d * d;
          }
        }
      }
      RowSum(acc, tpr, smem);
    }
    const float rstd = rsqrtf(acc[0] / cols + p.eps);
    if (n > 0 && lane == 0) {
      if (p.mean != nullptr) p.mean[row] = mean;
      if (p.rstd != nullptr) p.rstd[row] = rstd;
    }
    T* y = p.y + offset;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (c < n) {
        ForgetConversions(xv[c]);
        const Pack<T, kVec> g = LoadPack<T, kVec>(gamma + c * stride);
        Pack<T, kVec> b;
        if constexpr (!kRms) b = LoadPack<T, kVec>(beta + c * stride);
        Pack<T, kVec> out;
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          float v = (ToFloat(xv[c].v[j]) - mean) * rstd * ToFloat(g.v[j]);
          if constexpr (!kRms) v += ToFloat(b.v[j]);
          out.v[j] = FromFloat<T>(v);
        }
        StorePack<T, kVec>(y + c * stride, out);
      }
    }
  }
}

// Rows longer than the register kernel holds: one row per block, read two or three times.
template <typename T, bool kRms>
__global__ void __launch_bounds__(kLongThreads) NormForwardLongKernel(FwdParams<T> p) {
  __shared__ float smem[32];
  const int tpr = static_cast<int>(blockDim.x);
  const float cols = static_cast<float>(p.cols);
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const T* x = p.x + row * p.cols;
    T* y = p.y + row * p.cols;
    float mean = 0.0f;
    float acc[1] = {0.0f};
    if constexpr (!kRms) {
      for (int64_t j = threadIdx.x; j < p.cols; j += tpr) acc[0] += ToFloat(x[j]);
      RowSum(acc, tpr, smem);
      mean = acc[0] / cols;
      acc[0] = 0.0f;
    }
    for (int64_t j = threadIdx.x; j < p.cols; j += tpr) {
      const float d = ToFloat(x[j]) - mean;
      acc[0] += d * d;
    }
    RowSum(acc, tpr, smem);
    const float rstd = rsqrtf(acc[0] / cols + p.eps);
    if (threadIdx.x == 0) {
      if (p.mean != nullptr) p.mean[row] = mean;
      if (p.rstd != nullptr) p.rstd[row] = rstd;
    }
    for (int64_t j = threadIdx.x; j < p.cols; j += tpr) {
      float v = (ToFloat(x[j]) - mean) * rstd * ToFloat(p.gamma[j]);
      if constexpr (!kRms) v += ToFloat(p.beta[j]);
      y[j] = FromFloat<T>(v);
    }
  }
}

// Launches the register kernel with kVec/kChunks if the row fits; false if it does not.
template <typename T, int kVec, int kChunks, bool kRms>
bool LaunchRows(const FwdParams<T>& p, cudaStream_t stream) {
  const norm_detail::RowLayout l =
      norm_detail::PlanRowLayout(p.cols / kVec, kChunks, kMaxRowThreads);
  if (l.tpr == 0) return false;
  const int64_t blocks =
      std::min<int64_t>((p.rows + l.rows_per_block - 1) / l.rows_per_block, kMaxGrid);
  NormForwardRowsKernel<T, kVec, kChunks, kRms>
      <<<static_cast<unsigned>(blocks), l.block, 0, stream>>>(p, l.tpr);
  return true;
}

template <typename T, bool kRms>
void LaunchForward(const FwdParams<T>& p, cudaStream_t stream) {
  constexpr int kVec = 16 / sizeof(T);
  // Elements per thread: 32 on the vector path (4 packs of bf16/fp16, 8 of fp32), 8 on the
  // scalar path; more would spill within the 64 registers that keep two 512-thread blocks (or 8
  // of 128) resident per SM (ptxas, sm_90: 6 bf16 packs spill 28 bytes even with
  // ForgetConversions). With 512 threads per row that holds rows of 16384 aligned or 4096
  // unaligned elements; small rows use fewer threads per row, and rows of up to 1024 16-bit
  // elements now fit one warp, whose sums need no shared memory or block barriers. The first
  // H100 run had 3 packs of 16-bit values (2 warps per 1024-element row, 4 block barriers per
  // LayerNorm row) at 0.63-0.86 of a copy's bandwidth, against 0.98-0.99 for fp32 rows of 8 packs.
  constexpr int kChunks = sizeof(T) == 2 ? 4 : 8;
  constexpr int kScalarChunks = 8;
  const bool vector = p.cols % kVec == 0 && norm_detail::Aligned16(p.x) &&
                      norm_detail::Aligned16(p.y) && norm_detail::Aligned16(p.gamma) &&
                      (kRms || norm_detail::Aligned16(p.beta));
  if (vector ? LaunchRows<T, kVec, kChunks, kRms>(p, stream)
             : LaunchRows<T, 1, kScalarChunks, kRms>(p, stream)) {
    return;
  }
  const int64_t blocks = std::min<int64_t>(p.rows, kMaxGrid);
  NormForwardLongKernel<T, kRms><<<static_cast<unsigned>(blocks), kLongThreads, 0, stream>>>(p);
}

template <typename T>
void Launch(const NormForwardArgs& a, cudaStream_t stream) {
  FwdParams<T> p{static_cast<const T*>(a.x),
                 static_cast<const T*>(a.gamma),
                 static_cast<const T*>(a.beta),
                 static_cast<T*>(a.y),
                 a.mean,
                 a.rstd,
                 a.rows,
                 a.cols,
                 a.eps};
  if (a.kind == NormKind::kRmsNorm) {
    LaunchForward<T, true>(p, stream);
  } else {
    LaunchForward<T, false>(p, stream);
  }
}

}  // namespace

Status NormForwardCuda(const NormForwardArgs& args, CUstream_st* stream) {
  if (Status s = ValidateNormForward(args); !s.ok()) return s;
  switch (args.type) {
    case DataType::kBfloat16:
      Launch<__nv_bfloat16>(args, stream);
      break;
    case DataType::kFloat16:
      Launch<__half>(args, stream);
      break;
    default:
      Launch<float>(args, stream);
      break;
  }
  if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) {
    return Status::SystemError(std::string("NormForwardCuda: kernel launch failed: ") +
                               cudaGetErrorString(err));
  }
  return Status::Ok();
}

}  // namespace braid::kernels
