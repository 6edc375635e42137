// Randomised point-to-point traffic with collectives mixed in (tests/common/p2p_torture.h), on a
// communicator and on a child of it: each rank groups, nests and orders its calls its own way,
// and every byte is checked. Seeds are fixed
// so a failure reproduces; TORTURE_SEEDS=N runs N seeds per case instead (a longer soak).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "../common/p2p_torture.h"
#include "harness.h"

namespace braid::testing {
namespace {

// TORTURE_FIRST_SEED=S starts every case at seed S (to reproduce one).
uint64_t FirstSeed(uint64_t default_first) {
  const char* env = std::getenv("TORTURE_FIRST_SEED");
  return env ? std::strtoull(env, nullptr, 10) : default_first;
}

int SeedsToRun(int default_seeds) {
  const char* env = std::getenv("TORTURE_SEEDS");
  return env ? std::max(1, std::atoi(env)) : default_seeds;
}

// Runs `seeds` seeds from `first` over `nranks` loopback ranks with inline limit `inline_bytes`.
void Torture(int nranks, long inline_bytes, uint64_t first, int seeds, const TortureOptions& options) {
  CommOptions comm_options;
  comm_options.timeout_s = 60;  // a hang becomes a Timeout naming the wait, not a killed test
  comm_options.p2p_inline_bytes = inline_bytes;
  TortureOptions traced = options;
  traced.trace = std::getenv("TORTURE_TRACE") != nullptr;
  for (uint64_t seed = first; seed < first + uint64_t(seeds); ++seed) {
    auto comms = MakeLoopbackComms(nranks, comm_options);
    std::vector<std::string> errors(static_cast<size_t>(nranks));
    // The seed runs on the communicator, then on a child of it (split by rank parity, ranks in
    // reverse order), whose traffic shares the fabric under its own tags.
    RunRanks(nranks, [&](int r) {
      std::string& error = errors[size_t(r)];
      error = TortureRank(*comms[size_t(r)], seed, traced).Run();
      std::unique_ptr<Comm> child;
      if (Status s = comms[size_t(r)]->Split(r % 2, -r, &child); error.empty() && !s.ok()) error = "split: " + s.ToString();
      if (error.empty()) error = TortureRank(*child, seed, traced).Run();
    });
    bool failed = false;
    for (int r = 0; r < nranks; ++r) {
      EXPECT_EQ(errors[size_t(r)], "") << "rank " << r;
      failed |= !errors[size_t(r)].empty();
    }
    if (failed) return;  // one seed's failures are enough to read
  }
}

TEST(P2pTorture, FourRanksAtTheDefaultInlineLimit) {
  TortureOptions options;
  options.rounds = 12;
  Torture(4, -1, FirstSeed(1), SeedsToRun(4), options);
}

TEST(P2pTorture, ThreeRanksWithA1024ByteInlineLimit) {
  TortureOptions options;
  options.rounds = 12;
  Torture(3, 1024, FirstSeed(101), SeedsToRun(4), options);
}

TEST(P2pTorture, TwoRanksWithoutPackingManySmallRounds) {
  TortureOptions options;
  options.rounds = 40;
  options.max_ops_per_round = 8;
  options.max_message_bytes = 8192;
  Torture(2, 0, FirstSeed(201), SeedsToRun(4), options);
}

}  // namespace
}  // namespace braid::testing
