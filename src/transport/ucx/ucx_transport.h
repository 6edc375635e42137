// Transport over UCX tag matching (ucp_tag_send_nbx / ucp_tag_recv_nbx), one UCP worker per
// process and one endpoint per world rank (self included).
//
// Threading: the worker is created UCS_THREAD_MODE_SERIALIZED: UCX takes no locks and any one
// thread at a time may drive it (a communicator serialises its calls, but not always from the
// same thread). Once communicators split from one another may run on their own threads
// (AllowConcurrentUse), every method holds lock_ (transport_lock.h) while it is in UCX or our
// state; a blocking SendNow/RecvNow lets go of it between its polls, and WaitForActivity while it
// sleeps. A thread's progress may then complete another thread's operation (callbacks only
// record results, and a request's state is atomic), so it wakes the threads asleep in
// WaitForActivity whenever UCX reports events. Interrupt() touches only our own eventfd, so it is
// safe from any thread.
//
// Waiting: WaitForActivity arms the workers (ucp_worker_arm) and ppoll()s their event fds together
// with the Interrupt() eventfd, so an idle rank sleeps in the kernel and wakes as soon as a
// message arrives. If the transports in use offer no wakeup, it yields and naps briefly instead.
//
// Failures and the transports UCX may pick. Debian's UCX 1.13 has no shared-memory transport
// that supports UCP_ERR_HANDLING_MODE_PEER: asking for it puts even same-host peers on tcp over
// loopback (~15 us per 8-byte all-reduce instead of ~0.6 us, and a third of the bandwidth). So
// the error mode is chosen per peer (BRAID_UCX_ERROR_MODE=auto, the default):
// - peers on another host: PEER, with an endpoint error handler that marks the peer failed;
// - peers on this host: NONE, so UCX uses shared memory; their death is noticed by PeerHealth()'s
//   pid probe (at most every 100 ms per peer; dead and zombie processes count).
// In NONE mode a peer dying in the middle of a CMA (process_vm_readv) transfer makes UCX abort
// this process, which a library must never do. Unless the user set UCX_TLS, our own context
// therefore excludes cma ("^cma"): large same-host messages then go through UCX's shared-memory
// pipeline, which measured faster than CMA on the 2-core development VM anyway
// (docs/PERFORMANCE.md). BRAID_UCX_ERROR_MODE=peer forces PEER everywhere (tcp on one host);
// =none forces NONE everywhere.
// Once a peer is failed its endpoint is force-closed (which fails the sends to it), receives
// from it are cancelled with the failure as their error, and new operations involving it are
// refused. UCX refuses to force-close an endpoint without error handling (NONE: the shared-memory
// lane; ucp_ep_close_nbx returns UCS_ERR_INVALID_PARAM), so those stay open, and UCX completes
// their sends only when the peer answers: a send whose caller was failed (cancelled, abandoned)
// stays tracked here until UCX finishes it, for the destructor to wait for.
//
// Shutdown: the destructor first lets UCX finish what it still holds (at most 1 s, not for peers
// that died, left or stalled): it receives every message nobody will (a rendezvous request is
// answered as truncated, which completes the peer's send) while waiting for the peers to do the
// same for its own cancelled rendezvous sends. Then it flushes endpoints that carried sends (at
// most 1 s, so buffered data still leaves), force-closes the endpoints with error handling (a
// flushing close waits for the peer's answer) and leaves the others to ucp_worker_destroy. So UCX
// finds no request, unexpected message or endpoint operation left to warn about when the worker
// goes, unless a peer died or stalled with a transfer of ours under way (UCX 1.13 cannot take a
// rendezvous back from a peer without error handling).
#pragma once

#include <ucp/api/ucp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/log.h"
#include "transport/peer_liveness.h"
#include "transport/transport.h"
#include "transport/transport_lock.h"

