// The discrete-event core against closed forms: event ordering, max-min sharing on a link and
// across links, rings and trees, and a brute-force max-min reference on a random network.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/engine/flow_network.h"
#include "sim/engine/serial_resource.h"
#include "sim/engine/simulator.h"

namespace braid::sim {
namespace {

// Completion times are sums of a few divisions: equal to the closed form up to rounding.
void ExpectTime(Seconds actual, Seconds expected) {
  EXPECT_NEAR(actual, expected, 1e-9 * std::max(1.0, std::abs(expected)));
}

// ---- Simulator -----------------------------------------------------------------------------

TEST(Simulator, EqualTimesRunInInsertionOrder) {
  Simulator sim;
  std::vector<int> order;
  sim.At(2.0, [&] { order.push_back(3); });
  sim.At(1.0, [&] { order.push_back(0); });
  sim.At(1.0, [&] { order.push_back(1); });
  sim.At(1.0, [&] { order.push_back(2); });
  EXPECT_EQ(sim.Run(), 2.0);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(sim.EventsProcessed(), 4u);
}

TEST(Simulator, PastTimesClampToNow) {
  Simulator sim;
  Seconds ran_at = -1;
  sim.At(5.0, [&] { sim.At(1.0, [&] { ran_at = sim.Now(); }); });
  EXPECT_EQ(sim.Run(), 5.0);
  EXPECT_EQ(ran_at, 5.0);
}

TEST(Simulator, CallbacksScheduleMoreEvents) {
  Simulator sim;
  int ticks = 0;
  std::function<void()> tick = [&] {
    if (++ticks < 10) sim.After(0.5, tick);
  };
  sim.At(0, tick);
  EXPECT_EQ(sim.Run(), 4.5);
  EXPECT_EQ(ticks, 10);
  // An event scheduled from a callback at the current time runs after those already queued.
  std::vector<int> order;
  sim.After(0, [&] {
    order.push_back(0);
    sim.After(0, [&] { order.push_back(2); });
  });
  sim.After(0, [&] { order.push_back(1); });
  EXPECT_EQ(sim.Run(), 4.5);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));
}

TEST(Simulator, EmptyRunReturnsNow) {
  Simulator sim;
  EXPECT_EQ(sim.Run(), 0.0);
}

TEST(Simulator, RejectsNanTime) {
  Simulator sim;
  EXPECT_THROW(sim.At(std::nan(""), [] {}), std::invalid_argument);
}

// The queue orders times by their bits, in which -0.0 would come after +inf.
TEST(Simulator, NegativeZeroIsTimeZero) {
  Simulator sim;
  std::vector<double> seen;
  sim.At(1.0, [&] { seen.push_back(sim.Now()); });
  sim.At(-0.0, [&] { seen.push_back(sim.Now()); });
  sim.At(std::numeric_limits<double>::infinity(), [&] { seen.push_back(sim.Now()); });
  EXPECT_EQ(sim.Run(), std::numeric_limits<double>::infinity());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], 0.0);
  EXPECT_EQ(seen[1], 1.0);
}

TEST(Simulator, CancelledEventsNeitherRunNorMoveTheClock) {
  Simulator sim;
  std::vector<int> ran;
  sim.At(1.0, [&] { ran.push_back(1); });
  const uint64_t late = sim.Schedule(9.0, [&] { ran.push_back(9); });
  sim.Cancel(late);
  EXPECT_EQ(sim.Run(), 1.0);
  EXPECT_EQ(ran, (std::vector<int>{1}));
}

// Event storage is reused once an event has run; the old handle must not reach the new event.
TEST(Simulator, AStaleHandleCancelsNothing) {
  Simulator sim;
  std::vector<int> ran;
  const uint64_t first = sim.Schedule(1.0, [&] { ran.push_back(1); });
  sim.Run();
  const uint64_t second = sim.Schedule(2.0, [&] { ran.push_back(2); });
  sim.Cancel(first);
  sim.Cancel(first + 12345);  // not a handle this simulator gave out
  EXPECT_NE(first, second);
  EXPECT_EQ(sim.Run(), 2.0);
  EXPECT_EQ(ran, (std::vector<int>{1, 2}));
}

