// UcxTransport data path: posting, completion callbacks, progress and waits, cancellation and
// peer failures. Setup and teardown are in ucx_setup.cc.
#include "transport/ucx/ucx_transport.h"
#include "transport/ucx/ucx_internal.h"

#include <fmt/format.h>
#include <poll.h>
#include <sched.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <utility>

#include "core/env.h"
#include "core/log.h"

namespace braid::transport {

using namespace ucx_internal;

namespace {

// SendNow's parameters: host memory (given, so UCX skips detecting it per call) and no
// callback, since SendNow waits on the request it gets back itself.
const ucp_request_param_t kHostSendNowParams = [] {
  ucp_request_param_t params{};
  params.op_attr_mask = UCP_OP_ATTR_FIELD_MEMORY_TYPE;
  params.memory_type = UCS_MEMORY_TYPE_HOST;
  return params;
}();

}  // namespace

void UcxTransport::EndpointError(void* arg, ucp_ep_h ep, ucs_status_t status) {
  Peer* peer = static_cast<Peer*>(arg);
  if (peer->ep != ep || peer->failed) return;  // an endpoint we already closed or gave up on
  UcxTransport* self = peer->owner;
  // A UCX callback: nothing may unwind through UCX's C frames. Out of memory for the message, the
  // peer is still marked failed (newly_failed_ has room for every peer, reserved at Connect).
  try {
    std::string who = fmt::format("rank {}", peer->rank);
    if (size_t(peer->rank) < self->processes_.size()) {
      const PeerProcess& proc = self->processes_[size_t(peer->rank)];
      who += fmt::format(" (host {}, pid {})", proc.host, proc.pid);
    }
    self->MarkFailed(peer->rank, fmt::format("{} failed: {}", who, ucs_status_string(status)));
  } catch (...) {
    if (!peer->failed) {
      peer->failed = true;
      self->newly_failed_.push_back(peer->rank);
    }
  }
}

void UcxTransport::MarkFailed(int peer, std::string why) {
  if (peers_[size_t(peer)]->failed) return;
  // One failure often follows another: a rank that saw a peer die gives up and exits, and its
  // partners then see *it* fail. So probe the other same-host peers now (failing operations
  // involving them too), and name every failed peer in this one's message: the root cause is
  // among them.
  for (int q = 0; q < size_; ++q) {
    if (q != peer && q != rank_ && !peers_[size_t(q)]->failed && SameHost(q) &&
        LocalProcessExited(processes_[size_t(q)].pid)) {
      SetFailed(q, ExitedMessage(q), ExitedMessage(q));
    }
  }
  std::string full = why;
  int noted = 0;
  for (int q = 0; q < size_; ++q) {
    if (q == peer || !peers_[size_t(q)]->failed) continue;
    if (++noted <= kMaxNotedFailures) full += "; also " + peers_[size_t(q)]->cause;
  }
  if (noted > kMaxNotedFailures) full += fmt::format(" (and {} more)", noted - kMaxNotedFailures);
  SetFailed(peer, std::move(why), std::move(full));
}

void UcxTransport::SetFailed(int peer, std::string cause, std::string full) {
  Peer& p = *peers_[size_t(peer)];
  // INFO, not WARN: at job end every peer that exits first shows up here; what matters reaches
  // the caller through PeerHealth() and the failed requests.
  BRAID_INFO(kNet, "{}", full);
  p.failed = true;
  p.cause = std::move(cause);
  p.failure = std::move(full);
  // Closing endpoints and cancelling requests inside a UCX callback is not allowed; defer.
  newly_failed_.push_back(peer);
}

bool UcxTransport::SameHost(int peer) const {
  return size_t(peer) < processes_.size() && size_t(rank_) < processes_.size() &&
         processes_[size_t(peer)].Locality() == processes_[size_t(rank_)].Locality();
}

std::string UcxTransport::ExitedMessage(int peer) const {
  return fmt::format("rank {} (pid {} on this host) exited", peer, processes_[size_t(peer)].pid);
}

std::string UcxTransport::LeftMessage(int peer) const {
  return fmt::format("rank {} (pid {} on this host) left: it destroyed its communicators", peer,
                     processes_[size_t(peer)].pid);
}

bool UcxTransport::NoteGone(int peer, ucs_status_t status, bool may_progress) {
  if (status == UCS_OK || status == UCS_ERR_MESSAGE_TRUNCATED || status == UCS_ERR_CANCELED) return false;
  if (peers_.empty() || unsigned(peer) >= unsigned(size_) || peers_[size_t(peer)]->failed || !SharesMemory(peer))
    return false;
  // A send into a same-host peer's shared memory fails (UCS_ERR_SHMEM_SEGMENT, "Shared memory
  // error") once the peer destroyed its UCX worker or exited: its segments are gone. Say that,
  // with the words of the health checks, rather than UCX's status alone. The peer's farewell may
  // still be on its way in: HasLeft progresses to find it, where progress is allowed (not inside
  // DrainCompleted); otherwise it is looked for among what arrived already.
  Peer& p = *peers_[size_t(peer)];
  ucp_tag_recv_info_t info;
  if (may_progress) {
    HasLeft(peer);
  } else if (!p.left) {
    p.left = ucp_tag_probe_nb(WorkerOf(peer), FarewellTag(uint32_t(peer)), ~uint64_t(0), /*remove=*/0, &info) !=
             nullptr;
  }
  if (p.failed) return true;  // found dead while progressing (HasLeft's Drive)
  std::string cause;
  if (LocalProcessExited(processes_[size_t(peer)].pid))
    cause = ExitedMessage(peer);
  else if (p.left)
    cause = LeftMessage(peer);
  else if (status == UCS_ERR_SHMEM_SEGMENT)
    cause = fmt::format("rank {} (pid {} on this host) is gone: its shared memory no longer exists (it destroyed its "
                        "communicators or exited)", peer, processes_[size_t(peer)].pid);
  else
    return false;
  MarkFailed(peer, fmt::format("{} (UCX: {})", cause, ucs_status_string(status)));
  return true;
}

Status UcxTransport::OperationError(int peer, bool is_send, bool cancelled, ucs_status_t status, size_t expected,
                                    size_t received, bool may_progress) {
  if (!cancelled) NoteGone(peer, status, may_progress);
  return CompletionError(peer, is_send, cancelled, status, expected, received);
}

void UcxTransport::HandleFailures() {
  while (!newly_failed_.empty()) {
    int peer = newly_failed_.back();
    newly_failed_.pop_back();
    CloseEndpoint(peer, /*force=*/true);  // fails the sends queued on it (error handling only)
    DrainCompleted();                     // so that pending_ holds only unfinished operations
    // Receives are not tied to an endpoint: cancel them (their callbacks run at once, and the
    // drain below reports the peer's failure). Collect first, since completion unlinks.
    std::vector<Op*> recvs;
    for (Op* op = pending_; op; op = op->next)
      if (!op->is_send && op->peer == peer) recvs.push_back(op);
    for (Op* op : recvs) ucp_request_cancel(WorkerOf(op->peer), op);
    DrainCompleted();
    if (!peers_[size_t(peer)]->error_handling) {
      // Without error handling the endpoint cannot be force-closed, and UCX does not complete a
      // send to a dead peer (a rendezvous waiting for its reply stays pending). The peer is gone,
      // so nothing will read from these buffers again: fail the sends now (still tracked).
      std::vector<Op*> sends;
      for (Op* op = pending_; op; op = op->next)
        if (op->is_send && op->peer == peer) sends.push_back(op);
      for (Op* op : sends)
        Abandon(op, Status::RemoteError(
                        fmt::format("send to rank {}: {}", peer, peers_[size_t(peer)]->failure)));
    }
  }
}

unsigned UcxTransport::Drive() {
  unsigned events = 0;
  for (Lane& lane : lanes_)
    if (lane.worker && lane.in_use) events += ucp_worker_progress(lane.worker);
  // What arrived may be another thread's, and that thread may be asleep on the event fd whose
  // events this pass just consumed.
  if (events != 0 && sleepers_.load(std::memory_order_relaxed) != 0) Interrupt();
  DrainCompleted();
  if (!newly_failed_.empty()) HandleFailures();
  if (!closing_.empty()) ReapClosed();
  return events;
}

void UcxTransport::Unlink(Op* op) {
  if (!op->linked) return;
  if (op->prev)
    op->prev->next = op->next;
  else
    pending_ = op->next;
  if (op->next) op->next->prev = op->prev;
  op->linked = false;
}

void UcxTransport::Abandon(Op* op, Status why) {
  if (op->completed) {  // finished after all: deliver its result instead
    DrainCompleted();
    return;
  }
  // Not freed: a UCX request freed unfinished stays in UCX's pool until its peer answers, and if
  // none does before ucp_worker_destroy, UCX warns of it ("was not returned to mpool"). Kept on
  // pending_ without a caller, its callback frees it (Complete), or the destructor, which waits
  // for it a while first (Shutdown).
  Request* user = op->user;
  op->user = nullptr;
  op->lingering = false;
  if (user) {
    user->error = std::move(why);
    user->abandoned = true;
    user->state.store(Request::State::kFailed, std::memory_order_release);
  }
}

void UcxTransport::Release(Op* op) {
  Unlink(op);
  op->magic = 0;
  // An unfinished request goes back to UCX once it completes; no callback runs.
  ucp_request_free(op);
}

void UcxTransport::ReapPolled() {
  for (Op* op = pending_; op;) {
    Op* next = op->next;
    if (op->polled && !op->user && ucp_request_check_status(op) != UCS_INPROGRESS) Release(op);
    op = next;
  }
}

void UcxTransport::InitRequest(void* request) { static_cast<Op*>(request)->magic = 0; }

void UcxTransport::SendDone(void* request, ucs_status_t status, void* user_data) {
  RecvDone(request, status, nullptr, user_data);
}

// Also the send callback. UCX may call it inside ucp_tag_*_nbx (receives are posted with
// NO_IMM_CMPL because UCX 1.13 does not fill recv_info on immediate completion, and a callback is
// the only way to learn the received length); the Op is not set up yet then, so the result is
// parked in immediate_ for the posting code.
void UcxTransport::RecvDone(void* request, ucs_status_t status, const ucp_tag_recv_info_t* info,
                            void* user_data) {
  Op* op = static_cast<Op*>(request);
  const Received got = info ? Received{info->length, info->sender_tag} : Received{};
  if (op->magic != kOpLive) {
    static_cast<UcxTransport*>(user_data)->immediate_ = {true, status, got};
    return;
  }
  op->owner->Defer(op, status, got);
}

void UcxTransport::Defer(Op* op, ucs_status_t status, const Received& got) {
  op->completed = true;
  op->status = status;
  op->got = got;
  op->done_next = nullptr;
  if (done_tail_)
    done_tail_->done_next = op;
  else
    done_head_ = op;
  done_tail_ = op;
}

void UcxTransport::Complete(Op* op) {
  Unlink(op);
  Request* user = op->user;
  const int peer = op->peer;
  const bool is_send = op->is_send, cancelled = op->cancelled;
  const ucs_status_t status = op->status;
  const Received got = op->got;
  op->magic = 0;
  ucp_request_free(op);
  if (is_send && size_t(peer) < peers_.size()) ++peers_[size_t(peer)]->sends_finished;
  if (!user) return;
  ++completions_;
  Finish(user, peer, is_send, cancelled, status, got);
}

void UcxTransport::Finish(Request* user, int peer, bool is_send, bool cancelled,
                          ucs_status_t status, const Received& got) {
  // The common cases first: a send, an exact receive, a packet shorter than its buffer.
  const size_t received = got.bytes;
  if (status == UCS_OK && (is_send || received == user->bytes || (user->accept_shorter && received < user->bytes))) {
    if (!is_send) {
      user->bytes = received;
      user->sender_tag = got.tag;
    }
    user->state.store(Request::State::kDone, std::memory_order_release);
    return;
  }
  Status error = OperationError(peer, is_send, cancelled, status, user->bytes, received, /*may_progress=*/false);
  const bool failed = !error.ok();
  if (failed) user->error = std::move(error);
  // The caller may reuse `user` as soon as it sees the new state: nothing touches it afterwards.
  user->state.store(failed ? Request::State::kFailed : Request::State::kDone,
                    std::memory_order_release);
}

Status UcxTransport::CompletionError(int peer, bool is_send, bool cancelled, ucs_status_t status,
                                     size_t expected, size_t received) const {
  const char* dir = is_send ? "send to" : "receive from";
  if (status == UCS_OK) {  // a receive shorter than expected (UCX fails a longer one)
    return Status::InvalidUsage(fmt::format("message from rank {} too short: expected {} bytes, got {}",
                                            peer, expected, received));
  }
  if (status == UCS_ERR_MESSAGE_TRUNCATED) {
    return Status::InvalidUsage(
        fmt::format("message from rank {} truncated: expected {} bytes{}", peer, expected,
                    received > expected ? fmt::format(", got {}", received) : ""));
  }
  if (cancelled) return Status::Aborted("cancelled");
  if (peers_[size_t(peer)]->failed)
    return Status::RemoteError(fmt::format("{} rank {}: {}", dir, peer, peers_[size_t(peer)]->failure));
  if (status == UCS_ERR_CANCELED) {
    return Status::Aborted(fmt::format(
        "{} rank {} aborted: its endpoint was reset to cancel another send", dir, peer));
  }
  return Status::RemoteError(fmt::format("{} rank {} failed: {}", dir, peer, ucs_status_string(status)));
}

Status UcxTransport::PeerError(int peer, const char* what) const {
  if (peers_.empty()) return Status::InvalidUsage(fmt::format("UCX {} before Connect", what));
  if (peer < 0 || peer >= size_) {
    return Status::InvalidArgument(
        fmt::format("UCX {}: peer rank {} out of range [0, {})", what, peer, size_));
  }
  const Peer& p = *peers_[size_t(peer)];
  if (p.failed) return Status::RemoteError(fmt::format("{} rank {}: {}", what, peer, p.failure));
  return Status::Ok();
}

namespace {
// Passes of UCX progress and one request test that a blocking send or receive makes between two
// rounds of its wait's bookkeeping (WaitPolled).
constexpr int kShortPasses = 4;

// Segment arrays go to UCX as they are, as its iov datatype.
template <typename Segment>
constexpr bool LaidOutAsIov() {
  return sizeof(Segment) == sizeof(ucp_dt_iov_t) && offsetof(Segment, data) == offsetof(ucp_dt_iov_t, buffer) &&
         offsetof(Segment, bytes) == offsetof(ucp_dt_iov_t, length);
}
static_assert(LaidOutAsIov<SendSegment>() && LaidOutAsIov<RecvSegment>(),
              "SendSegment and RecvSegment must be laid out as ucp_dt_iov_t");

ucs_memory_type_t UcsMemoryType(MemoryType mem) {
  return mem == MemoryType::kCuda ? UCS_MEMORY_TYPE_CUDA : UCS_MEMORY_TYPE_HOST;
}
}  // namespace

Status UcxTransport::PostSend(int peer, uint64_t tag, const void* buf, size_t bytes, MemoryType mem,
                              Request* req) {
  return StartSend(peer, tag, buf, bytes, /*iov=*/false, bytes, mem, req);
}

Status UcxTransport::PostSendGather(int peer, uint64_t tag, std::span<const SendSegment> segments, size_t bytes,
                                    Request* req) {
  BRAID_RETURN_IF_ERROR(CheckSegments("gathered send", segments, bytes));
  return StartSend(peer, tag, segments.data(), segments.size(), /*iov=*/true, bytes, MemoryType::kHost, req);
}

void UcxTransport::KeepUntilDestroyed(std::shared_ptr<void> storage) noexcept {
  try {
    TransportLock::Guard guard(lock_);
    kept_.push_back(std::move(storage));
  } catch (...) {
    // Out of memory: leaked rather than freed while UCX may read it (and if even the leak cannot
    // be allocated, freed after all).
    (void)new (std::nothrow) std::shared_ptr<void>(std::move(storage));
  }
}

Status UcxTransport::StartSend(int peer, uint64_t tag, const void* buffer, size_t count, bool iov, size_t bytes,
                               MemoryType mem, Request* req) {
  TransportLock::Guard guard(lock_);
  BRAID_RETURN_IF_ERROR(ReadyToSend(peer));
  // Not zeroed: UCX reads only the fields op_attr_mask names (zeroing all ~80 bytes was a
  // tenth of this function's instructions, once per message of a window).
  ucp_request_param_t params;
  params.op_attr_mask =
      UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_MEMORY_TYPE;
  if (iov) {
    params.op_attr_mask |= UCP_OP_ATTR_FIELD_DATATYPE;
    params.datatype = ucp_dt_make_iov();
  }
  params.cb.send = &UcxTransport::SendDone;
  params.user_data = this;
  params.memory_type = UcsMemoryType(mem);  // given, so UCX skips detecting it per call
  peers_[size_t(peer)]->sent = true;
  return Track(ucp_tag_send_nbx(peers_[size_t(peer)]->ep, buffer, count, tag, &params), peer, true, bytes, req);
}

Status UcxTransport::Reconnect(int peer) {
  Status st = CreateEndpoint(peer);
  if (!st.ok()) return st.WithContext(fmt::format("reconnecting to rank {}", peer));
  return st;
}

Status UcxTransport::PostRecv(int peer, uint64_t tag, void* buf, size_t bytes, MemoryType mem,
                              Request* req) {
  return StartRecv(peer, tag, buf, bytes, /*iov=*/false, bytes, mem, req);
}

Status UcxTransport::PostRecvScatter(int peer, uint64_t tag, std::span<const RecvSegment> segments, size_t bytes,
                                     Request* req) {
  BRAID_RETURN_IF_ERROR(CheckSegments("scattered receive", segments, bytes));
  // UCX reads the array as ucp_dt_iov_t; the cast drops nothing it writes through.
  return StartRecv(peer, tag, const_cast<RecvSegment*>(segments.data()), segments.size(), /*iov=*/true, bytes,
                   MemoryType::kHost, req);
}

Status UcxTransport::StartRecv(int peer, uint64_t tag, void* buffer, size_t count, bool iov, size_t bytes,
                               MemoryType mem, Request* req) {
  TransportLock::Guard guard(lock_);
  BRAID_RETURN_IF_ERROR(CheckPeer(peer, "receive from"));
  ucp_request_param_t params;  // not zeroed, as in StartSend
  params.op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_MEMORY_TYPE | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  if (iov) {
    params.op_attr_mask |= UCP_OP_ATTR_FIELD_DATATYPE;
    params.datatype = ucp_dt_make_iov();
  }
  params.cb.recv = &UcxTransport::RecvDone;
  params.user_data = this;
  params.memory_type = UcsMemoryType(mem);
  // The tag carries the source rank, so matching it matches the peer too (tag_ignore never
  // covers the source's bits).
  return Track(ucp_tag_recv_nbx(WorkerOf(peer), buffer, count, tag, ~req->tag_ignore, &params), peer, false,
               bytes, req);
}

Status UcxTransport::TrackStarted(ucs_status_ptr_t ret, int peer, bool is_send, size_t bytes,
                                  Request* req) {
  if (UCS_PTR_IS_ERR(ret)) {
    immediate_.done = false;
    const char* dir = is_send ? "send to" : "receive from";
    if (NoteGone(peer, UCS_PTR_STATUS(ret), /*may_progress=*/true))
      return Status::RemoteError(
          fmt::format("{} rank {} ({} bytes): {}", dir, peer, bytes, peers_[size_t(peer)]->failure));
    return Status::RemoteError(
        fmt::format("{} rank {} ({} bytes) failed: {}", dir, peer, bytes, ucs_status_string(UCS_PTR_STATUS(ret))));
  }
  StartRequest(req, peer, bytes);
  if (immediate_.done) {
    // Completed inside the call; a size mismatch fails the request although we return OK (the
    // message was consumed).
    immediate_.done = false;
    ucp_request_free(ret);
    Finish(req, peer, is_send, /*cancelled=*/false, immediate_.status, immediate_.got);
    return Status::Ok();
  }
  Op* op = static_cast<Op*>(ret);
  *op = Op{kOpLive, this, req, peer, is_send, /*cancelled=*/false, /*linked=*/true, nullptr, pending_,
           /*completed=*/false, UCS_INPROGRESS, Received{}, nullptr, /*lingering=*/false, /*polled=*/false, 0,
           /*eager=*/false};
  if (pending_) pending_->prev = op;
  pending_ = op;
  req->handle = op;
  req->state.store(Request::State::kPending, std::memory_order_release);
  return Status::Ok();
}

bool UcxTransport::Progress() {
  // Only completions count: UCX also reports its own traffic (wireup, keepalive) as events, and
  // callers restart their no-progress timeout whenever this returns true.
  TransportLock::Guard guard(lock_);
  Drive();
  bool changed = completions_ != completions_seen_;
  completions_seen_ = completions_;
  return changed;
}

void UcxTransport::WaitForActivity(int timeout_us) {
  if (timeout_us < 0) timeout_us = 0;
  TransportLock::Guard guard(lock_);
  pollfd fds[1 + kNumLanes];
  fds[0] = {interrupt_fd_, POLLIN, 0};
  nfds_t nfds = 1;
  bool all_armed = true;
  for (Lane& lane : lanes_) {
    if (!lane.worker || !lane.in_use) continue;
    if (!lane.wakeup) {
      all_armed = false;
      continue;
    }
    // Arming re-enables the fd's notifications; BUSY means events are already queued, so the
    // caller should progress instead of sleeping.
    ucs_status_t st = ucp_worker_arm(lane.worker);
    if (st == UCS_ERR_BUSY) return;
    if (st == UCS_OK) {
      fds[nfds++] = {lane.event_fd, POLLIN, 0};
    } else {
      BRAID_WARN(kNet, "ucp_worker_arm failed ({}); polling from now on", ucs_status_string(st));
      lane.wakeup = false;
      all_armed = false;
    }
  }
  if (!all_armed) {
    // A worker without a wakeup fd: let other ranks sharing our core run, then nap briefly.
    sched_yield();
    timeout_us = std::min(timeout_us, kFallbackNapUs);
  }
  timespec ts{timeout_us / 1000000, long(timeout_us % 1000000) * 1000};
  // Counted before the lock goes: a thread whose progress takes our events after that sees us.
  const bool shared = lock_.enabled();
  if (shared) sleepers_.fetch_add(1, std::memory_order_relaxed);
  guard.Unlock();
  if (ppoll(fds, nfds, &ts, nullptr) > 0 && (fds[0].revents & POLLIN)) {
    uint64_t count;
    [[maybe_unused]] ssize_t n = read(interrupt_fd_, &count, sizeof(count));  // re-arm
  }
  if (shared) sleepers_.fetch_sub(1, std::memory_order_relaxed);
}

void UcxTransport::Interrupt() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(interrupt_fd_, &one, sizeof(one));
}

