// The Hopper (sm_90a) GEMM kernel: persistent, warp-specialised, TMA + wgmma.
//
// One CTA per SM loops over 128 x 256 output tiles in grouped order (tile_order.h). Its 384
// threads are three warpgroups:
//  - warpgroup 0, the producer, gives registers back (setmaxnreg 40) and one thread issues TMA
//    loads of 128 x 64 A and 256 x 64 B tiles into a 4-stage shared-memory ring. Each stage has a
//    "full" mbarrier (TMA bytes arrive) and an "empty" one (both consumers are done with it).
//  - warpgroups 1 and 2, the consumers, take registers (setmaxnreg 232) and each computes 64 of
//    the tile's 128 rows with m64n256k16 wgmmas (128 fp32 accumulators per thread), keeping one
//    k-block of wgmmas in flight while releasing the stage before it.
// While the consumers run the epilogue of one tile (staged through shared memory, see
// epilogue_staging.h), the producer is already filling the ring for the next, so the tensor
// cores restart on a full pipeline.
//
// Operand majorness is a template parameter: A is K-major (stored M x K) or M-major (stored
// K x M), B is K-major (stored N x K) or N-major (stored K x N). Each needs its own TMA boxes and
// descriptor geometry (smem_descriptor.h) and the wgmma transpose bits.
#pragma once

#include <cuda.h>

#include <cstdint>

#include "kernels/gemm/epilogue.cuh"
#include "kernels/gemm/sm90a/epilogue_staging.h"
#include "kernels/gemm/sm90a/gemm_sm90a.h"
#include "kernels/gemm/sm90a/ptx.cuh"
#include "kernels/gemm/sm90a/smem_descriptor.h"
#include "kernels/gemm/sm90a/wgmma.cuh"
#include "kernels/gemm/tile_order.h"

