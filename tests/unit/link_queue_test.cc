// braid-netem's per-direction link model (tools/braid_netem/link_queue.h): delay, serialisation
// at the rate, the bounded queue with tail drop, and random loss, all on made-up times.
#include "link_queue.h"

#include <gtest/gtest.h>

#include <vector>

namespace braid::netem {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

const Clock::time_point t0{};  // the test's time origin

Packet Bytes(size_t n) { return Packet(n, 0x5a); }

// Packets due by `at`.
size_t TakeCount(LinkQueue& link, Clock::time_point at) {
  std::vector<Packet> due;
  link.TakeDue(at, &due);
  return due.size();
}

TEST(LinkQueueTest, DeliversAfterTheDelayAndNotBefore) {
  LinkParams p;
  p.delay = milliseconds(2);
  LinkQueue link(p);
  link.Enqueue(Bytes(100), t0);
  ASSERT_TRUE(link.NextDue().has_value());
  EXPECT_EQ(*link.NextDue(), t0 + milliseconds(2));
  EXPECT_EQ(TakeCount(link, t0 + microseconds(1999)), 0u);
  EXPECT_EQ(TakeCount(link, t0 + milliseconds(2)), 1u);
  EXPECT_FALSE(link.NextDue().has_value());
  EXPECT_EQ(link.counters().delivered, 1u);
  EXPECT_EQ(link.counters().bytes_delivered, 100u);
}

TEST(LinkQueueTest, SerialisesBackToBackPacketsAtTheRate) {
  LinkParams p;
  p.rate_bytes_per_s = 1e6;  // 1 byte per microsecond
  p.delay = milliseconds(1);
  LinkQueue link(p);
  for (int i = 0; i < 3; ++i) link.Enqueue(Bytes(1000), t0);  // 1 ms each on the wire
  // Departures at 1, 2, 3 ms; deliveries one delay later.
  EXPECT_EQ(*link.NextDue(), t0 + milliseconds(2));
  EXPECT_EQ(TakeCount(link, t0 + milliseconds(2)), 1u);
  EXPECT_EQ(TakeCount(link, t0 + microseconds(3999)), 1u);
  EXPECT_EQ(TakeCount(link, t0 + milliseconds(4)), 1u);
}

TEST(LinkQueueTest, AnIdleLinkStartsSerialisingOnArrival) {
  LinkParams p;
  p.rate_bytes_per_s = 1e6;
  LinkQueue link(p);
  link.Enqueue(Bytes(1000), t0);
  EXPECT_EQ(TakeCount(link, t0 + milliseconds(1)), 1u);
  link.Enqueue(Bytes(500), t0 + milliseconds(10));  // long after: no leftover backlog
  EXPECT_EQ(*link.NextDue(), t0 + microseconds(10500));
}

TEST(LinkQueueTest, TailDropsBeyondTheQueueBound) {
  LinkParams p;
  p.rate_bytes_per_s = 1e6;
  p.queue_packets = 2;
  LinkQueue link(p);
  for (int i = 0; i < 5; ++i) link.Enqueue(Bytes(1000), t0);
  EXPECT_EQ(link.counters().queue_dropped, 3u);
  // Once the first has left (1 ms), there is room again.
  link.Enqueue(Bytes(1000), t0 + milliseconds(1));
  EXPECT_EQ(link.counters().queue_dropped, 3u);
  EXPECT_EQ(TakeCount(link, t0 + milliseconds(10)), 3u);
}

TEST(LinkQueueTest, LosesAboutTheConfiguredShareReproducibly) {
  LinkParams p;
  p.loss_probability = 0.01;
  p.seed = 42;
  LinkQueue a(p), b(p);
  const int n = 100000;
  for (int i = 0; i < n; ++i) {
    a.Enqueue(Bytes(1), t0);
    b.Enqueue(Bytes(1), t0);
  }
  EXPECT_NEAR(double(a.counters().lost) / n, 0.01, 0.002);  // ~6 standard deviations
  EXPECT_EQ(a.counters().lost, b.counters().lost);          // same seed, same draws
  EXPECT_EQ(TakeCount(a, t0), size_t(n) - a.counters().lost);
}

TEST(LinkQueueTest, CountsHowLatePacketsAreTakenOut) {
  LinkParams p;
  p.delay = milliseconds(1);
  LinkQueue link(p);
  link.Enqueue(Bytes(10), t0);
  EXPECT_EQ(TakeCount(link, t0 + microseconds(1250)), 1u);
  EXPECT_EQ(link.counters().late_ns_total, 250000);
}

}  // namespace
}  // namespace braid::netem
