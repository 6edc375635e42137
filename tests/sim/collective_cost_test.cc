// Collective costs from replaying braid's schedules on the fabric, checked against alpha-beta
// closed forms and NCCL's published behaviour on the same hardware class.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <tuple>
#include <vector>

#include "sim/cluster/cluster.h"
#include "sim/cluster/fabric.h"
#include "collectives/tuner.h"
#include "sim/cost/collective_cost.h"
#include "sim/engine/flow_network.h"
#include "sim/engine/simulator.h"

namespace braid::sim {
namespace {

std::vector<int> Range(int first, int count, int stride = 1) {
  std::vector<int> g;
  for (int i = 0; i < count; ++i) g.push_back(first + i * stride);
  return g;
}

double BusBandwidthGBps(double bytes, int n, double seconds) {
  return bytes / seconds * 2.0 * (n - 1) / n / 1e9;  // nccl-tests all-reduce busbw
}

ClusterSpec Sized(const char* preset, int gpus) {
  ClusterSpec c = LoadCluster(preset);
  SizeForGpus(&c, gpus);
  return c;
}

TEST(CollectiveCost, RingAllReduceInsideADgxApproachesTheLinkRate) {
  ClusterSpec c = Sized("dgx-a100", 8);
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.bytes = 1 << 30;
  q.groups = {Range(0, 8)};
  CollectiveCost cost = coster.Cost(q);
  const double link = c.node.intra_GBps * c.node.intra_efficiency;
  const double busbw = BusBandwidthGBps(q.bytes, 8, cost.seconds);
  EXPECT_EQ(cost.algorithm, coll::Algorithm::kRing);
  // Bandwidth-bound: near the link rate (NCCL measures 229 GB/s at 1 GiB on DGX A100). The
  // replay reduces each slice at memory speed after it lands (NCCL fuses it into the copy), so
  // the last slice's reduction per step stays exposed: ~12% at 8 slices per chunk.
  EXPECT_GT(busbw, 0.85 * link);
  EXPECT_LE(busbw, link * 1.001);
}

TEST(CollectiveCost, SmallAllReduceIsLatencyBound) {
  ClusterSpec c = Sized("dgx-a100", 8);
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.bytes = 8;
  q.elem_size = 4;
  q.groups = {Range(0, 8)};
  CollectiveCost cost = coster.Cost(q);
  EXPECT_NE(cost.algorithm, coll::Algorithm::kRing);
  // A few message steps of a few microseconds each.
  EXPECT_GT(cost.seconds, c.node.intra_latency_us * 1e-6);
  EXPECT_LT(cost.seconds, 20 * c.node.intra_latency_us * 1e-6);
}

TEST(CollectiveCost, CrossNodeRingsUseEveryNic) {
  // 4 nodes x 8 GPUs in one DP group: one channel per NIC, so the bottleneck is the node's eight
  // NICs together rather than one.
  ClusterSpec c = Sized("dgx-a100", 32);
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.bytes = 1 << 30;
  q.elem_size = 4;
  q.groups = {Range(0, 32)};
  CollectiveCost cost = coster.Cost(q);
  EXPECT_EQ(cost.channels, 8);
  const double nic = c.nic_GBps() * c.node.nic_efficiency;
  const double busbw = BusBandwidthGBps(q.bytes, 32, cost.seconds);
  EXPECT_GT(busbw, 0.8 * 8 * nic);
  EXPECT_LT(busbw, 8 * nic * 1.01);
}

TEST(CollectiveCost, GroupsSharingNicsSlowEachOtherDown) {
  ClusterSpec c = Sized("pcie-a100", 32);  // two NICs per node
  CollectiveCoster coster(c);
  CollectiveQuery one;
  one.bytes = 256 << 20;
  one.groups = {Range(0, 4, 8)};  // GPU 0 of four nodes
  CollectiveQuery four = one;
  for (int r = 1; r < 4; ++r) four.groups.push_back(Range(r, 4, 8));  // GPUs 1-3, same NIC
  EXPECT_GT(coster.Cost(four).seconds, 3.5 * coster.Cost(one).seconds);
}

TEST(CollectiveCost, ExtrapolatedLargeGroupsAgreeWithExplicitReplays) {
  // 64 nodes, one member per node: explicit at 64 ranks, extrapolated from a subset when more
  // concurrent groups shrink the explicit budget. The tuner's choice (a tree, 1% slower than the
  // ring here) and the ring: its extrapolation was 16% short of its explicit replay (3.19 vs
  // 3.78 ms) while the closed form charged a latency per slice that the replay's back-to-back
  // slices overlap (four per step in the subset, one in the whole group); with latencies
  // overlapping in the closed form, 4.07 ms (session 61).
  ClusterSpec c = Sized("dgx-h100", 512);
  for (std::optional<coll::Algorithm> algorithm : {std::optional<coll::Algorithm>{}, std::optional{coll::Algorithm::kRing}}) {
    CollectiveCoster coster(c);
    CollectiveQuery explicit_q;
    explicit_q.bytes = 64 << 20;
    explicit_q.groups = {Range(0, 64, 8)};
    explicit_q.algorithm = algorithm;
    CollectiveCost full = coster.Cost(explicit_q);
    EXPECT_FALSE(full.extrapolated);
    CollectiveQuery many = explicit_q;
    for (int r = 1; r < 8; ++r) many.groups.push_back(Range(r, 64, 8));
    CollectiveCost scaled = coster.Cost(many);
    EXPECT_TRUE(scaled.extrapolated);
    EXPECT_LT(scaled.ranks_simulated, 8 * 64);
    // Each group has its own NIC, so the eight together take as long as one. The two replays
    // bound their op counts differently (different slice sizes): the extrapolation is an
    // approximation of that order.
    EXPECT_NEAR(scaled.seconds, full.seconds, 0.10 * full.seconds) << coll::AlgorithmName(full.algorithm);
  }
}

// The same for the algorithms whose closed form counts node crossings (a tree's path, recursive
// doubling's rounds across): 32 nodes, two members of each (GPUs r and r + 4, on NICs of their
// own), alone or beside three more such groups, which leave each a subset of 16 nodes to replay.
// Carried by the full group's crossings for both, recursive doubling here came out 9% short
// (0.907 of the explicit replay; now 1.016, the trees 1.013-1.020), and at 1024 GPUs 18-39% off
// a full replay (session 59).
TEST(CollectiveCost, ExtrapolatedTreesAndDoublingAgreeWithExplicitReplays) {
  ClusterSpec c = Sized("dgx-h100", 256);
  const auto group = [](int r) {
    std::vector<int> gpus;
    for (int node = 0; node < 32; ++node) gpus.insert(gpus.end(), {8 * node + r, 8 * node + r + 4});
    return gpus;
  };
  for (auto [algorithm, bytes] : {std::pair{coll::Algorithm::kRecursiveDoubling, 1.0 * (1 << 20)},
                                  std::pair{coll::Algorithm::kTree, 64.0 * 1024}, std::pair{coll::Algorithm::kTree, 8.0}}) {
    CollectiveCoster coster(c);
    CollectiveQuery explicit_q;
    explicit_q.bytes = bytes;
    explicit_q.algorithm = algorithm;
    explicit_q.groups = {group(0)};
    CollectiveCost full = coster.Cost(explicit_q);
    ASSERT_FALSE(full.extrapolated);
    CollectiveQuery many = explicit_q;
    for (int r = 1; r < 4; ++r) many.groups.push_back(group(r));
    CollectiveCost scaled = coster.Cost(many);
    ASSERT_TRUE(scaled.extrapolated);
    EXPECT_NEAR(scaled.seconds, full.seconds, 0.05 * full.seconds) << coll::AlgorithmName(algorithm) << ", " << bytes << " bytes";
  }
}

TEST(CollectiveCost, CachedByPlacementPatternNotPosition) {
  ClusterSpec c = Sized("dgx-a100", 16);
  CollectiveCoster coster(c);
  CollectiveQuery a;
  a.bytes = 32 << 20;
  a.groups = {Range(0, 8)};
  CollectiveQuery b = a;
  b.groups = {Range(8, 8)};  // the same shape on the next node
  const double ta = coster.Cost(a).seconds;
  EXPECT_EQ(coster.Cost(b).seconds, ta);
  EXPECT_EQ(coster.stats().replays, 1u);
  EXPECT_EQ(coster.stats().cache_hits, 1u);
}

TEST(CollectiveCost, ReduceScatterAndAllGatherCostHalfAnAllReduce) {
  ClusterSpec c = Sized("dgx-h100", 8);
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.bytes = 512 << 20;
  q.groups = {Range(0, 8)};
  const double ar = coster.Cost(q).seconds;
  q.collective = coll::Collective::kReduceScatter;
  const double rs = coster.Cost(q).seconds;
  q.collective = coll::Collective::kAllGather;
  const double ag = coster.Cost(q).seconds;
  EXPECT_NEAR(ag, ar / 2, 0.1 * ar);
  // The stand-alone reduce-scatter keeps each forwarded partial in its scratch slot until that
  // send completed, so it has twice the all-reduce's slots to keep as many slices in flight. It
  // replays at 1.56 ms here against 1.36 for the all-gather (the reduction of each step's last
  // slice stays exposed); with the all-reduce's 4 slots it took 1.85 ms.
  EXPECT_GT(rs, ag);
  EXPECT_LT(rs, 1.2 * ag);
}

// One GPU on each of 8 nodes, 64 MiB: the replay of a forced ring or tree agrees with the
// tuner's port-serialised cost of the same schedule (each rank's NIC sends its messages back to
// back). It did not while a pair's in-flight messages shared its bandwidth (tree 1.6x slower:
// every slice of the pipeline arrived late) or while a tree rank received its second child only
// after reducing the first (1.3x at 4 ranks).
TEST(CollectiveCost, ForcedAlgorithmsReplayAtTheirPortSerialisedCost) {
  ClusterSpec c = Sized("dgx-a100", 64);
  coll::LinkModel link;  // what the coster gives the tuner for this group (one NIC per rank)
  link.bandwidth_GBps = c.nic_GBps() * c.node.nic_efficiency;
  link.alpha_us = c.node.nic_latency_us + 3 * c.network.switch_latency_us;
  link.reduce_GBps = c.gpu.hbm_GBps * c.gpu.memory_efficiency / 3;
  link.latency_overlaps = true;
  for (coll::Algorithm algorithm : {coll::Algorithm::kRing, coll::Algorithm::kTree}) {
    CollectiveCoster coster(c);
    CollectiveQuery q;
    q.bytes = 64 << 20;
    q.elem_size = 4;
    q.groups = {Range(0, 8, 8)};
    q.algorithm = algorithm;
    const CollectiveCost cost = coster.Cost(q);
    ASSERT_EQ(cost.algorithm, algorithm);
    coll::ScheduleRequest r;
    r.collective = coll::Collective::kAllReduce;
    r.algorithm = algorithm;
    r.nranks = 8;
    r.count = size_t(q.bytes) / 4;
    r.elem_size = 4;
    r.slice_bytes = cost.slice_bytes;
    const double estimate_us = *coll::EstimateMicroseconds(r, link);
    // 4%: the tree's estimate charges its siblings' bytes in full on both fills (tuner.cc), which
    // the replay's eight columns partly overlap (est. 6.69 ms, replayed 6.54; the ring 5.27 and
    // 5.32). Charging every column its latency (session 60) had put the tree at 7.17 ms.
    EXPECT_NEAR(cost.seconds * 1e6, estimate_us, 0.04 * estimate_us) << coll::AlgorithmName(algorithm);
  }
}

// Two messages of one GPU pair: on one connection the second waits for the first; on two (NCCL's
// channels are separate connections) they share the pair's links and end together.
TEST(CollectiveCost, ConnectionsOfOnePairShareItsLinksEachInOrder) {
  const ClusterSpec c = Sized("dgx-h100", 8);
  const double bytes = 100e6, link_Bps = c.node.intra_GBps * c.node.intra_efficiency * 1e9;
  const double latency_s = c.node.intra_latency_us * 1e-6;
  for (const bool separate : {false, true}) {
    Simulator sim;
    FlowNetwork network(&sim);
    Fabric fabric(c, &network);
    std::vector<double> ends;
    for (int connection : {0, separate ? 1 : 0})
      fabric.StartMessage(0, 1, bytes, [&] { ends.push_back(sim.Now()); }, connection);
    sim.Run();
    ASSERT_EQ(ends.size(), 2u);
    const double first = separate ? 2 * bytes / link_Bps : bytes / link_Bps;
    EXPECT_NEAR(ends[0], latency_s + first, 1e-9) << separate;
    EXPECT_NEAR(ends[1], latency_s + 2 * bytes / link_Bps, 1e-9) << separate;
  }
}

// A chain broadcast's channels each cross one NIC between the two nodes; their hops inside a node
// share the GPUs' ports. With one message queue per GPU pair, channel 0's backlog held the other
// channels' slices back until every hop inside node 0 was done, so the NIC hops ran after them
// (715 us for 128 MiB over 16 H100s, 1.9x the NIC's time; session 61).
TEST(CollectiveCost, ChainBroadcastChannelsCrossTheirNicsWhileTheNodeForwards) {
  const ClusterSpec c = Sized("dgx-h100", 16);
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.collective = coll::Collective::kBroadcast;
  q.bytes = 128 << 20;
  q.algorithm = coll::Algorithm::kChain;
  q.groups = {Range(0, 16)};
  const CollectiveCost cost = coster.Cost(q);
  ASSERT_EQ(cost.channels, 8);
  const double nic_s = q.bytes / cost.channels / (c.nic_GBps() * c.node.nic_efficiency * 1e9);
  EXPECT_GT(cost.seconds, nic_s);
  EXPECT_LT(cost.seconds, 1.4 * nic_s);  // the fill: 15 hops of a 512 KiB slice
}

TEST(CollectiveCost, TransfersBetweenNodesRunAtNicSpeed) {
  ClusterSpec c = Sized("dgx-h100", 16);
  CollectiveCoster coster(c);
  const double bytes = 100e6;
  const double t = coster.Transfers({{0, 8}}, bytes);
  const double nic = c.nic_GBps() * c.node.nic_efficiency * 1e9;
  EXPECT_NEAR(t, bytes / nic, 0.01 * bytes / nic + 20e-6);
  // Eight GPUs to eight GPUs use eight NICs in parallel.
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < 8; ++i) pairs.push_back({i, 8 + i});
  EXPECT_NEAR(coster.Transfers(pairs, bytes), t, 1e-9);
}

// A group too large to replay whole (1024 GPUs over 8 leaves of 16 DGX nodes) is replayed on a
// subset that still spans the leaves: a 64:1 oversubscribed network slows its ring all-reduce
// a little and, far more, its all-to-all, whose every node sends across its leaf's uplink at once (the
// subset used to be the first 16 nodes, one leaf, and ignored the setting). The result must not
// jump between 15 and 16 nodes per leaf either.
TEST(CollectiveCost, OversubscribedUplinksSlowLargeGroupsWhateverTheLeafSize) {
  const auto cost = [](coll::Collective collective, double oversubscription, int nodes_per_leaf,
                       std::optional<coll::Algorithm> algorithm = std::nullopt) {
    ClusterSpec c = Sized("dgx-a100", 1024);
    c.network.oversubscription = oversubscription;
    c.network.nodes_per_leaf = nodes_per_leaf;
    CollectiveCoster coster(c);
    CollectiveQuery q;
    q.collective = collective;
    q.bytes = 64 << 20;
    q.groups = {Range(0, 1024)};
    q.algorithm = algorithm;
    return coster.Cost(q);
  };
  for (coll::Collective collective : {coll::Collective::kAllReduce, coll::Collective::kAllToAll}) {
    const std::optional<coll::Algorithm> algorithm =
        collective == coll::Collective::kAllReduce ? std::optional(coll::Algorithm::kRing) : std::nullopt;
    const double full = cost(collective, 1, 16, algorithm).seconds;
    const double at_16 = cost(collective, 64, 16, algorithm).seconds;
    const double at_15 = cost(collective, 64, 15, algorithm).seconds;
    // The ring crosses a leaf's uplink with one flow per channel each way (1.19x here); every node
    // of an all-to-all sends across it at once.
    EXPECT_GT(at_16, (algorithm ? 1.1 : 2.0) * full) << int(collective);
    EXPECT_NEAR(at_16 / at_15, 1.0, 0.15) << int(collective);
  }
  // The tree is another matter: with 15 nodes per leaf, its 8 channels' edges between leaves meet
  // on the uplinks (replayed whole: 15.1 ms, against 8.9 ms for the ring; with 16 per leaf 5.4
  // ms), which the subset's replay does not show (5.9 ms). The tuner counts those edges on the
  // fabric's links, so it must not choose the tree there.
  EXPECT_NE(cost(coll::Collective::kAllReduce, 64, 15).algorithm, coll::Algorithm::kTree);
  // All-to-all: 7/8 of each GPU's 64 MiB leaves its leaf, 128 GPUs per leaf, through an uplink of
  // 16 nodes x 8 NICs at 25 GB/s x 0.9 / 64: about 0.17 s, which the replay must not undercut.
  const double uplink_Bps = 16 * 8 * 25e9 * 0.9 / 64;
  EXPECT_GT(cost(coll::Collective::kAllToAll, 64, 16).seconds, 0.8 * 128 * (64 << 20) * 7 / 8 / uplink_Bps);
}

// Seconds of one collective of `bytes` over ranks [0, ranks) on dgx-a100 with the given network.
double CollectiveSeconds(coll::Collective collective, int ranks, double bytes, NetworkTopology topology,
                         int nodes_per_leaf, double oversubscription,
                         std::optional<coll::Algorithm> algorithm = std::nullopt) {
  ClusterSpec c = Sized("dgx-a100", std::max(ranks, 8));
  c.network.topology = topology;
  c.network.nodes_per_leaf = nodes_per_leaf;
  c.network.oversubscription = oversubscription;
  CollectiveCoster coster(c);
  CollectiveQuery q;
  q.collective = collective;
  q.bytes = bytes;
  q.algorithm = algorithm;
  q.groups = {Range(0, ranks)};
  return coster.Cost(q).seconds;
}

// A rail group's uplink carries its nodes' NICs of that rail (not of all rails) over the
// oversubscription: any oversubscription above 1 slows an all-to-all that crosses rails (QA,
// session 50: the uplinks were 8x too wide, so 2:1 to 8:1 changed nothing).
TEST(CollectiveCost, RailUplinksNarrowWithAnyOversubscription) {
  const auto a2a = [](double oversubscription) {
    return CollectiveSeconds(coll::Collective::kAllToAll, 64, 256 << 20, NetworkTopology::kRailOptimized, 2, oversubscription);
  };
  const double full = a2a(1), at_2 = a2a(2), at_4 = a2a(4);
  EXPECT_GT(at_2, 1.3 * full);
  EXPECT_GT(at_4, 1.5 * at_2);
}

// More oversubscription never makes a collective faster. A link has one latency, so the switch
// hops of a tier that limits nothing belong to the path, not to the receiving NIC's link, which
// paths inside the leaf share (the first path to create it used to set its latency for all).
TEST(CollectiveCost, MoreOversubscriptionIsNeverFaster) {
  for (double bytes : {16.0 * (1 << 20), 256.0 * (1 << 20)}) {
    const double at_1 = CollectiveSeconds(coll::Collective::kAllReduce, 64, bytes, NetworkTopology::kFatTree, 2, 1);
    const double above_1 = CollectiveSeconds(coll::Collective::kAllReduce, 64, bytes, NetworkTopology::kFatTree, 2, 1.0001);
    EXPECT_GE(above_1, at_1 * (1 - 1e-6)) << bytes;
  }
}

// A group larger than a replay is replayed on a subset and carried to its size: the time grows
// with the message (a 1024-rank ring all-reduce was faster at 128 MiB than at 1 MiB).
TEST(CollectiveCost, ExtrapolatedTimesGrowWithSize) {
  double previous = 0;
  for (double mib : {1.0, 8.0, 64.0}) {
    const double seconds = CollectiveSeconds(coll::Collective::kAllReduce, 1024, mib * (1 << 20), NetworkTopology::kFatTree,
                                             16, 1, coll::Algorithm::kRing);
    EXPECT_GT(seconds, previous) << mib << " MiB";
    previous = seconds;
  }
}

// ... also below one element per rank, where the call is all latency: a 65536-rank tree
// all-reduce of 16-256 KiB (fewer floats than ranks) cost 36-64 us against 220 us at 4 KiB, and
// at 131072 ranks a negative time, while its "latency part", costed at one element per rank,
// was larger than the call (QA, session 56). One coster for every size, as `plan-sim
// collective` sweeps.
TEST(CollectiveCost, ExtrapolatedTimesArePositiveBelowOneElementPerRank) {
  const ClusterSpec cluster = Sized("dgx-a100", 65536);  // the coster keeps a reference
  CollectiveCoster coster(cluster);
  double previous = 0;
  for (double kib : {4.0, 16.0, 64.0, 256.0}) {
    CollectiveQuery q;
    q.collective = coll::Collective::kAllReduce;
    q.bytes = kib * 1024;
    q.elem_size = 4;  // float32, as the command's default
    q.algorithm = coll::Algorithm::kTree;
    q.groups = {Range(0, 65536)};
    const double seconds = coster.Cost(q).seconds;
    EXPECT_GE(seconds, previous) << kib << " KiB";
    previous = seconds;
  }
  EXPECT_GT(previous, 0);
}

// ... and does not jump up and down with the group's size (2 nodes per leaf at 4:1: a tree
// all-reduce of 64 MiB took 2.7 ms at 136 ranks, 4.7 at 144, 3.2 at 160).
TEST(CollectiveCost, ExtrapolatedTimesStayEvenAsTheGroupGrows) {
  std::vector<double> by_ranks;
  for (int ranks : {136, 144, 160, 176, 192}) {
    by_ranks.push_back(CollectiveSeconds(coll::Collective::kAllReduce, ranks, 64 << 20, NetworkTopology::kFatTree, 2, 4,
                                         coll::Algorithm::kTree));
  }
  const auto [low, high] = std::minmax_element(by_ranks.begin(), by_ranks.end());
  EXPECT_LT(*high / *low, 1.1);
}

// Concurrent groups leave each a small share of a replay: a subset of a group spanning two
// leaves still spans both (with 6 groups of 8 nodes over 2 leaves of 4 at 4:1, the subset was one
// node, and an all-to-all cost a quarter of the same with 5 groups; review, session 50).
TEST(CollectiveCost, ASubsetOfAGroupOverTwoLeavesSpansBoth) {
  const auto seconds = [](int groups) {
    ClusterSpec c = Sized("dgx-a100", 64 * groups);
    c.network.nodes_per_leaf = 4;
    c.network.oversubscription = 4;
    CollectiveCoster coster(c);
    CollectiveQuery q;
    q.collective = coll::Collective::kAllToAll;
    q.bytes = 64 << 20;
    for (int g = 0; g < groups; ++g) q.groups.push_back(Range(64 * g, 64));
    return coster.Cost(q).seconds;
  };
  const double five = seconds(5), six = seconds(6);
  EXPECT_NEAR(six / five, 1.0, 0.25) << five << " s with 5 groups, " << six << " s with 6";
}

// The replay cache tells a group inside one leaf from the same group shifted across a leaf
// boundary (nodes 0-1 and 1-2 with 2 nodes per leaf used to share one entry).
TEST(CollectiveCost, CachedReplaysKnowWhereLeavesEnd) {
  ClusterSpec c = Sized("dgx-a100", 64);
  c.network.nodes_per_leaf = 2;
  c.network.oversubscription = 4;
  const auto seconds = [](CollectiveCoster& coster, int first_gpu) {
    CollectiveQuery q;
    q.collective = coll::Collective::kAllToAll;
    q.bytes = 64 << 20;
    q.groups = {Range(first_gpu, 16)};
    return coster.Cost(q).seconds;
  };
  CollectiveCoster shared(c), fresh(c);
  const double inside = seconds(shared, 0), across = seconds(shared, 8);
  EXPECT_GT(across, 1.5 * inside);
  EXPECT_EQ(across, seconds(fresh, 8));
}

// The tuner's choice for a group spanning nodes with all 8 GPUs of each: every rank sends across
// nodes at once in recursive doubling's cross-node rounds, sharing its node's NICs with the
// others and their channels, while its rounds inside a node do not. Its choice replays within
// 10% of the best forced algorithm (it took recursive doubling at 4 MiB on 256 ranks: 0.91 ms,
// against a 0.33 ms tree, QA; then, sharing in every round, a tree 1.4x slower than recursive
// doubling at 256 KiB on 16-64 ranks, review; session 50). Large ones: a tree's cross-node edges
// from several channels meet on one NIC, and a ring's latency hides behind its slowest link's
// transfers, neither of which the tuner saw: it took a tree 1.6-2.2x slower than the ring at
// 32-256 MiB on 24-256 ranks (QA, session 54).
TEST(CollectiveCost, TheTunersChoiceForAFullNodeGroupIsNearTheBestAlgorithm) {
  for (auto [ranks, bytes] : {std::pair{16, 256.0 * 1024}, std::pair{64, 256.0 * 1024}, std::pair{256, 64.0 * 1024},
                              std::pair{256, 1.0 * (1 << 20)}, std::pair{256, 4.0 * (1 << 20)},
                              std::pair{32, 32.0 * (1 << 20)}, std::pair{64, 256.0 * (1 << 20)},
                              std::pair{128, 256.0 * (1 << 20)}}) {
    const auto seconds = [&](std::optional<coll::Algorithm> algorithm) {
      return CollectiveSeconds(coll::Collective::kAllReduce, ranks, bytes, NetworkTopology::kFatTree, 16, 1, algorithm);
    };
    // A ring's 2(n-1) steps make it the slowest at small sizes on 256 ranks (2.2 ms).
    double best = ranks <= 128 ? seconds(coll::Algorithm::kRing) : 1e30;
    for (coll::Algorithm a : {coll::Algorithm::kTree, coll::Algorithm::kRecursiveDoubling}) best = std::min(best, seconds(a));
    EXPECT_LE(seconds(std::nullopt), 1.1 * best) << ranks << " ranks, " << bytes << " bytes";
  }
}

// The same inside a PCIe box: a round of recursive doubling across its two switches sends from
// every GPU of a switch through one uplink at once (8 A100 PCIe, 1 MiB: estimated 147 us, the
// tuner's pick, replayed in 271 us against the ring's 158; QA, session 56). And over two boxes:
// a tree's fill crosses between them twice on one path, which a mean hop hid (16 GPUs, 2 MiB:
// the tree, 425 us, over the ring's 289; session 59).
TEST(CollectiveCost, TheTunersChoiceInAPcieBoxIsNearTheBestAlgorithm) {
  const ClusterSpec box = LoadCluster("pcie-a100");  // the coster keeps a reference
  for (auto [ranks, bytes] : {std::pair{8, 1 << 20}, std::pair{16, 2 << 20}}) {
    const auto seconds = [&](std::optional<coll::Algorithm> algorithm) {
      CollectiveCoster coster(box);
      CollectiveQuery q;
      q.collective = coll::Collective::kAllReduce;
      q.bytes = bytes;
      q.elem_size = 4;
      q.algorithm = algorithm;
      q.groups = {Range(0, ranks)};
      return coster.Cost(q).seconds;
    };
    double best = 1e30;
    for (coll::Algorithm a : {coll::Algorithm::kRing, coll::Algorithm::kTree, coll::Algorithm::kRecursiveDoubling})
      best = std::min(best, seconds(a));
    EXPECT_LE(seconds(std::nullopt), 1.1 * best) << ranks << " ranks, " << bytes << " bytes";
  }
}

// A chain's columns after the first cost the NIC's bytes alone once latencies overlap: charged a
// latency each, the chain's estimate for 128 MiB over 64 H100s on 8 nodes was 1.63x its replay
// and a tree 1.22x slower was chosen (session 61).
TEST(CollectiveCost, TheTunersReduceOverH100NodesIsNearTheBestAlgorithm) {
  const ClusterSpec c = Sized("dgx-h100", 64);
  const auto seconds = [&](std::optional<coll::Algorithm> algorithm) {
    CollectiveCoster coster(c);
    CollectiveQuery q;
    q.collective = coll::Collective::kReduce;
    q.bytes = 128 << 20;
    q.algorithm = algorithm;
    q.groups = {Range(0, 64)};
    return coster.Cost(q).seconds;
  };
  const double best = std::min(seconds(coll::Algorithm::kTree), seconds(coll::Algorithm::kChain));
  EXPECT_LE(seconds(std::nullopt), 1.05 * best);
}

// A rooted tree's rank sends a column to (or receives it from) both children at once, so the
// fill takes as many messages per level as the rank has children; and across nodes its column
// is bounded by the busiest NIC's messages, not by costing every message at the NIC's rate.
// Each case below chose the slower algorithm before (1.2-1.9x; sweep in docs/PERFORMANCE.md,
// session 55; the 32-rank ones, whose tree paths cross nodes twice, in session 59).
TEST(CollectiveCost, TheTunersBroadcastAndReduceAreNearTheBestAlgorithm) {
  for (auto [collective, ranks, bytes] :
       {std::tuple{coll::Collective::kBroadcast, 4, 4.0 * (1 << 20)},
        std::tuple{coll::Collective::kReduce, 4, 4.0 * (1 << 20)},
        std::tuple{coll::Collective::kBroadcast, 16, 256.0 * (1 << 20)},
        std::tuple{coll::Collective::kBroadcast, 24, 256.0 * (1 << 20)},
        std::tuple{coll::Collective::kBroadcast, 32, 128.0 * (1 << 20)},
        std::tuple{coll::Collective::kReduce, 32, 128.0 * (1 << 20)}}) {
    const auto seconds = [&](std::optional<coll::Algorithm> algorithm) {
      return CollectiveSeconds(collective, ranks, bytes, NetworkTopology::kFatTree, 16, 1, algorithm);
    };
    const double best = std::min(seconds(coll::Algorithm::kTree), seconds(coll::Algorithm::kChain));
    EXPECT_LE(seconds(std::nullopt), 1.1 * best)
        << coll::CollectiveName(collective) << ", " << ranks << " ranks, " << bytes << " bytes";
  }
}

}  // namespace
}  // namespace braid::sim
