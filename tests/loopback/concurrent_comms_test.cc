// Communicators that share a transport (a communicator and those split from it), each driven by
// its own thread at the same time, as a framework runs one process group's all-reduce on a
// background thread while its main thread sends pipeline activations on another.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "../common/p2p_torture.h"
#include "harness.h"

namespace braid::testing {
namespace {

uint32_t IdOf(Comm& comm) { return comm.impl()->comm_id(); }

// An all-reduce whose result names the communicator's members: a message that crossed into
// another communicator's tag space would give a wrong sum or hang.
std::string CheckedAllReduce(Comm& comm, int round) {
  std::vector<int32_t> v(257, comm.rank() + round);
  if (Status s = comm.AllReduce(v.data(), v.data(), v.size(), DataType::kInt32, RedOp{}); !s.ok())
    return s.ToString();
  const int32_t want = comm.size() * (comm.size() - 1) / 2 + comm.size() * round;
  for (int32_t x : v)
    if (x != want) return "all-reduce gave " + std::to_string(x) + ", expected " + std::to_string(want);
  return "";
}

// Each rank runs the torture on its communicator and, on a second thread at the same time, on a
// child holding every rank in reverse order (so both cover the same peers with different ranks).
TEST(ConcurrentComms, ParentAndChildRunTheTortureOnTwoThreadsAtOnce) {
  constexpr int kRanks = 3;
  CommOptions comm_options;
  comm_options.timeout_s = 60;  // a hang becomes a Timeout naming the wait
  TortureOptions options;
  options.rounds = 10;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    auto comms = MakeLoopbackComms(kRanks, comm_options);
    std::vector<std::string> errors(kRanks), child_errors(kRanks);
    RunRanks(kRanks, [&](int r) {
      Comm& world = *comms[size_t(r)];
      std::unique_ptr<Comm> child;
      if (Status s = world.Split(0, -r, &child); !s.ok()) {
        errors[size_t(r)] = "split: " + s.ToString();
        return;
      }
      std::thread side([&] { child_errors[size_t(r)] = TortureRank(*child, seed + 1000, options).Run(); });
      errors[size_t(r)] = TortureRank(world, seed, options).Run();
      side.join();
    });
    for (int r = 0; r < kRanks; ++r) {
      EXPECT_EQ(errors[size_t(r)], "") << "seed " << seed << ", rank " << r;
      EXPECT_EQ(child_errors[size_t(r)], "") << "seed " << seed << ", rank " << r << " (child)";
    }
  }
}

// Two threads per rank split their own communicators at the same time, over and over: every
// communicator a process holds gets its own id (a concurrent Split may hold the one the members
// first agree on; then they agree again), and each works.
TEST(ConcurrentComms, ConcurrentSplitsGetDistinctIdsAndWork) {
  constexpr int kRanks = 3;
  constexpr int kSplits = 12;
  auto comms = MakeLoopbackComms(kRanks);
  std::vector<std::string> errors(2 * kRanks);
  std::vector<std::vector<uint32_t>> ids(kRanks);
  RunRanks(kRanks, [&](int r) {
    Comm& world = *comms[size_t(r)];
    std::unique_ptr<Comm> half;  // split again by the second thread
    if (Status s = world.Split(0, r, &half); !s.ok()) {
      errors[size_t(2 * r)] = "first split: " + s.ToString();
      return;
    }
    std::vector<std::unique_ptr<Comm>> made[2];  // kept alive: their ids stay taken
    auto split_repeatedly = [&](Comm& from, int thread) {
      std::string& error = errors[size_t(2 * r + thread)];
      for (int i = 0; i < kSplits && error.empty(); ++i) {
        // Alternate all ranks with a parity split (one member alone on its own).
        std::unique_ptr<Comm> child;
        if (Status s = from.Split(i % 2 == 0 ? 0 : r % 2, r, &child); !s.ok()) {
          error = "split " + std::to_string(i) + ": " + s.ToString();
          break;
        }
        error = CheckedAllReduce(*child, i);
        made[thread].push_back(std::move(child));
      }
    };
    std::thread side([&] { split_repeatedly(*half, 1); });
    split_repeatedly(world, 0);
    side.join();
    ids[size_t(r)] = {IdOf(world), IdOf(*half)};
    for (auto& list : made)
      for (auto& c : list) ids[size_t(r)].push_back(IdOf(*c));
  });
  for (size_t i = 0; i < errors.size(); ++i) EXPECT_EQ(errors[i], "") << "rank " << i / 2 << ", thread " << i % 2;
  for (int r = 0; r < kRanks; ++r) {
    EXPECT_EQ(ids[size_t(r)].size(), size_t(2 + 2 * kSplits)) << "rank " << r;
    const std::set<uint32_t> distinct(ids[size_t(r)].begin(), ids[size_t(r)].end());
    EXPECT_EQ(distinct.size(), ids[size_t(r)].size()) << "rank " << r << " holds two communicators with one id";
  }
}

}  // namespace
}  // namespace braid::testing
