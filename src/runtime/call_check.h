// BRAID_CHECK_CALLS=1 (CommOptions::check_calls): before each collective, the ranks all-gather a
// fingerprint of their call and compare. Calls that disagree in a way no schedule can detect (a
// different reduction op, a different dtype of the same size, a different root, a different
// collective of the same message sizes) then fail on every rank with InvalidArgument naming the
// ranks and both calls, instead of returning wrong results or hanging. It costs one small
// all-gather per collective, so it is off by default (like PyTorch's TORCH_DISTRIBUTED_DEBUG
// collective fingerprints; NCCL has no such check). Point-to-point calls are not compared: a send
// and its receive legitimately differ.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>

#include "braid/status.h"
#include "braid/types.h"
#include "collectives/schedule.h"

namespace braid::runtime {

// What must agree across ranks for one collective call, as int64s so that the fingerprints of all
// ranks travel as one all-gather. Fields that do not apply to the collective hold -1: the
// reduction op of a non-reducing collective, the root of an unrooted one. A non-reducing
// collective compares bytes rather than count and dtype (4 x float32 against 16 x uint8 moves
// the same data, as NCCL allows).
struct CallFingerprint {
  static constexpr size_t kFields = 6;
  std::array<int64_t, kFields> fields;  // index, collective, count or bytes, dtype, op, root
};

// `index` counts the communicator's collective calls (0, 1, ...); it makes ranks that are at
// different calls disagree even when the calls look alike.
CallFingerprint FingerprintOf(uint64_t index, coll::Collective collective, size_t count, DataType type,
                              RedOpKind op, int root);

// Calls that run collectives inside them, fingerprinted as what the user called: a Barrier (a
// 1-byte all-reduce) must not pass for an all-reduce another rank made, nor a Split (an
// all-gather of 12 bytes per rank, then a 1-element min all-reduce) for a user's all-gather of
// 12 bytes, which took the Split's data as its result (QA, session 55).
// kCreate: Create's closing barrier (comm_create.cc), which is not compared: it is no call of the
// user's, and every rank runs it.
enum class InternalCall : uint8_t { kBarrier, kSplit, kCreate };
CallFingerprint InternalCallFingerprint(uint64_t index, InternalCall call);
// "barrier", "split", "create".
const char* InternalCallName(InternalCall call);

// "allreduce of 1024 x float32 (sum)", "broadcast of 4096 bytes from root 2", "barrier", "split"
std::string DescribeCall(const CallFingerprint& call);

// Compares every rank's fingerprint (`all`: nranks x kFields, rank-major) with rank `rank`'s:
// OK, or InvalidArgument (the call is skipped on every rank) naming this rank's call and the
// first rank whose call differs.
Status CompareCalls(std::span<const int64_t> all, int rank);

}  // namespace braid::runtime
