// The algorithm setting (CommOptions.algorithm, else BRAID_ALGO or NCCL_ALGO), in NCCL's syntax
// (2.24+), so that a job exporting NCCL_ALGO for its NCCL communicators can create braid ones:
//   "ring"                      force ring wherever it implements the collective
//   "tree,ring"                 the tuner picks among these
//   "^ring"                     anything but ring
//   "allreduce:tree;allgather:ring"   per collective; collectives not named are left to the tuner
// Case does not matter. NCCL's own algorithms braid does not have (NVLS, NVLSTree, CollNetDirect,
// CollNetChain, CollNet, PAT) are accepted and skipped: a list naming only those leaves the
// collective to the tuner (said at INFO once per communicator). Any other name is
// an error.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "braid/status.h"
#include "collectives/tuner.h"

namespace braid::runtime {

// Per collective (index: int(coll::Collective)), the algorithms the tuner may choose among.
using AllowedAlgorithms = std::array<coll::AlgorithmMask, coll::kNumCollectives>;

// Parses `text` into *out (every collective kAnyAlgorithm when text is empty). InvalidArgument
// naming `source` (e.g. "NCCL_ALGO") and the part it cannot read. Quiet: the lists that name only
// NCCL's own algorithms (left to the tuner) go to *left_to_tuner when it is given.
Status ParseAlgorithmSetting(std::string_view text, const std::string& source, AllowedAlgorithms* out,
                             std::vector<std::string>* left_to_tuner = nullptr);

// What `allowed` lets the tuner choose, in one canonical text, so that two settings that mean
// the same ("ring" and "RING;", "nvls" and none, "^ring" and "tree,chain,recdoubling,pairwise")
// read the same: "(tuner)" when every collective is free; the algorithms by name when every
// collective has the same ones ("ring,tree"); else "allreduce:tree;allgather:ring" for those that
// are not free, in collective order.
std::string CanonicalAlgorithmSetting(const AllowedAlgorithms& allowed);

}  // namespace braid::runtime
