// Process-level fault tests: real rank processes (fault_worker) over the UCX transport, bootstrapped
// from the environment (BRAID_RANK / BRAID_WORLD_SIZE / BRAID_ROOT=127.0.0.1:<port>), with
// BRAID_TIMEOUT=3 s. A rank is killed or stopped mid-all-reduce, or given a wrong root, or bad
// arguments: nothing may hang, and the errors must name the cause. Every child is SIGKILLed and
// reaped when a test ends, however it ends (ProcessHarness's destructor).
#include <gtest/gtest.h>

#include <filesystem>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <thread>

#include "process_harness.h"

namespace braid::testing {
namespace {

// BRAID_TIMEOUT for the ranks (seconds), and the slack the tests allow on top of it for process
// start, UCX setup and scheduling on a loaded 2-core CI machine (seconds).
constexpr double kRankTimeoutS = 3;
constexpr double kSlackS = 7;
// A call that failed on a stalled peer with sends to it still queued waits up to
// min(BRAID_TIMEOUT, 5 s) more for that peer to answer the failure notice (the settle bound,
// comm.h), so its error comes up to this long after the timeout (seconds).
constexpr double kSettleS = kRankTimeoutS;
// And before that settle, up to 2 s to stop its transfers with the stalled peer (kCompletionBound,
// src/transport/ucx/ucx_internal.h); after it, UCX's teardown (its settle and flush bounds, 1 s
// each). Seconds a failing rank may take past its timeout besides the settle.
constexpr double kFailureTailS = 4;
// Generous bound for work that should take well under a second (creation + a few all-reduces).
constexpr double kHealthyS = 30;
// Per-rank all-reduce size in the fault scenarios: large enough (4 MiB) that a rank dying 50 ms
// into it is mid-collective on a small machine.
constexpr const char* kBytes = "4194304";

class ProcessFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GT(port_.port(), 0) << "could not find a free TCP port on 127.0.0.1";
    root_ = "127.0.0.1:" + std::to_string(port_.port());
  }

  // Starts rank `rank` of `size` running fault_worker with `args`.
  // `extra_env` overrides the defaults (e.g. BRAID_TIMEOUT) or adds variables.
  size_t StartRank(int rank, int size, const std::vector<std::string>& args,
                   const std::string& root = "",
                   const std::map<std::string, std::string>& extra_env = {}) {
    std::vector<std::string> argv = {FaultWorkerPath()};
    argv.insert(argv.end(), args.begin(), args.end());
    std::map<std::string, std::string> env = {
        {"BRAID_RANK", std::to_string(rank)},
        {"BRAID_WORLD_SIZE", std::to_string(size)},
        {"BRAID_ROOT", root.empty() ? root_ : root},
        {"BRAID_TIMEOUT", std::to_string(int(kRankTimeoutS))}};
    for (const auto& [key, value] : extra_env) env[key] = value;
    return harness_.Start("rank " + std::to_string(rank), argv, env);
  }

  // Runs `size` healthy ranks of fault_worker `args` to the end: every rank exits 0 having
  // printed DONE (what its mode checked held), and each line of `also_printed`, within kHealthyS.
  void RunToCompletion(int size, const std::vector<std::string>& args,
                       const std::vector<std::string>& also_printed = {},
                       const std::map<std::string, std::string>& env = {}) {
    for (int r = 0; r < size; ++r) StartRank(r, size, args, "", env);
    ASSERT_TRUE(harness_.WaitAll(kHealthyS)) << harness_.Report();
    for (int r = 0; r < size; ++r) {
      SCOPED_TRACE("rank " + std::to_string(r));
      EXPECT_EQ(harness_.child(r).ExitCode(), 0) << harness_.Report();
      EXPECT_NE(harness_.Stdout(r).find("DONE"), std::string::npos) << harness_.Report();
      for (const std::string& line : also_printed)
        EXPECT_NE(harness_.Stdout(r).find(line), std::string::npos) << line << "\n" << harness_.Report();
    }
  }