TEST(Simulator, CancelledAndLiveEventsInterleaveInTimeOrder) {
  Simulator sim;
  std::vector<int> ran;
  std::vector<uint64_t> handles;
  for (int i = 0; i < 200; ++i) handles.push_back(sim.Schedule(double(200 - i), [&ran, i] { ran.push_back(i); }));
  for (int i = 0; i < 200; i += 3) sim.Cancel(handles[size_t(i)]);
  sim.Run();
  std::vector<int> expected;
  for (int i = 199; i >= 0; --i)
    if (i % 3 != 0) expected.push_back(i);
  EXPECT_EQ(ran, expected);
}

// ---- EventCallback -------------------------------------------------------------------------

// Counts live copies of itself, so a test sees every construction matched by one destruction.
struct Tracked {
  int* live;
  int* calls;
  explicit Tracked(int* l, int* c) : live(l), calls(c) { ++*live; }
  Tracked(const Tracked& o) : live(o.live), calls(o.calls) { ++*live; }
  Tracked(Tracked&& o) noexcept : live(o.live), calls(o.calls) { ++*live; }
  ~Tracked() { --*live; }
  void operator()() const { ++*calls; }
};

TEST(EventCallback, SmallAndLargeCallablesRunMoveAndDieOnce) {
  int live = 0, calls = 0;
  {
    EventCallback small = Tracked(&live, &calls);
    struct Large {
      Tracked t;
      char padding[EventCallback::kInlineBytes] = {};  // cannot fit inline: goes to the heap
      void operator()() const { t(); }
    };
    EventCallback large = Large{Tracked(&live, &calls)};
    EXPECT_EQ(live, 2);
    EventCallback moved_small = std::move(small);
    EventCallback moved_large = std::move(large);
    EXPECT_FALSE(small);  // NOLINT(bugprone-use-after-move): a moved-from callback is empty
    EXPECT_FALSE(large);  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(live, 2);
    moved_small();
    moved_large();
    moved_small = std::move(moved_large);  // destroys the small one's callable
    EXPECT_EQ(live, 1);
    moved_small();
    EXPECT_EQ(calls, 3);
    EXPECT_THROW(moved_large(), std::bad_function_call);  // NOLINT(bugprone-use-after-move)
  }
  EXPECT_EQ(live, 0);
}

// A callback replaced by one its own callable holds (a continuation): the new one is taken
// before the old callable, and what it holds, are destroyed.
TEST(EventCallback, AssignedFromInsideItsOwnCallable) {
  int live = 0, calls = 0;
  {
    EventCallback outer;
    struct Holder {
      EventCallback* self;
      std::shared_ptr<EventCallback> next;
      void operator()() const { *self = std::move(*next); }
    };
    auto next = std::make_shared<EventCallback>(Tracked(&live, &calls));
    outer = Holder{&outer, next};
    next.reset();
    outer();  // replaces itself with the Tracked one that only it kept alive
    EXPECT_EQ(live, 1);
    outer();
    EXPECT_EQ(calls, 1);
  }
  EXPECT_EQ(live, 0);
}

TEST(EventCallback, SimulatorReleasesEveryCallable) {
  int live = 0, calls = 0;
  {
    Simulator sim;
    for (int i = 0; i < 100; ++i) sim.At(i, Tracked(&live, &calls));
    const uint64_t dropped = sim.Schedule(5, Tracked(&live, &calls));
    sim.Cancel(dropped);
    sim.Run();
    EXPECT_EQ(calls, 100);
    for (int i = 0; i < 10; ++i) sim.At(i, Tracked(&live, &calls));  // never run
  }
  EXPECT_EQ(live, 0);
}

// ---- SerialResource ------------------------------------------------------------------------

