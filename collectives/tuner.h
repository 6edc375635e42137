// Algorithm and slice-size choice from an alpha-beta cost model. The same parameters are fed by
// braid-perf calibration and used by plan-sim, so all three agree on what a schedule costs.
#pragma once

#include <cstddef>
#include <limits>
#include <optional>
#include <string>

#include "collectives/schedule.h"

namespace braid::coll {

// Cost of moving and combining data on one class of link (e.g. same-host shared memory).
struct LinkModel {
  double alpha_us = 2.0;           // per-message latency, microseconds
  double bandwidth_GBps = 5.0;     // point-to-point bandwidth, GB/s (1e9 bytes/s)
  double reduce_GBps = 10.0;       // local reduction throughput, GB/s of output produced
  size_t min_slice_bytes = 64 << 10;   // smallest pipelining slice considered
  size_t max_slice_bytes = 4 << 20;    // largest
  // How many schedules' senders share one bottleneck link when every rank sends across it at
  // once, as recursive doubling and pairwise all-to-all do in their cross-node rounds (a rank of
  // each of C channels on each of G GPUs of a node, over its NICs: C x G / NICs), and over how
  // many nodes the ranks sit (evenly): only the rounds whose partner is on another node share.
  // A ring or a tree puts one flow of each channel on a link. 1: nothing shared. plan-sim gives
  // a group on one PCIe node its switch count as `nodes` (a switch's uplink is shared alike).
  double all_ranks_sharing = 1;
  int nodes = 1;
  // Groups spanning nodes: the most double-binary-tree messages per column that one NIC passes in
  // one direction, over every channel's pair of trees. A ring enters and leaves each node once per
  // channel, through that channel's NIC; a tree's cross-node edges land on whichever GPUs its ranks
  // are, so several channels' trees can meet on one NIC (64 GPUs on 8 DGX nodes: a tree chosen
  // over a ring replayed 2x slower; QA, session 54). A tree all-reduce is costed at the larger of
  // this and its busiest rank's own messages. plan-sim counts it on every link of its fabric, in
  // messages at this model's bandwidth_GBps (a link twice as fast counts half), so PCIe switch and
  // leaf uplinks count too, one node included (0 there from braid's host model). 0: not known.
  double tree_nic_messages = 0;
  // The same for the binary tree of a broadcast or reduce (rooted at rank 0; one direction). Its
  // column then costs the larger of the busiest rank's messages (at a mean hop, below) and these
  // at the slowest link: costing every message of the tree at the NIC's rate made a broadcast
  // of 256 MiB over 16 GPUs on 2 DGX nodes pick a chain that replayed 1.5x slower than the tree.
  double rooted_tree_nic_messages = 0;
  // Groups spanning nodes: the most hops between nodes on one path from a root down to a member,
  // of the double binary trees (tree_path_slow_hops) and of a broadcast's or reduce's rooted tree
  // (rooted_tree_path_slow_hops), and what a hop inside a node costs (fast_hop_*). A column's fill
  // goes down (and up) such a path: each hop between nodes costs a message on the slowest link,
  // each other hop a fast one. At a mean hop each, an 8-rank all-reduce of 16 KiB on two hosts a
  // 1 ms link apart chose a tree, est. 1.9 ms, whose paths cross the link twice each way (4.7 ms
  // replayed, 8.2 ms measured), over recursive doubling (6.2 ms measured; docs/PERFORMANCE.md,
  // session 59). 0: the fill at a mean hop (one node, or not known). The rooted tree's is rooted
  // at member 0, as rooted_tree_nic_messages.
  double tree_path_slow_hops = 0;
  double rooted_tree_path_slow_hops = 0;
  // The same for the chain of a broadcast or reduce from member 0: its node crossings (0: not
  // known, taken as nodes - 1, members placed node by node) and the most of its messages per
  // column through one link (0: one). Members placed round-robin over the nodes make every hop
  // a crossing and put n / nodes of a column's messages through each node's link.
  double chain_path_slow_hops = 0;
  double chain_nic_messages = 0;
  // A hop inside a node: latency (us) and time per byte (us/B). Set (> 0), it also makes recursive
  // doubling's rounds unlike: those across nodes (doubling_crossing_rounds) pay a message on the
  // slowest link with every sender behind it sharing the link, the rest a fast hop.
  double fast_hop_alpha_us = 0;
  double fast_hop_us_per_byte = 0;
  // How many flows share a GPU's port on a hop inside a node when every channel sends at once:
  // recursive doubling's rounds, and a ring's steady state, where every channel's path passes
  // every GPU (plan-sim: the channels; a chain's ports are in chain_nic_messages). 1: none shared. The fills are not shared:
  // the channels' first columns are at different GPUs. Unshared, recursive doubling of 128 KiB
  // over 16 A100 PCIe GPUs (8 channels) was estimated at 84 us and replayed in 105 us.
  double fast_hop_sharing = 1;
  // Recursive doubling's rounds (the fold and unfold of extra ranks counted one each) in which a
  // partner is on another node, from the group's placement; 0: not known, taken as
  // ceil(log2(nodes)) plus the fold and unfold (ranks placed node by node).
  double doubling_crossing_rounds = 0;
  // Groups whose hops differ (NVLink inside a node, a NIC between nodes): the mean over the ring's
  // hops of their latency (us) and of their time per byte (us/B). alpha_us and bandwidth_GBps are
  // then the slowest hop's. A ring step, a double tree's column and, without a fast hop,
  // recursive doubling's round cost the larger of a mean hop (a ring's dependency chain goes
  // round through every hop alike) and the slowest link's transfer alone (it passes every step's
  // message back to back, its latency hidden behind the fast hops): 64 GPUs on 8 DGX nodes were
  // costed as 126 NIC hops each paying its latency, 1.7x the replayed ring, and lost to a slower
  // tree (QA, session 54). The rooted schedules and pairwise exchange keep the slowest hop's.
  // Slices are chosen without these terms. 0: every hop is alike (alpha_us, bandwidth_GBps).
  double mean_hop_alpha_us = 0;
  double mean_hop_us_per_byte = 0;
  // Messages above small_message_max_bytes pay large_message_alpha_us (and a mean hop
  // mean_hop_large_alpha_us) instead: a transport whose larger messages take a rendezvous
  // handshake (UCX over TCP: ~3 round trips instead of one; braid-perf calibrate's small and large
  // fits, collectives/tuner_file.h) must not see a 64 KiB message as cheap as a 16 KiB one. Over
  // a 1 ms link that made recursive doubling's 64 KiB exchange look cheaper than a ring's 16 KiB
  // steps, and it ran 1.4x slower (docs/PERFORMANCE.md, session 58). Infinite: one latency.
  double small_message_max_bytes = std::numeric_limits<double>::infinity();
  double large_message_alpha_us = 0;
  double mean_hop_large_alpha_us = 0;
  // Whether a sender's messages overlap their latencies: a message holds its port only for its
  // bytes, and the latency is flight time, paid once by a chain of dependent messages but hidden
  // behind the port's other messages (a GPU fabric, and plan-sim's replay of one). Then a
  // pipelined algorithm's steady state costs bytes alone and each schedule costs the larger of
  // that and its first column's critical path; a parent's messages to its children share one
  // latency. Charging a latency per column made a 128 MiB reduce over 64 H100s choose a tree
  // (replayed 1.22x slower) over a chain estimated at 1.63x its replay (docs/PERFORMANCE.md,
  // session 61). False: each message costs its sender its latency, as braid's host runtime over
  // UCX measures (the latency there is mostly the sender's and receiver's software).
  bool latency_overlaps = false;
};

struct TunerChoice {
  Algorithm algorithm = Algorithm::kRing;
  size_t slice_bytes = 1 << 20;
  double estimated_us = 0;  // the model's estimate for the chosen algorithm
  std::string reason;       // e.g. "ring: est 310.2 us < tree 402.7 us < recdoubling 590.1 us"
};

// Estimated time in microseconds of `request` under `link` (all ranks on equivalent links),
// counting the schedule's critical path of message steps and pipelined slices; nullopt when
// the algorithm does not support the collective.
std::optional<double> EstimateMicroseconds(const ScheduleRequest& request, const LinkModel& link);

// Picks the fastest supported algorithm (and its slice size) for `request` (whose algorithm and
// slice_bytes fields are ignored). If `forced` is set and supports the collective, it is used,
// with only the slice size tuned; if it does not support it, the choice falls back to the model
// and the reason says so.
TunerChoice Choose(const ScheduleRequest& request, const LinkModel& link,
                   std::optional<Algorithm> forced);

// A set of algorithms, bit a for Algorithm(a).
using AlgorithmMask = uint32_t;
inline constexpr AlgorithmMask kAnyAlgorithm = (AlgorithmMask{1} << kNumAlgorithms) - 1;
constexpr AlgorithmMask MaskOf(Algorithm a) { return AlgorithmMask{1} << int(a); }

// As above, choosing among the `allowed` algorithms (NCCL_ALGO's lists and exclusions): one
// allowed algorithm is forced as above; several leave the model to pick among those that support
// the collective; if none does, the model picks among all and the reason says so.
TunerChoice Choose(const ScheduleRequest& request, const LinkModel& link, AlgorithmMask allowed);

// The model braid's host runtime (src/runtime) tunes with for host memory over UCX shared
// memory. plan-sim's host-runtime mode chooses with it too, so that it replays exactly the
// algorithm and slice the runtime would run (see tuner.cc for where the numbers come from).
LinkModel HostRuntimeLinkModel();

}  // namespace braid::coll
