// Which output tile a persistent CTA computes next. Tiles are visited in groups of `group_m`
// tile-rows: inside a group, consecutive tile indices walk down the rows first, so the CTAs that
// run at the same time share a few rows of A and a few columns of B in L2 instead of streaming
// all of B once per tile-row (the "grouped" raster of Triton's matmul tutorial).
#pragma once

#include "kernels/common/host_device.h"

namespace braid::kernels {

struct TileCoord {
  int m;  // tile-row index (tiles of block_m rows)
  int n;  // tile-column index
};

// Tile `index` (0 <= index < tiles_m * tiles_n) of a tiles_m x tiles_n grid; group_m >= 1.
// A bijection: every tile is visited exactly once over all indices.
BRAID_HD TileCoord GroupedTile(int index, int tiles_m, int tiles_n, int group_m) {
  const int tiles_per_group = group_m * tiles_n;
  const int group = index / tiles_per_group;
  const int first_m = group * group_m;
  const int rows_here = (tiles_m - first_m < group_m) ? tiles_m - first_m : group_m;
  const int in_group = index - group * tiles_per_group;
  return TileCoord{first_m + in_group % rows_here, in_group / rows_here};
}

BRAID_HD int CeilDiv(int a, int b) { return (a + b - 1) / b; }

}  // namespace braid::kernels
