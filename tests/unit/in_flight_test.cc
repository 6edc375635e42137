// InFlight (src/runtime/in_flight.h): the executor's transfers in flight, tested at the front of
// each peer's queue. A poll pass must cost what it tests near the fronts, not the number in
// flight (QA, session 51: every transfer was tested on every pass), and a transfer that
// completes behind the fronts must still be found.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/in_flight.h"

namespace braid::runtime {
namespace {

using State = InFlight::Test;

struct Transfers {
  std::vector<State> state;  // per op
  size_t tests = 0;         // test calls so far
  std::vector<uint32_t> done_seen;

  State operator()(uint32_t op) {
    ++tests;
    if (state[op] == State::kDone) done_seen.push_back(op);
    return state[op];
  }
};

TEST(InFlight, APassTestsTheFrontsNotEverything) {
  constexpr uint32_t kOps = 100000;
  InFlight f;
  f.Reset(3);
  Transfers t;
  t.state.assign(kOps, State::kRunning);
  for (uint32_t op = 0; op < kOps; ++op) f.Add(op, int(op % 3), op % 2 == 0 ? InFlight::Kind::kSend : InFlight::Kind::kRecv);
  uint32_t failed = 0;
  // The ops complete in order, 10 per pass: every one is seen, at a bounded cost per pass.
  size_t passes = 0;
  for (uint32_t next = 0; f.size() > 0; ++passes) {
    for (uint32_t k = 0; k < 10 && next < kOps; ++k) t.state[next++] = State::kDone;
    ASSERT_TRUE(f.Poll(std::ref(t), true, false, &failed));
  }
  EXPECT_EQ(t.done_seen.size(), kOps);
  EXPECT_EQ(passes, kOps / 10);
  // Six queues' windows of 16 running plus the 10 done per pass, and tests of everything paid
  // from credits of 64 + 16 per queue per pass: every op tested on every pass would be ~5e8.
  EXPECT_LT(double(t.tests) / double(passes), (6 * 16 + 10) + (64 + 6 * 16) + 1) << t.tests << " tests in " << passes << " passes";
}

// A transfer that completes behind a window of running ones is found: at once when the
// transport reported progress that the windows did not account for and few are in flight (the
// ring all-reduce's reduce-scatter step behind its early all-gather receives, review of session
// 51), and otherwise by the tests of everything that come round on their own.
TEST(InFlight, ACompletionBehindTheFrontIsFound) {
  InFlight f;
  f.Reset(2);
  Transfers t;
  t.state.assign(1000, State::kRunning);
  for (uint32_t op = 0; op < 40; ++op) f.Add(op, 1, InFlight::Kind::kRecv);  // one queue, 40 in flight
  uint32_t failed = 0;
  t.state[30] = State::kDone;
  ASSERT_TRUE(f.Poll(std::ref(t), true, false, &failed));
  EXPECT_EQ(t.done_seen, std::vector<uint32_t>{30});

  for (uint32_t op = 40; op < 1000; ++op) f.Add(op, 1, InFlight::Kind::kRecv);
  t.state[777] = State::kDone;  // far behind a front that never moves, no progress reported
  int passes = 0;
  while (t.done_seen.size() < 2 && passes < 100) {
    ASSERT_TRUE(f.Poll(std::ref(t), false, false, &failed));
    ++passes;
  }
  EXPECT_EQ(t.done_seen, (std::vector<uint32_t>{30, 777}));
  EXPECT_LE(passes, 32);  // the first test of everything due by the pass count
  EXPECT_EQ(f.size(), 998u);
  // Asked for, a test of everything runs at once.
  t.state[3] = State::kDone;
  t.state[900] = State::kDone;
  ASSERT_TRUE(f.Poll(std::ref(t), false, true, &failed));
  EXPECT_EQ(f.size(), 996u);
}

TEST(InFlight, AFailedTransferStopsThePassAndStaysListed) {
  InFlight f;
  f.Reset(4);
  Transfers t;
  t.state.assign(40, State::kRunning);
  for (uint32_t op = 0; op < 40; ++op) f.Add(op, int(op % 4), InFlight::Kind::kSend);
  t.state[0] = State::kDone;
  t.state[4] = State::kDone;
  t.state[8] = State::kFailed;  // queue of peer 0: 0 done, 4 done, 8 failed, 12, 16, ...
  uint32_t failed = 0;
  EXPECT_FALSE(f.Poll(std::ref(t), true, false, &failed));
  EXPECT_EQ(failed, 8u);
  std::vector<uint32_t> listed;
  f.ForEach([&](uint32_t op) { listed.push_back(op); });
  std::sort(listed.begin(), listed.end());
  std::vector<uint32_t> expected;
  for (uint32_t op = 0; op < 40; ++op)
    if (op != 0 && op != 4) expected.push_back(op);
  EXPECT_EQ(listed, expected);  // what the caller cancels: everything not done, the failed one too
  f.Clear();
  EXPECT_EQ(f.size(), 0u);
}

TEST(InFlight, RemoveLastForgetsAFailedPosting) {
  InFlight f;
  f.Reset(2);
  f.Add(5, 1, InFlight::Kind::kSend);
  f.Add(6, 1, InFlight::Kind::kRecv);
  f.RemoveLast(1, InFlight::Kind::kRecv);
  f.Add(7, 0, InFlight::Kind::kRecvReduce);
  f.RemoveLast(0, InFlight::Kind::kRecvReduce);
  std::vector<uint32_t> listed;
  f.ForEach([&](uint32_t op) { listed.push_back(op); });
  EXPECT_EQ(listed, std::vector<uint32_t>{5});
  EXPECT_EQ(f.size(), 1u);
}

}  // namespace
}  // namespace braid::runtime