void UcxTransport::Cancel(Request* req) { CancelRequest(req, /*may_linger=*/false, 0); }

void UcxTransport::CancelAfterFailure(Request* req, uint32_t comm_id) {
  CancelRequest(req, /*may_linger=*/true, comm_id);
}

void UcxTransport::CancelRequest(Request* req, bool may_linger, uint32_t comm_id) {
  TransportLock::Guard guard(lock_);
  DrainCompleted();
  if (req->finished() || req->state.load(std::memory_order_acquire) == Request::State::kIdle ||
      !req->handle) {
    return;
  }
  Op* op = static_cast<Op*>(req->handle);
  op->cancelled = true;
  const char* why = Stop(op->peer, op->is_send, req->bytes, op, [req] { return req->finished(); }, may_linger);
  if (why == kLingering)
    Linger(op, comm_id);
  else if (why)
    Abandon(op, Status::Aborted(why));
}

void UcxTransport::Linger(Op* op, uint32_t comm_id) {
  BRAID_INFO(kNet, "cancelling a send to rank {}: kept until that rank stops or dies", op->peer);
  Request* user = op->user;
  op->user = nullptr;
  op->lingering = true;
  op->comm_id = comm_id;
  op->eager = MayCopyUnmatched(op->peer, op->is_send, user->bytes);
  user->error = Status::Aborted("cancelled");
  user->abandoned = true;  // UCX still holds the send; it may complete or be reset later
  user->state.store(Request::State::kFailed, std::memory_order_release);
}

