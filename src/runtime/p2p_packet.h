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

#include "braid/status.h"

namespace braid::runtime {

inline constexpr size_t kPacketHeaderBytes = 8;
inline constexpr size_t kPacketEntryHeaderBytes = 16;
// Largest packet a sender builds (and the receive buffer of a peer's packet), in bytes.
inline constexpr size_t kMaxPacketBytes = 64 << 10;
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

class PacketWriter {
 public:
  // Empties the packet (allocating its buffer on first use). Inline: a blocking Send runs it
  // once per message.
  void Reset() {
    if (!buffer_) buffer_ = std::make_unique<std::byte[]>(kMaxPacketBytes);
    std::memset(buffer_.get(), 0, kPacketHeaderBytes);
    size_ = kPacketHeaderBytes;
    count_ = 0;
  }
  uint32_t count() const { return count_; }
  // Whether a message of `bytes` (<= kMaxInlineBytes) still fits.
  bool Fits(size_t bytes) const { return size_ + PackedSize(bytes) <= kMaxPacketBytes; }
  void Add(uint64_t index, const void* data, size_t bytes);
  // The packet so far; valid until the next Reset/Add.
  std::span<const std::byte> bytes() const { return {buffer_.get(), size_}; }

 private:
  std::unique_ptr<std::byte[]> buffer_;  // kMaxPacketBytes, allocated once
  size_t size_ = 0;
  uint32_t count_ = 0;
};

inline void PacketWriter::Add(uint64_t index, const void* data, size_t bytes) {
  std::byte* entry = buffer_.get() + size_;
  WriteEntryHeader(entry, index, bytes);
  // Zero the payload's last 8-byte word first, so its padding never carries stale bytes of an
  // earlier packet (one fixed-size store instead of a memset call per message).
  const size_t padded = PackedSize(bytes) - kPacketEntryHeaderBytes;
  const uint64_t zero = 0;
  if (padded) std::memcpy(entry + kPacketEntryHeaderBytes + padded - 8, &zero, 8);
  if (bytes) std::memcpy(entry + kPacketEntryHeaderBytes, data, bytes);
  size_ += PackedSize(bytes);
  ++count_;
  std::memcpy(buffer_.get(), &count_, sizeof(count_));
}

// When `packet` is well formed and holds exactly one message, sets *index and *payload and
// returns true; otherwise false. A group's packet of one message leaves as a lone message
// (p2p_tags.h) instead.
inline bool OnlyMessage(std::span<const std::byte> packet, uint64_t* index,
                        std::span<const std::byte>* payload) {
  if (packet.size() < kPacketHeaderBytes + kPacketEntryHeaderBytes) return false;
  uint32_t count = 0, length = 0;
  std::memcpy(&count, packet.data(), sizeof(count));
  std::memcpy(index, packet.data() + kPacketHeaderBytes, sizeof(*index));
  std::memcpy(&length, packet.data() + kPacketHeaderBytes + 8, sizeof(length));
  if (count != 1 || packet.size() != kPacketHeaderBytes + PackedSize(length)) return false;
  *payload = packet.subspan(kPacketHeaderBytes + kPacketEntryHeaderBytes, length);
  return true;
}

// The message headers of a packet, read one by one with bounds checks.
class PacketReader {
 public:
  PacketReader(std::span<const std::byte> packet, int sender) : packet_(packet), sender_(sender) {}
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

// Calls visit(index, payload) for each message of `packet` in order; stops at the first
// non-OK visit. A malformed packet (a bug or memory corruption, never user input) is an
// Internal error naming the sender.
template <typename Visit>
Status ForEachPackedMessage(std::span<const std::byte> packet, int sender, Visit&& visit) {
  PacketReader reader(packet, sender);
  if (Status s = reader.Start(); !s.ok()) return s;
  for (;;) {
    bool more = false;
    uint64_t index = 0;
    std::span<const std::byte> payload;
    if (Status s = reader.Next(&more, &index, &payload); !s.ok() || !more) return s;
    if (Status s = visit(index, payload); !s.ok()) return s;
  }
}

}  // namespace braid::runtime