TEST(SerialResource, ServesFifoAndCountsBusyTime) {
  Simulator sim;
  SerialResource stream(&sim);
  std::vector<std::pair<int, Seconds>> done;
  auto record = [&](int task) { return [&, task] { done.push_back({task, sim.Now()}); }; };
  EXPECT_EQ(stream.Submit(3.0, record(0)), 3.0);
  EXPECT_EQ(stream.Submit(0.0, record(1)), 3.0);
  EXPECT_EQ(stream.Submit(2.0, record(2)), 5.0);
  // Submitted at 1 while busy: waits for task 2.
  sim.At(1.0, [&] { EXPECT_EQ(stream.Submit(1.0, record(3)), 6.0); });
  // Submitted at 10 when idle: starts at once.
  sim.At(10.0, [&] { EXPECT_EQ(stream.Submit(0.5, record(4)), 10.5); });
  EXPECT_EQ(sim.Run(), 10.5);
  const std::vector<std::pair<int, Seconds>> expected = {
      {0, 3.0}, {1, 3.0}, {2, 5.0}, {3, 6.0}, {4, 10.5}};
  EXPECT_EQ(done, expected);
  EXPECT_EQ(stream.BusySeconds(), 6.5);
  EXPECT_EQ(stream.FreeAt(), 10.5);
}

TEST(SerialResource, RejectsNegativeDuration) {
  Simulator sim;
  SerialResource stream(&sim);
  EXPECT_THROW(stream.Submit(-1.0, [] {}), std::invalid_argument);
}

// ---- FlowNetwork: single link --------------------------------------------------------------

TEST(FlowNetwork, OneFlowTakesLatencyPlusBytesOverBandwidth) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId link = net.AddLink(1e9, 2e-6, "nic");
  Seconds done = -1;
  net.StartFlow({link}, 4e6, [&] { done = sim.Now(); });
  EXPECT_EQ(net.ActiveFlows(), 1u);
  sim.Run();
  ExpectTime(done, 2e-6 + 4e6 / 1e9);
  EXPECT_EQ(net.ActiveFlows(), 0u);
  EXPECT_EQ(net.Stats(link).bytes, 4e6);
  ExpectTime(net.Stats(link).busy_seconds, 4e6 / 1e9);
}

TEST(FlowNetwork, LatenciesAddAlongThePath) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId a = net.AddLink(100, 1.0, "a");
  const LinkId b = net.AddLink(50, 2.0, "b");
  Seconds done = -1;
  net.StartFlow({a, b}, 100, [&] { done = sim.Now(); });
  sim.Run();
  ExpectTime(done, 3.0 + 100.0 / 50);  // the slower link is the bottleneck
}

TEST(FlowNetwork, EqualFlowsShareALinkEqually) {
  Simulator sim;
  FlowNetwork net(&sim);
  const int n = 5;
  const LinkId link = net.AddLink(1e3, 2.0, "shared");
  std::vector<Seconds> done(n, -1);
  for (int i = 0; i < n; ++i) net.StartFlow({link}, 1e3, [&, i] { done[i] = sim.Now(); });
  sim.Run();
  for (Seconds t : done) ExpectTime(t, 2.0 + n * 1e3 / 1e3);
  EXPECT_EQ(net.Stats(link).bytes, n * 1e3);
}

TEST(FlowNetwork, SmallFlowEndsFirstAndTheRestSpeedUp) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId link = net.AddLink(100, 1.0, "shared");
  std::vector<Seconds> done(3, -1);
  const double bytes[] = {100, 200, 300};
  for (int i = 0; i < 3; ++i) net.StartFlow({link}, bytes[i], [&, i] { done[i] = sim.Now(); });
  // Flow 2 would end at 10 at its first rate: that superseded completion must not run.
  ExpectTime(sim.Run(), 7.0);
  // From t=1 all drain at 100/3 B/s: flow 0 ends at 1 + 100/(100/3) = 4. Flows 1 and 2 then
  // have 100 and 200 left at 50 B/s: flow 1 ends at 6; flow 2 has 100 left at 100 B/s: 7.
  ExpectTime(done[0], 4.0);
  ExpectTime(done[1], 6.0);
  ExpectTime(done[2], 7.0);
  ExpectTime(net.Stats(link).busy_seconds, 6.0);
}

