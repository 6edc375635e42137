// A collective algorithm as pure data: for one rank, the ordered list of operations it performs
// (send, receive, receive-and-reduce, local copy, finalise) with the dependencies between them.
// No I/O, threads, CUDA or UCX here: the runtime executes a schedule, the simulator replays it,
// the tuner costs it. See ../shared/DESIGN.md, "one schedule, three consumers".
//
// Units: every offset and count in this file is in ELEMENTS, never bytes.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace braid::coll {

enum class Collective : uint8_t {
  kAllReduce,      // input[count] -> output[count] on every rank
  kReduceScatter,  // input[count * nranks] -> output[count] (count = per-rank block)
  kAllGather,      // input[count] -> output[count * nranks]
  kBroadcast,      // root's input[count] -> output[count] on every rank
  kReduce,         // input[count] on every rank -> output[count] on root only
  kAllToAll,       // input[count * nranks] -> output[count * nranks], block j goes to rank j
};
inline constexpr int kNumCollectives = 6;

enum class Algorithm : uint8_t {
  kRing,               // allreduce (RS + AG), reduce-scatter, all-gather
  kTree,               // allreduce (double binary tree), broadcast/reduce (binary tree)
  kChain,              // broadcast / reduce as a pipelined chain from/to the root
  kRecursiveDoubling,  // allreduce for small messages: log2(n) exchange rounds
  kPairwise,           // all-to-all: n-1 rounds of exchange with rank +-s
};
inline constexpr int kNumAlgorithms = 5;

const char* CollectiveName(Collective c);  // "allreduce", "reducescatter", ...
// Whether the collective combines values with a reduction op (allreduce, reducescatter, reduce).
bool IsReduction(Collective c);
// Whether its root argument matters (broadcast, reduce).
bool IsRooted(Collective c);
const char* AlgorithmName(Algorithm a);    // "ring", "tree", "chain", "recdoubling", "pairwise"
// The algorithm AlgorithmName gives `name` (lower case; "recursive_doubling" and "rd" also
// name recdoubling); nullopt for anything else.
std::optional<Algorithm> AlgorithmByName(std::string_view name);

// Which buffer a region refers to. kInput and kOutput are the caller's buffers (in-place calls
// alias them as NCCL defines); kScratch is executor-provided, `RankSchedule::scratch_count`
// elements, private to this rank.
enum class BufferId : uint8_t { kInput, kOutput, kScratch };

struct Region {
  BufferId buffer = BufferId::kInput;
  size_t offset = 0;  // elements from the buffer's start
  size_t count = 0;   // elements
};

enum class OpType : uint8_t {
  kSend,        // send `src` to `peer`
  kRecv,        // receive from `peer` into `dst` (dst.count elements expected exactly)
  kRecvReduce,  // receive from `peer` into `tmp` (a kScratch region), then dst = op(src, tmp)
                // (op(tmp, src) with received_first)
  kCopy,        // dst = src (the executor skips it when both resolve to the same address)
  kFinalize,    // dst = dst / nranks when the reduction is kAvg; nothing otherwise
  kReduce,      // dst = op(src, tmp), local: folds data an earlier kRecv landed in tmp. A
                // receive-reduce split in two, so that the receive can be posted before the
                // data it reduces into is ready (a tree rank's children send at the same time).
};

// Operation indices a given op must wait for (completion of those ops). Only earlier ops of
// the same rank may be named. Dependencies express both "data is ready" and "buffer may be
// overwritten" (a region being sent must not be written until that send completes).
inline constexpr int kMaxDeps = 4;

struct Op {
  OpType type = OpType::kCopy;
  int peer = -1;     // communicator rank for kSend / kRecv / kRecvReduce
  uint32_t tag = 0;  // < kMaxTag; a send and its matching receive carry the same tag, and a
                     // tag is used at most once per (sender, receiver) pair in a schedule
  Region src;        // kSend: data sent; kRecvReduce / kReduce: local operand; kCopy: source
  Region dst;        // every op but kSend: destination
  Region tmp;        // kRecvReduce: scratch landing zone for the received data; kReduce: the
                     // received data (scratch)
  // kRecvReduce: dst = op(tmp, src), the received operand first. Where two ranks combine each
  // other's data (recursive doubling), both put the lower rank's first, so that they apply
  // element rules that depend on the order (max and min of +0 and -0) alike and end with the
  // same bits.
  bool received_first = false;
  uint8_t num_deps = 0;
  std::array<uint32_t, kMaxDeps> deps{};
};
inline constexpr uint32_t kMaxTag = 1u << 20;

// Everything one rank does in one collective call.
struct RankSchedule {
  std::vector<Op> ops;       // issue order; deps point backwards
  size_t scratch_count = 0;  // elements of scratch the executor must provide
};

// What to build. All counts in elements; see Collective for per-collective meaning of count.
struct ScheduleRequest {
  Collective collective = Collective::kAllReduce;
  Algorithm algorithm = Algorithm::kRing;
  int nranks = 1;
  int rank = 0;
  int root = 0;               // broadcast / reduce
  size_t count = 0;           // as NCCL: allreduce count, RS recvcount, AG sendcount, a2a per-peer
  size_t elem_size = 4;       // bytes per element; used to turn slice_bytes into elements
  size_t slice_bytes = 1 << 20;  // pipelining granularity: messages are at most this size
                                 // (rounded to whole elements, at least one element)
  bool in_place = false;      // input and output alias as NCCL defines for this collective
};

// Whether `algorithm` implements `collective` (e.g. pairwise only does all-to-all).
bool Supports(Algorithm algorithm, Collective collective);

// Builds the schedule of `request.rank`. Returns false and fills *error (naming the field)
// if the request is invalid or the algorithm does not support the collective.
// The schedule is correct whether or not `in_place` buffers alias, provided in_place says so.
bool BuildSchedule(const ScheduleRequest& request, RankSchedule* out, std::string* error);

}  // namespace braid::coll
