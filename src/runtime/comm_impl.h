// Comm::Impl: the state behind braid::Comm. Communicators created by Split share the parent's
// World (transport + communicator ids; runtime/world.h) and address peers through world_ranks_.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <thread>
#include <tuple>
#include <vector>

#include "braid/comm.h"
#include "collectives/schedule.h"
#include "runtime/algorithm_setting.h"
#include "runtime/call_check.h"
#include "collectives/tuner.h"
#include "runtime/executor.h"
#include "runtime/failure_notice.h"
#include "runtime/p2p_engine.h"
#include "runtime/world.h"
#include "transport/transport.h"

namespace braid {

class Comm::Impl {
 public:
  // `options` must be resolved (timeout_s >= 0); see ResolveOptions.
  Impl(std::shared_ptr<runtime::World> world, std::vector<int> world_ranks, int rank,
       uint32_t comm_id, const CommOptions& options);
  // Tells the members it leaves, if usable and the transport lives on for other communicators
  // (FailureNotices::AnnounceLeaving; the transport's farewell covers the last one).
  ~Impl();

  // For tests and split: a communicator over an existing transport world.
  static std::unique_ptr<Comm> MakeComm(std::shared_ptr<runtime::World> world,
                                        std::vector<int> world_ranks, int rank, uint32_t comm_id,
                                        const CommOptions& options);
  // Fills unset options from the environment (BRAID_TIMEOUT, BRAID_ALGO) and validates them.
  static Status ResolveOptions(const CommOptions& in, CommOptions* out);

  int rank() const { return rank_; }
  int size() const { return int(world_ranks_.size()); }
  // The id that names this communicator's tag space on the shared transport.
  uint32_t comm_id() const { return comm_id_; }
  transport::Transport* transport() const { return world_->transport.get(); }

  // A validated collective call (see validate.h); runs it or queues it inside a group.
  struct CollectiveCall {
    coll::Collective collective;
    const void* input;
    void* output;
    size_t count;
    DataType type;
    RedOp op;
    int root;
    bool in_place;
    // Set when a Barrier or a Split runs this collective inside it: fingerprinted (BRAID_CHECK_CALLS)
    // and named in errors as that call.
    std::optional<runtime::InternalCall> inside;
  };
  Status Collective(const CollectiveCall& call);
  // A validated send or receive of `bytes` (see validate.h). Inline: with the engine's RunOne,
  // a blocking Send or Recv reaches its transport call without two more call layers.
  Status PointToPoint(bool is_send, void* buf, size_t bytes, int peer) {
    if (!Usable()) return CheckUsable();
    const runtime::P2pOp op{is_send, buf, bytes, peer};
    // In a group the op is queued and the outermost GroupEnd posts the group's ops, as NCCL
    // does: a group discarded because one of its calls failed then posts nothing. (Posting each
    // op as it was called let the sends before the failed call leave; every rank discarded the
    // group, so no receive was ever numbered for them, and the next group's receive from that
    // peer took the stale message as its own: wrong data returned as OK.)
    if (group_depth_ > 0) {
      if (group_error_.ok()) group_p2p_.push_back(op);
      return Status::Ok();
    }
    Status done = p2p_.RunOne(op);
    if (done.ok()) return done;
    return Fail(std::move(done));
  }
  Status GroupStart();
  Status GroupEnd();
  // Create's last step: a barrier, so that no rank's Create returns before every rank connected to
  // every other. (A rank that returned and destroyed its communicator at once removed its
  // shared-memory segment while a slower rank was still connecting to it: that rank's Create
  // failed with "ucp_ep_create failed: Shared memory error" in 14 of 20 launches of 3 ranks; QA,
  // session 55.) Its errors name "create".
  Status ConfirmEveryRankConnected();
  // InvalidArgument if the open group receives more from self than it and earlier Sends sent to
  // self: those receives could never complete (a blocking Recv from self says the same). Sets
  // *sends_to_self to the group's own.
  Status SelfReceivesMatched(uint64_t* sends_to_self) const;
  // A call made while a group is open returned `error`: the first such error is kept (NCCL's
  // group error), and the outermost GroupEnd discards the group and returns it.
  void NoteGroupError(const Status& error) {
    if (group_depth_ > 0 && group_error_.ok()) group_error_ = error;
  }
  Status Split(int color, int key, std::unique_ptr<Comm>* out);
  // Thread-safe. With no call in progress, tells the other members at once (failure notices),
  // as a call that fails with Aborted does; else that call, or the end of it, does.
  void Abort();

  // Held by every API call that reaches the communicator (runtime/comm.cc) against an Abort()
  // from another thread: Abort() uses the communicator itself only while no call holds it.
  class CallScope {
   public:
    explicit CallScope(Impl& impl) : impl_(impl) { impl_.EnterCall(); }
    ~CallScope() { impl_.LeaveCall(); }
    CallScope(const CallScope&) = delete;
    CallScope& operator=(const CallScope&) = delete;

