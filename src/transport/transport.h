// The transport interface: non-blocking tagged point-to-point messages between the ranks of one
// transport "world" (all processes that bootstrapped together). Communicators (including split
// children) share one Transport and address peers by world rank.
//
// Threading: a Transport is driven by one thread at a time (the communicator serialises calls),
// except Interrupt(), which any thread may call, until AllowConcurrentUse(): from then on the
// communicators sharing it may call it from their own threads at the same time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "braid/status.h"

namespace braid::transport {

enum class MemoryType : uint8_t { kHost, kCuda };

// One in-flight send or receive. The caller owns the storage and must keep it (and the data
// buffer) alive and unmoved until state is kDone or kFailed. A transport completes requests only
// inside Progress(), Cancel() or, for the loopback transport, from a peer's thread (hence atomic).
struct Request {
  enum class State : uint8_t { kIdle, kPending, kDone, kFailed };
  std::atomic<State> state{State::kIdle};
  Status error;               // set before state becomes kFailed; names the peer and the cause
  int peer = -1;              // world rank
  size_t bytes = 0;           // expected (recv) or sent (send) bytes
  // Set by the caller before posting a receive: a shorter message is accepted, and on kDone
  // `bytes` holds the length received (a longer one still fails as truncated).
  bool accept_shorter = false;
  // Set by the caller before posting a receive: tag bits that need not match (0: the exact tag).
  // On kDone, `sender_tag` holds the tag the message was sent with.
  uint64_t tag_ignore = 0;
  uint64_t sender_tag = 0;
  // Set by the transport when a cancel finished the request while the transport may still read
  // or write its buffers (a transfer it could not take back: see KeepUntilDestroyed); cleared
  // when it is posted.
  bool abandoned = false;
  void* handle = nullptr;     // transport-private

  bool finished() const {
    State s = state.load(std::memory_order_acquire);
    return s == State::kDone || s == State::kFailed;
  }
};

// One piece of a gathered send (PostSendGather). Laid out as UCX's ucp_dt_iov_t (checked where
// UCX is used), so the UCX transport passes an array of them to UCX as it is.
struct SendSegment {
  const void* data;
  size_t bytes;
};

// One piece of a scattered receive (PostRecvScatter), laid out as SendSegment.
struct RecvSegment {
  void* data;
  size_t bytes;
};

// OK when `segments` hold `bytes` in all; else an Internal error naming `what` (a caller's bug:
// the transport would read or write past a segment). Every transport checks before posting.
Status CheckSegments(const char* what, std::span<const SendSegment> segments, size_t bytes);
Status CheckSegments(const char* what, std::span<const RecvSegment> segments, size_t bytes);

// Storage for the requests of a wait loop or a batch, reused from call to call so a small
// operation allocates nothing. Requests are neither movable nor copyable (atomic state), and
// stay in place as more are added (callbacks write to them while a batch keeps adding): fixed
// chunks, allocated on first use and kept. Indexing is a shift and a mask; a std::deque's index
// and size cost ~40 instructions per message in a 2 KiB bibw window (callgrind,
// docs/PERFORMANCE.md).
class RequestPool {
 public:
  Request& operator[](size_t i) { return chunks_[i / kChunk][i % kChunk]; }
  const Request& operator[](size_t i) const { return chunks_[i / kChunk][i % kChunk]; }
  // Makes indexes [0, n) valid; requests already there keep their place and state.
  void Reserve(size_t n) {
    while (n > chunks_.size() * kChunk) chunks_.push_back(std::make_unique<Request[]>(kChunk));
  }