TEST(FlowNetwork, LaterFlowsChangeRatesMidFlow) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId link = net.AddLink(100, 0.5, "shared");
  Seconds x_done = -1, y_done = -1, z_done = -1;
  net.StartFlow({link}, 300, [&] { x_done = sim.Now(); });
  sim.At(1.0, [&] {
    net.StartFlow({link}, 100, [&] {
      y_done = sim.Now();
      net.StartFlow({link}, 50, [&] { z_done = sim.Now(); });
    });
  });
  ExpectTime(sim.Run(), 5.0);
  // X drains alone from 0.5 to 1.5 (100 B), then shares with Y at 50 B/s: Y's 100 B end at 3.5,
  // when X has 100 B left. X drains alone at 100 B/s until Z starts draining at 4.0 (50 B left),
  // then both drain their last 50 B at 50 B/s and end at 5.0.
  ExpectTime(y_done, 3.5);
  ExpectTime(x_done, 5.0);
  ExpectTime(z_done, 5.0);
  EXPECT_EQ(net.Stats(link).bytes, 450);
  ExpectTime(net.Stats(link).busy_seconds, 4.5);
}

TEST(FlowNetwork, BusyTimeExcludesIdleGapsAndLatency) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId link = net.AddLink(100, 1.0, "link");
  net.StartFlow({link}, 100, [] {});                           // drains over [1, 2]
  sim.At(5.0, [&] { net.StartFlow({link}, 100, [] {}); });     // drains over [6, 7]
  sim.At(6.5, [&] { ExpectTime(net.Stats(link).busy_seconds, 1.5); });  // mid-flow query
  sim.Run();
  ExpectTime(net.Stats(link).busy_seconds, 2.0);
  EXPECT_EQ(net.Stats(link).bytes, 200);
}

TEST(FlowNetwork, ZeroByteAndLocalFlowsOnlyPayLatency) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId a = net.AddLink(10, 0.25, "a");
  const LinkId b = net.AddLink(10, 0.5, "b");
  Seconds zero_done = -1, local_done = -1;
  sim.At(1.0, [&] {
    net.StartFlow({a, b}, 0, [&] { zero_done = sim.Now(); });
    net.StartFlow({}, 1e9, [&] { local_done = sim.Now(); });
    EXPECT_EQ(net.ActiveFlows(), 2u);
  });
  sim.Run();
  EXPECT_EQ(zero_done, 1.75);
  EXPECT_EQ(local_done, 1.0);
  EXPECT_EQ(net.ActiveFlows(), 0u);
  EXPECT_EQ(net.Stats(a).busy_seconds, 0);
}

// ---- FlowNetwork: max-min across links -----------------------------------------------------

TEST(FlowNetwork, MaxMinAcrossLinks) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId l1 = net.AddLink(10, 0, "l1");
  const LinkId l2 = net.AddLink(4, 0, "l2");
  Seconds a_done = -1, b_done = -1, c_done = -1;
  net.StartFlow({l1, l2}, 4, [&] { a_done = sim.Now(); });
  net.StartFlow({l1}, 40, [&] { b_done = sim.Now(); });
  net.StartFlow({l2}, 12, [&] { c_done = sim.Now(); });
  ExpectTime(sim.Run(), 4.4);
  // Max-min: l2 is the bottleneck (4/2 = 2 < 10/2 = 5), so A = C = 2 B/s and B takes the rest
  // of l1, 8 B/s. A ends at 4/2 = 2; then C has 8 B left at 4 B/s (ends at 4) and B has
  // 40 - 16 = 24 B left at 10 B/s (ends at 4.4).
  ExpectTime(a_done, 2.0);
  ExpectTime(c_done, 4.0);
  ExpectTime(b_done, 4.4);
}

TEST(FlowNetwork, PathCrossingALinkTwiceUsesItTwice) {
  Simulator sim;
  FlowNetwork net(&sim);
  const LinkId link = net.AddLink(100, 0, "loop");
  Seconds done = -1;
  net.StartFlow({link, link}, 100, [&] { done = sim.Now(); });
  sim.Run();
  ExpectTime(done, 2.0);  // each byte crosses twice: 50 B/s
}

