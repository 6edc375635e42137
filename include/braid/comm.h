// braid::Comm: a communicator of `size()` ranks running collectives and point-to-point transfers
// over UCX (or the in-process loopback transport in tests).
//
// Conventions for every collective below (they follow NCCL's definitions):
// - Counts are in elements of `type`. Reduce-scatter's count is the per-rank output count and
//   all-gather's the per-rank input count; all-to-all's count is the block sent to each peer.
// - In-place calls alias the buffers exactly as NCCL defines: allreduce/broadcast/reduce
//   send == recv; reducescatter recv == send + rank*count; allgather send == recv + rank*count.
//   Any other overlap, and any aliasing in all-to-all, is rejected as InvalidArgument.
// - Calls block until this rank's part is complete (host memory). Every rank must call the same
//   collectives in the same order with matching count, type, op and root.
// - Invalid arguments return InvalidArgument before anything is sent; the communicator stays
//   usable, provided the matching call failed on every rank (the usual case: the same bad
//   argument everywhere). A call that fails on some ranks only is, as with NCCL, not seen by the
//   others: their matching call waits and then pairs with the failed ranks' *next* call, whose
//   data it may take or combine without an error (QA, session 50). Treat an InvalidArgument on
//   one rank as fatal to the job (Abort), or set BRAID_CHECK_CALLS=1, which catches collectives
//   whose arguments then differ (not point-to-point). A dead peer yields RemoteError naming it,
//   typically within a second, as does a live one that destroyed its communicator (a Split
//   child, say) while this rank waits on it there (session 55; before, a Timeout); a stalled one
//   (alive, making no progress) a Timeout after BRAID_TIMEOUT seconds without progress, plus
//   the clean-up: at most 2 s for the stalled peer's transfers to stop, and at most
//   min(BRAID_TIMEOUT, 5 s) for peers to confirm they stopped reading this rank's buffers. A
//   transfer with a stalled peer that did not stop in those 2 s is abandoned with a warning (and
//   that peer's other ones at once, for 10 s): a stalled peer that wakes up may still read or write
//   those buffers, so keep them until the communicators sharing the transport are destroyed.
//   Abort() from another thread makes pending calls return Aborted.
//   After a RemoteError, Timeout or Aborted the communicator is unusable: destroy it.
// - A Comm is used by one thread at a time, except Abort(), which any thread may call. Different
//   communicators may be used from different threads at the same time, including a communicator
//   and those split from it, which share one transport (one UCX worker per process): calls into
//   it are then serialised by a fair lock taken only once a Split has happened (Split itself may
//   also run on several threads at once).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "braid/export.h"
#include "braid/status.h"
#include "braid/types.h"

