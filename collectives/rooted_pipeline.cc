// Pipelined broadcast and reduce over a rooted tree given as this rank's links. Used by the
// binary tree (tree.cc) and by the chain (chain.cc, one child per rank).
//
// Data moves slice by slice (column k = slice k of the buffer, tag k): a slice can travel down
// (or up) the tree while the next one follows, so a tree of height h with m slices takes about
// h + m - 1 message steps for the chain and h + 2(m-1) for a binary tree (a parent sends or
// receives two messages per slice).
//
// Broadcast: only the root reads kInput (elsewhere it may be null); every rank writes kOutput.
// Reduce: only the root writes kOutput (elsewhere it may be null); other ranks accumulate
// partial results in scratch slots, each freed once its send to the parent completed.
#include "collectives/schedule_builder.h"

namespace braid::coll::internal {
namespace {

// Scratch slots (one slice each): a reducing rank needs up to two per column (partial and
// second child's landing zone); eight keep four columns in flight.
constexpr int kRootedSlots = 8;


}  // namespace

uint32_t FoldChildren(const TreeLinks& links, uint32_t tag, Region src, bool acc_in_slot, Region* acc,
                      int* acc_slot, SlotPool* slots, OpEmitter* emit) {
  uint32_t produced = kNoOp;
  *acc_slot = -1;
  for (int c = 0; c < links.num_children; ++c) {
    DepList free_slot;
    const int slot = slots->Acquire(&free_slot);
    const Region landing = slots->At(slot, src.count);
    if (c == 0) {
      if (acc_in_slot) {
        *acc = landing;  // reduce in the landing slot, which then holds the partial
        *acc_slot = slot;
      }
      produced = emit->RecvReduce(links.children[0], tag, src, *acc, landing, free_slot);
    } else {
      const uint32_t landed = emit->Recv(links.children[c], tag, landing, free_slot);
      produced = emit->Reduce(*acc, *acc, landing, {landed, produced});
    }
    slots->Use(slot, produced, *emit);
    if (*acc_slot >= 0 && *acc_slot != slot) slots->Use(*acc_slot, produced, *emit);
  }
  return produced;
}

size_t RootedSliceElems(const ScheduleRequest& r) {
  return FitSliceToTags(RequestedSliceElems(r), r.count, 1);
}

bool BuildRootedBroadcast(const ScheduleRequest& r, const TreeLinks& links, RankSchedule* out,
                          std::string* error) {
  const size_t slice = RootedSliceElems(r);
  const size_t columns = CeilDiv(r.count, slice);
  const bool root = links.parent < 0;
  OpEmitter emit(out);
  if (root && !r.in_place)
    emit.Copy({BufferId::kInput, 0, r.count}, {BufferId::kOutput, 0, r.count}, {});
  for (size_t k = 0; k < columns; ++k) {
    Part p = SliceOf({0, r.count}, slice, k);
    const uint32_t tag = uint32_t(k);
    uint32_t received = root ? kNoOp : emit.Recv(links.parent, tag, Out(p), {});
    for (int c = 0; c < links.num_children; ++c)
      emit.Send(links.children[c], tag, root ? In(p) : Out(p), {received});
  }
  return Finish(emit, error);
}

bool BuildRootedReduce(const ScheduleRequest& r, const TreeLinks& links, RankSchedule* out,
                       std::string* error) {
  const size_t slice = RootedSliceElems(r);
  const size_t columns = CeilDiv(r.count, slice);
  const bool root = links.parent < 0;
  OpEmitter emit(out);
  SlotPool slots(0, std::min(slice, r.count), kRootedSlots);
  if (links.num_children > 0) out->scratch_count = slots.total_elems();

  for (size_t k = 0; k < columns; ++k) {
    Part p = SliceOf({0, r.count}, slice, k);
    const uint32_t tag = uint32_t(k);
    Region acc = Out(p);  // where the partial accumulates (root: the output)
    int acc_slot = -1;
    const uint32_t produced = FoldChildren(links, tag, In(p), !root, &acc, &acc_slot, &slots, &emit);
    if (root) {
      emit.Finalize(Out(p), {produced});
    } else {
      uint32_t sent = emit.Send(links.parent, tag, links.num_children ? acc : In(p), {produced});
      if (acc_slot >= 0) slots.Use(acc_slot, sent, emit);
    }
  }
  return Finish(emit, error);
}

}  // namespace braid::coll::internal