void UcxTransport::TrackPolled(void* request, int peer, bool is_send, size_t bytes, bool lingering, uint32_t comm_id) {
  if (lingering) BRAID_INFO(kNet, "cancelling a send to rank {}: kept until that rank stops or dies", peer);
  Op* op = static_cast<Op*>(request);
  *op = Op{kOpLive, this, nullptr, peer, is_send, /*cancelled=*/true, /*linked=*/true, nullptr,
           pending_, /*completed=*/false, UCS_INPROGRESS, Received{}, nullptr,
           lingering, /*polled=*/true, comm_id, /*eager=*/lingering && MayCopyUnmatched(peer, is_send, bytes)};
  if (pending_) pending_->prev = op;
  pending_ = op;
}

size_t UcxTransport::SettleCancelledSends(uint32_t comm_id, PeerPredicate stopped, void* arg, bool give_up) {
  TransportLock::Guard guard(lock_);
  Drive();
  using Settle = Peer::Settle;
  auto lingering = [comm_id](const Op* op) { return op->lingering && op->comm_id == comm_id; };
  // Three passes, because asking for a peer's health may progress UCX, which frees Ops: mark the
  // peers, judge each, then walk the (by then settled) list once. Nothing here allocates: it runs
  // on the way out of a call that may have failed for want of memory.
  for (Op* op = pending_; op; op = op->next)
    if (lingering(op)) peers_[size_t(op->peer)]->settle = Settle::kWaiting;
  for (int peer = 0; peer < size_; ++peer) {
    Peer& p = *peers_[size_t(peer)];
    if (p.settle != Settle::kWaiting) continue;
    // Our own receives of the communicator went with the failed call, so sends to ourselves are
    // as good as answered by a stopped peer.
    // A peer whose farewell arrived has destroyed its transport: it reads nothing more either.
    if (!Health(peer).ok())
      p.settle = Settle::kDead;
    else if (peer == rank_ || stopped(arg, peer) || (SharesMemory(peer) && HasLeft(peer)))
      p.settle = Settle::kStopped;
    else if (give_up)
      p.settle = Settle::kGivenUp;
    if (p.settle == Settle::kStopped) {
      // The peer posts nothing that could match these sends. Resetting its endpoint also ends an
      // eager remainder that waits for room in its queue (it would read our buffer later). UCX
      // cannot reset one without error handling, which lingering sends' endpoints are: it is let
      // go (CloseEndpoint), and the sends stay tracked (Abandon below) until UCX finishes them.
      CloseEndpoint(peer, /*force=*/true);
    } else if (p.settle == Settle::kGivenUp) {
      // Left as they are: the failure notice queued behind them still reaches the peer when it
      // wakes up (a reset endpoint would drop it). The destructor does not wait for them again.
      p.settle_gave_up = Clock::now();
      BRAID_WARN(kNet, "a send to rank {} that a failed call cancelled may still be read by UCX if rank {} answers "
                       "it later; keep the call's buffers until every communicator sharing this transport (the "
                       "world and those split from it) is destroyed", peer, peer);
    }
  }
  Drive();  // completes what the resets failed; the walk below then frees nothing but its own op
  // A stopped peer that is still there frees room in its queue as it progresses.
  auto frees_room = [this](int peer) { return peer != rank_ && !peers_[size_t(peer)]->left; };
  size_t left = 0;
  for (Op* op = pending_; op;) {
    Op* next = op->next;
    if (lingering(op)) {
      const Settle verdict = peers_[size_t(op->peer)]->settle;
      // A stopped peer matches nothing more, but UCX still copies an eager send's fragments from
      // our buffer as the peer frees room: wait for it to finish, up to the give-up bound.
      const bool copying = verdict == Settle::kStopped && op->eager && frees_room(op->peer);
      if (op->polled && ucp_request_check_status(op) != UCS_INPROGRESS) {
        Release(op);
      } else if (verdict == Settle::kWaiting || (copying && !give_up)) {
        ++left;
      } else {
        Peer& p = *peers_[size_t(op->peer)];
        if (copying) {  // once per peer: its other sends then take this verdict
          p.settle = Settle::kGivenUp;
          p.settle_gave_up = Clock::now();
          BRAID_WARN(kNet, "a cancelled send to rank {} still waits for room in its queue; UCX may read the call's "
                     "buffer when rank {} makes room: keep it until every communicator sharing this transport is "
                     "destroyed", op->peer, op->peer);
        }
        Abandon(op, Status::Aborted("cancelled"));
      }
    }
    op = next;
  }
  for (auto& p : peers_) p->settle = Settle::kNone;
  return left;
}

