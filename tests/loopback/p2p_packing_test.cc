// Small point-to-point messages travel packed (src/runtime/p2p_engine.h): order, content and
// sizes around the inline limit must be exactly those of one transport message per send, for
// any mix of groups and blocking calls on the two sides; mismatched sizes are errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "harness.h"

namespace braid::testing {
namespace {

CommOptions WithInline(long inline_bytes, double timeout_s = 30) {
  CommOptions o;
  o.timeout_s = timeout_s;
  o.p2p_inline_bytes = inline_bytes;
  return o;
}

// Two ranks with a 1024-byte inline limit and a 30 s timeout, each running `body`; a mismatch must
// end both ranks' calls long before that timeout.
void RunPairWellWithinTheTimeout(const std::function<void(Comm&, int)>& body) {
  auto comms = MakeLoopbackComms(2, WithInline(1024, /*timeout_s=*/30));
  RunRanks(2, [&](int r) {
    const auto start = std::chrono::steady_clock::now();
    body(*comms[r], r);
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  });
}

// Sizes straddling the limits tested (1024, 4096 and 8192, the default), a packet's message
// count (32 per packet) and its 64 KiB.
size_t SizeOf(int i) {
  static const size_t kSizes[] = {0, 1, 5, 8, 1023, 1024, 1025, 3000, 64, 4095, 4096, 4097, 8191, 8192, 8193};
  return kSizes[i % 15];
}

uint8_t ByteOf(int sender, int i, size_t k) { return uint8_t(sender * 37 + i * 11 + k); }

std::vector<uint8_t> Payload(int sender, int i) {
  std::vector<uint8_t> v(SizeOf(i));
  for (size_t k = 0; k < v.size(); ++k) v[k] = ByteOf(sender, i, k);
  return v;
}

class P2pPacking : public ::testing::TestWithParam<long> {};

TEST_P(P2pPacking, EveryPairExchangesManyMixedMessagesInOneGroup) {
  constexpr int kRanks = 4, kPerPeer = 80;
  auto comms = MakeLoopbackComms(kRanks, WithInline(GetParam()));
  RunRanks(kRanks, [&](int r) {
    Comm& c = *comms[r];
    std::vector<std::vector<uint8_t>> out, in;
    for (int p = 0; p < kRanks; ++p)
      for (int i = 0; i < kPerPeer; ++i) {
        out.push_back(Payload(r, i));
        in.push_back(std::vector<uint8_t>(SizeOf(i), 0xee));
      }
    ASSERT_TRUE(c.GroupStart().ok());
    for (int p = 0; p < kRanks; ++p)
      for (int i = 0; i < kPerPeer; ++i) {
        ASSERT_TRUE(c.Recv(in[p * kPerPeer + i].data(), SizeOf(i), DataType::kUint8, p).ok());
        ASSERT_TRUE(c.Send(out[p * kPerPeer + i].data(), SizeOf(i), DataType::kUint8, p).ok());
      }
    Status s = c.GroupEnd();
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int p = 0; p < kRanks; ++p)
      for (int i = 0; i < kPerPeer; ++i)
        EXPECT_EQ(in[p * kPerPeer + i], Payload(p, i)) << "rank " << r << " from " << p << " #" << i;
  });
}

TEST_P(P2pPacking, AGroupOfSendsMeetsOneBlockingRecvAtATime) {
  constexpr int kMessages = 150;  // several packets, most messages kept until their Recv
  auto comms = MakeLoopbackComms(2, WithInline(GetParam()));
  RunRanks(2, [&](int r) {
    Comm& c = *comms[r];
    if (r == 0) {
      std::vector<std::vector<uint8_t>> out;
      for (int i = 0; i < kMessages; ++i) out.push_back(Payload(0, i));
      ASSERT_TRUE(c.GroupStart().ok());
      for (int i = 0; i < kMessages; ++i)
        ASSERT_TRUE(c.Send(out[i].data(), out[i].size(), DataType::kUint8, 1).ok());
      Status s = c.GroupEnd();
      ASSERT_TRUE(s.ok()) << s.ToString();
    } else {
      for (int i = 0; i < kMessages; ++i) {
        std::vector<uint8_t> in(SizeOf(i), 0xee);
        Status s = c.Recv(in.data(), in.size(), DataType::kUint8, 0);
        ASSERT_TRUE(s.ok()) << "#" << i << ": " << s.ToString();
        EXPECT_EQ(in, Payload(0, i)) << "#" << i;
      }
    }
  });
}

// Blocking sends, each a lone message (unwrapped, its number in the tag), received by blocking
// receives (in place) and by groups of receives (through the bounce buffer).
TEST_P(P2pPacking, BlockingSendsMeetBlockingAndGroupedReceives) {
  constexpr int kMessages = 48;
  auto comms = MakeLoopbackComms(2, WithInline(GetParam()));
  RunRanks(2, [&](int r) {
    Comm& c = *comms[r];
    if (r == 0) {
      for (int i = 0; i < kMessages; ++i) {
        std::vector<uint8_t> out = Payload(0, i);
        Status s = c.Send(out.data(), out.size(), DataType::kUint8, 1);
        ASSERT_TRUE(s.ok()) << "#" << i << ": " << s.ToString();
      }
      return;
    }
    std::vector<std::vector<uint8_t>> in;
    for (int i = 0; i < kMessages; ++i) in.push_back(std::vector<uint8_t>(SizeOf(i), 0xee));
    for (int i = 0; i < kMessages / 2; ++i) {
      Status s = c.Recv(in[i].data(), in[i].size(), DataType::kUint8, 0);
      ASSERT_TRUE(s.ok()) << "#" << i << ": " << s.ToString();
    }
    ASSERT_TRUE(c.GroupStart().ok());
    for (int i = kMessages / 2; i < kMessages; ++i)
      ASSERT_TRUE(c.Recv(in[i].data(), in[i].size(), DataType::kUint8, 0).ok());
    Status s = c.GroupEnd();
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (int i = 0; i < kMessages; ++i) EXPECT_EQ(in[i], Payload(0, i)) << "#" << i;
  });
}

INSTANTIATE_TEST_SUITE_P(InlineLimits, P2pPacking, ::testing::Values(0L, 64L, 1024L, 4096L, 8192L),
                         [](const ::testing::TestParamInfo<long>& info) {
                           return "inline" + std::to_string(info.param);
                         });

TEST(P2pPackingErrors, PackedSizesThatDifferFailTheReceiveNamingBoth) {
  auto comms = MakeLoopbackComms(2, WithInline(1024));
  RunRanks(2, [&](int r) {
    Comm& c = *comms[r];
    std::vector<uint8_t> buf(16, 1);
    if (r == 0) {
      EXPECT_TRUE(c.Send(buf.data(), 8, DataType::kUint8, 1).ok());
    } else {
      Status s = c.Recv(buf.data(), 16, DataType::kUint8, 0);
      EXPECT_EQ(s.code(), StatusCode::kInvalidUsage);
      EXPECT_EQ(s.message(), "message from rank 0 too short: expected 16 bytes, got 8");
    }
  });
}

// A blocking Recv takes a lone message straight into the caller's buffer; sizes that differ
// are still errors naming both, either way round.
TEST(P2pPackingErrors, BlockingSizesThatDifferFailNamingBoth) {
  struct Case {
    size_t sent, expected;
    const char* message;
  };
  const Case cases[] = {{3000, 3500, "message from rank 0 too short: expected 3500 bytes, got 3000"},
                        {3500, 3000, "message from rank 0 truncated: expected 3000 bytes, got 3500"},
                        {1000, 3000, "message from rank 0 too short: expected 3000 bytes, got 1000"},
                        {3000, 1000, "message from rank 0 truncated: expected 1000 bytes, got 3000"}};
  for (const Case& k : cases) {
    auto comms = MakeLoopbackComms(2, WithInline(4096));
    RunRanks(2, [&](int r) {
      Comm& c = *comms[r];
      std::vector<uint8_t> buf(4096, 1);
      if (r == 0) {
        EXPECT_TRUE(c.Send(buf.data(), k.sent, DataType::kUint8, 1).ok());
      } else {
        Status s = c.Recv(buf.data(), k.expected, DataType::kUint8, 0);
        EXPECT_EQ(s.code(), StatusCode::kInvalidUsage) << k.sent << " -> " << k.expected;
        EXPECT_EQ(s.message(), k.message);
      }
    });
  }
}

TEST(P2pPackingErrors, ALargeSendMatchedWithASmallReceiveIsAnErrorNotAHang) {
  auto comms = MakeLoopbackComms(2, WithInline(1024, /*timeout_s=*/2));
  RunRanks(2, [&](int r) {
    Comm& c = *comms[r];
    std::vector<uint8_t> big(2000, 1), small(8, 2);
    if (r == 0) {
      // The 2000-byte message goes tagged and is never received: this side times out.
      ASSERT_TRUE(c.GroupStart().ok());
      ASSERT_TRUE(c.Send(big.data(), big.size(), DataType::kUint8, 1).ok());
      ASSERT_TRUE(c.Send(small.data(), small.size(), DataType::kUint8, 1).ok());
      EXPECT_FALSE(c.GroupEnd().ok());
    } else {
      // Expects 8 bytes first; the packet holds only the second message, so the first one
      // was sent larger than the inline limit.
      Status s = c.Recv(small.data(), small.size(), DataType::kUint8, 0);
      EXPECT_EQ(s.code(), StatusCode::kInvalidUsage);
      EXPECT_NE(s.message().find("message from rank 0 truncated: expected 8 bytes, got more than 1024"),
                std::string::npos) << s.message();
    }
  });
}

// The reverse: a blocking Send within the inline limit travels as a lone message, which a receive
// above the limit (posted tagged) never matches. The receive finds it by probing while idle and
// fails naming both sides' sizes; the sender (blocked here, as loopback sends wait for their
// match) hears of it through the receiver's failure notice. Neither waits out the 30 s timeout.
TEST(P2pPackingErrors, ASmallSendMatchedWithALargeReceiveIsAnErrorNotAHang) {
  RunPairWellWithinTheTimeout([](Comm& c, int r) {
    std::vector<uint8_t> buf(3000, 1);
    if (r == 0) {
      Status s = c.Send(buf.data(), 100, DataType::kUint8, 1);
      EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
      EXPECT_NE(s.message().find("rank 1 reported a failure: InvalidUsage"), std::string::npos) << s.ToString();
    } else {
      Status s = c.Recv(buf.data(), 3000, DataType::kUint8, 0);
      EXPECT_EQ(s.code(), StatusCode::kInvalidUsage) << s.ToString();
      EXPECT_NE(s.message().find("message from rank 0 too short: expected 3000 bytes, got at most 1024"),
                std::string::npos) << s.ToString();
    }
  });
}

// A small message sent in a group travels in a packet with others; a receive above the inline
// limit waits for a tagged message and never reads packets. While idle it now looks for an
// unread packet from its peer, reads it, and fails naming both sizes, in a group or alone, long
// before the 30 s timeout. The sender's packet was read, so it may finish before the receiver's
// failure notice reaches it.
TEST(P2pPackingErrors, AGroupedSmallSendMatchedWithALargeReceiveIsAnErrorNotAHang) {
  for (bool receiver_groups : {false, true}) {
    RunPairWellWithinTheTimeout([&](Comm& c, int r) {
      std::vector<uint8_t> buf(3000, 1);
      if (r == 0) {
        ASSERT_TRUE(c.GroupStart().ok());
        ASSERT_TRUE(c.Send(buf.data(), 100, DataType::kUint8, 1).ok());
        ASSERT_TRUE(c.Send(buf.data(), 200, DataType::kUint8, 1).ok());
        Status s = c.GroupEnd();
        EXPECT_TRUE(s.ok() || s.code() == StatusCode::kRemoteError) << s.ToString();
      } else {
        Status s = receiver_groups ? c.GroupStart() : Status::Ok();
        if (s.ok()) s = c.Recv(buf.data(), 3000, DataType::kUint8, 0);
        if (s.ok() && receiver_groups) s = c.GroupEnd();
        EXPECT_EQ(s.code(), StatusCode::kInvalidUsage) << s.ToString();
        EXPECT_NE(s.message().find("message from rank 0 too short: expected 3000 bytes, got 100"), std::string::npos)
            << s.ToString();
      }
    });
  }
}

// The reverse in a group: a message above the limit leaves tagged, and a group's receive within
// it waits for a packet that never holds it. Probed while idle, it fails naming the sizes; the
// sender (whose loopback send waits for its match) hears of it through the failure notice.
TEST(P2pPackingErrors, ALargeSendMatchedWithAGroupedSmallReceiveIsAnErrorNotAHang) {
  RunPairWellWithinTheTimeout([](Comm& c, int r) {
    std::vector<uint8_t> buf(3000, 1);
    ASSERT_TRUE(c.GroupStart().ok());
    ASSERT_TRUE((r == 0 ? c.Send(buf.data(), 3000, DataType::kUint8, 1) : c.Recv(buf.data(), 100, DataType::kUint8, 0)).ok());
    Status s = c.GroupEnd();
    if (r == 0) {
      EXPECT_EQ(s.code(), StatusCode::kRemoteError) << s.ToString();
      EXPECT_NE(s.message().find("rank 1 reported a failure: InvalidUsage"), std::string::npos) << s.ToString();
    } else {
      EXPECT_EQ(s.code(), StatusCode::kInvalidUsage) << s.ToString();
      EXPECT_NE(s.message().find("message from rank 0 truncated: expected 100 bytes, got more than 1024"),
                std::string::npos) << s.ToString();
    }
  });
}

// A mismatch behind a receive that waits on a silent peer: rank 0's oldest receive is from rank
// 2, which sends nothing, and the next is rank 1's small messages in a packet. The wait looks at
// every receive on its 0.1 s health pass, so it fails naming rank 1's sizes instead of timing out.
TEST(P2pPackingErrors, AMismatchBehindAReceiveFromASilentPeerIsFoundOnTheHealthPass) {
  auto comms = MakeLoopbackComms(3, WithInline(1024, /*timeout_s=*/30));
  RunRanks(3, [&](int r) {
    Comm& c = *comms[r];
    std::vector<uint8_t> a(3000, 1), b(3000, 1);
    const auto start = std::chrono::steady_clock::now();
    if (r == 0) {
      ASSERT_TRUE(c.GroupStart().ok());
      ASSERT_TRUE(c.Recv(a.data(), 3000, DataType::kUint8, 2).ok());
      ASSERT_TRUE(c.Recv(b.data(), 3000, DataType::kUint8, 1).ok());
      Status s = c.GroupEnd();
      EXPECT_EQ(s.code(), StatusCode::kInvalidUsage) << s.ToString();
      EXPECT_NE(s.message().find("message from rank 1 too short: expected 3000 bytes, got 100"), std::string::npos)
          << s.ToString();
    } else if (r == 1) {
      ASSERT_TRUE(c.GroupStart().ok());
      ASSERT_TRUE(c.Send(a.data(), 100, DataType::kUint8, 0).ok());
      ASSERT_TRUE(c.Send(a.data(), 200, DataType::kUint8, 0).ok());
      Status s = c.GroupEnd();
      EXPECT_TRUE(s.ok() || s.code() == StatusCode::kRemoteError) << s.ToString();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
  });
}

std::vector<uint8_t> Pattern(size_t bytes, uint8_t seed) {
  std::vector<uint8_t> v(bytes);
  for (size_t k = 0; k < bytes; ++k) v[k] = uint8_t(seed + k * 7);
  return v;
}

// A blocking Send to self cannot wait for its Recv: only this thread can post that, after the
// Send returns (over UCX a message above the rendezvous threshold, and over loopback any message,
// would wait for ever). Above the inline limit braid keeps a copy for the Recv, which then takes
// it blocking or in a group, in order, at the size sent.
// A group's collectives run while its point-to-point traffic goes on underneath: a packet
// receive must be posted again as soon as a packet arrives, also while a collective waits. Here
// rank 1's group receives two small messages, then all-reduces; rank 0 sends them blocking (two
// lone messages, each waiting for its receive on the loopback transport), then all-reduces. Before,
// the second receive was posted only after the all-reduce, which waited for rank 0, which waited
// for that receive, until BRAID_TIMEOUT (found by P2pTorture, seed 40).
TEST(P2pGroups, AGroupsCollectiveDoesNotStopItsReceivesFromBeingPosted) {
  RunPairWellWithinTheTimeout([](Comm& c, int r) {
    uint8_t a = uint8_t(r ? 0 : 7), b = uint8_t(r ? 0 : 9);
    int token = r + 1;
    Status s;
    if (r == 0) {
      s = c.Send(&a, 1, DataType::kUint8, 1);
      if (s.ok()) s = c.Send(&b, 1, DataType::kUint8, 1);
      if (s.ok()) s = c.AllReduce(&token, &token, 1, DataType::kInt32, RedOp{RedOpKind::kSum});
    } else {
      s = c.GroupStart();
      if (s.ok()) s = c.Recv(&a, 1, DataType::kUint8, 0);
      if (s.ok()) s = c.Recv(&b, 1, DataType::kUint8, 0);
      if (s.ok()) s = c.AllReduce(&token, &token, 1, DataType::kInt32, RedOp{RedOpKind::kSum});
      if (s.ok()) s = c.GroupEnd();
      EXPECT_EQ(a, 7);
      EXPECT_EQ(b, 9);
    }
    ASSERT_TRUE(s.ok()) << "rank " << r << ": " << s.ToString();
    EXPECT_EQ(token, 3);
  });
}

TEST(P2pSelf, BlockingSendsToSelfAboveTheInlineLimitCompleteAndTheirReceivesGetThem) {
  for (long inline_bytes : {0L, 1024L}) {
    auto comms = MakeLoopbackComms(2, WithInline(inline_bytes));
    RunRanks(2, [&](int r) {
      Comm& c = *comms[r];
      const std::vector<uint8_t> first = Pattern(4 << 20, uint8_t(r)), second = Pattern(3000, uint8_t(r + 9));
      ASSERT_TRUE(c.Send(first.data(), first.size(), DataType::kUint8, r).ok());
      ASSERT_TRUE(c.Send(second.data(), second.size(), DataType::kUint8, r).ok());
      std::vector<uint8_t> got_first(first.size()), got_second(second.size());
      Status s = c.Recv(got_first.data(), got_first.size(), DataType::kUint8, r);
      ASSERT_TRUE(s.ok()) << s.ToString();
      ASSERT_TRUE(c.GroupStart().ok());
      ASSERT_TRUE(c.Recv(got_second.data(), got_second.size(), DataType::kUint8, r).ok());
      s = c.GroupEnd();
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(got_first, first);
      EXPECT_EQ(got_second, second);
    });
  }
}

// A group's Recv from self that no Send to self (kept, or in the group) can match could only time
// out: GroupEnd refuses the group at once, running none of it, and the communicator goes on.
TEST(P2pSelf, AGroupsUnmatchedReceiveFromSelfFailsAtOnce) {
  for (long inline_bytes : {0L, 1024L}) {
    auto comms = MakeLoopbackComms(1, WithInline(inline_bytes, /*timeout_s=*/30));
    std::vector<uint8_t> buf(100), sent = Pattern(100, 3);
    Comm& c = *comms[0];
    ASSERT_TRUE(c.GroupStart().ok());
    ASSERT_TRUE(c.Send(sent.data(), sent.size(), DataType::kUint8, 0).ok());
    ASSERT_TRUE(c.Recv(buf.data(), buf.size(), DataType::kUint8, 0).ok());
    ASSERT_TRUE(c.Recv(buf.data(), buf.size(), DataType::kUint8, 0).ok());
    Status s = c.GroupEnd();
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
    EXPECT_NE(s.message().find("the group receives 2 message(s) from self (rank 0) but 1 sent to self can match them"),
              std::string::npos) << s.ToString();
    // Nothing of it ran: the same Send and Recv in a group of their own pair up.
    ASSERT_TRUE(c.GroupStart().ok());
    ASSERT_TRUE(c.Recv(buf.data(), buf.size(), DataType::kUint8, 0).ok());
    ASSERT_TRUE(c.Send(sent.data(), sent.size(), DataType::kUint8, 0).ok());
    s = c.GroupEnd();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(buf, sent);
  }
}

// A group's Send to self whose Recv comes after the group (blocking, or in a later group) is kept
// as a copy, as a blocking Send to self is: over UCX a message above the rendezvous threshold (and
// over loopback any message) waited for that Recv until the timeout (QA, session 54). In order, at
// every size; a group's Recv from self listed before its Send gets it too.
TEST(P2pSelf, AGroupsSendsToSelfReachReceivesAfterTheGroup) {
  for (long inline_bytes : {0L, 1024L}) {
    auto comms = MakeLoopbackComms(1, WithInline(inline_bytes, /*timeout_s=*/30));
    Comm& c = *comms[0];
    const std::vector<uint8_t> big = Pattern(4 << 20, 1), mid = Pattern(3000, 2), small = Pattern(10, 3);
    ASSERT_TRUE(c.GroupStart().ok());
    for (const std::vector<uint8_t>* m : {&big, &mid, &small})
      ASSERT_TRUE(c.Send(m->data(), m->size(), DataType::kUint8, 0).ok());
    Status s = c.GroupEnd();
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::vector<uint8_t> got_big(big.size()), got_mid(mid.size()), got_small(small.size());
    s = c.Recv(got_big.data(), got_big.size(), DataType::kUint8, 0);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_TRUE(c.GroupStart().ok());
    ASSERT_TRUE(c.Recv(got_mid.data(), got_mid.size(), DataType::kUint8, 0).ok());
    ASSERT_TRUE(c.Recv(got_small.data(), got_small.size(), DataType::kUint8, 0).ok());
    const std::vector<uint8_t> again = Pattern(5000, 4);
    std::vector<uint8_t> got_again(again.size());
    ASSERT_TRUE(c.Recv(got_again.data(), got_again.size(), DataType::kUint8, 0).ok());  // before its Send
    ASSERT_TRUE(c.Send(again.data(), again.size(), DataType::kUint8, 0).ok());
    s = c.GroupEnd();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(got_big, big);
    EXPECT_EQ(got_mid, mid);
    EXPECT_EQ(got_small, small);
    EXPECT_EQ(got_again, again);
  }
}

// A blocking Recv from self with nothing sent to self can never finish: it fails at once with
// InvalidArgument, having changed nothing, and the communicator goes on. A kept message received
// at another size fails naming both.
TEST(P2pSelf, BlockingReceiveFromSelfWithNothingSentFailsAtOnceAndTheCommunicatorGoesOn) {
  auto comms = MakeLoopbackComms(2, WithInline(1024));
  RunRanks(2, [&](int r) {
    Comm& c = *comms[r];
    std::vector<uint8_t> buf(3000, 0);
    Status s = c.Recv(buf.data(), 2000, DataType::kUint8, r);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), "recv of 2000 bytes from self (rank " + std::to_string(r) +
                               ") outside a group: no message sent to self is waiting, and none can be sent while "
                               "this call blocks (post the Send and the Recv in one GroupStart/GroupEnd)");
    const std::vector<uint8_t> sent = Pattern(2000, uint8_t(r));
    ASSERT_TRUE(c.Send(sent.data(), sent.size(), DataType::kUint8, r).ok());
    s = c.Recv(buf.data(), 2000, DataType::kUint8, r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(std::vector<uint8_t>(buf.begin(), buf.begin() + 2000), sent);
    float x = 1.0f;
    s = c.AllReduce(&x, &x, 1, DataType::kFloat32, RedOp{RedOpKind::kSum});
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(x, 2.0f);
    // Kept at 3000 bytes, received as 100: the sizes differ.
    ASSERT_TRUE(c.Send(buf.data(), 3000, DataType::kUint8, r).ok());
    s = c.Recv(buf.data(), 100, DataType::kUint8, r);
    EXPECT_EQ(s.code(), StatusCode::kInvalidUsage);
    EXPECT_EQ(s.message(), "message from rank " + std::to_string(r) + " truncated: expected 100 bytes, got 3000");
  });
}

TEST(P2pPackingErrors, InlineLimitOutOfRangeIsRejectedNamingItsSource) {
  CommOptions out;
  CommOptions in = WithInline(70000);
  Status s = Comm::Impl::ResolveOptions(in, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "CommOptions.p2p_inline_bytes=70000 out of range [0, 65256]");

  ASSERT_EQ(setenv("BRAID_P2P_INLINE_BYTES", "-3", 1), 0);
  s = Comm::Impl::ResolveOptions(WithInline(-1), &out);
  unsetenv("BRAID_P2P_INLINE_BYTES");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "BRAID_P2P_INLINE_BYTES='-3' is not an integer in [0, 65256]");
}

}  // namespace
}  // namespace braid::testing
