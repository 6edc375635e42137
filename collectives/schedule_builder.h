// Internal helpers shared by the algorithm files (ring.cc, tree.cc, ...) and the tuner:
// data partitioning, slice sizing under the tag budget, an op emitter that tracks dependencies,
// a round-robin pool of scratch slots, and the tree topologies.
//
// Units: counts and offsets are ELEMENTS unless a name says bytes.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "collectives/schedule.h"

namespace braid::coll::internal {

// Marks "no op" in dependency lists (e.g. the producer of data that came from the input).
inline constexpr uint32_t kNoOp = UINT32_MAX;

inline size_t CeilDiv(size_t a, size_t b) { return a / b + (a % b != 0); }

// Part i of `count` elements split into `parts` nearly equal contiguous parts: the first
// count % parts parts get one element more (so counts not divisible by parts, count < parts
// and count 0 all work; empty parts are simply skipped by the algorithms).
struct Part {
  size_t offset = 0;
  size_t count = 0;
};
inline Part SplitEven(size_t count, size_t parts, size_t i) {
  size_t base = count / parts, rem = count % parts;
  return {i * base + std::min(i, rem), base + (i < rem ? 1 : 0)};
}

// A part of the caller's input or output buffer as a schedule region.
inline Region In(Part p) { return {BufferId::kInput, p.offset, p.count}; }
inline Region Out(Part p) { return {BufferId::kOutput, p.offset, p.count}; }

// Slice i (of `slice` elements) of a part: empty when the part is shorter.
inline Part SliceOf(Part part, size_t slice, size_t i) {
  size_t begin = i * slice;
  if (begin >= part.count) return {part.offset + part.count, 0};
  return {part.offset + begin, std::min(slice, part.count - begin)};
}

// Requested slice in elements: slice_bytes rounded down to whole elements, at least one.
inline size_t RequestedSliceElems(const ScheduleRequest& r) {
  return std::max<size_t>(1, r.slice_bytes / r.elem_size);
}

// Every algorithm tags message (column k, phase p) as k * tags_per_column + p, where a column
// is one slice of the longest part. Returns the slice (elements) that keeps every tag below
// kMaxTag by enlarging `slice` when needed; 0 if even one column does not fit (absurd nranks).
// Depends only on rank-independent inputs, so all ranks agree on it.
inline size_t FitSliceToTags(size_t slice, size_t longest, size_t tags_per_column) {
  if (tags_per_column == 0 || tags_per_column > kMaxTag) return 0;
  size_t max_columns = kMaxTag / tags_per_column;
  return std::max(slice, CeilDiv(longest, max_columns));
}

// Dependency list of one op: ignores kNoOp and duplicates.
class DepList {
 public:
  DepList() = default;
  DepList(std::initializer_list<uint32_t> deps) {
    for (uint32_t d : deps) Add(d);
  }
  void Add(uint32_t op) {
    if (op == kNoOp) return;
    for (int i = 0; i < size_; ++i)
      if (deps_[i] == op) return;
    if (size_ < kCapacity) deps_[size_] = op;
    ++size_;  // counted even past capacity so that the emitter reports the overflow
  }
  int size() const { return size_; }
  uint32_t operator[](int i) const { return deps_[i]; }

 private:
  static constexpr int kCapacity = 8;
  uint32_t deps_[kCapacity] = {};
  int size_ = 0;
};

// Appends ops to a RankSchedule. An op with more than kMaxDeps dependencies is a bug in the
// algorithm: it is recorded and BuildSchedule reports it.
class OpEmitter {
 public:
  explicit OpEmitter(RankSchedule* out) : out_(out) {}