namespace braid::kernels::sm90a {

inline constexpr int kStages = 4;
inline constexpr int kConsumers = 2;
inline constexpr int kThreads = 128 * (1 + kConsumers);
inline constexpr int kGroupM = 8;       // tile-rows per raster group (L2 reuse)
inline constexpr int kWgmmaK = 16;      // k per wgmma instruction
inline constexpr int kChunk = 64;       // elements per 128-byte swizzle row
inline constexpr int kProducerRegisters = 40;
inline constexpr int kConsumerRegisters = 232;
// setmaxnreg moves registers within what the launch allocated: the consumers may only take what
// the producer gave back, or setmaxnreg.inc waits for ever. With __launch_bounds__(kThreads, 1)
// ptxas may give each thread up to 64 K / kThreads registers, in steps of 8 (168 for 384
// threads); the budget below assumes it uses them all, which `ptxas -v` shows (168 registers).
// LaunchGemm checks the compiled kernel's count once per process (LaunchRegistersSuffice).
inline constexpr int kLaunchRegisters = 65536 / kThreads / 8 * 8;
static_assert((kProducerRegisters + kConsumers * kConsumerRegisters) * 128 <= kLaunchRegisters * kThreads,
              "the consumers' setmaxnreg.inc needs more registers than the producer's dec frees");

inline constexpr uint32_t kATileBytes = kBlockM * kBlockK * 2;  // 16 KiB
inline constexpr uint32_t kBTileBytes = kBlockN * kBlockK * 2;  // 32 KiB
inline constexpr uint32_t kStageBytes = kATileBytes + kBTileBytes;

// The shared-memory ring. Tiles are 1024-byte aligned: the 128-byte swizzle pattern repeats
// every 1024 bytes, and the descriptors assume a pattern starting at the tile (base offset 0).
struct alignas(1024) SharedStorage {
  uint8_t a[kStages][kATileBytes];
  uint8_t b[kStages][kBTileBytes];
  float staging[kConsumers][kStagingFloats];  // the epilogue's blocks, one per consumer
  uint64_t full[kStages];
  uint64_t empty[kStages];
};
// Dynamic shared memory is only 16-byte aligned; the kernel rounds its base up to 1024.
inline constexpr size_t kSharedBytes = sizeof(SharedStorage) + 1024;
static_assert(kSharedBytes <= 227 * 1024, "the ring must fit the 227 KiB a Hopper CTA may use");
static_assert(kBlockM == kConsumers * kStagingRows && kBlockN % kStagingCols == 0,
              "a consumer's rows and the tile's columns must split into staging blocks");

struct KernelParams {
  int k = 0;
  int tiles_m = 0, tiles_n = 0, k_blocks = 0;
  EpilogueParams epi;
  bool skip_epilogue = false;  // diagnosis only (SkipEpilogueForDiagnosis): D is not written
};

// Descriptor of the 64 x 16 (A) or 16 x 256 (B) slice number `kstep` of a stage tile, for the
// tile's first `row_offset_bytes`. K-major: rows of 64 k, so a k-step moves 32 bytes along the
// row. MN-major: rows of 64 m/n per k, so a k-step moves 16 rows; chunks of 64 m/n are
// kBlockK * 128 bytes apart.
template <bool kMnMajor>
__device__ __forceinline__ uint64_t SliceDescriptor(const uint8_t* tile, uint32_t chunk_offset,
                                                    int kstep) {
  const uint32_t base = SmemAddress(tile) + chunk_offset;
  if constexpr (kMnMajor) {
    return SmemDescriptor(base + kstep * kWgmmaK * 128, kBlockK * 128, 1024);
  } else {
    return SmemDescriptor(base + kstep * kWgmmaK * 2, 16, 1024);
  }
}

// One consumer's epilogue for its 64 x 256 accumulator fragments (layout in wgmma.cuh), for
// WithEpilogue: four 64-column chunks, each staged in shared memory (epilogue_staging.h) and read
// back in row order by a rolled loop that finishes and stores four columns per thread and step.
// `simple` (uniform per tile): the tile lies wholly inside D, pairs may be stored as one access,
// and there is no C term or residual, so EpilogueStorePair's checks are compiled out.
struct StagedStore {
  const EpilogueParams& e;
  float* staging;    // this consumer's 64 x 64 fp32 block
  int barrier;       // named barrier of this consumer's 128 threads
  int row0, col0;    // the consumer's first output row and the tile's first column
  int warp, lane;    // within the warpgroup
  bool simple;
  const float (&acc)[kWgmmaAccumulators];

  template <OutputKind kOut, GemmEpilogue kKind>
  __device__ __forceinline__ void Run() const {
    if (simple) {
      StoreChunks<kOut, kKind, true>();
    } else {
      StoreChunks<kOut, kKind, false>();
    }
  }

  // The chunk loop stays rolled (one copy of the read-back code); the switch picks the chunk's
  // accumulators with compile-time indices, so they stay in registers.
  template <OutputKind kOut, GemmEpilogue kKind, bool kSimple>
  __device__ __forceinline__ void StoreChunks() const {
    static_assert(kBlockN == 4 * kStagingCols, "the switch below names four chunks");
#pragma unroll 1
    for (int chunk = 0; chunk < kBlockN / kStagingCols; ++chunk) {
      switch (chunk) {
        case 0: Stage<0>(); break;
        case 1: Stage<1>(); break;
        case 2: Stage<2>(); break;
        default: Stage<3>();
      }
      NamedBarrierSync(barrier, kStagingThreads);  // the chunk is complete in shared memory
      StoreStaged<kOut, kKind, kSimple>(chunk);
      NamedBarrierSync(barrier, kStagingThreads);  // read back; the block may be overwritten
    }
  }

