#include "sim/step/param_gather.h"

#include <algorithm>

#include <fmt/format.h>

namespace braid::sim {
namespace {

// The label of a bucket holding `first`..`last` (forward order).
std::string BucketLabel(const std::string& first, const std::string& last) {
  return first == last ? first : first + " to " + last;
}

// One chunk under the pre-hook chain: the gather of bucket i+1 is issued when bucket i's kernels
// start, which is ScheduleZeroPass's prefetch with no reductions.
void ScheduleChained(const std::vector<GatherBucket>& buckets, double start, GatherSchedule* out) {
  std::vector<ZeroUnit> units;
  for (const GatherBucket& b : buckets) units.push_back({b.label.c_str(), -1, b.compute, b.gather, 0});
  const ZeroPass pass = ScheduleZeroPass(units, /*overlap_reduce=*/true, /*keep_spans=*/true);
  out->first_forward.push_back(pass.seconds);
  out->exposed.push_back(pass.exposed);
  for (const ZeroLinkSpan& s : pass.spans) out->spans.push_back({s.label, start + s.start, start + s.end});
}

}  // namespace

std::vector<size_t> BucketEnds(const std::vector<double>& sizes, double limit) {
  std::vector<size_t> ends;
  double bucket = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    bucket += sizes[i];
    if (bucket >= limit || i + 1 == sizes.size()) {
      ends.push_back(i);
      bucket = 0;
    }
  }
  return ends;
}

std::vector<GatherBucket> BucketUnits(const std::vector<GatherUnit>& units, double bucket_parameters) {
  std::vector<double> sizes;  // backward order
  for (auto u = units.rbegin(); u != units.rend(); ++u) sizes.push_back(u->parameters);
  std::vector<GatherBucket> buckets;
  size_t first = 0;  // in backward order: the bucket's last unit in forward order
  for (size_t end : BucketEnds(sizes, bucket_parameters)) {
    const GatherUnit& forward_first = units[units.size() - 1 - end];
    const GatherUnit& forward_last = units[units.size() - 1 - first];
    GatherBucket b;
    b.label = BucketLabel(forward_first.label, forward_last.label);
    for (size_t i = first; i <= end; ++i) {
      b.compute += units[units.size() - 1 - i].compute;
      b.parameters += units[units.size() - 1 - i].parameters;
    }
    buckets.push_back(b);
    first = end + 1;
  }
  std::reverse(buckets.begin(), buckets.end());
  return buckets;
}

std::vector<double> InterleavedDispatchTimes(const std::vector<double>& forward_starts, int pp, int v, int stage) {
  std::vector<double> dispatched(size_t(v), 0.0);
  for (int c = 2; c < v && !forward_starts.empty(); ++c) {
    const size_t k = size_t((c - 1) * pp - stage);  // >= 1: stage < pp
    dispatched[size_t(c)] = k < forward_starts.size() ? forward_starts[k] : forward_starts.back();
  }
  return dispatched;
}

GatherSchedule ScheduleParamGather(const std::vector<std::vector<GatherBucket>>& chunks,
                                   const std::vector<double>& first_start, const std::vector<double>& dispatched) {
  GatherSchedule out;
  if (dispatched.empty()) {
    for (size_t c = 0; c < chunks.size(); ++c) ScheduleChained(chunks[c], first_start[c], &out);
    return out;
  }
  // Every dispatched bucket queues on the stage's data-parallel link in dispatch order: chunk
  // order (dispatch times do not decrease with the chunk), each chunk's buckets backward.
  double link_free = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const std::vector<GatherBucket>& buckets = chunks[c];
    std::vector<double> ready(buckets.size(), dispatched[c]);
    for (size_t i = buckets.size(); i-- > 0;) {
      if (buckets[i].gather <= 0) continue;
      const double start = std::max(link_free, dispatched[c]);
      link_free = ready[i] = start + buckets[i].gather;
      out.spans.push_back({"param all-gather " + buckets[i].label, start, ready[i]});
    }
    double t = first_start[c];  // the chunk's first forward, waiting for each bucket in turn
    double computed = 0;
    for (size_t i = 0; i < buckets.size(); ++i) {
      t = std::max(t, ready[i]) + buckets[i].compute;
      computed += buckets[i].compute;
    }
    out.first_forward.push_back(t - first_start[c]);
    out.exposed.push_back(t - first_start[c] - computed);
  }
  return out;
}

}  // namespace braid::sim