  // Polls child `i`'s stdout until it contains `text`; false after `timeout_s` seconds.
  bool WaitForOutput(size_t i, const std::string& text, double timeout_s) {
    auto deadline = ProcessHarness::Clock::now() + std::chrono::milliseconds(int(timeout_s * 1000));
    while (harness_.Stdout(i).find(text) == std::string::npos) {
      if (ProcessHarness::Clock::now() > deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
  }

  // Prints how each rank ended and what it said on stderr, so that ctest's log shows the actual
  // error messages even when the test passes.
  void LogOutcome() const {
    for (size_t i = 0; i < harness_.size(); ++i) {
      const ChildProcess& c = harness_.child(i);
      std::cout << "  " << c.name << ": "
                << (c.exited ? "exit " + std::to_string(c.ExitCode()) + " after " +
                                   std::to_string(c.exit_after_s) + " s"
                             : std::string("running"))
                << "\n    " << harness_.Stderr(i);
    }
  }

  void CheckDeadRank(const std::map<std::string, std::string>& env);
  void CheckStalledRank(const std::string& bytes, const std::map<std::string, std::string>& env = {});

  static bool NamesRank(const std::string& text, int rank) {
    return std::regex_search(text, std::regex("(rank|peer) " + std::to_string(rank) + "\\b"));
  }
  static bool NamesSomeRank(const std::string& text) {
    return std::regex_search(text, std::regex("(rank|peer) [0-9]+"));
  }

  ProcessHarness harness_;
  PortReservation port_;  // rank 0's root listens there
  std::string root_;
};

// The baseline the fault cases rely on: 4 healthy ranks complete and check their all-reduces.
TEST_F(ProcessFaultTest, HealthyRanksComplete) {
  RunToCompletion(4, {"allreduce-loop", "5", "65536"});
}

// Create succeeds on every rank when a rank destroys its communicator and exits the moment its
// own Create returned: Create returns only once every rank is connected to every other. (A fast
// rank's exit removed its shared-memory segment while a slower rank was still connecting to it,
// whose Create then failed with "ucp_ep_create failed: Shared memory error" in 14 of 20
// launches of 3 ranks; QA, session 55.) Five launches of 3 ranks that create and leave at once.
TEST_F(ProcessFaultTest, RanksThatLeaveRightAfterCreateFailNoOnesCreate) {
  constexpr int kRanks = 3, kLaunches = 5;
  for (int launch = 0; launch < kLaunches; ++launch) {
    const PortReservation reserved;
    const int port = reserved.port();
    ASSERT_GT(port, 0);
    std::vector<size_t> children;
    for (int r = 0; r < kRanks; ++r)
      children.push_back(StartRank(r, kRanks, {"allreduce-loop", "0", "1"}, "127.0.0.1:" + std::to_string(port)));
    ASSERT_TRUE(harness_.WaitAll(kHealthyS)) << harness_.Report();
    for (size_t child : children) {
      EXPECT_EQ(harness_.child(child).ExitCode(), 0) << "launch " << launch << "\n" << harness_.Report();
      EXPECT_EQ(harness_.Stderr(child).find("create:"), std::string::npos) << harness_.Report();
    }
  }
}

// (a) A rank dies (_exit) in the middle of an all-reduce: every survivor fails, names a dead rank
// (RemoteError) or reports a Timeout, and exits within ~10 s of the death. At least one survivor
// (a neighbour) names the killed rank itself.
// Runs with `env` added: the default same-host lane (shared memory, pid probes) or, with
// BRAID_UCX_ERROR_MODE=peer, the network lane's UCX endpoint error handling (tcp on one host).
void ProcessFaultTest::CheckDeadRank(const std::map<std::string, std::string>& env) {
  const int kRanks = 4, kDead = 2, kGoodIterations = 2;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kDead)
      StartRank(r, kRanks, {"die-after", std::to_string(kGoodIterations), kBytes}, "", env);
    else
      StartRank(r, kRanks, {"allreduce-loop", std::to_string(kGoodIterations + 5), kBytes}, "",
                env);
  }
  ASSERT_TRUE(harness_.Wait(kDead, kHealthyS)) << "the dying rank did not die\n" << harness_.Report();
  const double died_at = harness_.child(kDead).exit_after_s;
  EXPECT_EQ(harness_.child(kDead).ExitCode(), 9) << harness_.Report();
  int named_killed = 0;
  ASSERT_TRUE(harness_.WaitAll(10.0)) << "survivors still running 10 s after rank " << kDead
                                      << " died (hang?)\n" << harness_.Report();
  LogOutcome();
  for (int r = 0; r < kRanks; ++r) {
    if (r == kDead) continue;
    const std::string err = harness_.Stderr(r);
    SCOPED_TRACE("rank " + std::to_string(r) + " stderr: " + err);
    // It worked before the fault, and then failed in a collective (exit 4), not elsewhere. (Not
    // necessarily in the one the rank died in: a slow survivor may still be finishing the
    // previous one when the pid probe reports the death.)
    EXPECT_NE(harness_.Stdout(r).find("OK 0"), std::string::npos);
    EXPECT_EQ(harness_.child(r).ExitCode(), 4) << harness_.Report();
    // A survivor may see a cascade first: a neighbour that failed because of the death exits
    // too, and is then the dead peer this rank notices. So: RemoteError naming the killed rank
    // or another rank that also failed, or a Timeout.
    bool names_dead = false;
    for (int d = 0; d < kRanks; ++d) {
      if (d != r && (d == kDead || harness_.child(d).ExitCode() != 0) && NamesRank(err, d))
        names_dead = true;
    }
    const bool remote = err.find("RemoteError") != std::string::npos && names_dead;
    const bool timeout = err.find("Timeout") != std::string::npos;
    EXPECT_TRUE(remote || timeout)
        << "expected RemoteError naming rank " << kDead << " (or a rank that failed after it), "
        << "or a Timeout";
    EXPECT_LE(harness_.child(r).exit_after_s - died_at, 10.0);
    named_killed += NamesRank(err, kDead);
  }
  EXPECT_GE(named_killed, 1) << "no survivor named the killed rank " << kDead;
}

