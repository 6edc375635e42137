// Printable names of collectives and algorithms (log lines, tuner reasons, BRAID_ALGO parsing), and
// which algorithm implements which collective. No dependencies: braid-perf compiles it in too, to
// check --algo against the collective it measures.
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

bool Supports(Algorithm algorithm, Collective collective) {
  switch (algorithm) {
    case Algorithm::kRing:
      return collective == Collective::kAllReduce || collective == Collective::kReduceScatter ||
             collective == Collective::kAllGather;
    case Algorithm::kTree:
      return collective == Collective::kAllReduce || collective == Collective::kBroadcast ||
             collective == Collective::kReduce;
    case Algorithm::kChain:
      return collective == Collective::kBroadcast || collective == Collective::kReduce;
    case Algorithm::kRecursiveDoubling: return collective == Collective::kAllReduce;
    case Algorithm::kPairwise: return collective == Collective::kAllToAll;
  }
  return false;
}

}  // namespace braid::coll