bool UcxTransport::Peer::RecentlyStalled(Clock::time_point now) const {
  auto within = [now](Clock::time_point t) { return t != Clock::time_point{} && now - t < kStalledPeerMemory; };
  return within(stop_gave_up) || within(settle_gave_up);
}

bool UcxTransport::MayCopyUnmatched(int peer, bool is_send, size_t bytes) const {
  // Over the shared-memory lane (no error handling, so no forced close) below its rendezvous size.
  return is_send && peer != rank_ && SharesMemory(peer) && !peers_[size_t(peer)]->error_handling &&
         bytes < local_eager_below_;
}

template <typename Finished>
const char* UcxTransport::Stop(int peer, bool is_send, size_t bytes, void* request, Finished finished,
                               bool may_linger) {
  Clock::time_point start = Clock::now();
  Peer& p = *peers_[size_t(peer)];
  const bool stalled = p.RecentlyStalled(start);
  if (!is_send) {
    // Removes an unmatched receive at once; a matched one (rendezvous under way) finishes soon.
    ucp_request_cancel(WorkerOf(peer), request);
  } else {
    // UCX cannot cancel a send. Give it a moment to complete; then force-close the endpoint,
    // which fails everything queued on it, and reconnect on the next send to that peer.
    // The grace is one per burst of cancellations to this peer, and goes on while the peer keeps
    // finishing sends (a live peer drains a queue of eager sends, each then never reads our
    // buffer again), for one send at most kCompletionBound: the lock is held. A stopped peer
    // costs the burst 1 ms, not 1 ms per send. One progress pass always: what already ended is
    // delivered, not reset.
    if (start - p.last_send_cancel > kCancelBurstGap) p.send_grace_end = start + kSendCancelGrace;
    uint64_t seen = p.sends_finished;
    Drive();
    while (!finished()) {
      const Clock::time_point now = Clock::now();
      if (p.sends_finished != seen) {
        seen = p.sends_finished;
        p.send_grace_end = now + kSendCancelGrace;
      }
      if (now >= p.send_grace_end || now - start >= kCompletionBound) break;
      Drive();
    }
    p.last_send_cancel = Clock::now();
    if (!finished() && !may_linger && MayCopyUnmatched(peer, is_send, bytes) && !stalled) {
      // An eager send whose fragments wait for room in the peer's queue: UCX copies each from
      // the caller's buffer as room frees, matched or not, and nothing takes it back. Returning
      // now let UCX read a buffer the caller had unmapped (a group discarded with 2 MiB of
      // 64 KiB sends queued: SIGSEGV in ucp_dt_pack, 3 runs of 3). The peer frees room whenever
      // it progresses, so wait for that, bounded. (After a failure the send lingers instead, and
      // SettleCancelledSends waits for it, once the failure notice is out.)
      while (!finished() && Clock::now() - start < kCompletionBound && Health(peer).ok()) Drive();
      if (!finished() && Health(peer).ok()) {
        p.stop_gave_up = Clock::now();
        BRAID_WARN(kNet, "a cancelled send to rank {} still waits for room in its queue after {} s; UCX may read the "
                   "call's buffer when rank {} makes room: keep it until every communicator sharing this "
                   "transport is destroyed", peer, std::chrono::duration<double>(kCompletionBound).count(), peer);
      }
    }
    if (!finished() && may_linger && !peers_[size_t(peer)]->error_handling && Health(peer).ok()) return kLingering;
    if (!finished()) {
      BRAID_INFO(kNet, "cancelling a send to rank {}: resetting its endpoint", peer);
      CloseEndpoint(peer, /*force=*/true);
      // Without error handling UCX cannot force-close the endpoint (CloseEndpoint only lets it
      // go, so later sends do not queue behind this one) and completes the send only when the
      // peer answers it. Over the shared-memory lane (no cma) the peer cannot read our buffer
      // itself: fail the caller's request now instead of after kCompletionBound; the caller
      // abandons it, and it stays tracked until UCX finishes it (Abandon).
      if (!peers_[size_t(peer)]->error_handling) {
        Drive();
        return finished() ? nullptr : "cancelled";
      }
    }
  }
  // A transfer matched with a peer that has died never completes (the shared-memory lane has no
  // error handling): stop waiting as soon as the peer is known dead, rather than after the bound
  // for every such request in turn.
  while (!stalled && !finished() && Clock::now() - start < kCompletionBound) {
    Drive();
    if (!Health(peer).ok()) break;
  }
  if (stalled) Drive();  // one pass: what has already ended is delivered, not abandoned
  if (finished()) return nullptr;
  if (!Health(peer).ok()) return "cancelled; the peer is dead";
  if (!stalled) {
    p.stop_gave_up = Clock::now();
    BRAID_WARN(kNet, "{} rank {} did not stop within {} s of being cancelled; abandoning it and, for {} s, "
               "its other cancelled transfers",
               is_send ? "send to" : "receive from", peer, std::chrono::duration<double>(kCompletionBound).count(),
               std::chrono::duration<double>(kStalledPeerMemory).count());
  }
  return "cancelled";
}