TEST_F(ProcessFaultTest, DeadRankFailsEveryOtherRank) { CheckDeadRank({}); }

TEST_F(ProcessFaultTest, DeadRankFailsEveryOtherRankPeerErrorMode) {
  CheckDeadRank({{"BRAID_UCX_ERROR_MODE", "peer"}});
}

// (b) A rank stops (SIGSTOP) between collectives: its sockets stay open, so only the timeout can
// tell. Every other rank fails with Timeout (or a RemoteError from a rank that timed out before
// it) naming a rank, within BRAID_TIMEOUT + slack; then the stopped rank is killed. `env` may
// make the collectives all-to-alls (FAULT_COLLECTIVE); `bytes` is their size.
void ProcessFaultTest::CheckStalledRank(const std::string& bytes, const std::map<std::string, std::string>& env) {
  const int kRanks = 4, kStalled = 1, kGoodIterations = 2;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kStalled)
      StartRank(r, kRanks, {"stall-after", std::to_string(kGoodIterations), bytes}, "", env);
    else
      StartRank(r, kRanks, {"allreduce-loop", std::to_string(kGoodIterations + 5), bytes}, "", env);
  }
  ASSERT_TRUE(WaitForOutput(kStalled, "STALLING", kHealthyS)) << harness_.Report();
  const double bound_s = kRankTimeoutS + kSettleS + kFailureTailS + kSlackS;
  ASSERT_TRUE(harness_.WaitAll(bound_s, kStalled))
      << "ranks still running " << bound_s << " s after rank " << kStalled
      << " stalled (hang?)\n" << harness_.Report();
  LogOutcome();
  int timeouts = 0;
  for (int r = 0; r < kRanks; ++r) {
    if (r == kStalled) continue;
    const std::string err = harness_.Stderr(r);
    SCOPED_TRACE("rank " + std::to_string(r) + " stderr: " + err);
    EXPECT_EQ(harness_.child(r).ExitCode(), 4) << harness_.Report();
    const bool timeout = err.find("Timeout") != std::string::npos;
    timeouts += timeout;
    EXPECT_TRUE(timeout || err.find("RemoteError") != std::string::npos);
    EXPECT_TRUE(NamesSomeRank(err)) << "the error should name the rank it waited for";
  }
  EXPECT_GE(timeouts, 1) << harness_.Report();
  // The stopped rank is still there (stopped, not exited) until we kill it.
  EXPECT_FALSE(harness_.child(kStalled).exited);
  harness_.Kill(kStalled);
}

TEST_F(ProcessFaultTest, StalledRankTimesOut) { CheckStalledRank(kBytes); }

// (b) again, in an all-to-all of one-byte slices: every survivor has thousands of sends to
// the stopped rank in flight when its timeout fires. Cancelling them is bounded per peer, not
// per send (a 1 ms grace for each held the survivors ~1 s per thousand slices past the timeout).
TEST_F(ProcessFaultTest, StalledRankWithThousandsOfSendsInFlightTimesOut) {
  CheckStalledRank("20000", {{"FAULT_COLLECTIVE", "alltoall"}, {"BRAID_ALGO", "pairwise"}, {"BRAID_SLICE_BYTES", "1"}});
}

// (b') The same with UCX's keepalive more frequent than BRAID_TIMEOUT (as it is by default for
// timeouts above UCX's keepalive interval): UCX's internal keepalive traffic is not progress of
// the collective, so it must not keep restarting the timeout clock, or a stalled peer hangs its
// partners forever.
TEST_F(ProcessFaultTest, StalledPeerTimesOutDespiteUcxKeepalive) {
  const int kRanks = 2, kStalled = 1;
  const double kTimeoutS = 4;  // > the 1 s keepalive interval below
  const std::map<std::string, std::string> env = {
      {"BRAID_TIMEOUT", std::to_string(int(kTimeoutS))}, {"UCX_KEEPALIVE_INTERVAL", "1s"}};
  StartRank(0, kRanks, {"allreduce-loop", "5", kBytes}, "", env);
  StartRank(kStalled, kRanks, {"stall-after", "1", kBytes}, "", env);
  ASSERT_TRUE(WaitForOutput(kStalled, "STALLING", kHealthyS)) << harness_.Report();
  const double bound_s = kTimeoutS + std::min(kTimeoutS, 5.0) /* settle */ + kFailureTailS + kSlackS;
  ASSERT_TRUE(harness_.Wait(0, bound_s))
      << "rank 0 still running " << bound_s << " s after rank 1 stalled: the timeout "
      << "clock is probably being reset by UCX keepalive events (hang)\n" << harness_.Report();
  LogOutcome();
  const std::string err = harness_.Stderr(0);
  EXPECT_EQ(harness_.child(0).ExitCode(), 4) << harness_.Report();
  EXPECT_NE(err.find("Timeout"), std::string::npos) << harness_.Report();
  EXPECT_TRUE(NamesRank(err, kStalled)) << harness_.Report();
  harness_.Kill(kStalled);
}

