// Communicator behaviour beyond collective results: send/recv with groups, split, barrier,
// argument validation, abort and a dead peer.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <chrono>
#include <limits>
#include <numeric>
#include <thread>

#include "harness.h"

namespace braid::testing {
namespace {

using Clock = std::chrono::steady_clock;

CommOptions Quick(double timeout_s = 30) {
  CommOptions o;
  o.timeout_s = timeout_s;
  return o;
}

TEST(LoopbackComm, GroupedSendRecvRingNeverDeadlocks) {
  for (int n : {1, 2, 3, 5, 8}) {
    auto comms = MakeLoopbackComms(n, Quick());
    RunRanks(n, [&](int r) {
      Comm& c = *comms[r];
      // Large enough for rendezvous semantics: every rank sends before anyone receives.
      std::vector<float> out(100000, float(r)), in(100000, -1.f);
      ASSERT_TRUE(c.GroupStart().ok());
      ASSERT_TRUE(c.Send(out.data(), out.size(), DataType::kFloat32, (r + 1) % n).ok());
      ASSERT_TRUE(c.Recv(in.data(), in.size(), DataType::kFloat32, (r + n - 1) % n).ok());
      Status s = c.GroupEnd();
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(in.front(), float((r + n - 1) % n));
      EXPECT_EQ(in.back(), float((r + n - 1) % n));
    });
  }
}

TEST(LoopbackComm, SendRecvMatchInOrderIncludingZeroBytes) {
  auto comms = MakeLoopbackComms(2, Quick());
  RunRanks(2, [&](int r) {
    Comm& c = *comms[r];
    if (r == 0) {
      for (int i = 0; i < 10; ++i) {
        int v = i;
        ASSERT_TRUE(c.Send(&v, i % 3 == 0 ? 0 : 1, DataType::kInt32, 1).ok());
      }
    } else {
      for (int i = 0; i < 10; ++i) {
        int v = -1;
        ASSERT_TRUE(c.Recv(&v, i % 3 == 0 ? 0 : 1, DataType::kInt32, 0).ok());
        EXPECT_EQ(v, i % 3 == 0 ? -1 : i);
      }
    }
  });
}

TEST(LoopbackComm, CollectivesInsideAGroupRunInOrder) {
  const int n = 4;
  auto comms = MakeLoopbackComms(n, Quick());
  RunRanks(n, [&](int r) {
    Comm& c = *comms[r];
    int a = r, b = 10 * r, peer_val = -1;
    ASSERT_TRUE(c.GroupStart().ok());
    ASSERT_TRUE(c.AllReduce(&a, &a, 1, DataType::kInt32, RedOp{}).ok());
    ASSERT_TRUE(c.Send(&b, 1, DataType::kInt32, (r + 1) % n).ok());
    ASSERT_TRUE(c.Recv(&peer_val, 1, DataType::kInt32, (r + n - 1) % n).ok());
    ASSERT_TRUE(c.AllReduce(&b, &b, 1, DataType::kInt32, RedOp{RedOpKind::kMax}).ok());
    ASSERT_TRUE(c.GroupEnd().ok());
    EXPECT_EQ(a, 0 + 1 + 2 + 3);
    EXPECT_EQ(b, 30);
    EXPECT_EQ(peer_val, 10 * ((r + n - 1) % n));
  });
}

TEST(LoopbackComm, GroupEndWithoutStartIsInvalidUsage) {
  auto comms = MakeLoopbackComms(1, Quick());
  EXPECT_EQ(comms[0]->GroupEnd().code(), StatusCode::kInvalidUsage);
}

// NCCL's group error: a call inside a group that fails (here InvalidArgument) is remembered, and
// the outermost GroupEnd returns it and runs none of the group, not the rest of it. The
// communicator stays usable.
TEST(LoopbackComm, AnInvalidCallInsideAGroupFailsGroupEndAndDiscardsTheGroup) {
  const int n = 3;
  auto comms = MakeLoopbackComms(n, Quick(10));
  RunRanks(n, [&](int r) {
    Comm& c = *comms[r];
    const int next = (r + 1) % n, prev = (r + n - 1) % n;
    // The error comes first (and inside a nested group): nothing after it may run, so the
    // buffers stay as they were. Sizes: packed and tagged.
    std::vector<float> in(1000, float(r + 1)), out(1000, -1.f), big_out(100000, -1.f), big_in(100000, 1.f);
    ASSERT_TRUE(c.GroupStart().ok());
    ASSERT_TRUE(c.GroupStart().ok());
    EXPECT_EQ(c.AllReduce(nullptr, out.data(), 4, DataType::kFloat32, RedOp{}).code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(c.GroupEnd().ok());  // an inner GroupEnd ends nothing: the outermost one reports
    EXPECT_EQ(c.Send(in.data(), 4, DataType::kFloat32, n + 3).code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(c.AllReduce(in.data(), out.data(), in.size(), DataType::kFloat32, RedOp{}).ok());
    EXPECT_TRUE(c.Send(in.data(), 10, DataType::kFloat32, next).ok());
    EXPECT_TRUE(c.Recv(out.data() + 10, 10, DataType::kFloat32, prev).ok());
    EXPECT_TRUE(c.Send(big_in.data(), big_in.size(), DataType::kFloat32, next).ok());
    EXPECT_TRUE(c.Recv(big_out.data(), big_out.size(), DataType::kFloat32, prev).ok());
    Status s = c.GroupEnd();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_EQ(s.message().rfind("GroupEnd: an operation of the group failed: ", 0), 0u) << s.ToString();
    EXPECT_EQ(out, std::vector<float>(out.size(), -1.f));
    EXPECT_EQ(big_out, std::vector<float>(big_out.size(), -1.f));

    // Valid sends and receives already on their way when the error comes are cancelled.
    ASSERT_TRUE(c.GroupStart().ok());
    EXPECT_TRUE(c.Send(in.data(), 10, DataType::kFloat32, next).ok());
    EXPECT_TRUE(c.Recv(out.data(), 10, DataType::kFloat32, prev).ok());
    EXPECT_TRUE(c.Send(big_in.data(), big_in.size(), DataType::kFloat32, next).ok());
    EXPECT_TRUE(c.Recv(big_out.data(), big_out.size(), DataType::kFloat32, prev).ok());
    EXPECT_EQ(c.Recv(out.data(), 4, DataType(77), prev).code(), StatusCode::kInvalidArgument);
    s = c.GroupEnd();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("GroupEnd: an operation of the group failed: "), std::string::npos) << s.ToString();

    // Still usable: a group and a collective give the right results.
    std::vector<float> got(1000, -1.f);
    ASSERT_TRUE(c.GroupStart().ok());
    ASSERT_TRUE(c.Send(in.data(), in.size(), DataType::kFloat32, next).ok());
    ASSERT_TRUE(c.Recv(got.data(), got.size(), DataType::kFloat32, prev).ok());
    s = c.GroupEnd();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(got, std::vector<float>(got.size(), float(prev + 1)));
    float v = float(r + 1), sum = 0;
    s = c.AllReduce(&v, &sum, 1, DataType::kFloat32, RedOp{});
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(sum, float(n * (n + 1) / 2));
  });
}

TEST(LoopbackComm, SplitByParityOrderedByKey) {
  const int n = 7;
  auto comms = MakeLoopbackComms(n, Quick());
  RunRanks(n, [&](int r) {
    std::unique_ptr<Comm> child;
    int color = (r == 6) ? -1 : r % 2;  // rank 6 opts out
    Status s = comms[r]->Split(color, /*key=*/-r, &child);
    ASSERT_TRUE(s.ok()) << s.ToString();
    if (color < 0) {
      EXPECT_EQ(child, nullptr);
      return;
    }
    ASSERT_NE(child, nullptr);
    EXPECT_EQ(child->size(), color == 0 ? 3 : 3);
    // key = -r: the highest old rank becomes rank 0.
    int members_above = 0;
    for (int q = r + 2; q < 6; q += 2) ++members_above;
    EXPECT_EQ(child->rank(), members_above);
    int v = r, sum = 0;
    ASSERT_TRUE(child->AllReduce(&v, &sum, 1, DataType::kInt32, RedOp{}).ok());
    EXPECT_EQ(sum, color == 0 ? 0 + 2 + 4 : 1 + 3 + 5);
    // The parent still works after the split, concurrently with the child's traffic pattern.
    ASSERT_TRUE(child->Barrier().ok());
  });
  RunRanks(n, [&](int r) { ASSERT_TRUE(comms[r]->Barrier().ok()); });
}

// Rank 0 splits while the others all-gather 3 floats (the same bytes as Split's exchange): rank 0
// names the mismatch as a usage error (it was an InternalError, "ids exhausted"), and the others
// learn of it by their next call.
TEST(LoopbackComm, SplitMismatchedWithAnotherCollectiveIsAUsageError) {
  const int n = 3;
  auto comms = MakeLoopbackComms(n, Quick());
  RunRanks(n, [&](int r) {
    if (r == 0) {
      std::unique_ptr<Comm> child;
      const Status s = comms[r]->Split(0, 0, &child);
      EXPECT_EQ(s.code(), StatusCode::kInvalidUsage) << s.ToString();
      EXPECT_NE(s.message().find("did not call Split here"), std::string::npos) << s.ToString();
      return;
    }
    std::vector<float> mine(3, 1.0f), all(3 * n);
    (void)comms[r]->AllGather(mine.data(), all.data(), 3, DataType::kFloat32);
    EXPECT_FALSE(comms[r]->Barrier().ok());
  });
}

// A Barrier runs as a 1-byte all-reduce; a failure in it names the barrier the caller made, not an
// all-reduce it never called (QA, session 54).
TEST(LoopbackComm, ABarriersErrorNamesTheBarrier) {
  auto comms = MakeLoopbackComms(2, Quick(/*timeout_s=*/0.3));
  const Status s = comms[0]->Barrier();  // rank 1 never comes
  EXPECT_EQ(s.code(), StatusCode::kTimeout) << s.ToString();
  EXPECT_NE(s.message().find("in barrier #0"), std::string::npos) << s.ToString();
}

// A rank that destroys a Split child while the other members wait on it in a collective: the
// transport lives on (the parent holds it), so no farewell tells them; they fail at once,
// naming the rank, instead of after BRAID_TIMEOUT (QA, session 55: 300 s by default). The
// parent stays usable. One member waits on the leaver (RemoteError naming it); the other may hear
// of it relayed by that member.
TEST(LoopbackComm, ARankThatDestroysAChildFailsThoseWaitingOnItAtOnce) {
  const int n = 3;
  auto comms = MakeLoopbackComms(n, Quick(/*timeout_s=*/60));
  RunRanks(n, [&](int r) {
    std::unique_ptr<Comm> child;
    ASSERT_TRUE(comms[r]->Split(0, r, &child).ok());
    if (r == 0) {
      child.reset();
    } else {
      const auto start = std::chrono::steady_clock::now();
      int one = 1, sum = 0;
      const Status s = child->AllReduce(&one, &sum, 1, DataType::kInt32, RedOp{});
      EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
      EXPECT_NE(s.message().find("rank 0 destroyed its communicator"), std::string::npos) << s.ToString();
      EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
    }
    int one = 1, sum = 0;
    const Status parent = comms[r]->AllReduce(&one, &sum, 1, DataType::kInt32, RedOp{});
    EXPECT_TRUE(parent.ok()) << parent.ToString();
    EXPECT_EQ(sum, n);
  });
}

// A count whose bytes a process could address but memory cannot hold (2^55 bytes, under the
// 2^57 that validation refuses): the scratch allocation fails, and the call returns SystemError
// instead of letting std::bad_alloc out of the API (which aborted the process).
TEST(LoopbackComm, AllocationFailureIsASystemErrorNotAnAbort) {
  const int n = 2;
  auto comms = MakeLoopbackComms(n, Quick());
  RunRanks(n, [&](int r) {
    float x = 1.0f;
    const Status s = comms[r]->AllReduce(&x, &x, size_t(1) << 53, DataType::kFloat32, RedOp{});
    EXPECT_EQ(s.code(), StatusCode::kSystemError) << s.ToString();
    EXPECT_NE(s.message().find("out of memory"), std::string::npos) << s.ToString();
  });
}

TEST(LoopbackComm, InvalidArgumentsFailFastAndLeaveCommUsable) {
  const int n = 3;
  auto comms = MakeLoopbackComms(n, Quick());
  RunRanks(n, [&](int r) {
    Comm& c = *comms[r];
    float buf[8] = {};
    auto code = [](Status s) { return s.code(); };
    EXPECT_EQ(code(c.AllReduce(nullptr, buf, 4, DataType::kFloat32, RedOp{})), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.AllReduce(buf, buf, 4, DataType(42), RedOp{})), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.AllReduce(buf, buf, 4, DataType::kFloat32, RedOp{RedOpKind(9)})), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.Broadcast(buf, buf, 4, DataType::kFloat32, 3)), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.Reduce(buf, buf, 4, DataType::kFloat32, RedOp{}, -1)), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.Send(buf, 1, DataType::kFloat32, 5)), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.AllReduce(buf, buf + 1, 4, DataType::kFloat32, RedOp{})), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.AllToAll(buf, buf, 1, DataType::kFloat32)), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.AllReduce(buf, buf, SIZE_MAX / 2, DataType::kFloat32, RedOp{})), StatusCode::kInvalidArgument);
    // No overflow, but more than any buffer can hold (a negative count cast to size_t): refused
    // before UCX or an allocation fails on it.
    Status huge = c.Send(buf, SIZE_MAX / 4, DataType::kFloat32, (r + 1) % n);
    EXPECT_EQ(huge.code(), StatusCode::kInvalidArgument) << huge.ToString();
    EXPECT_NE(huge.message().find("more than a process can address"), std::string::npos) << huge.ToString();
    EXPECT_EQ(code(c.Recv(buf, size_t(-8), DataType::kUint8, (r + 1) % n)), StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.AllGather(buf, buf, SIZE_MAX / 16, DataType::kFloat32)), StatusCode::kInvalidArgument);
    Status msg = c.Broadcast(buf, buf, 4, DataType::kFloat32, 3);
    EXPECT_NE(msg.message().find("root 3 out of range [0, 3)"), std::string::npos) << msg.ToString();
    // A premulsum scalar an integer type cannot hold (NCCL takes it in the element type).
    int32_t ints[4] = {};
    Status fraction = c.AllReduce(ints, ints, 4, DataType::kInt32, RedOp{RedOpKind::kPreMulSum, 2.5});
    EXPECT_EQ(fraction.code(), StatusCode::kInvalidArgument) << fraction.ToString();
    EXPECT_NE(fraction.message().find("premulsum scalar 2.5 does not fit int32 (it needs an integer in [-2147483648, 2147483647])"), std::string::npos)
        << fraction.ToString();
    EXPECT_EQ(code(c.AllReduce(ints, ints, 16, DataType::kUint8, RedOp{RedOpKind::kPreMulSum, 300})),
              StatusCode::kInvalidArgument);
    EXPECT_EQ(code(c.AllReduce(ints, ints, 16, DataType::kUint8, RedOp{RedOpKind::kPreMulSum, -1})),
              StatusCode::kInvalidArgument);
    // Still usable.
    float v = 1, sum = 0;
    ASSERT_TRUE(c.AllReduce(&v, &sum, 1, DataType::kFloat32, RedOp{}).ok());
    EXPECT_EQ(sum, 3.f);
  });
}

