// What `braid-perf calibrate` measured on CPU ranks (the "calibration" block of a cluster file):
// braid's host runtime, where every byte a rank sends, receives, reduces or copies goes through
// that rank's CPU. plan-sim's host-runtime mode replays collectives with these numbers
// (sim/cluster/fabric.cc, sim/cost/schedule_replay.cc).
//
// Units: GB/s = 1e9 bytes/s per direction; us = microseconds; bytes.
#pragma once

#include <map>
#include <string>

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

  // Seconds one message of `bytes` takes on an idle link.
  double MessageSeconds(double bytes) const;
};

struct HostCalibration {
  // Provenance, printed by `plan-sim topo`.
  std::string tool, date, host, command;
  int ranks_per_node = 0;
  double reduce_GBps = 0;  // one rank's host reduction (two inputs -> one output), output bytes/s
  double copy_GBps = 0;    // one rank's memcpy, bytes copied per second
  std::string intra_node;  // class between ranks of one node (always names one of `links`)
  std::string inter_node;  // class between nodes; may be empty or name a missing class
  std::map<std::string, HostLinkClass> links;

  const HostLinkClass& Intra() const { return links.at(intra_node); }
  // nullptr when only one node was measured.
  const HostLinkClass* Inter() const;
};

}  // namespace braid::sim
