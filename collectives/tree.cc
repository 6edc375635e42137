// Tree algorithms.
//
// Topology. Positions 1..last are arranged as an in-order binary tree: a position whose lowest
// set bit is b has children p - b/2 and the first of p + b/2, p + b/4, ... that exists, so
// odd positions are leaves and the top is the largest power of two <= last.
//   - tree 0: positions = ranks 0..n-1, last = n-1, with rank 0 above the top (root, one child).
//     Interior ranks: the even ones.
//   - tree 1: positions q = rank+1 in 1..n, last = n, root = the top. Interior ranks: q even,
//     i.e. the odd ranks.
// So every rank is interior (has children) in at most one tree, and a leaf in the other: the
// double binary tree keeps each rank's send/receive load at about one tree's worth.
// Heights: tree 0 has 1 + floor(log2(n-1)) edges, tree 1 floor(log2(n)).
//
// Allreduce: the first half of the data (ceil(count/2) elements) goes up and back down tree 0,
// the second half through tree 1, slice by slice: receive-reduce from each child into the
// output, send up, receive the final slice from the parent (the root finalizes avg), send down.
// Per column: 2 messages per tree edge (up, down). Tags: column k, tree t -> 2k + t.
//
// Broadcast and reduce use the tree-0 shape relabelled so that `root` is position 0; the
// pipelines themselves live in rooted_pipeline.cc.
#include <bit>

#include "collectives/schedule_builder.h"

namespace braid::coll::internal {
namespace {

constexpr int kTreeSlots = 8;  // receive landing slots (up to 4 receive-reduces per column)

// Parent position of q (1 <= q <= last) in the in-order tree; 0 when q is the top.
int InOrderParent(int q, int last) {
  int b = q & -q;
  int up = (q ^ b) | (b << 1);
  return up <= last ? up : (q ^ b);
}

// Children positions of p (p >= 1) in the in-order tree over 1..last.
TreeLinks InOrderLinks(int p, int last) {
  TreeLinks links;
  links.parent = InOrderParent(p, last);
  int b = p & -p;
  if (b >= 2) links.children[links.num_children++] = p - b / 2;
  for (int c = b / 2; c >= 1; c /= 2) {
    if (p + c <= last) {
      links.children[links.num_children++] = p + c;
      break;
    }
  }
  return links;
}

int TopOf(int last) { return last >= 1 ? int(std::bit_floor(unsigned(last))) : 0; }

int Log2(int x) { return x >= 1 ? std::bit_width(unsigned(x)) - 1 : 0; }

// Tree 0 links in position space (positions 0..n-1, 0 = root above the top).
TreeLinks Tree0Positions(int n, int p) {
  if (p == 0) {
    TreeLinks root;
    if (n > 1) root.children[root.num_children++] = TopOf(n - 1);
    return root;
  }
  return InOrderLinks(p, n - 1);  // the top's parent comes out as 0, the root
}

TreeLinks Relabel(TreeLinks links, int offset, int n, int none_below) {
  auto map = [&](int p) { return p < none_below ? -1 : (p - none_below + offset) % n; };
  TreeLinks out;
  out.parent = map(links.parent);
  out.num_children = links.num_children;
  for (int i = 0; i < links.num_children; ++i) out.children[i] = map(links.children[i]);
  return out;
}

Region In(size_t offset, size_t count) { return {BufferId::kInput, offset, count}; }
Region Out(size_t offset, size_t count) { return {BufferId::kOutput, offset, count}; }

bool AllReduce(const ScheduleRequest& r, RankSchedule* out, std::string* error) {
  const size_t slice = TreeAllReduceSliceElems(r);
  const size_t half[2] = {CeilDiv(r.count, 2), r.count / 2};
  const size_t base[2] = {0, half[0]};
  const TreeLinks links[2] = {DoubleTreeLinks(r.nranks, r.rank, 0),
                              DoubleTreeLinks(r.nranks, r.rank, 1)};
  const size_t columns = CeilDiv(half[0], slice);
  OpEmitter emit(out);
  SlotPool tmp(0, std::min(slice, half[0]), kTreeSlots);
  out->scratch_count = tmp.total_elems();

  for (size_t k = 0; k < columns; ++k) {
    for (int t = 0; t < 2; ++t) {
      Part p = SliceOf({base[t], half[t]}, slice, k);
      if (p.count == 0) continue;
      const uint32_t tag = uint32_t(2 * k + size_t(t));
      const TreeLinks& l = links[t];
      // Up: fold the children's partial sums into the output (the first one with the input).
      Region acc = Out(p.offset, p.count);
      int acc_slot = -1;
      uint32_t produced = FoldChildren(l, tag, In(p.offset, p.count), false, &acc, &acc_slot, &tmp, &emit);
      if (l.parent >= 0) {
        Region up = l.num_children ? Out(p.offset, p.count) : In(p.offset, p.count);
        uint32_t sent = emit.Send(l.parent, tag, up, {produced});
        // The result overwrites what was just sent (in place, the input): wait for the send.
        produced = emit.Recv(l.parent, tag, Out(p.offset, p.count), {sent});
      } else {
        produced = emit.Finalize(Out(p.offset, p.count), {produced});
      }
      // Down: forward the final slice.
      for (int c = 0; c < l.num_children; ++c)
        emit.Send(l.children[c], tag, Out(p.offset, p.count), {produced});
    }
  }
  return Finish(emit, error);
}

}  // namespace

TreeLinks DoubleTreeLinks(int nranks, int rank, int which) {
  if (which == 0) return Tree0Positions(nranks, rank);
  // Tree 1: position q = rank + 1 over 1..n; the top is the root (parent position 0 -> none).
  return Relabel(InOrderLinks(rank + 1, nranks), 0, nranks, 1);
}

TreeLinks RootedTreeLinks(int nranks, int rank, int root) {
  int p = (rank - root + nranks) % nranks;
  TreeLinks links = Tree0Positions(nranks, p);
  return Relabel(links, root, nranks, 0);
}

int DoubleTreeHeight(int nranks, int which) {
  if (nranks <= 1) return 0;
  return which == 0 ? 1 + Log2(nranks - 1) : Log2(nranks);
}

int RootedTreeHeight(int nranks) { return DoubleTreeHeight(nranks, 0); }

size_t TreeAllReduceSliceElems(const ScheduleRequest& r) {
  return FitSliceToTags(RequestedSliceElems(r), CeilDiv(r.count, 2), 2);
}

bool BuildTree(const ScheduleRequest& r, RankSchedule* out, std::string* error) {
  switch (r.collective) {
    case Collective::kAllReduce: return AllReduce(r, out, error);
    case Collective::kBroadcast:
      return BuildRootedBroadcast(r, RootedTreeLinks(r.nranks, r.rank, r.root), out, error);
    case Collective::kReduce:
      return BuildRootedReduce(r, RootedTreeLinks(r.nranks, r.rank, r.root), out, error);
    default: break;
  }
  if (error) *error = std::string("algorithm tree does not support ") + CollectiveName(r.collective);
  return false;
}

}  // namespace braid::coll::internal