   private:
    Impl& impl_;
  };

  // A call ran out of memory (std::bad_alloc): it may have been half set up, so what it left in
  // flight is cancelled and the communicator fails with SystemError naming the call, as for any
  // fatal error.
  Status FailOutOfMemory(const char* call);

  // Fails fast once the communicator saw a fatal error or was aborted.
  Status CheckUsable() const;
  bool Usable() const { return !aborted_.load(std::memory_order_relaxed) && fatal_.ok(); }

 private:
  // call_state_: kHeld while a call (or an Abort() telling the members) uses the communicator;
  // kAbortSeen added by an Abort() that found a call holding it, for the call's end to announce.
  static constexpr uint8_t kHeld = 1, kAbortSeen = 2;
  void EnterCall() {
    uint8_t free = 0;
    while (!call_state_.compare_exchange_weak(free, kHeld, std::memory_order_acquire, std::memory_order_relaxed)) {
      free = 0;
      std::this_thread::yield();  // an Abort() from another thread is telling the members (< 1 s)
    }
  }
  void LeaveCall() {
    uint8_t held = kHeld;
    if (call_state_.compare_exchange_strong(held, 0, std::memory_order_release, std::memory_order_relaxed)) [[likely]]
      return;
    AnnounceAbort();  // Abort() came during the call, which may have ended without seeing it
    call_state_.store(0, std::memory_order_release);
  }
  // Fails the communicator with Aborted, which tells the other members, unless it failed already.
  void AnnounceAbort() noexcept;

  // Schedules are pure functions of these fields, so small repeated calls reuse them.
  using CacheKey = std::tuple<int, size_t, int, bool, size_t>;  // coll, count, root, in place, elem
  struct CachedPlan {
    coll::TunerChoice choice;
    coll::RankSchedule schedule;
  };
  Status RunCollective(const CollectiveCall& call);
  // BRAID_CHECK_CALLS: all-gathers the call's fingerprint (runtime/call_check.h) and compares;
  // InvalidArgument on every rank when some rank's call differs.
  Status CheckSameCall(const CollectiveCall& call);
  Status PlanFor(const coll::ScheduleRequest& request, const CachedPlan** plan);
  // Records a fatal error, cancels an open group's traffic, tells the other members
  // (FailureNotices), settles the sends the failed call left lingering, and returns it.
  Status Fail(Status status);
  // Waits until the transport can no longer read the buffer of any send of this communicator
  // that a failed call cancelled: each finished, or its peer died or sent its failure notice
  // (FailureNotices::Stopped), or the bound passed (min(BRAID_TIMEOUT, 5 s)), or Abort() was
  // called; then a warning says the buffer may still be read until the transport is destroyed.
  void SettleCancelledSends();

  std::shared_ptr<runtime::World> world_;
  std::vector<int> world_ranks_;
  int rank_;
  uint32_t comm_id_;
  CommOptions options_;
  uint32_t seq_ = 0;
  std::atomic<bool> aborted_{false};
  std::atomic<uint8_t> call_state_{0};  // kHeld, kAbortSeen
  Status fatal_;
  runtime::FailureNotices notices_;  // after world_ranks_ and world_ (it uses both)
  runtime::P2pEngine p2p_;  // after the fields its context points to

  int group_depth_ = 0;
  Status group_error_;  // the first error of a call inside the open group (NoteGroupError)
  std::vector<CollectiveCall> group_colls_;  // run at GroupEnd
  std::vector<runtime::P2pOp> group_p2p_;    // posted at GroupEnd, in call order
  std::vector<CollectiveCall> running_colls_;  // swapped with group_colls_ to keep both capacities
  // Set while GroupEnd runs the group's collectives: their wait loops also serve the group's
  // point-to-point traffic (runtime::SidePoll says why).
  bool serving_group_p2p_ = false;

  runtime::Executor executor_;
  std::vector<std::byte> scratch_;
  std::vector<std::byte> premul_input_;  // scaled copy of the input for kPreMulSum
  coll::LinkModel link_ = coll::HostRuntimeLinkModel();  // shared with plan-sim
  // Per collective, the algorithms the tuner may choose (CommOptions.algorithm / BRAID_ALGO / NCCL_ALGO).
  runtime::AllowedAlgorithms allowed_algorithms_{};
  std::map<CacheKey, CachedPlan> plan_cache_;
  uint64_t calls_checked_ = 0;  // collective calls fingerprinted (BRAID_CHECK_CALLS)
  bool checking_call_ = false;  // the fingerprint all-gather itself is not checked
  std::vector<int64_t> call_fingerprints_;
};

}  // namespace braid
