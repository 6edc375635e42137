// Printable names of collectives and algorithms (log lines, tuner reasons, BRAID_ALGO parsing).
#include "collectives/schedule.h"

namespace braid::coll {

const char* CollectiveName(Collective c) {
  switch (c) {
    case Collective::kAllReduce: return "allreduce";
    case Collective::kReduceScatter: return "reducescatter";
    case Collective::kAllGather: return "allgather";
    case Collective::kBroadcast: return "broadcast";
    case Collective::kReduce: return "reduce";
    case Collective::kAllToAll: return "alltoall";
  }
  return "invalid";
}

const char* AlgorithmName(Algorithm a) {
  switch (a) {
    case Algorithm::kRing: return "ring";
    case Algorithm::kTree: return "tree";
    case Algorithm::kChain: return "chain";
    case Algorithm::kRecursiveDoubling: return "recdoubling";
    case Algorithm::kPairwise: return "pairwise";
  }
  return "invalid";
}

std::optional<Algorithm> AlgorithmByName(std::string_view name) {
  for (int a = 0; a < kNumAlgorithms; ++a)
    if (name == AlgorithmName(Algorithm(a))) return Algorithm(a);
  if (name == "recursive_doubling" || name == "rd") return Algorithm::kRecursiveDoubling;
  return std::nullopt;
}

}  // namespace braid::coll
