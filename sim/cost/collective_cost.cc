#include "sim/cost/collective_cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "collectives/schedule_builder.h"
#include "collectives/tuner.h"
#include "collectives/tree_crossings.h"
#include "sim/cluster/fabric.h"
#include "sim/cost/schedule_replay.h"
#include "sim/engine/flow_network.h"
#include "sim/engine/simulator.h"

namespace braid::sim {
namespace {

// Replays stay fast by bounding their size; beyond these, a periodic subset is replayed and the
// result scaled by the schedule's own alpha-beta step count (see Extrapolate).
constexpr int kMaxExplicitRanks = 128;        // over all concurrent groups
constexpr int kMaxReplayedPerNode = 64;       // members of one node in a replay (NVL72: 72)
constexpr double kMaxOpsPerReplay = 50000;    // bounds slices per chunk
// At most this many slices per chunk are replayed: beyond a few, slicing only shortens the
// pipeline fill, which the ring does not have (every rank sends from the first step).
constexpr double kMaxColumns = 8;
// Sizes are costed on a grid of 2^(1/8) (9%) steps and scaled linearly to the exact size, so
// the many slightly different gradient buckets of a step share replays. Linear scaling is exact
// when bandwidth-bound and over-counts the latency part by at most 9%.
constexpr double kSizeSteps = 8;

// GPU collectives move data in slices far larger than host ones (NCCL: 128-512 KiB per channel
// step); the tuner picks within this range.
constexpr size_t kMinSliceBytes = 256 << 10;
constexpr size_t kMaxSliceBytes = 4 << 20;

// A cache key independent of where the groups sit: node offsets relative to the first node, local
// GPU indices, and (where it matters) the first node's place in its leaf.
std::string PatternKey(const CollectiveQuery& q, const ClusterSpec& cluster) {
  const int gpus_per_node = cluster.node.gpus;
  int base_node = q.groups[0][0] / gpus_per_node;
  // Where the first node sits in its leaf, for groups that span nodes under oversubscribed
  // uplinks: the same relative nodes may share a leaf or straddle two. (Without oversubscription
  // only the two switch hops of a crossing differ, a few microseconds; keying on the offset
  // there too made a GPT-3 step simulation 2x slower by missing the cache.)
  bool spans_nodes = false;
  for (const auto& g : q.groups)
    for (int gpu : g) spans_nodes = spans_nodes || gpu / gpus_per_node != base_node;
  const bool uplinks_limit = cluster.network.oversubscription > 1;
  const int leaf_offset = spans_nodes && uplinks_limit ? base_node % std::max(1, cluster.network.nodes_per_leaf) : 0;
  std::string key = fmt::format("{}|{}|{}|{}|{}|{}|", int(q.collective), q.bytes, q.elem_size, q.average,
                                q.algorithm ? int(*q.algorithm) : -1, leaf_offset);
  for (const auto& g : q.groups) {
    for (int gpu : g) key += fmt::format("{}.{},", gpu / gpus_per_node - base_node, gpu % gpus_per_node);
    key += ';';
  }
  return key;
}

// Members of `group` in ring order for channel `c` of `channels`: node by node, each node's
// members rotated so that every channel enters and leaves a node through a different GPU (and
// so a different NIC), as NCCL's rings do.
std::vector<int> ChannelOrder(const std::vector<int>& group, int gpus_per_node, int c, int channels) {
  std::unordered_map<int, size_t> slot;  // node -> its position in `members` (groups span 1M GPUs)
  std::vector<std::vector<int>> members;
  for (int gpu : group) {
    const auto [it, added] = slot.try_emplace(gpu / gpus_per_node, members.size());
    if (added) members.emplace_back();
    members[it->second].push_back(gpu);
  }
  std::vector<int> order;
  for (auto& m : members) {
    int shift = int(m.size()) * c / channels;
    std::rotate(m.begin(), m.begin() + shift, m.end());
    order.insert(order.end(), m.begin(), m.end());
  }
  return order;
}

// The members of `group` kept for an explicit replay when it is too large: whole nodes, as many
// as fit in `max_ranks` and at least two, so inter-node hops are represented. They are chosen
// leaf by leaf (leaf = node / nodes_per_leaf): the kept leaves spread evenly over the group's
// leaves, and the same number of nodes from each, spread evenly over its nodes. Spread, not the
// first k: a group spanning several leaves then still spans them in the replay, and a ring
// crossing a leaf boundary loads its uplink with the same flows as the full ring does (the first
// 16 nodes of a 2048-GPU ring all sat under one leaf, so the replay never met an oversubscribed
// uplink). The same number per leaf, not every (N/k)-th node: that kept 2 nodes of some leaves
// and 1 of others, and the cross-leaf load of a tree then jumped up and down with the group's
// size (64 MiB on 2 nodes per leaf: 2.7 ms at 136 ranks, 4.7 at 144, 3.2 at 160; QA, session
// 50). A node with more members than kMaxReplayedPerNode (and than max_ranks) keeps only its
// first ones: its switch treats every member alike, and the closed-form extrapolation restores n.
std::vector<int> PeriodicSubset(const std::vector<int>& group, int gpus_per_node, int nodes_per_leaf, int max_ranks) {
  const size_t per_node = size_t(std::max(max_ranks, kMaxReplayedPerNode));
  std::unordered_map<int, size_t> slot;  // node -> its position in `members`
  std::vector<std::vector<int>> members;
  std::unordered_map<int, size_t> leaf_slot;  // leaf -> its position in `leaves`
  std::vector<std::vector<size_t>> leaves;    // each leaf's nodes (positions in `members`)
  for (int gpu : group) {
    const int node = gpu / gpus_per_node;
    const auto [it, added] = slot.try_emplace(node, members.size());
    if (added) {
      members.emplace_back();
      const auto [leaf, new_leaf] = leaf_slot.try_emplace(node / std::max(1, nodes_per_leaf), leaves.size());
      if (new_leaf) leaves.emplace_back();
      leaves[leaf->second].push_back(it->second);
    }
    if (members[it->second].size() < per_node) members[it->second].push_back(gpu);
  }
  const size_t nodes = members.size();
  const size_t per_kept = std::max<size_t>(1, members[0].size());
  const size_t kept = std::min(nodes, std::max<size_t>(2, (size_t(max_ranks) + per_kept - 1) / per_kept));
  size_t largest_leaf = 0;
  for (const auto& leaf : leaves) largest_leaf = std::max(largest_leaf, leaf.size());
  size_t per_leaf = std::min(largest_leaf, (kept + leaves.size() - 1) / leaves.size());
  size_t kept_leaves = std::min(leaves.size(), std::max<size_t>(1, kept / per_leaf));
  if (leaves.size() >= 2 && kept_leaves < 2) {  // two leaves at least, or no flow crosses one
    kept_leaves = 2;
    per_leaf = std::max<size_t>(1, kept / 2);
  }
  std::vector<int> subset;
  for (size_t i = 0; i < kept_leaves; ++i) {
    const std::vector<size_t>& leaf = leaves[i * leaves.size() / kept_leaves];
    const size_t take = std::min(per_leaf, leaf.size());
    for (size_t j = 0; j < take; ++j) {
      const std::vector<int>& m = members[leaf[j * leaf.size() / take]];
      subset.insert(subset.end(), m.begin(), m.end());
    }
  }
  return subset;
}

// How many times fewer of a group's nodes share each leaf's uplink in its replayed subset than in
// the group: the factor by which the replay's uplinks must narrow so that each replayed node gets
// the share of its leaf's uplink it would get in the full group. For an all-to-all, whose every
// node sends across the uplink at once; a ring or tree crosses a leaf boundary with a few flows
// whatever the group's size, so its replay keeps the real uplinks.
double UplinkShareLost(const std::vector<int>& group, const std::vector<int>& subset, int gpus_per_node,
                       int nodes_per_leaf) {
  const auto nodes_per_used_leaf = [&](const std::vector<int>& members) {
    std::set<int> nodes, leaves;
    for (int gpu : members) {
      nodes.insert(gpu / gpus_per_node);
      leaves.insert(gpu / gpus_per_node / nodes_per_leaf);
    }
    return double(nodes.size()) / double(leaves.size());
  };
  return std::max(1.0, nodes_per_used_leaf(group) / nodes_per_used_leaf(subset));
}

// Tree messages per column on each link of the fabric, summed over every tree added: the tuner's
// column of a tree costs at least the busiest link's (LinkModel::tree_nic_messages), in messages
// at the group's slowest hop. Counted on the fabric's own paths, not by node and NIC, so links
// the ring never shows the tuner count too: a GPU port that several channels' trees meet on
// (16 A100 PCIe on 2 nodes, reduce of 128 MiB: a tree 1.6x slower than the chain was chosen),
// an oversubscribed leaf uplink (1024 DGX GPUs, 15 nodes per leaf: a tree 1.7x slower than the
// ring, replayed whole), a PCIe switch's uplink.
class FabricTreeLoad {
 public:
  FabricTreeLoad(const ClusterSpec& cluster, Fabric* fabric, const FlowNetwork& network)
      : cluster_(cluster), fabric_(fabric), network_(network) {}

