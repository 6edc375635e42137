// The runtime tuner calibrated from a file: BRAID_TUNER_FILE (or CommOptions.tuner_file) names a
// cluster file whose "calibration" block `braid-perf calibrate --out` wrote, and the tuner then
// costs schedules with what was measured there instead of HostRuntimeLinkModel()'s numbers from
// the development VM. plan-sim's `--tuner-file` reads it with the same code, so that it replays
// the algorithm and slice braid runs with that file.
//
// Read from the block (sim/cluster/host_calibration.cc documents all of it):
//   "runtime": "host", "reduce_GBps": R, "intra_node": "shm", "inter_node": "tcp" (optional),
//   "links": {"shm": {"alpha_us": A, "GBps": G, "bidir_GBps": B,
//                     "small": {"max_bytes": m, "alpha_us": a, ...} (optional), ...}, "tcp": {...}}
// A link's latency is the small-message regime's up to its max_bytes and the large-message fit's
// above (where a transport's rendezvous handshake adds round trips: LinkModel's
// small_message_max_bytes); without a small regime the large fit's everywhere. Its bandwidth is
// bidir_GBps (a collective's step sends and receives at once).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "braid/status.h"
#include "collectives/tuner.h"

namespace braid::coll {

struct CalibratedLink {
  std::string name;  // the class's name in the file ("shm", "tcp")
  double alpha_us = 0;        // messages of up to small_max_bytes
  double small_max_bytes = 0;  // infinite without a small regime
  double large_alpha_us = 0;  // larger messages
  double GBps = 0;
};

struct TunerCalibration {
  std::string path;  // the file it came from
  double reduce_GBps = 0;
  CalibratedLink intra_node;
  std::optional<CalibratedLink> inter_node;  // absent when only one host was measured
};

// Reads `path` (a regular file or a pipe). InvalidArgument naming the file, the field, its value
// and the allowed range when it is not JSON, has no "calibration" block, or a field read above is
// missing or out of range.
Status ReadTunerFile(const std::string& path, TunerCalibration* out);

// The numbers the tuner uses, in one line ("shm 0.45 us to 8192 B, 0.9 us above, 2.6 GB/s; tcp
// 40 us, 1.1 GB/s; reduce 9.5 GB/s"): what ranks of one communicator must agree on, and what the
// INFO log shows.
std::string DescribeTunerCalibration(const TunerCalibration& c);

// The tuner's model for a group whose member i runs on host host_of_member[i] (any numbering;
// empty: one host). Ranks on one host, or no inter-node class: the intra-node link. Across hosts:
// the inter-node link as the bottleneck, the mean over the ring's hops (member i to i + 1), and
// each host's ranks sharing its network link in the rounds where all of them send across, the
// trees' messages through one host's link and crossings on one path (collectives/tree_crossings.h)
// with the intra-node link as the fast hop; the small-message bound is the bottleneck link's.
// Slices as HostRuntimeLinkModel().
LinkModel CalibratedLinkModel(const TunerCalibration& c, const std::vector<int>& host_of_member);

}  // namespace braid::coll
