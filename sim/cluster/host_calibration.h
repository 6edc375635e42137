// What `braid-perf calibrate` measured on CPU ranks (the "calibration" block of a cluster file):
// braid's host runtime, where every byte a rank sends, receives, reduces or copies goes through
// that rank's CPU. plan-sim's host-runtime mode replays collectives with these numbers
// (sim/cluster/fabric.cc, sim/cost/schedule_replay.cc).
//
// Units: GB/s = 1e9 bytes/s per direction; us = microseconds; bytes.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "collectives/tuner_file.h"

namespace braid::sim {

// One class of point-to-point link (e.g. "shm" between ranks of a node, "tcp" between nodes).
struct HostLinkClass {
  double alpha_us = 0;    // latency of one large message on an idle link
  double GBps = 0;        // bandwidth of one stream alone
  double bidir_GBps = 0;  // bandwidth per direction when two ranks stream to each other at once
  // Small-message regime, used up to small_max_bytes (0: no small regime, large everywhere).
  double small_max_bytes = 0;
  double small_alpha_us = 0;
  double small_GBps = 0;
  // Measured time of one exchange (a message of `bytes` each way between the pair, at once, as
  // a collective's step sends and receives), without the call's own cost; ascending bytes.
  // When present they set each message's fixed cost up to the largest size measured: what a
  // step costs changes with the transport's protocol at each size (eager, bcopy, rendezvous
  // handshake), which two lines fitted across 1 B .. 256 MiB do not follow (at 64 KiB the
  // ping-pong fit gave 0.47 us where exchanges leave ~2 us; docs/PERFORMANCE.md, session 12).
  struct Point {
    double bytes = 0;
    double us = 0;
  };
  std::vector<Point> exchange_points;
  // Optional, ascending bytes: the per-direction rate (GB/s) of a 2-rank in-place all-gather
  // whose buffer is `bytes` per rank (each rank streams half of it to the other, sliced as the
  // runtime slices a collective; calibrate measures from 1 MiB up). Where it is below
  // bidir_GBps, a collective whose buffers are that large streams slower by as much
  // (HostCalibration::AtWorkingSet).
  struct RatePoint {
    double bytes = 0;
    double GBps = 0;
  };
  std::vector<RatePoint> streaming_rates;
  // Optional, ascending bytes: the same for a 2-rank in-place reduce-scatter (the same exchanges,
  // each received half reduced into the rank's own; bytes received per second). How far it runs
  // below its exchanges and its reduction side by side says how busy the exchanges keep the
  // rank's core (HostCalibration::AtWorkingSet: core_GBps).
  std::vector<RatePoint> streaming_reduce_rates;

  // Seconds one message of `bytes` takes alone on an idle link, from the fitted lines.
  double MessageSeconds(double bytes) const;
  // The part of a message's time that draining its bytes does not explain (matching, protocol
  // handshakes, waking the receiver). From the exchange points: the exchange time (linear in
  // bytes between points; the first point's below it; the last point's fixed part beyond it)
  // less its bytes at bidir_GBps, since both directions drained at once. Without points:
  // MessageSeconds less its bytes at GBps. Never negative.
  double FixedSeconds(double bytes) const;
};

// Reduce and copy rates of a rank while every rank of the node streams the same way, on buffers
// of `bytes` reused call after call (braid-perf calibrate's "memory" block).
struct HostMemoryPoint {
  double bytes = 0;  // working set: each of a collective's input and output, per rank
  double reduce_GBps = 0;
  double copy_GBps = 0;
};

struct HostCalibration {
  // Provenance, printed by `plan-sim topo`.
  std::string tool, date, host, command;
  int ranks_per_node = 0;
  double reduce_GBps = 0;  // one rank's host reduction (two inputs -> one output), output bytes/s
  double copy_GBps = 0;    // one rank's memcpy, bytes copied per second
  // What one collective call costs beyond its messages and local work (argument checks, plan
  // lookup, the executor's set-up; calibrate: a 2-rank all-gather less its exchange), charged
  // once per call on every rank.
  double call_overhead_us = 0;
  // What one reduction step costs beyond its bytes at reduce_GBps (the executor's handling of a
  // received slice and the reduce call; calibrate: a 2-rank reduce-scatter less an all-gather),
  // charged per reduce op of a schedule.
  double reduce_step_us = 0;
  // Optional, ascending bytes. The link classes' streaming rates were measured on reused
  // slice-sized buffers (in cache); these points say how reduce, copy and therefore the copies
  // in and out of shared memory slow down as a collective's buffers outgrow the caches.
  std::vector<HostMemoryPoint> memory;
  std::string intra_node;  // class between ranks of one node (always names one of `links`)
  std::string inter_node;  // class between nodes; may be empty or name a missing class
  // The model braid's tuner chooses algorithms and slices with: null, its built-in one
  // (coll::HostRuntimeLinkModel); set by plan-sim --tuner-file, the calibration braid runs with
  // when given BRAID_TUNER_FILE (collectives/tuner_file.h). Not part of the cluster file.
  std::shared_ptr<const coll::TunerCalibration> runtime_tuner;
  // Set by AtWorkingSet where the intra-node class has streaming reduce-scatter rates: how many
  // bytes of user buffer per second the rank's core moves through its copies in and out of
  // shared memory and its reductions together (the cpu link, sim/cluster/host_fabric.cc). A
  // ring step there exchanges x bytes each way and reduces x, at x / streaming reduce rate: if
  // that is the core's 2x bytes of copies at core_GBps plus the reduction at reduce_GBps, then
  // core_GBps = 2 / (1 / reduce rate - 1 / reduce_GBps), at least the two opposite streams of
  // 2 x bidir_GBps and at most the memcpy rule's 2 x copy_GBps. 0: not measured, the memcpy rule
  // applies. Not part of the cluster file.
  double core_GBps = 0;
  std::map<std::string, HostLinkClass> links;

  const HostLinkClass& Intra() const { return links.at(intra_node); }
  // nullptr when only one node was measured.
  const HostLinkClass* Inter() const;

  // This calibration as seen by a collective whose buffers are `bytes` per rank: reduce and
  // copy at the memory points' rates there (log-linear between points, clamped at the ends),
  // and, beyond kStreamWorkingSetBytes, every link class's seconds per byte raised by what its
  // streaming rate there (streaming_rates, log-linear, clamped above the last point; below the
  // first, log-linear from bidir_GBps at kStreamWorkingSetBytes) takes more than bidir_GBps; a
  // class without streaming rates takes half of what memcpy's seconds per byte rose from
  // kStreamWorkingSetBytes (a transfer streams one user buffer at each end, memcpy two). Reduce
  // and copy are unchanged without memory points, the links without either. Sets core_GBps
  // (above) at every working set, from the streaming reduce-scatter rates clamped at their ends.
  HostCalibration AtWorkingSet(double bytes) const;
};

// The working set the link classes' streaming rates stand for (the middle of the 64 KiB-1 MiB
// message sizes braid-perf calibrate takes them from, buffers reused).
inline constexpr double kStreamWorkingSetBytes = 256 << 10;

}  // namespace braid::sim
