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
constexpr int kRowSumScratch = 64;   // floats of RowSum scratch in the wide kernel (32 warps x 2)

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

// Adds v[0..kVec) to sums[j..j + kVec) in shared memory: 16-byte accesses where kVec allows (a
// warp then covers consecutive 512 bytes without bank conflicts), else one float at a time.
template <int kVec>
__device__ __forceinline__ void AddToColumnSums(float* sums, int64_t j, const float (&v)[kVec]) {
  if constexpr (kVec % 4 == 0) {
#pragma unroll
    for (int q = 0; q < kVec; q += 4) {
      float4* at = reinterpret_cast<float4*>(sums + j + q);
      float4 s = *at;
      s.x += v[q];
      s.y += v[q + 1];
      s.z += v[q + 2];
      s.w += v[q + 3];
      *at = s;
    }
  } else {
#pragma unroll
    for (int q = 0; q < kVec; ++q) sums[j + q] += v[q];
  }
}

// Shared memory of NormBackwardWideKernel: a block's dgamma (and dbeta) sums for every column.
constexpr size_t WideColumnSumsBytes(bool rms, int64_t cols) {
  return (rms ? 1 : 2) * static_cast<size_t>(cols) * sizeof(float);
}

// Rows too long for the register kernel, whose column sums fit in shared memory: one row at a
// time per block of kLongThreads. The first pass reads x and dy for the two row sums; the second
// reads them again -- from L2, which holds what this block read microseconds before -- writes dx
// and adds to the block's column sums in shared memory (WideColumnSumsBytes). A thread handles
// the same columns in every row, so it alone touches their sums: no synchronisation. From DRAM
// that is x and dy read once and dx written once, where the column kernel + long-row dx kernel
// read x and dy twice (fp32 rows of 12288 ran at 0.37x of copy bandwidth on the H100). Each
// block writes its sums to partial[blockIdx.x][col] (dbeta: partial[gridDim.x + blockIdx.x]).
// kVec > 1 needs 16-byte aligned pointers and cols % kVec == 0, like the register kernel.
template <typename T, int kVec, bool kRms>
__global__ void __launch_bounds__(kLongThreads)
    NormBackwardWideKernel(BwdParams<T> p, float* partial) {
  __shared__ float smem[kRowSumScratch];
  extern __shared__ float4 column_sums[];  // float4: 16-byte aligned for AddToColumnSums
  float* dg = reinterpret_cast<float*>(column_sums);
  float* db = dg + p.cols;  // LayerNorm only (p.cols % kVec == 0 keeps it aligned)
  const int64_t first = static_cast<int64_t>(threadIdx.x) * kVec;
  const int64_t step = static_cast<int64_t>(blockDim.x) * kVec;
  const float cols = static_cast<float>(p.cols);
  for (int64_t j = first; j < p.cols; j += step) {
#pragma unroll
    for (int q = 0; q < kVec; ++q) {
      dg[j + q] = 0.0f;
      if constexpr (!kRms) db[j + q] = 0.0f;
    }
  }
  for (int64_t row = blockIdx.x; row < p.rows; row += gridDim.x) {
    const T* x = p.x + row * p.cols;
    const T* dy = p.dy + row * p.cols;
    const float mean = kRms ? 0.0f : p.mean[row];
    const float rstd = p.rstd[row];
    float sums[2] = {0.0f, 0.0f};  // sum of g, sum of g * xhat
    // Unrolled so that a thread has two packs of x and dy in flight.
#pragma unroll 2
    for (int64_t j = first; j < p.cols; j += step) {
      const Pack<T, kVec> xv = LoadPack<T, kVec>(x + j), dyv = LoadPack<T, kVec>(dy + j),
                          gv = LoadPack<T, kVec>(p.gamma + j);
#pragma unroll
      for (int q = 0; q < kVec; ++q) {
        const float g = ToFloat(dyv.v[q]) * ToFloat(gv.v[q]);
        sums[0] += g;
        sums[1] += g * ((ToFloat(xv.v[q]) - mean) * rstd);
      }
    }
    RowSum(sums, static_cast<int>(blockDim.x), smem);
    const float mean_g = kRms ? 0.0f : sums[0] / cols;
    const float mean_gx = sums[1] / cols;
    T* dx = p.dx + row * p.cols;
#pragma unroll 2
    for (int64_t j = first; j < p.cols; j += step) {
      const Pack<T, kVec> xv = LoadPack<T, kVec>(x + j), dyv = LoadPack<T, kVec>(dy + j),
                          gv = LoadPack<T, kVec>(p.gamma + j);
      Pack<T, kVec> out;
      float add_g[kVec], add_b[kVec];
#pragma unroll
      for (int q = 0; q < kVec; ++q) {
        const float xhat = (ToFloat(xv.v[q]) - mean) * rstd;
        const float d = ToFloat(dyv.v[q]);
        const float g = d * ToFloat(gv.v[q]);
        out.v[q] = FromFloat<T>(rstd * (g - mean_g - xhat * mean_gx));
        add_g[q] = d * xhat;
        add_b[q] = d;
      }
      StorePack<T, kVec>(dx + j, out);
      AddToColumnSums<kVec>(dg, j, add_g);
      if constexpr (!kRms) AddToColumnSums<kVec>(db, j, add_b);
    }
  }
  float* out_g = partial + static_cast<int64_t>(blockIdx.x) * p.cols;
  float* out_b = partial + (static_cast<int64_t>(gridDim.x) + blockIdx.x) * p.cols;
  for (int64_t j = first; j < p.cols; j += step) {
#pragma unroll
    for (int q = 0; q < kVec; ++q) {
      out_g[j + q] = dg[j + q];
      if constexpr (!kRms) out_b[j + q] = db[j + q];
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
