// Collectives of braid's host runtime on a calibrated cluster: plan-sim makes exactly the
// runtime's algorithm and slice choice, and a large ring all-reduce matches the pipeline formula
// of the calibrated CPU model.
#include <gtest/gtest.h>

#include <numeric>

#include "collectives/tuner.h"
#include "sim/cost/collective_cost.h"
#include "sim/cost/collective_sweep.h"
#include "tests/sim/test_support.h"

namespace braid::sim {
namespace {

std::vector<int> FirstRanks(int n) {
  std::vector<int> g(size_t(n), 0);
  std::iota(g.begin(), g.end(), 0);
  return g;
}

TEST(HostCollectiveCost, MakesTheRuntimesChoice) {
  const ClusterSpec c = HostTestCluster(4, 1);
  CollectiveCoster coster(c);
  for (int n : {2, 3, 4}) {
    for (int k = 0; k < coll::kNumCollectives; ++k) {
      for (double bytes : {8.0, 1000.0, 65536.0, 3e6, 64.0 * (1 << 20)}) {
        CollectiveQuery q;
        q.collective = coll::Collective(k);
        q.bytes = bytes;
        q.elem_size = 4;
        q.groups = {FirstRanks(n)};
        // What Comm::Impl::PlanFor asks the tuner for the same call (out of place).
        coll::ScheduleRequest request;
        request.collective = q.collective;
        request.nranks = n;
        request.count = CountPerRank(q.collective, bytes, q.elem_size, n);
        request.elem_size = 4;
        if (request.count == 0) continue;
        const coll::TunerChoice runtime = coll::Choose(request, coll::HostRuntimeLinkModel(), std::nullopt);
        const CollectiveCost cost = coster.Cost(q);
        EXPECT_EQ(cost.algorithm, runtime.algorithm)
            << coll::CollectiveName(q.collective) << " " << bytes << " B x" << n << ": " << runtime.reason;
        EXPECT_EQ(cost.slice_bytes, runtime.slice_bytes)
            << coll::CollectiveName(q.collective) << " " << bytes << " B x" << n;
        EXPECT_EQ(cost.channels, 1);
        EXPECT_GT(cost.seconds, 0);
      }
    }
  }
}

// What the coster predicts for a 2-rank all-reduce of `bytes` (float32), which must be a ring.
double TwoRankRingAllReduceSeconds(const ClusterSpec& c, double bytes) {
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.elem_size = 4;
  q.groups = {FirstRanks(2)};
  q.bytes = bytes;
  const CollectiveCost cost = coster.Cost(q);
  EXPECT_EQ(cost.algorithm, coll::Algorithm::kRing) << bytes << " bytes";
  return cost.seconds;
}

TEST(HostCollectiveCost, TwoRankRingAllReduceFollowsThePipelineFormula) {
  // Two ranks, N bytes: each rank owns a chunk of N/2, cut into M = N / (2S) slices of S bytes.
  // Per slice column each rank sends S (reduce-scatter) and S (all-gather), receives the same,
  // and reduces S bytes. Its core (C = 2 copy_GBps, set to 2 bidir_GBps) copies the 2S it sends
  // and the 2S it receives, and the reduction, which alone takes S / reduce_GBps, occupies S C / reduce_GBps
  // of it. The ports (4.4 GB/s, 2S per column and direction) are not the bottleneck, and the
  // four scratch slots keep both cores busy, so
  //   T = M (4S + S C / R) / C = N / bidir_GBps + N / (2 reduce_GBps)
  // plus the fill (one slice's latency and transfer: microseconds). The replay stays within 2%
  // of it up to 64 MiB; beyond, the ranks drift out of phase and wait on each other's scratch
  // slots now and then (+5% at 256 MiB).
  ClusterSpec c = HostTestCluster(2, 1);
  c.host->copy_GBps = 2.6;
  for (double bytes : {4.0 * (1 << 20), 64.0 * (1 << 20)}) {
    const double formula = bytes / 2.6e9 + bytes / (2 * 9.5e9);
    EXPECT_TRUE(WithinRelative(TwoRankRingAllReduceSeconds(c, bytes), formula, 0.03)) << bytes << " bytes";
  }
}

TEST(HostCollectiveCost, TwoRankRingAllReduceHidesItsReductionsOnACoreWithRoomForThem) {
  // As above on a core of C = 2 copy_GBps = 12.2 GB/s: the duplex ports hold each rank's copies
  // to 2 bidir_GBps = 5.2 GB/s, and the reduction of a slice column (S / reduce_GBps alone) gets
  // the other 7.0 GB/s, S x 12.2 / (9.5 x 7.0) = S / 5.45 GB/s, less than the column's copies
  // (4S / 5.2 GB/s). So T = N / bidir_GBps, plus the fill and the last column's reduction.
  const ClusterSpec c = HostTestCluster(2, 1);
  for (double bytes : {4.0 * (1 << 20), 64.0 * (1 << 20)})
    EXPECT_TRUE(WithinRelative(TwoRankRingAllReduceSeconds(c, bytes), bytes / 2.6e9, 0.03)) << bytes << " bytes";
}

TEST(HostCollectiveCost, AveragingChargesTheFinalDivision) {
  // avg divides each owned chunk once (N/2 bytes per rank at copy speed), on the critical path.
  const ClusterSpec c = HostTestCluster(2, 1);
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.bytes = 64 << 20;
  q.elem_size = 4;
  q.groups = {FirstRanks(2)};
  const double sum = coster.Cost(q).seconds;
  q.average = true;
  const double avg = coster.Cost(q).seconds;
  EXPECT_GT(avg, sum);
  EXPECT_LT(avg, sum + q.bytes / 2 / 6.1e9 * 1.01);
}

TEST(HostCollectiveCost, SpanningNodesNeedsAnInterNodeClass) {
  ClusterSpec c = HostTestCluster(2, 1);
  c.host->inter_node.clear();
  EXPECT_TRUE(ThrowsInputErrorMentioning([&] { SizeForGpus(&c, 4, "--ranks"); },
                                         {"--ranks 4", "inter_node", "shm"}));
  SizeForGpus(&c, 2, "--ranks");  // one node is fine
  EXPECT_EQ(c.nodes, 1);
}

TEST(CollectiveSweep, RowsFollowNcclTestsConventions) {
  ClusterSpec c = HostTestCluster(2, 1);
  CollectiveSweepSpec spec;
  spec.collective = coll::Collective::kAllGather;
  spec.ranks = 2;
  spec.min_bytes = 6;  // rounds down to whole blocks of 4-byte elements per rank: 0 B
  spec.max_bytes = 100;
  spec.factor = 4;
  const std::vector<CollectiveSweepRow> rows = SweepCollective(c, spec);
  ASSERT_EQ(rows.size(), 3u);  // 6, 24, 96
  EXPECT_EQ(rows[0].bytes, 0u);
  EXPECT_EQ(rows[1].count, 3u);
  EXPECT_EQ(rows[1].bytes, 24u);
  EXPECT_EQ(rows[2].bytes, 96u);
  EXPECT_NEAR(rows[2].busbw_GBps, rows[2].algbw_GBps / 2, 1e-12);
  EXPECT_EQ(BusBandwidthFactor(coll::Collective::kAllReduce, 4), 1.5);
  EXPECT_EQ(BusBandwidthFactor(coll::Collective::kBroadcast, 4), 1);
}

}  // namespace
}  // namespace braid::sim
