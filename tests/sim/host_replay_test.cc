// The host-runtime replay against closed forms of its physics (sim/cluster/fabric.h): each rank's
// CPU (capacity C = 2 bidir_GBps) carries its messages and its local work, ports carry a lone
// message at GBps, and a message first waits its fixed cost: MessageSeconds(s) - s / GBps, or,
// with measured exchange points, the exchange time less s / bidir_GBps. Hand-written
// schedules on the contract's example calibration (test_support.h): shm alpha 0.9 us, 4.4 GB/s,
// 2.6 GB/s bidirectional, up to 8 KiB 0.45 us + s / 1.9 GB/s; tcp 12 us, 1.2 GB/s, 0.9 GB/s
// bidirectional; reduce 9.5 GB/s, copy 6.1 GB/s.
#include <gtest/gtest.h>

#include <vector>

#include "sim/cost/schedule_replay.h"
#include "tests/sim/test_support.h"

namespace braid::sim {
namespace {

using coll::BufferId;
using coll::Op;
using coll::OpType;

constexpr double kUs = 1e-6, kGB = 1e9;
constexpr size_t kElem = 4;  // bytes per element in these schedules

coll::Region In(size_t bytes) { return {BufferId::kInput, 0, bytes / kElem}; }
coll::Region Out(size_t bytes) { return {BufferId::kOutput, 0, bytes / kElem}; }

// A send (from the input), receive (into the output) or receive-reduce of `bytes`.
Op Message(OpType type, int peer, uint32_t tag, size_t bytes) {
  Op op;
  op.type = type;
  op.peer = peer;
  op.tag = tag;
  op.src = In(bytes);
  op.dst = Out(bytes);
  op.tmp = {BufferId::kScratch, 0, bytes / kElem};
  return op;
}
Op Send(int peer, uint32_t tag, size_t bytes) { return Message(OpType::kSend, peer, tag, bytes); }
Op Recv(int peer, uint32_t tag, size_t bytes) { return Message(OpType::kRecv, peer, tag, bytes); }
Op RecvReduce(int peer, uint32_t tag, size_t bytes) { return Message(OpType::kRecvReduce, peer, tag, bytes); }

Op Local(OpType type, size_t bytes) {
  Op op;
  op.type = type;
  op.src = In(bytes);
  op.dst = Out(bytes);
  return op;
}

// Rank r of one communicator runs on "GPU" (rank) gpus[r] with ops[r].
double Replay(const ClusterSpec& cluster, const std::vector<int>& gpus, const std::vector<std::vector<Op>>& ops,
              bool finalize_divides = false) {
  std::vector<ReplayRank> ranks;
  for (size_t r = 0; r < gpus.size(); ++r) {
    ReplayRank rank;
    rank.rank = int(r);
    rank.gpu = gpus[r];
    rank.elem_size = int(kElem);
    rank.finalize_divides = finalize_divides;
    rank.schedule.ops = ops[r];
    rank.schedule.scratch_count = 1 << 26;
    ranks.push_back(rank);
  }
  return ReplaySchedules(cluster, ranks).seconds;
}

TEST(HostReplay, LoneLargeMessageTakesAlphaPlusBytesOverBandwidth) {
  const ClusterSpec c = HostTestCluster(2, 2);
  const size_t s = 1 << 20;
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1}, {{Send(1, 0, s)}, {Recv(0, 0, s)}}), 0.9 * kUs + s / (4.4 * kGB), 1e-9));
  // Between nodes: the tcp class (rank 1 of node 0 to rank 0 of node 1).
  EXPECT_TRUE(WithinRelative(Replay(c, {1, 2}, {{Send(1, 0, s)}, {Recv(0, 0, s)}}), 12 * kUs + s / (1.2 * kGB), 1e-9));
}

// Sends and receives pair by (sender, receiver, tag), whatever order each side posts them in.
// Rank 0 copies 1 MiB, then sends it (tag 0); its small send (tag 1) leaves at once. Rank 1
// receives the small message, copies 1 MiB, then receives the large one. Paired by tag, the two
// copies overlap: small + copy + large. Paired in posting order, rank 1's first receive would
// wait for the large send behind rank 0's copy, and its own copy would follow: two copies.
TEST(HostReplay, MessagesPairByTagNotByPostingOrder) {
  const ClusterSpec c = HostTestCluster(2, 1);
  const size_t big = 1 << 20, small = 8;
  std::vector<Op> sender = {Local(OpType::kCopy, big), Send(1, 0, big), Send(1, 1, small)};
  sender[1].num_deps = 1;
  sender[1].deps[0] = 0;
  std::vector<Op> receiver = {Recv(0, 1, small), Local(OpType::kCopy, big), Recv(0, 0, big)};
  receiver[1].num_deps = 1;
  receiver[1].deps[0] = 0;
  receiver[2].num_deps = 1;
  receiver[2].deps[0] = 1;
  const double copy = big / (6.1 * kGB), transfer = 0.9 * kUs + big / (4.4 * kGB);
  const double seconds = Replay(c, {0, 1}, {sender, receiver});
  EXPECT_GT(seconds, copy + transfer);
  EXPECT_LT(seconds, copy + transfer + 10 * kUs) << "a copy did not overlap the other rank's";
}

