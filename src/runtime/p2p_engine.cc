#include "runtime/p2p_engine.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <memory>
#include <new>
#include <optional>

#include <fmt/format.h>

#include "core/log.h"
#include "runtime/p2p_tags.h"
#include "runtime/peer_name.h"
#include "runtime/progress.h"

namespace braid::runtime {
namespace {

using transport::MemoryType;
using transport::Request;

// A blocking Recv looks for its message in another form (LoneWait) once per this many idle
// passes: often enough that a packet waits a few microseconds at most, rarely enough that a
// ping-pong's few idle passes per message never pay for the two probes.
constexpr unsigned kDiversionProbeEvery = 16;

// Finish's wait loop checks every request of the batch, to see a failure behind a pending one,
// once per this many passes that made no progress (a few microseconds of spinning).
constexpr unsigned kFullScanEvery = 32;

}  // namespace

P2pEngine::P2pEngine(const P2pContext& ctx, size_t inline_bytes)
    : ctx_(ctx),
      inline_bytes_(inline_bytes),
      own_rank_(uint32_t(ctx.transport->rank())),
      self_(int(std::find(ctx.world_ranks->begin(), ctx.world_ranks->end(), int(own_rank_)) -
                ctx.world_ranks->begin())),
      own_packet_tag_(PacketTag(ctx.comm_id, own_rank_)),
      sends_to_(ctx.world_ranks->size(), 0),
      recvs_from_(ctx.world_ranks->size(), 0),
      inboxes_(ctx.world_ranks->size()),
      open_outbox_(ctx.world_ranks->size(), -1) {}

P2pEngine::~P2pEngine() {
  if (open_) Cancel(/*after_failure=*/false);
}

void P2pEngine::Begin() {
  open_ = true;
  failure_ = Status::Ok();
  ops_.clear();
  tagged_.clear();
  tagged_index_.clear();
  first_tagged_ = 0;
  outboxes_used_ = 0;
  first_outbox_ = 0;
  receiving_from_.clear();
  packed_outstanding_ = 0;
  stray_reads_ = 0;
}

Status P2pEngine::AddTagged(const P2pOp& op, uint64_t index) {
  const size_t k = tagged_.size();
  requests_.Reserve(k + 1);
  Request* req = &requests_[k];
  transport::Transport* net = ctx_.transport;
  const int world_peer = (*ctx_.world_ranks)[op.peer];
  // Already here: kept by a blocking Send to self (KeepForSelf), or a packed message read by a
  // stray read (ReadStrayPacket), which Deliver then reports as too short.
  if (Inbox* box = op.is_send ? nullptr : inboxes_[size_t(op.peer)].get(); box && !box->early.empty()) {
    if (auto it = box->early.find(index); it != box->early.end()) {
      Status delivered = Deliver(op.peer, op, it->second);
      box->early.erase(it);
      return delivered;
    }
  }
  const uint32_t source = op.is_send ? own_rank_ : uint32_t(world_peer);
  const uint64_t tag = MessageTag(ctx_.comm_id, source, index);
  // Recorded before it is posted: an allocation failure must not leave a posted request that
  // Cancel cannot find (a recorded one that was never posted is finished or idle to Cancel).
  tagged_.push_back(ops_.size());
  tagged_index_.push_back(index);
  ops_.push_back(op);
  Status posted = op.is_send ? net->PostSend(world_peer, tag, op.buf, op.bytes, MemoryType::kHost, req)
                             : net->PostRecv(world_peer, tag, op.buf, op.bytes, MemoryType::kHost, req);
  if (!posted.ok()) {
    tagged_.pop_back();
    tagged_index_.pop_back();
    ops_.pop_back();
  }
  return posted;
}

Status P2pEngine::AddPackedSend(const P2pOp& op, uint64_t index) {
  int& open = open_outbox_[size_t(op.peer)];
  if (open < 0) {
    if (outboxes_used_ == outboxes_.size()) outboxes_.push_back(std::make_unique<Outbox>());
    open = int(outboxes_used_++);
    Outbox& fresh = *outboxes_[size_t(open)];
    fresh.writer.Reset();
    fresh.peer = op.peer;
    fresh.posted = false;
  }
  Outbox& box = *outboxes_[size_t(open)];
  if (!box.writer.Fits(op.bytes)) {  // full: send it and open the next
    open = -1;
    BRAID_RETURN_IF_ERROR(PostPacket(box));
    return AddPackedSend(op, index);
  }
  box.writer.Add(index, op.buf, op.bytes);
  if (box.writer.count() >= kMaxPacketMessages) {
    open = -1;
    return PostPacket(box);
  }
  return Status::Ok();
}

Status P2pEngine::AddPackedRecv(const P2pOp& op, uint64_t index) {
  Inbox& box = InboxOf(op.peer);
  if (auto it = box.early.find(index); it != box.early.end()) {
    Status delivered = Deliver(op.peer, op, it->second);
    box.early.erase(it);
    return delivered;
  }
  // The packet receive is posted when the batch's receives are known: by the batch's first
  // packet send, or by Finish.
  WaitForPacked(op, index, box);
  return Status::Ok();
}

void P2pEngine::WaitForPacked(const P2pOp& op, uint64_t index, Inbox& box) {
  if (box.waiting.size() == box.next) receiving_from_.push_back(op.peer);
  box.waiting.push_back({index, ops_.size()});
  box.landable += PacketLanding::InPlace(op.bytes);
  ops_.push_back(op);
  ++packed_outstanding_;
}

Status P2pEngine::PostWaitingPacketRecvs() {
  for (int peer : receiving_from_) {
    Inbox& box = *inboxes_[size_t(peer)];
    if (!box.posted && box.next < box.waiting.size()) BRAID_RETURN_IF_ERROR(PostPacketRecv(peer, box));
  }
  return Status::Ok();
}

Status P2pEngine::PostPacket(Outbox& box) {
  // The peer may answer this packet at once (a two-way window): the receives added so far
  // are posted first, so that its packets land where planned, not in UCX's unexpected queue.
  // (A group that sends a buffer and receives into it may then send what it received: see
  // include/braid/comm.h. Posted after the send, the loopback transport's exchange raced too.)
  BRAID_RETURN_IF_ERROR(PostWaitingPacketRecvs());
  PacketWriter& packet = box.writer;
  transport::Transport* net = ctx_.transport;
  const int world_peer = (*ctx_.world_ranks)[box.peer];
  Status posted;
  if (packet.count() == 1) {
    // A packet of one message leaves as a lone message, the receivers' shortest path, straight
    // from the caller's buffer.
    const PacketWriter::Message& only = packet.first();
    posted = net->PostSend(world_peer, LoneTag(ctx_.comm_id, own_rank_, only.index), only.data, only.bytes,
                           MemoryType::kHost, &box.request);
  } else if (packet.contiguous()) {
    posted = net->PostSend(world_peer, own_packet_tag_, packet.staged().data(), packet.size(), MemoryType::kHost,
                           &box.request);
  } else {
    posted = net->PostSendGather(world_peer, own_packet_tag_, packet.Segments(), packet.size(), &box.request);
  }
  BRAID_RETURN_IF_ERROR(posted);
  box.posted = true;
  return Status::Ok();
}

Status P2pEngine::PostPacketRecv(int peer, Inbox& box, bool packet_next) {
  if (!box.landing) box.landing = std::make_unique<PacketLanding>();
  PacketLanding& landing = *box.landing;
  landing.Clear();
  // A plan only pays when something lands in place (windows of small messages skip it).
  const bool plan = box.landable > 0 && !(packet_next && box.waiting.size() - box.next == 1);
  for (size_t k = box.next; plan && k < box.waiting.size(); ++k) {
    const P2pOp& op = ops_[box.waiting[k].op];
    if (!landing.Expect(box.waiting[k].index, op.buf, op.bytes)) break;
  }
  box.request.accept_shorter = true;
  box.request.tag_ignore = kPacketStreamIgnore;
  const int world_peer = (*ctx_.world_ranks)[peer];
  const uint64_t tag = PacketTag(ctx_.comm_id, uint32_t(world_peer));
  transport::Transport* net = ctx_.transport;
  BRAID_RETURN_IF_ERROR(landing.Finish()
                            ? net->PostRecvScatter(world_peer, tag, landing.Segments(), kMaxPacketBytes, &box.request)
                            : net->PostRecv(world_peer, tag, landing.buffer(), kMaxPacketBytes, MemoryType::kHost,
                                            &box.request));
  box.posted = true;
  return Status::Ok();
}

Status P2pEngine::LargerThanExpected(int peer, const P2pOp& op) const {
  return Status::InvalidUsage(fmt::format(
      "message from rank {} truncated: expected {} bytes, got more than {} (send and receive sizes differ)", peer,
      op.bytes, inline_bytes_));
}

Status P2pEngine::SentInAnotherForm(const Outstanding& receive) {
  if (receive.recv_index < 0) return Status::Ok();
  const int world_peer = (*ctx_.world_ranks)[receive.peer];
  const uint64_t index = uint64_t(receive.recv_index);
  if (!receive.tagged) {
    if (!ctx_.transport->Probe(world_peer, MessageTag(ctx_.comm_id, uint32_t(world_peer), index)))
      return Status::Ok();
    return Status::InvalidUsage(fmt::format(
        "message from rank {} truncated: expected {} bytes, got more than {} (send and receive sizes differ)",
        receive.peer, receive.bytes, inline_bytes_));
  }
  if (ctx_.transport->Probe(world_peer, LoneTag(ctx_.comm_id, uint32_t(world_peer), index))) {
    return Status::InvalidUsage(fmt::format(
        "message from rank {} too short: expected {} bytes, got at most {} (send and receive sizes differ)",
        receive.peer, receive.bytes, inline_bytes_));
  }
  Inbox& box = InboxOf(receive.peer);
  if (box.posted || !ctx_.transport->Probe(world_peer, PacketTag(ctx_.comm_id, uint32_t(world_peer))))
    return Status::Ok();
  return ReadStrayPacket(receive.peer, box);
}

Status P2pEngine::ReadStrayPacket(int peer, Inbox& box) {
  if (std::find(receiving_from_.begin(), receiving_from_.end(), peer) == receiving_from_.end())
    receiving_from_.push_back(peer);
  ++stray_reads_;
  return PostPacketRecv(peer, box);
}

Status P2pEngine::SizeMismatch(int peer, const P2pOp& op, size_t got) {
  return Status::InvalidUsage(fmt::format("message from rank {} {}: expected {} bytes, got {}", peer,
                                          got > op.bytes ? "truncated" : "too short", op.bytes, got));
}

Status P2pEngine::Accept(int peer, Inbox& box) {
  PacketLanding& landing = *box.landing;
  const size_t received = box.request.bytes;
  const uint64_t tag = box.request.sender_tag;
  if (IsLoneTag(tag)) {
    // A stray read has no waiting receive; the numbers in flight are near the next one expected.
    const uint64_t near = box.next < box.waiting.size() ? box.waiting[box.next].index : recvs_from_[size_t(peer)];
    return Take(peer, box, LoneIndex(tag, near), landing.Stream(0, received));
  }
  return landing.ForEachMessage(received, peer, [&](uint64_t index, std::span<const std::byte> payload) {
    return Take(peer, box, index, payload);
  });
}

Status P2pEngine::Take(int peer, Inbox& box, uint64_t index, std::span<const std::byte> payload) {
  if (box.next < box.waiting.size()) {
    const Waiting& w = box.waiting[box.next];
    if (w.index == index) {
      ++box.next;
      --packed_outstanding_;
      box.landable -= PacketLanding::InPlace(ops_[w.op].bytes);
      return Deliver(peer, ops_[w.op], payload);
    }
    // The packet stream arrives in message order, so a waiting receive numbered below this
    // message will never be in it: the peer sent that message tagged, i.e. larger.
    if (w.index < index) return LargerThanExpected(peer, ops_[w.op]);
  }
  // A message whose receive was posted, not packed: that receive expects more than the
  // inline limit, and this message is within it.
  if (index < recvs_from_[size_t(peer)]) {
    for (size_t k = first_tagged_; k < tagged_.size(); ++k) {  // in this batch: name its size
      const P2pOp& op = ops_[tagged_[k]];
      if (!op.is_send && op.peer == peer && tagged_index_[k] == index) return SizeMismatch(peer, op, payload.size());
    }
    return Status::InvalidUsage(fmt::format(
        "message from rank {} too short: expected more than {} bytes, got {} (send and receive "
        "sizes differ)", peer, inline_bytes_, payload.size()));
  }
  box.early.emplace(index, std::vector<std::byte>(payload.begin(), payload.end()));
  return Status::Ok();
}

Status P2pEngine::Poll(bool full_scan, bool* progressed, bool* all_done, Outstanding* oldest) {
  *oldest = Outstanding{};
  // Tagged messages: everything before first_tagged_ finished successfully. A window of 64
  // sends and 64 receives scanned in full on every pass cost more than UCX's own work per
  // 2 KiB message; in order, a pass stops at the first pending one.
  size_t next = tagged_.size();
  for (size_t k = first_tagged_; k < tagged_.size(); ++k) {
    const Request& r = requests_[k];
    Request::State s = r.state.load(std::memory_order_acquire);
    if (s == Request::State::kFailed) return r.error;
    if (s != Request::State::kDone && next == tagged_.size()) {
      next = k;
      if (!full_scan) break;
    }
  }
  first_tagged_ = next;
  if (next < tagged_.size()) *oldest = TaggedOutstanding(next);
  // Packets on their way out.
  next = outboxes_used_;
  for (size_t k = first_outbox_; k < outboxes_used_; ++k) {
    const Request& r = outboxes_[k]->request;
    Request::State s = r.state.load(std::memory_order_acquire);
    if (s == Request::State::kFailed) return r.error;
    if (s != Request::State::kDone && next == outboxes_used_) next = k;
  }
  first_outbox_ = next;
  if (next < outboxes_used_ && oldest->peer < 0) {
    const Outbox& box = *outboxes_[next];
    *oldest = PacketOutstanding(box);
  }
  // Packets coming in, for the packed receives still waiting.
  for (int peer : receiving_from_) {
    Inbox& box = *inboxes_[size_t(peer)];
    const bool stray = box.next == box.waiting.size();  // only a stray read can be posted then
    if (stray && !box.posted) continue;
    // Add and the repost below keep a packet receive posted while receives wait; never trust the
    // state of one that is not.
    if (!box.posted) BRAID_RETURN_IF_ERROR(PostPacketRecv(peer, box));
    Request::State s = box.request.state.load(std::memory_order_acquire);
    if (s == Request::State::kPending) {
      if (oldest->peer < 0) *oldest = stray ? StrayOutstanding(peer) : PackedOutstanding(peer, box);
      continue;
    }
    box.posted = false;
    if (stray) --stray_reads_;
    if (s == Request::State::kFailed) return box.request.error;
    BRAID_RETURN_IF_ERROR(Accept(peer, box));
    *progressed = true;
    if (box.next == box.waiting.size()) continue;
    BRAID_RETURN_IF_ERROR(PostPacketRecv(peer, box));
    if (oldest->peer < 0) *oldest = PackedOutstanding(peer, box);
  }
  *all_done = first_tagged_ == tagged_.size() && first_outbox_ == outboxes_used_ && packed_outstanding_ == 0 &&
              stray_reads_ == 0;
  return Status::Ok();
}

Status P2pEngine::Service(bool* progressed) {
  bool all_done = false;
  Outstanding oldest;
  return Poll(/*full_scan=*/false, progressed, &all_done, &oldest);
}

std::vector<P2pEngine::Outstanding> P2pEngine::StillOutstanding() const {
  std::vector<Outstanding> out;
  auto unfinished = [](const Request& r) { return r.state.load(std::memory_order_acquire) != Request::State::kDone; };
  for (size_t k = first_tagged_; k < tagged_.size(); ++k) {
    if (unfinished(requests_[k])) out.push_back(TaggedOutstanding(k));
  }
  for (size_t k = first_outbox_; k < outboxes_used_; ++k) {
    const Outbox& box = *outboxes_[k];
    if (unfinished(box.request)) out.push_back(PacketOutstanding(box));
  }
  for (int peer : receiving_from_) {
    const Inbox& box = *inboxes_[size_t(peer)];
    if (box.next < box.waiting.size()) out.push_back(PackedOutstanding(peer, box));
    else if (box.posted) out.push_back(StrayOutstanding(peer));
  }
  return out;
}

Status P2pEngine::Finish(const std::function<Status()>& between) {
  Status failure = failure_;
  for (size_t k = 0; k < outboxes_used_ && failure.ok(); ++k) {
    Outbox& box = *outboxes_[k];
    if (!box.posted) failure = PostPacket(box);
  }
  if (failure.ok()) failure = PostWaitingPacketRecvs();
  // The group's collectives run while the point-to-point traffic progresses underneath.
  if (failure.ok() && between) failure = between();

  transport::Transport* net = ctx_.transport;
  ProgressWaiter waiter(net, ctx_.aborted, ctx_.timeout_s, ctx_.notices);
  unsigned idle_passes = 0;
  while (failure.ok()) {
    bool progressed = net->Progress();
    bool all_done = false;
    Outstanding oldest;
    // A failure behind a pending request is looked for only every kFullScanEvery idle passes:
    // scanning a window of 64 on every idle pass made each spin ~10x longer than UCX's own
    // progress call (callgrind; the 8 KiB bandwidth did not measurably change, PERFORMANCE.md).
    const bool full_scan = !progressed && ++idle_passes % kFullScanEvery == 0;
    failure = Poll(full_scan, &progressed, &all_done, &oldest);
    if (!failure.ok() || all_done) break;
    if (progressed) {
      idle_passes = 0;
      waiter.Reset();
      continue;
    }
    // Every peer still owed something is watched, not only the oldest's (progress.h says why).
    bool health_pass = false;
    failure = waiter.Idle([&](std::vector<int>* peers) {
      health_pass = true;
      for (const Outstanding& o : StillOutstanding()) peers->push_back((*ctx_.world_ranks)[o.peer]);
    });
    if (failure.ok() && full_scan) failure = SentInAnotherForm(oldest);
    // The oldest receive is looked at often; every receive, on the health pass (a mismatch behind
    // a receive that waits on a slow peer is found within 0.1 s, not after that peer's message).
    if (failure.ok() && health_pass) {
      for (const Outstanding& o : StillOutstanding()) {
        failure = SentInAnotherForm(o);
        if (failure.ok()) continue;
        oldest = o;
        break;
      }
    }
    if (!failure.ok()) {
      for (const Outstanding& o : StillOutstanding()) {
        if ((*ctx_.world_ranks)[o.peer] != waiter.failed_peer()) continue;
        oldest = o;  // name what waited on the failed peer
        break;
      }
      failure = WaitFailure(failure, oldest);
    }
  }
  if (!failure.ok()) {
    Cancel();
    return failure;
  }
  EndBatch();
  return Status::Ok();
}

Status P2pEngine::WaitFailure(const Status& failure, const Outstanding& what) const {
  // To or from itself: nobody else can end the wait, so say so (a group's Recv from self with
  // no Send to self in the group waits for ever, as does a large Send to self with no Recv; QA
  // found "rank 1" in such a message misleading).
  const std::string peer = what.peer == self_ ? fmt::format("self ({}; only this rank's own {} can end it)",
                                                            PeerName(what.peer, *ctx_.world_ranks),
                                                            what.is_send ? "Recv" : "Send")
                                              : PeerName(what.peer, *ctx_.world_ranks);
  return failure.WithContext(fmt::format("waiting to {} {} ({} bytes{})", what.is_send ? "send to" : "receive from",
                                         peer, what.bytes, what.packet ? ", a packet of small messages" : ""));
}

Status P2pEngine::KeepForSelf(const P2pOp& op) {
  const uint64_t index = sends_to_[size_t(op.peer)]++;
  const auto* data = static_cast<const std::byte*>(op.buf);
  InboxOf(op.peer).early.emplace(index, std::vector<std::byte>(data, data + op.bytes));
  return Status::Ok();
}

Status P2pEngine::NothingSentToSelfError(const P2pOp& op) const {
  return Status::InvalidArgument(fmt::format(
      "recv of {} bytes from self (rank {}) outside a group: no message sent to self is waiting, and none can be "
      "sent while this call blocks (post the Send and the Recv in one GroupStart/GroupEnd)",
      op.bytes, self_));
}

Status P2pEngine::RunOneAsBatch(const P2pOp& op) {
  if (op.peer == self_ && NothingSentToSelf(op)) return NothingSentToSelfError(op);  // RunOne kept self's sends
  Begin();
  (void)Add(op);  // a failure is kept and returned by Finish
  return Finish(nullptr);
}

// The idle check of a blocking Send or Recv: a ProgressWaiter, made only if the first pass does
// not finish, and what was waited for, named in its error. A blocking Recv's check also looks,
// every kDiversionProbeEvery idle passes, for its message sent in another form than the lone
// one it posted for: in a packet (the peer sent it in a group), or tagged (the peer sent it
// larger than the inline limit). It then stops the wait and says which (`diverted`).
struct P2pEngine::LoneWait {
  enum class Diverted : uint8_t { kNo, kPacket, kTagged };
  // Only what a wait that ends on its first pass needs is set here: SendOne builds one for every
  // small Send, on a ping-pong's critical path. Idle works out the rest.
  LoneWait(const P2pEngine* e, const P2pOp& o) : engine(e), op(&o) {}
  const P2pEngine* engine;
  const P2pOp* op;
  std::optional<ProgressWaiter> waiter;
  uint64_t index = 0;  // a Recv's message number
  unsigned idle_passes = 0;
  bool probe = false;  // a Recv of message `index`: look for its other forms
  Diverted diverted = Diverted::kNo;

