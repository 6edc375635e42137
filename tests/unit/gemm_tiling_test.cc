// The host-and-device pieces of the GEMM kernels that need no GPU to check: the grouped tile
// order of the persistent kernels, the packing of wgmma shared-memory descriptors, and where the
// Hopper epilogue stages its accumulators.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>
#include <vector>

#include "kernels/gemm/sm90a/epilogue_staging.h"
#include "kernels/gemm/sm90a/smem_descriptor.h"
#include "kernels/gemm/tile_order.h"

namespace braid::kernels {
namespace {

TEST(GroupedTile, VisitsEveryTileExactlyOnce) {
  for (int tiles_m : {1, 2, 7, 8, 9, 33, 64}) {
    for (int tiles_n : {1, 3, 16, 48}) {
      for (int group : {1, 4, 8, 16}) {
        std::set<std::pair<int, int>> seen;
        for (int i = 0; i < tiles_m * tiles_n; ++i) {
          const TileCoord t = GroupedTile(i, tiles_m, tiles_n, group);
          ASSERT_GE(t.m, 0);
          ASSERT_LT(t.m, tiles_m);
          ASSERT_GE(t.n, 0);
          ASSERT_LT(t.n, tiles_n);
          ASSERT_TRUE(seen.insert({t.m, t.n}).second)
              << "tile (" << t.m << "," << t.n << ") twice; grid " << tiles_m << "x" << tiles_n
              << " group " << group;
        }
      }
    }
  }
}

// The point of the order: the tiles that 132 persistent CTAs run at once (consecutive indices)
// touch few tile-rows of A and few tile-columns of B. 8192 x 8192 with 128 x 256 tiles is a
// 64 x 32 grid; row-major order would touch 5 rows but all 32 columns (all of B) per wave.
TEST(GroupedTile, ConcurrentTilesShareRowsAndColumns) {
  const int tiles_m = 64, tiles_n = 32, group = 8, wave = 132;
  for (int start = 0; start + wave <= tiles_m * tiles_n; start += wave) {
    std::set<int> rows, cols;
    for (int i = start; i < start + wave; ++i) {
      const TileCoord t = GroupedTile(i, tiles_m, tiles_n, group);
      rows.insert(t.m);
      cols.insert(t.n);
    }
    EXPECT_LE(rows.size(), 2u * group) << "wave starting at " << start;
    EXPECT_LE(cols.size(), 18u) << "wave starting at " << start;
  }
}

TEST(GroupedTile, CeilDiv) {
  EXPECT_EQ(CeilDiv(1, 128), 1);
  EXPECT_EQ(CeilDiv(128, 128), 1);
  EXPECT_EQ(CeilDiv(129, 128), 2);
  EXPECT_EQ(CeilDiv(4224, 256), 17);
}

// PTX ISA, wgmma matrix descriptor: bits 0-13 address >> 4, 16-29 LBO >> 4, 32-45 SBO >> 4,
// 62-63 swizzle (1 = 128-byte).
TEST(SmemDescriptor, PacksFieldsWhereThePtxIsaSays) {
  const uint64_t d = sm90a::SmemDescriptor(/*address=*/0x2400, /*lbo=*/8192, /*sbo=*/1024);
  EXPECT_EQ(d & 0x3FFF, 0x2400u >> 4);
  EXPECT_EQ((d >> 16) & 0x3FFF, 8192u >> 4);
  EXPECT_EQ((d >> 32) & 0x3FFF, 1024u >> 4);
  EXPECT_EQ((d >> 49) & 0x7, 0u);  // base offset: tiles start on 1024-byte boundaries
  EXPECT_EQ(d >> 62, 1u);          // 128-byte swizzle
  EXPECT_EQ(d & (uint64_t{3} << 14), 0u);
  EXPECT_EQ(d & (uint64_t{3} << 30), 0u);
}

TEST(SmemDescriptor, AddressFieldKeepsEighteenBitsOfSharedMemory) {
  // 227 KiB of shared memory needs 18 address bits; the field drops the low 4 (16-byte units).
  const uint32_t top = 227 * 1024 - 16;
  EXPECT_EQ(sm90a::SmemDescriptor(top, 16, 1024) & 0x3FFF, top >> 4);
  // Advancing a K-major slice by 16 elements (32 bytes) adds 2 to the address field.
  EXPECT_EQ(sm90a::SmemDescriptor(0x400 + 32, 16, 1024) - sm90a::SmemDescriptor(0x400, 16, 1024), 2u);
}

// Shared-memory passes one warp instruction needs: 32 banks of 4-byte words, and a bank serves
// one distinct word per pass. `words` are the fp32 indices the 32 lanes touch.
int SharedMemoryPasses(const std::vector<int>& words) {
  std::map<int, std::set<int>> per_bank;
  for (int w : words) per_bank[w % 32].insert(w);
  size_t passes = 0;
  for (const auto& [bank, distinct] : per_bank) passes = std::max(passes, distinct.size());
  return static_cast<int>(passes);
}

TEST(EpilogueStaging, IndexIsABijectionOntoTheBlock) {
  std::vector<int> hits(sm90a::kStagingFloats, 0);
  for (int row = 0; row < sm90a::kStagingRows; ++row) {
    for (int col = 0; col < sm90a::kStagingCols; ++col) {
      const int i = sm90a::StagedIndex(row, col);
      ASSERT_GE(i, 0);
      ASSERT_LT(i, sm90a::kStagingFloats);
      ++hits[i];
    }
  }
  EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
}

// The fragment stores (kernel's Stage): every (row, column) of the block written once, each
// warp's 8-byte stores in the 2 passes 256 bytes need (unswizzled rows would take 8).
TEST(EpilogueStaging, FragmentStoresCoverTheBlockWithoutBankConflicts) {
  std::vector<int> hits(sm90a::kStagingFloats, 0);
  for (int warp = 0; warp < 4; ++warp) {
    for (int group = 0; group < sm90a::kStagingCols / 8; ++group) {
      for (int half = 0; half < 2; ++half) {
        std::vector<int> words;
        for (int lane = 0; lane < 32; ++lane) {
          const int row = sm90a::FragmentRow(warp, lane) + 8 * half;
          const int col = 8 * group + sm90a::FragmentColumn(lane);
          const int first = sm90a::StagedIndex(row, col);
          ASSERT_EQ(first % 2, 0) << "8-byte store must be 8-byte aligned";
          ASSERT_EQ(sm90a::StagedIndex(row, col + 1), first + 1);
          for (int i : {first, first + 1}) {
            words.push_back(i);
            ++hits[i];
          }
        }
        EXPECT_EQ(SharedMemoryPasses(words), 2) << "warp " << warp << " group " << group;
      }
    }
  }
  EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
}

// The read-back (kernel's StoreStaged): every element read once, as aligned 16-byte vectors of
// four consecutive columns, each warp's loads in the 4 passes 512 bytes need.
TEST(EpilogueStaging, ReadBackCoversTheBlockInRowOrderWithoutBankConflicts) {
  std::vector<int> hits(sm90a::kStagingFloats, 0);
  for (int step = 0; step < sm90a::kStagingSteps; ++step) {
    for (int warp = 0; warp < 4; ++warp) {
      std::vector<int> words;
      for (int lane = 0; lane < 32; ++lane) {
        const int thread = 32 * warp + lane;
        const int row = sm90a::ReadRow(thread, step), col = sm90a::ReadColumn(thread);
        ASSERT_LT(row, sm90a::kStagingRows);
        const int first = sm90a::StagedIndex(row, col);
        ASSERT_EQ(first % 4, 0) << "16-byte load must be 16-byte aligned";
        for (int i = 0; i < sm90a::kStagingReadWidth; ++i) {
          ASSERT_EQ(sm90a::StagedIndex(row, col + i), first + i);
          words.push_back(first + i);
          ++hits[first + i];
        }
      }
      EXPECT_EQ(SharedMemoryPasses(words), 4) << "step " << step << " warp " << warp;
    }
  }
  EXPECT_TRUE(std::all_of(hits.begin(), hits.end(), [](int h) { return h == 1; }));
}

}  // namespace
}  // namespace braid::kernels