TEST(HostReplay, AMessageWithoutItsPartnerIsAnError) {
  const ClusterSpec c = HostTestCluster(2, 1);
  try {
    Replay(c, {0, 1}, {{Send(1, 0, 64), Send(1, 7, 64)}, {Recv(0, 0, 64), Recv(0, 8, 64)}});
    FAIL() << "replayed a send and a receive that never pair";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find(": 2 unmatched"), std::string::npos) << e.what();
  }
}

TEST(HostReplay, SmallMessageUsesTheSmallRegime) {
  const ClusterSpec c = HostTestCluster(2, 1);
  for (size_t s : {size_t(8), size_t(4096), size_t(8192)}) {
    EXPECT_TRUE(WithinRelative(Replay(c, {0, 1}, {{Send(1, 0, s)}, {Recv(0, 0, s)}}), 0.45 * kUs + s / (1.9 * kGB), 1e-9))
        << s << " bytes";
  }
  // One byte past the regime: the large one.
  const size_t s = 8192 + kElem;
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1}, {{Send(1, 0, s)}, {Recv(0, 0, s)}}), 0.9 * kUs + s / (4.4 * kGB), 1e-9));
}

TEST(HostReplay, OppositeStreamsEachDrainAtTheBidirectionalRate) {
  const size_t s = 64 << 20;
  // Each rank's CPU copies its send out and its receive in: two flows on a 2 x 2.6 GB/s core.
  const ClusterSpec one_node = HostTestCluster(2, 1);
  const double shm = Replay(one_node, {0, 1}, {{Send(1, 0, s), Recv(1, 0, s)}, {Send(0, 0, s), Recv(0, 0, s)}});
  EXPECT_TRUE(WithinRelative(shm, 0.9 * kUs + s / (2.6 * kGB), 1e-9));
  // Between nodes the per-rank tcp duplex link (2 x 0.9 GB/s) is the bottleneck.
  const ClusterSpec two_nodes = HostTestCluster(1, 2);
  const double tcp = Replay(two_nodes, {0, 1}, {{Send(1, 0, s), Recv(1, 0, s)}, {Send(0, 0, s), Recv(0, 0, s)}});
  EXPECT_TRUE(WithinRelative(tcp, 12 * kUs + s / (0.9 * kGB), 1e-9));
}

TEST(HostReplay, AnExchangeTakesItsMeasuredTime) {
  // The shm class with exchanges measured at 8 B, 64 KiB and 1 MiB: an exchange of a measured
  // size replays in exactly its time, one in between linearly, and beyond the last point the
  // last point's fixed cost plus the bytes at 2.6 GB/s each way.
  ClusterSpec c = HostTestCluster(2, 1);
  c.host->links["shm"].exchange_points = {{8, 0.3}, {64 << 10, 40.0}, {1 << 20, 500.0}};
  const auto exchange = [&](size_t s) {
    return Replay(c, {0, 1}, {{Send(1, 0, s), Recv(1, 0, s)}, {Send(0, 0, s), Recv(0, 0, s)}});
  };
  EXPECT_TRUE(WithinRelative(exchange(8), 0.3 * kUs, 1e-9));
  EXPECT_TRUE(WithinRelative(exchange(64 << 10), 40 * kUs, 1e-9));
  EXPECT_TRUE(WithinRelative(exchange(1 << 20), 500 * kUs, 1e-9));
  const size_t middle = (64 << 10) + ((1 << 20) - (64 << 10)) / 4;
  EXPECT_TRUE(WithinRelative(exchange(middle), (40 + (500 - 40) / 4.0) * kUs, 1e-9));
  const double fixed_at_last = 500 * kUs - (1 << 20) / (2.6 * kGB);
  EXPECT_TRUE(WithinRelative(exchange(4 << 20), fixed_at_last + (4 << 20) / (2.6 * kGB), 1e-9));
  // A lone message has the same fixed cost and drains at the one-way rate.
  const size_t s = 64 << 10;
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1}, {{Send(1, 0, s)}, {Recv(0, 0, s)}}),
                             40 * kUs - s / (2.6 * kGB) + s / (4.4 * kGB), 1e-9));
}

