#include "transport/loopback/loopback_transport.h"

#include <gtest/gtest.h>

#include <chrono>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

namespace braid::transport {
namespace {

using State = Request::State;
using Clock = std::chrono::steady_clock;

// Drives `t` until `req` finishes or 5 s pass; returns its final state.
State WaitFor(Transport* t, const Request& req) {
  Clock::time_point deadline = Clock::now() + std::chrono::seconds(5);
  while (!req.finished() && Clock::now() < deadline) {
    if (!t->Progress()) t->WaitForActivity(1000);
  }
  return req.state.load();
}

TEST(LoopbackTransport, SendRecvBetweenThreads) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  EXPECT_EQ(t0->rank(), 0);
  EXPECT_EQ(t1->size(), 2);
  EXPECT_EQ(t1->name(), "loopback");
  std::vector<int> src(1000), dst(1000, -1);
  std::iota(src.begin(), src.end(), 0);
  std::thread receiver([&] {
    Request r;
    ASSERT_TRUE(
        t1->PostRecv(0, MakeTag(1, 0, 0, false, 7), dst.data(), 4000, MemoryType::kHost, &r).ok());
    EXPECT_EQ(WaitFor(t1.get(), r), State::kDone);
  });
  Request s;
  ASSERT_TRUE(
      t0->PostSend(1, MakeTag(1, 0, 0, false, 7), src.data(), 4000, MemoryType::kHost, &s).ok());
  EXPECT_EQ(WaitFor(t0.get(), s), State::kDone);
  receiver.join();
  EXPECT_EQ(src, dst);
}

// Probe sees a send that waits unmatched, by its exact tag and sender.
TEST(LoopbackTransport, ProbeFindsAnUnmatchedSendByItsExactTag) {
  auto fabric = LoopbackFabric::Create(3);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  int v = 5, value = 0;
  EXPECT_FALSE(t1->Probe(0, 12));
  Request s;
  ASSERT_TRUE(t0->PostSend(1, 12, &v, sizeof v, MemoryType::kHost, &s).ok());
  EXPECT_TRUE(t1->Probe(0, 12));
  EXPECT_FALSE(t1->Probe(0, 13));
  EXPECT_FALSE(t1->Probe(2, 12));
  const IdleCheck patient{[](void*) { return Status::Ok(); }, nullptr};
  size_t received = 0;
  ASSERT_TRUE(t1->RecvNow(0, 12, &value, sizeof value, &received, patient).ok());
  EXPECT_EQ(value, 5);
  EXPECT_EQ(received, sizeof value);
  EXPECT_FALSE(t1->Probe(0, 12));
}

TEST(LoopbackTransport, OutOfOrderTagsPostingOrderAndIgnoredTagBits) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  int a = 1, b = 2, c = 3;
  Request sa, sb, sc;
  ASSERT_TRUE(t0->PostSend(1, 10, &a, sizeof a, MemoryType::kHost, &sa).ok());
  ASSERT_TRUE(t0->PostSend(1, 20, &b, sizeof b, MemoryType::kHost, &sb).ok());
  ASSERT_TRUE(t0->PostSend(1, 10, &c, sizeof c, MemoryType::kHost, &sc).ok());
  int x = 0, y = 0, z = 0;
  Request ry, rx, rz;
  ASSERT_TRUE(t1->PostRecv(0, 20, &y, sizeof y, MemoryType::kHost, &ry).ok());
  ASSERT_TRUE(t1->PostRecv(0, 10, &x, sizeof x, MemoryType::kHost, &rx).ok());
  ASSERT_TRUE(t1->PostRecv(0, 10, &z, sizeof z, MemoryType::kHost, &rz).ok());
  EXPECT_EQ(y, 2);
  EXPECT_EQ(x, 1);  // same tag: first send matches first receive
  EXPECT_EQ(z, 3);
  EXPECT_TRUE(sa.finished() && sb.finished() && sc.finished());
  EXPECT_TRUE(t0->Progress());
  EXPECT_FALSE(t0->Progress());

