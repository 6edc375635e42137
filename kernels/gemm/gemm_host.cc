// GemmHost: the CPU reference GEMM (include/braid/kernels/gemm.h).
//
// Layout of the work:
// - op(B) is converted once to fp32 and packed into panels of kNr columns: panel j holds
//   B[p][j*kNr + c] at p*kNr + c for every p < K, zero-padded past N. Shared by all workers.
// - D is cut into blocks of kMc rows, handed out to the workers one at a time. A worker converts
//   its block of op(A) to fp32 panels of kMr rows (A[row][p] at p*kMr + r, zero-padded past M),
//   then for every (column panel, row panel) pair runs the micro-kernel: a kMr x kNr tile of
//   fp32 sums held in registers over the whole K, then the epilogue for that tile.
// - Determinism: every output element is the fp32 sum over p = 0, 1, ..., K-1 in that order,
//   whatever worker computes it, so results do not depend on the thread count. Padded zeros only
//   ever meet padded rows or columns, which are never stored.
// Speed: g++ -O3 turns the micro-kernel into 16 SSE mulps/addps per k step; measured 11-18
// GFLOP/s per core on the 2-core dev machine (512^3 bf16: ~0.02 s, 1024^3: ~0.2 s).
#include <algorithm>
#include <atomic>
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

constexpr int kMr = 4;         // rows of a micro-tile (4 x 8 fp32 sums: 8 SSE registers)
constexpr int kNr = 8;         // columns of a micro-tile
constexpr int64_t kMc = 64;    // rows of D per work item; the A block is kMc x K fp32
constexpr int64_t kPanelChunk = 16;  // B panels packed per work item in the packing phase
// Below this many multiply-adds the call runs on one thread: starting threads costs ~50 us.
constexpr int64_t kMinParallelMacs = int64_t{1} << 21;

// ---- element access -----------------------------------------------------------------------