namespace braid::transport {

namespace ucx_internal {
struct LaneSetting;  // ucx_lane_settings.h
}  // namespace ucx_internal

// Who a rank is, for liveness checks and error messages.
struct PeerProcess {
  std::string host;          // hostname as the bootstrap reported it, for messages
  int pid = 0;               // 0: unknown (no pid probe)
  std::string host_id = {};  // locality key (bootstrap/host_identity.h: hostname, boot id,
                             // network and pid namespaces); "" = the hostname alone
  // Ranks with equal keys share a host: shared-memory lane and pid probes.
  const std::string& Locality() const { return host_id.empty() ? host : host_id; }
};

class UcxTransport : public Transport {
 public:
  // Creates the UCP context (features TAG | WAKEUP, UCX_* environment honoured as read by
  // ucp_config_read) and one worker; no endpoints yet.
  static Status Create(std::unique_ptr<UcxTransport>* out);
  // InvalidArgument naming a BRAID_UCX_* knob set to a value Create would refuse (read once).
  static Status CheckKnobs();
  ~UcxTransport() override;
  UcxTransport(const UcxTransport&) = delete;
  UcxTransport& operator=(const UcxTransport&) = delete;

  // This worker's address (opaque bytes) for the bootstrap to all-gather.
  // Both lanes' worker addresses, packed as [u32 local length][local][network].
  std::string LocalAddress() const;
  // Connects to every rank (self included) once the addresses and identities are all-gathered.
  // peers may be empty (no pid probes); otherwise it has addresses.size() entries.
  Status Connect(int rank, const std::vector<std::string>& addresses,
                 const std::vector<PeerProcess>& peers);
  // "ucx 1.13.1, serialized worker, wakeup fd, peer errors; tcp/lo.0: ranks 0,1,2,3" (lanes of
  // the first 64 peers, from ucp_ep_print_info).
  std::string Describe() const override;

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string name() const override { return "ucx"; }

  Status PostSend(int peer, uint64_t tag, const void* buf, size_t bytes, MemoryType mem,
                  Request* req) override;
  Status PostSendGather(int peer, uint64_t tag, std::span<const SendSegment> segments, size_t bytes,
                        Request* req) override;
  void KeepUntilDestroyed(std::shared_ptr<void> storage) noexcept override;
  Status PostRecv(int peer, uint64_t tag, void* buf, size_t bytes, MemoryType mem,
                  Request* req) override;
  Status PostRecvScatter(int peer, uint64_t tag, std::span<const RecvSegment> segments, size_t bytes,
                         Request* req) override;
  Status SendNow(int peer, uint64_t tag, const void* buf, size_t bytes, const IdleCheck& idle) override;
  Status RecvNow(int peer, uint64_t tag, void* buf, size_t capacity, size_t* received,
                 const IdleCheck& idle) override;
  bool Probe(int peer, uint64_t tag) override;
  bool Progress() override;
  void WaitForActivity(int timeout_us) override;
  void Interrupt() override;
  // Receives are cancelled in UCX. UCX cannot cancel sends: a send still pending after ~1 ms of
  // progress has its endpoint force-closed, which also fails every other send queued to that
  // peer (Aborted); the next send reconnects. Waits at most 2 s for UCX, then abandons the
  // operation (the request is failed; UCX may in theory still touch the buffer afterwards).
  void Cancel(Request* req) override;
  // After a failure, a send to a live same-host peer (shared-memory lane, no error handling)
  // still pending after ~1 ms is left lingering instead: force-closing its endpoint did not stop
  // UCX from answering the peer's late ready-to-receive from the (by then freed) buffer.
  void CancelAfterFailure(Request* req, uint32_t comm_id) override;
  size_t SettleCancelledSends(uint32_t comm_id, PeerPredicate stopped, void* arg, bool give_up) override;
  Status PeerHealth(int peer) override;
  // Probes every shared-memory peer's pid; one found dead is a failure unless its farewell
  // (FarewellTag, sent by the destructor to each shared-memory peer) is among the arrived
  // messages once UCX has delivered what it can.
  Status HostPeersHealth(int* failed_peer) override;
  void AllowConcurrentUse() override { lock_.Enable(); }

