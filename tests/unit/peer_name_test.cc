// Error messages name a split communicator's peer by both numberings (src/runtime/peer_name.h).
#include <gtest/gtest.h>

#include "runtime/peer_name.h"

namespace braid::runtime {
namespace {

TEST(PeerName, SameNumberingSaysItOnce) {
  EXPECT_EQ(PeerName(2, {0, 1, 2, 3}), "rank 2");
}

TEST(PeerName, SplitCommunicatorAddsTheWorldRank) {
  // The odd ranks of four, as Split(color = rank % 2) makes them.
  EXPECT_EQ(PeerName(1, {1, 3}), "rank 1 (world rank 3)");
  EXPECT_EQ(PeerName(0, {1, 3}), "rank 0 (world rank 1)");
}

}  // namespace
}  // namespace braid::runtime