// SendNow and RecvNow post without a callback and poll UCX's request: a message that arrives
// costs one progress pass and one status test, not a callback, our Op and a wait on a Request.
Status UcxTransport::SendNow(int peer, uint64_t tag, const void* buf, size_t bytes, const IdleCheck& idle) {
  // The common case in a small frame, since it is a ping-pong's critical path (from a receive's
  // completion to the reply leaving): one thread in the transport, a live connected peer, and a
  // send UCX copies out on the spot. 20 instructions fewer per Send than the checked path below
  // (callgrind); docs/PERFORMANCE.md, session 39, has what that did to latency.
  Peer* p = lock_.enabled() ? nullptr : LivePeer(peer);
  if (p && p->ep) {
    p->sent = true;
    ucs_status_ptr_t request = ucp_tag_send_nbx(p->ep, buf, bytes, tag, &kHostSendNowParams);
    if (request == nullptr) return Status::Ok();  // UCX copied it out (most small sends)
    return SendNowWait(nullptr, request, peer, tag, bytes, idle);
  }
  return SendNowChecked(peer, tag, buf, bytes, idle);
}

Status UcxTransport::SendNowChecked(int peer, uint64_t tag, const void* buf, size_t bytes, const IdleCheck& idle) {
  TransportLock::Guard guard(lock_);
  BRAID_RETURN_IF_ERROR(ReadyToSend(peer));
  peers_[size_t(peer)]->sent = true;
  ucs_status_ptr_t request = ucp_tag_send_nbx(peers_[size_t(peer)]->ep, buf, bytes, tag, &kHostSendNowParams);
  if (request == nullptr) return Status::Ok();
  return SendNowWait(&guard, request, peer, tag, bytes, idle);
}

