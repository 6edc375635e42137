// The packet that carries small point-to-point messages: every message of up to the inline
// limit that one group sends to one peer travels in one transport message, so a window of
// 64 one-byte sends costs one UCX send and one receive instead of 64 of each (where the
// per-message cost of the tag API, not bytes, bounds the rate). A message sent alone travels
// without a packet (p2p_tags.h).
//
// Layout (host byte order; every rank of a job runs on the same architecture):
//   u32 message count, u32 reserved (0)
//   per message: u64 index (the sender's message number to this peer), u32 bytes,
//                u32 reserved (0), then `bytes` of payload, then zero padding to 8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <array>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "braid/status.h"
#include "transport/transport.h"

namespace braid::runtime {

inline constexpr size_t kPacketHeaderBytes = 8;
inline constexpr size_t kPacketEntryHeaderBytes = 16;
// Largest packet a sender builds (and the receive buffer of a peer's packet), in bytes: 64 KiB
// less 256, so that a full packet and UCX's eager header (8-24 bytes) cross the shared-memory
// lane as one fragment of its default segment (65472 bytes, transport/ucx/ucx_lane_settings.h).
inline constexpr size_t kMaxPacketBytes = (64 << 10) - 256;
// The inline limit may not exceed this (one message plus its headers fits a packet).
inline constexpr size_t kMaxInlineBytes = kMaxPacketBytes - kPacketHeaderBytes - kPacketEntryHeaderBytes;

// Packet bytes one message of `bytes` takes (header and padding included).
constexpr size_t PackedSize(size_t bytes) { return kPacketEntryHeaderBytes + ((bytes + 7) & ~size_t{7}); }

// A message's entry header (index, length, reserved), written at `entry`.
inline void WriteEntryHeader(std::byte* entry, uint64_t index, size_t bytes) {
  const uint32_t length = uint32_t(bytes);
  const uint32_t reserved = 0;
  std::memcpy(entry, &index, sizeof(index));
  std::memcpy(entry + 8, &length, sizeof(length));
  std::memcpy(entry + 12, &reserved, sizeof(reserved));
}

// A packet leaves once it holds this many messages, so the receiver unpacks the first ones
// while the sender still adds more (a whole window in one packet would serialise the two).
// 32: 16 cost more in packet sends than it gained in overlap, 64 was no better (1 B-1 KiB
// windows of 64, docs/PERFORMANCE.md). No packet holds more.
inline constexpr uint32_t kMaxPacketMessages = 32;

// Messages of at least this many bytes are not copied into their packet: the packet leaves as a
// list of segments (Transport::PostSendGather) that point at them in the callers' buffers, which
// stay valid until the batch ends. Smaller ones are copied with the headers, since each segment
// costs the transport a pass of its own. (A packed 4 KiB message was copied twice on the sending
// side, into the packet and into UCX's shared-memory queue, and those copies bounded the
// windowed bandwidth: docs/PERFORMANCE.md, session 64.)
inline constexpr size_t kGatherMinBytes = 1024;

class PacketWriter {
 public:
  // A message as added: its number and the caller's buffer.
  struct Message {
    uint64_t index = 0;
    const void* data = nullptr;
    size_t bytes = 0;
  };

  // Empties the packet (allocating its staging buffer on first use).
  void Reset() {
    if (!staging_) staging_ = std::make_unique<std::byte[]>(kMaxPacketBytes);
    std::memset(staging_.get(), 0, kPacketHeaderBytes);
    staged_ = kPacketHeaderBytes;
    run_start_ = 0;
    size_ = kPacketHeaderBytes;
    count_ = 0;
    gathered_ = false;
    segments_.clear();
  }
  uint32_t count() const { return count_; }
  // The packet's length on the wire, in bytes.
  size_t size() const { return size_; }
  // Whether a message of `bytes` (<= kMaxInlineBytes) still fits.
  bool Fits(size_t bytes) const { return size_ + PackedSize(bytes) <= kMaxPacketBytes; }
  // Adds message `index`; its buffer must stay valid until the packet has been sent.
  void Add(uint64_t index, const void* data, size_t bytes);
  // The first message added: a packet of one leaves as that message alone (p2p_tags.h).
  const Message& first() const { return first_; }
  // Whether every byte of the packet is in the staging buffer (no message was left in place).
  bool contiguous() const { return !gathered_; }
  // The packet when contiguous(); valid until the next Reset/Add.
  std::span<const std::byte> staged() const { return {staging_.get(), staged_}; }
  // The packet in wire order: pieces of the staging buffer (headers, padding, copied messages)
  // and the callers' buffers of the messages left in place. Valid until the next Reset/Add; the
  // staging pieces also see later Adds' updates of the message count.
  std::span<const transport::SendSegment> Segments() {
    CloseRun();
    return segments_;
  }