  // A receive's tag_ignore bits match any value, still in order; the sender's tag comes back.
  Request sd, se, rd, re;
  ASSERT_TRUE(t0->PostSend(1, 0x7042, &a, sizeof a, MemoryType::kHost, &sd).ok());
  rd.tag_ignore = re.tag_ignore = 0xff;
  ASSERT_TRUE(t1->PostRecv(0, 0x7000, &x, sizeof x, MemoryType::kHost, &rd).ok());
  ASSERT_TRUE(t1->PostRecv(0, 0x7000, &y, sizeof y, MemoryType::kHost, &re).ok());
  ASSERT_TRUE(t0->PostSend(1, 0x7007, &b, sizeof b, MemoryType::kHost, &se).ok());
  EXPECT_EQ(rd.state.load(), State::kDone);
  EXPECT_EQ(re.state.load(), State::kDone);
  EXPECT_EQ(x, 1);
  EXPECT_EQ(rd.sender_tag, 0x7042u);
  EXPECT_EQ(y, 2);
  EXPECT_EQ(re.sender_tag, 0x7007u);
}

// A blocking receive whose wait is stopped (its idle check fails) after its message arrived, but
// before the wait looked again, has its message: RecvNow reports it delivered, not the stop. (A
// blocking Recv stops its wait to take its message in another form; reported as not delivered, the
// message in its buffer was waited for again, and the next one was taken for it.)
TEST(LoopbackTransport, AWaitStoppedAfterItsMessageArrivedReportsItDelivered) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  struct Arrival {
    Transport* sender;
    int value;
    Request send;
  } arrival{t1.get(), 42, {}};
  // The idle check delivers the message (the loopback matches it inside PostSend), then stops.
  const IdleCheck deliver_then_stop{[](void* arg) {
                                      auto& a = *static_cast<Arrival*>(arg);
                                      EXPECT_TRUE(a.sender->PostSend(0, 9, &a.value, sizeof a.value, MemoryType::kHost,
                                                                     &a.send).ok());
                                      return Status::Aborted("stopped by the test");
                                    },
                                    &arrival};
  int value = 0;
  size_t received = 0;
  Status got = t0->RecvNow(1, 9, &value, sizeof value, &received, deliver_then_stop);
  EXPECT_TRUE(got.ok()) << got.ToString();
  EXPECT_EQ(value, 42);
  EXPECT_EQ(received, sizeof value);
  EXPECT_EQ(WaitFor(t1.get(), arrival.send), State::kDone);
}

TEST(LoopbackTransport, ZeroBytesAndSelf) {
  auto fabric = LoopbackFabric::Create(1);
  auto t = fabric->Endpoint(0);
  Request s, r;
  ASSERT_TRUE(t->PostRecv(0, 5, nullptr, 0, MemoryType::kHost, &r).ok());
  ASSERT_TRUE(t->PostSend(0, 5, nullptr, 0, MemoryType::kHost, &s).ok());
  EXPECT_EQ(r.state.load(), State::kDone);
  EXPECT_EQ(s.state.load(), State::kDone);
}

// A gathered send delivers its segments one after the other; segments that do not add up to the
// size given are the caller's bug, refused before anything is posted.
TEST(LoopbackTransport, GatheredSendDeliversItsSegmentsInOrder) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  const std::vector<char> a = {'a', 'b', 'c'}, b(5000, 'x'), c = {'z'};
  const std::vector<SendSegment> segments = {{a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}, {c.data(), 1}};
  const uint64_t tag = MakeTag(1, 0, 0, true, 3);
  Request bad;
  const Status refused = t0->PostSendGather(1, tag, segments, 5003, &bad);
  EXPECT_EQ(refused.code(), StatusCode::kInternalError) << refused.ToString();
  EXPECT_EQ(bad.state.load(), State::kIdle);
  std::vector<char> got(5004, '?');
  Request s, r;
  ASSERT_TRUE(t0->PostSendGather(1, tag, segments, 5004, &s).ok());
  ASSERT_TRUE(t1->PostRecv(0, tag, got.data(), got.size(), MemoryType::kHost, &r).ok());
  EXPECT_EQ(WaitFor(t1.get(), r), State::kDone);
  EXPECT_EQ(WaitFor(t0.get(), s), State::kDone);
  EXPECT_EQ(std::string(got.begin(), got.end()), "abc" + std::string(5000, 'x') + "z");
}

