// How error messages name a peer. Inside a communicator made by Split its rank differs from the
// transport's (world) rank, which is what transport-level errors ("rank 3 (pid ...) exited")
// name; saying both lets a reader match the two.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

namespace braid::runtime {

// "rank 1", or "rank 1 (world rank 3)" when the communicator numbers its ranks differently.
inline std::string PeerName(int comm_rank, const std::vector<int>& world_ranks) {
  const int world = comm_rank >= 0 && size_t(comm_rank) < world_ranks.size() ? world_ranks[size_t(comm_rank)] : comm_rank;
  if (world == comm_rank) return fmt::format("rank {}", comm_rank);
  return fmt::format("rank {} (world rank {})", comm_rank, world);
}

}  // namespace braid::runtime
