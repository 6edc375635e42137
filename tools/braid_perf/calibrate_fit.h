// Fitting a link class's measured point-to-point curves to the model plan-sim replays:
// one message of s bytes on an idle link takes
//   small.alpha_us + s / small.GBps   for s <= small.max_bytes (the eager regime), else
//   alpha_us + s / GBps               (the rendezvous / pipelined regime),
// and when both directions of a pair stream at once each gets bidir_GBps.
// Pure functions of the measurements, so they are unit-tested without a network.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace braid::perf {

struct SizedValue {
  double bytes = 0;
  double value = 0;  // microseconds (latency) or MB/s (bandwidth)
};

// The smallest windowed size the bandwidth fit reads (FitLink): calibrate's -e must reach it.
inline constexpr size_t kMinFitBandwidthBytes = 64 << 10;

struct AlphaBeta {
  double alpha_us = 0;  // fixed cost per message, microseconds
  double GBps = 0;      // 1e9 bytes/s
  double Microseconds(double bytes) const { return alpha_us + bytes / (GBps * 1e3); }
};

struct LinkFit {
  AlphaBeta large;
  bool has_small = false;
  double small_max_bytes = 0;
  AlphaBeta small;
  double bidir_GBps = 0;
  double max_relative_error = 0;  // of the two-piece fit over the latency points
  double worst_bytes = 0;         // the latency point where it is largest
  double Microseconds(double bytes) const {
    return has_small && bytes <= small_max_bytes ? small.Microseconds(bytes) : large.Microseconds(bytes);
  }
};

// Least absolute relative error (every size weighs the same whatever its time; robust to a
// noisy size) of
// time = alpha + bytes / GBps, with alpha >= 0 and GBps > 0. Needs >= 1 point with bytes > 0.
AlphaBeta FitAlphaBeta(const std::vector<SizedValue>& latency_us);

// The two-piece fit of a ping-pong latency curve (half round trips): the breakpoint is chosen
// among the measured sizes to minimise the summed relative error; with fewer than 4 points, or
// when one piece fits as well, no small regime. When the windowed suites were measured, the
// large regime's GBps is the one-way streaming rate of `bw_MBps` and bidir_GBps the per-direction
// rate of `bibw_MBps` (both directions summed, OSU's convention), medians over sizes 64 KiB-1 MiB,
// and alpha_us the median excess of a lone message over that rate at the regime's 3 smallest
// sizes; otherwise the ping-pong fit's own line, with bidir_GBps = GBps. When `exchange_us`
// (one message each way at a time, microseconds per exchange of `bytes` per direction) was
// measured, bidir_GBps is at least the median of bytes / time over its 256 KiB-1 MiB sizes
// (smaller exchanges carry a fixed share that plan-sim charges apart).
// max_relative_error is over the ping-pong points.
LinkFit FitLink(const std::vector<SizedValue>& latency_us, const std::vector<SizedValue>& bw_MBps,
                const std::vector<SizedValue>& bibw_MBps, const std::vector<SizedValue>& exchange_us = {});

// Times measured at growing sizes, made non-decreasing: each size keeps the least time measured
// at it or at any larger size. Moving more bytes never takes less time, and on a shared machine
// noise only ever adds time, so a small size measured slower than a larger one was disturbed and
// the larger one's time bounds it. `times_us` must be sorted by bytes.
std::vector<SizedValue> NonDecreasingTimes(std::vector<SizedValue> times_us);

// How much longer `longer` takes than `shorter` (microseconds), the median over the sizes both
// measured up to `largest_bytes`, at least 0; 0 when they share no such size.
double MedianExcessUs(const std::vector<SizedValue>& longer, const std::vector<SizedValue>& shorter,
                      double largest_bytes = std::numeric_limits<double>::infinity());

}  // namespace braid::perf
