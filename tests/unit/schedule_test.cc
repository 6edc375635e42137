// Schedules of every algorithm, interpreted on real data over a simulated rendezvous network
// (schedule_interpreter.h): matching messages, no deadlock under strict in-order issue or
// randomized windowed issue, no hazards, results equal to a reference (bitwise identical across
// ranks for allreduce), avg finalized exactly once, in place and not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "collectives/schedule.h"
#include "collectives/schedule_builder.h"
#include "tests/unit/schedule_interpreter.h"

namespace braid::coll {
namespace {

using testing::BufferSizes;
using testing::Cell;
using testing::InterpretOptions;
using testing::ReduceKind;

struct Case {
  Collective collective;
  Algorithm algorithm;
  int nranks;
  size_t count;
  int in_place;  // 0: no rank, 1: every rank, 2: even ranks only (ranks decide independently)
  int root;
  size_t slice_bytes;
  ReduceKind op;
  size_t window;
  uint64_t seed;
};

std::string Describe(const Case& c) {
  return std::string(CollectiveName(c.collective)) + "/" + AlgorithmName(c.algorithm) +
         " nranks=" + std::to_string(c.nranks) + " count=" + std::to_string(c.count) +
         " in_place=" + std::to_string(c.in_place) + " root=" + std::to_string(c.root) +
         " slice_bytes=" + std::to_string(c.slice_bytes) + " op=" + testing::ReduceKindName(c.op) +
         " window=" + std::to_string(c.window) + " seed=" + std::to_string(c.seed);
}

double Reduce(ReduceKind op, double a, double b) {
  switch (op) {
    case ReduceKind::kProd: return a * b;
    case ReduceKind::kMax: return std::max(a, b);
    case ReduceKind::kMin: return std::min(a, b);
    default: return a + b;
  }
}

// Expected output of `rank` given every rank's input.
std::vector<double> Expected(const Case& c, int rank, const std::vector<std::vector<double>>& in) {
  const int n = c.nranks;
  const size_t count = c.count;
  auto reduce_at = [&](size_t offset) {
    double v = in[0][offset];
    for (int r = 1; r < n; ++r) v = Reduce(c.op, v, in[size_t(r)][offset]);
    return c.op == ReduceKind::kAvg ? v / n : v;
  };
  std::vector<double> out;
  switch (c.collective) {
    case Collective::kAllReduce:
      for (size_t i = 0; i < count; ++i) out.push_back(reduce_at(i));
      break;
    case Collective::kReduceScatter:
      for (size_t i = 0; i < count; ++i) out.push_back(reduce_at(size_t(rank) * count + i));
      break;
    case Collective::kAllGather:
      for (int r = 0; r < n; ++r)
        for (size_t i = 0; i < count; ++i) out.push_back(in[size_t(r)][i]);
      break;
    case Collective::kBroadcast: out = in[size_t(c.root)]; break;
    case Collective::kReduce:
      if (rank == c.root)
        for (size_t i = 0; i < count; ++i) out.push_back(reduce_at(i));
      break;
    case Collective::kAllToAll:
      for (int r = 0; r < n; ++r)
        for (size_t i = 0; i < count; ++i) out.push_back(in[size_t(r)][size_t(rank) * count + i]);
      break;
  }
  return out;
}

ScheduleRequest RequestFor(const Case& c, int rank) {
  ScheduleRequest q;
  q.collective = c.collective;
  q.algorithm = c.algorithm;
  q.nranks = c.nranks;
  q.rank = rank;
  q.root = c.root;
  q.count = c.count;
  q.elem_size = 4;
  q.slice_bytes = c.slice_bytes;
  // As the runtime decides it: broadcast/reduce are in place only at the root. Each rank
  // decides for itself, so a schedule's messages must not depend on in_place.
  q.in_place = c.in_place == 1 || (c.in_place == 2 && rank % 2 == 0);
  if (IsRooted(c.collective)) q.in_place = q.in_place && rank == c.root;
  return q;
}

// Builds, interprets and checks one case; returns "" or what went wrong.
std::string RunCase(const Case& c) {
  const int n = c.nranks;
  std::vector<RankSchedule> schedules(static_cast<size_t>(n));
  for (int r = 0; r < n; ++r) {
    std::string error;
    if (!BuildSchedule(RequestFor(c, r), &schedules[size_t(r)], &error))
      return "build failed on rank " + std::to_string(r) + ": " + error;
  }
  std::mt19937_64 rng(c.seed * 7919 + c.count);
  std::uniform_real_distribution<double> value(0.5, 1.5);
  std::vector<std::vector<double>> inputs(static_cast<size_t>(n));
  std::vector<testing::RankMemory> memory;
  for (int r = 0; r < n; ++r) {
    BufferSizes sz = testing::UserBufferSizes(c.collective, n, r, c.root, c.count);
    inputs[size_t(r)].resize(sz.input);
    for (double& v : inputs[size_t(r)]) v = value(rng);
    memory.push_back(testing::MakeRankMemory(c.collective, n, r, c.root, c.count,
                                             RequestFor(c, r).in_place, inputs[size_t(r)],
                                             schedules[size_t(r)].scratch_count));
  }
  InterpretOptions options;
  options.window = c.window;
  options.seed = c.seed;
  options.op = c.op;
  testing::InterpretResult result = testing::Interpret(schedules, &memory, options);
  if (!result.ok) return result.error;

  const bool reducing = IsReduction(c.collective);
  const int want_finalized = reducing && n > 1 ? 1 : 0;
  std::vector<Cell> first_output;
  for (int r = 0; r < n; ++r) {
    std::vector<Cell> got = memory[size_t(r)].Output();
    std::vector<double> want = Expected(c, r, inputs);
    if (got.size() != want.size()) return "output size mismatch on rank " + std::to_string(r);
    for (size_t i = 0; i < got.size(); ++i) {
      auto at = [&] { return "rank " + std::to_string(r) + " output[" + std::to_string(i) + "]"; };
      if (!got[i].defined) return at() + " never written";
      if (got[i].finalized != want_finalized)
        return at() + " finalized " + std::to_string(got[i].finalized) + " times, want " +
               std::to_string(want_finalized);
      double tolerance = reducing ? 1e-12 * std::max(1.0, std::fabs(want[i])) : 0.0;
      if (std::fabs(got[i].value - want[i]) > tolerance)
        return at() + " = " + std::to_string(got[i].value) + ", want " + std::to_string(want[i]);
    }
    if (c.collective == Collective::kAllReduce) {
      if (r == 0) first_output = got;
      for (size_t i = 0; i < got.size(); ++i)
        if (std::memcmp(&got[i].value, &first_output[i].value, sizeof(double)) != 0)
          return "allreduce not bitwise identical: rank " + std::to_string(r) + " element " +
                 std::to_string(i);
    }
  }
  return "";
}

// The grid: nranks x counts x in_place x roots; slice size, reduction op, issue mode and seed
// rotate across cases so that every combination sees pipelining (2- and 16-element slices),
// strict in-order issue and randomized windowed issue.
void Sweep(Collective collective, Algorithm algorithm) {
  const int kRanks[] = {1, 2, 3, 4, 5, 7, 8, 11, 16};
  const ReduceKind kOps[] = {ReduceKind::kSum, ReduceKind::kAvg, ReduceKind::kMax,
                             ReduceKind::kProd, ReduceKind::kMin};
  uint64_t index = 0;
  int failures = 0;
  for (int n : kRanks) {
    std::set<size_t> counts = {0, 1, 2, 3, 7, size_t(n - 1), size_t(n + 1), 97, 1000, 4099};
    std::set<int> roots = {0};
    if (IsRooted(collective)) roots = {0, n / 2, n - 1};
    for (size_t count : counts) {
      for (int in_place : {0, 1, 2}) {
        if (in_place && collective == Collective::kAllToAll) continue;
        if (in_place == 2 && (count > 97 || IsRooted(collective) || n < 3)) continue;
        for (int root : roots) {
          ++index;
          Case c{collective, algorithm, n, count, in_place, root,
                 index % 2 ? size_t(8) : size_t(64), kOps[index % 5],
                 size_t(1), index};
          // Large counts with tiny slices make many ops: use 16-element slices there.
          if (count > 1000) c.slice_bytes = 64;
          for (size_t window : {size_t(1), size_t(64)}) {
            c.window = window;
            std::string error = RunCase(c);
            if (!error.empty()) {
              ADD_FAILURE() << Describe(c) << ": " << error;
              if (++failures >= 5) return;
            }
          }
        }
      }
    }
  }
}

TEST(ScheduleSweep, AllReduceRing) { Sweep(Collective::kAllReduce, Algorithm::kRing); }
TEST(ScheduleSweep, AllReduceTree) { Sweep(Collective::kAllReduce, Algorithm::kTree); }
TEST(ScheduleSweep, AllReduceRecursiveDoubling) {
  Sweep(Collective::kAllReduce, Algorithm::kRecursiveDoubling);
}
TEST(ScheduleSweep, ReduceScatterRing) { Sweep(Collective::kReduceScatter, Algorithm::kRing); }
TEST(ScheduleSweep, AllGatherRing) { Sweep(Collective::kAllGather, Algorithm::kRing); }
TEST(ScheduleSweep, BroadcastTree) { Sweep(Collective::kBroadcast, Algorithm::kTree); }
TEST(ScheduleSweep, BroadcastChain) { Sweep(Collective::kBroadcast, Algorithm::kChain); }
TEST(ScheduleSweep, ReduceTree) { Sweep(Collective::kReduce, Algorithm::kTree); }
TEST(ScheduleSweep, ReduceChain) { Sweep(Collective::kReduce, Algorithm::kChain); }
TEST(ScheduleSweep, AllToAllPairwise) { Sweep(Collective::kAllToAll, Algorithm::kPairwise); }

TEST(Schedule, Names) {
  EXPECT_STREQ(CollectiveName(Collective::kAllReduce), "allreduce");
  EXPECT_STREQ(CollectiveName(Collective::kReduceScatter), "reducescatter");
  EXPECT_STREQ(CollectiveName(Collective::kAllGather), "allgather");
  EXPECT_STREQ(CollectiveName(Collective::kBroadcast), "broadcast");
  EXPECT_STREQ(CollectiveName(Collective::kReduce), "reduce");
  EXPECT_STREQ(CollectiveName(Collective::kAllToAll), "alltoall");
  EXPECT_STREQ(AlgorithmName(Algorithm::kRing), "ring");
  EXPECT_STREQ(AlgorithmName(Algorithm::kTree), "tree");
  EXPECT_STREQ(AlgorithmName(Algorithm::kChain), "chain");
  EXPECT_STREQ(AlgorithmName(Algorithm::kRecursiveDoubling), "recdoubling");
  EXPECT_STREQ(AlgorithmName(Algorithm::kPairwise), "pairwise");
}

TEST(Schedule, Supports) {
  EXPECT_TRUE(Supports(Algorithm::kRing, Collective::kAllReduce));
  EXPECT_TRUE(Supports(Algorithm::kRing, Collective::kReduceScatter));
  EXPECT_TRUE(Supports(Algorithm::kRing, Collective::kAllGather));
  EXPECT_FALSE(Supports(Algorithm::kRing, Collective::kBroadcast));
  EXPECT_TRUE(Supports(Algorithm::kTree, Collective::kAllReduce));
  EXPECT_TRUE(Supports(Algorithm::kTree, Collective::kBroadcast));
  EXPECT_TRUE(Supports(Algorithm::kTree, Collective::kReduce));
  EXPECT_FALSE(Supports(Algorithm::kTree, Collective::kAllToAll));
  EXPECT_TRUE(Supports(Algorithm::kChain, Collective::kBroadcast));
  EXPECT_TRUE(Supports(Algorithm::kChain, Collective::kReduce));
  EXPECT_FALSE(Supports(Algorithm::kChain, Collective::kAllReduce));
  EXPECT_TRUE(Supports(Algorithm::kRecursiveDoubling, Collective::kAllReduce));
  EXPECT_FALSE(Supports(Algorithm::kRecursiveDoubling, Collective::kReduce));
  EXPECT_TRUE(Supports(Algorithm::kPairwise, Collective::kAllToAll));
  EXPECT_FALSE(Supports(Algorithm::kPairwise, Collective::kAllReduce));
  // Every collective has at least one algorithm.
  for (int c = 0; c < kNumCollectives; ++c) {
    bool any = false;
    for (int a = 0; a < kNumAlgorithms; ++a) any = any || Supports(Algorithm(a), Collective(c));
    EXPECT_TRUE(any) << CollectiveName(Collective(c));
  }
}

std::string BuildError(ScheduleRequest q) {
  RankSchedule s;
  s.ops.resize(3);  // must be cleared on failure
  std::string error;
  bool ok = BuildSchedule(q, &s, &error);
  if (ok) return "(built)";
  if (!s.ops.empty()) return "(ops left behind)";
  return error;
}

TEST(Schedule, InvalidRequestsNameTheField) {
  ScheduleRequest q;
  q.collective = Collective::kBroadcast;
  q.algorithm = Algorithm::kTree;
  q.nranks = 4;
  q.count = 10;
  ScheduleRequest bad = q;
  bad.root = 5;
  EXPECT_EQ(BuildError(bad), "root 5 out of range [0, 4)");
  bad = q;
  bad.root = -1;
  EXPECT_EQ(BuildError(bad), "root -1 out of range [0, 4)");
  bad = q;
  bad.rank = 4;
  EXPECT_EQ(BuildError(bad), "rank 4 out of range [0, 4)");
  bad = q;
  bad.nranks = 0;
  bad.rank = 0;
  EXPECT_EQ(BuildError(bad), "nranks 0 must be >= 1");
  bad = q;
  bad.elem_size = 0;
  EXPECT_EQ(BuildError(bad), "elem_size 0 must be > 0");
  bad = q;
  bad.algorithm = Algorithm::kPairwise;
  EXPECT_EQ(BuildError(bad), "algorithm pairwise does not support broadcast");
  bad = q;
  bad.collective = Collective(9);
  EXPECT_EQ(BuildError(bad), "collective 9 out of range [0, 6)");
  bad = q;
  bad.algorithm = Algorithm(7);
  EXPECT_EQ(BuildError(bad), "algorithm 7 out of range [0, 5)");
  bad = q;
  bad.collective = Collective::kAllToAll;
  bad.algorithm = Algorithm::kPairwise;
  bad.in_place = true;
  EXPECT_NE(BuildError(bad).find("in_place"), std::string::npos);
  bad = q;
  bad.collective = Collective::kAllGather;
  bad.algorithm = Algorithm::kRing;
  bad.count = SIZE_MAX / 2;
  EXPECT_NE(BuildError(bad).find("overflows"), std::string::npos);
  // root is not checked for unrooted collectives.
  ScheduleRequest fine = q;
  fine.collective = Collective::kAllReduce;
  fine.algorithm = Algorithm::kRing;
  fine.root = -3;
  EXPECT_EQ(BuildError(fine), "(built)");
}

TEST(Schedule, DoubleTreeIsComplementary) {
  for (int n = 1; n <= 70; ++n) {
    for (int t = 0; t < 2; ++t) {
      int roots = 0, edges = 0, max_depth = 0;
      for (int r = 0; r < n; ++r) {
        internal::TreeLinks l = internal::DoubleTreeLinks(n, r, t);
        roots += l.parent < 0;
        for (int c = 0; c < l.num_children; ++c) {
          ++edges;
          EXPECT_EQ(internal::DoubleTreeLinks(n, l.children[c], t).parent, r) << n << " " << t;
        }
        int depth = 0;
        for (int x = r; internal::DoubleTreeLinks(n, x, t).parent >= 0 && depth <= n; ++depth)
          x = internal::DoubleTreeLinks(n, x, t).parent;
        max_depth = std::max(max_depth, depth);
      }
      EXPECT_EQ(roots, 1) << "n=" << n << " tree " << t;
      EXPECT_EQ(edges, n - 1) << "n=" << n << " tree " << t;
      EXPECT_EQ(max_depth, internal::DoubleTreeHeight(n, t)) << "n=" << n << " tree " << t;
    }
    for (int r = 0; r < n; ++r) {
      int interior = (internal::DoubleTreeLinks(n, r, 0).num_children > 0) +
                     (internal::DoubleTreeLinks(n, r, 1).num_children > 0);
      EXPECT_LE(interior, 1) << "rank " << r << " of " << n << " is interior in both trees";
    }
  }
}

// A 1 GiB-scale request: 2^28 floats, 16 ranks, 1 MiB slices. Not interpreted; built for every
// rank of every algorithm and checked statically (tags, bounds, matching, op counts, scratch).
TEST(Schedule, GigabyteScaleBuildsQuickly) {
  // Processor time, not wall time: beside a parallel test this thread gets a share of a core.
  const std::clock_t start = std::clock();
  const int n = 16;
  const size_t count = size_t(1) << 28;
  for (int c = 0; c < kNumCollectives; ++c) {
    for (int a = 0; a < kNumAlgorithms; ++a) {
      if (!Supports(Algorithm(a), Collective(c))) continue;
      std::vector<RankSchedule> schedules(n);
      std::vector<BufferSizes> sizes;
      size_t max_ops = 0, max_scratch = 0;
      for (int r = 0; r < n; ++r) {
        ScheduleRequest q;
        q.collective = Collective(c);
        q.algorithm = Algorithm(a);
        q.nranks = n;
        q.rank = r;
        q.root = 3;
        q.count = count;
        q.elem_size = 4;
        q.slice_bytes = 1 << 20;
        std::string error;
        ASSERT_TRUE(BuildSchedule(q, &schedules[size_t(r)], &error)) << error;
        sizes.push_back(testing::UserBufferSizes(q.collective, n, r, q.root, count));
        max_ops = std::max(max_ops, schedules[size_t(r)].ops.size());
        max_scratch = std::max(max_scratch, schedules[size_t(r)].scratch_count);
      }
      std::string what = std::string(CollectiveName(Collective(c))) + "/" + AlgorithmName(Algorithm(a));
      EXPECT_EQ(testing::CheckStatic(schedules, sizes), "") << what;
      // Ops: a few per 1 MiB slice of the largest buffer per step; scratch: a few slices.
      bool blocks = Collective(c) == Collective::kReduceScatter ||
                    Collective(c) == Collective::kAllGather || Collective(c) == Collective::kAllToAll;
      size_t bytes = count * 4 * (blocks ? n : 1);
      EXPECT_LT(max_ops, 16 * (bytes >> 20) + 64) << what;
      EXPECT_LE(max_scratch, size_t(8) << 18) << what;  // 8 slices of 1 MiB in elements
    }
  }
  const double seconds = double(std::clock() - start) / CLOCKS_PER_SEC;
  EXPECT_LT(seconds, 5.0);
}

// Tiny slices on a large buffer would need more than 2^20 tags: the slice grows instead.
TEST(Schedule, SlicesGrowToFitTheTagSpace) {
  // The slice functions, for absurd sizes (closed form, nothing built).
  for (int n : {2, 3, 16, 1000}) {
    for (size_t count : {size_t(1) << 20, size_t(1) << 34, size_t(1) << 40}) {
      ScheduleRequest q;
      q.nranks = n;
      q.count = count;
      q.elem_size = 1;
      q.slice_bytes = 1;
      auto fits = [&](size_t slice, size_t part, size_t tags_per_column) {
        return internal::CeilDiv(part, slice) * tags_per_column <= kMaxTag;
      };
      EXPECT_TRUE(fits(internal::RingSliceElems(q), internal::CeilDiv(count, size_t(n)), 2 * size_t(n - 1)));
      EXPECT_TRUE(fits(internal::TreeAllReduceSliceElems(q), internal::CeilDiv(count, 2), 2));
      EXPECT_TRUE(fits(internal::RootedSliceElems(q), count, 1));
      EXPECT_TRUE(fits(internal::PairwiseSliceElems(q), count, size_t(n - 1)));
      int steps = internal::DoublingShapeFor(n).steps;
      EXPECT_TRUE(fits(internal::RecursiveDoublingSliceElems(q), count, size_t(steps) + 2));
    }
  }
  // One real build near the limit: 2^22 elements in one-element slices over two ranks.
  ScheduleRequest q;
  q.algorithm = Algorithm::kRecursiveDoubling;
  q.nranks = 2;
  q.count = size_t(1) << 22;
  q.elem_size = 4;
  q.slice_bytes = 4;
  RankSchedule s;
  std::string error;
  ASSERT_TRUE(BuildSchedule(q, &s, &error)) << error;
  uint32_t max_tag = 0;
  for (const Op& op : s.ops) max_tag = std::max(max_tag, op.tag);
  EXPECT_LT(max_tag, kMaxTag);
  EXPECT_GT(max_tag, kMaxTag / 2);  // grew only as much as needed
}

// The interpreter itself catches broken schedules.
TEST(ScheduleInterpreter, DetectsDeadlockMismatchAndHazard) {
  auto run = [](std::vector<RankSchedule> s) {
    std::vector<testing::RankMemory> mem;
    for (size_t r = 0; r < s.size(); ++r)
      mem.push_back(testing::MakeRankMemory(Collective::kAllReduce, int(s.size()), int(r), 0, 4,
                                            false, {1, 2, 3, 4}, s[r].scratch_count));
    return testing::Interpret(s, &mem, {});
  };
  Op send;
  send.type = OpType::kSend;
  send.src = {BufferId::kInput, 0, 4};
  Op recv;
  recv.type = OpType::kRecv;
  recv.dst = {BufferId::kOutput, 0, 4};
  // Both receive first and send after (dep on the receive): deadlock.
  std::vector<RankSchedule> s(2);
  for (int r = 0; r < 2; ++r) {
    Op rv = recv, sd = send;
    rv.peer = sd.peer = 1 - r;
    sd.num_deps = 1;
    sd.deps[0] = 0;
    s[size_t(r)].ops = {rv, sd};
  }
  auto result = run(s);
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.error.find("deadlock"), std::string::npos) << result.error;
  // Size mismatch.
  s[0].ops = {send};
  s[0].ops[0].peer = 1;
  s[1].ops = {recv};
  s[1].ops[0].peer = 0;
  s[1].ops[0].dst.count = 3;
  result = run(s);
  EXPECT_NE(result.error.find("size mismatch"), std::string::npos) << result.error;
  // Writing the region a pending send reads.
  s[1].ops[0].dst.count = 4;
  Op copy;
  copy.type = OpType::kCopy;
  copy.src = {BufferId::kOutput, 0, 4};
  copy.dst = {BufferId::kInput, 0, 4};
  s[0].ops = {send, recv, copy};
  s[0].ops[0].peer = 1;
  s[0].ops[1].peer = 1;
  s[1].ops = {recv, send};
  s[1].ops[0].peer = 0;
  s[1].ops[1].peer = 0;
  s[1].ops[1].num_deps = 1;  // rank 1 sends after receiving: rank 0's send may still pend
  bool hazard = false;
  for (uint64_t seed = 1; seed < 40 && !hazard; ++seed) {
    std::vector<testing::RankMemory> mem;
    for (int r = 0; r < 2; ++r)
      mem.push_back(testing::MakeRankMemory(Collective::kAllReduce, 2, r, 0, 4, false,
                                            {1, 2, 3, 4}, 0));
    // rank 0: the copy reads output before it is received -> undefined, or overwrites input
    // while the send is pending -> hazard; either way an error.
    InterpretOptions o;
    o.window = 64;
    o.seed = seed;
    auto res = testing::Interpret(s, &mem, o);
    hazard = !res.ok;
  }
  EXPECT_TRUE(hazard);
}

}  // namespace
}  // namespace braid::coll