// A timeout given in CommOptions is checked like BRAID_TIMEOUT: NaN, 0 and values past 1e9 s are
// errors naming the field (NaN made the wait after a failed call unbounded).
TEST(LoopbackComm, OptionTimeoutOutOfRangeIsNamed) {
  CommOptions out;
  for (double bad : {std::nan(""), 0.0, 1e-9, 2e9}) {
    CommOptions in;
    in.timeout_s = bad;
    const Status s = Comm::ResolveOptions(in, &out);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("CommOptions.timeout_s="), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("out of range [0.001, 1000000000] seconds"), std::string::npos) << s.ToString();
  }
  CommOptions in;
  in.timeout_s = 0.5;
  EXPECT_TRUE(Comm::ResolveOptions(in, &out).ok());
  EXPECT_EQ(out.timeout_s, 0.5);
}

// So is a slice in CommOptions: past BRAID_SLICE_BYTES's bound (1 TiB) it is an error naming the field.
TEST(LoopbackComm, SliceBytesOutOfRangeIsRejectedAsTheVariableIs) {
  CommOptions out;
  CommOptions in;
  in.slice_bytes = std::numeric_limits<size_t>::max();
  Status s = Comm::ResolveOptions(in, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "CommOptions.slice_bytes=18446744073709551615 out of range [0, 1099511627776]");
  in.slice_bytes = size_t{1} << 40;
  EXPECT_TRUE(Comm::ResolveOptions(in, &out).ok());
  EXPECT_EQ(out.slice_bytes, size_t{1} << 40);
}