Status UcxTransport::SendNowWait(TransportLock::Guard* guard, ucs_status_ptr_t request, int peer, uint64_t tag,
                                 size_t bytes, const IdleCheck& idle) {
  if (UCS_PTR_IS_ERR(request)) {
    std::optional<TransportLock::Guard> own;  // NoteGone reads the peer's state
    if (!guard) own.emplace(lock_);
    return OperationError(peer, true, false, UCS_PTR_STATUS(request), bytes, 0, /*may_progress=*/true);
  }
  std::optional<TransportLock::Guard> own;  // SendNow's common case: the lock is off on this thread
  if (!guard) guard = &own.emplace(lock_);
  return WaitPolled(*guard, request, peer, /*is_send=*/true, tag, bytes, nullptr, idle);
}

Status UcxTransport::RecvNow(int peer, uint64_t tag, void* buf, size_t capacity, size_t* received,
                             const IdleCheck& idle) {
  TransportLock::Guard guard(lock_);
  BRAID_RETURN_IF_ERROR(CheckPeer(peer, "receive from"));
  ucp_request_param_t params;
  // NO_IMM_CMPL: UCX 1.13 does not report the length of a receive that completes inside the call.
  params.op_attr_mask = UCP_OP_ATTR_FIELD_MEMORY_TYPE | UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  params.memory_type = UCS_MEMORY_TYPE_HOST;
  ucs_status_ptr_t request = ucp_tag_recv_nbx(WorkerOf(peer), buf, capacity, tag, ~uint64_t(0), &params);
  if (UCS_PTR_IS_ERR(request))
    return OperationError(peer, false, false, UCS_PTR_STATUS(request), capacity, 0, /*may_progress=*/true);
  return WaitPolled(guard, request, peer, /*is_send=*/false, tag, capacity, received, idle);
}

