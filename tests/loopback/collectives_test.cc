// Every collective x data type x reduction op x in/out-of-place, on 1..16 ranks as threads over
// the loopback transport, compared with a straightforward reference. Outputs are poisoned first,
// so an element the collective forgot to write fails the comparison.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <tuple>
#include <vector>

#include "braid/kernels/reduce.h"
#include "collectives/schedule.h"
#include "harness.h"
#include "reference.h"

namespace braid::testing {
namespace {

using coll::Collective;
using kernels::LoadAsDouble;

constexpr unsigned char kPoison = 0xA7;  // a NaN/odd pattern in every float type

struct Case {
  Collective collective;
  DataType type;
  RedOp op;
  bool in_place;
  size_t count;
  int root;
};

std::string Describe(const Case& c) {
  return fmt::format("{} {} {} {} count={} root={}", coll::CollectiveName(c.collective),
                     DataTypeName(c.type), RedOpName(c.op.kind), c.in_place ? "in-place" : "out-of-place",
                     c.count, c.root);
}

bool Reducing(Collective c) {
  return c == Collective::kAllReduce || c == Collective::kReduceScatter || c == Collective::kReduce;
}

// Runs one case on rank `rank` and checks this rank's result.
void RunCase(Comm& comm, const Case& c) {
  const int n = comm.size(), rank = comm.rank();
  const size_t es = DataTypeSize(c.type), count = c.count;
  size_t in_count = count, out_count = count;
  if (c.collective == Collective::kReduceScatter) in_count = count * n;
  if (c.collective == Collective::kAllGather) out_count = count * n;
  if (c.collective == Collective::kAllToAll) in_count = out_count = count * n;

  // In-place layouts share one buffer sized to the larger side.
  std::vector<unsigned char> in_buf(std::max<size_t>(1, in_count * es));
  std::vector<unsigned char> out_buf(std::max<size_t>(1, out_count * es), kPoison);
  std::vector<unsigned char>& shared = (in_count >= out_count) ? in_buf : out_buf;
  size_t in_offset = 0;  // elements into `shared` where the input starts when in place
  size_t out_offset = 0;
  if (c.in_place) {
    std::fill(shared.begin(), shared.end(), kPoison);
    if (c.collective == Collective::kReduceScatter) out_offset = size_t(rank) * count;
    if (c.collective == Collective::kAllGather) in_offset = size_t(rank) * count;
  }
  std::vector<unsigned char>& input = c.in_place ? shared : in_buf;
  std::vector<unsigned char>& output = c.in_place ? shared : out_buf;

  auto input_value = [&](size_t i) -> double {
    if (Reducing(c.collective)) return InputValue(c.type, c.op.kind, rank, n, i);
    return CopyValue(c.type, rank, i);
  };
  Fill(input, in_offset, in_count, c.type, input_value);

  const void* send = input.data() + in_offset * es;
  void* recv = output.data() + out_offset * es;
  Status s;
  switch (c.collective) {
    case Collective::kAllReduce: s = comm.AllReduce(send, recv, count, c.type, c.op); break;
    case Collective::kReduceScatter: s = comm.ReduceScatter(send, recv, count, c.type, c.op); break;
    case Collective::kAllGather: s = comm.AllGather(send, recv, count, c.type); break;
    case Collective::kBroadcast: s = comm.Broadcast(send, recv, count, c.type, c.root); break;
    case Collective::kReduce: s = comm.Reduce(send, recv, count, c.type, c.op, c.root); break;
    case Collective::kAllToAll: s = comm.AllToAll(send, recv, count, c.type); break;
  }
  ASSERT_TRUE(s.ok()) << Describe(c) << " rank " << rank << ": " << s.ToString();

  auto expect = [&](size_t out_index, double want) {
    double got = LoadAsDouble(recv, out_index, c.type);
    return Matches(c.type, c.op.kind, n, got, want);
  };
  size_t wrong = 0, first_wrong = 0;
  auto check = [&](size_t out_index, double want) {
    if (!expect(out_index, want) && wrong++ == 0) first_wrong = out_index;
  };
  switch (c.collective) {
    case Collective::kAllReduce:
      for (size_t i = 0; i < count; ++i) check(i, ReducedValue(c.type, c.op, n, i));
      break;
    case Collective::kReduceScatter:
      for (size_t i = 0; i < count; ++i) check(i, ReducedValue(c.type, c.op, n, size_t(rank) * count + i));
      break;
    case Collective::kAllGather:
      for (int r = 0; r < n; ++r)
        for (size_t i = 0; i < count; ++i) check(size_t(r) * count + i, CopyValue(c.type, r, i));
      break;
    case Collective::kBroadcast:
      for (size_t i = 0; i < count; ++i) check(i, CopyValue(c.type, c.root, i));
      break;
    case Collective::kReduce:
      if (rank == c.root)
        for (size_t i = 0; i < count; ++i) check(i, ReducedValue(c.type, c.op, n, i));
      break;
    case Collective::kAllToAll:
      for (int r = 0; r < n; ++r)
        for (size_t i = 0; i < count; ++i)
          check(size_t(r) * count + i, CopyValue(c.type, r, size_t(rank) * count + i));
      break;
  }
  EXPECT_EQ(wrong, 0u) << Describe(c) << " rank " << rank << ": " << wrong
                       << " wrong elements, first at " << first_wrong;
}

// The tuner's own choice runs every data type; forced algorithms run a representative subset
// (an integer, each float width class) so the suite stays within CI's budget on 2 cores.
std::vector<Case> CasesFor(int nranks, bool all_types) {
  std::vector<DataType> types;
  for (int t = 0; t < kNumDataTypes; ++t) types.push_back(DataType(t));
  if (!all_types && nranks < 8)
    types = {DataType::kInt32, DataType::kFloat16, DataType::kFloat32, DataType::kBfloat16,
             DataType::kFloat8e5m2};
  if (!all_types && nranks >= 8)
    types = {DataType::kFloat32, DataType::kBfloat16, DataType::kFloat8e5m2};
  std::vector<size_t> counts = {0, 1, 7, size_t(nranks) + 1, 1031};
  std::vector<Case> cases;
  for (int c = 0; c < coll::kNumCollectives; ++c) {
    Collective coll = Collective(c);
    for (DataType type : types) {
      std::vector<RedOp> ops = {RedOp{}};
      if (Reducing(coll))
        ops = {RedOp{RedOpKind::kSum}, RedOp{RedOpKind::kProd}, RedOp{RedOpKind::kMax},
               RedOp{RedOpKind::kMin}, RedOp{RedOpKind::kAvg}, RedOp{RedOpKind::kPreMulSum, 2.0}};
      for (RedOp op : ops)
        for (bool in_place : {false, true}) {
          if (in_place && coll == Collective::kAllToAll) continue;
          for (size_t count : counts) {
            int root = (coll == Collective::kBroadcast || coll == Collective::kReduce)
                           ? int((count + c) % nranks) : 0;
            cases.push_back({coll, type, op, in_place, count, root});
          }
        }
    }
  }
  return cases;
}

class LoopbackCollectives : public ::testing::TestWithParam<std::tuple<int, std::string>> {};

TEST_P(LoopbackCollectives, MatchReference) {
  auto [nranks, algorithm] = GetParam();
  CommOptions options;
  options.timeout_s = 60;
  options.algorithm = algorithm;
  // Tiny slices force multi-slice pipelining even on small counts.
  if (!algorithm.empty()) options.slice_bytes = 256;
  auto comms = MakeLoopbackComms(nranks, options);
  const std::vector<Case> cases = CasesFor(nranks, algorithm.empty());
  RunRanks(nranks, [&](int r) {
    for (const Case& c : cases) {
      RunCase(*comms[r], c);
      if (::testing::Test::HasFatalFailure()) return;
    }
  });
}

// A floating-point average whose sum overflows the type (fp16 gradients under loss scaling)
// still averages to the inputs' value, as NCCL's (which scales each input by 1/nranks first):
// summing first gave Inf, and fp8 e4m3 saturated at 448 before the division (112 for 300).
TEST(LoopbackCollectivesAverage, LargeValuesDoNotOverflowTheSum) {
  constexpr int kRanks = 4;
  struct Large {
    DataType type;
    double value;  // every rank's input; kRanks times it overflows (or saturates) the type
  };
  const Large kCases[] = {{DataType::kFloat16, 30000}, {DataType::kBfloat16, 3e38}, {DataType::kFloat32, 3e38},
                          {DataType::kFloat8e4m3, 288}, {DataType::kFloat8e5m2, 28672}};
  auto comms = MakeLoopbackComms(kRanks, CommOptions{});
  RunRanks(kRanks, [&](int r) {
    for (const Large& c : kCases) {
      for (Collective coll : {Collective::kAllReduce, Collective::kReduceScatter}) {
        const size_t count = 5, in_count = coll == Collective::kAllReduce ? count : count * kRanks;
        std::vector<unsigned char> in(in_count * 8), out(count * 8, kPoison);
        Fill(in, 0, in_count, c.type, [&](size_t) { return c.value; });
        const RedOp avg{RedOpKind::kAvg};
        Status s = coll == Collective::kAllReduce
                       ? comms[r]->AllReduce(in.data(), out.data(), count, c.type, avg)
                       : comms[r]->ReduceScatter(in.data(), out.data(), count, c.type, avg);
        ASSERT_TRUE(s.ok()) << s.ToString();
        const double stored = LoadAsDouble(in.data(), 0, c.type);  // the value as the type holds it
        for (size_t i = 0; i < count; ++i) {
          const double got = LoadAsDouble(out.data(), i, c.type);
          EXPECT_TRUE(Matches(c.type, RedOpKind::kAvg, kRanks, got / stored * 3, 3))  // relative, in the frame of 3
              << DataTypeName(c.type) << " " << coll::CollectiveName(coll) << " avg of " << stored << " on "
              << kRanks << " ranks gave " << got;
        }
      }
    }
  });
}

// Every rank gets the same bits from AllReduce, whatever the algorithm, also where the element
// rule depends on its operands' order: max and min of +0 and -0 (recursive doubling's partners
// combined (own, received) on each side, so the two sides applied the rule in opposite orders;
// QA, session 50). A sum of NaNs is NaN on every rank; which payload it keeps is the hardware's
// choice, by the operand order the compiler emitted, and may differ between ranks under
// recursive doubling (canonicalising NaNs cost 25% of the in-cache sum rate).
TEST(LoopbackCollectivesBits, EveryRankGetsTheSameBitsFromOrderSensitiveElements) {
  const uint64_t kNaN1 = 0x7ff8000000000001ull, kNaN2 = 0x7ff8000000000002ull;
  for (int nranks : {2, 3, 4, 5, 7, 9}) {  // extras (n not a power of two) and three rounds
    for (const char* algorithm : {"ring", "tree", "recdoubling"}) {
      CommOptions options;
      options.timeout_s = 60;
      options.algorithm = algorithm;
      auto comms = MakeLoopbackComms(nranks, options);
      constexpr size_t kCount = 3;
      std::vector<std::vector<uint64_t>> zeros(size_t(nranks), std::vector<uint64_t>(2 * kCount));
      std::vector<std::vector<double>> nans(static_cast<size_t>(nranks), std::vector<double>(kCount));
      RunRanks(nranks, [&](int r) {
        double zero_in[kCount], nan_in[kCount];
        for (size_t i = 0; i < kCount; ++i) {
          zero_in[i] = (r + int(i)) % 2 ? -0.0 : 0.0;
          const uint64_t nan_bits = (r + int(i)) % 2 ? kNaN1 : kNaN2;
          std::memcpy(&nan_in[i], &nan_bits, sizeof nan_bits);
        }
        double* zero_out = reinterpret_cast<double*>(zeros[size_t(r)].data());
        for (int k = 0; k < 2; ++k) {
          const RedOp op{k == 0 ? RedOpKind::kMax : RedOpKind::kMin};
          Status s = comms[r]->AllReduce(zero_in, zero_out + k * kCount, kCount, DataType::kFloat64, op);
          ASSERT_TRUE(s.ok()) << s.ToString();
        }
        Status s = comms[r]->AllReduce(nan_in, nans[size_t(r)].data(), kCount, DataType::kFloat64, RedOp{});
        ASSERT_TRUE(s.ok()) << s.ToString();
      });
      for (int r = 0; r < nranks; ++r) {
        EXPECT_EQ(zeros[size_t(r)], zeros[0]) << algorithm << " on " << nranks << " ranks: rank " << r
                                              << "'s max / min of signed zeros differ from rank 0's";
        for (double x : nans[size_t(r)]) EXPECT_TRUE(std::isnan(x)) << algorithm << " rank " << r;
      }
    }
  }
}

std::string ParamName(const ::testing::TestParamInfo<std::tuple<int, std::string>>& info) {
  std::string algo = std::get<1>(info.param).empty() ? "auto" : std::get<1>(info.param);
  // Appended, not "n" + to_string(...): GCC 12 warns falsely (-Wrestrict) on that form.
  std::string name = "n";
  name += std::to_string(std::get<0>(info.param));
  name += "_";
  name += algo;
  return name;
}

INSTANTIATE_TEST_SUITE_P(Ranks, LoopbackCollectives,
                         ::testing::Combine(::testing::Values(1, 2, 3, 4, 7, 8, 11, 16),
                                            ::testing::Values("", "ring", "tree", "chain",
                                                              "recdoubling")),
                         ParamName);

}  // namespace
}  // namespace braid::testing
