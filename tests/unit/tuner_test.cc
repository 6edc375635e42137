// The tuner's alpha-beta model: sensible choices at the extremes, monotonic estimates, forced
// algorithms, and agreement with the schedules actually built (message counts).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "collectives/schedule.h"
#include "collectives/tuner.h"

namespace braid::coll {
namespace {

ScheduleRequest Request(Collective c, int nranks, size_t bytes) {
  ScheduleRequest q;
  q.collective = c;
  q.nranks = nranks;
  q.rank = 0;
  q.count = bytes / 4;
  q.elem_size = 4;
  return q;
}

TEST(Tuner, SmallAllReducePicksLatencyOptimalAt16Ranks) {
  LinkModel link;
  for (size_t bytes : {size_t(4), size_t(64), size_t(1024), size_t(4096)}) {
    TunerChoice c = Choose(Request(Collective::kAllReduce, 16, bytes), link, std::nullopt);
    EXPECT_TRUE(c.algorithm == Algorithm::kRecursiveDoubling || c.algorithm == Algorithm::kTree)
        << bytes << " bytes: " << c.reason;
    EXPECT_NE(c.algorithm, Algorithm::kRing);
    // The reason lists every candidate's estimate, best first.
    EXPECT_NE(c.reason.find("ring"), std::string::npos) << c.reason;
    EXPECT_NE(c.reason.find("tree"), std::string::npos) << c.reason;
    EXPECT_EQ(c.reason.find(AlgorithmName(c.algorithm)), 0u) << c.reason;
    EXPECT_NE(c.reason.find("us"), std::string::npos) << c.reason;
  }
}

TEST(Tuner, LargeAllReducePicksRingAt8PlusRanks) {
  LinkModel link;
  for (int n : {8, 16, 32, 64}) {
    for (size_t bytes : {size_t(256) << 20, size_t(1) << 30}) {
      TunerChoice c = Choose(Request(Collective::kAllReduce, n, bytes), link, std::nullopt);
      EXPECT_EQ(c.algorithm, Algorithm::kRing) << n << " ranks, " << bytes << " bytes: " << c.reason;
      EXPECT_GE(c.slice_bytes, link.min_slice_bytes);
      EXPECT_LE(c.slice_bytes, link.max_slice_bytes);
      EXPECT_GT(c.estimated_us, 0);
    }
  }
}

// Unlike hops (QA, session 54): a ring step costs the larger of a mean hop and the slowest link's
// transfer alone, so 7 fast hops per slow one no longer pay the slow hop's latency at every step;
// the slice stays the one chosen as if every hop were the slowest; a tree all-reduce whose trees
// meet on one NIC pays that NIC's messages.
TEST(Tuner, UnlikeHopsAndSharedNicsChangeTheEstimates) {
  LinkModel slowest;  // every hop a NIC's: 8 us, 22.5 GB/s
  slowest.alpha_us = 8;
  slowest.bandwidth_GBps = 22.5;
  LinkModel unlike = slowest;  // 7 of 8 hops NVLink (4 us, 231 GB/s)
  unlike.mean_hop_alpha_us = (7 * 4.0 + 8) / 8;
  unlike.mean_hop_us_per_byte = (7 * 1e-3 / 231 + 1e-3 / 22.5) / 8;
  ScheduleRequest ring = Request(Collective::kAllReduce, 64, size_t(16) << 20);
  ring.algorithm = Algorithm::kRing;
  ring.slice_bytes = 256 << 10;
  // 126 steps of one 256 KiB message each (16 MiB / 64 per part); the reductions are the model's
  // own (reduce_GBps 10 by default) and the same in both.
  const double step_slowest = 8 + 262144 / 22.5e3, step_unlike = 262144 / 22.5e3;
  const double reduce = 63 * 262144 / 10e3;
  EXPECT_NEAR(*EstimateMicroseconds(ring, slowest), 126 * step_slowest + reduce, 1.0);
  EXPECT_NEAR(*EstimateMicroseconds(ring, unlike), 126 * step_unlike + reduce, 1.0);
  EXPECT_EQ(Choose(ring, unlike, Algorithm::kRing).slice_bytes, Choose(ring, slowest, Algorithm::kRing).slice_bytes);

  ScheduleRequest tree = ring;
  tree.algorithm = Algorithm::kTree;
  tree.slice_bytes = 1 << 20;
  LinkModel shared = slowest;
  shared.tree_nic_messages = 8;  // twice an interior rank's 4 messages per column
  // 8 columns of 1 MiB per half: 7 more columns pay 8 - 4 more messages each.
  const double alone = *EstimateMicroseconds(tree, slowest), nic = *EstimateMicroseconds(tree, shared);
  EXPECT_NEAR(nic - alone, 4 * 7 * (8 + 1048576 / 22.5e3), 1.0);
}

// On a GPU fabric a message holds its port for its bytes only; its latency is flight time that
// the port's later messages overlap (LinkModel::latency_overlaps). A pipelined schedule then costs
// its ports' work or its first column's way through, whichever is longer; without the overlap
// (braid's host runtime) every message pays both, as before.
TEST(Tuner, OverlappedLatenciesArePaidOncePerPath) {
  LinkModel link;
  link.alpha_us = 10;
  link.bandwidth_GBps = 25;
  LinkModel overlapped = link;
  overlapped.latency_overlaps = true;
  const double t = 1048576 / 25e3;  // us of one 1 MiB message's bytes

  // Chain broadcast over 8 ranks, 16 columns of 1 MiB: the first column's 7 hops, 15 behind it.
  ScheduleRequest chain = Request(Collective::kBroadcast, 8, size_t(16) << 20);
  chain.algorithm = Algorithm::kChain;
  chain.slice_bytes = 1 << 20;
  EXPECT_NEAR(*EstimateMicroseconds(chain, link), (15 + 7) * (10 + t), 1e-6);
  EXPECT_NEAR(*EstimateMicroseconds(chain, overlapped), 7 * (10 + t) + 15 * t, 1e-6);

  // Ring all-gather of 4 MiB blocks (4 columns): the ports' 7 x 4 messages outlast the first
  // column's way round (7 hops, 3 columns behind it)...
  ScheduleRequest gather = Request(Collective::kAllGather, 8, size_t(4) << 20);
  gather.algorithm = Algorithm::kRing;
  gather.slice_bytes = 1 << 20;
  EXPECT_NEAR(*EstimateMicroseconds(gather, link), 28 * (10 + t), 1e-6);
  EXPECT_NEAR(*EstimateMicroseconds(gather, overlapped), 28 * t, 1e-6);
  // ...which a 1 ms latency reverses: then it is the path, paid once per hop.
  link.alpha_us = overlapped.alpha_us = 1000;
  EXPECT_NEAR(*EstimateMicroseconds(gather, link), 28 * (1000 + t), 1e-6);
  EXPECT_NEAR(*EstimateMicroseconds(gather, overlapped), 7 * (1000 + t) + 3 * t, 1e-6);

  // Pairwise all-to-all's rounds wait on nothing but the port: one latency in all.
  ScheduleRequest a2a = Request(Collective::kAllToAll, 8, size_t(2) << 20);
  a2a.algorithm = Algorithm::kPairwise;
  a2a.slice_bytes = 1 << 20;
  EXPECT_NEAR(*EstimateMicroseconds(a2a, link), 14 * (1000 + t), 1e-6);
  EXPECT_NEAR(*EstimateMicroseconds(a2a, overlapped), 1000 + 14 * t, 1e-6);

  // One column has no steady state to hide anything behind: the same either way.
  for (Algorithm a : {Algorithm::kRing, Algorithm::kTree, Algorithm::kRecursiveDoubling}) {
    ScheduleRequest one = Request(Collective::kAllReduce, 8, 4096);
    one.algorithm = a;
    one.slice_bytes = 1 << 20;
    EXPECT_DOUBLE_EQ(*EstimateMicroseconds(one, link), *EstimateMicroseconds(one, overlapped)) << AlgorithmName(a);
  }
}

TEST(Tuner, LargeBroadcastPrefersChainSmallPrefersTree) {
  LinkModel link;
  EXPECT_EQ(Choose(Request(Collective::kBroadcast, 16, 1 << 30), link, std::nullopt).algorithm,
            Algorithm::kChain);
  EXPECT_EQ(Choose(Request(Collective::kBroadcast, 16, 64), link, std::nullopt).algorithm,
            Algorithm::kTree);
}

TEST(Tuner, EstimatesAreMonotonicInSize) {
  LinkModel overlapped;
  overlapped.latency_overlaps = true;
  // Every term plan-sim sets for a group over 4 DGX A100 nodes (8 channels), placed node by node.
  LinkModel fabric = overlapped;
  fabric.alpha_us = 8;
  fabric.bandwidth_GBps = 22.5;
  fabric.mean_hop_alpha_us = 4.5;
  fabric.mean_hop_us_per_byte = (7 * 1e-3 / 231 + 1e-3 / 22.5) / 8;
  fabric.fast_hop_alpha_us = 4;
  fabric.fast_hop_us_per_byte = 1e-3 / 231;
  fabric.fast_hop_sharing = 8;
  fabric.nodes = 4;
  fabric.all_ranks_sharing = 8;
  fabric.tree_nic_messages = 6;
  fabric.rooted_tree_nic_messages = 2;
  fabric.tree_path_slow_hops = fabric.rooted_tree_path_slow_hops = 2;
  fabric.chain_path_slow_hops = 3;
  fabric.chain_nic_messages = 1.5;
  fabric.doubling_crossing_rounds = 2;
  for (const LinkModel& link : {LinkModel{}, overlapped, fabric}) {
    for (int c = 0; c < kNumCollectives; ++c) {
      for (int a = 0; a < kNumAlgorithms; ++a) {
        if (!Supports(Algorithm(a), Collective(c))) continue;
        for (int n : {1, 2, 3, 5, 8, 16, 33}) {
          for (size_t slice : {size_t(4096), size_t(1) << 20}) {
            double last = -1, last_choice = -1;
            for (size_t bytes = 0; bytes <= (size_t(1) << 31); bytes = bytes * 3 + 4) {
              ScheduleRequest q = Request(Collective(c), n, bytes);
              q.algorithm = Algorithm(a);
              q.slice_bytes = slice;
              std::optional<double> us = EstimateMicroseconds(q, link);
              ASSERT_TRUE(us.has_value());
              EXPECT_GE(*us, last) << CollectiveName(Collective(c)) << "/" << AlgorithmName(Algorithm(a))
                                   << " n=" << n << " bytes=" << bytes << " overlapped=" << link.latency_overlaps;
              last = *us;
              double chosen = Choose(q, link, std::nullopt).estimated_us;
              EXPECT_GE(chosen, last_choice) << CollectiveName(Collective(c)) << " n=" << n;
              last_choice = chosen;
            }
          }
        }
      }
    }
  }
}

TEST(Tuner, UnsupportedAlgorithmHasNoEstimate) {
  ScheduleRequest q = Request(Collective::kAllReduce, 8, 1 << 20);
  q.algorithm = Algorithm::kPairwise;
  EXPECT_FALSE(EstimateMicroseconds(q, LinkModel{}).has_value());
  q.algorithm = Algorithm::kChain;
  EXPECT_FALSE(EstimateMicroseconds(q, LinkModel{}).has_value());
}

TEST(Tuner, ImpossibleRingFallsBackToTree) {
  // 2^20 ranks: one ring column needs 2(n-1) > 2^20 tags, so the ring cannot be built.
  ScheduleRequest q = Request(Collective::kAllReduce, 1 << 20, 1 << 30);
  q.algorithm = Algorithm::kRing;
  EXPECT_FALSE(EstimateMicroseconds(q, LinkModel{}).has_value());
  TunerChoice c = Choose(q, LinkModel{}, std::nullopt);
  EXPECT_NE(c.algorithm, Algorithm::kRing) << c.reason;
  RankSchedule s;
  std::string error;
  EXPECT_FALSE(BuildSchedule(q, &s, &error));
  EXPECT_NE(error.find("nranks"), std::string::npos) << error;
}

TEST(Tuner, ForcedAlgorithmIsHonoured) {
  LinkModel link;
  ScheduleRequest q = Request(Collective::kAllReduce, 16, 1 << 30);
  TunerChoice c = Choose(q, link, Algorithm::kTree);
  EXPECT_EQ(c.algorithm, Algorithm::kTree);
  EXPECT_NE(c.reason.find("forced tree"), std::string::npos) << c.reason;
  q.algorithm = Algorithm::kTree;
  q.slice_bytes = c.slice_bytes;
  EXPECT_DOUBLE_EQ(c.estimated_us, *EstimateMicroseconds(q, link));
  // Forced slow choice costs more than the free one.
  EXPECT_GT(c.estimated_us, Choose(q, link, std::nullopt).estimated_us);

  TunerChoice rd = Choose(q, link, Algorithm::kRecursiveDoubling);
  EXPECT_EQ(rd.algorithm, Algorithm::kRecursiveDoubling);
}

TEST(Tuner, UnsupportedForcedAlgorithmFallsBack) {
  LinkModel link;
  ScheduleRequest q = Request(Collective::kAllReduce, 16, 1 << 30);
  TunerChoice c = Choose(q, link, Algorithm::kPairwise);
  EXPECT_TRUE(Supports(c.algorithm, Collective::kAllReduce));
  EXPECT_EQ(c.algorithm, Choose(q, link, std::nullopt).algorithm);
  EXPECT_NE(c.reason.find("pairwise"), std::string::npos) << c.reason;
  EXPECT_NE(c.reason.find("does not support allreduce"), std::string::npos) << c.reason;

  TunerChoice a2a = Choose(Request(Collective::kAllToAll, 8, 1 << 20), link, Algorithm::kRing);
  EXPECT_EQ(a2a.algorithm, Algorithm::kPairwise);
  EXPECT_NE(a2a.reason.find("ring does not support alltoall"), std::string::npos) << a2a.reason;
}

TEST(Tuner, ChoiceIsTheSameOnEveryRankAndRoot) {
  LinkModel link;
  for (Collective c : {Collective::kAllReduce, Collective::kBroadcast, Collective::kReduce}) {
    for (size_t bytes : {size_t(64), size_t(1) << 20, size_t(1) << 28}) {
      ScheduleRequest q = Request(c, 11, bytes);
      TunerChoice first = Choose(q, link, std::nullopt);
      for (int r = 0; r < 11; ++r) {
        q.rank = r;
        q.root = (r * 7) % 11;
        TunerChoice other = Choose(q, link, std::nullopt);
        EXPECT_EQ(other.algorithm, first.algorithm);
        EXPECT_EQ(other.slice_bytes, first.slice_bytes);
        EXPECT_EQ(other.estimated_us, first.estimated_us);
      }
    }
  }
}

// With alpha only (infinite bandwidth), each estimate is alpha x the critical path in messages:
// check it against the busiest rank's message count in the built schedule, single slice.
TEST(Tuner, LatencyTermMatchesTheSchedules) {
  LinkModel link;
  link.alpha_us = 1;
  link.bandwidth_GBps = 1e12;
  link.reduce_GBps = 1e12;
  auto sends_of_busiest = [](ScheduleRequest q) {
    size_t most = 0;
    for (int r = 0; r < q.nranks; ++r) {
      q.rank = r;
      RankSchedule s;
      std::string error;
      EXPECT_TRUE(BuildSchedule(q, &s, &error)) << error;
      size_t sends = 0;
      for (const Op& op : s.ops) sends += op.type == OpType::kSend;
      most = std::max(most, sends);
    }
    return double(most);
  };
  for (int n : {2, 4, 8, 16}) {
    ScheduleRequest q = Request(Collective::kAllReduce, n, size_t(4) * size_t(n) * 8);
    q.slice_bytes = 1 << 20;  // one slice per part
    q.algorithm = Algorithm::kRing;
    EXPECT_NEAR(*EstimateMicroseconds(q, link), sends_of_busiest(q), 1e-6) << n;
    q.algorithm = Algorithm::kRecursiveDoubling;  // power of two: log2(n) rounds
    EXPECT_NEAR(*EstimateMicroseconds(q, link), sends_of_busiest(q), 1e-6) << n;
    q.collective = Collective::kAllToAll;
    q.algorithm = Algorithm::kPairwise;
    EXPECT_NEAR(*EstimateMicroseconds(q, link), sends_of_busiest(q), 1e-6) << n;
  }
}

// A tree broadcast's rank sends one column to all its children at once, so they share its port:
// a single column reaches a rank after the sum of its ancestors' children counts in messages
// (the port-sharing fill, session 55; the height alone undercounted it: 4 ranks of 4 MiB were
// costed 2 messages and replayed 3). Checked on the built schedules: a rank's parent is the peer
// of its receive, and a rank's children are its sends.
TEST(Tuner, TreeBroadcastFillMatchesTheSchedules) {
  LinkModel link;
  link.alpha_us = 1;
  link.bandwidth_GBps = 1e12;
  for (int n : {2, 3, 4, 7, 8, 16, 33}) {
    ScheduleRequest q = Request(Collective::kBroadcast, n, 64);
    q.algorithm = Algorithm::kTree;
    q.slice_bytes = 1 << 20;  // one column
    std::vector<int> parent(size_t(n), -1), children(size_t(n), 0);
    for (int r = 0; r < n; ++r) {
      q.rank = r;
      RankSchedule s;
      std::string error;
      ASSERT_TRUE(BuildSchedule(q, &s, &error)) << error;
      for (const Op& op : s.ops) {
        if (op.type == OpType::kSend) ++children[size_t(r)];
        if (op.type == OpType::kRecv) parent[size_t(r)] = op.peer;
      }
    }
    double fill = 0;
    for (int r = 0; r < n; ++r) {
      double path = 0;
      for (int at = r; parent[size_t(at)] >= 0; at = parent[size_t(at)]) path += children[size_t(parent[size_t(at)])];
      fill = std::max(fill, path);
    }
    EXPECT_NEAR(*EstimateMicroseconds(q, link), fill, 1e-6) << n;
  }
}


// With bandwidth only (no alpha, free reductions), a ring estimate is the bytes its busiest rank
// sends over the bandwidth, also when a part is not a whole number of slices (a 7 MiB part in
// 4 MiB slices sends 7 MiB, not two full slices).
TEST(Tuner, BandwidthTermCountsTheBytesSent) {
  LinkModel link;
  link.alpha_us = 0;
  link.bandwidth_GBps = 1;  // 1 byte per ns: the estimate in us is kilobytes sent
  link.reduce_GBps = 1e12;
  for (int n : {4, 32}) {
    ScheduleRequest q = Request(Collective::kAllReduce, n, size_t(224) << 20);
    q.algorithm = Algorithm::kRing;
    q.slice_bytes = 4 << 20;
    size_t most = 0;
    for (int r = 0; r < n; ++r) {
      q.rank = r;
      RankSchedule s;
      std::string error;
      ASSERT_TRUE(BuildSchedule(q, &s, &error)) << error;
      size_t sent = 0;
      for (const Op& op : s.ops) sent += op.type == OpType::kSend ? op.src.count * q.elem_size : 0;
      most = std::max(most, sent);
    }
    EXPECT_NEAR(*EstimateMicroseconds(q, link), double(most) * 1e-3, 1e-6 * double(most)) << n;
  }
}

// NCCL_ALGO's lists: the model picks among the allowed algorithms; none that fits falls back.
TEST(Tuner, ChoosesAmongTheAllowedAlgorithms) {
  LinkModel link;
  ScheduleRequest q = Request(Collective::kAllReduce, 8, 1 << 20);
  const AlgorithmMask tree_or_ring = MaskOf(Algorithm::kTree) | MaskOf(Algorithm::kRing);
  TunerChoice c = Choose(q, link, tree_or_ring);
  EXPECT_TRUE(c.algorithm == Algorithm::kTree || c.algorithm == Algorithm::kRing) << c.reason;
  EXPECT_EQ(c.estimated_us, std::min(Choose(q, link, Algorithm::kTree).estimated_us,
                                     Choose(q, link, Algorithm::kRing).estimated_us));
  EXPECT_NE(c.reason.find("allowed ring,tree, chose "), std::string::npos) << c.reason;
  TunerChoice none = Choose(q, link, MaskOf(Algorithm::kPairwise));
  EXPECT_EQ(none.algorithm, Choose(q, link, std::nullopt).algorithm);
  EXPECT_NE(none.reason.find("forced pairwise does not support allreduce"), std::string::npos) << none.reason;
}

}  // namespace
}  // namespace braid::coll