// CreateFromEnv's launch variables: digits only, a rank below the largest world, and BRAID_ROOT
// read at every call (it was cached from the first, which a second call with a new root used).
// Each error comes before any connection is tried.
TEST(LoopbackComm, CreateFromEnvReadsItsLaunchVariablesStrictlyAtEachCall) {
  struct Case {
    const char* rank;
    const char* size;
    const char* root;
    std::string message;
  };
  const Case cases[] = {
      {" 1", "2", "127.0.0.1:1", "BRAID_RANK=' 1' is not an integer in [0, 65535]"},
      {"+1", "2", "127.0.0.1:1", "BRAID_RANK='+1' is not an integer in [0, 65535]"},
      {"65536", "2", "127.0.0.1:1", "BRAID_RANK='65536' is not an integer in [0, 65535]"},
      {"0", "65537", "127.0.0.1:1", "BRAID_WORLD_SIZE='65537' is not an integer in [0, 65536]"},
      {"0", "2", "no-port-here", "BRAID_ROOT: 'no-port-here'"},
      {"0", "2", "127.0.0.1:99999", "BRAID_ROOT: '127.0.0.1:99999'"},  // not the previous call's
  };
  for (const Case& c : cases) {
    setenv("BRAID_RANK", c.rank, 1);
    setenv("BRAID_WORLD_SIZE", c.size, 1);
    setenv("BRAID_ROOT", c.root, 1);
    std::unique_ptr<Comm> comm;
    const Status s = Comm::CreateFromEnv(&comm);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << c.rank << " " << c.size << " " << c.root;
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.ToString();
  }
  for (const char* name : {"BRAID_RANK", "BRAID_WORLD_SIZE", "BRAID_ROOT"}) unsetenv(name);
}

