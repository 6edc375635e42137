// The transport tags of point-to-point messages (the p2p half of transport::MakeTag's space).
//
// Every message up to the inline limit travels on a pair's *packet stream*, in the order the
// sender numbered them, as one of two kinds:
//   - a lone message: a blocking Send's payload, alone and unwrapped, its number in the tag
//     (the low kLoneIndexBits bits; the receiver restores the rest, LoneIndex);
//   - a packet: several messages with their numbers in headers (p2p_packet.h).
// A blocking Recv posts for exactly its lone message (straight into the caller's buffer) and
// probes for a packet now and then; a group's receive takes the stream's next arrival of either
// kind (kPacketStreamIgnore) and tells them apart by the tag. Larger messages travel tagged with
// their own number (MessageTag, 30 bits). Numbers only need to be told apart among the messages
// in flight between one pair.
#pragma once

#include <cstdint>

#include "transport/transport.h"

namespace braid::runtime {

// The sequence field's top bit marks the packet stream; its next bit a lone message there.
inline constexpr uint32_t kPacketSeq = 1u << (transport::kTagSeqBits - 1);
inline constexpr uint32_t kLoneSeq = 1u << (transport::kTagSeqBits - 2);
inline constexpr int kLoneIndexBits = transport::kTagSeqBits - 2 + transport::kTagOpBits;  // 29
// Where the sequence field sits in a tag (after the op bits and the p2p flag).
inline constexpr int kTagSeqShift = transport::kTagOpBits + 1;

inline uint64_t MessageTag(uint32_t comm_id, uint32_t source, uint64_t index) {
  constexpr uint32_t kOpMask = (1u << transport::kTagOpBits) - 1;
  return transport::MakeTag(comm_id, source, uint32_t(index >> transport::kTagOpBits) & (kPacketSeq - 1),
                            true, uint32_t(index) & kOpMask);
}

inline uint64_t PacketTag(uint32_t comm_id, uint32_t source) {
  return transport::MakeTag(comm_id, source, kPacketSeq, true, 0);
}

inline uint64_t LoneTag(uint32_t comm_id, uint32_t source, uint64_t index) {
  constexpr uint32_t kOpMask = (1u << transport::kTagOpBits) - 1;
  const uint32_t high = uint32_t(index >> transport::kTagOpBits) & (kLoneSeq - 1);
  return transport::MakeTag(comm_id, source, kPacketSeq | kLoneSeq | high, true, uint32_t(index) & kOpMask);
}

// The tag bits a packet-stream receive ignores: the lone flag and the lone number.
inline constexpr uint64_t kPacketStreamIgnore =
    (uint64_t(2 * kLoneSeq - 1) << kTagSeqShift) | ((uint64_t(1) << transport::kTagOpBits) - 1);

inline bool IsLoneTag(uint64_t tag) {
  return ((tag >> kTagSeqShift) & (kPacketSeq | kLoneSeq)) == (kPacketSeq | kLoneSeq);
}

// The number of the lone message tagged `tag`: the one with its low bits nearest to `near` (the
// receiver's lowest number still waiting), within half the tag's range either way.
inline uint64_t LoneIndex(uint64_t tag, uint64_t near) {
  constexpr uint64_t kRange = uint64_t(1) << kLoneIndexBits;
  const uint64_t low = ((tag >> kTagSeqShift) & (kLoneSeq - 1)) << transport::kTagOpBits |
                       (tag & ((uint64_t(1) << transport::kTagOpBits) - 1));
  const uint64_t ahead = (low - near) & (kRange - 1);  // how far past `near`, modulo the range
  if (ahead < kRange / 2 || near < kRange - ahead) return near + ahead;
  return near - (kRange - ahead);
}

}  // namespace braid::runtime
