// LayerNorm / RMSNorm backward kernels (private to kernels/norm; launched by norm_backward.cu).
// Notation as in include/braid/kernels/norm.h: xhat = (x - mean) * rstd (mean = 0 for RMSNorm),
// g = dy * gamma, dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) (no mean(g) term for RMSNorm).
#pragma once

#include "kernels/norm/norm_device.cuh"

namespace braid::kernels::norm_detail {

constexpr int kMaxRowThreads = 512;  // threads per row in the register kernel (<= 128 registers)
constexpr int kLongThreads = 512;    // threads per row in the long-row dx kernel
constexpr int kColTile = 32;         // columns per block in the column kernels (one warp wide)
constexpr int kColRows = 8;          // rows summed side by side per block in the column kernels

template <typename T>
struct BwdParams {
  const T* dy;
  const T* x;
  const T* gamma;
  const float* mean;  // null for RMSNorm
  const float* rstd;
  T* dx;  // may equal dy or x (each element is read before it is written)
  int64_t rows;
  int64_t cols;
};

// Rows held in registers by `tpr` threads (kChunks packs of kVec elements each); every row slot
// visits rows slot, slot + slots, ... and then writes its column sums to
// partial[group][col] (dgamma) and partial[groups + group][col] (dbeta, LayerNorm only), where
// group = blockIdx.x * rows_per_block + slot and groups = gridDim.x * rows_per_block. Every
// (group, col) is written, also by slots that saw no row (zeros).
template <typename T, int kVec, int kChunks, bool kRms>
__global__ void __launch_bounds__(kMaxRowThreads)
    NormBackwardRowsKernel(BwdParams<T> p, int tpr, float* partial) {
  __shared__ float smem[64];
  const auto [rows_per_block, slot, lane, stride, my_chunks] = RowGeometryOf<kVec>(p.cols, tpr);
  const float cols = static_cast<float>(p.cols);
  const T* gamma = p.gamma + lane * kVec;

  float dg[kChunks][kVec], db[kChunks][kVec];
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
#pragma unroll
    for (int j = 0; j < kVec; ++j) dg[c][j] = db[c][j] = 0.0f;
  }

  // Every thread runs the same number of iterations (RowSum may synchronise the block).
  for (int64_t base = static_cast<int64_t>(blockIdx.x) * rows_per_block; base < p.rows;
       base += static_cast<int64_t>(gridDim.x) * rows_per_block) {
    const int64_t row = base + slot;
    const int n = row < p.rows ? my_chunks : 0;  // packs this thread handles in this row
    const int64_t offset = row < p.rows ? row * p.cols + lane * kVec : 0;
    float mean = 0.0f, rstd = 0.0f;
    if (n > 0) {
      if constexpr (!kRms) mean = p.mean[row];
      rstd = p.rstd[row];
    }
    Pack<T, kVec> xv[kChunks], dyv[kChunks];
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (c < n) {
        xv[c] = LoadPack<T, kVec>(p.x + offset + c * stride);
        dyv[c] = LoadPack<T, kVec>(p.dy + offset + c * stride);
      }
    }
    float sums[2] = {0.0f, 0.0f};  // sum of g, sum of g * xhat
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (c < n) {
        const Pack<T, kVec> gv = LoadPack<T, kVec>(gamma + c * stride);
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          const float xhat = (ToFloat(xv[c].v[j]) - mean) * rstd;
          const float g = ToFloat(dyv[c].v[j]) * ToFloat(gv.v[j]);
          sums[0] += g;
          sums[1] += g * xhat;
        }
      }
    }
    RowSum(sums, tpr, smem);
    const float mean_g = kRms ? 0.0f : sums[0] / cols;
    const float mean_gx = sums[1] / cols;
    T* dx = p.dx + offset;
#pragma unroll
    for (int c = 0; c < kChunks; ++c) {
      if (c < n) {
        const Pack<T, kVec> gv = LoadPack<T, kVec>(gamma + c * stride);
        Pack<T, kVec> out;
#pragma unroll
        for (int j = 0; j < kVec; ++j) {
          const float xhat = (ToFloat(xv[c].v[j]) - mean) * rstd;
          const float d = ToFloat(dyv[c].v[j]);
          const float g = d * ToFloat(gv.v[j]);
          out.v[j] = FromFloat<T>(rstd * (g - mean_g - xhat * mean_gx));
          dg[c][j] += d * xhat;
          if constexpr (!kRms) db[c][j] += d;
        }
        StorePack<T, kVec>(dx + c * stride, out);
      }
    }
  }

  const int64_t groups = static_cast<int64_t>(gridDim.x) * rows_per_block;
  const int64_t group = static_cast<int64_t>(blockIdx.x) * rows_per_block + slot;
  const int64_t first = group * p.cols + lane * kVec;  // dbeta's array starts groups * cols later