TEST(LoopbackComm, AbortFromAnotherThreadUnblocksAPendingCall) {
  auto comms = MakeLoopbackComms(2, Quick(60));
  // Rank 1 never joins: rank 0 blocks in the all-reduce until Abort().
  std::atomic<bool> returned{false};
  Status result;
  auto start = Clock::now();
  std::thread waiter([&] {
    float v = 1;
    result = comms[0]->AllReduce(&v, &v, 1, DataType::kFloat32, RedOp{});
    returned = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(returned.load());
  comms[0]->Abort();
  waiter.join();
  EXPECT_EQ(result.code(), StatusCode::kAborted) << result.ToString();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  float v = 1;
  EXPECT_EQ(comms[0]->AllReduce(&v, &v, 1, DataType::kFloat32, RedOp{}).code(), StatusCode::kAborted);
  // The usual group pattern reports the abort at both ends, not a GroupStart/GroupEnd mismatch.
  EXPECT_EQ(comms[0]->GroupStart().code(), StatusCode::kAborted);
  EXPECT_EQ(comms[0]->Send(&v, 1, DataType::kFloat32, 1).code(), StatusCode::kAborted);
  EXPECT_EQ(comms[0]->GroupEnd().code(), StatusCode::kAborted);
}

// Abort() between calls tells the other members as an abort during a call does: the ranks
// blocked in a call with the aborted rank fail with RemoteError naming it (in about 0.1 s), not
// after BRAID_TIMEOUT.
TEST(LoopbackComm, AbortBetweenCallsTellsThePeersBlockedOnTheRank) {
  const int n = 3;
  auto comms = MakeLoopbackComms(n, Quick(20));
  std::thread aborter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    comms[0]->Abort();  // rank 0 never calls: it is idle
  });
  RunRanks(n, [&](int r) {
    if (r == 0) return;
    std::vector<float> v(1000, 1.f);
    auto start = Clock::now();
    Status s = comms[r]->AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32, RedOp{});
    EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
    EXPECT_NE(s.message().find("rank 0"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("Aborted"), std::string::npos) << s.ToString();
    // Not a timing claim: well before the 20 s BRAID_TIMEOUT, which is what they met before.
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  });
  aborter.join();
  float v = 1;
  EXPECT_EQ(comms[0]->AllReduce(&v, &v, 1, DataType::kFloat32, RedOp{}).code(), StatusCode::kAborted);
}

