// Portable GEMM kernel: 64 x 64 output tile per 256-thread block, 16-deep k slices staged in
// shared memory as fp32, each thread accumulating a 4 x 4 sub-tile in registers. Operand
// elements are read through their layout (as stored or transposed) with bounds checks, so every
// shape, alignment and leading dimension works.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "kernels/gemm/epilogue.cuh"
#include "kernels/gemm/gemm_portable.h"
#include "kernels/gemm/tile_order.h"

namespace braid::kernels {
namespace {

constexpr int kTile = 64;        // output rows and columns per block
constexpr int kSlice = 16;       // k-values staged per step
constexpr int kThreads = 256;    // 16 x 16 threads, each 4 x 4 outputs
constexpr int kPerThread = 4;

struct OperandView {
  const void* base;
  int64_t ld;
  bool transposed;  // GemmOperand::kTransposed
};

struct PortableParams {
  OperandView a, b;
  int k;
  EpilogueParams epi;
};

__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }

// op(A)[row, kk]: A stored M x K (as is) or K x M (transposed). Zero outside the matrix.
template <typename T>
__device__ __forceinline__ float LoadA(const OperandView& a, int row, int kk, int m, int k) {
  if (row >= m || kk >= k) return 0.0f;
  const T* p = static_cast<const T*>(a.base);
  return ToFloat(a.transposed ? p[static_cast<int64_t>(kk) * a.ld + row]
                              : p[static_cast<int64_t>(row) * a.ld + kk]);
}

// op(B)[kk, col]: B stored K x N (as is) or N x K (transposed). Zero outside the matrix.
template <typename T>
__device__ __forceinline__ float LoadB(const OperandView& b, int kk, int col, int n, int k) {
  if (col >= n || kk >= k) return 0.0f;
  const T* p = static_cast<const T*>(b.base);
  return ToFloat(b.transposed ? p[static_cast<int64_t>(col) * b.ld + kk]
                              : p[static_cast<int64_t>(kk) * b.ld + col]);
}

// Stores one thread's kPerThread x kPerThread sub-tile at (row, col) through the epilogue, for
// WithEpilogue.
struct SubTileStore {
  const EpilogueParams& e;
  int row, col;
  const float (&acc)[kPerThread][kPerThread];

  template <OutputKind kOut, GemmEpilogue kKind>
  __device__ __forceinline__ void Run() const {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i)
#pragma unroll
      for (int j = 0; j < kPerThread; j += 2)
        EpilogueStorePair<kOut, kKind>(e, row + i, col + j, acc[i][j], acc[i][j + 1]);
  }
};

// One 64 x 64 tile of D per block and pass, tiles numbered row by row (`tiles_n` per row of
// tiles). A 1-D grid of at most 2^31 - 1 blocks strides over them, so any M and N fit (a 2-D grid
// would cap the tile rows at 65535, M at ~4.2M).
template <typename T>
__global__ void __launch_bounds__(kThreads) GemmPortableKernel(const PortableParams p, int tiles_n, int64_t tiles) {
  __shared__ float a_slice[kSlice][kTile + 1];  // +1 column: no bank conflicts on the transposed fill
  __shared__ float b_slice[kSlice][kTile + 1];
  const int tx = threadIdx.x % 16;  // column group
  const int ty = threadIdx.x / 16;  // row group
  for (int64_t tile = blockIdx.x; tile < tiles; tile += gridDim.x) {  // the same for every thread of the block
    const int row0 = static_cast<int>(tile / tiles_n) * kTile;
    const int col0 = static_cast<int>(tile % tiles_n) * kTile;
    float acc[kPerThread][kPerThread] = {};

    for (int k0 = 0; k0 < p.k; k0 += kSlice) {
      // 64 x 16 elements per operand, 4 per thread.
      for (int i = threadIdx.x; i < kTile * kSlice; i += kThreads) {
        const int r = i / kSlice, kk = i % kSlice;
        a_slice[kk][r] = LoadA<T>(p.a, row0 + r, k0 + kk, p.epi.m, p.k);
        const int kb = i / kTile, c = i % kTile;
        b_slice[kb][c] = LoadB<T>(p.b, k0 + kb, col0 + c, p.epi.n, p.k);
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kSlice; ++kk) {
        float a_frag[kPerThread], b_frag[kPerThread];
#pragma unroll
        for (int i = 0; i < kPerThread; ++i) a_frag[i] = a_slice[kk][ty * kPerThread + i];
#pragma unroll
        for (int j = 0; j < kPerThread; ++j) b_frag[j] = b_slice[kk][tx * kPerThread + j];
#pragma unroll
        for (int i = 0; i < kPerThread; ++i)
#pragma unroll
          for (int j = 0; j < kPerThread; ++j) acc[i][j] = fmaf(a_frag[i], b_frag[j], acc[i][j]);
      }
      __syncthreads();
    }

    WithEpilogue(p.epi, SubTileStore{p.epi, row0 + ty * kPerThread, col0 + tx * kPerThread, acc});
  }
}

}  // namespace

Status LaunchGemmPortable(const GemmArgs& args, cudaStream_t stream) {
  PortableParams p;
  p.a = OperandView{args.a, args.lda, args.op_a == GemmOperand::kTransposed};
  p.b = OperandView{args.b, args.ldb, args.op_b == GemmOperand::kTransposed};
  p.k = static_cast<int>(args.k);
  p.epi = MakeEpilogueParams(args);
  const int tiles_n = CeilDiv(p.epi.n, kTile);
  const int64_t tiles = int64_t{CeilDiv(p.epi.m, kTile)} * tiles_n;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles, std::numeric_limits<int32_t>::max())));
  if (args.input_type == DataType::kBfloat16) {
    GemmPortableKernel<__nv_bfloat16><<<grid, kThreads, 0, stream>>>(p, tiles_n, tiles);
  } else {
    GemmPortableKernel<__half><<<grid, kThreads, 0, stream>>>(p, tiles_n, tiles);
  }
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status::SystemError(std::string("GemmCuda (portable kernel) launch: ") +
                               cudaGetErrorString(err));
  }
  return Status::Ok();
}

}  // namespace braid::kernels