// A scattered receive fills its segments in order, from a plain or a gathered send whose pieces
// do not line up with them; segments that do not add up to the size given are refused.
TEST(LoopbackTransport, ScatteredReceiveFillsItsSegmentsInOrder) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  std::vector<char> message(3000);
  for (size_t i = 0; i < message.size(); ++i) message[i] = char('a' + i % 23);
  const std::vector<SendSegment> sent = {{message.data(), 7}, {message.data() + 7, 2000}, {message.data() + 2007, 993}};
  for (bool gathered : {false, true}) {
    SCOPED_TRACE(gathered ? "gathered send" : "plain send");
    std::vector<char> a(24, '?'), b(1500, '?'), c(2000, '?');
    const std::vector<RecvSegment> segments = {{a.data(), a.size()}, {nullptr, 0}, {b.data(), b.size()}, {c.data(), c.size()}};
    const uint64_t tag = MakeTag(1, 0, 0, true, 4);
    Request bad;
    const Status refused = t1->PostRecvScatter(0, tag, segments, 3525, &bad);
    EXPECT_EQ(refused.code(), StatusCode::kInternalError) << refused.ToString();
    EXPECT_EQ(bad.state.load(), State::kIdle);
    Request s, r;
    r.accept_shorter = true;
    ASSERT_TRUE(t1->PostRecvScatter(0, tag, segments, 3524, &r).ok());
    ASSERT_TRUE((gathered ? t0->PostSendGather(1, tag, sent, message.size(), &s)
                          : t0->PostSend(1, tag, message.data(), message.size(), MemoryType::kHost, &s))
                    .ok());
    EXPECT_EQ(WaitFor(t1.get(), r), State::kDone);
    EXPECT_EQ(r.bytes, message.size());
    const std::string got =
        std::string(a.begin(), a.end()) + std::string(b.begin(), b.end()) + std::string(c.begin(), c.begin() + 1476);
    EXPECT_EQ(got, std::string(message.begin(), message.end()));
    EXPECT_EQ(std::vector<char>(c.begin() + 1476, c.end()), std::vector<char>(524, '?'));
  }
}

TEST(LoopbackTransport, TruncationFailsReceiverOnly) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  char big[16] = {}, small[8];
  Request s, r;
  ASSERT_TRUE(t0->PostSend(1, 1, big, sizeof big, MemoryType::kHost, &s).ok());
  ASSERT_TRUE(t1->PostRecv(0, 1, small, sizeof small, MemoryType::kHost, &r).ok());
  EXPECT_EQ(s.state.load(), State::kDone);
  ASSERT_EQ(r.state.load(), State::kFailed);
  EXPECT_EQ(r.error.message(), "message from rank 0 truncated: expected 8 bytes, got 16");
}

TEST(LoopbackTransport, SendPendsUntilReceivePosted) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  auto t1 = fabric->Endpoint(1);
  int v = 42, w = 0;
  Request s, r;
  ASSERT_TRUE(t0->PostSend(1, 3, &v, sizeof v, MemoryType::kHost, &s).ok());
  for (int i = 0; i < 10; ++i) t0->Progress();
  EXPECT_EQ(s.state.load(), State::kPending);  // no eager buffering
  ASSERT_TRUE(t1->PostRecv(0, 3, &w, sizeof w, MemoryType::kHost, &r).ok());
  EXPECT_EQ(s.state.load(), State::kDone);
  EXPECT_EQ(w, 42);
}

