// Recursive doubling allreduce, for small messages: log2(p) rounds in which every rank
// exchanges its whole current vector with the rank whose (renumbered) index differs in one bit,
// p = the largest power of two <= n. With n not a power of two, the e = n - p "extra" ranks
// (even ranks below 2e) first fold their input into their odd neighbour and get the result
// back at the end: log2(p) + 2 steps for those pairs, log2(p) for everybody else.
//
// All ranks end bitwise identical: each round combines the same two operands on both sides, in
// the same order (the lower index's first: max and min of +0 and -0 differ in bits with the
// order), every participant divides the same sum for avg, and the extras copy their partner's
// finished result. Not NaN payloads: which one a sum of two NaNs keeps follows the operand
// order of the instruction the compiler emitted, which the two sides' loops need not share (a
// NaN is a NaN on every rank).
//
// Pipelining: the vector moves in slices; column k (slice k) runs all rounds before column
// k+1, so the running partial lives in one or two scratch slots per column rather than in a
// full-size buffer. A round must not reduce into the region it is still sending (the peer's
// receive may be posted late), hence the slots; the last round writes the output.
// Tags: column k, phase p (0 fold, 1..log2(p) rounds, then unfold) -> k * (steps + 2) + p.
#include "collectives/schedule_builder.h"

namespace braid::coll::internal {
namespace {

constexpr int kDoublingSlots = 8;


}  // namespace

size_t RecursiveDoublingSliceElems(const ScheduleRequest& r) {
  DoublingShape shape = DoublingShapeFor(r.nranks);
  return FitSliceToTags(RequestedSliceElems(r), r.count, size_t(shape.steps) + 2);
}

bool BuildRecursiveDoubling(const ScheduleRequest& r, RankSchedule* out, std::string* error) {
  const DoublingShape shape = DoublingShapeFor(r.nranks);
  const int me = r.rank, e = shape.extras, steps = shape.steps;
  const size_t slice = RecursiveDoublingSliceElems(r);
  const size_t columns = CeilDiv(r.count, slice);
  const size_t tags_per_column = size_t(steps) + 2;
  const bool extra = me < 2 * e && me % 2 == 0;   // folds into me+1, takes no part in rounds
  const bool folds = me < 2 * e && me % 2 == 1;   // receives an extra's input first
  const int index = me < 2 * e ? me / 2 : me - e;  // index among the p participants
  auto rank_of = [&](int i) { return DoublingRankOf(shape, i); };

  OpEmitter emit(out);
  SlotPool slots(0, std::min(slice, r.count), kDoublingSlots);
  if (!extra) out->scratch_count = slots.total_elems();

  for (size_t k = 0; k < columns; ++k) {
    const Part p = SliceOf({0, r.count}, slice, k);
    const uint32_t tag0 = uint32_t(k * tags_per_column);
    const uint32_t unfold_tag = tag0 + uint32_t(steps) + 1;
    if (extra) {
      uint32_t sent = emit.Send(me + 1, tag0, In(p), {});
      // In place the result lands on the input just sent: wait for the send.
      emit.Recv(me + 1, unfold_tag, Out(p), {sent});
      continue;
    }
    Region cur = In(p);
    int cur_slot = -1;
    uint32_t produced = kNoOp;
    if (folds) {
      DepList deps;
      cur_slot = slots.Acquire(&deps);
      cur = slots.At(cur_slot, p.count);
      produced = emit.RecvReduce(me - 1, tag0, In(p), cur, cur, deps, /*received_first=*/true);  // lower rank first
      slots.Use(cur_slot, produced, emit);
    }
    // In place, the output is the input that round 0 sends: writing it must wait for that send.
    const bool output_is_sent_input = r.in_place && !folds;
    uint32_t first_send = kNoOp;
    for (int j = 0; j < steps; ++j) {
      const int partner = rank_of(index ^ (1 << j));
      const uint32_t tag = tag0 + uint32_t(j) + 1;
      uint32_t sent = emit.Send(partner, tag, cur, {produced});
      if (cur_slot >= 0) slots.Use(cur_slot, sent, emit);
      if (j == 0) first_send = sent;
      const bool last = j == steps - 1;
      DepList deps{produced};
      int slot = slots.Acquire(&deps);
      Region landing = slots.At(slot, p.count);
      // Last round straight into the output, unless that would overwrite the input its own
      // send is still reading (in place with a single round): then via the slot and a copy.
      const bool direct = last && !(output_is_sent_input && j == 0);
      if (direct && output_is_sent_input) deps.Add(first_send);
      // The lower index's operand first on both sides (see Op::received_first).
      const bool partner_lower = (index ^ (1 << j)) < index;
      uint32_t reduced = emit.RecvReduce(partner, tag, cur, direct ? Out(p) : landing, landing, deps, partner_lower);
      slots.Use(slot, reduced, emit);
      if (cur_slot >= 0) slots.Use(cur_slot, reduced, emit);
      produced = reduced;
      cur = landing;
      cur_slot = slot;
      if (last && !direct) {
        produced = emit.Copy(landing, Out(p), {reduced, first_send});
        slots.Use(slot, produced, emit);
      }
    }
    // Every participant holds the same reduced slice; each finishes avg on its own copy (the
    // extras get the finished one).
    produced = emit.Finalize(Out(p), {produced});
    if (folds) emit.Send(me - 1, unfold_tag, Out(p), {produced});
  }
  return Finish(emit, error);
}

}  // namespace braid::coll::internal