// (a'') Failure notices. The survivors keep their communicators after the error (FAULT_HOLD_S),
// so no rank can learn of the death from a neighbour's exit, and BRAID_TIMEOUT is 60 s: a rank
// whose wait is on a live survivor hears of the death only through that survivor's failure
// notice. Every survivor must fail with a RemoteError naming the dead rank within 10 s.
TEST_F(ProcessFaultTest, DeathReachesRanksThatWaitOnLiveRanks) {
  const int kRanks = 4, kDead = 2;
  const std::map<std::string, std::string> env = {{"BRAID_TIMEOUT", "60"}, {"FAULT_HOLD_S", "60"}};
  for (int r = 0; r < kRanks; ++r)
    StartRank(r, kRanks, {r == kDead ? "die-after" : "allreduce-loop", r == kDead ? "2" : "7", kBytes}, "", env);
  ASSERT_TRUE(harness_.Wait(kDead, kHealthyS)) << "the dying rank did not die\n" << harness_.Report();
  for (int r = 0; r < kRanks; ++r) {
    if (r == kDead) continue;
    ASSERT_TRUE(WaitForOutput(size_t(r), "FAILED", 10.0))
        << "rank " << r << " still waiting 10 s after rank " << kDead << " died\n" << harness_.Report();
  }
  LogOutcome();
  for (int r = 0; r < kRanks; ++r) {
    if (r == kDead) continue;
    const std::string err = harness_.Stderr(r);
    SCOPED_TRACE("rank " + std::to_string(r) + " stderr: " + err);
    EXPECT_NE(err.find("RemoteError"), std::string::npos);
    EXPECT_TRUE(NamesRank(err, kDead));
  }
}

// (b'') The same for a stalled rank: only rank 0 has a short BRAID_TIMEOUT (3 s), the others
// 60 s. Rank 0 times out, and its notice must reach the others within seconds, although their
// own waits may be on live ranks and their own timeouts are far off.
TEST_F(ProcessFaultTest, TimeoutReachesRanksWithLongerTimeouts) {
  const int kRanks = 4, kStalled = 1;
  for (int r = 0; r < kRanks; ++r) {
    const std::map<std::string, std::string> env = {{"BRAID_TIMEOUT", r == 0 ? "3" : "60"},
                                                    {"FAULT_HOLD_S", "60"}};
    StartRank(r, kRanks, {r == kStalled ? "stall-after" : "allreduce-loop", r == kStalled ? "2" : "7", kBytes}, "",
              env);
  }
  ASSERT_TRUE(WaitForOutput(kStalled, "STALLING", kHealthyS)) << harness_.Report();
  for (int r = 0; r < kRanks; ++r) {
    if (r == kStalled) continue;
    // Rank 0 tells them once it has stopped its transfers with the stalled rank, before it settles.
    ASSERT_TRUE(WaitForOutput(size_t(r), "FAILED", kRankTimeoutS + kFailureTailS + kSlackS))
        << "rank " << r << " still waiting " << kRankTimeoutS + kFailureTailS + kSlackS << " s after rank " << kStalled
        << " stalled\n" << harness_.Report();
  }
  LogOutcome();
  EXPECT_NE(harness_.Stderr(0).find("Timeout"), std::string::npos) << harness_.Report();
  for (int r = 2; r < kRanks; ++r) {
    const std::string err = harness_.Stderr(r);
    SCOPED_TRACE("rank " + std::to_string(r) + " stderr: " + err);
    EXPECT_NE(err.find("rank 0 reported a failure: Timeout"), std::string::npos);
  }
  harness_.Kill(kStalled);
}

// (c) A non-zero rank whose BRAID_ROOT points at a port nobody listens on fails within the timeout
// with a message naming that address.
TEST_F(ProcessFaultTest, WrongRootAddressFailsNamingIt) {
  size_t i = StartRank(1, 2, {"allreduce-loop", "1", "1024"});
  ASSERT_TRUE(harness_.Wait(i, kRankTimeoutS + kSlackS)) << "hung on a dead root\n" << harness_.Report();
  LogOutcome();
  EXPECT_EQ(harness_.child(i).ExitCode(), 3) << harness_.Report();
  EXPECT_NE(harness_.Stderr(i).find(root_), std::string::npos)
      << "the error should name " << root_ << "\n" << harness_.Report();
}

// (c') A malformed BRAID_ROOT is rejected at once, naming the variable.
TEST_F(ProcessFaultTest, MalformedRootIsRejected) {
  size_t i = StartRank(1, 2, {"allreduce-loop", "1", "1024"}, "127.0.0.1");
  ASSERT_TRUE(harness_.Wait(i, kSlackS)) << harness_.Report();
  LogOutcome();
  EXPECT_EQ(harness_.child(i).ExitCode(), 3) << harness_.Report();
  EXPECT_NE(harness_.Stderr(i).find("BRAID_ROOT"), std::string::npos) << harness_.Report();
}