 private:
  static constexpr size_t kChunk = 64;
  std::vector<std::unique_ptr<Request[]>> chunks_;
};

// 64-bit tag layout (see MakeTag): [comm id:16][source world rank:16][sequence:11][p2p:1][op tag:20]
// Comm id 0 is no communicator's: it carries control messages (runtime/failure_notice.h).
inline constexpr int kTagOpBits = 20;
inline constexpr int kTagSeqBits = 11;
inline constexpr int kTagSourceBits = 16;
inline constexpr int kTagCommBits = 16;
inline constexpr int kMaxWorldRanks = 1 << kTagSourceBits;

// Builds a message tag. `source` is the sender's world rank; receivers match on the full tag.
constexpr uint64_t MakeTag(uint32_t comm_id, uint32_t source, uint32_t seq, bool p2p,
                           uint32_t op_tag) {
  return (uint64_t(comm_id & 0xffffu) << 48) | (uint64_t(source & 0xffffu) << 32) |
         (uint64_t(seq & 0x7ffu) << 21) | (uint64_t(p2p ? 1 : 0) << 20) |
         uint64_t(op_tag & 0xfffffu);
}

// The communicator id and the source world rank in a tag built by MakeTag.
constexpr uint32_t TagCommId(uint64_t tag) { return uint32_t(tag >> 48); }
constexpr uint32_t TagSource(uint64_t tag) { return uint32_t(tag >> 32) & 0xffffu; }

// The tag of the farewell a transport of world rank `source` leaves its same-host peers as it is
// destroyed (see Transport::HostPeersHealth): control comm id 0, op tag 0. The failure notices on
// comm id 0 use op tags >= 1 (runtime/failure_notice.h).
constexpr uint64_t FarewellTag(uint32_t source) { return MakeTag(0, source, 0, false, 0); }

// What a blocking wait calls on each pass that made no progress: OK to go on waiting, or the
// error that ends the wait (timeout, abort, a dead peer). A function pointer and its argument, so
// a wait that ends on its first pass constructs nothing.
struct IdleCheck {
  Status (*fn)(void* arg);
  void* arg;
  Status operator()() const { return fn(arg); }
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual int rank() const = 0;  // this process's world rank
  virtual int size() const = 0;  // world size
  // e.g. "ucx" or "loopback"; for logs and braid-perf context headers.
  virtual std::string name() const = 0;
  // One line for logs and benchmark headers: the library version and what was selected for the
  // peers (UCX: the transports/devices of each endpoint, as UCX reports them).
  virtual std::string Describe() const { return name(); }

  // Starts sending `bytes` from `buf` to world rank `peer`, tagged `tag`. On OK, *req is
  // kPending or already kDone. On error nothing was sent and *req is untouched.
  virtual Status PostSend(int peer, uint64_t tag, const void* buf, size_t bytes, MemoryType mem,
                          Request* req) = 0;
  // PostSend of one message made of `segments` in order (host memory, `bytes` in all): a packet
  // of small messages leaves from the callers' buffers instead of being copied together first.
  // The segment array, like the data, must stay valid and unchanged until *req is finished; a
  // send that a cancel finished without completing may still read both, so whatever holds them
  // then goes to KeepUntilDestroyed.
  virtual Status PostSendGather(int peer, uint64_t tag, std::span<const SendSegment> segments, size_t bytes,
                                Request* req) = 0;
  // Starts receiving exactly `bytes` from `peer` with `tag` (up to req->tag_ignore) into `buf`.
  // A larger incoming message fails the request with an error naming the peer and both sizes.
  virtual Status PostRecv(int peer, uint64_t tag, void* buf, size_t bytes, MemoryType mem,
                          Request* req) = 0;
  // PostRecv into `segments` in order (host memory, `bytes` in all): the message's first bytes
  // fill the first segment, and so on, so a packet's larger messages land in the callers' buffers
  // and only its headers in the engine's. The segment array must stay valid and unchanged until
  // *req is finished, and after a cancel that finished it without completing (a transfer under
  // way may still write), as the data must.
  virtual Status PostRecvScatter(int peer, uint64_t tag, std::span<const RecvSegment> segments, size_t bytes,
                                 Request* req) = 0;

  // Blocking forms for one host-memory message outside any batch (a blocking Send or Recv: what
  // a ping-pong's latency measures). They post and wait in the transport's tightest loop, calling
  // `idle` on each pass that finds the message still on its way; an error from it ends the wait,
  // the operation cancelled first (nothing touches the buffers afterwards). The defaults wait on
  // a Request through Progress; UCX polls its own request instead (no callback, no tracking).
  virtual Status SendNow(int peer, uint64_t tag, const void* buf, size_t bytes, const IdleCheck& idle);
  // Accepts a message up to `capacity` and sets *received to its length.
  virtual Status RecvNow(int peer, uint64_t tag, void* buf, size_t capacity, size_t* received,
                         const IdleCheck& idle);
  // Whether a message from `peer` with exactly `tag` has arrived and waits for its receive (a
  // blocking Recv's idle check looks for a message that came in a form it did not post for).
  virtual bool Probe(int peer, uint64_t tag) = 0;

