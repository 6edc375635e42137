// UcxTransport's blocking forms (SendNow / RecvNow): the polled path a blocking Send/Recv takes.
// Lengths, truncation, an idle check that ends the wait (the receive or send is stopped, and
// the next message with the same tag still arrives), a reset endpoint reconnecting, and a send
// that a failed wait left lingering (Transport::CancelAfterFailure) until it is settled.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "transport/ucx/ucx_transport.h"
#include "ucx_pair.h"

namespace braid::transport {
namespace {

using Clock = std::chrono::steady_clock;

using Pair = UcxPair;

// An idle check that lets `passes` idle passes go by, then stops the wait with a Timeout.
struct CountingIdle {
  int passes;
  int seen = 0;
  IdleCheck Check() { return {&CountingIdle::Idle, this}; }
  static Status Idle(void* arg) {
    auto& self = *static_cast<CountingIdle*>(arg);
    if (++self.seen <= self.passes) return Status::Ok();
    return Status::Timeout("test gave up");
  }
};

TEST(UcxBlocking, ReceivesUpToCapacityAndReportsTheLength) {
  Pair p;
  std::vector<char> out(100), in(256, 'x');
  for (size_t i = 0; i < out.size(); ++i) out[i] = char(i * 7 + 1);
  CountingIdle idle{1 << 30};
  ASSERT_TRUE(p[0]->SendNow(1, 5, out.data(), out.size(), idle.Check()).ok());
  size_t received = 0;
  Status st = p[1]->RecvNow(0, 5, in.data(), in.size(), &received, idle.Check());
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(received, out.size());
  EXPECT_TRUE(std::equal(out.begin(), out.end(), in.begin()));
  EXPECT_EQ(in[100], 'x');  // nothing beyond the message was written
}

// Probe sees a message that waits unmatched, by its exact tag, and leaves it for its receive.
TEST(UcxBlocking, ProbeFindsAnUnmatchedMessageByItsExactTag) {
  Pair p;
  CountingIdle idle{1 << 30};
  int v = 5, value = 0;
  EXPECT_FALSE(p[1]->Probe(0, 0x7042));
  ASSERT_TRUE(p[0]->SendNow(1, 0x7042, &v, sizeof v, idle.Check()).ok());
  bool seen = false;
  for (int i = 0; i < 100000 && !seen; ++i) {
    p[1]->Progress();
    seen = p[1]->Probe(0, 0x7042);
  }
  EXPECT_TRUE(seen);
  EXPECT_FALSE(p[1]->Probe(0, 0x7043));
  size_t received = 0;
  ASSERT_TRUE(p[1]->RecvNow(0, 0x7042, &value, sizeof value, &received, idle.Check()).ok());
  EXPECT_EQ(value, 5);
  EXPECT_FALSE(p[1]->Probe(0, 0x7042));
}

TEST(UcxBlocking, LongerMessageIsTruncationError) {
  Pair p;
  std::vector<char> out(100), in(8);
  CountingIdle idle{1 << 30};
  ASSERT_TRUE(p[0]->SendNow(1, 6, out.data(), out.size(), idle.Check()).ok());
  size_t received = 0;
  Status st = p[1]->RecvNow(0, 6, in.data(), in.size(), &received, idle.Check());
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.message().rfind("message from rank 0 truncated: expected 8 bytes", 0), 0u) << st.message();
}

TEST(UcxBlocking, IdleErrorStopsTheReceiveWithoutLosingTheNextMessage) {
  Pair p;
  int value = 0, v = 42;
  size_t received = 0;
  CountingIdle give_up{3};
  Status st = p[1]->RecvNow(0, 7, &value, sizeof value, &received, give_up.Check());
  EXPECT_EQ(st.code(), StatusCode::kTimeout) << st.ToString();
  EXPECT_EQ(st.message(), "test gave up");
  EXPECT_EQ(give_up.seen, 4);
  // The stopped receive is gone: a message with the same tag goes to the next one.
  CountingIdle patient{1 << 30};
  ASSERT_TRUE(p[0]->SendNow(1, 7, &v, sizeof v, patient.Check()).ok());
  st = p[1]->RecvNow(0, 7, &value, sizeof value, &received, patient.Check());
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(value, 42);
  EXPECT_EQ(received, sizeof value);
}

// SettleCancelledSends' peer predicates: the peer sent its failure notice, or not yet.
bool PeerStopped(void*, int) { return true; }
bool PeerBusy(void*, int) { return false; }

TEST(UcxBlocking, IdleErrorStopsAnUnmatchedRendezvousSendAndTheEndpointReconnects) {
  Pair p;
  std::vector<char> big(8 << 20);
  CountingIdle give_up{100};
  Clock::time_point start = Clock::now();
  Status st = p[0]->SendNow(1, 8, big.data(), big.size(), give_up.Check());
  EXPECT_EQ(st.code(), StatusCode::kTimeout) << st.ToString();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  // The send lingers (rank 1 could still match it) until rank 1 is known to have stopped; then
  // its endpoint is reset.
  EXPECT_EQ(p[0]->SettleCancelledSends(TagCommId(8), PeerBusy, nullptr, /*give_up=*/false), 1u);
  EXPECT_EQ(p[0]->SettleCancelledSends(TagCommId(8), PeerStopped, nullptr, /*give_up=*/false), 0u);
  int v = 9, value = 0;
  size_t received = 0;
  CountingIdle patient{1 << 30};
  st = p[0]->SendNow(1, 10, &v, sizeof v, patient.Check());
  ASSERT_TRUE(st.ok()) << st.ToString();
  st = p[1]->RecvNow(0, 10, &value, sizeof value, &received, patient.Check());
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(value, 9);
  EXPECT_TRUE(p[1]->PeerHealth(0).ok());
}

// The case that crashed: a failed call's rendezvous send is matched by a receive posted after
// the call gave up on it. It must be settled only once UCX has read the whole buffer.
TEST(UcxBlocking, ALingeringSendReachesALateReceiverBeforeItSettles) {
  Pair p;
  const uint64_t tag = MakeTag(7, 0, 1, false, 3);
  std::vector<char> big(4 << 20), in(big.size(), 0);
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 131 + 7);
  CountingIdle give_up{100};
  Status st = p[0]->SendNow(1, tag, big.data(), big.size(), give_up.Check());
  ASSERT_EQ(st.code(), StatusCode::kTimeout) << st.ToString();
  EXPECT_EQ(p[0]->SettleCancelledSends(7, PeerBusy, nullptr, false), 1u);
  EXPECT_EQ(p[0]->SettleCancelledSends(6, PeerStopped, nullptr, false), 0u) << "another communicator's";