#pragma unroll
  for (int c = 0; c < kChunks; ++c) {
    if (c < my_chunks) {
#pragma unroll
      for (int j = 0; j < kVec; ++j) {
        partial[first + c * stride + j] = dg[c][j];
        if constexpr (!kRms) partial[groups * p.cols + first + c * stride + j] = db[c][j];
      }
    }
  }
}

// Long rows, partial sums: block (kColTile, kColRows) at (bx, by) sums column bx * kColTile + tx
// over rows by * kColRows + ty, stepping gridDim.y * kColRows, into partial[by][col] (and
// partial[gridDim.y + by][col] for dbeta).
template <typename T, bool kRms>
__global__ void __launch_bounds__(kColTile* kColRows)
    NormBackwardColumnsKernel(BwdParams<T> p, float* partial) {
  __shared__ float sg[kColRows][kColTile + 1], sb[kColRows][kColTile + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kColTile + tx;
  float dg = 0.0f, db = 0.0f;
  if (col < p.cols) {
    for (int64_t r = static_cast<int64_t>(blockIdx.y) * kColRows + ty; r < p.rows;
         r += static_cast<int64_t>(gridDim.y) * kColRows) {
      const float mean = kRms ? 0.0f : p.mean[r];
      const float xhat = (ToFloat(p.x[r * p.cols + col]) - mean) * p.rstd[r];
      const float d = ToFloat(p.dy[r * p.cols + col]);
      dg += d * xhat;
      db += d;
    }
  }
  sg[ty][tx] = dg;
  sb[ty][tx] = db;
  __syncthreads();
  if (ty == 0 && col < p.cols) {
    float g = 0.0f, b = 0.0f;
#pragma unroll
    for (int k = 0; k < kColRows; ++k) {
      g += sg[k][tx];
      b += sb[k][tx];
    }
    partial[static_cast<int64_t>(blockIdx.y) * p.cols + col] = g;
    if constexpr (!kRms) partial[(static_cast<int64_t>(gridDim.y) + blockIdx.y) * p.cols + col] = b;
  }
}

// Long rows, dx: one row per block of kLongThreads threads; x and dy are read twice.
template <typename T, bool kRms>
__global__ void __launch_bounds__(kLongThreads) NormBackwardLongDxKernel(BwdParams<T> p) {
  __shared__ float smem[64];
  const int tpr = static_cast<int>(blockDim.x);
  const float cols = static_cast<float>(p.cols);
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const T* x = p.x + row * p.cols;
    const T* dy = p.dy + row * p.cols;
    const float mean = kRms ? 0.0f : p.mean[row];
    const float rstd = p.rstd[row];
    float sums[2] = {0.0f, 0.0f};
    for (int64_t j = threadIdx.x; j < p.cols; j += tpr) {
      const float xhat = (ToFloat(x[j]) - mean) * rstd;
      const float g = ToFloat(dy[j]) * ToFloat(p.gamma[j]);
      sums[0] += g;
      sums[1] += g * xhat;
    }
    RowSum(sums, tpr, smem);
    const float mean_g = kRms ? 0.0f : sums[0] / cols;
    const float mean_gx = sums[1] / cols;
    T* dx = p.dx + row * p.cols;
    for (int64_t j = threadIdx.x; j < p.cols; j += tpr) {
      const float xhat = (ToFloat(x[j]) - mean) * rstd;
      const float g = ToFloat(dy[j]) * ToFloat(p.gamma[j]);
      dx[j] = FromFloat<T>(rstd * (g - mean_g - xhat * mean_gx));
    }
  }
}

// dgamma[col] = sum over groups of partial[group][col]; dbeta likewise from the second array
// (skipped when dbeta is null). Fixed summation order: deterministic.
__global__ void __launch_bounds__(kColTile* kColRows)
    NormGradFinalizeKernel(const float* partial, int64_t groups, int64_t cols, float* dgamma,
                           float* dbeta) {
  __shared__ float sg[kColRows][kColTile + 1], sb[kColRows][kColTile + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int64_t col = static_cast<int64_t>(blockIdx.x) * kColTile + tx;
  float g = 0.0f, b = 0.0f;
  if (col < cols) {
    for (int64_t k = ty; k < groups; k += kColRows) {
      g += partial[k * cols + col];
      if (dbeta != nullptr) b += partial[(groups + k) * cols + col];
    }
  }
  sg[ty][tx] = g;
  sb[ty][tx] = b;
  __syncthreads();
  if (ty == 0 && col < cols) {
    g = 0.0f;
    b = 0.0f;
#pragma unroll
    for (int k = 0; k < kColRows; ++k) {
      g += sg[k][tx];
      b += sb[k][tx];
    }
    dgamma[col] = g;
    if (dbeta != nullptr) dbeta[col] = b;
  }
}

}  // namespace braid::kernels::norm_detail
