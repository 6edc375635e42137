#include "runtime/p2p_packet.h"

#include <cstring>

#include <fmt/format.h>


namespace braid::runtime {

void PacketWriter::Reset() {
  if (!buffer_) buffer_ = std::make_unique<std::byte[]>(kMaxPacketBytes);
  std::memset(buffer_.get(), 0, kPacketHeaderBytes);
  size_ = kPacketHeaderBytes;
  count_ = 0;
}

Status PacketReader::Malformed(const std::string& what) const {
  return Status::Internal(fmt::format("malformed point-to-point packet from rank {} ({} bytes): {}",
                                      sender_, packet_.size(), what));
}

Status PacketReader::Start() {
  if (packet_.size() < kPacketHeaderBytes) return Malformed("shorter than its header");
  std::memcpy(&count_, packet_.data(), sizeof(count_));
  at_ = kPacketHeaderBytes;
  return Status::Ok();
}

Status PacketReader::Next(bool* more, uint64_t* index, std::span<const std::byte>* payload) {
  *more = read_ < count_;
  if (!*more) {
    if (at_ != packet_.size()) return Malformed(fmt::format("{} bytes after the last message", packet_.size() - at_));
    return Status::Ok();
  }
  if (packet_.size() - at_ < kPacketEntryHeaderBytes)
    return Malformed(fmt::format("message {} of {} has no header", read_, count_));
  uint32_t length = 0;
  std::memcpy(index, packet_.data() + at_, sizeof(*index));
  std::memcpy(&length, packet_.data() + at_ + 8, sizeof(length));
  if (packet_.size() - at_ < PackedSize(length))
    return Malformed(fmt::format("message {} of {} ({} bytes) overruns the packet", read_, count_, length));
  *payload = packet_.subspan(at_ + kPacketEntryHeaderBytes, length);
  at_ += PackedSize(length);
  ++read_;
  return Status::Ok();
}

}  // namespace braid::runtime