// A stalled rank: the ranks waiting on it time out naming a rank; a rank whose wait was on a rank
// that timed out first hears that rank's failure notice instead (RemoteError carrying the
// Timeout). At least one rank times out itself.
TEST(LoopbackComm, StalledPeerTimesOutNamingIt) {
  auto comms = MakeLoopbackComms(3, Quick(/*timeout_s=*/1.0));
  std::atomic<int> timeouts{0};
  // Ranks 0 and 1 call; rank 2 stalls (never calls).
  RunRanks(2, [&](int r) {
    std::vector<float> v(1000, 1.f);
    auto start = Clock::now();
    Status s = comms[r]->AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32, RedOp{});
    double took = std::chrono::duration<double>(Clock::now() - start).count();
    timeouts += s.code() == StatusCode::kTimeout;
    const bool notified = s.code() == StatusCode::kRemoteError &&
                          s.message().find("reported a failure: Timeout") != std::string::npos;
    EXPECT_TRUE(s.code() == StatusCode::kTimeout || notified) << s.ToString();
    EXPECT_NE(s.message().find("rank"), std::string::npos) << s.ToString();
    EXPECT_LT(took, 5.0);
  });
  EXPECT_GE(timeouts.load(), 1);
}

// A rank dies mid-all-reduce. The ranks that wait on it fail with RemoteError naming it; a rank
// whose wait is on a survivor (alive, but stopped at the failure, as these threads are once they
// return) learns of it from that survivor's failure notice. So every rank fails at once with a
// RemoteError that names the dead rank, long before the 30 s BRAID_TIMEOUT.
TEST(LoopbackComm, DeadPeerIsARemoteErrorOnEveryOtherRank) {
  const int n = 4;
  std::shared_ptr<transport::LoopbackFabric> fabric;
  auto comms = MakeLoopbackComms(n, Quick(30), &fabric);
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    fabric->KillRank(3);
  });
  RunRanks(3, [&](int r) {
    std::vector<float> v(1 << 16, 1.f);
    auto start = Clock::now();
    // Rank 3 never calls; the all-reduce waits until the death surfaces.
    Status s = comms[r]->AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32, RedOp{});
    EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
    EXPECT_NE(s.message().find("rank 3"), std::string::npos) << s.ToString();
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  });
  killer.join();
}

