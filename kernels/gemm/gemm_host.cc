// GemmHost: the CPU reference GEMM (include/braid/kernels/gemm.h).
//
// Layout of the work:
// - D is cut into tiles of kMc rows x kNc columns, handed out to the workers one at a time (so a
//   matrix with few rows is still split, by columns). For its tile a worker walks K in blocks of
//   kKc: it converts that slice of op(A) to fp32 panels of kMr rows (A[row][p] at p*kMr + r,
//   zero-padded past M) and that slice of op(B) to panels of kNr columns (B[p][col] at
//   p*kNr + c, zero-padded past N), then runs the micro-kernel on every (column panel, row panel)
//   pair, adding into the tile's fp32 sums. After the last K block, the epilogue.
// - Memory: each worker's scratch is at most kMc x kKc + kKc x kNc + kMc x kNc fp32 (1.3 MiB),
//   whatever M, N and K: a matrix-vector product with K = 2^26 does not copy its operands.
// - Cost of that bound: op(A) is converted once per kNc columns of D, and op(B) once per kMc
//   rows when K > kKc (else about once per worker: see the tile order in GemmHost), i.e. up to
//   1/kNc + 1/kMc conversions per multiply-add.
// - Determinism: every output element is the fp32 sum over p = 0, 1, ..., K-1 in that order
//   (the sums carry over from one K block to the next), whatever worker computes it, so results
//   do not depend on the thread count. Padded zeros only ever meet padded rows or columns, which
//   are never stored.
// Speed: g++ -O3 turns the micro-kernel into 16 SSE mulps/addps per k step; measured 11-18
// GFLOP/s per core on the 2-core dev machine (512^3 bf16: ~0.02 s, 1024^3: ~0.2 s).
#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <cstring>
#include <new>
#include <vector>

#include "braid/kernels/gemm.h"
#include "braid/kernels/reduce.h"
#include "kernels/act/gelu_math.h"
#include "kernels/common/host_workers.h"

