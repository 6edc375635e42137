// Alpha-beta cost model of the schedules built by ring.cc, tree.cc, chain.cc,
// recursive_doubling.cc and pairwise.cc, in closed form (no schedule is built).
//
// Notation (all per rank, ranks on equivalent links, one port per direction):
//   s     bytes per message: the average column, largest part / M elements x elem_size, with M
//         from the slice the algorithm really uses (enlarged when tags would overflow);
//   M     slices ("columns") per part;  t(s) = alpha + s / bandwidth  (one message);
//   r(s)  = s / reduce_bandwidth (one receive-reduce's local work).
// A rank's port serialises its messages, so an algorithm whose busiest rank sends (or receives)
// P messages per column costs about P*M*t(s) once the pipeline is full, plus the fill: the
// number of hops h a column travels before the last rank has it.
//
// The ring has no fill term: every rank starts by sending its own chunk, so ports are busy from
// the first step, and 2(n-1)M >= 2(n-1) + M - 1 (the one-column critical path) anyway. Within a
// reduce-scatter step the receive of slice k+1 overlaps the reduction of slice k, so a step costs
// (M-1) max(t, r) + t + r rather than M (t + r): this is what makes slicing pay, and it balances
// the per-message alpha (measured optimum on shared memory: ~128 KiB slices for 1-16 MiB).
//
//   ring allreduce      (n-1) [(M-1) max(t,r) + t + r] + (n-1) M t(s)   chunks of ceil(count/n)
//   ring reducescatter  (n-1) [(M-1) max(t,r) + t + r]                 chunks of count
//   ring allgather      (n-1) M t(s)
//   tree allreduce      P(M-1) t(s) + 2 fill + (R(M-1) + h) r(s)  halves of ceil(count/2);
//                       P = max over ranks of messages per column in both trees (4 for an
//                       interior rank), or the link's tree_nic_messages if more (a link that
//                       several channels' trees cross), R = max receive-reduces per column,
//                       h = max height; fill = h t(s), or on unlike hops a path of h hops of
//                       which tree_path_slow_hops cross nodes (LinkModel says why), plus
//                       (F - h) s at a mean hop's rate: F as below, over both trees (a parent's
//                       children share its port on the way up and down)
//   tree bcast/reduce   (P(M-1) + F) t(s) [+ (P(M-1) + h) r(s)]  P = 2 (1 if n = 2),
//                       h = 1 + floor(log2(n-1)); F = the most children summed along a
//                       root-to-leaf path: a rank sends a column to (or receives it from) its
//                       children at once, so they share its port and each level of the fill
//                       takes as many messages as the rank has children (F = h counted one,
//                       and a 4-rank tree of 4 MiB, est. 44 us, replayed in 62 us, slower
//                       than the 51 us chain it was chosen over, which replayed in 39 us);
//                       on unlike hops t(s) is a mean hop's, each column costs at least the
//                       busiest NIC's rooted-tree messages at the slowest link, and the fill
//                       adds one NIC crossing (LinkModel::rooted_tree_nic_messages), or
//                       when the tree's paths are known, F t(s) is a path of F message
//                       slots of which rooted_tree_path_slow_hops cross nodes
//   chain bcast/reduce  (M-1 + n-1) t(s) [+ (M-1 + n-1) r(s)]; a column after the first
//                       passes the busiest link's chain messages (LinkModel::
//                       chain_nic_messages, at least one); on unlike hops with a fast hop
//                       known, the n-1 hops of the fill are the placement's crossings
//                       (chain_path_slow_hops, or nodes-1) at t(s) and the rest fast hops
//   recursive doubling  ((L+f)(M-1) + L+2f) t(s) + (L+f) M r(s)  L = log2(p), f = 1 if n != p;
//                       t(s) the mean round: on unlike hops with a fast hop known, its rounds
//                       across nodes at the slowest link (shared) and the rest at a fast hop
//   pairwise alltoall   (n-1) M t(s)
//
// Where latencies overlap (LinkModel::latency_overlaps: a GPU fabric), every t(s) above that a
// pipelined column after the first, or a parent's message to another child, pays is its bytes
// alone; the fills keep whole messages, and a ring costs the larger of its ports' work and its
// first column's way round (2(n-1) hops for an all-reduce) with the other columns behind it.
// With a fast hop known, a ring's steady-state message and recursive doubling's rounds inside a
// node cost at least the bytes of LinkModel::fast_hop_sharing such hops (every channel passes
// every GPU's port; a chain's column counts its ports in chain_nic_messages instead).
#include "collectives/tuner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "collectives/schedule_builder.h"

