// The collectives braid-perf measures, and the size/count/bandwidth conventions of nccl-tests
// (so numbers are comparable with nccl-tests output).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace braid::perf {

enum class Collective {
  kAllReduce,
  kReduceScatter,
  kAllGather,
  kBroadcast,
  kReduce,
  kAllToAll,
  kSendRecv,
};
inline constexpr int kNumCollectives = 7;

// "allreduce", "reducescatter", ... (the command-line spelling).
const char* CollectiveName(Collective c);
std::optional<Collective> ParseCollective(std::string_view name);
// "allreduce, reducescatter, ..." for error messages.
std::string CollectiveNameList();

// Whether the collective combines values with a reduction operator.
bool IsReduction(Collective c);
// Whether the root argument matters (broadcast, reduce).
bool HasRoot(Collective c);
// busbw = algbw * factor: 2(n-1)/n for allreduce, (n-1)/n for reducescatter, allgather and
// alltoall, 1 for broadcast, reduce and sendrecv (nccl-tests' definitions).
double BusBwFactor(Collective c, int nranks);

// Element counts of one measurement, derived from a requested size in bytes the way nccl-tests
// does: the size is rounded down so that every rank gets whole elements (and, for reducescatter,
// allgather and alltoall, equal blocks), possibly to 0.
struct Shape {
  size_t count = 0;       // the API's count argument: per-rank for reducescatter/allgather,
                          // per-peer block for alltoall, the whole array otherwise
  size_t send_count = 0;  // elements in this rank's input
  size_t recv_count = 0;  // elements in this rank's output
  size_t bytes = 0;       // the row's size: max(send_count, recv_count) * element size
};
Shape ShapeFor(Collective c, size_t requested_bytes, size_t elem_size, int nranks);

}  // namespace braid::perf
