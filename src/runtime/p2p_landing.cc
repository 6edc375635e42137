#include "runtime/p2p_landing.h"

#include <algorithm>

namespace braid::runtime {

void PacketLanding::Clear() {
  if (!buffer_) buffer_ = std::make_unique<std::byte[]>(kMaxPacketBytes);
  kind_ = Kind::kPlain;
  planned_.clear();
  copied_.clear();
  segments_.clear();
  segment_starts_.clear();
  piece_start_ = 0;
  at_ = kPacketHeaderBytes;
  stream_ = kPacketHeaderBytes;
}

bool PacketLanding::OverlapsCopied(const void* buf, size_t bytes) const {
  const auto* begin = static_cast<const std::byte*>(buf);
  for (size_t k : copied_) {
    const auto* other = static_cast<const std::byte*>(planned_[k].buf);
    if (begin < other + planned_[k].bytes && other < begin + bytes) return true;
  }
  return false;
}

bool PacketLanding::Expect(uint64_t index, void* buf, size_t bytes) {
  if (planned_.size() == kMaxPacketMessages || stream_ + PackedSize(bytes) > kMaxPacketBytes) return false;
  const bool in_place = InPlace(bytes);
  if (in_place && OverlapsCopied(buf, bytes)) return false;
  planned_.push_back({index, buf, bytes, at_, in_place});
  if (!in_place && bytes) copied_.push_back(planned_.size() - 1);
  at_ += kPacketEntryHeaderBytes;
  stream_ += kPacketEntryHeaderBytes;
  size_t padded = PackedSize(bytes) - kPacketEntryHeaderBytes;
  if (in_place) {
    ClosePiece();
    segments_.push_back({buf, bytes});
    segment_starts_.push_back(stream_);
    stream_ += bytes;
    padded -= bytes;  // the padding opens the buffer's next piece
  }
  at_ += padded;
  stream_ += padded;
  return true;
}

void PacketLanding::ClosePiece() {
  if (at_ == piece_start_) return;
  // The piece's first byte is stream byte stream_ - (at_ - piece_start_): pieces of the buffer
  // and of callers' buffers alternate, and the buffer's own bytes follow the stream in order.
  segments_.push_back({buffer_.get() + piece_start_, at_ - piece_start_});
  segment_starts_.push_back(stream_ - (at_ - piece_start_));
  piece_start_ = at_;
}

bool PacketLanding::Finish() {
  const bool any_in_place = std::any_of(planned_.begin(), planned_.end(), [](const Planned& p) { return p.in_place; });
  if (!any_in_place) {
    Clear();  // plain: the whole buffer receives
    return false;
  }
  if (planned_.size() == 1) {
    // A lone message expected: its buffer takes the stream's first bytes, the landing buffer
    // the rest (a packet, if one comes instead).
    const Planned only = planned_.front();
    segments_.assign({{only.buf, only.bytes}, {buffer_.get(), kMaxPacketBytes - only.bytes}});
    segment_starts_.assign({0, only.bytes});
    kind_ = Kind::kLone;
    return true;
  }
  // The tail takes whatever follows the plan: the segments hold kMaxPacketBytes in all.
  const size_t tail = kMaxPacketBytes - stream_;
  at_ += tail;
  stream_ += tail;
  ClosePiece();
  kind_ = Kind::kPacket;
  return true;
}

std::span<const std::byte> PacketLanding::Stream(size_t from, size_t to) {
  if (kind_ == Kind::kPlain) return {buffer_.get() + from, to - from};
  // The segment holding `from` (the last that starts at or before it).
  size_t k = size_t(std::upper_bound(segment_starts_.begin(), segment_starts_.end(), from) - segment_starts_.begin());
  k = k == 0 ? 0 : k - 1;
  const auto* first = static_cast<const std::byte*>(segments_[k].data) + (from - segment_starts_[k]);
  if (to <= segment_starts_[k] + segments_[k].bytes) return {first, to - from};
  scratch_.resize(to - from);
  size_t copied = 0;
  for (; k < segments_.size() && copied < scratch_.size(); ++k) {
    const size_t start = std::max(from, segment_starts_[k]);
    const size_t end = std::min(to, segment_starts_[k] + segments_[k].bytes);
    if (end <= start) continue;
    std::memcpy(scratch_.data() + copied, static_cast<const std::byte*>(segments_[k].data) + (start - segment_starts_[k]),
                end - start);
    copied += end - start;
  }
  return {scratch_.data(), copied};
}

}  // namespace braid::runtime