namespace braid::coll {
namespace {

using internal::CeilDiv;

struct Costs {
  double alpha, us_per_byte, reduce_us_per_byte;
  double tree_nic_messages;  // LinkModel::tree_nic_messages
  double rooted_tree_nic_messages;  // LinkModel::rooted_tree_nic_messages
  double tree_path_slow_hops, rooted_tree_path_slow_hops;  // LinkModel's
  double chain_path_slow_hops, chain_nic_messages;          // LinkModel's
  double fast_alpha, fast_us_per_byte;  // LinkModel's fast hop
  double fast_sharing;                  // LinkModel::fast_hop_sharing
  // Recursive doubling on unlike hops whose fast hop is known: the share of its rounds that cross
  // nodes (those pay Message, with every sender behind a link sharing it; the rest a fast hop).
  // 0: every round costed alike (StepMessage, the sharing averaged over the rounds).
  double doubling_crossing_share;
  double nodes;  // LinkModel::nodes (a chain's fill crosses nodes - 1 times if not told otherwise)
  double mean_hop_alpha, mean_hop_us_per_byte;  // LinkModel's; 0 when hops are alike
  // LinkModel's latency of messages above small_max_bytes (infinite: none are).
  double small_max_bytes, large_alpha, mean_hop_large_alpha;
  bool latency_overlaps;  // LinkModel's
  // What a message holds its port for: itself, or with latencies overlapping (LinkModel says
  // when) its bytes alone. Pipelined columns after the first, and a parent's messages to its
  // other children, cost this; a column's way along its path pays the full messages.
  Costs Port() const {
    if (!latency_overlaps) return *this;
    Costs bytes_only = *this;
    bytes_only.alpha = bytes_only.fast_alpha = bytes_only.mean_hop_alpha = 0;
    bytes_only.large_alpha = bytes_only.mean_hop_large_alpha = 0;
    return bytes_only;
  }
  double Latency(double bytes) const { return bytes > small_max_bytes ? large_alpha : alpha; }
  double MeanHopLatency(double bytes) const { return bytes > small_max_bytes ? mean_hop_large_alpha : mean_hop_alpha; }
  double Message(double bytes) const { return Latency(bytes) + bytes * us_per_byte; }
  // One step of an all-reduce's ring, a double tree's column, or recursive doubling's round
  // without a fast hop, on unlike hops: a mean hop, or the slowest link's transfer if longer
  // (LinkModel says why); tree fills and split rounds use PathFill, DoublingRound. The rooted schedules
  // and pairwise exchange keep Message: with it the tuner's choices replay closer to the best
  // (sweeps in docs/PERFORMANCE.md, session 54).
  double StepMessage(double bytes) const {
    if (mean_hop_us_per_byte <= 0) return Message(bytes);
    return std::max(MeanHopLatency(bytes) + bytes * mean_hop_us_per_byte, bytes * us_per_byte);
  }
  // A mean hop alone (Message when hops are alike): a rooted tree's rank-to-rank messages, whose
  // slowest link is costed apart (rooted_tree_nic_messages).
  double MeanHopMessage(double bytes) const {
    if (mean_hop_us_per_byte <= 0) return Message(bytes);
    return MeanHopLatency(bytes) + bytes * mean_hop_us_per_byte;
  }
  double MeanHopUsPerByte() const { return mean_hop_us_per_byte > 0 ? mean_hop_us_per_byte : us_per_byte; }
  double Reduce(double bytes) const { return bytes * reduce_us_per_byte; }
  // A column's fill down a tree path of `hops` messages, `slow_hops` of them between nodes at
  // the slowest link and the rest a fast hop (LinkModel::tree_path_slow_hops).
  double PathFill(double hops, double slow_hops, double bytes) const {
    const double slow = std::min(slow_hops, hops);
    return slow * Message(bytes) + (hops - slow) * FastMessage(bytes);
  }
  double FastMessage(double bytes) const { return fast_alpha + bytes * fast_us_per_byte; }
  // A hop inside a node's bytes when every channel sends through its port (0: no fast hop known,
  // or one channel: then a hop inside a node is one of the ring's own hops, already
  // costed, and braid's host model, whose such hop can be slower than its slowest link's
  // bandwidth_GBps, keeps its estimates).
  double SharedFastBytes(double bytes) const { return fast_sharing > 1 ? fast_sharing * bytes * fast_us_per_byte : 0; }
  // One round of recursive doubling, on average over its rounds.
  double DoublingRound(double bytes) const {
    if (doubling_crossing_share <= 0) return StepMessage(bytes);
    return doubling_crossing_share * Message(bytes) +
           (1 - doubling_crossing_share) * (fast_alpha + fast_sharing * bytes * fast_us_per_byte);
  }
};

struct Pipeline {
  double columns;  // M
  double bytes;    // s
};

constexpr double kImpossible = std::numeric_limits<double>::infinity();

// slice 0 means the algorithm cannot fit even one column in the tag space (absurd nranks).
// The schedules cut a part into full slices and a shorter last one; charging each column the
// average keeps the bytes exact (charging every column a full slice overstated a 7 MiB ring part
// in 4 MiB slices as 8 MiB, enough to make the tuner prefer a tree that is slower).
Pipeline PipelineOf(size_t part, size_t slice, size_t elem_size) {
  if (slice == 0) return {kImpossible, 0};
  const double columns = double(CeilDiv(part, slice));
  return {columns, columns > 0 ? double(part) * double(elem_size) / columns : 0.0};
}

// Per-column message and reduce load of the busiest rank over both double-binary trees.
void DoubleTreeLoad(int n, int* messages, int* reduces) {
  *messages = 0;
  *reduces = 0;
  for (int r = 0; r < n; ++r) {
    int m = 0, red = 0;
    for (int t = 0; t < 2; ++t) {
      internal::TreeLinks l = internal::DoubleTreeLinks(n, r, t);
      m += l.num_children + (l.parent >= 0 ? 1 : 0);
      red += l.num_children;
    }
    *messages = std::max(*messages, m);
    *reduces = std::max(*reduces, red);
  }
}

// F above: the largest sum of children counts over the ranks on a path from a tree's root down
// to a leaf (`links_of(rank)`: the rank's links in that tree).
template <typename LinksOf>
double ChildrenOnAPath(int n, const LinksOf& links_of) {
  int root = 0;
  while (root < n && links_of(root).parent >= 0) ++root;
  if (root == n) return 0;
  std::vector<int> fill(size_t(n), 0);  // by rank: children counts above that rank
  std::vector<int> order{root};         // ranks in breadth-first order
  int most = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    const int rank = order[k];
    const internal::TreeLinks links = links_of(rank);
    for (int c = 0; c < links.num_children; ++c) {
      fill[size_t(links.children[c])] = fill[size_t(rank)] + links.num_children;
      most = std::max(most, fill[size_t(links.children[c])]);
      order.push_back(links.children[c]);
    }
  }
  return double(most);
}

// For the rooted binary tree (its shape does not depend on the root's rank).
double RootedTreeFill(int n) {
  return ChildrenOnAPath(n, [n](int rank) { return internal::RootedTreeLinks(n, rank, 0); });
}

// For the double binary tree: the larger over its two trees.
double DoubleTreeFill(int n) {
  double most = 0;
  for (int which = 0; which < 2; ++which)
    most = std::max(most, ChildrenOnAPath(n, [n, which](int rank) { return internal::DoubleTreeLinks(n, rank, which); }));
  return most;
}

double Estimate(const ScheduleRequest& r, const Costs& c) {
  const int n = r.nranks;
  const double n1 = double(n - 1);
  const size_t es = r.elem_size;
  switch (r.algorithm) {
    case Algorithm::kRing: {
      const size_t slice = internal::RingSliceElems(r);
      const Costs port = c.Port();
      // One reduce-scatter step: transfers and reductions of consecutive slices overlap.
      // A step's message on the port: the slowest link's, or a GPU port's whose every channel
      // sends through it.
      auto step_message = [&](double bytes) { return std::max(port.StepMessage(bytes), c.SharedFastBytes(bytes)); };
      auto reduce_step = [&](const Pipeline& p) {
        double t = step_message(p.bytes), red = c.Reduce(p.bytes);
        return (p.columns - 1) * std::max(t, red) + t + red;
      };
      // The ports' work, or the first column's way round the ring (`hops` messages, `reduces`
      // reductions) with the other columns behind it if that is longer, as it can be only when
      // latencies overlap (otherwise the ports' work counts every hop's latency already).
      auto ports_or_chain = [&](const Pipeline& p, double ports, double hops, double reduces) {
        const double step = std::max(step_message(p.bytes), reduces > 0 ? c.Reduce(p.bytes) : 0.0);
        const double chain = hops * c.MeanHopMessage(p.bytes) + reduces * c.Reduce(p.bytes) + (p.columns - 1) * step;
        return std::max(ports, chain);
      };
      if (r.collective == Collective::kAllReduce) {
        Pipeline p = PipelineOf(CeilDiv(r.count, size_t(n)), slice, es);
        return ports_or_chain(p, n1 * reduce_step(p) + n1 * p.columns * step_message(p.bytes), 2 * n1, n1);
      }
      Pipeline p = PipelineOf(r.count, slice, es);
      if (r.collective == Collective::kReduceScatter) return ports_or_chain(p, n1 * reduce_step(p), n1, n1);
      return ports_or_chain(p, n1 * p.columns * step_message(p.bytes), n1, 0);
    }
    case Algorithm::kTree: {
      if (r.collective == Collective::kAllReduce) {
        Pipeline p = PipelineOf(CeilDiv(r.count, 2), internal::TreeAllReduceSliceElems(r), es);
        int rank_messages = 0, reduces = 0;
        DoubleTreeLoad(n, &rank_messages, &reduces);
        const double messages = std::max<double>(rank_messages, c.tree_nic_messages);
        double h = std::max(internal::DoubleTreeHeight(n, 0), internal::DoubleTreeHeight(n, 1));
        const double fill = c.tree_path_slow_hops > 0 ? c.PathFill(h, c.tree_path_slow_hops, p.bytes)
                                                      : h * c.StepMessage(p.bytes);
        // A parent takes its children's columns in, and gives its own out, through one port: a
        // column's way up or down its worst path passes F - h siblings' bytes besides its own, at
        // a mean hop. Without them, 8 A100 PCIe GPUs chose a tree for 512 KiB, est. 99 us, that
        // replayed in 141 us, over a 121 us ring (its one column's fill is all of it).
        const double siblings = (DoubleTreeFill(n) - h) * p.bytes * c.MeanHopUsPerByte();
        return messages * (p.columns - 1) * c.Port().StepMessage(p.bytes) + 2 * (fill + siblings) +
               (reduces * (p.columns - 1) + h) * c.Reduce(p.bytes);
      }
      Pipeline p = PipelineOf(r.count, internal::RootedSliceElems(r), es);
      const double width = n > 2 ? 2 : 1;  // children of the busiest rank
      const double h = internal::RootedTreeHeight(n);
      // A column: the busiest rank's messages at a mean hop, or the busiest NIC's at its rate. The
      // fill: the path's crossings of nodes at the slowest link and its other messages at a fast
      // hop; where the path is not known, its messages at a mean hop plus one NIC crossing.
      const Costs port = c.Port();
      const double column =
          std::max(width * port.MeanHopMessage(p.bytes), c.rooted_tree_nic_messages * port.Message(p.bytes));
      const double crossing = c.rooted_tree_nic_messages > 0 ? c.Message(p.bytes) : 0;
      // With latencies overlapping, the path's h hops pay a message each and its ranks' other
      // children their bytes at a mean hop (as the double tree's siblings); otherwise all F
      // message slots are whole messages.
      const double slots = c.latency_overlaps ? h : RootedTreeFill(n);
      const double siblings = (RootedTreeFill(n) - slots) * port.MeanHopMessage(p.bytes);
      const double fill = siblings + (c.rooted_tree_path_slow_hops > 0
                                          ? c.PathFill(slots, c.rooted_tree_path_slow_hops, p.bytes)
                                          : slots * c.MeanHopMessage(p.bytes) + crossing);
      double t = (p.columns - 1) * column + fill;
      if (r.collective == Collective::kReduce) t += (width * (p.columns - 1) + h) * c.Reduce(p.bytes);
      return t;
    }
    case Algorithm::kChain: {
      Pipeline p = PipelineOf(r.count, internal::RootedSliceElems(r), es);
      double steps = p.columns - 1 + n1;
      // A column after the first passes the busiest link's chain messages (plan-sim counts GPU
      // ports there too, every channel's chain passing each); the first one's way down the chain crosses nodes where the placement
      // does (nodes - 1 times placed node by node), its other hops inside a node: at the slowest
      // link each, 64 GPUs on 8 DGX A100 nodes were costed as 63 NIC hops, and a reduce of 128 MiB
      // chose a tree (replayed 1.83 ms) over this chain (1.28 ms; estimated 2.53).
      const double column = std::max(1.0, c.chain_nic_messages) * c.Port().Message(p.bytes);
      const double crossings = c.chain_path_slow_hops > 0 ? c.chain_path_slow_hops : c.nodes - 1;
      double t = (p.columns - 1) * column +
                 (c.fast_us_per_byte > 0 && c.nodes > 1 ? c.PathFill(n1, crossings, p.bytes) : n1 * c.Message(p.bytes));
      if (r.collective == Collective::kReduce) t += steps * c.Reduce(p.bytes);
      return t;
    }
    case Algorithm::kRecursiveDoubling: {
      internal::DoublingShape shape = internal::DoublingShapeFor(n);
      Pipeline p = PipelineOf(r.count, internal::RecursiveDoublingSliceElems(r), es);
      double f = shape.extras > 0 ? 1 : 0, L = shape.steps;
      return (L + f) * (p.columns - 1) * c.Port().DoublingRound(p.bytes) + (L + 2 * f) * c.DoublingRound(p.bytes) +
             (L + f) * p.columns * c.Reduce(p.bytes);
    }
    case Algorithm::kPairwise: {
      Pipeline p = PipelineOf(r.count, internal::PairwiseSliceElems(r), es);
      // Its rounds wait on nothing but the port: one latency in all when they overlap.
      return (n1 * p.columns - 1) * c.Port().Message(p.bytes) + c.Message(p.bytes);
    }
  }
  return 0;
}

std::string FormatUs(double us) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fus", us);
  return buf;
}

