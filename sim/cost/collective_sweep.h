// One collective over a range of sizes, nccl-tests style (what `plan-sim collective` prints):
// for each size, the NCCL "size" rounded so that every rank gets whole, equal blocks, the
// predicted time of one call (CollectiveCoster), and nccl-tests' algorithm and bus bandwidths.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "collectives/schedule.h"
#include "sim/cluster/cluster.h"

namespace braid::sim {

struct CollectiveSweepSpec {
  coll::Collective collective = coll::Collective::kAllReduce;
  int ranks = 2;           // ranks 0 .. ranks-1 of the cluster, node-major
  int elem_size = 4;       // bytes per element
  bool average = false;    // RedOp avg (the host runtime divides at the end)
  size_t min_bytes = 8;    // first size (bytes)
  size_t max_bytes = 256 << 20;  // last size at most (bytes)
  size_t factor = 2;       // each size is the previous one times this (>= 2)
  std::optional<coll::Algorithm> algorithm;  // forced; unset: the tuner's choice per size
};

struct CollectiveSweepRow {
  size_t bytes = 0;   // nccl-tests' "size": max(input, output) bytes of one rank
  size_t count = 0;   // the call's count argument (per rank for reduce-scatter / all-gather,
                      // per peer for all-to-all)
  double seconds = 0;
  double algbw_GBps = 0;  // bytes / seconds
  double busbw_GBps = 0;  // algbw x BusBandwidthFactor
  coll::Algorithm algorithm = coll::Algorithm::kRing;
  size_t slice_bytes = 0;
  std::string tuner;  // the tuner's estimates it chose from (CollectiveCost::tuner_reason)
};

// nccl-tests' busbw / algbw: 2(n-1)/n all-reduce; (n-1)/n reduce-scatter, all-gather and
// all-to-all; 1 broadcast and reduce.
double BusBandwidthFactor(coll::Collective collective, int nranks);

// `cluster` must already be sized for spec.ranks (SizeForGpus).
std::vector<CollectiveSweepRow> SweepCollective(const ClusterSpec& cluster, const CollectiveSweepSpec& spec);

}  // namespace braid::sim