namespace braid {

inline constexpr size_t kUniqueIdBytes = 128;

// Names a rendezvous: the root's TCP address, a magic and a nonce. Copy it to every rank (MPI,
// a file, a TCP store) as opaque bytes.
struct UniqueId {
  char bytes[kUniqueIdBytes];
};

// algorithm, slice_bytes, p2p_inline_bytes and check_calls (as resolved from the environment)
// must be equal on every rank: Create compares them and fails with InvalidUsage on every rank,
// naming each that differs, when they are not.
struct CommOptions {
  // Seconds to wait for any peer before failing with Timeout (bootstrap and operations).
  // Negative = take BRAID_TIMEOUT from the environment (default 300).
  double timeout_s = -1;
  // Force an algorithm for every collective that supports it: "ring", "tree", "chain",
  // "recdoubling" or "pairwise"; or NCCL_ALGO's syntax: "tree,ring" (the tuner chooses among
  // them), "^ring" (anything but), "allreduce:tree;allgather:ring" (per collective), with NCCL's
  // own algorithms (NVLS, PAT, ...) skipped. Empty = BRAID_ALGO (or NCCL_ALGO), else the tuner.
  std::string algorithm;
  // Pipelining slice in bytes, at most 2^40 (BRAID_SLICE_BYTES's bound); 0 = BRAID_SLICE_BYTES,
  // else chosen by the tuner. Mostly for tests and experiments.
  size_t slice_bytes = 0;
  // Point-to-point messages of at most this many bytes travel packed, one transport message per
  // peer per group (0 = never, at most 65256). Must be equal on every rank. Negative = take
  // BRAID_P2P_INLINE_BYTES from the environment (default 8192).
  long p2p_inline_bytes = -1;
  // 1: before each collective, compare its arguments across ranks (one small all-gather per
  // call); a call that differs on some rank fails on every rank with InvalidArgument naming both
  // calls, and has no effect. Barrier and Split count as calls of their own (not as the
  // all-reduce and all-gather they run). Inside a GroupStart/GroupEnd group the group's other operations may
  // have run or been cut off midway, so there GroupEnd fails with InvalidUsage (naming both calls)
  // and the communicator is unusable. 0: off. Negative = BRAID_CHECK_CALLS (default 0). Must be equal on
  // every rank.
  int check_calls = -1;
  // A cluster file with the "calibration" block `braid-perf calibrate --out` writes: the tuner
  // then costs algorithms and slices with the latency, bandwidth and reduction rate measured
  // there (the intra-node link class for a communicator on one host; the inter-node one as the
  // bottleneck when its ranks span hosts) instead of built-in numbers measured on shared memory.
  // Must give the same numbers on every rank (Create fails otherwise). `plan-sim --tuner-file`
  // predicts with the same model. Empty = BRAID_TUNER_FILE; unset too: the built-in model.
  std::string tuner_file;
};

class BRAID_API Comm {
 public:
  // Starts a rendezvous root in this process (a background thread that serves one communicator
  // creation) and returns its id. Call on one process; pass the id to all ranks. The root waits
  // BRAID_TIMEOUT (as set now) for the first rank, then as long as the ranks' own timeouts. A
  // Create with an id whose root in this process ended fails at once with InvalidUsage.
  static Status GetUniqueId(UniqueId* id);

  // Joins the communicator named by `id` as `rank` of `nranks`. Blocks until all ranks joined
  // and every rank connected to every other (so a rank may destroy its communicator as soon as
  // this returns), or fails with Timeout naming the root address after the timeout. Every rank must run the
  // same braid build (version and git revision, as NCCL requires one version): otherwise every
  // rank fails with InvalidUsage naming the ranks and builds.
  static Status Create(const UniqueId& id, int nranks, int rank, std::unique_ptr<Comm>* out,
                       const CommOptions& options = {});

  // The options a communicator created with `options` would run with: each field left to the
  // environment (negative, zero slice or empty algorithm) taken from BRAID_* / NCCL_*, and the
  // waiters' BRAID_SPIN_US / BRAID_YIELD_US checked. A value that is set but unusable is an
  // InvalidArgument naming the variable, its value and the allowed range; Create fails with it
  // before contacting any peer.
  static Status ResolveOptions(const CommOptions& options, CommOptions* resolved);

  // Creates from BRAID_RANK, BRAID_WORLD_SIZE and BRAID_ROOT=host:port (rank 0 listens there).
  // Falls back to PMI_RANK/PMI_SIZE (MPICH's hydra) or OMPI_COMM_WORLD_RANK/SIZE for rank/size.
  static Status CreateFromEnv(std::unique_ptr<Comm>* out, const CommOptions& options = {});

  ~Comm();
  Comm(const Comm&) = delete;
  Comm& operator=(const Comm&) = delete;

  int rank() const;
  int size() const;
  // "ucx" or "loopback".
  std::string transport_name() const;
  // The transport's library version and what it selected for each peer, e.g. "ucx 1.13.1, ...;
  // posix/memory+sysv/memory: ranks 1; self/memory: ranks 0" (for logs and benchmark headers).
  std::string transport_description() const;

