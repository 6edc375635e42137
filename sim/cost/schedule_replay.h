// Replays per-rank collective schedules (collectives/schedule.h) on the cluster's links:
// each op is issued as soon as its dependencies complete; a send and its matching receive start
// a message once both are issued (rendezvous); receive-reduce, copy and finalise ops run on the
// GPU's reduction engine at memory speed, or, for braid's host runtime (cluster.host), on the
// rank's CPU at the calibrated reduce / copy throughput, sharing the core with its messages
// (sim/cluster/fabric.h). Returns the time the last op completes.
#pragma once

#include <cstdint>
#include <vector>

#include "collectives/schedule.h"
#include "sim/cluster/cluster.h"

namespace braid::sim {

struct ReplayRank {
  int communicator = 0;  // ranks of one communicator match each other's tags; several may replay at once
  int rank = 0;          // rank within its communicator (the schedule's peers refer to these)
  int gpu = 0;           // global GPU id the rank runs on
  int elem_size = 4;     // bytes per element of the schedule's regions
  // Host runtime: whether kFinalize divides (RedOp avg); for other ops the executor skips it.
  // (GPU replays always charge it, as they did before the host runtime was modelled.)
  bool finalize_divides = false;
  coll::RankSchedule schedule;
};

struct ReplayResult {
  double seconds = 0;
  uint64_t flows = 0;
};

ReplayResult ReplaySchedules(const ClusterSpec& cluster, const std::vector<ReplayRank>& ranks);

}  // namespace braid::sim