// (c4) Ranks that force different algorithms (BRAID_ALGO on one of them) would exchange different
// messages: creation fails on both, naming the setting and both values, within the slack.
TEST_F(ProcessFaultTest, RanksWithDifferentSettingsAreRefusedAtCreation) {
  const size_t zero = StartRank(0, 2, {"allreduce-loop", "1", "1024"});
  const size_t one = StartRank(1, 2, {"allreduce-loop", "1", "1024"}, "", {{"BRAID_ALGO", "ring"}});
  ASSERT_TRUE(harness_.WaitAll(kSlackS)) << harness_.Report();
  LogOutcome();
  for (auto [i, phrase] : {std::pair{zero, "algorithm is (tuner) here but ring on rank 1"},
                           std::pair{one, "algorithm is ring here but (tuner) on rank 0"}}) {
    EXPECT_EQ(harness_.child(i).ExitCode(), 3) << harness_.Report();
    EXPECT_NE(harness_.Stderr(i).find(phrase), std::string::npos) << harness_.Report();
  }
}

// Settings that mean the same (BRAID_ALGO=ring and " Ring;": case, blanks and a trailing
// separator do not change what the tuner may choose) agree.
TEST_F(ProcessFaultTest, SettingsSpeltDifferentlyAgree) {
  StartRank(0, 2, {"allreduce-loop", "2", "1024"}, "", {{"BRAID_ALGO", "ring"}});
  StartRank(1, 2, {"allreduce-loop", "2", "1024"}, "", {{"BRAID_ALGO", " Ring;"}});
  ASSERT_TRUE(harness_.WaitAll(kHealthyS)) << harness_.Report();
  for (size_t i = 0; i < 2; ++i) EXPECT_EQ(harness_.child(i).ExitCode(), 0) << harness_.Report();
}

// Two jobs given the same BRAID_ROOT: a rank whose job name differs (BRAID_JOB_ID here; a
// launcher's TORCHELASTIC_RUN_ID or PMIX_NAMESPACE alike) is refused by the root and
// says which job it took itself for, while the root's own job completes.
TEST_F(ProcessFaultTest, ARankOfAnotherJobOnTheSameRootIsRefused) {
  const size_t stranger = StartRank(1, 2, {"allreduce-loop", "1", "1024"}, "", {{"BRAID_JOB_ID", "job-b"}});
  const size_t zero = StartRank(0, 2, {"allreduce-loop", "2", "1024"}, "", {{"BRAID_JOB_ID", "job-a"}});
  ASSERT_TRUE(harness_.Wait(stranger, kSlackS)) << "the stranger hung\n" << harness_.Report();
  const size_t one = StartRank(1, 2, {"allreduce-loop", "2", "1024"}, "", {{"BRAID_JOB_ID", "job-a"}});
  ASSERT_TRUE(harness_.WaitAll(kHealthyS)) << harness_.Report();
  LogOutcome();
  EXPECT_EQ(harness_.child(stranger).ExitCode(), 3) << harness_.Report();
  EXPECT_NE(harness_.Stderr(stranger).find("this rank's job: BRAID_JOB_ID=job-b"), std::string::npos)
      << harness_.Report();
  EXPECT_EQ(harness_.child(zero).ExitCode(), 0) << harness_.Report();
  EXPECT_EQ(harness_.child(one).ExitCode(), 0) << harness_.Report();
}

// (c'') The root waits for a rank that never comes: Timeout within BRAID_TIMEOUT + slack, naming
// what it waited for.
TEST_F(ProcessFaultTest, MissingRankTimesOutAtRoot) {
  size_t i = StartRank(0, 2, {"allreduce-loop", "1", "1024"});
  ASSERT_TRUE(harness_.Wait(i, kRankTimeoutS + kSlackS)) << "root hung\n" << harness_.Report();
  LogOutcome();
  EXPECT_EQ(harness_.child(i).ExitCode(), 3) << harness_.Report();
  const std::string err = harness_.Stderr(i);
  EXPECT_NE(err.find("Timeout"), std::string::npos) << harness_.Report();
  EXPECT_TRUE(NamesRank(err, 1)) << "the error should say rank 1 is missing\n" << harness_.Report();
}

// Small messages sent in a group meet blocking receives, and blocking sends meet a group's
// receives, over UCX between processes: every byte arrives, nothing hangs.
TEST_F(ProcessFaultTest, GroupedAndBlockingPointToPointMeet) {
  RunToCompletion(2, {"p2p-forms", "100"});
}

// Randomised point-to-point traffic with collectives mixed in (tests/common/p2p_torture.h) between
// real processes over UCX: each rank groups, nests and orders its calls its own way, blocking sends
// to self included; every byte is checked.
TEST_F(ProcessFaultTest, RandomisedPointToPointTrafficArrivesWhole) {
  RunToCompletion(3, {"p2p-torture", "1", "6", "10"});
}