bool UcxTransport::Probe(int peer, uint64_t tag) {
  if (peers_.empty() || unsigned(peer) >= unsigned(size_)) return false;
  TransportLock::Guard guard(lock_);
  ucp_tag_recv_info_t info;
  return ucp_tag_probe_nb(WorkerOf(peer), tag, ~uint64_t(0), /*remove=*/0, &info) != nullptr;
}

Status UcxTransport::WaitPolled(TransportLock::Guard& guard, void* request, int peer, bool is_send, uint64_t tag,
                                size_t bytes, size_t* received, const IdleCheck& idle) {
  // A receive's test also reads its length once it finished. (Testing the status alone while
  // polling and reading the length after was 0.08 worse in braid / UCX latency at 512 B in two
  // A/B sets of 10 runs, and no better at 1-64 B: PERFORMANCE.md, session 37.)
  ucp_tag_recv_info_t info{};
  auto test = [&] {
    return is_send ? ucp_request_check_status(request) : ucp_tag_recv_request_test(request, &info);
  };
  ucs_status_t status = test();
  ucp_worker_h worker = WorkerOf(peer);
  while (status == UCS_INPROGRESS) {
    // Short passes first: a small message is seen at the first test after the progress that took
    // it in, so the shorter the pass, the sooner. Drive's bookkeeping (other operations'
    // callbacks, failures, other lanes) and the idle check run once per kShortPasses.
    unsigned events = 0;
    for (int pass = 0; pass < kShortPasses && status == UCS_INPROGRESS; ++pass) {
      events += ucp_worker_progress(worker);
      status = test();
    }
    // Another thread asleep on the event fd may own what these passes took in.
    if (events != 0 && sleepers_.load(std::memory_order_relaxed) != 0) Interrupt();
    if (status != UCS_INPROGRESS) break;
    Drive();
    if ((status = test()) != UCS_INPROGRESS) break;
    // Drive handled a failure of the peer (and failed its tracked receives; this one is ours).
    Status stop;
    if (peers_[size_t(peer)]->failed) {
      stop = PeerError(peer, is_send ? "send to" : "receive from");
    } else {
      guard.Unlock();
      stop = idle();
      guard.Relock();
    }
    if (stop.ok()) continue;
    // Stopped unfinished (UCX releases the request once it completes; nothing reads it then) or
    // cancelled: the wait's error. Completed while being stopped: delivered after all.
    const char* why = Stop(peer, is_send, bytes, request, [&] { return (status = test()) != UCS_INPROGRESS; },
                           /*may_linger=*/true);
    if (why == kLingering) {
      TrackPolled(request, peer, is_send, bytes, /*lingering=*/true, TagCommId(tag));
      return stop;
    }
    if (why) {  // unfinished: tracked until UCX finishes it, as Abandon does
      TrackPolled(request, peer, is_send, bytes, /*lingering=*/false, 0);
      return stop;
    }
    if (status != UCS_OK) {
      ucp_request_free(request);
      return stop;
    }
  }
  ucp_request_free(request);
  if (status == UCS_OK) {
    if (received) *received = info.length;
    return Status::Ok();
  }
  return OperationError(peer, is_send, false, status, bytes, info.length, /*may_progress=*/true);
}

Status UcxTransport::PeerHealth(int peer) {
  TransportLock::Guard guard(lock_);
  Status health = Health(peer);
  if (!health.ok() || !SharesMemory(peer)) return health;
  // HasLeft progresses UCX, which may finish the very wait that asks (the peer's last message
  // came with its farewell; a polled request completes without a callback): after any progress
  // the waiter polls again first, and the next health check (no progress left) decides.
  if (!HasLeft(peer) || drain_progressed_) return health;
  // Its farewell arrived: it destroyed its transport and will send and receive nothing more, so
  // a wait on it would only end at BRAID_TIMEOUT.
  MarkFailed(peer, LeftMessage(peer));
  HandleFailures();
  return Status::RemoteError(peers_[size_t(peer)]->failure);
}

