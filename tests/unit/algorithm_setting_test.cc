// The algorithm setting in NCCL_ALGO's syntax (src/runtime/algorithm_setting.h): lists,
// exclusions, per-collective sections, NCCL's own algorithms skipped, everything else named.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtime/algorithm_setting.h"

namespace braid::runtime {
namespace {

using coll::Algorithm;
using coll::Collective;
using coll::kAnyAlgorithm;
using coll::MaskOf;

AllowedAlgorithms Parse(const std::string& text) {
  AllowedAlgorithms allowed;
  Status s = ParseAlgorithmSetting(text, "NCCL_ALGO", &allowed);
  EXPECT_TRUE(s.ok()) << text << ": " << s.ToString();
  return allowed;
}

coll::AlgorithmMask For(const AllowedAlgorithms& a, Collective c) { return a[size_t(c)]; }

TEST(AlgorithmSetting, EmptyLeavesEveryCollectiveToTheTuner) {
  for (coll::AlgorithmMask m : Parse("")) EXPECT_EQ(m, kAnyAlgorithm);
}

TEST(AlgorithmSetting, ListsAndExclusionsApplyToEveryCollective) {
  for (coll::AlgorithmMask m : Parse("Ring")) EXPECT_EQ(m, MaskOf(Algorithm::kRing));
  for (coll::AlgorithmMask m : Parse("tree, ring")) EXPECT_EQ(m, MaskOf(Algorithm::kTree) | MaskOf(Algorithm::kRing));
  for (coll::AlgorithmMask m : Parse("^ring")) EXPECT_EQ(m, kAnyAlgorithm & ~MaskOf(Algorithm::kRing));
}

// Ranks compare settings by this text at creation: what a setting allows, however it is spelt.
TEST(AlgorithmSetting, CanonicalTextDependsOnlyOnWhatIsAllowed) {
  auto canonical = [](const std::string& text) { return CanonicalAlgorithmSetting(Parse(text)); };
  EXPECT_EQ(canonical(""), "(tuner)");
  EXPECT_EQ(canonical("nvls"), "(tuner)");
  EXPECT_EQ(canonical("ring"), "ring");
  EXPECT_EQ(canonical(" RING; "), "ring");
  EXPECT_EQ(canonical("tree,ring"), canonical("ring,nvls,tree"));
  EXPECT_EQ(canonical("^ring"), "tree,chain,recdoubling,pairwise");
  EXPECT_EQ(canonical("^ring"), canonical("pairwise,recdoubling,chain,tree"));
  EXPECT_EQ(canonical("allreduce:tree;allgather:ring"), "allreduce:tree;allgather:ring");
  EXPECT_EQ(canonical("allgather:ring;allreduce:tree"), "allreduce:tree;allgather:ring");
  EXPECT_NE(canonical("ring"), canonical("allreduce:ring"));
}

TEST(AlgorithmSetting, SectionsNameTheirCollectiveAndLeaveTheOthers) {
  const AllowedAlgorithms a = Parse("allreduce:tree;allgather:ring;sendrecv:ring");
  EXPECT_EQ(For(a, Collective::kAllReduce), MaskOf(Algorithm::kTree));
  EXPECT_EQ(For(a, Collective::kAllGather), MaskOf(Algorithm::kRing));
  EXPECT_EQ(For(a, Collective::kBroadcast), kAnyAlgorithm);
  EXPECT_EQ(For(a, Collective::kReduceScatter), kAnyAlgorithm);
  // A section naming a collective wins over one that does not, in either order.
  for (const char* text : {"allreduce:tree;ring", "ring;allreduce:tree"}) {
    const AllowedAlgorithms b = Parse(text);
    EXPECT_EQ(For(b, Collective::kAllReduce), MaskOf(Algorithm::kTree)) << text;
    EXPECT_EQ(For(b, Collective::kAllGather), MaskOf(Algorithm::kRing)) << text;
  }
}

TEST(AlgorithmSetting, NcclsOwnAlgorithmsAreSkipped) {
  for (coll::AlgorithmMask m : Parse("NVLS")) EXPECT_EQ(m, kAnyAlgorithm);
  for (coll::AlgorithmMask m : Parse("nvlstree,ring")) EXPECT_EQ(m, MaskOf(Algorithm::kRing));
  for (coll::AlgorithmMask m : Parse("^CollNetDirect,pat")) EXPECT_EQ(m, kAnyAlgorithm);
  const AllowedAlgorithms a = Parse("allreduce:nvls;broadcast:chain");
  EXPECT_EQ(For(a, Collective::kAllReduce), kAnyAlgorithm);
  EXPECT_EQ(For(a, Collective::kBroadcast), MaskOf(Algorithm::kChain));
}

TEST(AlgorithmSetting, ListsLeftToTheTunerAreReturnedNotLogged) {
  AllowedAlgorithms a;
  std::vector<std::string> left;
  ASSERT_TRUE(ParseAlgorithmSetting("allreduce:nvls;broadcast:chain;allgather:pat,collnet", "NCCL_ALGO", &a, &left).ok());
  EXPECT_EQ(left, (std::vector<std::string>{"nvls", "pat,collnet"}));
  left.clear();
  ASSERT_TRUE(ParseAlgorithmSetting("^nvls", "NCCL_ALGO", &a, &left).ok());  // an exclusion leaves nothing to report
  EXPECT_TRUE(left.empty());
}

TEST(AlgorithmSetting, AnythingElseIsNamedWithItsVariable) {
  AllowedAlgorithms a;
  auto expect_bad = [&](const std::string& text, const std::string& needle) {
    Status s = ParseAlgorithmSetting(text, "NCCL_ALGO", &a);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << text;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
  };
  expect_bad("bogus", "NCCL_ALGO='bogus': unknown algorithm 'bogus' (valid: ring, tree, chain");
  expect_bad("allgathr:ring", "unknown collective 'allgathr'");
  expect_bad("ring,,tree", "an empty algorithm name");
  expect_bad("^ring,tree,chain,recdoubling,pairwise", "it excludes every algorithm braid has");
  expect_bad("sendrecv:bogus", "unknown algorithm 'bogus'");
}

}  // namespace
}  // namespace braid::runtime