// With the shared-memory lane's rendezvous threshold below the packing limit, blocking sends to
// self (kept as copies) and packed messages (which then go by rendezvous) still arrive: a 4000-byte
// Send to self used to wait for its own Recv until the timeout (QA, session 50).
TEST_F(ProcessFaultTest, PointToPointTrafficArrivesWithRendezvousBelowTheInlineLimit) {
  RunToCompletion(2, {"p2p-torture", "1", "3", "10"}, {}, {{"BRAID_UCX_LOCAL_RNDV_THRESH", "1024"}});
}

// The same traffic on a communicator and on a child of it at once, from two threads per process:
// split communicators share their process's UCX worker, which takes one thread at a time.
TEST_F(ProcessFaultTest, CommunicatorsSharingAWorkerRunOnTwoThreadsAtOnce) {
  RunToCompletion(3, {"concurrent-torture", "1", "12", "10"});
}

// (d) Invalid arguments return InvalidArgument with a message, and the communicator still works.
// (e) BRAID_CHECK_CALLS=1 over real processes and UCX: one rank reduces with max where the others
// sum. Every rank gets InvalidArgument naming the odd rank's call, and the communicator goes on.
TEST_F(ProcessFaultTest, CheckedCallsCatchADifferentReductionOp) {
  const int kRanks = 3;
  for (int r = 0; r < kRanks; ++r) StartRank(r, kRanks, {"mismatch"}, "", {{"BRAID_CHECK_CALLS", "1"}});
  ASSERT_TRUE(harness_.WaitAll(kHealthyS)) << harness_.Report();
  for (int r = 0; r < kRanks; ++r) {
    const std::string out = harness_.Stdout(r);
    SCOPED_TRACE("rank " + std::to_string(r) + " stdout: " + out);
    EXPECT_EQ(harness_.child(r).ExitCode(), 0) << harness_.Report();
    EXPECT_NE(out.find("rank 2 made call #0: allreduce of 256 x float32 (max)"), std::string::npos);
    EXPECT_NE(out.find("DONE"), std::string::npos);
  }
}

// A failed call returns only once the library can no longer read its buffers: the all-gather's
// rendezvous sends to a rank that posts its receive late are delivered or let go before the
// call returns, so unmapping the buffers right after it cannot crash (it did in ~1 of 6 runs).
TEST_F(ProcessFaultTest, BuffersOfAFailedCallMayBeFreedAtOnce) {
  const int kRanks = 3;
  RunToCompletion(kRanks, {"unmap-after-failure", "6"}, {"ROUND 5 failed as it should"});
  // Every lingering send ended because it finished or its peer said it had stopped (ranks that
  // failed because of a notice pass it on), not at the bound with a warning.
  for (int r = 0; r < kRanks; ++r)
    EXPECT_EQ(harness_.Stderr(r).find("may still be read"), std::string::npos) << harness_.Stderr(r);
}

// The same for Abort(), which promises a prompt return: with thousands of one-byte eager sends
// queued to live peers, the aborted call still waits while those peers drain them. (It gave up
// at once; with a per-peer cancel grace UCX then copied from the protected buffers: SIGSEGV in
// 2 of 3 runs of QA's harness, though only 1 of 8 of this test's forms.) BRAID_TIMEOUT=10: the
// others' own settling (up to 5 s) must not time out their next calls.
TEST_F(ProcessFaultTest, BuffersOfAnAbortedCallMayBeFreedAtOnce) {
  const int kRanks = 4;
  RunToCompletion(kRanks, {"abort-unmap"}, {},
                  {{"BRAID_SLICE_BYTES", "1"}, {"BRAID_ALGO", "pairwise"}, {"BRAID_TIMEOUT", "10"}});
  EXPECT_NE(harness_.Stdout(0).find("ALLTOALL: Aborted"), std::string::npos)
      << "the all-to-all was no longer running when rank 0 aborted it\n" << harness_.Report();
}

// A failure while a group's traffic is posted (a receive from a rank that exited) cancels what
// the group posted before the failure notice goes out: the notice tells rank 1 that rank 0 will
// match nothing more, and rank 1 frees its send buffer on the strength of it (rank 1 crashed in 4
// runs of 5 while the group's receive stayed posted after the notice). The group's calls only
// queue; GroupEnd posts them and reports the failure.
TEST_F(ProcessFaultTest, AFailureInAGroupCancelsItBeforeTellingThePeers) {
  const int kRanks = 3;
  for (int r = 0; r < kRanks; ++r) StartRank(r, kRanks, {"group-failure"});
  ASSERT_TRUE(harness_.WaitAll(kHealthyS)) << harness_.Report();
  for (int r = 0; r < 2; ++r) {
    SCOPED_TRACE("rank " + std::to_string(r) + " stdout: " + harness_.Stdout(r));
    EXPECT_EQ(harness_.child(r).ExitCode(), 0) << harness_.Report();
    EXPECT_NE(harness_.Stdout(r).find("DONE"), std::string::npos);
  }
  EXPECT_NE(harness_.Stdout(0).find("group recv from the exited rank: OK"), std::string::npos) << harness_.Report();
  EXPECT_NE(harness_.Stdout(0).find("group end: RemoteError: receive from rank 2: rank 2 (pid"), std::string::npos)
      << harness_.Report();
}

