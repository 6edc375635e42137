// Argument checks for every public call, done before anything is sent so that a bad call has no
// effect and the communicator stays usable. Messages name the argument, its value and the rule.
#pragma once

#include <cstddef>

#include "braid/status.h"
#include "braid/types.h"
#include "collectives/schedule.h"

namespace braid::runtime {

struct CallArgs {
  coll::Collective collective;
  const void* input;
  void* output;
  size_t count;  // NCCL meaning for the collective
  DataType type;
  RedOp op;
  int root;
  int rank;
  int nranks;
};

// Validates `args`; on success sets *in_place to whether the buffers alias as NCCL defines.
Status ValidateCollective(const CallArgs& args, bool* in_place);

// Larger than any buffer a process can address (x86-64 with 5-level paging: 2^57 bytes of user
// space): a count this large is a bug (a negative count cast to size_t), refused before UCX or an
// allocation fails on it with a less telling error.
inline constexpr size_t kMaxBufferBytes = size_t(1) << 57;
// Below this many elements (of at most 8 bytes) a message is below kMaxBufferBytes, so neither
// the product nor the bound needs checking on the fast path.
inline constexpr size_t kSurelySmallCount = kMaxBufferBytes / 8;

// The whole check of send/recv arguments, for those the fast path below did not pass: OK with
// *bytes set, or the InvalidArgument naming what is wrong.
Status CheckPointToPoint(const char* what, const void* buf, size_t count, DataType type, int peer,
                         int nranks, size_t* bytes);

// Validates send/recv arguments; on success sets *bytes to the message size. Inline: it runs
// on every Send/Recv, and a small one costs only tens of nanoseconds in all.
inline Status ValidatePointToPoint(const char* what, const void* buf, size_t count, DataType type,
                                   int peer, int nranks, size_t* bytes) {
  const size_t elem_size = DataTypeSize(type);  // 0 for an unknown type
  if (elem_size != 0 && peer >= 0 && peer < nranks && count < kSurelySmallCount && (buf != nullptr || count == 0)) {
    *bytes = count * elem_size;
    return Status::Ok();
  }
  return CheckPointToPoint(what, buf, count, type, peer, nranks, bytes);
}

// count * elem_size * factor in bytes, or InvalidArgument naming `what` when that overflows
// size_t or exceeds kMaxBufferBytes.
Status CheckedBytes(size_t count, size_t elem_size, size_t factor, const char* what,
                    size_t* bytes);

}  // namespace braid::runtime
