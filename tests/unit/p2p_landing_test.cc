// Where a peer's packet lands: a plan made from the receives waiting puts their larger messages
// straight into the receivers' buffers; whatever arrives, planned or not, reads back as sent.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/p2p_landing.h"

namespace braid::runtime {
namespace {

std::vector<std::byte> Bytes(size_t n, int seed) {
  std::vector<std::byte> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = std::byte((seed * 131 + i * 7) & 0xff);
  return v;
}

struct Sent {
  uint64_t index;
  std::vector<std::byte> payload;
};

// The packet the sender builds from `messages`, as the wire carries it.
std::vector<std::byte> PacketOf(const std::vector<Sent>& messages) {
  PacketWriter writer;
  writer.Reset();
  for (const Sent& m : messages) writer.Add(m.index, m.payload.data(), m.payload.size());
  std::vector<std::byte> packet;
  for (const transport::SendSegment& piece : writer.Segments()) {
    const auto* data = static_cast<const std::byte*>(piece.data);
    packet.insert(packet.end(), data, data + piece.bytes);
  }
  return packet;
}

// What the transport does with a planned receive: the message fills the segments in order (or
// the whole buffer, for a plain plan). Returns the bytes received.
size_t Land(PacketLanding& landing, bool scattered, const std::vector<std::byte>& message) {
  if (!scattered) {
    std::memcpy(landing.buffer(), message.data(), message.size());
    return message.size();
  }
  size_t at = 0;
  for (const transport::RecvSegment& piece : landing.Segments()) {
    const size_t n = std::min(piece.bytes, message.size() - at);
    std::memcpy(piece.data, message.data() + at, n);
    at += n;
  }
  EXPECT_EQ(at, message.size()) << "the segments hold less than the message";
  return message.size();
}

struct Read {
  uint64_t index;
  const std::byte* where;
  std::vector<std::byte> payload;
};

std::vector<Read> ReadAll(PacketLanding& landing, size_t received, Status* status) {
  std::vector<Read> got;
  *status = landing.ForEachMessage(received, 7, [&](uint64_t index, std::span<const std::byte> payload) {
    got.push_back({index, payload.data(), {payload.begin(), payload.end()}});
    return Status::Ok();
  });
  return got;
}

// Plans `buffers` (one per message, sized as the receives expect) for indexes first, first+1, ...
bool Plan(PacketLanding& landing, std::vector<std::vector<std::byte>>& buffers, uint64_t first) {
  landing.Clear();
  for (size_t k = 0; k < buffers.size(); ++k) EXPECT_TRUE(landing.Expect(first + k, buffers[k].data(), buffers[k].size()));
  return landing.Finish();
}

void ExpectReadAsSent(const std::vector<Read>& got, const std::vector<Sent>& sent) {
  ASSERT_EQ(got.size(), sent.size());
  for (size_t k = 0; k < sent.size(); ++k) {
    EXPECT_EQ(got[k].index, sent[k].index) << "message " << k;
    EXPECT_EQ(got[k].payload, sent[k].payload) << "message " << k;
  }
}

TEST(P2pLanding, APlannedPacketPutsItsLargerMessagesInTheirBuffers) {
  const std::vector<size_t> sizes = {2000, 100, kGatherMinBytes, kGatherMinBytes - 1, 4099, 0};
  std::vector<std::vector<std::byte>> buffers;
  std::vector<Sent> sent;
  for (size_t k = 0; k < sizes.size(); ++k) {
    buffers.emplace_back(sizes[k], std::byte{0xee});
    sent.push_back({40 + k, Bytes(sizes[k], int(k) + 1)});
  }
  PacketLanding landing;
  ASSERT_TRUE(Plan(landing, buffers, 40));
  Status s;
  const std::vector<Read> got = ReadAll(landing, Land(landing, true, PacketOf(sent)), &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectReadAsSent(got, sent);
  for (size_t k = 0; k < sizes.size(); ++k) {
    const bool in_place = sizes[k] >= kGatherMinBytes;
    EXPECT_EQ(got[k].where == buffers[k].data(), in_place) << "message " << k;
    if (in_place) {
      EXPECT_EQ(buffers[k], sent[k].payload) << "message " << k;
    }
  }
}

// The sender's group ended sooner: the receives planned beyond its packet are not touched.
TEST(P2pLanding, APacketWithFewerMessagesLeavesTheOtherBuffersAlone) {
  std::vector<std::vector<std::byte>> buffers(3, std::vector<std::byte>(1500, std::byte{0xee}));
  PacketLanding landing;
  ASSERT_TRUE(Plan(landing, buffers, 0));
  const std::vector<Sent> sent = {{0, Bytes(1500, 1)}, {1, Bytes(1500, 2)}};
  Status s;
  ExpectReadAsSent(ReadAll(landing, Land(landing, true, PacketOf(sent)), &s), sent);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(buffers[2], std::vector<std::byte>(1500, std::byte{0xee}));
}

// Messages whose receives were not posted yet follow the planned ones in the landing buffer.
TEST(P2pLanding, MessagesAfterThePlanLandInTheBuffer) {
  std::vector<std::vector<std::byte>> buffers(2, std::vector<std::byte>(3000));
  PacketLanding landing;
  ASSERT_TRUE(Plan(landing, buffers, 9));
  const std::vector<Sent> sent = {{9, Bytes(3000, 1)}, {10, Bytes(3000, 2)}, {11, Bytes(10, 3)}, {12, Bytes(4000, 4)}};
  Status s;
  const std::vector<Read> got = ReadAll(landing, Land(landing, true, PacketOf(sent)), &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ExpectReadAsSent(got, sent);
  EXPECT_TRUE(got[3].where >= landing.buffer() && got[3].where < landing.buffer() + kMaxPacketBytes);
}

// The peer sent one message alone where a packet was planned (it sends fewer per group than
// this rank receives): read back as one stream.
TEST(P2pLanding, ALoneMessageWhereAPacketWasPlannedReadsBackWhole) {
  std::vector<std::vector<std::byte>> buffers(2, std::vector<std::byte>(1500));
  PacketLanding landing;
  ASSERT_TRUE(Plan(landing, buffers, 0));
  const std::vector<std::byte> lone = Bytes(1500, 5);
  const size_t received = Land(landing, true, lone);
  const std::span<const std::byte> stream = landing.Stream(0, received);
  EXPECT_EQ(std::vector<std::byte>(stream.begin(), stream.end()), lone);
}

// One receive waiting: a lone message of its size lands in its buffer; a packet instead (the
// peer's group sent more) reads back as sent.
TEST(P2pLanding, OneReceiveWaitingTakesALoneMessageInPlace) {
  std::vector<std::vector<std::byte>> buffers(1, std::vector<std::byte>(2048));
  PacketLanding landing;
  ASSERT_TRUE(Plan(landing, buffers, 3));
  const std::vector<std::byte> lone = Bytes(2048, 6);
  const std::span<const std::byte> stream = landing.Stream(0, Land(landing, true, lone));
  EXPECT_EQ(stream.data(), buffers[0].data());
  EXPECT_EQ(buffers[0], lone);

  ASSERT_TRUE(Plan(landing, buffers, 3));
  const std::vector<Sent> sent = {{3, Bytes(2048, 7)}, {4, Bytes(5, 8)}};
  Status s;
  ExpectReadAsSent(ReadAll(landing, Land(landing, true, PacketOf(sent)), &s), sent);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// A packet that differs from the plan (the sender's size is not the receiver's: a caller's error)
// reads back as sent from that message on, so the error names the sizes sent.
TEST(P2pLanding, APacketThatDiffersFromThePlanReadsBackAsSent) {
  std::vector<std::vector<std::byte>> buffers = {std::vector<std::byte>(1500), std::vector<std::byte>(1500),
                                                 std::vector<std::byte>(2000)};
  PacketLanding landing;
  ASSERT_TRUE(Plan(landing, buffers, 0));
  const std::vector<Sent> sent = {{0, Bytes(1500, 1)}, {1, Bytes(1400, 2)}, {2, Bytes(2000, 3)}};
  Status s;
  ExpectReadAsSent(ReadAll(landing, Land(landing, true, PacketOf(sent)), &s), sent);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// Receives into one buffer (as OSU's windows do): the buffer ends with the last message, as if
// each had been copied in turn.
TEST(P2pLanding, ReceivesSharingABufferEndWithTheLastMessage) {
  std::vector<std::byte> shared(1024);
  PacketLanding landing;
  landing.Clear();
  for (uint64_t k = 0; k < 3; ++k) ASSERT_TRUE(landing.Expect(k, shared.data(), shared.size()));
  ASSERT_TRUE(landing.Finish());
  const std::vector<Sent> sent = {{0, Bytes(1024, 1)}, {1, Bytes(1024, 2)}, {2, Bytes(1024, 3)}};
  Status s;
  const std::vector<Read> got = ReadAll(landing, Land(landing, true, PacketOf(sent)), &s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(got.size(), 3u);
  for (const Read& r : got) EXPECT_EQ(r.where, shared.data());
  EXPECT_EQ(shared, sent[2].payload);
}

// A small receive, then a larger one into the same buffer: the small one is copied out after the
// packet arrived, so the larger one is not planned in place over it; it comes after the plan and
// is copied in turn, and the buffer ends with the last message. (Review, session 65: landed first,
// it was overwritten by the earlier message's copy.)
TEST(P2pLanding, ALargerReceiveOverAnEarlierCopiedOneIsNotPlannedInPlace) {
  std::vector<std::byte> shared(2048);
  PacketLanding landing;
  landing.Clear();
  ASSERT_TRUE(landing.Expect(0, shared.data() + 50, 100));
  EXPECT_FALSE(landing.Expect(1, shared.data(), shared.size()));
  EXPECT_FALSE(landing.Finish()) << "nothing lands in place";
  const std::vector<Sent> sent = {{0, Bytes(100, 1)}, {1, Bytes(2048, 2)}};
  const size_t received = Land(landing, false, PacketOf(sent));
  void* const buffers[] = {shared.data() + 50, shared.data()};
  size_t k = 0;
  const Status s = landing.ForEachMessage(received, 7, [&](uint64_t, std::span<const std::byte> payload) {
    if (payload.data() != buffers[k]) std::memcpy(buffers[k], payload.data(), payload.size());  // as Deliver
    ++k;
    return Status::Ok();
  });
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(shared, sent[1].payload);
}

// Only small receives waiting: nothing to land in place, the buffer takes the packet.
TEST(P2pLanding, SmallReceivesOnlyPlanThePlainBuffer) {
  std::vector<std::vector<std::byte>> buffers = {std::vector<std::byte>(10), std::vector<std::byte>(kGatherMinBytes - 1)};
  PacketLanding landing;
  ASSERT_FALSE(Plan(landing, buffers, 0));
  const std::vector<Sent> sent = {{0, Bytes(10, 1)}, {1, Bytes(kGatherMinBytes - 1, 2)}};
  Status s;
  ExpectReadAsSent(ReadAll(landing, Land(landing, false, PacketOf(sent)), &s), sent);
  ASSERT_TRUE(s.ok()) << s.ToString();
}

// A plan holds what one packet can: kMaxPacketMessages messages and kMaxPacketBytes; its
// segments always take a whole packet.
TEST(P2pLanding, APlanStopsAtWhatOnePacketHolds) {
  std::vector<std::byte> buf(4096);
  PacketLanding landing;
  landing.Clear();
  size_t planned = 0;
  while (landing.Expect(planned, buf.data(), buf.size())) ++planned;
  EXPECT_EQ(planned, (kMaxPacketBytes - kPacketHeaderBytes) / PackedSize(4096));
  ASSERT_TRUE(landing.Finish());
  size_t capacity = 0;
  for (const transport::RecvSegment& piece : landing.Segments()) capacity += piece.bytes;
  EXPECT_EQ(capacity, kMaxPacketBytes);

  landing.Clear();
  planned = 0;
  while (landing.Expect(planned, buf.data(), 1)) ++planned;
  EXPECT_EQ(planned, kMaxPacketMessages);
}

}  // namespace
}  // namespace braid::runtime