// (a''') A death that owes the waiter nothing. Rank 0 waits for rank 1, which sleeps outside
// braid for a minute; rank 2 exits without cleanup. Over shared memory a rank that dies halfway
// through writing into rank 0's receive queue would block rank 1's message and every failure
// notice behind it, so rank 0 must find the death itself: it fails within 10 s (BRAID_TIMEOUT is
// 60 s) with a RemoteError naming rank 2. (The test cannot make rank 2 die mid-write on purpose;
// that it dies while rank 0 waits on someone else is the part braid must handle.)
TEST_F(ProcessFaultTest, DeathOfARankOwedNothingEndsWaitsOnOthers) {
  const int kRanks = 3;
  const std::map<std::string, std::string> env = {{"BRAID_TIMEOUT", "60"}};
  for (int r = 0; r < kRanks; ++r) StartRank(r, kRanks, {"bystander", "die", "60000"}, "", env);
  ASSERT_TRUE(harness_.Wait(2, kHealthyS)) << "rank 2 did not exit\n" << harness_.Report();
  ASSERT_TRUE(harness_.Wait(0, 10.0)) << "rank 0 still waiting 10 s after rank 2 died\n" << harness_.Report();
  LogOutcome();
  const std::string err = harness_.Stderr(0);
  SCOPED_TRACE("rank 0 stderr: " + err);
  EXPECT_EQ(harness_.child(2).ExitCode(), 9);
  EXPECT_EQ(harness_.child(0).ExitCode(), 4);
  EXPECT_NE(err.find("RemoteError"), std::string::npos);
  EXPECT_NE(err.find("rank 2 (pid"), std::string::npos);
  EXPECT_NE(err.find("exited without leaving"), std::string::npos);
  EXPECT_NE(err.find("receive from rank 1"), std::string::npos);
}

// Its counterpart: a rank that destroyed its communicator before exiting left (its transport
// said farewell) and is no failure, though rank 0's wait on rank 1 outlasts many health passes.
TEST_F(ProcessFaultTest, ARankThatLeftFailsNoOne) {
  RunToCompletion(3, {"bystander", "leave", "1500"});
}

// But a rank that leaves (destroys its communicator, its process alive) while the others start a
// collective that needs it fails them within a health check or two, naming it: its farewell is
// its last message, so waiting for it until BRAID_TIMEOUT (60 s here) could only end in a Timeout.
TEST_F(ProcessFaultTest, ARankThatLeftFailsThoseWaitingOnIt) {
  const int kRanks = 3;
  const std::map<std::string, std::string> env = {{"BRAID_TIMEOUT", "60"}};
  for (int r = 0; r < kRanks; ++r) StartRank(r, kRanks, {"bystander", "desert", "3000"}, "", env);
  for (int r = 0; r < 2; ++r)
    ASSERT_TRUE(harness_.Wait(r, 10.0)) << "rank " << r << " still waiting on a rank that left\n" << harness_.Report();
  ASSERT_TRUE(harness_.Wait(2, kHealthyS)) << harness_.Report();
  LogOutcome();
  EXPECT_EQ(harness_.child(2).ExitCode(), 0);
  for (int r = 0; r < 2; ++r) {
    const std::string err = harness_.Stderr(r);
    SCOPED_TRACE("rank " + std::to_string(r) + " stderr: " + err);
    EXPECT_EQ(harness_.child(r).ExitCode(), 4);
    EXPECT_NE(err.find("RemoteError"), std::string::npos);
    // Found by the health check (the farewell), or by UCX when a send to rank 2's departed
    // shared memory failed first (named as such: "send to rank 2 ...: rank 2 (pid P on this host)
    // left: it destroyed its communicators (UCX: Shared memory error)", see below).
    EXPECT_TRUE(err.find("rank 2 (pid") != std::string::npos || err.find("send to rank 2") != std::string::npos);
    EXPECT_TRUE(err.find("left: it destroyed its communicators") != std::string::npos ||
                err.find("send to rank 2") != std::string::npos);
  }
}

// A discarded group posts nothing, so its buffers may be unmapped at once. (When sends left as
// they were called, UCX copied a waiting eager send from the caller's buffer whenever the peer
// freed room: SIGSEGV in rank 0 in 3 runs of 3 until Stop waited for them.)
TEST_F(ProcessFaultTest, ADiscardedGroupLeavesTheCallersBuffersAlone) {
  RunToCompletion(2, {"discard-eager-unmap"});
  EXPECT_NE(harness_.Stdout(0).find("discarded group: InvalidArgument"), std::string::npos) << harness_.Report();
}

