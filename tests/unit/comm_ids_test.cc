// runtime::CommIds: how Split's members agree on a communicator id when other Splits of the
// same process run at the same time.
#include <gtest/gtest.h>

#include "runtime/world.h"

namespace braid::runtime {
namespace {

TEST(CommIds, ProposalsFollowTheWorldIdAndNeverRepeat) {
  CommIds ids;
  EXPECT_EQ(ids.Propose(), CommIds::kWorldId + 1);
  EXPECT_EQ(ids.Propose(), CommIds::kWorldId + 2);
  ids.Release(CommIds::kWorldId + 1);  // given back, but ids are not reused
  EXPECT_EQ(ids.Propose(), CommIds::kWorldId + 3);
}

TEST(CommIds, ItsOwnProposalAgreedOnIsClaimed) {
  CommIds ids;
  const uint32_t p = ids.Propose();
  EXPECT_TRUE(ids.Claim(p, p));
}

TEST(CommIds, AHigherFreeIdIsClaimedAndLaterProposalsPassIt) {
  CommIds ids;
  const uint32_t p = ids.Propose();  // 2
  EXPECT_TRUE(ids.Claim(10, p));     // another member proposed 10
  EXPECT_EQ(ids.Propose(), 11u);
}

TEST(CommIds, AnIdHeldByAConcurrentSplitCannotBeClaimed) {
  CommIds ids;
  const uint32_t first = ids.Propose();   // 2: this thread's Split
  const uint32_t second = ids.Propose();  // 3: another thread's Split
  EXPECT_FALSE(ids.Claim(second, first)) << "the other Split holds it";
  // The failed round gave `first` back; the next round proposes above both.
  const uint32_t again = ids.Propose();
  EXPECT_GT(again, second);
  EXPECT_TRUE(ids.Claim(again, again));
  // Once the other Split gives its id back (its own round failed), it may be claimed.
  ids.Release(second);
  const uint32_t third = ids.Propose();
  EXPECT_TRUE(ids.Claim(second, third));
}

TEST(CommIds, ExhaustionIsReportedByTheProposal) {
  CommIds ids;
  uint32_t last = 0;
  for (uint32_t i = CommIds::kWorldId + 1; i < CommIds::kLimit; ++i) last = ids.Propose();
  EXPECT_EQ(last, CommIds::kLimit - 1);
  EXPECT_EQ(ids.Propose(), CommIds::kLimit);
  EXPECT_FALSE(ids.Claim(CommIds::kLimit, CommIds::kLimit - 1));
}

}  // namespace
}  // namespace braid::runtime