// ---- FlowNetwork: collectives --------------------------------------------------------------

// Ring of n nodes with links i -> i+1; in each step every node sends `bytes` to the next one,
// starting as soon as it has received the previous step's data. Returns the finishing time.
Seconds RunRing(int n, int steps, double bytes, double bandwidth_Bps, Seconds latency) {
  Simulator sim;
  FlowNetwork net(&sim);
  std::vector<LinkId> links;
  for (int i = 0; i < n; ++i) {
    links.push_back(net.AddLink(bandwidth_Bps, latency, "ring" + std::to_string(i)));
  }
  std::function<void(int, int)> send = [&](int node, int step) {
    net.StartFlow({links[node]}, bytes, [&send, node, step, n, steps] {
      if (step + 1 < steps) send((node + 1) % n, step + 1);
    });
  };
  for (int node = 0; node < n; ++node) send(node, 0);
  const Seconds end = sim.Run();
  EXPECT_EQ(net.ActiveFlows(), 0u);
  return end;
}

TEST(FlowNetwork, RingTakesStepsTimesLatencyPlusTransfer) {
  const int n = 8;
  const double bytes = 1 << 20, bandwidth = 25e9, latency = 3e-6;
  ExpectTime(RunRing(n, n - 1, bytes, bandwidth, latency), (n - 1) * (latency + bytes / bandwidth));
}

// Performance smoke test: 400 links x 800 steps = 320,000 flows, 800 recomputes of 400
// one-flow components.
TEST(FlowNetwork, LargeRingCompletes) {
  const int n = 400, steps = 800;
  const double bytes = 1 << 16, bandwidth = 12.5e9, latency = 1e-6;
  ExpectTime(RunRing(n, steps, bytes, bandwidth, latency), steps * (latency + bytes / bandwidth));
}

// Complete binary tree of 2^(depth+1) - 1 nodes with a link each way on every edge. Reduce: a
// node sends to its parent once both children's data arrived; broadcast: the root then sends
// down, each node forwarding to both children. Both phases take depth * (latency + S/bw).
TEST(FlowNetwork, BinaryTreeReduceThenBroadcast) {
  const int depth = 4, n = (1 << (depth + 1)) - 1;
  const double bytes = 1e6, bandwidth = 1e10, latency = 5e-6;
  Simulator sim;
  FlowNetwork net(&sim);
  std::vector<LinkId> up(n, -1), down(n, -1);  // edge between node i > 0 and (i - 1) / 2
  for (int i = 1; i < n; ++i) {
    up[i] = net.AddLink(bandwidth, latency, "up" + std::to_string(i));
    down[i] = net.AddLink(bandwidth, latency, "down" + std::to_string(i));
  }
  std::vector<int> children_received(n, 0);
  Seconds reduce_done = -1;
  std::vector<Seconds> received(n, -1);
  std::function<void(int)> broadcast = [&](int node) {
    for (int child : {2 * node + 1, 2 * node + 2}) {
      if (child >= n) continue;
      net.StartFlow({down[child]}, bytes, [&, child] {
        received[child] = sim.Now();
        broadcast(child);
      });
    }
  };
  std::function<void(int)> reduce = [&](int node) {
    if (node == 0) {
      reduce_done = sim.Now();
      broadcast(0);
      return;
    }
    const int parent = (node - 1) / 2;
    net.StartFlow({up[node]}, bytes, [&, parent] {
      if (++children_received[parent] == 2) reduce(parent);
    });
  };
  for (int leaf = n / 2; leaf < n; ++leaf) reduce(leaf);
  sim.Run();
  const Seconds step = latency + bytes / bandwidth;
  ExpectTime(reduce_done, depth * step);
  for (int leaf = n / 2; leaf < n; ++leaf) ExpectTime(received[leaf], 2 * depth * step);
}

// ---- FlowNetwork: against a brute-force reference ------------------------------------------