// Notices inside a communicator made by Split travel between world ranks: the odd ranks 1, 3, 5,
// 7 form a child (ranks 0-3) and world rank 7 dies. Whatever the algorithm, some child rank
// waits only on live members that stopped at the failure, and hears of it through a notice
// naming the sender by both its ranks.
TEST(LoopbackComm, FailureNoticeReachesMembersOfASplitCommunicator) {
  const int n = 8;
  std::shared_ptr<transport::LoopbackFabric> fabric;
  auto comms = MakeLoopbackComms(n, Quick(30), &fabric);
  std::vector<std::unique_ptr<Comm>> children(n);
  RunRanks(n, [&](int r) { ASSERT_TRUE(comms[r]->Split(r % 2, r, &children[r]).ok()); });
  fabric->KillRank(7);
  std::atomic<int> notified{0};
  RunRanks(6, [&](int r) {
    if (r % 2 == 0) return;
    std::vector<float> v(1 << 12, 1.f);
    auto start = Clock::now();
    Status s = children[r]->AllReduce(v.data(), v.data(), v.size(), DataType::kFloat32, RedOp{});
    EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
    EXPECT_NE(s.message().find("rank 7"), std::string::npos) << s.ToString();
    notified += s.message().find("(world rank") != std::string::npos &&
                s.message().find("reported a failure") != std::string::npos;
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  });
  EXPECT_GE(notified.load(), 1);
}