  uint32_t Send(int peer, uint32_t tag, Region src, const DepList& deps) {
    Op op;
    op.type = OpType::kSend;
    op.peer = peer;
    op.tag = tag;
    op.src = src;
    return Emit(op, deps);
  }
  uint32_t Recv(int peer, uint32_t tag, Region dst, const DepList& deps) {
    Op op;
    op.type = OpType::kRecv;
    op.peer = peer;
    op.tag = tag;
    op.dst = dst;
    return Emit(op, deps);
  }
  // dst = reduce(src, received data landing in tmp); reduce(received, src) with received_first.
  uint32_t RecvReduce(int peer, uint32_t tag, Region src, Region dst, Region tmp,
                      const DepList& deps, bool received_first = false) {
    Op op;
    op.type = OpType::kRecvReduce;
    op.peer = peer;
    op.tag = tag;
    op.src = src;
    op.dst = dst;
    op.tmp = tmp;
    op.received_first = received_first;
    return Emit(op, deps);
  }
  // dst = reduce(src, tmp): tmp holds what an earlier Recv landed.
  uint32_t Reduce(Region src, Region dst, Region tmp, const DepList& deps) {
    Op op;
    op.type = OpType::kReduce;
    op.src = src;
    op.dst = dst;
    op.tmp = tmp;
    return Emit(op, deps);
  }
  uint32_t Copy(Region src, Region dst, const DepList& deps) {
    Op op;
    op.type = OpType::kCopy;
    op.src = src;
    op.dst = dst;
    return Emit(op, deps);
  }
  uint32_t Finalize(Region dst, const DepList& deps) {
    Op op;
    op.type = OpType::kFinalize;
    op.dst = dst;
    return Emit(op, deps);
  }

  const Op& op(uint32_t index) const { return out_->ops[index]; }
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

 private:
  uint32_t Emit(Op op, const DepList& deps) {
    if (deps.size() > kMaxDeps && error_.empty())
      error_ = "internal: op " + std::to_string(out_->ops.size()) + " needs " +
               std::to_string(deps.size()) + " dependencies (max " + std::to_string(kMaxDeps) + ")";
    int n = std::min(deps.size(), kMaxDeps);
    op.num_deps = uint8_t(n);
    for (int i = 0; i < n; ++i) op.deps[i] = deps[i];
    out_->ops.push_back(op);
    return uint32_t(out_->ops.size() - 1);
  }

  RankSchedule* out_;
  std::string error_;
};

// A ring of `slots` scratch slots of `slot_elems` elements starting at scratch offset `base`.
// Acquire() hands out the least recently acquired slot and adds to `deps` the ops that still
// use it (so the new writer waits until the old readers/writers completed). Use() records an
// op touching a slot; users implied by the new op's own dependencies are dropped, which keeps
// dependency lists short (completion of the new op implies theirs).
class SlotPool {
 public:
  SlotPool(size_t base, size_t slot_elems, int slots)
      : base_(base), slot_elems_(slot_elems), users_(size_t(slots)) {}

  int Acquire(DepList* deps) {
    int slot = next_;
    next_ = (next_ + 1) % int(users_.size());
    for (uint32_t u : users_[size_t(slot)]) deps->Add(u);
    users_[size_t(slot)].clear();
    return slot;
  }
  void Use(int slot, uint32_t op_index, const OpEmitter& emitter) {
    std::vector<uint32_t>& users = users_[size_t(slot)];
    const Op& op = emitter.op(op_index);
    std::erase_if(users, [&](uint32_t u) {
      for (int d = 0; d < op.num_deps; ++d)
        if (op.deps[d] == u) return true;
      return false;
    });
    users.push_back(op_index);
  }
  Region At(int slot, size_t count) const {
    return {BufferId::kScratch, base_ + size_t(slot) * slot_elems_, count};
  }
  // Scratch elements this pool occupies, [base, base + total_elems()).
  size_t total_elems() const { return slot_elems_ * users_.size(); }