struct TestLink {
  double bandwidth_Bps;
  Seconds latency;
};
struct TestFlow {
  std::vector<int> path;
  double bytes;
  Seconds start;
};

// Recomputes max-min rates of all draining flows from scratch at every event (naive progressive
// filling) and steps time to the next event. Returns each flow's completion time.
std::vector<Seconds> ReferenceCompletionTimes(const std::vector<TestLink>& links,
                                              const std::vector<TestFlow>& flows) {
  const size_t n = flows.size();
  std::vector<Seconds> drain_start(n), done(n, -1);
  std::vector<double> remaining(n);
  for (size_t f = 0; f < n; ++f) {
    drain_start[f] = flows[f].start;
    for (int l : flows[f].path) drain_start[f] += links[l].latency;
    remaining[f] = flows[f].bytes;
  }
  Seconds now = 0;
  for (;;) {
    std::vector<double> rate(n, 0);
    std::vector<bool> draining(n, false), frozen(n, false);
    for (size_t f = 0; f < n; ++f) draining[f] = done[f] < 0 && drain_start[f] <= now;
    std::vector<double> spare(links.size());
    for (size_t l = 0; l < links.size(); ++l) spare[l] = links[l].bandwidth_Bps;
    for (;;) {
      double best_share = std::numeric_limits<double>::infinity();
      int best_link = -1;
      for (size_t l = 0; l < links.size(); ++l) {
        int unfrozen = 0;
        for (size_t f = 0; f < n; ++f) {
          if (!draining[f] || frozen[f]) continue;
          unfrozen += static_cast<int>(std::count(flows[f].path.begin(), flows[f].path.end(), l));
        }
        if (unfrozen > 0 && spare[l] / unfrozen < best_share) {
          best_share = spare[l] / unfrozen;
          best_link = static_cast<int>(l);
        }
      }
      if (best_link < 0) break;
      for (size_t f = 0; f < n; ++f) {
        const auto& path = flows[f].path;
        if (!draining[f] || frozen[f]) continue;
        if (std::find(path.begin(), path.end(), best_link) == path.end()) continue;
        frozen[f] = true;
        rate[f] = best_share;
        for (int l : path) spare[l] -= best_share;
      }
    }
    Seconds next = std::numeric_limits<double>::infinity();
    for (size_t f = 0; f < n; ++f) {
      if (done[f] >= 0) continue;
      if (drain_start[f] > now) next = std::min(next, drain_start[f]);
      if (draining[f]) next = std::min(next, now + remaining[f] / rate[f]);
    }
    if (std::isinf(next)) return done;
    for (size_t f = 0; f < n; ++f) {
      if (!draining[f]) continue;
      remaining[f] -= rate[f] * (next - now);
      if (remaining[f] <= 1e-9 * flows[f].bytes) done[f] = next;
    }
    now = next;
  }
}

// Random links and flows (1 to max_path distinct links each) with start times on a coarse grid,
// so that many flows start together; checks every completion time against the reference.
void ExpectMatchesReference(uint64_t seed, int num_links, int num_flows, int max_path) {
  std::mt19937_64 random(seed);
  auto pick = [&](int n) { return static_cast<int>(random() % n); };
  std::vector<TestLink> links;
  for (int l = 0; l < num_links; ++l) links.push_back({(1 + pick(10)) * 1e3, 0.01 * pick(3)});
  std::vector<int> all_links(num_links);
  for (int l = 0; l < num_links; ++l) all_links[l] = l;
  std::vector<TestFlow> flows;
  for (int f = 0; f < num_flows; ++f) {
    TestFlow flow;
    std::shuffle(all_links.begin(), all_links.end(), random);
    flow.path.assign(all_links.begin(), all_links.begin() + 1 + pick(max_path));
    flow.bytes = 1 + pick(10000);
    flow.start = 0.25 * pick(40);
    flows.push_back(flow);
  }

  Simulator sim;
  FlowNetwork net(&sim);
  for (const TestLink& link : links) net.AddLink(link.bandwidth_Bps, link.latency, "l");
  std::vector<Seconds> done(flows.size(), -1);
  for (size_t f = 0; f < flows.size(); ++f) {
    sim.At(flows[f].start, [&, f] {
      net.StartFlow(flows[f].path, flows[f].bytes, [&, f] { done[f] = sim.Now(); });
    });
  }
  const Seconds end = sim.Run();

  const std::vector<Seconds> expected = ReferenceCompletionTimes(links, flows);
  for (size_t f = 0; f < flows.size(); ++f) {
    SCOPED_TRACE("flow " + std::to_string(f));
    EXPECT_NEAR(done[f], expected[f], 1e-7 * expected[f]);
  }
  EXPECT_NEAR(end, *std::max_element(expected.begin(), expected.end()), 1e-7 * end);
}