TEST(HostReplay, MeasuredFixedCostsShareTheSendersCore) {
  // Rank 0 sends 8 B to ranks 1 and 2 at once. With exchange points the fixed costs are work of
  // rank 0's core and run one after the other (2 x 0.3 us, the bytes take nanoseconds); the
  // fitted small regime's 0.45 us waits overlap.
  ClusterSpec c = HostTestCluster(3, 1);
  const std::vector<std::vector<Op>> fan_out = {{Send(1, 0, 8), Send(2, 0, 8)}, {Recv(0, 0, 8)}, {Recv(0, 0, 8)}};
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1, 2}, fan_out), 0.45 * kUs + 8 / (1.9 * kGB), 1e-2));
  c.host->links["shm"].exchange_points = {{8, 0.3}, {1 << 20, 500.0}};
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1, 2}, fan_out), 2 * 0.3 * kUs, 1e-2));
}

TEST(HostReplay, BeyondTheSmallestExchangesFixedCostMessagesInFlightWaitTogether) {
  // Rank 0 sends 64 KiB to ranks 1 and 2 at once; an exchange of 64 KiB was measured at 100 us,
  // 74.8 us of it beyond its bytes at 2.6 GB/s. Only the smallest exchange's fixed cost (0.3 us,
  // per-message work) runs on rank 0's core one message after the other; the rest (the trip of
  // an eager message's fragments, the wake-up) is waited for by both messages at once. Then the
  // two copies share rank 0's send port (4.4 GB/s): 2.2 GB/s each.
  ClusterSpec c = HostTestCluster(3, 1);
  c.host->links["shm"].exchange_points = {{8, 0.3}, {64 << 10, 100.0}, {1 << 20, 500.0}};
  const size_t s = 64 << 10;
  const double cpu = 0.3 * kUs - 8 / (2.6 * kGB), fixed = 100 * kUs - s / (2.6 * kGB);
  const std::vector<std::vector<Op>> fan_out = {{Send(1, 0, s), Send(2, 0, s)}, {Recv(0, 0, s)}, {Recv(0, 0, s)}};
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1, 2}, fan_out), fixed + cpu + s / (2.2 * kGB), 1e-2));
  // (All of it on the core, as before: one message after the other, 2 x 74.8 + 14.9 us.)
}

TEST(HostReplay, LocalWorkAloneRunsAtTheCalibratedThroughput) {
  const ClusterSpec c = HostTestCluster(2, 1);
  const size_t s = 4 << 20;
  // Receive, then reduce the received slice into the output: s / GBps + s / reduce_GBps.
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1}, {{Send(1, 0, s)}, {RecvReduce(0, 0, s)}}),
                             0.9 * kUs + s / (4.4 * kGB) + s / (9.5 * kGB), 1e-9));
  EXPECT_TRUE(WithinRelative(Replay(c, {0}, {{Local(OpType::kCopy, s)}}), s / (6.1 * kGB), 1e-9));
  // kFinalize divides only for avg; for other reductions the executor skips it.
  EXPECT_EQ(Replay(c, {0}, {{Local(OpType::kFinalize, s)}}), 0);
  EXPECT_TRUE(WithinRelative(Replay(c, {0}, {{Local(OpType::kFinalize, s)}}, true), s / (6.1 * kGB), 1e-9));
}

TEST(HostReplay, EachReductionPaysItsCalibratedFixedCost) {
  ClusterSpec c = HostTestCluster(2, 1);
  c.host->reduce_step_us = 0.05;
  const size_t s = 4 << 20;
  // A receive-reduce and a local reduce after it: two steps' fixed costs.
  Op reduce = Local(OpType::kReduce, s);
  reduce.num_deps = 1;
  reduce.deps[0] = 0;
  EXPECT_TRUE(WithinRelative(Replay(c, {0, 1}, {{Send(1, 0, s)}, {RecvReduce(0, 0, s), reduce}}),
                             0.9 * kUs + s / (4.4 * kGB) + 2 * (s / (9.5 * kGB) + 0.05 * kUs), 1e-9));
  // A copy pays none.
  EXPECT_TRUE(WithinRelative(Replay(c, {0}, {{Local(OpType::kCopy, s)}}), s / (6.1 * kGB), 1e-9));
}

