#include "sim/cost/collective_cost.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>
#include <unordered_map>

#include "collectives/tuner.h"
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

// A cache key independent of where the groups sit: node offsets relative to the first node, and
// local GPU indices.
std::string PatternKey(const CollectiveQuery& q, int gpus_per_node) {
  int base_node = q.groups[0][0] / gpus_per_node;
  std::string key = fmt::format("{}|{}|{}|{}|{}|", int(q.collective), q.bytes, q.elem_size, q.average,
                                q.algorithm ? int(*q.algorithm) : -1);
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

// The members of `group` kept for an explicit replay when it is too large: whole nodes spread
// evenly over the group's nodes in order of appearance (every (N/k)-th of N), as many as fit in
// `max_ranks` and at least two, so inter-node hops are represented. Spread, not the first k: a
// group spanning several leaves of the network then still spans them in the replay, and a ring
// crossing a leaf boundary loads its uplink with the same flows as the full ring does (the first
// 16 nodes of a 2048-GPU ring all sat under one leaf, so the replay never met an oversubscribed
// uplink). A node with more members than kMaxReplayedPerNode (and than max_ranks) keeps only its
// first ones: its switch treats every member alike, and the closed-form extrapolation restores n.
std::vector<int> PeriodicSubset(const std::vector<int>& group, int gpus_per_node, int max_ranks) {
  const size_t per_node = size_t(std::max(max_ranks, kMaxReplayedPerNode));
  std::unordered_map<int, size_t> slot;  // node -> its position in `members`
  std::vector<std::vector<int>> members;
  for (int gpu : group) {
    const auto [it, added] = slot.try_emplace(gpu / gpus_per_node, members.size());
    if (added) members.emplace_back();
    if (members[it->second].size() < per_node) members[it->second].push_back(gpu);
  }
  const size_t nodes = members.size();
  const size_t per_kept = std::max<size_t>(1, members[0].size());
  const size_t kept = std::min(nodes, std::max<size_t>(2, (size_t(max_ranks) + per_kept - 1) / per_kept));
  std::vector<int> subset;
  for (size_t i = 0; i < kept; ++i) {
    const std::vector<int>& m = members[i * nodes / kept];
    subset.insert(subset.end(), m.begin(), m.end());
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

// The tuner's view of a GPU group: its bottleneck link class along channel 0's ring, reductions
// at memory speed, GPU-sized slices.
coll::LinkModel GpuTunerLink(const ClusterSpec& cluster, const std::vector<int>& ring) {
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
  }
  link.reduce_GBps = cluster.gpu.hbm_GBps * cluster.gpu.memory_efficiency / 3;
  link.min_slice_bytes = kMinSliceBytes;
  link.max_slice_bytes = kMaxSliceBytes;
  return link;
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
  const std::string key = PatternKey(grid, cluster_.node.gpus);
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
    replayed.push_back(n > budget ? PeriodicSubset(g, gpn, budget) : g);
  }
  const int n_sim = int(replayed[0].size());
  cost.extrapolated = n_sim < n;

  // The tuner's choice for the real group: the runtime's own model on host ranks, else the
  // bottleneck link class, per channel.
  const coll::LinkModel link = host ? coll::HostRuntimeLinkModel()
                                    : GpuTunerLink(cluster_, ChannelOrder(g0, gpn, 0, cost.channels));

  const size_t count = CountPerRank(query.collective, query.bytes, query.elem_size, n);
  const size_t channel_count = std::max<size_t>(1, count / cost.channels);
  coll::ScheduleRequest request;
  request.collective = query.collective;
  request.nranks = n;
  request.count = channel_count;
  request.elem_size = query.elem_size;
  coll::TunerChoice choice = coll::Choose(request, link, query.algorithm);
  cost.algorithm = choice.algorithm;
  request.algorithm = choice.algorithm;
  // Bound the replay's size: at most kMaxOpsPerReplay ops over all ranks (about 4 (n-1) ops per
  // slice-column for a ring all-reduce), by enlarging slices. Not on host ranks: their slices
  // are small enough for the per-slice latency and reduction overlap to matter, so the replay
  // runs the runtime's exact slices (a 256 MiB 2-rank all-reduce: ~5000 ops).
  const double ranks_total = double(n_sim) * groups * cost.channels;
  const double max_columns = std::clamp(kMaxOpsPerReplay / (ranks_total * 4.0 * std::max(1, n_sim - 1)), 1.0, kMaxColumns);
  const double part_bytes = double(channel_count) * query.elem_size / std::max(1, n_sim);
  request.slice_bytes = host ? choice.slice_bytes
                             : std::max<size_t>(choice.slice_bytes, size_t(part_bytes / max_columns) + 1);
  // What braid would run; the replay's coarser slices only bound the simulation's work.
  cost.slice_bytes = choice.slice_bytes;

  std::vector<ReplayRank> ranks;
  coll::ScheduleRequest sim_request = request;
  sim_request.nranks = n_sim;
  for (int gi = 0; gi < groups; ++gi) {
    for (int c = 0; c < cost.channels; ++c) {
      std::vector<int> order = ChannelOrder(replayed[gi], gpn, c, cost.channels);
      for (int r = 0; r < n_sim; ++r) {
        ReplayRank rank;
        rank.communicator = gi * cost.channels + c;
        rank.rank = r;
        rank.gpu = order[r];
        rank.elem_size = query.elem_size;
        rank.finalize_divides = query.average;
        sim_request.rank = r;
        std::string error;
        if (!coll::BuildSchedule(sim_request, &rank.schedule, &error)) {
          throw std::logic_error("collective replay: " + error);
        }
        ranks.push_back(std::move(rank));
      }
    }
  }
  cost.ranks_simulated = int(ranks.size()) / cost.channels;
  // Host runtime: the calibrated rates at this collective's working set (its buffers per rank).
  ClusterSpec at_working_set = cluster_;
  if (host) at_working_set.host = cluster_.host->AtWorkingSet(query.bytes);
  if (cost.extrapolated && query.collective == coll::Collective::kAllToAll) {
    at_working_set.network.oversubscription *= UplinkShareLost(query.groups[0], replayed[0], gpn, cluster_.network.nodes_per_leaf);
  }
  ReplayResult result = ReplaySchedules(at_working_set, ranks);
  stats_.flows += result.flows;
  cost.seconds = result.seconds;
  if (cost.extrapolated) {
    // Same algorithm and slices; the schedule's closed-form cost on the bottleneck link class
    // carries the replayed time from n_sim to n ranks (ring: 2(n-1) steps of count/n).
    std::optional<double> full = coll::EstimateMicroseconds(request, link);
    std::optional<double> part = coll::EstimateMicroseconds(sim_request, link);
    if (full && part && *part > 0) cost.seconds *= *full / *part;
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