  Status AllReduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op);
  Status ReduceScatter(const void* sendbuf, void* recvbuf, size_t recvcount, DataType type,
                       RedOp op);
  Status AllGather(const void* sendbuf, void* recvbuf, size_t sendcount, DataType type);
  // Root sends sendbuf; every rank (root included) receives into recvbuf.
  Status Broadcast(const void* sendbuf, void* recvbuf, size_t count, DataType type, int root);
  // recvbuf is written on root only (may be null elsewhere).
  Status Reduce(const void* sendbuf, void* recvbuf, size_t count, DataType type, RedOp op,
                int root);
  Status AllToAll(const void* sendbuf, void* recvbuf, size_t count, DataType type);
  Status Barrier();

  // Point-to-point. Outside a group each call blocks until complete; inside GroupStart/GroupEnd
  // they are queued and GroupEnd runs them all concurrently, so send+recv pairs never deadlock.
  // Messages between a pair of ranks match in call order. A send and receive that match but
  // differ in size fail the receiving rank with InvalidUsage naming the peer and both sizes; the
  // communicator is then unusable, and the sender learns it as RemoteError on a later call.
  // Sends to self, blocking or in a group, are kept as copies until their Recv, which may come in
  // the same group or later; a Recv from self that nothing sent to self can match fails at once
  // with InvalidArgument (blocking: that call; in a group: GroupEnd, running none of the group)
  // and the communicator goes on.
  Status Send(const void* buf, size_t count, DataType type, int peer);
  Status Recv(void* buf, size_t count, DataType type, int peer);

  // Groups nest; the outermost GroupEnd executes what was queued: all sends/receives are posted
  // at once and collectives run in call order while they progress. So a group's operations are
  // not ordered against one another's data: a Send may read its buffer when posted, before the
  // group's collectives ran (a Send of a collective's output may send what the buffer held),
  // and a collective reading a buffer that a group's Recv writes may see it before or after;
  // a Send and a Recv of one group sharing a buffer may send what was received (as in MPI and
  // NCCL, such a group is erroneous);
  // collectives chained through a buffer (A's output as B's input) do see each other's data, as
  // they run in order. As in NCCL, put dependent operations in separate groups. An error from GroupEnd
  // applies to the whole group. As in NCCL, a call inside a group that returns an error (e.g.
  // InvalidArgument) fails the group: the calls after it are still checked but not queued, inner
  // GroupEnds return OK, and the outermost GroupEnd runs none of the group (nothing of it was
  // posted, so its buffers are the caller's again at once) and returns the first such error with
  // its code, prefixed "GroupEnd: an operation of the group failed: ". An invalid argument
  // leaves the communicator usable, provided every rank discarded the matching group; a group
  // discarded on some ranks only desynchronises the others as described at the top (their
  // next group's sends and receives pair with the wrong messages).
  Status GroupStart();
  Status GroupEnd();

  // Collective over this communicator: ranks with the same color form a new communicator ordered
  // by (key, old rank). color < 0 (NCCL_SPLIT_NOCOLOR) yields *out == nullptr. The child shares
  // this communicator's transport; destroy children before or after the parent, either works.
  // The child may be driven by another thread than this communicator (see the top of this file).
  Status Split(int color, int key, std::unique_ptr<Comm>* out);

  // Thread-safe. Makes every pending and future call on this communicator fail with Aborted, and
  // tells the other members, whether or not a call is pending: their calls waiting on this rank
  // fail with RemoteError naming it within about 0.1 s, not after BRAID_TIMEOUT. With no call
  // pending, Abort itself sends the notices (it may then take up to ~0.2 s to return, and a call
  // started meanwhile on another thread waits for it); else the pending call does as it fails.
  // The aborted call returns once the library no longer reads its buffers: it waits while the
  // members drain the small sends it had queued to them (bounded by BRAID_TIMEOUT and 5 s), and
  // after 1 s in which none of those sends finished it gives up, with a warning naming each
  // member concerned.
  void Abort();

  class Impl;
  explicit Comm(std::unique_ptr<Impl> impl);
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace braid
