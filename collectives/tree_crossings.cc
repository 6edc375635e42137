#include "collectives/tree_crossings.h"

#include <algorithm>

#include "collectives/schedule_builder.h"

namespace braid::coll {

TreeParentOf DoubleTreeParentOf(int n, int tree) {
  return [n, tree](int r) { return internal::DoubleTreeLinks(n, r, tree).parent; };
}

TreeParentOf RootedTreeParentOf(int n) {
  return [n](int r) { return internal::RootedTreeLinks(n, r, 0).parent; };
}

TreeParentOf ChainParentOf() {
  return [](int r) { return r - 1; };
}

void TreeLinkLoad::Add(const std::vector<int>& host_of, const std::vector<int>& nic_of, const TreeParentOf& parent_of,
                       bool both_ways) {
  const int n = int(host_of.size());
  for (int r = 0; r < n; ++r) {
    const int parent = parent_of(r);
    if (parent < 0 || host_of[size_t(r)] == host_of[size_t(parent)]) continue;
    auto& child_link = load_[{host_of[size_t(r)], nic_of[size_t(r)]}];
    auto& parent_link = load_[{host_of[size_t(parent)], nic_of[size_t(parent)]}];
    // Down: out of the parent, into the child; up (both ways): the other way.
    most_ = std::max({most_, ++parent_link.first, ++child_link.second});
    if (both_ways) most_ = std::max({most_, ++child_link.first, ++parent_link.second});
  }
}

int MostCrossingsOnAPath(const std::vector<int>& host_of, const TreeParentOf& parent_of) {
  const int n = int(host_of.size());
  // crossings[r]: edges between hosts from the root down to r (-1: not yet known). Each member
  // is resolved once, walking up only to the nearest known ancestor, so groups of a million
  // members cost O(n) parent lookups.
  std::vector<int> crossings(size_t(n), -1);
  std::vector<int> path;
  int most = 0;
  for (int r = 0; r < n; ++r) {
    path.clear();
    int m = r;
    while (m >= 0 && crossings[size_t(m)] < 0) {
      path.push_back(m);
      m = parent_of(m);
    }
    int above = m >= 0 ? crossings[size_t(m)] : 0;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      const int parent = parent_of(*it);
      above += parent >= 0 && host_of[size_t(parent)] != host_of[size_t(*it)] ? 1 : 0;
      crossings[size_t(*it)] = above;
    }
    most = std::max(most, crossings[size_t(r)]);
  }
  return most;
}

int DoublingCrossingRounds(const std::vector<int>& host_of) {
  const int n = int(host_of.size());
  if (n < 2) return 0;
  const internal::DoublingShape shape = internal::DoublingShapeFor(n);
  const int e = shape.extras;
  auto host = [&](int rank) { return host_of[size_t(rank)]; };
  int rounds = 0;
  // The fold: extra 2i into 2i + 1 (i < e); the unfold sends the result back the same way.
  for (int i = 0; i < e; ++i) {
    if (host(2 * i) != host(2 * i + 1)) {
      rounds += 2;
      break;
    }
  }
  // Round j: participant index i with index i ^ 2^j.
  for (int j = 0; j < shape.steps; ++j) {
    for (int i = 0; i < shape.pow2; ++i) {
      if (host(internal::DoublingRankOf(shape, i)) != host(internal::DoublingRankOf(shape, i ^ (1 << j)))) {
        ++rounds;
        break;
      }
    }
  }
  return rounds;
}

}  // namespace braid::coll
