// How braid's trees and recursive doubling cross the boundaries between a group's hosts (nodes):
// the numbers the tuner's terms for them take (LinkModel::tree_nic_messages, tree_path_slow_hops,
// their rooted and chain twins, doubling_crossing_rounds). braid's host runtime (collectives/tuner_file.cc,
// one link per host) counts all of them here; plan-sim's GPU model (sim/cost/collective_cost.cc)
// the paths and rounds, and the trees' messages on its fabric's own links instead (a PCIe
// switch's uplink, a leaf's uplink), which TreeLinkLoad's host-and-NIC view does not see.
#pragma once

#include <functional>
#include <map>
#include <utility>
#include <vector>

namespace braid::coll {

// Member r's parent in one tree over members 0..n-1 (-1 at the root).
using TreeParentOf = std::function<int(int member)>;

// Tree 0 or 1 of the double binary tree of an all-reduce over n members.
TreeParentOf DoubleTreeParentOf(int n, int tree);
// The binary tree of a broadcast or reduce over n members rooted at member 0 (the tuner's model
// of a group is built once, for root 0; other roots relabel the tree and cross as often or,
// with some placements, once more).
TreeParentOf RootedTreeParentOf(int n);
// The chain of a broadcast or reduce over members 0..n-1 from member 0 (chain.cc), a tree whose
// members each have one child. Other roots start it elsewhere and, placed node by node, can
// cross once more (as the rooted tree's note says).
TreeParentOf ChainParentOf();

// Tree messages per column through each of the group's links between hosts, one direction at a
// time, summed over every tree added.
class TreeLinkLoad {
 public:
  // Adds one tree: member r lies on host host_of[r] and its messages to other hosts leave and
  // enter it through that host's link nic_of[r] (0 where a host has one). Each edge between
  // hosts sends one message per column out of the parent's link and into the child's (down),
  // and with `both_ways` (an all-reduce: up, then down) one back.
  void Add(const std::vector<int>& host_of, const std::vector<int>& nic_of, const TreeParentOf& parent_of,
           bool both_ways);
  // The busiest link's messages per column in one direction (0: no edge crosses hosts).
  int Most() const { return most_; }

 private:
  std::map<std::pair<int, int>, std::pair<int, int>> load_;  // (host, nic) -> (out, in)
  int most_ = 0;
};

// The most edges between hosts on one path from the tree's root down to a member: a column's
// fill passes them one after another (0: no edge crosses hosts).
int MostCrossingsOnAPath(const std::vector<int>& host_of, const TreeParentOf& parent_of);

// The rounds of recursive doubling over members on hosts host_of (collectives/
// recursive_doubling.cc) in which some member's partner is on another host, the fold and the
// unfold of the extra ranks counted as one round each.
int DoublingCrossingRounds(const std::vector<int>& host_of);

}  // namespace braid::coll
