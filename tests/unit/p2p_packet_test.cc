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

Status ReadAll(std::span<const std::byte> packet, std::vector<Message>* out) {
  return ForEachPackedMessage(packet, 3, [&](uint64_t index, std::span<const std::byte> payload) {
    out->push_back({index, {payload.begin(), payload.end()}});
    return Status::Ok();
  });
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
  std::vector<Message> got;
  Status s = ReadAll(writer.bytes(), &got);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), sent.size());
  for (size_t m = 0; m < sent.size(); ++m) {
    EXPECT_EQ(got[m].index, sent[m].index);
    EXPECT_EQ(got[m].payload, sent[m].payload) << "message " << m;
  }
}

TEST(P2pPacket, FillsToTheLimitAndResetStartsEmpty) {
  PacketWriter writer;
  writer.Reset();
  EXPECT_TRUE(writer.Fits(kMaxInlineBytes));
  std::vector<std::byte> big = Bytes(kMaxInlineBytes, 1);
  writer.Add(0, big.data(), big.size());
  EXPECT_EQ(writer.bytes().size(), kMaxPacketBytes);
  EXPECT_FALSE(writer.Fits(0));
  writer.Reset();
  EXPECT_EQ(writer.count(), 0u);
  std::vector<Message> got;
  ASSERT_TRUE(ReadAll(writer.bytes(), &got).ok());
  EXPECT_TRUE(got.empty());
}

// OnlyMessage picks out a packet of one message (which then leaves as a lone message): it must
// accept exactly a well-formed packet of one message and leave everything else to the checked
// reader.
TEST(P2pPacket, OnlyMessageTakesExactlyOneWellFormedMessage) {
  PacketWriter writer;
  for (size_t n : {0, 1, 8, 13, 1000}) {
    writer.Reset();
    const std::vector<std::byte> payload = Bytes(n, 5);
    writer.Add(77 + n, payload.data(), n);
    uint64_t index = 0;
    std::span<const std::byte> got;
    ASSERT_TRUE(OnlyMessage(writer.bytes(), &index, &got)) << n;
    EXPECT_EQ(index, 77 + n);
    EXPECT_EQ(std::vector<std::byte>(got.begin(), got.end()), payload);
    // One byte short or one too many: not a packet of one message.
    std::vector<std::byte> packet(writer.bytes().begin(), writer.bytes().end());
    EXPECT_FALSE(OnlyMessage(std::span(packet).first(packet.size() - 1), &index, &got)) << n;
    packet.push_back(std::byte{0});
    EXPECT_FALSE(OnlyMessage(packet, &index, &got)) << n;
  }
  writer.Reset();
  const std::vector<std::byte> a = Bytes(3, 1);
  writer.Add(1, a.data(), a.size());
  writer.Add(2, a.data(), a.size());
  uint64_t index = 0;
  std::span<const std::byte> got;
  EXPECT_FALSE(OnlyMessage(writer.bytes(), &index, &got));  // two messages
  writer.Reset();
  EXPECT_FALSE(OnlyMessage(writer.bytes(), &index, &got));  // none
}

TEST(P2pPacket, DamagedPacketsAreInternalErrorsNamingTheSender) {
  PacketWriter writer;
  writer.Reset();
  std::vector<std::byte> payload = Bytes(24, 2);
  writer.Add(5, payload.data(), payload.size());
  std::vector<std::byte> good(writer.bytes().begin(), writer.bytes().end());
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