  // One tree over the GPUs `order` (member r is order[r]): each edge carries a message per column
  // down, and with `both_ways` (an all-reduce) one back up.
  void Add(const std::vector<int>& order, const coll::TreeParentOf& parent_of, bool both_ways) {
    for (size_t r = 0; r < order.size(); ++r) {
      const int parent = parent_of(int(r));
      if (parent < 0) continue;
      AddEdge(order[size_t(parent)], order[r]);
      if (both_ways) AddEdge(order[r], order[size_t(parent)]);
    }
  }

  // The busiest link's messages per column, as messages at `slowest_GBps` (each link's count
  // scaled by how much slower it is than that).
  double Most(double slowest_GBps) const {
    double most = 0;
    for (size_t link = 0; link < messages_.size(); ++link) {
      if (messages_[link] == 0) continue;
      most = std::max(most, messages_[link] * slowest_GBps * 1e9 / network_.LinkBandwidth(LinkId(link)));
    }
    const double port_GBps = cluster_.node.intra_GBps * cluster_.node.intra_efficiency;
    for (const std::vector<int>* ports : {&sent_, &received_})
      for (int messages : *ports) most = std::max(most, messages * slowest_GBps / port_GBps);
    return most;
  }

 private:
  // An edge inside a node that passes no shared link, only its two GPUs' ports (several
  // channels' trees can meet on one), is counted on those ports here rather than walked on the
  // fabric: walking every edge took a 1M-GPU tuner model from 4 s to 58 s.
  void AddEdge(int from, int to) {
    if (!OnlyOwnPorts(from, to)) return AddPath(from, to);
    const size_t most = size_t(std::max(from, to)) + 1;
    if (sent_.size() < most) {
      sent_.resize(most, 0);
      received_.resize(most, 0);
    }
    ++sent_[size_t(from)];
    ++received_[size_t(to)];
  }
  bool OnlyOwnPorts(int a, int b) const {
    const NodeSpec& n = cluster_.node;
    if (a / n.gpus != b / n.gpus) return false;
    return n.fabric != IntraNodeFabric::kPCIe ||
           a % n.gpus / std::max(1, n.gpus_per_pcie_switch) == b % n.gpus / std::max(1, n.gpus_per_pcie_switch);
  }
  void AddPath(int from, int to) {
    for (LinkId link : fabric_->Path(from, to)) {
      if (size_t(link) >= messages_.size()) messages_.resize(size_t(link) + 1, 0);
      ++messages_[size_t(link)];
    }
  }
  const ClusterSpec& cluster_;
  Fabric* fabric_;
  const FlowNetwork& network_;
  std::vector<int> messages_;  // by LinkId (the scratch network's ids are dense)
  std::vector<int> sent_, received_;  // by GPU: edges counted on its own ports alone
};

// The tuner's tree terms for a group over all `channels` channels (in channel 0's order, each
// channel's as ChannelOrder rotates it): the busiest link's tree messages per column, both trees
// of an all-reduce and the rooted tree of a broadcast or reduce (FabricTreeLoad), and for a group
// spanning nodes the chain's. For a group
// spanning nodes also the most node crossings on one root-to-member path, recursive doubling's
// rounds across nodes, and a hop inside a node (the slowest such hop of channel 0's ring, `ring`)
// as the fast hop.
void SetTreeLoads(const ClusterSpec& cluster, Fabric* fabric, const FlowNetwork& network, const std::vector<int>& ring,
                  int channels, bool spans_nodes, coll::LinkModel* link) {
  const int gpn = cluster.node.gpus, n = int(ring.size());
  FabricTreeLoad both_trees(cluster, fabric, network), rooted(cluster, fabric, network), chain(cluster, fabric, network);
  std::vector<int> node_of(static_cast<size_t>(n));
  for (int c = 0; c < channels; ++c) {
    const std::vector<int> order = ChannelOrder(ring, gpn, c, channels);
    for (int r = 0; r < n; ++r) node_of[size_t(r)] = order[size_t(r)] / gpn;
    for (int tree = 0; tree < 2; ++tree) {
      const coll::TreeParentOf parent_of = coll::DoubleTreeParentOf(n, tree);
      both_trees.Add(order, parent_of, true);
      if (spans_nodes)
        link->tree_path_slow_hops = std::max<double>(link->tree_path_slow_hops, coll::MostCrossingsOnAPath(node_of, parent_of));
    }
    const coll::TreeParentOf parent_of = coll::RootedTreeParentOf(n);
    rooted.Add(order, parent_of, false);
    if (!spans_nodes) continue;
    chain.Add(order, coll::ChainParentOf(), false);
    link->chain_path_slow_hops =
        std::max<double>(link->chain_path_slow_hops, coll::MostCrossingsOnAPath(node_of, coll::ChainParentOf()));
    link->rooted_tree_path_slow_hops =
        std::max<double>(link->rooted_tree_path_slow_hops, coll::MostCrossingsOnAPath(node_of, parent_of));
    link->doubling_crossing_rounds = std::max<double>(link->doubling_crossing_rounds, coll::DoublingCrossingRounds(node_of));
  }
  link->tree_nic_messages = both_trees.Most(link->bandwidth_GBps);
  if (!spans_nodes) return;
  // On one node the rooted tree's busiest link never passes its busiest rank's two children, and
  // a count there would add a node crossing to its fill (PCIe, 8 GPUs, 724 KiB: a broadcast chose
  // a chain 1.24x slower; review, session 60).
  link->rooted_tree_nic_messages = rooted.Most(link->bandwidth_GBps);
  link->chain_nic_messages = chain.Most(link->bandwidth_GBps);
  double fast_GBps = 1e30;
  for (int r = 0; r < n; ++r) {
    const int a = ring[size_t(r)], b = ring[size_t((r + 1) % n)];
    if (a / gpn != b / gpn) continue;
    link->fast_hop_alpha_us = std::max(link->fast_hop_alpha_us, fabric->PathLatencyUs(a, b));
    fast_GBps = std::min(fast_GBps, fabric->PathBandwidthGBps(a, b));
  }
  if (fast_GBps < 1e30) link->fast_hop_us_per_byte = 1e-3 / fast_GBps;
  link->fast_hop_sharing = channels;  // every channel's ring and rounds pass every GPU
}

// The tuner's view of a GPU group run on `channels` channels: its bottleneck link class along
// channel 0's ring, how many senders share a link when every rank sends at once, reductions at
// memory speed, GPU-sized slices.
coll::LinkModel GpuTunerLink(const ClusterSpec& cluster, const std::vector<int>& ring, int channels) {
  Simulator scratch_sim;
  FlowNetwork scratch_net(&scratch_sim);
  Fabric fabric(cluster, &scratch_net);
  coll::LinkModel link;
  link.bandwidth_GBps = 1e30;
  link.alpha_us = 0;
  const int n = int(ring.size());
  for (int r = 0; r < n; ++r) {
    int a = ring[r], b = ring[(r + 1) % n];
    link.bandwidth_GBps = std::min(link.bandwidth_GBps, fabric.PathBandwidthGBps(a, b));
    link.alpha_us = std::max(link.alpha_us, fabric.PathLatencyUs(a, b));
    link.mean_hop_alpha_us += fabric.PathLatencyUs(a, b) / n;
    link.mean_hop_us_per_byte += 1e-3 / fabric.PathBandwidthGBps(a, b) / n;
  }
  // A group spanning nodes: every member of a node, in each channel, sends across at once in
  // recursive doubling's and pairwise exchange's cross-node rounds, through the NICs its members
  // use (a 256-rank all-reduce of 4 MiB chose recursive doubling, est. 0.2 ms, that replayed in
  // 0.9 ms, over a 0.33 ms tree; QA, session 50).
  std::set<int> nodes, nics;
  for (int gpu : ring) {
    nodes.insert(gpu / cluster.node.gpus);
    nics.insert(gpu / cluster.node.gpus * cluster.node.nics + fabric.NicOf(gpu));
  }
  // Inside one PCIe node the same holds behind each switch's uplink: a round whose partner is
  // under the other switch sends from every GPU of this one at once (8 A100 PCIe: recursive
  // doubling estimated 147 us under a 157 us ring replayed in 271 us against 158; QA, session 56).
  if (nodes.size() == 1 && cluster.node.fabric == IntraNodeFabric::kPCIe) {
    std::set<int> switches;
    for (int gpu : ring) switches.insert(gpu % cluster.node.gpus / std::max(1, cluster.node.gpus_per_pcie_switch));
    if (switches.size() > 1) {
      link.all_ranks_sharing = double(ring.size()) * channels / double(switches.size());
      link.nodes = int(switches.size());
    }
  }
  if (nodes.size() > 1) {
    link.all_ranks_sharing = double(ring.size()) * channels / double(nics.size());
    link.nodes = int(nodes.size());
  }
  if (n > 1) SetTreeLoads(cluster, &fabric, scratch_net, ring, channels, nodes.size() > 1, &link);
  link.reduce_GBps = cluster.gpu.hbm_GBps * cluster.gpu.memory_efficiency / 3;
  link.latency_overlaps = true;  // as Fabric::StartMessage replays a connection's messages
  link.min_slice_bytes = kMinSliceBytes;
  link.max_slice_bytes = kMaxSliceBytes;
  return link;
}

// The model braid's host runtime tunes with for a group of `members` (ranks, node by node): its
// built-in one, or the calibration it was given (HostCalibration::runtime_tuner), with each
// member's host.
coll::LinkModel HostTunerLink(const ClusterSpec& cluster, const std::vector<int>& members) {
  if (!cluster.host->runtime_tuner) return coll::HostRuntimeLinkModel();
  std::vector<int> host_of_member;
  for (int rank : members) host_of_member.push_back(rank / cluster.node.gpus);
  return coll::CalibratedLinkModel(*cluster.host->runtime_tuner, host_of_member);
}

// The time of `full` (the whole group, braid's slices) from that of `replayed` (a periodic
// subset of it, `replayed_seconds` on the fabric), carried by the schedule's own closed form on
// the tuner's model of each group (`full_link`, `replayed_link`: how many nodes a recursive
// doubling crosses, and how many node crossings lie on a tree's path, are the group's own; with
// the full group's for both, a 1024-GPU tree all-reduce of 8 B was extrapolated 19% short of its
// full replay, and recursive doubling up to 39%, session 59). The latency part and the
// bandwidth part scale differently with the group (a ring: 2(n-1) step latencies, but 2(n-1)/n
// of the data), and a replay mixes them in its own proportion (most of a ring's steps inside a
// node): so the latency part is measured by replaying the subset again with one element per
// rank (`replay_latency`), each part is scaled by its own ratio of the closed forms, and the two
// are added. (One ratio of the totals made a 1024-rank ring all-reduce faster at 128 MiB than
// at 1 MiB: the ratio fell from ~8, latency-bound, towards 1 faster than the replay grew; QA,
// session 50.)
template <typename ReplayFn>
double Extrapolated(double replayed_seconds, const coll::ScheduleRequest& full, const coll::ScheduleRequest& replayed,
                    const coll::LinkModel& full_link, const coll::LinkModel& replayed_link, ReplayFn& replay_latency) {
  const std::optional<double> full_us = coll::EstimateMicroseconds(full, full_link);
  const std::optional<double> part_us = coll::EstimateMicroseconds(replayed, replayed_link);
  if (!full_us || !part_us || *part_us <= 0) return replayed_seconds;
  coll::ScheduleRequest tiny_full = full, tiny_part = replayed;
  // One element per rank's block (count is the block itself for reduce-scatter, all-gather and
  // all-to-all, the whole buffer otherwise), or the call itself when it is smaller: a buffer of
  // fewer elements than ranks is all latency. (One per rank regardless made the "latency part"
  // of a 262144-rank all-reduce of 4096 values larger than the call, and its time negative; QA
  // session 56.)
  tiny_full.count = std::min(full.count, size_t(full.nranks / BlocksInSize(full.collective, full.nranks)));
  tiny_part.count = std::min(replayed.count, size_t(replayed.nranks / BlocksInSize(replayed.collective, replayed.nranks)));
  const std::optional<double> tiny_full_us = coll::EstimateMicroseconds(tiny_full, full_link);
  const std::optional<double> tiny_part_us = coll::EstimateMicroseconds(tiny_part, replayed_link);
  if (!tiny_full_us || !tiny_part_us || *tiny_part_us <= 0 || tiny_part.count >= replayed.count)
    return replayed_seconds * *full_us / *part_us;
  const double latency_s = std::min(replay_latency(tiny_part), replayed_seconds);
  const double latency_ratio = *tiny_full_us / *tiny_part_us;
  const double bandwidth_part_us = *part_us - *tiny_part_us;
  const double bandwidth_ratio =
      bandwidth_part_us > 0 ? std::max(0.0, *full_us - *tiny_full_us) / bandwidth_part_us : latency_ratio;
  return latency_s * latency_ratio + (replayed_seconds - latency_s) * bandwidth_ratio;
}

}  // namespace

int BlocksInSize(coll::Collective collective, int nranks) {
  switch (collective) {
    case coll::Collective::kReduceScatter:
    case coll::Collective::kAllGather:
    case coll::Collective::kAllToAll: return nranks;
    default: return 1;
  }
}

size_t CountPerRank(coll::Collective collective, double bytes, int elem_size, int nranks) {
  return size_t(bytes / elem_size / BlocksInSize(collective, nranks));
}

CollectiveCost CollectiveCoster::Cost(const CollectiveQuery& query) {
  if (query.groups.empty() || query.groups[0].empty()) {
    throw std::invalid_argument("CollectiveCoster::Cost: no group");
  }
  CollectiveQuery grid = query;
  // Host runtime: the exact size, because the runtime's choice of algorithm and slice depends on
  // the exact count (and a sweep asks for a few sizes, not a step's many gradient buckets).
  if (query.bytes > 0 && !cluster_.host) {
    grid.bytes = std::exp2(std::round(std::log2(query.bytes) * kSizeSteps) / kSizeSteps);
    grid.bytes = std::max<double>(query.elem_size, std::round(grid.bytes / query.elem_size) * query.elem_size);
  }
  const std::string key = PatternKey(grid, cluster_);
  auto it = cache_.find(key);
  if (it != cache_.end()) {
    ++stats_.cache_hits;
  } else {
    it = cache_.emplace(key, Replay(grid)).first;
  }
  CollectiveCost cost = it->second;
  if (grid.bytes > 0) cost.seconds *= query.bytes / grid.bytes;
  return cost;
}

CollectiveCost CollectiveCoster::Replay(const CollectiveQuery& query) {
  CollectiveCost cost;
  const int gpn = cluster_.node.gpus;
  const int n = int(query.groups[0].size());
  if (n == 1 || query.bytes <= 0) return cost;
  for (const auto& g : query.groups) {
    if (int(g.size()) != n) throw std::invalid_argument("CollectiveCoster: groups differ in size");
  }
  ++stats_.replays;

  // Channels: one per NIC a node's members can drive when the group spans nodes.
  const std::vector<int>& g0 = query.groups[0];
  int members_on_first_node = 0;
  bool spans_nodes = false;
  for (int gpu : g0) {
    members_on_first_node += gpu / gpn == g0[0] / gpn;
    spans_nodes = spans_nodes || gpu / gpn != g0[0] / gpn;
  }
  // The host runtime runs one schedule per collective.
  const bool host = cluster_.host.has_value();
  cost.channels = spans_nodes && !host ? std::clamp(std::min(members_on_first_node, cluster_.node.nics), 1, 16) : 1;

  // Explicit subset.
  const int groups = int(query.groups.size());
  const int budget = std::max(2, kMaxExplicitRanks / groups);
  std::vector<std::vector<int>> replayed;
  for (const auto& g : query.groups) {
    replayed.push_back(n > budget ? PeriodicSubset(g, gpn, cluster_.network.nodes_per_leaf, budget) : g);
  }
  const int n_sim = int(replayed[0].size());
  cost.extrapolated = n_sim < n;

  // The tuner's choice for the real group: the runtime's own model on host ranks, else the
  // bottleneck link class, per channel.
  const coll::LinkModel link = host ? HostTunerLink(cluster_, g0)
                                    : GpuTunerLink(cluster_, ChannelOrder(g0, gpn, 0, cost.channels), cost.channels);

  const size_t count = CountPerRank(query.collective, query.bytes, query.elem_size, n);
  const size_t channel_count = std::max<size_t>(1, count / cost.channels);
  coll::ScheduleRequest request;
  request.collective = query.collective;
  request.nranks = n;
  request.count = channel_count;
  request.elem_size = query.elem_size;
  coll::TunerChoice choice = coll::Choose(request, link, query.algorithm);
  cost.algorithm = choice.algorithm;
  cost.tuner_reason = std::make_shared<const std::string>(std::move(choice.reason));
  request.algorithm = choice.algorithm;
  // Bound the replay's size: at most kMaxOpsPerReplay ops over all ranks (about 4 (n-1) ops per
  // slice-column for a ring all-reduce), by enlarging slices. Not on host ranks: their slices
  // are small enough for the per-slice latency and reduction overlap to matter, so the replay
  // runs the runtime's exact slices (a 256 MiB 2-rank all-reduce: ~5000 ops).
  const double ranks_total = double(n_sim) * groups * cost.channels;
  const double max_columns = std::clamp(kMaxOpsPerReplay / (ranks_total * 4.0 * std::max(1, n_sim - 1)), 1.0, kMaxColumns);
  const double part_bytes = double(channel_count) * query.elem_size / std::max(1, n_sim);
  // What braid would run; the replay's coarser slices only bound the simulation's work.
  request.slice_bytes = choice.slice_bytes;
  cost.slice_bytes = choice.slice_bytes;

  coll::ScheduleRequest sim_request = request;
  sim_request.nranks = n_sim;
  sim_request.slice_bytes = host ? choice.slice_bytes
                                 : std::max<size_t>(choice.slice_bytes, size_t(part_bytes / max_columns) + 1);
  // Host runtime: the calibrated rates at this collective's working set (its buffers per rank).
  ClusterSpec at_working_set = cluster_;
  if (host) at_working_set.host = cluster_.host->AtWorkingSet(query.bytes);
  if (cost.extrapolated && query.collective == coll::Collective::kAllToAll) {
    at_working_set.network.oversubscription *= UplinkShareLost(query.groups[0], replayed[0], gpn, cluster_.network.nodes_per_leaf);
  }
  // Replays `r` on every replayed group, one schedule per channel; its seconds.
  auto replay = [&](const coll::ScheduleRequest& r) {
    std::vector<ReplayRank> ranks;
    coll::ScheduleRequest rank_request = r;
    for (int gi = 0; gi < groups; ++gi) {
      for (int c = 0; c < cost.channels; ++c) {
        std::vector<int> order = ChannelOrder(replayed[gi], gpn, c, cost.channels);
        for (int rank_index = 0; rank_index < r.nranks; ++rank_index) {
          ReplayRank rank;
          rank.communicator = gi * cost.channels + c;
          rank.rank = rank_index;
          rank.gpu = order[rank_index];
          rank.elem_size = query.elem_size;
          rank.finalize_divides = query.average;
          rank_request.rank = rank_index;
          std::string error;
          if (!coll::BuildSchedule(rank_request, &rank.schedule, &error)) {
            throw std::logic_error("collective replay: " + error);
          }
          ranks.push_back(std::move(rank));
        }
      }
    }
    ReplayResult result = ReplaySchedules(at_working_set, ranks);
    stats_.flows += result.flows;
    return result.seconds;
  };
  cost.ranks_simulated = n_sim * groups;
  cost.seconds = replay(sim_request);
  if (cost.extrapolated) {
    // The subset's latency part is the same at every size of this pattern: replayed once (per
    // count, for calls of fewer elements than the subset has ranks).
    CollectiveQuery pattern = query;
    pattern.bytes = host ? query.bytes : 0;  // a host's rates depend on the working set
    pattern.algorithm = choice.algorithm;
    const std::string latency_key = PatternKey(pattern, cluster_);
    auto replay_latency = [&](const coll::ScheduleRequest& tiny) {
      // The count too: below one element per rank the "latency part" is the call itself.
      auto [it, added] = latency_cache_.try_emplace(fmt::format("{}|{}", latency_key, tiny.count), 0.0);
      if (added) it->second = replay(tiny);
      return it->second;
    };
    // An all-to-all's replay narrows the uplinks to the full group's share (UplinkShareLost), so
    // it is carried by the full group's model alone: the subset's own (fewer nodes, so less
    // sharing) extrapolated 6 groups of 64 GPUs 1.6x above their full replay.
    const coll::LinkModel replayed_link =
        query.collective == coll::Collective::kAllToAll ? link
        : host ? HostTunerLink(cluster_, replayed[0])
               : GpuTunerLink(cluster_, ChannelOrder(replayed[0], gpn, 0, cost.channels), cost.channels);
    cost.seconds = Extrapolated(cost.seconds, request, sim_request, link, replayed_link, replay_latency);
  }
  return cost;
}

double CollectiveCoster::Transfers(const std::vector<std::pair<int, int>>& pairs, double bytes) {
  if (pairs.empty() || bytes <= 0) return 0;
  const int gpn = cluster_.node.gpus;
  const int base = pairs[0].first / gpn;
  std::string key = fmt::format("{}|", bytes);
  for (auto [a, b] : pairs) key += fmt::format("{}.{}>{}.{},", a / gpn - base, a % gpn, b / gpn - base, b % gpn);
  auto it = transfer_cache_.find(key);
  if (it != transfer_cache_.end()) {
    ++stats_.cache_hits;
    return it->second;
  }
  Simulator sim;
  FlowNetwork network(&sim);
  Fabric fabric(cluster_, &network);
  const double local_Bps = cluster_.gpu.hbm_GBps * 1e9 * cluster_.gpu.memory_efficiency / 2;
  double local = 0;
  for (auto [a, b] : pairs) {
    if (a == b) {
      local = bytes / local_Bps;
      continue;
    }
    fabric.StartMessage(a, b, bytes, [] {});
  }
  double seconds = std::max(local, sim.Run());
  transfer_cache_.emplace(key, seconds);
  return seconds;
}

}  // namespace braid::sim