namespace braid::kernels {
namespace {

constexpr int kMr = 4;          // rows of a micro-tile (4 x 8 fp32 sums: 8 SSE registers)
constexpr int kNr = 8;          // columns of a micro-tile
constexpr int64_t kMc = 64;     // rows of a D tile (work item)
constexpr int64_t kNc = 256;    // columns of a D tile
constexpr int64_t kKc = 1024;   // K block: the A slice (kMc x kKc fp32, 256 KiB) stays in L2 and
                                // a B panel (kKc x kNr fp32, 32 KiB) in L1 while it is used
// Below this many multiply-adds the call runs on one thread: starting threads costs ~50 us.
constexpr int64_t kMinParallelMacs = int64_t{1} << 21;

// ---- element access -----------------------------------------------------------------------

// bf16 is the top half of an fp32 (the bits Bfloat16ToFloat returns), written out here so the
// packing loops, which convert 1/kMc + 1/kNc inputs per multiply-add, avoid a call per element.
float LoadInput(const uint16_t* base, int64_t index, bool bf16) {
  return bf16 ? std::bit_cast<float>(uint32_t{base[index]} << 16) : HalfToFloat(base[index]);
}

float LoadOutput(const void* base, int64_t index, DataType type) {
  switch (type) {
    case DataType::kBfloat16: return Bfloat16ToFloat(static_cast<const uint16_t*>(base)[index]);
    case DataType::kFloat16: return HalfToFloat(static_cast<const uint16_t*>(base)[index]);
    default: return static_cast<const float*>(base)[index];
  }
}

void StoreOutput(void* base, int64_t index, DataType type, float value) {
  switch (type) {
    case DataType::kBfloat16: static_cast<uint16_t*>(base)[index] = FloatToBfloat16(value); break;
    case DataType::kFloat16: static_cast<uint16_t*>(base)[index] = FloatToHalf(value); break;
    default: static_cast<float*>(base)[index] = value;
  }
}

// ---- packing --------------------------------------------------------------------------------

// The part of D one work item computes, and the K block being packed: rows [row0, row0 + rows),
// columns [col0, col0 + cols), p in [p0, p0 + depth).
struct Block {
  int64_t row0, rows, col0, cols, p0, depth;
  int64_t RowPanels() const { return (rows + kMr - 1) / kMr; }
  int64_t ColPanels() const { return (cols + kNr - 1) / kNr; }
};

// One operand's slice as the packing sees it: `count` rows of op(A) or columns of op(B) from
// `first`, over p in [p0, p0 + depth), stored with leading dimension `ld`, each row (column)
// contiguous in K or not.
struct OperandSlice {
  const uint16_t* base;
  int64_t ld;
  bool contiguous_in_k;  // stored M x K (A as is) or N x K (B transposed)
  int64_t first, count, p0, depth;
};

// Packs the slice into panels of depth x kWidth (element (index, p) at p * kWidth + index % kWidth
// of its panel), zero past `count`.
template <int kWidth>
void PackPanels(const OperandSlice& o, bool bf16, float* packed) {
  const int64_t panels = (o.count + kWidth - 1) / kWidth;
  for (int64_t i = 0; i < panels; ++i) {
    float* panel = packed + i * o.depth * kWidth;
    for (int w = 0; w < kWidth; ++w) {
      const int64_t index = i * kWidth + w;
      if (index >= o.count) {
        for (int64_t p = 0; p < o.depth; ++p) panel[p * kWidth + w] = 0.0f;
      } else if (o.contiguous_in_k) {
        const int64_t start = (o.first + index) * o.ld + o.p0;
        for (int64_t p = 0; p < o.depth; ++p) panel[p * kWidth + w] = LoadInput(o.base, start + p, bf16);
      } else {
        for (int64_t p = 0; p < o.depth; ++p) {
          panel[p * kWidth + w] = LoadInput(o.base, (o.p0 + p) * o.ld + o.first + index, bf16);
        }
      }
    }
  }
}

// Packs the block's slice of op(A): RowPanels() panels of depth x kMr (zero past M).
void PackA(const GemmArgs& args, const Block& blk, float* packed) {
  PackPanels<kMr>({static_cast<const uint16_t*>(args.a), args.lda, args.op_a == GemmOperand::kAsIs, blk.row0,
                   blk.rows, blk.p0, blk.depth},
                  args.input_type == DataType::kBfloat16, packed);
}

// Packs the block's slice of op(B): ColPanels() panels of depth x kNr (zero past N).
void PackB(const GemmArgs& args, const Block& blk, float* packed) {
  PackPanels<kNr>({static_cast<const uint16_t*>(args.b), args.ldb, args.op_b == GemmOperand::kTransposed,
                   blk.col0, blk.cols, blk.p0, blk.depth},
                  args.input_type == DataType::kBfloat16, packed);
}

// ---- compute --------------------------------------------------------------------------------

// tile[r*kNr + c] += sum over p in order of a[p*kMr + r] * b[p*kNr + c], in fp32.
void MicroKernel(const float* __restrict a, const float* __restrict b, int64_t depth,
                 float* __restrict tile) {
  float acc[kMr][kNr];
  std::memcpy(acc, tile, sizeof(acc));
  for (int64_t p = 0; p < depth; ++p) {
    const float* ap = a + p * kMr;
    const float* bp = b + p * kNr;
    for (int r = 0; r < kMr; ++r) {
      for (int c = 0; c < kNr; ++c) acc[r][c] += ap[r] * bp[c];
    }
  }
  std::memcpy(tile, acc, sizeof(acc));
}

// The epilogue in the order gemm.h documents, for the valid part of one micro-tile of sums
// (tile[r*kNr + c] is D[row0 + r][col0 + c] before the epilogue).
void FinishTile(const GemmArgs& args, int64_t row0, int64_t col0, const float* tile) {
  const DataType out = args.output_type;
  const bool has_bias = args.epilogue != GemmEpilogue::kNone;
  const bool gelu = args.epilogue == GemmEpilogue::kBiasGelu;
  const int rows = static_cast<int>(std::min<int64_t>(kMr, args.m - row0));
  const int cols = static_cast<int>(std::min<int64_t>(kNr, args.n - col0));
  for (int r = 0; r < rows; ++r) {
    const int64_t row = row0 + r;
    for (int c = 0; c < cols; ++c) {
      const int64_t col = col0 + c;
      float t = args.alpha * tile[r * kNr + c];
      if (args.beta != 0.0f) t += args.beta * LoadOutput(args.c, row * args.ldc + col, out);
      if (has_bias) t += LoadOutput(args.bias, col, out);
      if (gelu) {
        if (args.pre_activation != nullptr) StoreOutput(args.pre_activation, row * args.ld_pre + col, out, t);
        t = GeluTanh(t);
      }
      if (args.residual != nullptr) t += LoadOutput(args.residual, row * args.ld_residual + col, out);
      StoreOutput(args.d, row * args.ldd + col, out, t);
    }
  }
}

// One worker's fp32 scratch, sized for the largest tile and K block of the call.
struct Scratch {
  std::vector<float> a, b, sums;  // packed A slice, packed B slice, the tile's sums (tile-major)
  int64_t b_col0 = -1, b_p0 = -1;  // which B slice `b` holds (-1: none yet)
};

// Computes the D tile at (row0, col0) with its epilogue.
void ComputeTile(const GemmArgs& args, int64_t row0, int64_t col0, Scratch& scratch) {
  Block blk{row0, std::min(kMc, args.m - row0), col0, std::min(kNc, args.n - col0), 0, 0};
  const int64_t row_panels = blk.RowPanels(), col_panels = blk.ColPanels();
  constexpr int64_t kTile = kMr * kNr;
  float* sums = scratch.sums.data();  // micro-tile (i, j) at (j * row_panels + i) * kTile
  std::fill_n(sums, row_panels * col_panels * kTile, 0.0f);
  for (blk.p0 = 0; blk.p0 < args.k; blk.p0 += kKc) {
    blk.depth = std::min(kKc, args.k - blk.p0);
    PackA(args, blk, scratch.a.data());
    if (scratch.b_col0 != col0 || scratch.b_p0 != blk.p0) {  // else kept from the previous tile
      PackB(args, blk, scratch.b.data());
      scratch.b_col0 = col0;
      scratch.b_p0 = blk.p0;
    }
    for (int64_t j = 0; j < col_panels; ++j) {  // one B panel (depth x kNr) stays cached across i
      for (int64_t i = 0; i < row_panels; ++i) {
        MicroKernel(scratch.a.data() + i * blk.depth * kMr, scratch.b.data() + j * blk.depth * kNr,
                    blk.depth, sums + (j * row_panels + i) * kTile);
      }
    }
  }
  for (int64_t j = 0; j < col_panels; ++j) {
    for (int64_t i = 0; i < row_panels; ++i) {
      FinishTile(args, row0 + i * kMr, col0 + j * kNr, sums + (j * row_panels + i) * kTile);
    }
  }
}

// Runs fn(item, worker) for item in [0, count) on `workers` workers, handing items out
// dynamically (results do not depend on who computes an item).
template <typename Fn>
void ParallelFor(int workers, int64_t count, const Fn& fn) {
  std::atomic<int64_t> next{0};
  ForEachWorker(workers, [&](int worker) {
    for (int64_t item = next.fetch_add(1); item < count; item = next.fetch_add(1)) fn(item, worker);
  });
}

}  // namespace

Status GemmHost(const GemmArgs& args, int threads) {
  if (Status status = ValidateGemm(args); !status.ok()) return status.WithContext("GemmHost");
  if (Status status = CheckHostThreads("GemmHost", threads); !status.ok()) return status;
  const int64_t row_tiles = (args.m + kMc - 1) / kMc;
  const int64_t col_tiles = (args.n + kNc - 1) / kNc;
  int workers = HostWorkerCount(threads, row_tiles * col_tiles, 1);
  if (double(args.m) * double(args.n) * double(args.k) < double(kMinParallelMacs)) workers = 1;  // (int64 overflows at kGemmMaxDim^3)

  // Scratch sizes in floats, no larger than the matrices need (a matrix-vector product packs
  // 4 rows or 8 columns, not kMc or kNc). Bounded by the block sizes whatever M, N and K, so
  // resize cannot throw std::length_error (it did when the whole of op(B) was packed: N = K =
  // kGemmMaxDim asked for more than vector::max_size and the process ended).
  const int64_t rows = (std::min(kMc, args.m) + kMr - 1) / kMr * kMr;
  const int64_t cols = (std::min(kNc, args.n) + kNr - 1) / kNr * kNr;
  const int64_t depth = std::min(kKc, args.k);
  std::vector<Scratch> scratch;
  try {
    scratch.resize(static_cast<size_t>(workers));
    for (Scratch& s : scratch) {
      s.a.resize(static_cast<size_t>(rows * depth));
      s.b.resize(static_cast<size_t>(depth * cols));
      s.sums.resize(static_cast<size_t>(rows * cols));
    }
  } catch (const std::bad_alloc&) {
    return Status::SystemError("GemmHost: out of memory for the fp32 scratch (" +
                               std::to_string(workers * (rows * depth + depth * cols + rows * cols) * 4) +
                               " bytes)");
  }

  // Column-major over tiles: when K fits in one block, a worker's next tile usually has the same
  // columns and reuses its packed B slice, so op(B) is converted about once per worker.
  ParallelFor(workers, row_tiles * col_tiles, [&](int64_t item, int worker) {
    ComputeTile(args, item % row_tiles * kMc, item / row_tiles * kNc, scratch[static_cast<size_t>(worker)]);
  });
  return Status::Ok();
}

}  // namespace braid::kernels