// A send queued before the call that discards its group never leaves: on 2 and 3 ranks the next
// group's receives get the next group's data, packed, eager and rendezvous.
TEST_F(ProcessFaultTest, ADiscardedGroupsSendsNeverReachTheNextReceive) { RunToCompletion(2, {"discarded-sends-stay-home"}); }
TEST_F(ProcessFaultTest, ADiscardedGroupsSendsNeverReachTheNextReceiveOnThreeRanks) {
  RunToCompletion(3, {"discarded-sends-stay-home"});
}

// Calls that fail with large (rendezvous) transfers in flight: groups discarded by an invalid call,
// sizes that differ, a group failed by a mismatch. The transfers are cancelled; when the ranks
// then destroy everything, UCX must find nothing to warn about: no request it still holds (a
// cancelled rendezvous send that the peer never answered: "... was not returned to mpool"), no
// message nobody received ("unexpected tag-receive descriptor ... was not matched"), no second
// endpoint to a peer that is gone (UCX errors about its shared memory). Both ranks saw these in
// every run before the destructor answered the peers' requests and waited for its own.
TEST_F(ProcessFaultTest, CancelledLargeTransfersLeaveUcxNothingToWarnOfAtTeardown) {
  const int kRanks = 2;
  RunToCompletion(kRanks, {"cancelled-transfers"});
  for (int r = 0; r < kRanks; ++r) {
    const std::string err = harness_.Stderr(r);
    SCOPED_TRACE("rank " + std::to_string(r) + " stdout: " + harness_.Stdout(r));
    EXPECT_FALSE(std::regex_search(err, std::regex("UCX +(WARN|ERROR)"))) << err;
    // The calls failed as they should, and still took no teardown warning of braid's own.
    EXPECT_EQ(err.find("gave up waiting"), std::string::npos) << err;
  }
  EXPECT_NE(harness_.Stdout(1).find("mismatch 2097152: InvalidUsage"), std::string::npos) << harness_.Report();
  EXPECT_NE(harness_.Stdout(0).find("discarded group: InvalidArgument"), std::string::npos) << harness_.Report();
}

// A send to a same-host rank that has left (destroyed its communicator, its process alive) or
// exited fails in UCX with "Shared memory error" (its segments are gone). The error must name
// the rank and say that it left or exited, as the health checks do, with UCX's status as the
// detail.
TEST_F(ProcessFaultTest, SendToARankThatLeftOrExitedNamesIt) {
  for (const std::string how : {"leave", "exit"}) {
    SCOPED_TRACE(how);
    ProcessHarness harness;
    const PortReservation reserved;
    const int port = reserved.port();
    ASSERT_GT(port, 0);
    const std::string file = std::filesystem::temp_directory_path() /
                             ("braid-left-" + std::to_string(getpid()) + "-" + how);
    std::filesystem::remove(file);
    for (int r = 0; r < 2; ++r) {
      harness.Start("rank " + std::to_string(r), {FaultWorkerPath(), "send-after-leave", how, file},
                    {{"BRAID_RANK", std::to_string(r)},
                     {"BRAID_WORLD_SIZE", "2"},
                     {"BRAID_ROOT", "127.0.0.1:" + std::to_string(port)},
                     {"BRAID_TIMEOUT", std::to_string(int(kRankTimeoutS))}});
    }
    ASSERT_TRUE(harness.Wait(0, kHealthyS)) << harness.Report();
    harness.KillAll();
    std::filesystem::remove(file);
    const std::string out = harness.Stdout(0);
    SCOPED_TRACE(harness.Report());
    EXPECT_EQ(harness.child(0).ExitCode(), 0);
    ASSERT_NE(out.find("SEND: RemoteError"), std::string::npos);
    EXPECT_EQ(out.find("failed: Shared memory error"), std::string::npos);
    EXPECT_NE(out.find("rank 1 (pid "), std::string::npos);
    const char* gone = how == "leave" ? " on this host) left: it destroyed its communicators" : " on this host) exited";
    EXPECT_NE(out.find(gone), std::string::npos);
    EXPECT_NE(out.find("(UCX: Shared memory error)"), std::string::npos);
  }
}

TEST_F(ProcessFaultTest, BadArgumentsLeaveCommunicatorUsable) {
  const int kRanks = 2;
  for (int r = 0; r < kRanks; ++r) StartRank(r, kRanks, {"bad-args"});
  ASSERT_TRUE(harness_.WaitAll(kHealthyS)) << harness_.Report();
  for (int r = 0; r < kRanks; ++r) {
    const std::string out = harness_.Stdout(r);
    EXPECT_EQ(harness_.child(r).ExitCode(), 0) << harness_.Report();
    for (const char* call : {"null buffers", "bad dtype", "bad op", "bad root", "overlap", "bad peer"})
      EXPECT_NE(out.find(std::string("INVALID ") + call + ": InvalidArgument: "), std::string::npos)
          << call << "\n" << harness_.Report();
    EXPECT_NE(out.find("DONE"), std::string::npos) << harness_.Report();
  }
}

}  // namespace
}  // namespace braid::testing