// Few links: most flows share one component that keeps growing and shrinking.
TEST(FlowNetwork, MatchesBruteForceMaxMinOnADenseNetwork) { ExpectMatchesReference(12345, 6, 60, 3); }

// Many links: small components that merge when a flow bridges them and split when it ends.
TEST(FlowNetwork, MatchesBruteForceMaxMinOnASparseNetwork) { ExpectMatchesReference(777, 40, 80, 2); }

TEST(FlowNetwork, RepeatedRunsAreBitIdentical) {
  auto run = [] {
    Simulator sim;
    FlowNetwork net(&sim);
    const LinkId l1 = net.AddLink(3e3, 1e-3, "l1");
    const LinkId l2 = net.AddLink(7e3, 2e-3, "l2");
    std::vector<Seconds> done;
    for (int i = 0; i < 50; ++i) {
      const std::vector<LinkId> path = i % 3 == 0 ? std::vector<LinkId>{l1, l2}
                                                   : std::vector<LinkId>{i % 3 == 1 ? l1 : l2};
      sim.At(0.01 * (i % 7), [&, path, i] {
        net.StartFlow(path, 100.0 + 37 * i, [&] { done.push_back(sim.Now()); });
      });
    }
    sim.Run();
    return done;
  };
  EXPECT_EQ(run(), run());
}

// ---- FlowNetwork: argument validation ------------------------------------------------------

template <typename Fn>
void ExpectInvalidArgumentNaming(Fn fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "no exception; expected one naming '" << fragment << "'";
  } catch (const std::invalid_argument& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

TEST(FlowNetwork, RejectsInvalidArguments) {
  Simulator sim;
  FlowNetwork net(&sim);
  const double inf = std::numeric_limits<double>::infinity();
  ExpectInvalidArgumentNaming([&] { net.AddLink(0, 0, "x"); }, "bandwidth_Bps");
  ExpectInvalidArgumentNaming([&] { net.AddLink(-5, 0, "x"); }, "-5");
  ExpectInvalidArgumentNaming([&] { net.AddLink(inf, 0, "x"); }, "bandwidth_Bps");
  ExpectInvalidArgumentNaming([&] { net.AddLink(std::nan(""), 0, "x"); }, "bandwidth_Bps");
  ExpectInvalidArgumentNaming([&] { net.AddLink(1, -1, "x"); }, "latency");
  const LinkId link = net.AddLink(1, 0, "ok");
  ExpectInvalidArgumentNaming([&] { net.StartFlow({link}, -1, [] {}); }, "bytes");
  ExpectInvalidArgumentNaming([&] { net.StartFlow({link}, std::nan(""), [] {}); }, "bytes");
  ExpectInvalidArgumentNaming([&] { net.StartFlow({link, 7}, 1, [] {}); }, "link id 7");
  ExpectInvalidArgumentNaming([&] { net.Stats(-1); }, "link id -1");
  EXPECT_EQ(net.NumLinks(), 1u);
  EXPECT_EQ(net.ActiveFlows(), 0u);
  EXPECT_EQ(net.LinkName(link), "ok");
  EXPECT_EQ(net.LinkBandwidth(link), 1);
  EXPECT_EQ(net.LinkLatency(link), 0);
}

}  // namespace
}  // namespace braid::sim