TEST(LoopbackTransport, CancelPendingSendAndRecv) {
  auto fabric = LoopbackFabric::Create(2);
  auto t0 = fabric->Endpoint(0);
  int v = 1;
  Request s, r;
  ASSERT_TRUE(t0->PostSend(1, 3, &v, sizeof v, MemoryType::kHost, &s).ok());
  ASSERT_TRUE(t0->PostRecv(1, 3, &v, sizeof v, MemoryType::kHost, &r).ok());
  t0->Cancel(&s);
  t0->Cancel(&r);
  EXPECT_EQ(s.state.load(), State::kFailed);
  EXPECT_EQ(s.error.code(), StatusCode::kAborted);
  EXPECT_EQ(r.state.load(), State::kFailed);
  t0->Cancel(&r);  // finished: no-op
  // The cancelled send is gone: a later receive does not match it.
  auto t1 = fabric->Endpoint(1);
  Request r1;
  ASSERT_TRUE(t1->PostRecv(0, 3, &v, sizeof v, MemoryType::kHost, &r1).ok());
  EXPECT_EQ(r1.state.load(), State::kPending);
  t1->Cancel(&r1);
}

TEST(LoopbackTransport, KillRankFailsPendingRecvPromptly) {
  auto fabric = LoopbackFabric::Create(3);
  auto t0 = fabric->Endpoint(0);
  int v = 0;
  Request r;
  ASSERT_TRUE(t0->PostRecv(2, 9, &v, sizeof v, MemoryType::kHost, &r).ok());
  Clock::time_point start = Clock::now();
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    fabric->KillRank(2);
  });
  // A long wait must end as soon as the rank dies.
  while (!r.finished()) t0->WaitForActivity(5'000'000);
  killer.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  ASSERT_EQ(r.state.load(), State::kFailed);
  EXPECT_EQ(r.error.code(), StatusCode::kRemoteError);
  EXPECT_EQ(r.error.message(), "rank 2 (loopback) died");
  EXPECT_EQ(t0->PeerHealth(2).message(), "rank 2 (loopback) died");
  EXPECT_TRUE(t0->PeerHealth(1).ok());
  Request s;
  EXPECT_EQ(t0->PostSend(2, 9, &v, sizeof v, MemoryType::kHost, &s).code(),
            StatusCode::kRemoteError);
  EXPECT_EQ(s.state.load(), State::kIdle);  // untouched on error
}

TEST(LoopbackTransport, InterruptWakesWait) {
  auto fabric = LoopbackFabric::Create(1);
  auto t = fabric->Endpoint(0);
  t->WaitForActivity(0);  // clear anything pending
  Clock::time_point start = Clock::now();
  std::thread waker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    t->Interrupt();
  });
  t->WaitForActivity(5'000'000);
  waker.join();
  EXPECT_LT(Clock::now() - start, std::chrono::seconds(1));
  // An interrupt that comes first is not lost.
  t->Interrupt();
  start = Clock::now();
  t->WaitForActivity(5'000'000);
  EXPECT_LT(Clock::now() - start, std::chrono::milliseconds(500));
}

TEST(LoopbackTransport, ManyThreadsAllToAll) {
  constexpr int kRanks = 4, kRounds = 200;
  auto fabric = LoopbackFabric::Create(kRanks);
  std::vector<std::thread> threads;
  std::vector<int> errors(kRanks, 0);
  for (int me = 0; me < kRanks; ++me) {
    threads.emplace_back([&, me] {
      auto t = fabric->Endpoint(me);
      for (int round = 0; round < kRounds; ++round) {
        std::vector<int> in(kRanks, -1), out(kRanks);
        std::vector<Request> reqs(2 * kRanks);
        for (int p = 0; p < kRanks; ++p) {
          out[p] = me * 1000 + round;
          t->PostRecv(p, MakeTag(0, uint32_t(p), uint32_t(round), false, 0), &in[p], sizeof(int),
                      MemoryType::kHost, &reqs[p]);
          t->PostSend(p, MakeTag(0, uint32_t(me), uint32_t(round), false, 0), &out[p], sizeof(int),
                      MemoryType::kHost, &reqs[kRanks + p]);
        }
        for (auto& r : reqs)
          if (WaitFor(t.get(), r) != State::kDone) ++errors[me];
        for (int p = 0; p < kRanks; ++p)
          if (in[p] != p * 1000 + round) ++errors[me];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(errors, std::vector<int>(kRanks, 0));
}

}  // namespace
}  // namespace braid::transport
