// Ring algorithms: every rank sends only to rank+1 and receives only from rank-1.
//
// The data is cut into nranks parts ("chunks"), and each chunk into slices; "column" k is slice
// k of every chunk. Ops are emitted column by column: a column runs all ring steps for its
// slices, so scratch holds only a few slices (a partial result waits in a slot just until it
// is forwarded) and the executor overlaps column k+1 with column k.
//
//   allreduce:     reduce-scatter (n-1 steps) then all-gather (n-1 steps) = 2(n-1) steps
//   reducescatter: n-1 steps;   allgather: n-1 steps (plus a local copy of the own block)
//
// Tags: column k, step j -> k * steps + j (steps per column = tags per column).
#include "collectives/schedule_builder.h"

namespace braid::coll::internal {
namespace {

// Scratch slots (of one slice each) for receive landing zones and forwarded partials. Two
// suffice for deadlock freedom under rendezvous (a slot is freed by a send whose receiver
// never waits for this rank's later slots); four let consecutive steps overlap.
constexpr int kRingSlots = 4;
// Reduce-scatter keeps each partial in its landing slot until the next step has sent it on
// (all-reduce reduces into the output and frees the slot at once), so a slot stays busy for a
// receive, a reduction and a send instead of a receive and a reduction: twice the slots give it
// the same number of steps in flight.
constexpr int kReduceScatterSlots = 2 * kRingSlots;

size_t Mod(long long a, int n) { return size_t(((a % n) + n) % n); }

struct RingShape {
  size_t chunk_max = 0;       // elements in the largest chunk
  size_t steps = 0;           // message steps per column (= tags per column)
};

RingShape ShapeOf(const ScheduleRequest& r) {
  const int n = r.nranks;
  RingShape s;
  switch (r.collective) {
    case Collective::kAllReduce:
      s.chunk_max = CeilDiv(r.count, size_t(n));
      s.steps = 2 * size_t(n - 1);
      break;
    default:  // reduce-scatter / all-gather: chunks are the per-rank blocks of `count`
      s.chunk_max = r.count;
      s.steps = size_t(n - 1);
      break;
  }
  return s;
}


bool AllReduce(const ScheduleRequest& r, size_t slice, RankSchedule* out, std::string* error) {
  const int n = r.nranks, me = r.rank;
  const int next = (me + 1) % n, prev = (me + n - 1) % n;
  const RingShape shape = ShapeOf(r);
  const size_t columns = CeilDiv(shape.chunk_max, slice);
  OpEmitter emit(out);
  SlotPool tmp(0, std::min(slice, shape.chunk_max), kRingSlots);
  out->scratch_count = tmp.total_elems();
  std::vector<uint32_t> rs_send(size_t(n), kNoOp);
  auto part = [&](long long chunk, size_t k) {
    return SliceOf(SplitEven(r.count, size_t(n), Mod(chunk, n)), slice, k);
  };

  for (size_t k = 0; k < columns; ++k) {
    const uint32_t tag0 = uint32_t(k * shape.steps);
    // Reduce-scatter: at step s send chunk me-s (own input at s=0, else the partial reduced at
    // step s-1), receive chunk me-s-1 and reduce it with the own input into the output.
    uint32_t reduced = kNoOp;  // producer of the partial to forward at the next step
    for (int s = 0; s < n - 1; ++s) {
      Part send = part(me - s, k);
      rs_send[size_t(s)] = kNoOp;
      if (send.count)
        rs_send[size_t(s)] = emit.Send(next, tag0 + uint32_t(s), s == 0 ? In(send) : Out(send),
                                       {reduced});
      Part recv = part(me - s - 1, k);
      reduced = kNoOp;
      if (recv.count) {
        DepList deps;
        int slot = tmp.Acquire(&deps);
        reduced = emit.RecvReduce(prev, tag0 + uint32_t(s), In(recv), Out(recv),
                                  tmp.At(slot, recv.count), deps);
        tmp.Use(slot, reduced, emit);
      }
    }
    // The last partial received is chunk me+1, now fully reduced: finish avg exactly once,
    // here at its owner, before the all-gather forwards it.
    Part own = part(me + 1, k);
    uint32_t produced = own.count ? emit.Finalize(Out(own), {reduced}) : kNoOp;
    // All-gather: at step s forward chunk me+1-s, receive chunk me-s into the output. The
    // receive overwrites a region that reduce-scatter step s sent (and, in place, the own
    // input chunk sent at step 0): it waits for that send.
    for (int s = 0; s < n - 1; ++s) {
      const uint32_t tag = tag0 + uint32_t(n - 1 + s);
      Part send = part(me + 1 - s, k);
      if (send.count) emit.Send(next, tag, Out(send), {produced});
      Part recv = part(me - s, k);
      produced = recv.count ? emit.Recv(prev, tag, Out(recv), {rs_send[size_t(s)]}) : kNoOp;
    }
  }
  return Finish(emit, error);
}

bool ReduceScatter(const ScheduleRequest& r, size_t slice, RankSchedule* out,
                   std::string* error) {
  const int n = r.nranks, me = r.rank;
  const int next = (me + 1) % n, prev = (me + n - 1) % n;
  const RingShape shape = ShapeOf(r);
  const size_t columns = CeilDiv(r.count, slice);
  OpEmitter emit(out);
  SlotPool slots(0, std::min(slice, r.count), kReduceScatterSlots);
  out->scratch_count = slots.total_elems();
  auto block = [&](long long b, size_t k) {
    return SliceOf({Mod(b, n) * r.count, r.count}, slice, k);
  };

  for (size_t k = 0; k < columns; ++k) {
    const uint32_t tag0 = uint32_t(k * shape.steps);
    const Part mine = SliceOf({0, r.count}, slice, k);  // this column's slice of the output
    // Step s sends block me-s-1 (own input at s=0, else the partial that step s-1 left in a
    // slot) and receives block me-s-2; the last step receives block me, the result.
    uint32_t partial = kNoOp;
    int partial_slot = -1;
    for (int s = 0; s < n - 1; ++s) {
      Part send = block(me - s - 1, k);
      Region src = s == 0 ? In(send) : slots.At(partial_slot, send.count);
      uint32_t sent = emit.Send(next, tag0 + uint32_t(s), src, {partial});
      if (s > 0) slots.Use(partial_slot, sent, emit);
      Part recv = block(me - s - 2, k);
      DepList deps;
      int slot = slots.Acquire(&deps);
      Region landing = slots.At(slot, recv.count);
      bool last = s == n - 2;
      partial = emit.RecvReduce(prev, tag0 + uint32_t(s), In(recv), last ? Out(mine) : landing,
                                landing, deps);
      slots.Use(slot, partial, emit);
      partial_slot = slot;
    }
    emit.Finalize(Out(mine), {partial});
  }
  return Finish(emit, error);
}

bool AllGather(const ScheduleRequest& r, size_t slice, RankSchedule* out, std::string* error) {
  const int n = r.nranks, me = r.rank;
  const int next = (me + 1) % n, prev = (me + n - 1) % n;
  const RingShape shape = ShapeOf(r);
  const size_t columns = CeilDiv(r.count, slice);
  OpEmitter emit(out);
  // The own block: in place it already sits at output block `me`.
  if (!r.in_place)
    emit.Copy({BufferId::kInput, 0, r.count}, {BufferId::kOutput, size_t(me) * r.count, r.count},
              {});
  auto block = [&](long long b, size_t k) {
    return SliceOf({Mod(b, n) * r.count, r.count}, slice, k);
  };
  for (size_t k = 0; k < columns; ++k) {
    const uint32_t tag0 = uint32_t(k * shape.steps);
    uint32_t received = kNoOp;
    for (int s = 0; s < n - 1; ++s) {
      // Step s forwards block me-s (from the input at s=0) and receives block me-s-1.
      Part send = block(me - s, k);
      Region src = s == 0 ? Region{BufferId::kInput, send.offset - size_t(me) * r.count,
                                   send.count}
                          : Out(send);
      emit.Send(next, tag0 + uint32_t(s), src, {received});
      received = emit.Recv(prev, tag0 + uint32_t(s), Out(block(me - s - 1, k)), {});
    }
  }
  return Finish(emit, error);
}

}  // namespace

size_t RingSliceElems(const ScheduleRequest& r) {
  RingShape shape = ShapeOf(r);
  return FitSliceToTags(RequestedSliceElems(r), shape.chunk_max, shape.steps);
}

bool BuildRing(const ScheduleRequest& r, RankSchedule* out, std::string* error) {
  size_t slice = RingSliceElems(r);
  if (slice == 0) {
    if (error) *error = "nranks " + std::to_string(r.nranks) + " too large for the ring's tag space";
    return false;
  }
  switch (r.collective) {
    case Collective::kAllReduce: return AllReduce(r, slice, out, error);
    case Collective::kReduceScatter: return ReduceScatter(r, slice, out, error);
    case Collective::kAllGather: return AllGather(r, slice, out, error);
    default: break;
  }
  if (error) *error = std::string("algorithm ring does not support ") + CollectiveName(r.collective);
  return false;
}

}  // namespace braid::coll::internal