// The same through point-to-point waits: rank 1's blocking Recv from rank 0 fails when rank 0
// dies; rank 2 waits on rank 1 alone, in a blocking Recv or in a group, and learns of the death
// from rank 1's notice.
TEST(LoopbackComm, FailureNoticeEndsPointToPointWaitsOnLiveRanks) {
  for (bool grouped : {false, true}) {
    SCOPED_TRACE(grouped ? "group" : "blocking Recv");
    std::shared_ptr<transport::LoopbackFabric> fabric;
    auto comms = MakeLoopbackComms(3, Quick(30), &fabric);
    fabric->KillRank(0);
    RunRanks(3, [&](int r) {
      if (r == 0) return;
      std::vector<char> buf(64);
      auto start = Clock::now();
      Status s;
      if (r == 1) {
        s = comms[1]->Recv(buf.data(), buf.size(), DataType::kUint8, 0);
      } else if (grouped) {
        s = comms[2]->GroupStart();
        if (s.ok()) s = comms[2]->Recv(buf.data(), buf.size(), DataType::kUint8, 1);
        s = comms[2]->GroupEnd();
      } else {
        s = comms[2]->Recv(buf.data(), buf.size(), DataType::kUint8, 1);
      }
      EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
      EXPECT_NE(s.message().find("rank 0"), std::string::npos) << s.ToString();
      if (r == 2) {
        EXPECT_NE(s.message().find("rank 1 reported a failure"), std::string::npos) << s.ToString();
      }
      EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
    });
  }
}

