// Where the Hopper GEMM's epilogue puts each accumulator in shared memory, and who reads it back.
// Host and device, so a CPU test checks the mapping (every element once, no bank conflicts
// beyond the access width) without a GPU.
//
// Why stage at all: storing straight from the wgmma fragments needs one unrolled store site per
// accumulator pair (64 per thread), and every output type x epilogue kind multiplies that code.
// On the H100 (2026-11-24) that kernel paid ~125 us per tile on top of its main loop, most likely
// fetching that code. Staged, the fragments go to shared memory in a short unrolled sequence of
// 8-byte stores, and a rolled loop reads them back in row order and runs the epilogue, so the
// code a tile executes is a few KB whatever the epilogue.
//
// The staging buffer of one consumer warpgroup holds a 64 x 64 fp32 block: its 64 rows by one
// 64-column chunk of the tile (16 KiB; four chunks per 256-wide tile). Rows are 256 bytes, so
// unswizzled every row would start in bank 0; the 8-column (32-byte) groups of row r are
// permuted by XOR with r % 8, which spreads the 8 rows a warp's fragment store touches over all
// 32 banks.
#pragma once

#include "kernels/common/host_device.h"

namespace braid::kernels::sm90a {

inline constexpr int kStagingRows = 64;  // one consumer's rows of the tile
inline constexpr int kStagingCols = 64;  // one chunk of the tile's columns
inline constexpr int kStagingFloats = kStagingRows * kStagingCols;
inline constexpr int kStagingThreads = 128;  // one warpgroup
// Columns each thread reads back per row visit: one 16-byte load.
inline constexpr int kStagingReadWidth = 4;
// Rows the warpgroup reads back per step: 16 threads cover a 64-column row.
inline constexpr int kStagingRowsPerStep = kStagingThreads * kStagingReadWidth / kStagingCols;
inline constexpr int kStagingSteps = kStagingRows / kStagingRowsPerStep;

// fp32 index of (row, col) of the block, 0 <= row < 64, 0 <= col < 64.
BRAID_HD int StagedIndex(int row, int col) {
  const int group = (col / 8) ^ (row % 8);
  return row * kStagingCols + group * 8 + col % 8;
}

// The wgmma fragment (PTX ISA, m64nNk16 D): lane `lane` of warp `warp` holds, for column group
// j, the pairs at (FragmentRow, 8j + FragmentColumn) and (FragmentRow + 8, same columns).
BRAID_HD int FragmentRow(int warp, int lane) { return 16 * warp + lane / 4; }
BRAID_HD int FragmentColumn(int lane) { return 2 * (lane % 4); }

// Read-back: thread `thread` (0..127) of the warpgroup, at step `step` (0..7), reads columns
// ReadColumn .. ReadColumn + 3 of row ReadRow. Consecutive threads read consecutive 16 bytes of a
// row, so the stores that follow are row-contiguous.
BRAID_HD int ReadRow(int thread, int step) { return step * kStagingRowsPerStep + thread / 16; }
BRAID_HD int ReadColumn(int thread) { return (thread % 16) * kStagingReadWidth; }

}  // namespace braid::kernels::sm90a