 private:
  struct Op;  // lives in the private area of a UCX request (see ucx_transport.cc)
  // What a receive got: its length and the tag it was sent with.
  struct Received {
    size_t bytes = 0;
    uint64_t tag = 0;
  };
  struct Peer {
    UcxTransport* owner = nullptr;
    int rank = -1;
    ucp_ep_h ep = nullptr;  // null before Connect, after a failure, or after a reset
    bool failed = false;
    bool error_handling = true;  // endpoint uses UCP_ERR_HANDLING_MODE_PEER
    int lane = 1;                // LaneId carrying this peer's traffic
    bool sent = false;    // carried a send since it was created (worth flushing at shutdown)
    bool left = false;    // its farewell arrived: it destroyed its transport and writes no more
    // SettleCancelledSends' verdict on this peer's lingering sends during one pass.
    enum class Settle : uint8_t { kNone, kWaiting, kDead, kStopped, kGivenUp } settle = Settle::kNone;
    // When Stop() last waited the whole kCompletionBound for a cancelled transfer with this peer
    // in vain (zero: never). Its other transfers are then not waited for again (kStalledPeerMemory).
    std::chrono::steady_clock::time_point stop_gave_up{};
    // When SettleCancelledSends last gave up on its lingering sends (zero: never): neither Stop
    // nor the destructor waits for this peer again, for kStalledPeerMemory.
    std::chrono::steady_clock::time_point settle_gave_up{};
    // The grace of the current burst of cancelled sends to this peer ends at send_grace_end; the
    // last of them was cancelled at last_send_cancel (kCancelBurstGap; zero: never).
    std::chrono::steady_clock::time_point send_grace_end{};
    std::chrono::steady_clock::time_point last_send_cancel{};
    // Sends to this peer that UCX finished, lingering ones included: while it grows, the peer is
    // draining its queue and the grace goes on (Stop).
    uint64_t sends_finished = 0;
    // Whether a cancelled transfer with this peer ran out its bound (Stop's or
    // SettleCancelledSends') within kStalledPeerMemory before `now`: the peer is stopped or busy
    // outside UCX, and is not waited for again (ucx_transport.cc).
    bool RecentlyStalled(std::chrono::steady_clock::time_point now) const;
    std::string cause;    // "rank 2 (host h, pid 123) failed: Endpoint timeout"
    std::string failure;  // cause + "; also <cause of another failed peer>"...
  };

