// BuildSchedule: request validation, the single-rank case, and dispatch to one algorithm file.
#include <limits>
#include <string>

#include "collectives/schedule.h"
#include "collectives/schedule_builder.h"

namespace braid::coll {
namespace {

bool Fail(std::string* error, std::string message) {
  if (error) *error = std::move(message);
  return false;
}

std::string Range(long long value, long long end) {
  return std::to_string(value) + " out of range [0, " + std::to_string(end) + ")";
}

// Elements in the largest user buffer of this collective (count x nranks for the
// per-rank-block collectives).
size_t BufferFactor(Collective c, int nranks) {
  switch (c) {
    case Collective::kReduceScatter:
    case Collective::kAllGather:
    case Collective::kAllToAll: return size_t(nranks);
    default: return 1;
  }
}

bool Validate(const ScheduleRequest& r, std::string* error) {
  if (int(r.collective) >= kNumCollectives)
    return Fail(error, "collective " + Range(int(r.collective), kNumCollectives));
  if (int(r.algorithm) >= kNumAlgorithms)
    return Fail(error, "algorithm " + Range(int(r.algorithm), kNumAlgorithms));
  if (r.nranks < 1) return Fail(error, "nranks " + std::to_string(r.nranks) + " must be >= 1");
  if (r.rank < 0 || r.rank >= r.nranks) return Fail(error, "rank " + Range(r.rank, r.nranks));
  // root is meaningful (and checked) only for the rooted collectives, as in NCCL.
  if (IsRooted(r.collective) && (r.root < 0 || r.root >= r.nranks))
    return Fail(error, "root " + Range(r.root, r.nranks));
  if (r.elem_size == 0) return Fail(error, "elem_size 0 must be > 0");
  if (!Supports(r.algorithm, r.collective))
    return Fail(error, std::string("algorithm ") + AlgorithmName(r.algorithm) +
                           " does not support " + CollectiveName(r.collective));
  if (r.in_place && r.collective == Collective::kAllToAll)
    return Fail(error, "in_place true is invalid for alltoall (it is never in place)");
  const size_t factor = BufferFactor(r.collective, r.nranks);
  const size_t max = std::numeric_limits<size_t>::max();
  if (r.count > max / factor / r.elem_size)
    return Fail(error, "count " + std::to_string(r.count) + " x " + std::to_string(factor) +
                           " x elem_size " + std::to_string(r.elem_size) +
                           " bytes overflows size_t");
  return true;
}

// One rank: every collective is a local copy of `count` elements (block 0 of the per-rank
// layouts), and nothing at all when the buffers alias. No finalize: avg over one rank is x/1.
void BuildSingleRank(const ScheduleRequest& r, RankSchedule* out) {
  if (r.count == 0 || r.in_place) return;
  internal::OpEmitter emit(out);
  emit.Copy({BufferId::kInput, 0, r.count}, {BufferId::kOutput, 0, r.count}, {});
}

}  // namespace

bool IsReduction(Collective c) {
  return c == Collective::kAllReduce || c == Collective::kReduceScatter || c == Collective::kReduce;
}

bool IsRooted(Collective c) { return c == Collective::kBroadcast || c == Collective::kReduce; }

bool BuildSchedule(const ScheduleRequest& request, RankSchedule* out, std::string* error) {
  out->ops.clear();
  out->scratch_count = 0;
  if (!Validate(request, error)) return false;
  if (request.nranks == 1) {
    BuildSingleRank(request, out);
    return true;
  }
  if (request.count == 0) return true;  // nothing to move; no zero-length messages
  bool ok = false;
  switch (request.algorithm) {
    case Algorithm::kRing: ok = internal::BuildRing(request, out, error); break;
    case Algorithm::kTree: ok = internal::BuildTree(request, out, error); break;
    case Algorithm::kChain: ok = internal::BuildChain(request, out, error); break;
    case Algorithm::kRecursiveDoubling:
      ok = internal::BuildRecursiveDoubling(request, out, error);
      break;
    case Algorithm::kPairwise: ok = internal::BuildPairwise(request, out, error); break;
  }
  if (!ok) {
    out->ops.clear();
    out->scratch_count = 0;
  }
  return ok;
}

}  // namespace braid::coll