 private:
  size_t base_;
  size_t slot_elems_;
  int next_ = 0;
  std::vector<std::vector<uint32_t>> users_;
};

// ---- tree topologies (tree.cc) ----------------------------------------------------------------

// One rank's links in a tree: -1 where absent. Children are listed in increasing position.
struct TreeLinks {
  int parent = -1;
  int children[2] = {-1, -1};
  int num_children = 0;
};

// The two complementary trees of the double binary tree (which = 0 or 1). Tree 0 is rooted at
// rank 0, tree 1 at another rank; every rank has children in at most one of them.
TreeLinks DoubleTreeLinks(int nranks, int rank, int which);
// A binary tree rooted at `root` (root has one child, as tree 0 above, relabelled).
TreeLinks RootedTreeLinks(int nranks, int rank, int root);
// Number of edges on the longest root-to-leaf path of those trees.
int DoubleTreeHeight(int nranks, int which);
int RootedTreeHeight(int nranks);

// Receives one slice (tag `tag`, src.count elements) from each of `links`' children and folds
// them: acc = src (+) child 0 (+) child 1. Every child's receive is posted at once into a slot of
// its own, so the children's transfers overlap (one receive-reduce per child made the second
// child's transfer wait for the first one's arrival and reduction); the reductions run in child
// order as the data lands. With `acc_in_slot` the first child's landing slot becomes the
// accumulator (*acc, *acc_slot); else *acc is given and *acc_slot is -1. Returns the op after
// which *acc holds the sum, kNoOp without children. Defined in rooted_pipeline.cc.
uint32_t FoldChildren(const TreeLinks& links, uint32_t tag, Region src, bool acc_in_slot, Region* acc,
                      int* acc_slot, SlotPool* slots, OpEmitter* emit);

// Pipelined broadcast / reduce over any rooted tree (a chain is a tree with one child per node).
// Defined in rooted_pipeline.cc; tree.cc and chain.cc supply the links.
bool BuildRootedBroadcast(const ScheduleRequest& r, const TreeLinks& links, RankSchedule* out,
                          std::string* error);
bool BuildRootedReduce(const ScheduleRequest& r, const TreeLinks& links, RankSchedule* out,
                       std::string* error);
// Slice (elements) that the rooted pipelines use for `r` (after the tag-budget adjustment).
size_t RootedSliceElems(const ScheduleRequest& r);

// ---- per-algorithm entry points (one file each) ---------------------------------------------

bool BuildRing(const ScheduleRequest& r, RankSchedule* out, std::string* error);
bool BuildTree(const ScheduleRequest& r, RankSchedule* out, std::string* error);
bool BuildChain(const ScheduleRequest& r, RankSchedule* out, std::string* error);
bool BuildRecursiveDoubling(const ScheduleRequest& r, RankSchedule* out, std::string* error);
bool BuildPairwise(const ScheduleRequest& r, RankSchedule* out, std::string* error);

// Slice sizes (elements) each algorithm actually uses for `r`, for the tuner's cost model.
size_t RingSliceElems(const ScheduleRequest& r);
size_t TreeAllReduceSliceElems(const ScheduleRequest& r);
size_t RecursiveDoublingSliceElems(const ScheduleRequest& r);
size_t PairwiseSliceElems(const ScheduleRequest& r);

// Recursive doubling shape: largest power of two <= nranks and its log2.
struct DoublingShape {
  int pow2 = 1;
  int steps = 0;   // log2(pow2) exchange rounds
  int extras = 0;  // nranks - pow2 ranks that fold into a partner first
};
inline DoublingShape DoublingShapeFor(int nranks) {
  DoublingShape s;
  while (s.pow2 * 2 <= nranks) {
    s.pow2 *= 2;
    ++s.steps;
  }
  s.extras = nranks - s.pow2;
  return s;
}
// The rank of participant index i (0 <= i < pow2): extra 2i folds into rank 2i + 1, which takes
// index i; the ranks from 2 extras on follow.
inline int DoublingRankOf(const DoublingShape& s, int i) { return i < s.extras ? 2 * i + 1 : i + s.extras; }

// Finishes a build: copies the emitter's error, if any.
inline bool Finish(const OpEmitter& emitter, std::string* error) {
  if (emitter.ok()) return true;
  if (error) *error = emitter.error();
  return false;
}

}  // namespace braid::coll::internal
