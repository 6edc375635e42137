// Time of a collective on the cluster, found by replaying the schedules braid would run
// (collectives/: the tuner's algorithm and slice choice, per rank) on the fabric's links with
// max-min fair sharing. Results are cached by (collective, size, placement pattern), so a step
// simulation pays for each distinct collective once.
//
// GPU clusters: the tuner chooses on the group's bottleneck link class, with GPU-sized slices and
// one channel per NIC. Host-runtime clusters (cluster.host): the choice is exactly the host
// runtime's (coll::HostRuntimeLinkModel(), one channel, the exact size and slice), replayed on the
// calibrated CPU and link model.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "collectives/schedule.h"
#include "sim/cluster/cluster.h"

namespace braid::sim {

struct CollectiveQuery {
  coll::Collective collective = coll::Collective::kAllReduce;
  // NCCL / nccl-tests "size": all-reduce buffer; all-gather output; reduce-scatter input;
  // broadcast / reduce buffer; all-to-all buffer per rank.
  double bytes = 0;
  int elem_size = 2;
  bool average = false;  // RedOp avg: the host runtime divides in kFinalize (else skipped)
  // Forced algorithm (as BRAID_ALGO); unset: the tuner's choice. One the collective does not
  // support falls back to the tuner, as the runtime does.
  std::optional<coll::Algorithm> algorithm;
  // Groups that run the same collective at the same time (e.g. the DP groups of all TP ranks of
  // a stage), each listing global GPU ids in rank order. They share links where they meet.
  std::vector<std::vector<int>> groups;
};

struct CollectiveCost {
  double seconds = 0;
  coll::Algorithm algorithm = coll::Algorithm::kRing;
  size_t slice_bytes = 0;     // the tuner's slice, as braid runs it (a large replay may use coarser ones)
  int channels = 1;           // parallel rings/trees, one per NIC the group can use per node
  int ranks_simulated = 0;    // ranks replayed explicitly (all groups)
  bool extrapolated = false;  // replayed on a periodic subset, scaled by the schedule's steps
  // The tuner's estimate of every algorithm at its best slice, best first ("tree 44.3us (slice
  // 4MiB) < chain 51.2us"): what it chose from, beside what the replay made of the choice.
  // Shared, so that a cached cost copies cheaply.
  std::shared_ptr<const std::string> tuner_reason;
};

struct CollectiveCostStats {
  uint64_t replays = 0, cache_hits = 0, flows = 0;
};

// How many `count`-element blocks NCCL's "size" holds: nranks for reduce-scatter (its input),
// all-gather (its output) and all-to-all (its buffers); 1 otherwise.
int BlocksInSize(coll::Collective collective, int nranks);
// The call's `count` argument for `bytes` of NCCL "size": size / elem_size / BlocksInSize,
// rounded down (as nccl-tests does).
size_t CountPerRank(coll::Collective collective, double bytes, int elem_size, int nranks);

class CollectiveCoster {
 public:
  explicit CollectiveCoster(const ClusterSpec& cluster) : cluster_(cluster) {}

  CollectiveCost Cost(const CollectiveQuery& query);
  // Concurrent point-to-point transfers of `bytes` each (pipeline activations): seconds until
  // the last arrives.
  double Transfers(const std::vector<std::pair<int, int>>& pairs, double bytes);

  const CollectiveCostStats& stats() const { return stats_; }

 private:
  CollectiveCost Replay(const CollectiveQuery& query);
  const ClusterSpec& cluster_;
  std::map<std::string, CollectiveCost> cache_;
  std::map<std::string, double> latency_cache_;  // a subset's replay with one element per rank
  std::map<std::string, double> transfer_cache_;
  CollectiveCostStats stats_;
};

}  // namespace braid::sim