std::string FormatBytes(size_t bytes) {
  if (bytes >= (size_t(1) << 20) && bytes % (size_t(1) << 20) == 0)
    return std::to_string(bytes >> 20) + "MiB";
  if (bytes >= 1024 && bytes % 1024 == 0) return std::to_string(bytes >> 10) + "KiB";
  return std::to_string(bytes) + "B";
}

struct Candidate {
  Algorithm algorithm;
  size_t slice_bytes;
  double us;
};

// Best slice size for one algorithm: powers of two from min to max slice bytes; the smallest
// of equally fast sizes (they tie once the whole part fits in one slice).
// The slice is chosen with every message paying the slowest hop's latency, unhidden, and no NIC shared by
// trees (the slices of before those terms; a tree's shared NIC favoured larger slices that
// replayed 17-36% slower, review, session 54): on unlike hops a ring
// step's latency hides behind the slowest link's transfers, so the step cost stops depending on
// the slice and the smallest would win by its shorter fill, while each message still costs its
// sender a fixed overhead that the model does not see (and a replay of 8x more slices took 8x
// longer to simulate). The algorithms are then compared at their slices on the link as it is.
Candidate BestSlice(ScheduleRequest r, Algorithm a, const LinkModel& link) {
  r.algorithm = a;
  LinkModel alike = link;
  alike.mean_hop_alpha_us = alike.mean_hop_us_per_byte = alike.tree_nic_messages = 0;
  alike.rooted_tree_nic_messages = alike.tree_path_slow_hops = alike.rooted_tree_path_slow_hops = 0;
  alike.chain_path_slow_hops = alike.chain_nic_messages = 0;
  alike.fast_hop_alpha_us = alike.fast_hop_us_per_byte = alike.doubling_crossing_rounds = 0;
  alike.latency_overlaps = false;
  size_t lo = std::max<size_t>(link.min_slice_bytes, 1);
  size_t hi = std::max(link.max_slice_bytes, lo);
  Candidate best{a, lo, -1};
  for (size_t s = lo; s <= hi; s *= 2) {
    r.slice_bytes = s;
    double us = EstimateMicroseconds(r, alike).value_or(kImpossible);
    if (best.us < 0 || us < best.us) best = {a, s, us};
    if (s > hi / 2) break;  // next doubling would pass hi (or overflow)
  }
  r.slice_bytes = best.slice_bytes;
  if (best.us < kImpossible) best.us = EstimateMicroseconds(r, link).value_or(kImpossible);
  return best;
}