  // Fragment pairs of column groups 8 * kChunk .. 8 * kChunk + 7 into the staging block.
  template <int kChunk>
  __device__ __forceinline__ void Stage() const {
    const int row = FragmentRow(warp, lane), col = FragmentColumn(lane);
    const uint32_t base = SmemAddress(staging);
#pragma unroll
    for (int g = 0; g < kStagingCols / 8; ++g) {
      const int j = kChunk * (kStagingCols / 8) + g;
      StoreSharedFloat2(base + 4 * StagedIndex(row, 8 * g + col), acc[4 * j], acc[4 * j + 1]);
      StoreSharedFloat2(base + 4 * StagedIndex(row + 8, 8 * g + col), acc[4 * j + 2], acc[4 * j + 3]);
    }
  }

  template <OutputKind kOut, GemmEpilogue kKind, bool kSimple>
  __device__ __forceinline__ void StoreStaged(int chunk) const {
    const int thread = warp * 32 + lane;
    const int col = ReadColumn(thread);
    const int out_col = col0 + chunk * kStagingCols + col;
#pragma unroll 2
    for (int step = 0; step < kStagingSteps; ++step) {
      const int row = ReadRow(thread, step);
      const float4 v = *reinterpret_cast<const float4*>(staging + StagedIndex(row, col));
      EpilogueStorePair<kOut, kKind, kSimple>(e, row0 + row, out_col, v.x, v.y);
      EpilogueStorePair<kOut, kKind, kSimple>(e, row0 + row, out_col + 2, v.z, v.w);
    }
  }
};

template <bool kAMnMajor, bool kBMnMajor>
__device__ __forceinline__ void ProduceTiles(SharedStorage& s, const CUtensorMap* map_a,
                                             const CUtensorMap* map_b, const KernelParams& p) {
  int stage = 0;
  uint32_t phase = 0;
  const int tiles = p.tiles_m * p.tiles_n;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const TileCoord t = GroupedTile(tile, p.tiles_m, p.tiles_n, kGroupM);
    const int row0 = t.m * kBlockM, col0 = t.n * kBlockN;
    for (int kb = 0; kb < p.k_blocks; ++kb) {
      // A fresh barrier's preceding phase counts as complete, so the first pass does not wait.
      BarrierWait(&s.empty[stage], phase ^ 1);
      BarrierArriveExpectBytes(&s.full[stage], kStageBytes);
      const int k0 = kb * kBlockK;
      if constexpr (kAMnMajor) {  // A stored K x M: boxes of 64 m x 64 k
        for (int c = 0; c < kBlockM / kChunk; ++c)
          TmaLoad2d(s.a[stage] + c * kBlockK * 128, map_a, &s.full[stage], row0 + c * kChunk, k0);
      } else {  // A stored M x K: one box of 64 k x 128 m
        TmaLoad2d(s.a[stage], map_a, &s.full[stage], k0, row0);
      }
      if constexpr (kBMnMajor) {  // B stored K x N: boxes of 64 n x 64 k
        for (int c = 0; c < kBlockN / kChunk; ++c)
          TmaLoad2d(s.b[stage] + c * kBlockK * 128, map_b, &s.full[stage], col0 + c * kChunk, k0);
      } else {  // B stored N x K: one box of 64 k x 256 n
        TmaLoad2d(s.b[stage], map_b, &s.full[stage], k0, col0);
      }
      if (++stage == kStages) {
        stage = 0;
        phase ^= 1;
      }
    }
  }
}

