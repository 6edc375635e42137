#include "runtime/p2p_packet.h"

#include <cstring>

#include <fmt/format.h>


namespace braid::runtime {

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

Status PacketReader::TrailingBytes() const {
  return Malformed(fmt::format("{} bytes after the last message", packet_.size() - at_));
}

Status PacketReader::MissingHeader() const {
  return Malformed(fmt::format("message {} of {} has no header", read_, count_));
}

Status PacketReader::Overrun(uint32_t length) const {
  return Malformed(fmt::format("message {} of {} ({} bytes) overruns the packet", read_, count_, length));
}

}  // namespace braid::runtime