// A death that only the liveness probe sees (KillRankUnnoticed: over UCX shared memory, a rank
// that dies halfway through writing into a peer's receive FIFO leaves that peer's requests, and
// any notice behind them, waiting). Rank 0's oldest request goes to rank 1, alive but not
// taking part, so no notice will come; its other request waits on rank 2, which dies. The idle
// wait must probe every peer it is owed something by, not only the oldest's, and fail naming
// rank 2 long before the 30 s BRAID_TIMEOUT: in an all-reduce (ring: send to 1, receive from
// 2) and in a group of a send to 1 and a receive from 2.
TEST(LoopbackComm, DeathSeenOnlyByAProbeEndsWaitsWhoseOldestRequestIsOnALiveRank) {
  for (bool grouped : {false, true}) {
    SCOPED_TRACE(grouped ? "group" : "all-reduce");
    std::shared_ptr<transport::LoopbackFabric> fabric;
    CommOptions options = Quick(30);
    options.algorithm = "ring";
    auto comms = MakeLoopbackComms(3, options, &fabric);
    std::thread killer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      fabric->KillRankUnnoticed(2);
    });
    std::vector<float> out(1 << 14, 1.f), in(out.size());
    const size_t bytes = out.size() * sizeof(float);
    auto start = Clock::now();
    Status s;
    if (grouped) {
      s = comms[0]->GroupStart();
      if (s.ok()) s = comms[0]->Send(out.data(), bytes, DataType::kUint8, 1);
      if (s.ok()) s = comms[0]->Recv(in.data(), bytes, DataType::kUint8, 2);
      s = comms[0]->GroupEnd();
    } else {
      s = comms[0]->AllReduce(out.data(), in.data(), out.size(), DataType::kFloat32, RedOp{});
    }
    killer.join();
    EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
    EXPECT_NE(s.message().find("receive from rank 2"), std::string::npos) << s.ToString();
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  }
}

// A death that owes the waiter nothing. Rank 0 waits for rank 1, alive but not taking part (it
// will neither send nor fail), and rank 2 dies unnoticed: over UCX shared memory, halfway
// through writing into rank 0's receive queue, which blocks rank 1's message and every failure
// notice behind it. Only the health pass's look at every same-host peer (HostPeersHealth) can
// end the wait: it must fail naming rank 2 long before the 30 s BRAID_TIMEOUT, in a blocking
// Recv and in a group.
TEST(LoopbackComm, DeathOfARankOwedNothingEndsWaitsOnOthers) {
  for (bool grouped : {false, true}) {
    SCOPED_TRACE(grouped ? "group" : "blocking Recv");
    std::shared_ptr<transport::LoopbackFabric> fabric;
    auto comms = MakeLoopbackComms(3, Quick(30), &fabric);
    std::thread killer([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      fabric->KillRankUnnoticed(2);
    });
    std::vector<char> buf(64);
    auto start = Clock::now();
    Status s;
    if (grouped) {
      s = comms[0]->GroupStart();
      if (s.ok()) s = comms[0]->Recv(buf.data(), buf.size(), DataType::kUint8, 1);
      s = comms[0]->GroupEnd();
    } else {
      s = comms[0]->Recv(buf.data(), buf.size(), DataType::kUint8, 1);
    }
    killer.join();
    EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
    EXPECT_NE(s.message().find("rank 2 (loopback) died"), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("receive from rank 1"), std::string::npos) << s.ToString();
    EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 10.0);
  }
}

// The same death after the rank left (destroyed its communicator, so its transport said
// farewell) is no failure: rank 0's receive from rank 1 outlasts several health passes and
// completes.
TEST(LoopbackComm, ARankThatLeftBeforeItDiedFailsNoOne) {
  std::shared_ptr<transport::LoopbackFabric> fabric;
  auto comms = MakeLoopbackComms(3, Quick(30), &fabric);
  comms[2].reset();
  fabric->KillRankUnnoticed(2);
  RunRanks(2, [&](int r) {
    std::vector<char> buf(64, char(r));
    Status s;
    if (r == 1) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      s = comms[1]->Send(buf.data(), buf.size(), DataType::kUint8, 0);
    } else {
      s = comms[0]->Recv(buf.data(), buf.size(), DataType::kUint8, 1);
      EXPECT_EQ(buf.back(), char(1));
    }
    EXPECT_TRUE(s.ok()) << "rank " << r << ": " << s.ToString();
  });
}

}  // namespace
}  // namespace braid::testing