  UcxTransport() = default;
  Status Init();
  // OK when `peer` may be sent to or received from, else an error naming it and `what`.
  // The check is inline: it runs on every post.
  Status CheckPeer(int peer, const char* what) const {
    if (LivePeer(peer)) return Status::Ok();
    return PeerError(peer, what);
  }
  // `peer`'s state when it may be sent to or received from, else null.
  Peer* LivePeer(int peer) const {
    if (peers_.empty() || unsigned(peer) >= unsigned(size_) || peers_[size_t(peer)]->failed) return nullptr;
    return peers_[size_t(peer)].get();
  }
  Status PeerError(int peer, const char* what) const;
  // PeerHealth with lock_ held.
  Status Health(int peer);
  // CheckPeer for a send, reconnecting an endpoint that an earlier Cancel() reset.
  Status ReadyToSend(int peer) {
    BRAID_RETURN_IF_ERROR(CheckPeer(peer, "send to"));
    if (!peers_[size_t(peer)]->ep) return Reconnect(peer);
    return Status::Ok();
  }
  Status Reconnect(int peer);
  // PostSend and PostSendGather: `count` bytes at `buffer`, or `count` ucp_dt_iov_t entries there
  // when `iov` (`bytes` in all).
  Status StartSend(int peer, uint64_t tag, const void* buffer, size_t count, bool iov, size_t bytes, MemoryType mem,
                   Request* req);
  // PostRecv and PostRecvScatter, as StartSend.
  Status StartRecv(int peer, uint64_t tag, void* buffer, size_t count, bool iov, size_t bytes, MemoryType mem,
                   Request* req);
  // Turns what ucp_tag_*_nbx returned into the caller's request state (and our Op). Inline: a
  // send that completed on the spot (UCX copied it out; most small ones) ends here.
  Status Track(ucs_status_ptr_t ret, int peer, bool is_send, size_t bytes, Request* req) {
    if (ret != nullptr) return TrackStarted(ret, peer, is_send, bytes, req);
    StartRequest(req, peer, bytes);
    req->state.store(Request::State::kDone, std::memory_order_release);
    return Status::Ok();
  }
  // The caller's request as a post leaves it, before its state is set.
  static void StartRequest(Request* req, int peer, size_t bytes) {
    if (!req->error.ok()) req->error = Status();
    req->peer = peer;
    req->bytes = bytes;
    req->abandoned = false;
    req->handle = nullptr;
  }
  // Track for an error or a UCX request: completed inside the call, or pending.
  Status TrackStarted(ucs_status_ptr_t ret, int peer, bool is_send, size_t bytes, Request* req);
  Status CreateEndpoint(int peer);
  // Starts closing `peer`'s endpoint; FORCE discards what is queued (and fails those sends).
  void CloseEndpoint(int peer, bool force);
  // Records `peer` as failed (and any other same-host peer whose process is gone); its message
  // also names the other failed peers.
  void MarkFailed(int peer, std::string why);
  void SetFailed(int peer, std::string cause, std::string full);
  bool SameHost(int peer) const;
  // A same-host peer's pid probe, at most every 100 ms per peer (probe_limiter_): its process is gone.
  bool ProbedExited(int peer) {
    return probe_limiter_.Due(peer) && LocalProcessExited(processes_[size_t(peer)].pid);
  }
  // `peer` writes into this rank's shared-memory receive queue (local lane, no error handling).
  bool SharesMemory(int peer) const;
  // Whether `peer`'s farewell has arrived, after progressing until UCX has nothing more to
  // deliver (a bounded number of passes). Remembered in Peer::left.
  bool HasLeft(int peer);
  bool drain_progressed_ = false;  // HasLeft's last drain moved something
  // The destructor's orderly part: fail what is in flight, say farewell to the shared-memory
  // peers, flush and close the endpoints (bounded), receive the peers' farewells.
  void Shutdown();
  // The destructor's fallback when Shutdown ran out of memory: fails every operation still in
  // flight with destroyed_ and frees the UCX requests, allocating nothing.
  void AbandonEverything() noexcept;
  // The destructor's farewells: one short message to each live shared-memory peer, except
  // those with a send of ours still in flight (`sending`), whose data could follow it.
  void SayFarewells(const std::vector<bool>& sending);
  // The destructor's receiver of last resort: receives every message that arrived and nobody
  // will (UCX warns of each unmatched one it holds when the worker goes) into a small sink, so a
  // rendezvous request is answered as truncated and the peer's send completes. A farewell marks
  // its sender as left. Receives that UCX does not finish at once are kept in drains_.
  void DrainUnexpected();
  // Frees the finished requests of drains_ (all of them with `all`).
  void ReapDrains(bool all);
  // Whether an operation still in flight (pending_ or drains_) can yet be finished by its peer:
  // a peer that is alive, has not left and has not stalled. For pending_, only peers on the
  // shared-memory lane: force-closing the endpoints of peers with error handling completes their
  // requests. A drain waits for the rest of a message, which only its sender can send.
  bool AwaitingPeers();
  std::string ExitedMessage(int peer) const;
  std::string LeftMessage(int peer) const;
  // After UCX failed an operation with `peer` with `status`: if the peer is a same-host peer whose
  // process exited, whose farewell arrived (it destroyed its communicators), or whose shared
  // memory is gone (UCS_ERR_SHMEM_SEGMENT), marks it failed with the message that says so (the
  // same words as PeerHealth's), UCX's status appended, and returns true (also when it was found
  // failed meanwhile). `may_progress`: UCX may be progressed to find the farewell (not inside
  // DrainCompleted, where a UCX callback's completion is being delivered).
  bool NoteGone(int peer, ucs_status_t status, bool may_progress);
  // CompletionError after NoteGone: the error names the gone peer rather than UCX's status alone.
  Status OperationError(int peer, bool is_send, bool cancelled, ucs_status_t status, size_t expected,
                        size_t received, bool may_progress);
  // One pass of UCX progress plus the work deferred out of UCX callbacks.
  unsigned Drive();
  // Closes and fails what involves peers marked failed inside UCX callbacks (newly_failed_).
  void HandleFailures();
  void ReapClosed();
  // A UCX callback ran: queue the operation for DrainCompleted. Callbacks run inside UCX's
  // progress, on the path that moves each arrived message out of shared memory, and the peer's
  // next sends wait for that: work done there slowed an 8 KiB bibw window ~2.5x more per
  // instruction than work done while posting (docs/PERFORMANCE.md). So a callback only records
  // the result; the rest runs after UCX's progress pass returns.
  void Defer(Op* op, ucs_status_t status, const Received& got);
  // Completes the operations callbacks queued, in the order they finished. Runs at the end of
  // Drive() and before anything walks pending_ or frees an Op.
  void DrainCompleted() {
    while (done_head_) {
      Op* op = done_head_;
      done_head_ = NextDone(op);
      if (!done_head_) done_tail_ = nullptr;
      Complete(op);
    }
  }
  static Op* NextDone(const Op* op);
  // Releases the UCX request of a finished operation and finishes the caller's request.
  void Complete(Op* op);
  // Sets the caller's request to kDone or kFailed with an error naming the peer.
  void Finish(Request* user, int peer, bool is_send, bool cancelled, ucs_status_t status,
              const Received& got);
  // The error of an operation that ended with `status` (or, UCS_OK, a receive of `received`
  // bytes where `expected` were due), naming the peer and the cause.
  Status CompletionError(int peer, bool is_send, bool cancelled, ucs_status_t status, size_t expected,
                         size_t received) const;
  // Progresses until `request` (posted without a callback by SendNow/RecvNow) completes, and
  // frees it; stops it on an error from `idle` or a failure of the peer. `guard` holds lock_; it
  // is let go while `idle` runs (other threads' turn; idle may sleep or ask PeerHealth). Polls in
  // short passes (the peer's worker and the request's test) with a full Drive and the idle
  // check between every few, so that a message is seen soon after it lands.
  Status WaitPolled(TransportLock::Guard& guard, void* request, int peer, bool is_send, uint64_t tag,
                    size_t bytes, size_t* received, const IdleCheck& idle);
  // SendNow off its common case, out of line so that case keeps a small frame: the path with the
  // lock, the peer checks and reconnection; and the wait for a send UCX did not finish at once
  // (or its error), `guard` holding lock_ as for WaitPolled (null: the lock is not enabled).
  [[gnu::noinline]] Status SendNowChecked(int peer, uint64_t tag, const void* buf, size_t bytes,
                                          const IdleCheck& idle);
  [[gnu::noinline]] Status SendNowWait(TransportLock::Guard* guard, ucs_status_ptr_t request, int peer,
                                       uint64_t tag, size_t bytes, const IdleCheck& idle);
  // Stops an operation a wait gave up on: cancels a receive in UCX; lets a send finish for a
  // moment, then force-closes its endpoint (UCX cannot cancel sends). Waits for finished() at
  // most kCompletionBound, less once the peer is known dead, and not at all for a peer that let
  // another cancelled transfer run out that bound recently (a stalled peer costs one bound per
  // failure, not one per transfer: a ring's slices are many). nullptr once it finished, else why
  // not (the caller abandons it). With `may_linger`, a send still pending after the moment to a
  // live peer without error handling is not force-closed: Stop returns kLingering, and the caller
  // lingers it instead of abandoning it. Without `may_linger`, an eager send to such a peer
  // (MayCopyUnmatched) is first waited for, bounded as above: UCX copies its fragments as the
  // peer frees room.
  template <typename Finished>
  const char* Stop(int peer, bool is_send, size_t bytes, void* request, Finished finished, bool may_linger);
  // Cancel (may_linger false) and CancelAfterFailure (true, for communicator `comm_id`).
  void CancelRequest(Request* req, bool may_linger, uint32_t comm_id);
  void Unlink(Op* op);
  // Fails the caller's request now but keeps tracking the unfinished UCX request (an orphan: no
  // caller, not lingering) until it completes (Complete frees it) or the destructor gives up on
  // it: UCX finishes a request freed unfinished only if the peer answers, and warns at
  // ucp_worker_destroy of each one it still holds, so the destructor waits for them (bounded).
  void Abandon(Op* op, Status why);
  // Stops tracking `op` and frees its UCX request (finished or not).
  void Release(Op* op);
  // Frees the polled operations (SendNow/RecvNow's, no callback) that UCX has finished.
  void ReapPolled();
  // Fails the caller's request now (Aborted) but keeps tracking the unfinished send, marked as
  // communicator `comm_id`'s, until SettleCancelledSends lets it go.
  void Linger(Op* op, uint32_t comm_id);
  // Tracks a request SendNow/RecvNow posted without a callback (it has no Op set up yet) that
  // the wait gave up on: lingering for communicator `comm_id` (a send), or orphaned (Abandon).
  void TrackPolled(void* request, int peer, bool is_send, size_t bytes, bool lingering, uint32_t comm_id);
  // Whether UCX may still copy a send of `bytes` to `peer` from the caller's buffer without the
  // peer matching it: an eager send over the shared-memory lane (below local_eager_below_), whose
  // fragments leave as the peer frees room in its queue.
  bool MayCopyUnmatched(int peer, bool is_send, size_t bytes) const;