  // Advances communication; returns true if any request changed state or data moved.
  virtual bool Progress() = 0;

  // Blocks the calling thread until there may be new activity, or `timeout_us` microseconds pass,
  // or Interrupt() is called. Used by wait loops so that idle ranks do not burn a core.
  virtual void WaitForActivity(int timeout_us) = 0;
  // Wakes a thread blocked in WaitForActivity (thread-safe, async-signal-unsafe).
  virtual void Interrupt() = 0;

  // Cancels a pending request; on return it is finished (kDone if it completed meanwhile, else
  // kFailed with an Aborted status). Safe on finished requests.
  virtual void Cancel(Request* req) = 0;
  // Takes memory that a request finished by Cancel() or CancelAfterFailure() without completing
  // (Request::abandoned) may still read or write (a packet's staging buffer and segment array, a
  // packet receive's landing): UCX keeps a send to a stalled peer
  // that a wait gave up on, and packs its remaining fragments whenever that peer makes room, even
  // after the communicator that posted it is gone. The memory is freed when the transport is
  // destroyed, after which nothing reads it. The default frees it at once: for a transport whose
  // Cancel() always takes a send back (loopback).
  virtual void KeepUntilDestroyed(std::shared_ptr<void> storage) noexcept { (void)storage; }
  // Cancel() for a call of communicator `comm_id` that failed. The request is finished on return
  // as with Cancel(), but a send the transport cannot take back from a live peer may be left
  // *lingering*: the transport may still read its buffer (UCX answers a rendezvous that the peer
  // matches later). SettleCancelledSends must then run before the failed call returns.
  virtual void CancelAfterFailure(Request* req, uint32_t comm_id) {
    (void)comm_id;
    Cancel(req);
  }
  // One pass over communicator `comm_id`'s lingering sends: forgets those that finished or whose
  // peer died; resets the endpoint of, and forgets, those to a peer for which `stopped(arg,
  // world_peer)` holds (it will post no receive that could match them), or all of them when
  // `give_up`. Returns how many remain; the caller progresses and calls again until none do.
  using PeerPredicate = bool (*)(void* arg, int world_peer);
  virtual size_t SettleCancelledSends(uint32_t comm_id, PeerPredicate stopped, void* arg, bool give_up) {
    (void)comm_id, (void)stopped, (void)arg, (void)give_up;
    return 0;
  }

  // OK while `peer` looks alive; a RemoteError naming the peer once the transport knows it died
  // (endpoint error, closed connection, or its process no longer exists on this host) or left
  // (a same-host peer whose farewell arrived: it destroyed its transport). For waits on `peer`.
  virtual Status PeerHealth(int peer) = 0;
  // OK unless a peer that shares this rank's shared-memory receive queue exited without leaving
  // (its transport destroyed, which sends a farewell behind all its other messages); then a
  // RemoteError naming it, and *failed_peer set to its world rank. A wait owed nothing by that
  // peer needs this: over UCX shared memory a rank that dies halfway through writing into this
  // rank's queue blocks every message behind that entry, from every sender on the host, failure
  // notices included, so nothing else would end the wait before BRAID_TIMEOUT. Each peer is
  // probed at most every 100 ms. Transports without such a queue have nothing to report.
  virtual Status HostPeersHealth(int* failed_peer) {
    (void)failed_peer;
    return Status::Ok();
  }

  // Called (by Split) before a second communicator starts using this transport, while only the
  // first one's thread is in it. Afterwards any method may be called from several threads at
  // once, and a request may be completed by another thread's Progress() (hence its atomic
  // state). Irreversible.
  virtual void AllowConcurrentUse() = 0;
};

}  // namespace braid::transport
