// How braid's trees cross host boundaries (collectives/tree_crossings.h): the counts the tuner's
// tree terms take, checked by hand on 8 ranks and against a plain walk on larger groups.
#include "collectives/tree_crossings.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace braid::coll {
namespace {

// Ranks 0-3 on host 0, 4-7 on host 1 (as mpiexec -ppn 4 places them).
const std::vector<int> kTwoHostsOfFour = {0, 0, 0, 0, 1, 1, 1, 1};

TEST(TreeCrossings, EachPathOfTheDoubleTreeCrossesTwiceOnTwoHostsOfFour) {
  // Tree 0: 0 -> 4 -> {2, 6}, 2 -> {1, 3}, 6 -> {5, 7}: the path 0, 4, 2 crosses twice.
  EXPECT_EQ(DoubleTreeParentOf(8, 0)(4), 0);
  EXPECT_EQ(DoubleTreeParentOf(8, 0)(2), 4);
  EXPECT_EQ(MostCrossingsOnAPath(kTwoHostsOfFour, DoubleTreeParentOf(8, 0)), 2);
  // Tree 1: 7 -> 3 -> {1, 5}: the path 7, 3, 5 crosses twice.
  EXPECT_EQ(DoubleTreeParentOf(8, 1)(3), 7);
  EXPECT_EQ(MostCrossingsOnAPath(kTwoHostsOfFour, DoubleTreeParentOf(8, 1)), 2);
  // The rooted tree has tree 0's shape.
  EXPECT_EQ(MostCrossingsOnAPath(kTwoHostsOfFour, RootedTreeParentOf(8)), 2);
  // One host: nothing crosses.
  EXPECT_EQ(MostCrossingsOnAPath(std::vector<int>(8, 0), DoubleTreeParentOf(8, 0)), 0);
}

TEST(TreeCrossings, LinkLoadCountsEachDirectionOfEachHostsLink) {
  TreeLinkLoad all_reduce;
  const std::vector<int> one_link(8, 0);
  for (int tree = 0; tree < 2; ++tree) all_reduce.Add(kTwoHostsOfFour, one_link, DoubleTreeParentOf(8, tree), true);
  // Crossing edges 0-4, 4-2 (tree 0) and 7-3, 3-5 (tree 1), each once up and once down: host 0
  // sends 4 per column and receives 4.
  EXPECT_EQ(all_reduce.Most(), 4);
  // A broadcast sends down only: 0 -> 4 out of host 0, 4 -> 2 out of host 1.
  TreeLinkLoad broadcast;
  broadcast.Add(kTwoHostsOfFour, one_link, RootedTreeParentOf(8), false);
  EXPECT_EQ(broadcast.Most(), 1);
  // Two links per host, ranks alternating between them: each carries half.
  TreeLinkLoad two_links;
  const std::vector<int> alternating = {0, 1, 0, 1, 0, 1, 0, 1};
  for (int tree = 0; tree < 2; ++tree) two_links.Add(kTwoHostsOfFour, alternating, DoubleTreeParentOf(8, tree), true);
  EXPECT_LT(two_links.Most(), 4);
  EXPECT_EQ(TreeLinkLoad().Most(), 0);
}

// Recursive doubling on 8 ranks: partners 1, 2 and 4 apart; on 6 ranks (2 extras) ranks 0 and 2
// fold into 1 and 3, and the 4 participants 1, 3, 4, 5 pair 1-3, 4-5, then 1-4, 3-5.
TEST(TreeCrossings, DoublingRoundsAcrossHosts) {
  EXPECT_EQ(DoublingCrossingRounds(kTwoHostsOfFour), 1);
  EXPECT_EQ(DoublingCrossingRounds({0, 1, 0, 1, 0, 1, 0, 1}), 1);  // only the round 1 apart
  EXPECT_EQ(DoublingCrossingRounds({0, 0, 0, 1, 1, 1}), 4);        // 2 -> 3 folds across; 1-3, 1-4
  EXPECT_EQ(DoublingCrossingRounds({0, 0, 1, 1, 2, 2}), 2);        // the folds stay home; 1-3, 1-4
  EXPECT_EQ(DoublingCrossingRounds({0, 1, 0, 1, 0, 1}), 4);        // 0 -> 1 folds across; 4-5, 1-4
  EXPECT_EQ(DoublingCrossingRounds(std::vector<int>(8, 0)), 0);
  EXPECT_EQ(DoublingCrossingRounds({0}), 0);
}

// The memoised walk agrees with walking every member up to the root, on random placements.
TEST(TreeCrossings, MostCrossingsMatchesAWalkFromEveryMember) {
  std::mt19937 random(59);
  for (int n : {2, 3, 7, 64, 100, 1000}) {
    for (int hosts : {2, 5, 16}) {
      std::vector<int> host_of(static_cast<size_t>(n));
      for (int& h : host_of) h = int(random() % unsigned(hosts));
      for (const TreeParentOf& parent_of : {DoubleTreeParentOf(n, 0), DoubleTreeParentOf(n, 1), RootedTreeParentOf(n)}) {
        int most = 0;
        for (int r = 0; r < n; ++r) {
          int crossings = 0;
          for (int m = r, p = parent_of(m); p >= 0; m = p, p = parent_of(m)) crossings += host_of[size_t(m)] != host_of[size_t(p)];
          most = std::max(most, crossings);
        }
        EXPECT_EQ(MostCrossingsOnAPath(host_of, parent_of), most) << n << " members on " << hosts << " hosts";
      }
    }
  }
}

}  // namespace
}  // namespace braid::coll
