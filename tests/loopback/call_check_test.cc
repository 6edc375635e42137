// BRAID_CHECK_CALLS (CommOptions::check_calls): collective calls that differ across ranks in ways
// the data path cannot see fail on every rank with InvalidArgument naming both calls, and leave
// the communicator usable; calls that agree run as usual.
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "harness.h"

namespace braid::testing {
namespace {

constexpr int kRanks = 3;

CommOptions Checked() {
  CommOptions o;
  o.timeout_s = 30;
  o.check_calls = 1;
  return o;
}

// Every rank runs `call(rank)`; expects InvalidArgument whose message names `culprit` and
// contains `detail`, and then a correct all-reduce on the same communicators.
void ExpectMismatch(const std::function<Status(Comm&, int)>& call, int culprit, const std::string& detail) {
  auto comms = MakeLoopbackComms(kRanks, Checked());
  RunRanks(kRanks, [&](int r) {
    Status s = call(*comms[r], r);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("rank " + std::to_string(culprit) + " made"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find(detail), std::string::npos) << s.ToString();
    // The call had no effect anywhere, so the ranks are still in step.
    float v = float(r + 1);
    Status after = comms[r]->AllReduce(&v, &v, 1, DataType::kFloat32, RedOp{});
    EXPECT_TRUE(after.ok()) << after.ToString();
    EXPECT_EQ(v, 6.0f);
  });
}

TEST(CallCheck, DifferentReductionOpFailsOnEveryRank) {
  ExpectMismatch(
      [](Comm& c, int r) {
        std::vector<float> v(64, 1.f);
        RedOp op{r == 2 ? RedOpKind::kMax : RedOpKind::kSum};
        return c.AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32, op);
      },
      2, "64 x float32 (max)");
}

TEST(CallCheck, SameSizeDifferentDtypeFailsOnEveryRank) {
  ExpectMismatch(
      [](Comm& c, int r) {
        std::vector<int32_t> v(16, 1);
        return c.AllReduce(v.data(), v.data(), v.size(), r == 1 ? DataType::kFloat32 : DataType::kInt32, RedOp{});
      },
      1, "16 x float32");
}

TEST(CallCheck, DifferentRootFailsOnEveryRank) {
  ExpectMismatch(
      [](Comm& c, int r) {
        std::vector<float> v(32, float(r));
        return c.Broadcast(v.data(), v.data(), v.size(), DataType::kFloat32, r == 0 ? 1 : 0);
      },
      0, "from root 1");
}

TEST(CallCheck, DifferentCollectiveOfTheSameSizeFailsOnEveryRank) {
  ExpectMismatch(
      [](Comm& c, int r) {
        std::vector<float> v(8, 1.f);
        if (r == 2) return c.Reduce(v.data(), v.data(), v.size(), DataType::kFloat32, RedOp{}, 0);
        return c.AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32, RedOp{});
      },
      2, "reduce of 8 x float32 (sum) to root 0");
}

// A Barrier is a 1-byte max all-reduce inside, but not the same call as one.
TEST(CallCheck, ABarrierIsNotTheAllReduceItRuns) {
  ExpectMismatch(
      [](Comm& c, int r) {
        if (r == 1) return c.Barrier();
        uint8_t x = 1, y = 0;
        return c.AllReduce(&x, &y, 1, DataType::kUint8, RedOp{RedOpKind::kMax});
      },
      1, "call #0: barrier");
}

// A Split all-gathers 12 bytes per rank (colour, key, proposed id) and then all-reduces one
// int32: a user's all-gather of 3 x int32 on the other ranks took the Split's data as its result
// and returned OK (QA, session 55). Every rank now fails naming the Split.
TEST(CallCheck, ASplitIsNotTheAllGatherItRuns) {
  ExpectMismatch(
      [](Comm& c, int r) {
        if (r == 2) {
          std::unique_ptr<Comm> child;
          return c.Split(0, r, &child);
        }
        std::vector<int32_t> in(3, r), out(3 * kRanks, -1);
        return c.AllGather(in.data(), out.data(), 3, DataType::kInt32);
      },
      2, "call #0: split");
}

// Data movement without reduction compares bytes: 4 x float32 against 16 x uint8 is the same call.
TEST(CallCheck, AgreeingCallsRunIncludingSameBytesOfAnotherType) {
  auto comms = MakeLoopbackComms(kRanks, Checked());
  RunRanks(kRanks, [&](int r) {
    std::vector<uint8_t> in(16, uint8_t(r + 1)), out(16 * kRanks, 0);
    Status s = r == 0 ? comms[r]->AllGather(in.data(), out.data(), 4, DataType::kFloat32)
                      : comms[r]->AllGather(in.data(), out.data(), 16, DataType::kUint8);
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int k = 0; k < kRanks; ++k) EXPECT_EQ(out[size_t(16 * k)], uint8_t(k + 1));
    std::vector<double> v(100);
    std::iota(v.begin(), v.end(), double(r));
    s = comms[r]->AllReduce(v.data(), v.data(), v.size(), DataType::kFloat64, RedOp{RedOpKind::kMax});
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(v[0], double(kRanks - 1));
    EXPECT_TRUE(comms[r]->Barrier().ok());
  });
}

// Inside a group the mismatch is fatal: the group's point-to-point traffic was cancelled midway.
TEST(CallCheck, MismatchInsideAGroupEndsTheCommunicator) {
  auto comms = MakeLoopbackComms(kRanks, Checked());
  RunRanks(kRanks, [&](int r) {
    std::vector<float> v(8, 1.f);
    ASSERT_TRUE(comms[r]->GroupStart().ok());
    Status s = comms[r]->AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32,
                                   RedOp{r == 1 ? RedOpKind::kMin : RedOpKind::kSum});
    EXPECT_TRUE(s.ok()) << s.ToString();  // queued until GroupEnd
    s = comms[r]->GroupEnd();
    EXPECT_EQ(s.code(), StatusCode::kInvalidUsage) << s.ToString();
    EXPECT_NE(s.message().find("(min)"), std::string::npos) << s.ToString();
    EXPECT_FALSE(comms[r]->AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32, RedOp{}).ok());
  });
}

TEST(CallCheck, OptionOutOfRangeIsRefused) {
  CommOptions o;
  o.check_calls = 2;
  CommOptions resolved;
  Status s = Comm::Impl::ResolveOptions(o, &resolved);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("check_calls=2"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace braid::testing