std::string Ranking(std::vector<Candidate> all) {
  std::stable_sort(all.begin(), all.end(),
                   [](const Candidate& a, const Candidate& b) { return a.us < b.us; });
  std::string out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (i) out += " < ";
    out += std::string(AlgorithmName(all[i].algorithm)) + " " + FormatUs(all[i].us);
    if (i == 0) out += " (slice " + FormatBytes(all[i].slice_bytes) + ")";
  }
  return out;
}

}  // namespace

std::optional<double> EstimateMicroseconds(const ScheduleRequest& request, const LinkModel& link) {
  if (int(request.collective) >= kNumCollectives) return std::nullopt;
  if (int(request.algorithm) >= kNumAlgorithms) return std::nullopt;
  if (!Supports(request.algorithm, request.collective)) return std::nullopt;
  if (request.nranks < 1 || request.elem_size == 0) return std::nullopt;
  if (request.nranks == 1 || request.count == 0) return 0.0;  // local copy at most
  // Recursive doubling and pairwise exchange send from every rank at once: in the rounds whose
  // partner is on another node the link's rate is shared by all the senders behind it. Recursive
  // doubling crosses nodes in LinkModel::doubling_crossing_rounds of its floor(log2(n)) rounds
  // plus the fold and unfold of the extras (when not known: ceil(log2(nodes)), the fold and
  // unfold counted as crossing); pairwise exchange in n - n/nodes of its n - 1.
  // Where a hop inside a node is known (LinkModel::fast_hop_*), recursive doubling's crossing
  // rounds pay the slowest link at the full share and the others a fast hop: averaged over its
  // rounds at a mean hop, 64 GPUs on 8 DGX A100 nodes (3 of 6 rounds across) were costed as if
  // 1 in 8 of its hops crossed. Otherwise every round is costed alike, the share averaged.
  double sharing = 1, crossing = 0;
  const double n = request.nranks, nodes = std::clamp<double>(link.nodes, 1, n);
  if (nodes > 1 && n > 1) {
    if (request.algorithm == Algorithm::kRecursiveDoubling) {
      const internal::DoublingShape shape = internal::DoublingShapeFor(request.nranks);
      const double folds = shape.extras > 0 ? 2 : 0;
      const double rounds =
          link.doubling_crossing_rounds > 0 ? link.doubling_crossing_rounds : std::ceil(std::log2(nodes)) + folds;
      crossing = std::min(1.0, rounds / (shape.steps + folds));
    }
    if (request.algorithm == Algorithm::kPairwise) crossing = std::min(1.0, (n - n / nodes) / (n - 1));
  }
  const bool split_rounds =
      request.algorithm == Algorithm::kRecursiveDoubling && link.fast_hop_us_per_byte > 0 && crossing > 0;
  const double all_ranks_sharing = std::max(1.0, link.all_ranks_sharing);
  sharing = split_rounds ? all_ranks_sharing : 1 + (all_ranks_sharing - 1) * crossing;
  // Designated: twenty fields in a row would take a swapped pair silently.
  const Costs costs{.alpha = link.alpha_us,
                    .us_per_byte = 1e-3 * sharing / std::max(link.bandwidth_GBps, 1e-9),
                    .reduce_us_per_byte = 1e-3 / std::max(link.reduce_GBps, 1e-9),
                    .tree_nic_messages = link.tree_nic_messages,
                    .rooted_tree_nic_messages = link.rooted_tree_nic_messages,
                    .tree_path_slow_hops = link.tree_path_slow_hops,
                    .rooted_tree_path_slow_hops = link.rooted_tree_path_slow_hops,
                    .chain_path_slow_hops = link.chain_path_slow_hops,
                    .chain_nic_messages = link.chain_nic_messages,
                    .fast_alpha = link.fast_hop_alpha_us,
                    .fast_us_per_byte = link.fast_hop_us_per_byte,
                    .fast_sharing = std::max(1.0, link.fast_hop_sharing),
                    .doubling_crossing_share = split_rounds ? crossing : 0,
                    .nodes = nodes,
                    .mean_hop_alpha = link.mean_hop_alpha_us,
                    .mean_hop_us_per_byte = link.mean_hop_us_per_byte * sharing,
                    .small_max_bytes = link.small_message_max_bytes,
                    .large_alpha = link.large_message_alpha_us,
                    .mean_hop_large_alpha = link.mean_hop_large_alpha_us,
                    .latency_overlaps = link.latency_overlaps};
  double us = Estimate(request, costs);
  if (!(us < kImpossible)) return std::nullopt;  // cannot be built (tag space)
  return us;
}

