// The packet format of small point-to-point messages: what a writer packs, a reader returns in
// order, byte for byte; a damaged packet is an error naming the sender, never a crash.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/p2p_packet.h"

namespace braid::runtime {
namespace {

struct Message {
  uint64_t index;
  std::vector<std::byte> payload;
};

std::vector<std::byte> Bytes(size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::byte((seed * 131 + i * 7) & 0xff);
  return v;
}

// The packet as the wire carries it: its segments one after the other.
std::vector<std::byte> Flatten(PacketWriter& writer) {
  std::vector<std::byte> packet;
  for (const transport::SendSegment& piece : writer.Segments()) {
    const auto* data = static_cast<const std::byte*>(piece.data);
    packet.insert(packet.end(), data, data + piece.bytes);
  }
  EXPECT_EQ(packet.size(), writer.size());
  return packet;
}

Status ReadAll(std::span<const std::byte> packet, std::vector<Message>* out) {
  return ForEachPackedMessage(packet, 3, [&](uint64_t index, std::span<const std::byte> payload) {
    out->push_back({index, {payload.begin(), payload.end()}});
    return Status::Ok();
  });
}

// The packet reads back as exactly `sent`, in order, and every padding byte is zero (the reader
// skips padding, so it would not notice).
void ExpectReadsBack(PacketWriter& writer, const std::vector<Message>& sent) {
  const std::vector<std::byte> packet = Flatten(writer);
  size_t at = kPacketHeaderBytes;
  for (const Message& m : sent) {
    at += kPacketEntryHeaderBytes + m.payload.size();
    for (const size_t end = at + (PackedSize(m.payload.size()) - kPacketEntryHeaderBytes - m.payload.size()); at < end;
         ++at) {
      ASSERT_LT(at, packet.size());
      EXPECT_EQ(packet[at], std::byte{0}) << "padding after message " << m.index;
    }
  }
  EXPECT_EQ(at, packet.size());
  std::vector<Message> got;
  Status s = ReadAll(packet, &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), sent.size());
  for (size_t m = 0; m < sent.size(); ++m) {
    EXPECT_EQ(got[m].index, sent[m].index);
    EXPECT_EQ(got[m].payload, sent[m].payload) << "message " << m;
  }
}

TEST(P2pPacket, RoundTripsMessagesOfEverySmallSizeInOrder) {
  PacketWriter writer;
  writer.Reset();
  std::vector<Message> sent;
  for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 1000}) {
    sent.push_back({1000 + n, Bytes(n, int(n))});
    ASSERT_TRUE(writer.Fits(n));
    writer.Add(sent.back().index, sent.back().payload.data(), n);
  }
  EXPECT_EQ(writer.count(), sent.size());
  EXPECT_TRUE(writer.contiguous());  // every message below kGatherMinBytes is copied
  ExpectReadsBack(writer, sent);
}

TEST(P2pPacket, FillsToTheLimitAndResetStartsEmpty) {
  PacketWriter writer;
  writer.Reset();
  EXPECT_TRUE(writer.Fits(kMaxInlineBytes));
  std::vector<std::byte> big = Bytes(kMaxInlineBytes, 1);
  writer.Add(0, big.data(), big.size());
  EXPECT_EQ(writer.size(), kMaxPacketBytes);
  EXPECT_FALSE(writer.Fits(0));
  writer.Reset();
  EXPECT_EQ(writer.count(), 0u);
  std::vector<Message> got;
  ASSERT_TRUE(ReadAll(Flatten(writer), &got).ok());
  EXPECT_TRUE(got.empty());
}

// Messages of kGatherMinBytes or more stay in the caller's buffer: the packet's segments point at
// them (read when the packet is sent, not when it is added), between staged pieces that hold the
// headers, the padding and the smaller messages, and the whole reads back in order.
TEST(P2pPacket, LargerMessagesAreLeftInPlaceBetweenStagedPieces) {
  PacketWriter writer;
  writer.Reset();
  // Stale bytes from an earlier packet, so that padding the writer forgets to zero shows.
  const std::vector<std::byte> stale(kGatherMinBytes - 1, std::byte{0xee});
  while (writer.Fits(stale.size())) writer.Add(0, stale.data(), stale.size());
  writer.Reset();
  std::vector<Message> sent;
  for (size_t n : {size_t{3}, kGatherMinBytes, kGatherMinBytes - 1, kGatherMinBytes + 5, size_t{0}, size_t{4096},
                   size_t{4099}}) {
    sent.push_back({500 + n, Bytes(n, int(n) + 1)});
    writer.Add(sent.back().index, sent.back().payload.data(), n);
  }
  EXPECT_EQ(writer.first().index, sent[0].index);
  EXPECT_EQ(writer.first().data, sent[0].payload.data());
  EXPECT_FALSE(writer.contiguous());
  // A change to a large message after Add is what leaves: nothing of it was copied.
  sent[1].payload[0] = ~sent[1].payload[0];
  size_t in_place = 0;
  for (const transport::SendSegment& piece : writer.Segments()) {
    for (const Message& m : sent) in_place += m.payload.size() >= kGatherMinBytes && piece.data == m.payload.data();
  }
  EXPECT_EQ(in_place, 4u);  // 1024, 1029, 4096 and 4099 bytes
  ExpectReadsBack(writer, sent);
  // Reset forgets the pieces: the next packet starts staged and contiguous.
  writer.Reset();
  const std::vector<std::byte> small = Bytes(5, 9);
  writer.Add(1, small.data(), small.size());
  EXPECT_EQ(writer.Segments().size(), 1u);
  EXPECT_TRUE(writer.contiguous());
  ExpectReadsBack(writer, {{1, small}});
}

TEST(P2pPacket, DamagedPacketsAreInternalErrorsNamingTheSender) {
  PacketWriter writer;
  writer.Reset();
  std::vector<std::byte> payload = Bytes(24, 2);
  writer.Add(5, payload.data(), payload.size());
  std::vector<std::byte> good = Flatten(writer);
  std::vector<Message> got;

  Status s = ReadAll(std::span<const std::byte>(good.data(), 4), &got);
  EXPECT_EQ(s.code(), StatusCode::kInternalError);
  EXPECT_NE(s.message().find("from rank 3"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("shorter than its header"), std::string::npos) << s.message();

  s = ReadAll(std::span<const std::byte>(good.data(), good.size() - 8), &got);  // cut payload
  EXPECT_EQ(s.code(), StatusCode::kInternalError);
  EXPECT_NE(s.message().find("overruns the packet"), std::string::npos) << s.message();

  std::vector<std::byte> longer = good;
  longer.resize(good.size() + 8);
  s = ReadAll(longer, &got);
  EXPECT_NE(s.message().find("8 bytes after the last message"), std::string::npos) << s.message();

  std::vector<std::byte> more = good;
  uint32_t count = 2;  // claims a second message that is not there
  std::memcpy(more.data(), &count, sizeof(count));
  s = ReadAll(more, &got);
  EXPECT_NE(s.message().find("message 1 of 2 has no header"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace braid::runtime