  static void InitRequest(void* request);
  static void SendDone(void* request, ucs_status_t status, void* user_data);
  static void RecvDone(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                       void* user_data);
  static void EndpointError(void* arg, ucp_ep_h ep, ucs_status_t status);

  // A UCP context + worker. Same-host peers use the local lane (shared memory only, no error
  // handling), other hosts the network lane (UCX's default transports, PEER error handling).
  struct Lane {
    ucp_context_h context = nullptr;
    ucp_worker_h worker = nullptr;
    bool wakeup = false;  // the worker has an event fd to sleep on
    // Some peer's endpoint is on this lane. Only such lanes are progressed: progressing an idle
    // network worker (tcp) costs a system call per pass, which a shared-memory message of
    // a few hundred nanoseconds would pay every time.
    bool in_use = false;
    int event_fd = -1;    // UCX's (owned by the worker)
    std::string address;
  };
  enum LaneId : int { kLocalLane = 0, kNetworkLane = 1, kNumLanes = 2 };
  // Creates the lane's context and worker with `settings` applied over UCX's configuration.
  Status InitLane(Lane* lane, const std::vector<ucx_internal::LaneSetting>& settings);
  void DestroyLane(Lane* lane);
  ucp_worker_h WorkerOf(int peer) const { return lanes_[peers_[size_t(peer)]->lane].worker; }