  transport::IdleCheck Check() { return {&LoneWait::Idle, this}; }
  static Status Idle(void* arg) {
    LoneWait& self = *static_cast<LoneWait*>(arg);
    const P2pContext& ctx = self.engine->ctx_;
    const int world_peer = (*ctx.world_ranks)[self.op->peer];
    if (self.probe && ++self.idle_passes % kDiversionProbeEvery == 0) {
      if (ctx.transport->Probe(world_peer, PacketTag(ctx.comm_id, uint32_t(world_peer))))
        self.diverted = Diverted::kPacket;
      else if (ctx.transport->Probe(world_peer, MessageTag(ctx.comm_id, uint32_t(world_peer), self.index)))
        self.diverted = Diverted::kTagged;
      if (self.diverted != Diverted::kNo) return Status::Aborted("the message came in another form");
    }
    if (!self.waiter) self.waiter.emplace(ctx.transport, ctx.aborted, ctx.timeout_s, ctx.notices);
    Status idle = self.waiter->Idle(world_peer);
    if (idle.ok()) return idle;
    return self.engine->WaitFailure(idle, {self.op->peer, self.op->is_send, self.op->bytes, false});
  }
};

Status P2pEngine::SendOne(const P2pOp& op) {
  const uint64_t index = sends_to_[size_t(op.peer)]++;
  LoneWait wait(this, op);
  return ctx_.transport->SendNow((*ctx_.world_ranks)[op.peer], LoneTag(ctx_.comm_id, own_rank_, index), op.buf,
                                 op.bytes, wait.Check());
}

Status P2pEngine::RecvOne(const P2pOp& op) {
  if (NothingSentToSelf(op)) return NothingSentToSelfError(op);
  Inbox& box = InboxOf(op.peer);
  if (!box.early.empty() || box.posted) return RunOneAsBatch(op);
  const uint64_t index = recvs_from_[size_t(op.peer)]++;
  const int world_peer = (*ctx_.world_ranks)[op.peer];
  LoneWait wait(this, op);
  wait.probe = true;
  wait.index = index;
  // The lone message lands in the caller's buffer; nothing else matches its tag.
  size_t received = 0;
  Status got = ctx_.transport->RecvNow(world_peer, LoneTag(ctx_.comm_id, uint32_t(world_peer), index), op.buf,
                                       op.bytes, &received, wait.Check());
  if (got.ok()) return received == op.bytes ? Status::Ok() : SizeMismatch(op.peer, op, received);
  switch (wait.diverted) {
    case LoneWait::Diverted::kNo: return got;
    case LoneWait::Diverted::kTagged: return LargerThanExpected(op.peer, op);
    case LoneWait::Diverted::kPacket: break;
  }
  // The batch path takes the packet: it delivers this message, keeps the packet's later ones for
  // their receives, or names a size mismatch.
  Begin();
  WaitForPacked(op, index, box);
  if (Status posted = PostPacketRecv(op.peer, box, /*packet_next=*/true); !posted.ok()) failure_ = posted;
  return Finish(nullptr);  // returns a failure kept above
}

void P2pEngine::Cancel(bool after_failure) {
  transport::Transport* net = ctx_.transport;
  auto cancel = [&](transport::Request* req) {
    if (after_failure)
      net->CancelAfterFailure(req, ctx_.comm_id);
    else
      net->Cancel(req);
  };
  for (size_t k = 0; k < tagged_.size(); ++k) cancel(&requests_[k]);
  for (size_t k = 0; k < outboxes_used_; ++k)
    if (outboxes_[k]->posted) cancel(&outboxes_[k]->request);
  for (int peer : receiving_from_) {
    Inbox& box = *inboxes_[size_t(peer)];
    if (!box.posted) continue;
    cancel(&box.request);
    box.posted = false;
    // A receive under way that the transport abandoned may still write where it was planned to
    // land: the landing (buffer and segment array) goes with it. (The callers' buffers are theirs,
    // as for any abandoned receive.)
    if (box.request.abandoned) HandOver(box.landing);
  }
  EndBatch();
  HandOverCancelledPackets();
}

template <typename T>
void P2pEngine::HandOver(std::unique_ptr<T>& owned) noexcept {
  try {
    ctx_.transport->KeepUntilDestroyed(std::shared_ptr<T>(std::move(owned)));
  } catch (const std::bad_alloc&) {
    (void)owned.release();  // no memory to hand it over: leaked, never freed while it may be used
  }
}

void P2pEngine::HandOverCancelledPackets() noexcept {
  bool handed = false;
  for (std::unique_ptr<Outbox>& box : outboxes_) {
    if (!box->posted || !box->request.abandoned) continue;
    HandOver(box);
    handed = true;
  }
  if (!handed) return;
  std::erase(outboxes_, nullptr);
  outboxes_used_ = first_outbox_ = 0;  // the batch is over; Begin starts from the front again
}

void P2pEngine::EndBatch() {
  for (size_t k = 0; k < outboxes_used_; ++k) open_outbox_[size_t(outboxes_[k]->peer)] = -1;
  for (int peer : receiving_from_) {
    Inbox& box = *inboxes_[size_t(peer)];
    box.waiting.clear();
    box.next = 0;
    box.landable = 0;
  }
  open_ = false;
}

}  // namespace braid::runtime