template <typename T, bool kAMnMajor, bool kBMnMajor>
__device__ __forceinline__ void ConsumeTiles(SharedStorage& s, const KernelParams& p,
                                             int consumer) {
  float acc[kWgmmaAccumulators];
  // This consumer's 64 rows of the A tile: 64 K-major rows of 128 bytes, or the second 64-wide
  // M chunk (kBlockK rows of 128 bytes) -- 8 KiB either way.
  const uint32_t a_offset = consumer * 64 * 128;
  const int warp = (threadIdx.x / 32) % 4;
  const int lane = threadIdx.x % 32;
  const bool leader = threadIdx.x % 128 == 0;
  int stage = 0;
  uint32_t phase = 0;
  const int tiles = p.tiles_m * p.tiles_n;
  for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
    const TileCoord t = GroupedTile(tile, p.tiles_m, p.tiles_n, kGroupM);
    int previous_stage = -1;
    for (int kb = 0; kb < p.k_blocks; ++kb) {
      BarrierWait(&s.full[stage], phase);
      FenceAccumulators(acc);
      WgmmaFence();
#pragma unroll
      for (int ks = 0; ks < kBlockK / kWgmmaK; ++ks) {
        const uint64_t desc_a = SliceDescriptor<kAMnMajor>(s.a[stage], a_offset, ks);
        const uint64_t desc_b = SliceDescriptor<kBMnMajor>(s.b[stage], 0, ks);
        // The tile's first product overwrites the accumulators (no zeroing pass).
        WgmmaM64N256K16<T, kAMnMajor, kBMnMajor>(acc, desc_a, desc_b, (kb > 0 || ks > 0) ? 1u : 0u);
      }
      WgmmaCommitGroup();
      // This k-block's wgmmas may still run; the previous block's are done, so its stage is free.
      WgmmaWaitGroup<1>();
      FenceAccumulators(acc);
      if (previous_stage >= 0 && leader) BarrierArrive(&s.empty[previous_stage]);
      previous_stage = stage;
      if (++stage == kStages) {
        stage = 0;
        phase ^= 1;
      }
    }
    WgmmaWaitGroup<0>();
    FenceAccumulators(acc);
    if (leader) BarrierArrive(&s.empty[previous_stage]);

    // The epilogue, staged through shared memory; the producer meanwhile fills the ring.
    const bool simple = p.epi.paired_stores && p.epi.beta == 0.0f && p.epi.residual == nullptr &&
                        (t.m + 1) * kBlockM <= p.epi.m && (t.n + 1) * kBlockN <= p.epi.n;
    const StagedStore store{p.epi, s.staging[consumer], 1 + consumer,
                            t.m * kBlockM + consumer * kStagingRows, t.n * kBlockN, warp, lane,
                            simple, acc};
    if (!p.skip_epilogue) WithEpilogue(p.epi, store);
  }
}

template <typename T, bool kAMnMajor, bool kBMnMajor>
__global__ void __launch_bounds__(kThreads, 1)
    GemmSm90aKernel(const __grid_constant__ CUtensorMap map_a,
                    const __grid_constant__ CUtensorMap map_b, const KernelParams p) {
  extern __shared__ uint8_t raw_shared[];
  // Rounded up to 1024 bytes by an offset from raw_shared (not by rounding an integer address),
  // so the compiler still knows `s` is shared memory: the staging block's read-back is then LDS,
  // not generic loads. The shared-window offset is what TMA and the descriptors need aligned.
  const uint32_t pad = (1024u - (SmemAddress(raw_shared) & 1023u)) & 1023u;
  SharedStorage& s = *static_cast<SharedStorage*>(__builtin_assume_aligned(raw_shared + pad, 1024));
  const int warpgroup = threadIdx.x / 128;
  if (threadIdx.x == 0) {
    for (int i = 0; i < kStages; ++i) {
      BarrierInit(&s.full[i], 1);            // the producer's arrive.expect_tx
      BarrierInit(&s.empty[i], kConsumers);  // one arrival per consumer warpgroup
    }
    FenceBarrierInit();
    PrefetchTensorMap(&map_a);
    PrefetchTensorMap(&map_b);
  }
  __syncthreads();

  if (warpgroup == 0) {
    WarpgroupRegistersDecrease<kProducerRegisters>();
    if (threadIdx.x == 0) ProduceTiles<kAMnMajor, kBMnMajor>(s, &map_a, &map_b, p);
  } else {
    WarpgroupRegistersIncrease<kConsumerRegisters>();
    ConsumeTiles<T, kAMnMajor, kBMnMajor>(s, p, warpgroup - 1);
  }
}

}  // namespace braid::kernels::sm90a