TEST(HostReplay, AReductionSharesTheCoreWithATransferMaxMinFairly) {
  // Rank 1 receive-reduces X bytes from rank 0 while it sends B bytes to rank 2. A core whose
  // memcpy streams 2.6 GB/s has C = 2 x 2.6 = 5.2 GB/s of user-buffer bytes, as much as the
  // rank's duplex port. After the 0.9 us wait both messages cross them: 2.6 GB/s each (their
  // ports allow 4.4). When X has arrived, the reduction (alone X / 9.5 GB/s) shares the core
  // with the send: C/2 each, so it takes 2 X / 9.5 GB/s, and the send still drains at 2.6 GB/s;
  // then the send is alone and drains at its port's 4.4 GB/s.
  ClusterSpec c = HostTestCluster(3, 1);
  c.host->copy_GBps = 2.6;
  const double X = 4 << 20, B = 64 << 20;
  const double t0 = 0.9 * kUs;
  const double arrived = t0 + X / (2.6 * kGB);
  const double reduced = arrived + 2 * X / (9.5 * kGB);
  const double sent = reduced + (B - 2.6 * kGB * (reduced - t0)) / (4.4 * kGB);
  const double replayed = Replay(c, {0, 1, 2},
                                 {{Send(1, 0, size_t(X))},
                                  {RecvReduce(0, 0, size_t(X)), Send(2, 0, size_t(B))},
                                  {Recv(1, 0, size_t(B))}});
  EXPECT_TRUE(WithinRelative(replayed, sent, 1e-9));
  // A plain receive instead: the send speeds up to 4.4 GB/s as soon as X has arrived, 2 X / 9.5
  // GB/s x (1 - 2.6 / 4.4) earlier.
  const double without = Replay(c, {0, 1, 2},
                                {{Send(1, 0, size_t(X))},
                                 {Recv(0, 0, size_t(X)), Send(2, 0, size_t(B))},
                                 {Recv(1, 0, size_t(B))}});
  EXPECT_TRUE(WithinRelative(without, arrived + (B - X) / (4.4 * kGB), 1e-9));
  EXPECT_TRUE(WithinRelative(replayed - without, 2 * X / (9.5 * kGB) * (1 - 2.6 / 4.4), 1e-6));
}

TEST(HostReplay, AReductionRunsBesideTransfersOnWhatTheCoreHasLeft) {
  // As above, on a core whose memcpy streams 6.1 GB/s: C = 12.2 GB/s of user-buffer bytes. The
  // two messages are held to 2.6 GB/s each by rank 1's duplex port (5.2 GB/s), not by its core;
  // once X has arrived the send drains at its port's 4.4 GB/s and the reduction takes the
  // core's other 7.8 GB/s: X / 9.5 GB/s x 12.2 / 7.8. The send is not slowed at all.
  const ClusterSpec c = HostTestCluster(3, 1);
  const double X = 4 << 20, B = 64 << 20;
  const auto replay = [&c, X, B](bool reduce) {
    const Op receive = reduce ? RecvReduce(0, 0, size_t(X)) : Recv(0, 0, size_t(X));
    return Replay(c, {0, 1, 2}, {{Send(1, 0, size_t(X))}, {receive, Send(2, 0, size_t(B))}, {Recv(1, 0, size_t(B))}});
  };
  const double arrived = 0.9 * kUs + X / (2.6 * kGB);
  EXPECT_TRUE(WithinRelative(replay(false), arrived + (B - X) / (4.4 * kGB), 1e-9));
  EXPECT_TRUE(WithinRelative(replay(true), replay(false), 1e-9));
  // Rank 1's receive-reduce alone, no send beside it: the reduction has the whole core.
  const double reduced_alone = Replay(c, {0, 1}, {{Send(1, 0, size_t(X))}, {RecvReduce(0, 0, size_t(X))}});
  EXPECT_TRUE(WithinRelative(reduced_alone, 0.9 * kUs + X / (4.4 * kGB) + X / (9.5 * kGB), 1e-9));
}

TEST(HostReplay, AMeasuredCoreRateOverridesTheMemcpyRule) {
  // The setting of the test above (memcpy 6.1 GB/s, where the reduction hides beside the send),
  // with core_GBps = 5.2: what AtWorkingSet sets where calibrate's streaming reduce-scatter showed
  // the exchanges filling the core. The reduction now shares the core as when memcpy streamed
  // 2.6 GB/s (AReductionSharesTheCoreWithATransferMaxMinFairly), and slows the send.
  ClusterSpec measured = HostTestCluster(3, 1);
  measured.host->core_GBps = 5.2;
  ClusterSpec memcpy_bound = HostTestCluster(3, 1);
  memcpy_bound.host->copy_GBps = 2.6;
  const double X = 4 << 20, B = 64 << 20;
  const std::vector<std::vector<Op>> ops = {{Send(1, 0, size_t(X))},
                                            {RecvReduce(0, 0, size_t(X)), Send(2, 0, size_t(B))},
                                            {Recv(1, 0, size_t(B))}};
  EXPECT_TRUE(WithinRelative(Replay(measured, {0, 1, 2}, ops), Replay(memcpy_bound, {0, 1, 2}, ops), 1e-9));
  EXPECT_GT(Replay(measured, {0, 1, 2}, ops), Replay(HostTestCluster(3, 1), {0, 1, 2}, ops) * 1.001);
}

}  // namespace
}  // namespace braid::sim
