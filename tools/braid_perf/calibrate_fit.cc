#include "calibrate_fit.h"

#include <algorithm>
#include <cmath>

namespace braid::perf {
namespace {

constexpr double kMinGBps = 1e-6;

constexpr int kRobustIterations = 20;
constexpr double kMinResidual = 1e-3;  // relative; bounds the L1 reweighting
constexpr double kMinSplitGain = 0.005;  // relative error per point a second regime must save
// Windowed suites' sizes that set the stream rates (calibrate_fit.h): the host runtime's slice
// sizes (32-256 KiB) and a little above, where the reused buffers are in cache. What memory does
// to the rates beyond the caches is measured separately (calibrate_local.h) and applied by plan-sim.
constexpr double kStreamMinBytes = kMinFitBandwidthBytes, kStreamMaxBytes = 1 << 20;
// The smallest exchange whose rate counts as streaming: plan-sim's link rates are taken at a
// 256 KiB working set (kStreamWorkingSetBytes in sim/cluster/host_calibration.h), and below it an
// exchange's fixed share (an eager message's trip through the FIFO, the wake-up) is large enough
// that bytes / time understates the rate at which slices in flight drain; plan-sim charges that
// share apart, as each message's fixed cost.
constexpr double kExchangeStreamMinBytes = 256 << 10;
constexpr size_t kAlphaPoints = 3;  // smallest large-regime sizes that set its alpha

// Sum of absolute relative errors of `fit` over `points` (L1: one noisy size moves the fit
// little, and the machines this runs on are noisy).
double RelativeError(const AlphaBeta& fit, const std::vector<SizedValue>& points) {
  double sum = 0;
  for (const SizedValue& p : points) sum += std::abs(fit.Microseconds(p.bytes) / p.value - 1);
  return sum;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Weighted least squares of t = a + s c with a >= 0, c > 0 (c in microseconds per byte):
// minimises sum w (a + s c - t)^2 (weights already include 1/t^2 for relative error).
AlphaBeta WeightedFit(const std::vector<SizedValue>& points, const std::vector<double>& weights) {
  double sw = 0, sws = 0, swss = 0, swt = 0, swst = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    const double w = weights[i], x = points[i].bytes, t = points[i].value;
    sw += w;
    sws += w * x;
    swss += w * x * x;
    swt += w * t;
    swst += w * x * t;
  }
  const double det = sw * swss - sws * sws;
  double a = 0, c = 0;
  if (det > 0) {
    a = (swt * swss - sws * swst) / det;
    c = (sw * swst - sws * swt) / det;
  }
  if (det > 0 && a >= 0 && c > 0) return {a, std::max(1.0 / c / 1e3, kMinGBps)};
  // One term at its bound; keep whichever fits better. Bandwidth only: c = sum(w s t) /
  // sum(w s^2). Latency only: a = sum(w t) / sum(w), with a huge finite bandwidth (a cluster
  // file cannot hold infinity).
  const double c_only = swss > 0 ? std::max(swst / swss, 1e-12) : 1.0;
  AlphaBeta pure_bandwidth{0, 1.0 / c_only / 1e3};
  AlphaBeta pure_latency{sw > 0 ? swt / sw : 0, 1e9};
  return RelativeError(pure_bandwidth, points) <= RelativeError(pure_latency, points) ? pure_bandwidth
                                                                                       : pure_latency;
}

}  // namespace

AlphaBeta FitAlphaBeta(const std::vector<SizedValue>& raw) {
  std::vector<SizedValue> points;
  for (const SizedValue& p : raw)
    if (p.value > 0) points.push_back(p);
  if (points.empty()) return {0, 1e9};
  // Least absolute relative error by iteratively reweighted least squares, starting from
  // ordinary least squares in relative error.
  std::vector<double> weights(points.size());
  for (size_t i = 0; i < points.size(); ++i) weights[i] = 1.0 / (points[i].value * points[i].value);
  AlphaBeta fit = WeightedFit(points, weights);
  for (int it = 0; it < kRobustIterations; ++it) {
    for (size_t i = 0; i < points.size(); ++i) {
      const double residual = std::abs(fit.Microseconds(points[i].bytes) / points[i].value - 1);
      weights[i] = 1.0 / (points[i].value * points[i].value * std::max(residual, kMinResidual));
    }
    fit = WeightedFit(points, weights);
  }
  return fit;
}

LinkFit FitLink(const std::vector<SizedValue>& latency_us, const std::vector<SizedValue>& bw_MBps,
                const std::vector<SizedValue>& bibw_MBps, const std::vector<SizedValue>& exchange_us) {
  std::vector<SizedValue> points;
  for (const SizedValue& p : latency_us)
    if (p.bytes > 0 && p.value > 0) points.push_back(p);
  std::sort(points.begin(), points.end(), [](auto& x, auto& y) { return x.bytes < y.bytes; });

  LinkFit fit;
  fit.large = FitAlphaBeta(points);
  const double line_error = RelativeError(fit.large, points);
  // The best split, each piece keeping at least 2 points. It must beat one line by 10%, and by
  // half a percent per point on average, to be worth a regime (rounding noise does not split a
  // straight line).
  double best = line_error;
  LinkFit split;
  for (size_t k = 2; points.size() >= 4 && k + 2 <= points.size(); ++k) {
    std::vector<SizedValue> small(points.begin(), points.begin() + long(k));
    std::vector<SizedValue> large(points.begin() + long(k), points.end());
    AlphaBeta s = FitAlphaBeta(small), l = FitAlphaBeta(large);
    double error = RelativeError(s, small) + RelativeError(l, large);
    if (error < best) {
      best = error;
      split.has_small = true;
      split.small = s;
      split.large = l;
      split.small_max_bytes = small.back().bytes;
    }
  }
  if (split.has_small && best < 0.9 * line_error && line_error - best > kMinSplitGain * double(points.size())) {
    fit = split;
  }

  // Messages in flight overlap their fixed costs, so what a pipelined collective sees is the
  // streaming rate of the windowed suites, not a lone ping-pong's: the large regime takes GBps
  // from `bw` (one way) and bidir_GBps from `bibw` (per direction), medians over the sizes of
  // kStreamMinBytes..kStreamMaxBytes, and alpha_us is what a lone message costs beyond that (median over
  // the smallest large-regime ping-pong points), a latency that overlaps when several are in
  // flight.
  std::vector<double> one_way, both_ways;
  auto streaming = [](const SizedValue& p) {
    return p.bytes >= kStreamMinBytes && p.bytes <= kStreamMaxBytes && p.value > 0;
  };
  for (const SizedValue& p : bw_MBps)
    if (streaming(p)) one_way.push_back(p.value / 1e3);
  for (const SizedValue& p : bibw_MBps)
    if (streaming(p)) both_ways.push_back(p.value / 2 / 1e3);
  if (!one_way.empty()) {
    fit.large.GBps = Median(one_way);
    // The fixed cost shows where the bytes term is small: the first sizes of the regime.
    std::vector<double> excess;
    for (const SizedValue& p : points)
      if ((!fit.has_small || p.bytes > fit.small_max_bytes) && excess.size() < kAlphaPoints)
        excess.push_back(std::max(0.0, p.value - p.bytes / (fit.large.GBps * 1e3)));
    fit.large.alpha_us = Median(excess);
  }
  // Not capped by the one-way rate: on UCX shared memory a lone windowed stream can be slower
  // per direction than two opposite ones (the one-way suite waits on the receiver to free
  // shared-memory slots), and collectives' steps are the two-way kind.
  fit.bidir_GBps = both_ways.empty() ? fit.large.GBps : Median(both_ways);
  // Nor below what one exchange at a time moves, fixed costs included: a collective's step is
  // such an exchange, and where a flood of 64 messages each way congests shared memory (the
  // VM's slow mode: 8.0 GB/s per direction windowed, 9-10 GB/s exchanging one message each way
  // at 128 KiB-1 MiB) bibw alone made plan-sim predict 512 KiB-8 MiB rings 10-27% slow.
  std::vector<double> exchanged;
  for (const SizedValue& p : exchange_us)
    if (streaming(p) && p.bytes >= kExchangeStreamMinBytes)
      exchanged.push_back(p.bytes / p.value / 1e3);  // bytes/us = MB/s, to GB/s
  if (!exchanged.empty()) fit.bidir_GBps = std::max(fit.bidir_GBps, Median(exchanged));
  for (const SizedValue& p : points) {
    const double error = std::abs(fit.Microseconds(p.bytes) / p.value - 1);
    if (error <= fit.max_relative_error) continue;
    fit.max_relative_error = error;
    fit.worst_bytes = p.bytes;
  }
  return fit;
}

std::vector<SizedValue> NonDecreasingTimes(std::vector<SizedValue> times_us) {
  for (size_t i = times_us.size(); i-- > 1;)
    times_us[i - 1].value = std::min(times_us[i - 1].value, times_us[i].value);
  return times_us;
}

double MedianExcessUs(const std::vector<SizedValue>& longer, const std::vector<SizedValue>& shorter,
                      double largest_bytes) {
  std::vector<double> excess;
  for (const SizedValue& a : longer)
    for (const SizedValue& b : shorter)
      if (a.bytes == b.bytes && a.bytes <= largest_bytes) excess.push_back(a.value - b.value);
  if (excess.empty()) return 0;
  std::sort(excess.begin(), excess.end());
  return std::max(0.0, excess[excess.size() / 2]);
}

}  // namespace braid::perf