  Request late;
  ASSERT_TRUE(p[1]->PostRecv(0, tag, in.data(), in.size(), MemoryType::kHost, &late).ok());
  size_t left = 1;
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(10);
  while ((left > 0 || late.state.load() == Request::State::kPending) && Clock::now() < deadline) {
    p[1]->Progress();
    left = p[0]->SettleCancelledSends(7, PeerBusy, nullptr, false);
  }
  EXPECT_EQ(left, 0u);
  ASSERT_EQ(late.state.load(), Request::State::kDone) << late.error.ToString();
  EXPECT_EQ(in, big);
}

TEST(UcxBlocking, GivingUpOnALingeringSendLetsItGo) {
  Pair p;
  std::vector<char> big(4 << 20);
  CountingIdle give_up{100};
  ASSERT_EQ(p[0]->SendNow(1, 8, big.data(), big.size(), give_up.Check()).code(), StatusCode::kTimeout);
  EXPECT_EQ(p[0]->SettleCancelledSends(0, PeerBusy, nullptr, /*give_up=*/true), 0u);
  EXPECT_EQ(p[0]->SettleCancelledSends(0, PeerBusy, nullptr, false), 0u);
}

// A send to this rank itself: its receives went with the failed call, so nothing can match the
// send any more; it is let go at once, without waiting for a notice no one would send.
TEST(UcxBlocking, ALingeringSendToSelfIsLetGoAtOnce) {
  Pair p;
  std::vector<char> big(4 << 20);
  CountingIdle give_up{100};
  ASSERT_EQ(p[0]->SendNow(0, 8, big.data(), big.size(), give_up.Check()).code(), StatusCode::kTimeout);
  EXPECT_EQ(p[0]->SettleCancelledSends(0, PeerBusy, nullptr, false), 0u);
}

TEST(UcxBlocking, UnknownPeerIsRejectedBeforeAnythingIsPosted) {
  Pair p;
  int v = 0;
  size_t received = 0;
  CountingIdle idle{0};
  Status st = p[0]->SendNow(2, 1, &v, sizeof v, idle.Check());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  st = p[0]->RecvNow(-1, 1, &v, sizeof v, &received, idle.Check());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
}

}  // namespace
}  // namespace braid::transport
