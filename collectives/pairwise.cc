// Pairwise all-to-all: copy the own block locally, then n-1 rounds; in round s rank r sends
// input block (r+s)%n to rank (r+s)%n and receives output block (r-s)%n from rank (r-s)%n.
// Each (sender, receiver) pair meets in exactly one round. Blocks larger than a slice go as
// several messages (column k = slice k of every block). Nothing depends on anything: sends
// read only the input and receives write distinct output blocks (never in place), so every op
// can be posted at once and the executor's window bounds what is in flight.
// Tags: column k, round s -> k * (n-1) + (s-1).
#include "collectives/schedule_builder.h"

namespace braid::coll::internal {

size_t PairwiseSliceElems(const ScheduleRequest& r) {
  return FitSliceToTags(RequestedSliceElems(r), r.count, size_t(r.nranks - 1));
}

bool BuildPairwise(const ScheduleRequest& r, RankSchedule* out, std::string* error) {
  if (r.collective != Collective::kAllToAll) {
    if (error) *error = std::string("algorithm pairwise does not support ") + CollectiveName(r.collective);
    return false;
  }
  const int n = r.nranks, me = r.rank;
  const size_t slice = PairwiseSliceElems(r);
  if (slice == 0) {
    if (error) *error = "nranks " + std::to_string(n) + " too large for pairwise's tag space";
    return false;
  }
  const size_t columns = CeilDiv(r.count, slice);
  const size_t rounds = size_t(n - 1);
  OpEmitter emit(out);
  emit.Copy({BufferId::kInput, size_t(me) * r.count, r.count},
            {BufferId::kOutput, size_t(me) * r.count, r.count}, {});
  for (size_t k = 0; k < columns; ++k) {
    for (int s = 1; s < n; ++s) {
      const int to = (me + s) % n, from = (me - s + n) % n;
      const uint32_t tag = uint32_t(k * rounds + size_t(s - 1));
      Part send = SliceOf({size_t(to) * r.count, r.count}, slice, k);
      Part recv = SliceOf({size_t(from) * r.count, r.count}, slice, k);
      emit.Send(to, tag, {BufferId::kInput, send.offset, send.count}, {});
      emit.Recv(from, tag, {BufferId::kOutput, recv.offset, recv.count}, {});
    }
  }
  return Finish(emit, error);
}

}  // namespace braid::coll::internal
