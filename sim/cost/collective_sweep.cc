#include "sim/cost/collective_sweep.h"

#include <algorithm>
#include <numeric>

#include "sim/cost/collective_cost.h"

namespace braid::sim {

double BusBandwidthFactor(coll::Collective collective, int nranks) {
  const double n = nranks;
  switch (collective) {
    case coll::Collective::kAllReduce: return 2 * (n - 1) / n;
    case coll::Collective::kReduceScatter:
    case coll::Collective::kAllGather:
    case coll::Collective::kAllToAll: return (n - 1) / n;
    default: return 1;
  }
}

std::vector<CollectiveSweepRow> SweepCollective(const ClusterSpec& cluster, const CollectiveSweepSpec& spec) {
  CollectiveCoster coster(cluster);
  CollectiveQuery query;
  query.collective = spec.collective;
  query.elem_size = spec.elem_size;
  query.average = spec.average;
  query.algorithm = spec.algorithm;
  query.groups = {std::vector<int>(size_t(spec.ranks))};
  std::iota(query.groups[0].begin(), query.groups[0].end(), 0);
  const size_t blocks = size_t(BlocksInSize(spec.collective, spec.ranks));

  std::vector<size_t> sizes;
  for (size_t requested = spec.min_bytes; requested <= spec.max_bytes; requested *= spec.factor) {
    sizes.push_back(requested);
    if (requested > spec.max_bytes / spec.factor) break;  // the next size would overflow or pass max
  }
  std::vector<CollectiveSweepRow> rows;
  for (size_t requested : sizes) {
    CollectiveSweepRow row;
    row.count = CountPerRank(spec.collective, double(requested), spec.elem_size, spec.ranks);
    // Sizes that round down to the same call (below one element per rank, or between multiples
    // of the ranks) give one row, as braid-perf measures them, so the rows of both line up.
    if (!rows.empty() && rows.back().count == row.count) continue;
    row.bytes = row.count * blocks * size_t(spec.elem_size);
    query.bytes = double(row.bytes);
    CollectiveCost cost = coster.Cost(query);
    row.seconds = cost.seconds;
    row.algorithm = cost.algorithm;
    row.slice_bytes = cost.slice_bytes;
    if (cost.tuner_reason) row.tuner = *cost.tuner_reason;
    if (row.seconds > 0) {
      row.algbw_GBps = row.bytes / row.seconds / 1e9;
      row.busbw_GBps = row.algbw_GBps * BusBandwidthFactor(spec.collective, spec.ranks);
    }
    rows.push_back(row);
  }
  return rows;
}

}  // namespace braid::sim
