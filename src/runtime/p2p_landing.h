// Where the receive of a peer's packet stream puts what arrives. The receiver knows the packed
// receives waiting for that peer, in order, and a packet carries their messages in that order
// (p2p_packet.h), so it can tell where each will sit in the packet before it arrives: the
// receive is then posted scattered (Transport::PostRecvScatter), each message of at least
// kGatherMinBytes straight into its caller's buffer, and only headers, padding and smaller
// messages into the landing buffer. A packet read that way costs the receiver no copy of those
// messages; before, every packed byte was copied twice, into the landing buffer and out of it,
// and the copy out came after the whole packet was there (docs/PERFORMANCE.md, session 65).
//
// The plan is a guess that a correct program always meets, except when the peer sent fewer
// messages per group than this rank receives per group (a lone message arrives where a packet
// was planned): what arrived is then read back as one stream (copied once more, into scratch).
// A packet that differs from the plan in any message (a size mismatch: the caller's error) is
// read the same way from that message on, so the error names the same sizes as without a plan.
// Messages after the planned ones (their receives not posted yet) land in the buffer's tail.
//
// Three kinds of plan:
//   plain:  nothing in place; the whole buffer receives (no packed receive of 1 KiB or more).
//   lone:   one receive waits: its buffer first, then the landing buffer. A lone message of the
//           size expected lands in place.
//   packet: two or more wait: the packet's layout, header by header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "braid/status.h"
#include "runtime/p2p_packet.h"
#include "transport/transport.h"

namespace braid::runtime {

class PacketLanding {
 public:
  // Whether a planned message of `bytes` lands in its caller's buffer.
  static constexpr bool InPlace(size_t bytes) { return bytes >= kGatherMinBytes; }

  // Starts a new plan, plain until Expect adds to it (allocating the buffer on first use).
  void Clear();
  // Plans message `index` of `bytes` (into `buf`) as the next one to arrive. False, and nothing
  // changed, when no packet could hold it after those planned (count or bytes), or when it would
  // land in place over the buffer of an earlier planned message that is copied (a copy made after
  // the packet arrived would overwrite it: receives into one buffer must end with the last
  // message): stop there, the rest land in the buffer and are copied in order.
  bool Expect(uint64_t index, void* buf, size_t bytes);
  // Ends the plan: whether anything lands in place (post Segments() scattered), or not (post
  // the whole buffer, buffer()).
  bool Finish();
  std::span<const transport::RecvSegment> Segments() const { return segments_; }
  std::byte* buffer() { return buffer_.get(); }

  // The bytes [from, to) of what arrived, as one span: a view where they sit in one piece,
  // else copied into scratch (valid until the next call). For a lone message: (0, its length).
  std::span<const std::byte> Stream(size_t from, size_t to);

  // Calls visit(index, payload) for each message of the packet that arrived (`received` bytes),
  // as ForEachPackedMessage does. A message that landed in place has its caller's buffer as
  // payload.
  template <typename Visit>
  Status ForEachMessage(size_t received, int sender, Visit&& visit);

 private:
  enum class Kind : uint8_t { kPlain, kLone, kPacket };
  struct Planned {
    uint64_t index;
    void* buf;
    size_t bytes;
    size_t header_at;  // where its entry header lands in buffer_
    bool in_place;
  };
  // Ends the landing buffer's piece being planned (if it holds anything) as a segment.
  void ClosePiece();
  // Whether [buf, buf + bytes) overlaps the buffer of a planned message that is copied.
  bool OverlapsCopied(const void* buf, size_t bytes) const;

  std::unique_ptr<std::byte[]> buffer_;  // kMaxPacketBytes, allocated once
  Kind kind_ = Kind::kPlain;
  std::vector<Planned> planned_;
  std::vector<size_t> copied_;  // positions in planned_ of the messages copied out of the buffer
  std::vector<transport::RecvSegment> segments_;
  std::vector<size_t> segment_starts_;  // where in the stream each segment starts
  size_t piece_start_ = 0;  // where in buffer_ the piece being planned starts
  size_t at_ = 0;           // buffer_ bytes planned
  size_t stream_ = 0;       // stream bytes planned
  std::vector<std::byte> scratch_;
};

template <typename Visit>
Status PacketLanding::ForEachMessage(size_t received, int sender, Visit&& visit) {
  if (kind_ != Kind::kPacket) return ForEachPackedMessage(Stream(0, received), sender, visit);
  if (received < kPacketHeaderBytes) return ForEachPackedMessage(Stream(0, received), sender, visit);
  uint32_t count = 0;
  std::memcpy(&count, buffer_.get(), sizeof(count));
  size_t stream = kPacketHeaderBytes;
  uint32_t read = 0;
  // The planned messages, while the packet matches the plan.
  for (; read < count && read < planned_.size(); ++read) {
    const Planned& p = planned_[read];
    if (received - stream < PackedSize(p.bytes)) break;
    uint64_t index = 0;
    uint32_t length = 0;
    std::memcpy(&index, buffer_.get() + p.header_at, sizeof(index));
    std::memcpy(&length, buffer_.get() + p.header_at + 8, sizeof(length));
    if (index != p.index || length != p.bytes) break;
    const std::span<const std::byte> payload =
        p.in_place ? std::span<const std::byte>(static_cast<const std::byte*>(p.buf), p.bytes)
                   : std::span<const std::byte>(buffer_.get() + p.header_at + kPacketEntryHeaderBytes, p.bytes);
    if (Status s = visit(index, payload); !s.ok()) return s;
    stream += PackedSize(p.bytes);
  }
  // The rest, read from the stream (in the buffer's tail after a met plan).
  PacketReader rest = PacketReader::Rest(Stream(stream, received), sender, count, read);
  return ForEachRemainingMessage(rest, visit);
}

}  // namespace braid::runtime
