// The point-to-point tags (src/runtime/p2p_tags.h): the three kinds never collide, a packet-stream
// receive matches exactly the stream of its sender and communicator, and a lone message's number
// comes back whole from its low bits across the tag's wrap-around.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>

#include "runtime/p2p_tags.h"

namespace braid::runtime {
namespace {

constexpr uint64_t kRange = uint64_t(1) << kLoneIndexBits;

bool StreamMatches(uint64_t sent, uint64_t posted) { return ((sent ^ posted) & ~kPacketStreamIgnore) == 0; }

TEST(P2pTags, KindsAreDistinctAndOnlyTheStreamMatchesAStreamReceive) {
  const uint64_t stream = PacketTag(7, 3);
  for (uint64_t index : {uint64_t(0), uint64_t(1), uint64_t(12345), kRange - 1, kRange, 5 * kRange + 9}) {
    SCOPED_TRACE(index);
    const uint64_t lone = LoneTag(7, 3, index), tagged = MessageTag(7, 3, index);
    EXPECT_TRUE(IsLoneTag(lone));
    EXPECT_FALSE(IsLoneTag(stream));
    EXPECT_FALSE(IsLoneTag(tagged));
    EXPECT_NE(lone, stream);
    EXPECT_NE(lone, tagged);
    EXPECT_NE(tagged, stream);
    EXPECT_TRUE(StreamMatches(lone, stream));
    EXPECT_FALSE(StreamMatches(tagged, stream));
    EXPECT_FALSE(StreamMatches(LoneTag(7, 4, index), stream));  // another sender
    EXPECT_FALSE(StreamMatches(LoneTag(8, 3, index), stream));  // another communicator
  }
  EXPECT_TRUE(StreamMatches(stream, stream));
}

TEST(P2pTags, LoneNumbersComeBackWholeNearTheWaitingReceive) {
  for (uint64_t index : {uint64_t(0), uint64_t(5), kRange - 1, kRange, kRange + 1, 3 * kRange + 77}) {
    SCOPED_TRACE(index);
    const uint64_t tag = LoneTag(1, 2, index);
    EXPECT_EQ(LoneIndex(tag, index), index);                  // the expected one
    EXPECT_EQ(LoneIndex(tag, index - std::min(index, kRange / 3)), index);  // ahead of the receive
    EXPECT_EQ(LoneIndex(tag, index + 1000), index);           // behind it
  }
  // Ahead by up to half the range; no number below zero.
  EXPECT_EQ(LoneIndex(LoneTag(1, 2, kRange / 2 - 1), 0), kRange / 2 - 1);
  EXPECT_EQ(LoneIndex(LoneTag(1, 2, kRange - 1), 0), kRange - 1);
  EXPECT_EQ(LoneIndex(LoneTag(1, 2, kRange - 1), kRange), kRange - 1);
}

}  // namespace
}  // namespace braid::runtime
