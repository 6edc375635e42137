// The host-and-device pieces of the GEMM kernels that need no GPU to check: the grouped tile
// order of the persistent kernels and the packing of wgmma shared-memory descriptors.
#include <gtest/gtest.h>

#include <set>
#include <utility>

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

}  // namespace
}  // namespace braid::kernels