 private:
  // Ends the staging piece being written (if it holds anything) as a segment.
  void CloseRun() {
    if (staged_ > run_start_) segments_.push_back({staging_.get() + run_start_, staged_ - run_start_});
    run_start_ = staged_;
  }

  std::unique_ptr<std::byte[]> staging_;  // kMaxPacketBytes, allocated once
  size_t staged_ = 0;                     // bytes written to staging_
  size_t run_start_ = 0;                  // where the staging piece being written starts
  size_t size_ = 0;
  uint32_t count_ = 0;
  Message first_;
  bool gathered_ = false;                         // a message was left in place
  std::vector<transport::SendSegment> segments_;  // closed pieces, in order
};

inline void PacketWriter::Add(uint64_t index, const void* data, size_t bytes) {
  if (count_ == 0) first_ = {index, data, bytes};
  std::byte* entry = staging_.get() + staged_;
  WriteEntryHeader(entry, index, bytes);
  const size_t padded = PackedSize(bytes) - kPacketEntryHeaderBytes;
  const uint64_t zero = 0;
  if (bytes >= kGatherMinBytes) {
    staged_ += kPacketEntryHeaderBytes;
    CloseRun();
    segments_.push_back({data, bytes});
    gathered_ = true;
    // Its padding opens the next staging piece. (Staging holds at most the packet's bytes less
    // this message's, so the 8-byte store fits.)
    std::memcpy(staging_.get() + staged_, &zero, 8);
    staged_ += padded - bytes;
  } else {
    // Zero the payload's last 8-byte word first, so its padding never carries stale bytes of an
    // earlier packet (one fixed-size store instead of a memset call per message).
    if (padded) std::memcpy(entry + kPacketEntryHeaderBytes + padded - 8, &zero, 8);
    if (bytes) std::memcpy(entry + kPacketEntryHeaderBytes, data, bytes);
    staged_ += PackedSize(bytes);
  }
  size_ += PackedSize(bytes);
  ++count_;
  std::memcpy(staging_.get(), &count_, sizeof(count_));
}

// The message headers of a packet, read one by one with bounds checks.
class PacketReader {
 public:
  PacketReader(std::span<const std::byte> packet, int sender) : packet_(packet), sender_(sender) {}
  // A reader of the rest of a packet of `count` messages whose first `read` were read
  // elsewhere: `rest` starts at message `read`'s header. Start is not called.
  static PacketReader Rest(std::span<const std::byte> rest, int sender, uint32_t count, uint32_t read) {
    PacketReader reader(rest, sender);
    reader.count_ = count;
    reader.read_ = read;
    return reader;
  }
  // Reads the packet header; an Internal error naming the sender if the packet is malformed.
  Status Start();
  // The next message, or *more = false at the end (an Internal error if bytes are left over).
  // Inline: it runs once per message; the error cases are out of line.
  Status Next(bool* more, uint64_t* index, std::span<const std::byte>* payload) {
    *more = read_ < count_;
    if (!*more) return at_ == packet_.size() ? Status::Ok() : TrailingBytes();
    if (packet_.size() - at_ < kPacketEntryHeaderBytes) return MissingHeader();
    uint32_t length = 0;
    std::memcpy(index, packet_.data() + at_, sizeof(*index));
    std::memcpy(&length, packet_.data() + at_ + 8, sizeof(length));
    if (packet_.size() - at_ < PackedSize(length)) return Overrun(length);
    *payload = packet_.subspan(at_ + kPacketEntryHeaderBytes, length);
    at_ += PackedSize(length);
    ++read_;
    return Status::Ok();
  }

 private:
  Status Malformed(const std::string& what) const;
  Status TrailingBytes() const;
  Status MissingHeader() const;
  Status Overrun(uint32_t length) const;
  std::span<const std::byte> packet_;
  int sender_;
  uint32_t count_ = 0;
  uint32_t read_ = 0;
  size_t at_ = 0;
};

// Calls visit(index, payload) for each message `reader` has not read yet, in order; stops at the
// first non-OK visit or reader error.
template <typename Visit>
Status ForEachRemainingMessage(PacketReader& reader, Visit&& visit) {
  for (;;) {
    bool more = false;
    uint64_t index = 0;
    std::span<const std::byte> payload;
    if (Status s = reader.Next(&more, &index, &payload); !s.ok() || !more) return s;
    if (Status s = visit(index, payload); !s.ok()) return s;
  }
}

// Calls visit(index, payload) for each message of `packet` in order; stops at the first
// non-OK visit. A malformed packet (a bug or memory corruption, never user input) is an
// Internal error naming the sender.
template <typename Visit>
Status ForEachPackedMessage(std::span<const std::byte> packet, int sender, Visit&& visit) {
  PacketReader reader(packet, sender);
  if (Status s = reader.Start(); !s.ok()) return s;
  return ForEachRemainingMessage(reader, visit);
}

}  // namespace braid::runtime