TunerChoice Choose(const ScheduleRequest& request, const LinkModel& link,
                   std::optional<Algorithm> forced) {
  return Choose(request, link, forced ? MaskOf(*forced) : kAnyAlgorithm);
}

TunerChoice Choose(const ScheduleRequest& request, const LinkModel& link, AlgorithmMask allowed) {
  std::vector<Candidate> all;
  for (int a = 0; a < kNumAlgorithms; ++a) {
    Algorithm algo = Algorithm(a);
    if (Supports(algo, request.collective)) all.push_back(BestSlice(request, algo, link));
  }
  TunerChoice choice;
  if (all.empty()) {
    choice.reason = std::string("no algorithm supports ") + CollectiveName(request.collective);
    return choice;
  }
  const Candidate* best = &all[0];
  const Candidate* best_allowed = nullptr;
  for (const Candidate& c : all) {
    if (c.us < best->us) best = &c;
    if ((allowed & MaskOf(c.algorithm)) && (!best_allowed || c.us < best_allowed->us)) best_allowed = &c;
  }
  std::string ranking = Ranking(all);
  const bool restricted = (allowed & kAnyAlgorithm) != kAnyAlgorithm;
  const bool one = restricted && (allowed & (allowed - 1)) == 0;
  std::string names;  // the allowed algorithms, for the reason
  for (int a = 0; a < kNumAlgorithms; ++a)
    if (allowed & MaskOf(Algorithm(a))) names += std::string(names.empty() ? "" : ",") + AlgorithmName(Algorithm(a));
  if (restricted && best_allowed) {
    const std::string how = one ? std::string("forced ") : "allowed " + names + ", chose ";
    return {best_allowed->algorithm, best_allowed->slice_bytes, best_allowed->us,
            how + AlgorithmName(best_allowed->algorithm) + ": est " + FormatUs(best_allowed->us) + " (slice " +
                FormatBytes(best_allowed->slice_bytes) + "); model: " + ranking};
  }
  std::string prefix;
  if (restricted) {
    prefix = (one ? "forced " : "allowed ") + (names.empty() ? std::string("(none)") : names) +
             (one ? " does" : " do") + " not support " + CollectiveName(request.collective) +
             ", falling back to the model; ";
  }
  choice = {best->algorithm, best->slice_bytes, best->us, prefix + ranking};
  return choice;
}

LinkModel HostRuntimeLinkModel() {
  LinkModel link;
  // Measured on the 2-core development VM (docs/PERFORMANCE.md): ~1 us per small message over
  // UCX shared memory, a few GB/s per stream, ~10 GB/s fp32 reduction out of cache.
  link.alpha_us = 1.0;
  link.bandwidth_GBps = 5.0;
  link.reduce_GBps = 10.0;
  // A reduce touches three slice-sized buffers (received, local input, output); keeping them in
  // L2 (512 KiB per core there) is what the measured optimum of 128-256 KiB slices reflects.
  link.min_slice_bytes = 32 << 10;
  link.max_slice_bytes = 256 << 10;
  return link;
}

}  // namespace braid::coll