  mutable TransportLock lock_;     // engaged once AllowConcurrentUse() was called
  std::atomic<int> sleepers_{0};  // threads in WaitForActivity's ppoll (while lock_ is engaged)
  Lane lanes_[kNumLanes];
  int interrupt_fd_ = -1;
  std::string thread_mode_;
  std::string local_rndv_;  // the shared-memory lane's rendezvous threshold, as configured
  // Sends below this many bytes may go eager on the shared-memory lane (the configured threshold;
  // kDefaultLocalRndvThreshBytes when it is UCX's "auto" or unreadable; SIZE_MAX for "inf").
  size_t local_eager_below_ = SIZE_MAX;
  std::string local_fifo_;  // the shared-memory lane's receive FIFO: elements, or where UCX takes it from
  std::string local_segment_;  // its segment (bytes per eager fragment), or the UCX variable that set it
  std::string error_mode_ = "auto";  // BRAID_UCX_ERROR_MODE: auto, peer or none

  int rank_ = -1;
  int size_ = 0;
  std::vector<std::string> addresses_;        // every rank's worker address (for reconnects)
  std::vector<std::unique_ptr<Peer>> peers_;  // unique_ptr: EndpointError keeps Peer*
  std::vector<PeerProcess> processes_;
  std::string transports_;  // summary for Describe()
  PeerCheckLimiter probe_limiter_;

  // What operations still in flight at destruction fail with; made up front, since the
  // destructor may run out of memory (AbandonEverything).
  const Status destroyed_ = Status::Aborted("transport destroyed");
  // KeepUntilDestroyed's: freed after the destructor destroyed the workers (members go last).
  std::vector<std::shared_ptr<void>> kept_;
  Op* pending_ = nullptr;          // intrusive list of in-flight operations
  Op* done_head_ = nullptr;        // finished in a callback, not yet completed (Defer)
  Op* done_tail_ = nullptr;
  std::vector<int> newly_failed_;  // marked failed inside a UCX callback; handled after
  std::vector<void*> closing_;     // endpoint-close requests not yet complete
  struct Drain {
    void* request;
    uint32_t source;  // the sender's rank, from the tag (may be out of range for a stray tag)
  };
  std::vector<Drain> drains_;  // DrainUnexpected's receives not yet complete
  // A callback that runs inside ucp_tag_*_nbx (before our Op exists) reports here.
  struct Immediate {
    bool done = false;
    ucs_status_t status = UCS_OK;
    Received got;
  } immediate_;
  uint64_t completions_ = 0;       // requests finished by callbacks
  uint64_t completions_seen_ = 0;  // ... as of the last Progress()
};

}  // namespace braid::transport