Status UcxTransport::Health(int peer) {
  if (peers_.empty() || peer < 0 || peer >= size_) return CheckPeer(peer, "health of");
  Peer& p = *peers_[size_t(peer)];
  if (!p.failed && peer != rank_ && SameHost(peer) && ProbedExited(peer)) {
    // What the peer sent before it died may already sit in shared memory: deliver it first, so
    // that an operation it completed is not failed after the fact.
    for (int i = 0; i < 4; ++i) Drive();
    MarkFailed(peer, ExitedMessage(peer));
    HandleFailures();
  }
  if (p.failed) return Status::RemoteError(p.failure);
  return Status::Ok();
}

bool UcxTransport::SharesMemory(int peer) const {
  const Peer& p = *peers_[size_t(peer)];
  return peer != rank_ && SameHost(peer) && p.lane == kLocalLane && !p.error_handling;
}

bool UcxTransport::HasLeft(int peer) {
  Peer& p = *peers_[size_t(peer)];
  drain_progressed_ = false;
  if (p.left) return true;
  // The farewell is the peer's last message to us: deliver what is queued before it (each pass
  // takes a bounded number of FIFO entries; messages nobody waits for go to UCX's unexpected
  // queue, where the probe finds them). A queue blocked by a half-written entry stays blocked.
  for (int pass = 0; pass < kFarewellDrainPasses && Drive() != 0; ++pass) drain_progressed_ = true;
  ucp_tag_recv_info_t info;
  p.left = ucp_tag_probe_nb(WorkerOf(peer), FarewellTag(uint32_t(peer)), ~uint64_t(0), /*remove=*/0, &info) !=
           nullptr;
  return p.left;
}

Status UcxTransport::HostPeersHealth(int* failed_peer) {
  if (peers_.empty()) return Status::Ok();
  TransportLock::Guard guard(lock_);
  for (int q = 0; q < size_; ++q) {
    if (!SharesMemory(q) || peers_[size_t(q)]->left) continue;
    Peer& p = *peers_[size_t(q)];
    // A failed shared-memory peer is one whose process was found gone (that lane has no other
    // failure); its farewell may still have come first.
    if (!p.failed && !ProbedExited(q)) continue;
    if (HasLeft(q)) continue;
    if (!p.failed) {
      MarkFailed(q, ExitedMessage(q) + " without leaving: a rank that dies while writing into this rank's "
                                       "shared-memory queue blocks every message behind it");
      HandleFailures();
    }
    *failed_peer = q;
    return Status::RemoteError(p.failure);
  }
  return Status::Ok();
}

void UcxTransport::SayFarewells(const std::vector<bool>& sending) {
  static constexpr char kFarewell = 'F';
  for (int q = 0; q < size_; ++q) {
    Peer& p = *peers_[size_t(q)];
    // An endpoint a Cancel() reset is made again: without a farewell the peer would take this
    // rank's exit for a death.
    // Nor is one made to a peer that left: its shared memory is gone, so UCX could only fail
    // to attach it (and log errors about it), and it reads nothing more anyway.
    if (!SharesMemory(q) || sending[size_t(q)] || p.left || !ReadyToSend(q).ok()) continue;
    ucp_request_param_t params{};
    ucs_status_ptr_t req = ucp_tag_send_nbx(p.ep, &kFarewell, 1, FarewellTag(uint32_t(rank_)), &params);
    if (UCS_PTR_IS_ERR(req)) continue;
    // The flush that follows waits for it; UCX frees the request once it completes.
    if (req != nullptr) ucp_request_free(req);
    p.sent = true;
  }
}

void UcxTransport::DrainUnexpected() {
  for (Lane& lane : lanes_) {
    if (!lane.worker || !lane.in_use) continue;
    ucp_tag_recv_info_t info;
    ucp_tag_message_h message;
    // Only what already arrived: probing makes no progress, so a busy sender cannot keep this going.
    while ((message = ucp_tag_probe_nb(lane.worker, 0, 0, /*remove=*/1, &info))) {
      const uint32_t source = TagSource(info.sender_tag);
      if (info.sender_tag == FarewellTag(source) && source < uint32_t(size_)) peers_[source]->left = true;
      // Every message lands in these 8 bytes, truncated: a rendezvous request is answered at once
      // (UCX sends the peer its acknowledgement and fetches nothing), an eager one is dropped. Not
      // on the stack: a request still unfinished when the worker goes could write to it later.
      static thread_local char sink[8];
      ucp_request_param_t params{};
      ucs_status_ptr_t req = ucp_tag_msg_recv_nbx(lane.worker, sink, sizeof(sink), message, &params);
      if (!UCS_PTR_IS_PTR(req)) continue;  // completed at once (an eager message), or failed
      if (ucp_request_check_status(req) != UCS_INPROGRESS)
        ucp_request_free(req);
      else
        drains_.push_back({req, source});  // an eager message whose other fragments are on their way
    }
  }
}

void UcxTransport::ReapDrains(bool all) {
  std::erase_if(drains_, [all](const Drain& d) {
    if (!all && ucp_request_check_status(d.request) == UCS_INPROGRESS) return false;
    ucp_request_free(d.request);
    return true;
  });
}

bool UcxTransport::AwaitingPeers() {
  // Peers first, then their health: Health may mark a peer failed, which changes pending_.
  std::vector<bool> waiting(size_t(size_), false), draining(size_t(size_), false);
  for (Op* op = pending_; op; op = op->next) waiting[size_t(op->peer)] = true;
  for (const Drain& d : drains_)
    if (d.source < uint32_t(size_)) draining[d.source] = true;
  bool awaiting = false;
  const Clock::time_point now = Clock::now();
  for (int peer = 0; peer < size_; ++peer) {
    if (!waiting[size_t(peer)] && !draining[size_t(peer)]) continue;
    const Peer& p = *peers_[size_t(peer)];
    if (p.left || p.RecentlyStalled(now) || !Health(peer).ok()) continue;
    // A peer with error handling gets its endpoint force-closed next, which completes the
    // requests; the rest of a drained message still has to come from it.
    if (p.error_handling && !draining[size_t(peer)]) continue;
    awaiting = true;
  }
  return awaiting;
}

}  // namespace braid::transport