float LoadInput(const uint16_t* base, int64_t index, bool bf16) {
  return bf16 ? Bfloat16ToFloat(base[index]) : HalfToFloat(base[index]);
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

// Packs B panels [first, last) (see the file comment) into `packed` (whole-array base pointer).
void PackBPanels(const GemmArgs& args, int64_t first, int64_t last, float* packed) {
  const auto* b = static_cast<const uint16_t*>(args.b);
  const bool bf16 = args.input_type == DataType::kBfloat16;
  const int64_t k = args.k;
  for (int64_t j = first; j < last; ++j) {
    float* panel = packed + j * k * kNr;
    for (int c = 0; c < kNr; ++c) {
      const int64_t col = j * kNr + c;
      if (col >= args.n) {
        for (int64_t p = 0; p < k; ++p) panel[p * kNr + c] = 0.0f;
      } else if (args.op_b == GemmOperand::kTransposed) {  // stored N x K: row `col` is contiguous
        for (int64_t p = 0; p < k; ++p) panel[p * kNr + c] = LoadInput(b, col * args.ldb + p, bf16);
      } else {  // stored K x N
        for (int64_t p = 0; p < k; ++p) panel[p * kNr + c] = LoadInput(b, p * args.ldb + col, bf16);
      }
    }
  }
}

// Packs rows [row0, row0 + kMc) of op(A) into kMc / kMr panels of K x kMr (zero past M).
// Row panels of the block of rows from row0: fewer than kMc / kMr in the last block (or when M
// is small, so a matrix-vector product does not pack 64 rows).
int64_t RowPanels(int64_t m, int64_t row0) { return (std::min(kMc, m - row0) + kMr - 1) / kMr; }

void PackABlock(const GemmArgs& args, int64_t row0, float* packed) {
  const auto* a = static_cast<const uint16_t*>(args.a);
  const bool bf16 = args.input_type == DataType::kBfloat16;
  const int64_t k = args.k;
  for (int64_t i = 0; i < RowPanels(args.m, row0); ++i) {
    float* panel = packed + i * k * kMr;
    for (int r = 0; r < kMr; ++r) {
      const int64_t row = row0 + i * kMr + r;
      if (row >= args.m) {
        for (int64_t p = 0; p < k; ++p) panel[p * kMr + r] = 0.0f;
      } else if (args.op_a == GemmOperand::kAsIs) {  // stored M x K: row `row` is contiguous
        for (int64_t p = 0; p < k; ++p) panel[p * kMr + r] = LoadInput(a, row * args.lda + p, bf16);
      } else {  // stored K x M
        for (int64_t p = 0; p < k; ++p) panel[p * kMr + r] = LoadInput(a, p * args.lda + row, bf16);
      }
    }
  }
}

// ---- compute --------------------------------------------------------------------------------

// tile[r][c] = sum over p in order of a[p*kMr + r] * b[p*kNr + c], in fp32.
void MicroKernel(const float* __restrict a, const float* __restrict b, int64_t k,
                 float (&tile)[kMr][kNr]) {
  float acc[kMr][kNr] = {};
  for (int64_t p = 0; p < k; ++p) {
    const float* ap = a + p * kMr;
    const float* bp = b + p * kNr;
    for (int r = 0; r < kMr; ++r) {
      for (int c = 0; c < kNr; ++c) acc[r][c] += ap[r] * bp[c];
    }
  }
  std::memcpy(tile, acc, sizeof(acc));
}

// The epilogue in the order gemm.h documents, for the valid part of one micro-tile.
void FinishTile(const GemmArgs& args, int64_t row0, int64_t col0, const float (&tile)[kMr][kNr]) {
  const DataType out = args.output_type;
  const bool has_bias = args.epilogue != GemmEpilogue::kNone;
  const bool gelu = args.epilogue == GemmEpilogue::kBiasGelu;
  const int rows = static_cast<int>(std::min<int64_t>(kMr, args.m - row0));
  const int cols = static_cast<int>(std::min<int64_t>(kNr, args.n - col0));
  for (int r = 0; r < rows; ++r) {
    const int64_t row = row0 + r;
    for (int c = 0; c < cols; ++c) {
      const int64_t col = col0 + c;
      float t = args.alpha * tile[r][c];
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

// Rows [row0, row0 + kMc) of D, every column; `a_block` is this worker's scratch.
void ComputeRowBlock(const GemmArgs& args, int64_t row0, const float* packed_b, float* a_block) {
  PackABlock(args, row0, a_block);
  const int64_t k = args.k;
  const int64_t row_panels = RowPanels(args.m, row0);
  const int64_t col_panels = (args.n + kNr - 1) / kNr;
  float tile[kMr][kNr];
  for (int64_t j = 0; j < col_panels; ++j) {  // one B panel (K x kNr) stays cached across i
    for (int64_t i = 0; i < row_panels; ++i) {
      MicroKernel(a_block + i * k * kMr, packed_b + j * k * kNr, k, tile);
      FinishTile(args, row0 + i * kMr, j * kNr, tile);
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
  const int64_t row_blocks = (args.m + kMc - 1) / kMc;
  const int64_t col_panels = (args.n + kNr - 1) / kNr;
  const int64_t a_block_rows = RowPanels(args.m, 0) * kMr;
  int workers = HostWorkerCount(threads, row_blocks, 1);
  if (args.m * args.n * args.k < kMinParallelMacs) workers = 1;

  std::vector<float> packed_b;
  std::vector<std::vector<float>> a_blocks;
  try {
    a_blocks.resize(static_cast<size_t>(workers));
    packed_b.resize(static_cast<size_t>(col_panels * kNr * args.k));
    for (auto& block : a_blocks) block.resize(static_cast<size_t>(a_block_rows * args.k));
  } catch (const std::bad_alloc&) {
    return Status::SystemError("GemmHost: out of memory for the fp32 panels (" +
                               std::to_string((col_panels * kNr + workers * a_block_rows) * args.k * 4) + " bytes)");
  }

  const int64_t pack_items = (col_panels + kPanelChunk - 1) / kPanelChunk;
  ParallelFor(workers, pack_items, [&](int64_t item, int) {
    PackBPanels(args, item * kPanelChunk, std::min(col_panels, (item + 1) * kPanelChunk), packed_b.data());
  });
  ParallelFor(workers, row_blocks, [&](int64_t block, int worker) {
    ComputeRowBlock(args, block * kMc, packed_b.data(), a_blocks[static_cast<size_t>(worker)].data());
  });
  return Status::Ok();
}

}  // namespace braid::kernels
