#include "runtime/p2p_engine.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "core/log.h"
#include "runtime/progress.h"

namespace braid::runtime {
namespace {

using transport::MemoryType;
using transport::Request;

// A packet leaves once it holds this many messages, so the receiver unpacks the first ones
// while the sender still adds more (a whole window in one packet would serialise the two).
// 32: 16 cost more in packet sends than it gained in overlap, 64 was no better (1 B-1 KiB
// windows of 64, docs/PERFORMANCE.md).
constexpr uint32_t kFlushMessages = 32;

// A blocking Send or Recv of more than this many bytes (within the inline limit) hands the
// transport its packet in pieces, the payload in place, instead of copying it into and out of a
// packet. Up to 2 KiB the copies cost less than UCX's gathering and scattering of pieces (a
// ping-pong's latency, braid / raw UCX, with pieces from 1 KiB: 1.16 against 1.06 at 1 KiB,
// 1.15 against 1.08 at 2 KiB; above 2 KiB the pieces win: 1.02 against 1.06 at 2.5-3.5 KiB and
// 1.03 against 1.08 at 4 KiB; docs/PERFORMANCE.md, session 23).
constexpr size_t kLoneCopyMaxBytes = 2048;

// Finish's wait loop checks every request of the batch, to see a failure behind a pending one,
// once per this many passes that made no progress (a few microseconds of spinning).
constexpr unsigned kFullScanEvery = 32;

// Point-to-point tags: the top bit of the sequence field marks a packet; otherwise sequence and
// op bits carry the message number (30 bits; numbers only need to differ among messages in
// flight between one pair).
constexpr uint32_t kPacketSeq = 1u << (transport::kTagSeqBits - 1);
constexpr uint32_t kOpMask = (1u << transport::kTagOpBits) - 1;

uint64_t MessageTag(uint32_t comm_id, uint32_t source, uint64_t index) {
  return transport::MakeTag(comm_id, source, uint32_t(index >> transport::kTagOpBits) & (kPacketSeq - 1),
                            true, uint32_t(index) & kOpMask);
}

uint64_t PacketTag(uint32_t comm_id, uint32_t source) {
  return transport::MakeTag(comm_id, source, kPacketSeq, true, 0);
}

}  // namespace

P2pEngine::P2pEngine(const P2pContext& ctx, size_t inline_bytes)
    : ctx_(ctx),
      inline_bytes_(inline_bytes),
      own_rank_(uint32_t(ctx.transport->rank())),
      own_packet_tag_(PacketTag(ctx.comm_id, own_rank_)),
      sends_to_(ctx.world_ranks->size(), 0),
      recvs_from_(ctx.world_ranks->size(), 0),
      inboxes_(ctx.world_ranks->size()),
      open_outbox_(ctx.world_ranks->size(), -1) {}

P2pEngine::~P2pEngine() {
  if (open_) Cancel();
}

void P2pEngine::Begin() {
  open_ = true;
  failure_ = Status::Ok();
  ops_.clear();
  tagged_.clear();
  first_tagged_ = 0;
  outboxes_used_ = 0;
  first_outbox_ = 0;
  receiving_from_.clear();
  packed_outstanding_ = 0;
}

Status P2pEngine::AddTagged(const P2pOp& op, uint64_t index) {
  const size_t k = tagged_.size();
  requests_.Reserve(k + 1);
  Request* req = &requests_[k];
  transport::Transport* net = ctx_.transport;
  const int world_peer = (*ctx_.world_ranks)[op.peer];
  const uint32_t source = op.is_send ? own_rank_ : uint32_t(world_peer);
  const uint64_t tag = MessageTag(ctx_.comm_id, source, index);
  BRAID_RETURN_IF_ERROR(op.is_send ? net->PostSend(world_peer, tag, op.buf, op.bytes, MemoryType::kHost, req)
                                   : net->PostRecv(world_peer, tag, op.buf, op.bytes, MemoryType::kHost, req));
  tagged_.push_back(ops_.size());
  ops_.push_back(op);
  return Status::Ok();
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
  if (box.writer.count() >= kFlushMessages) {
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
  WaitForPacked(op, index, box);
  if (!box.posted) return PostPacketRecv(op.peer, box);
  return Status::Ok();
}

void P2pEngine::WaitForPacked(const P2pOp& op, uint64_t index, Inbox& box) {
  if (box.waiting.size() == box.next) receiving_from_.push_back(op.peer);
  box.waiting.push_back({index, ops_.size()});
  ops_.push_back(op);
  ++packed_outstanding_;
}

Status P2pEngine::PostPacket(Outbox& box) {
  transport::Transport* net = ctx_.transport;
  std::span<const std::byte> packet = box.writer.bytes();
  BRAID_RETURN_IF_ERROR(net->PostSend((*ctx_.world_ranks)[box.peer], own_packet_tag_, packet.data(), packet.size(),
                                      MemoryType::kHost, &box.request));
  box.posted = true;
  return Status::Ok();
}

Status P2pEngine::PostPacketRecv(int peer, Inbox& box) {
  if (box.buffer.size() < kMaxPacketBytes) box.buffer.resize(kMaxPacketBytes);
  box.request.accept_shorter = true;
  const int world_peer = (*ctx_.world_ranks)[peer];
  BRAID_RETURN_IF_ERROR(ctx_.transport->PostRecv(world_peer, PacketTag(ctx_.comm_id, uint32_t(world_peer)),
                                                 box.buffer.data(), kMaxPacketBytes, MemoryType::kHost,
                                                 &box.request));
  box.posted = true;
  return Status::Ok();
}

Status P2pEngine::SizeMismatch(int peer, const P2pOp& op, size_t got) {
  return Status::InvalidUsage(fmt::format("message from rank {} {}: expected {} bytes, got {}", peer,
                                          got > op.bytes ? "truncated" : "too short", op.bytes, got));
}

Status P2pEngine::Unpack(int peer, Inbox& box, size_t packet_bytes) {
  std::span<const std::byte> packet(box.buffer.data(), packet_bytes);
  return ForEachPackedMessage(packet, peer, [&](uint64_t index, std::span<const std::byte> payload) {
    if (box.next < box.waiting.size()) {
      const Waiting& w = box.waiting[box.next];
      if (w.index == index) {
        ++box.next;
        --packed_outstanding_;
        return Deliver(peer, ops_[w.op], payload);
      }
      // Packets arrive in message order, so a waiting receive numbered below this message
      // will never be in one: the peer sent that message tagged, i.e. larger.
      if (w.index < index) {
        return Status::InvalidUsage(fmt::format(
            "message from rank {} truncated: expected {} bytes, got more than {} (send and receive "
            "sizes differ)", peer, ops_[w.op].bytes, inline_bytes_));
      }
    }
    // A message whose receive was posted, not packed: that receive expects more than the
    // inline limit, and this message is within it.
    if (index < recvs_from_[size_t(peer)]) {
      return Status::InvalidUsage(fmt::format(
          "message from rank {} too short: expected more than {} bytes, got {} (send and receive "
          "sizes differ)", peer, inline_bytes_, payload.size()));
    }
    box.early.emplace(index, std::vector<std::byte>(payload.begin(), payload.end()));
    return Status::Ok();
  });
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
  if (next < tagged_.size()) {
    const P2pOp& op = ops_[tagged_[next]];
    *oldest = {op.peer, op.is_send, op.bytes, false};
  }
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
    *oldest = {box.peer, true, box.writer.bytes().size(), true};
  }
  // Packets coming in, for the packed receives still waiting.
  for (int peer : receiving_from_) {
    Inbox& box = *inboxes_[size_t(peer)];
    if (box.next == box.waiting.size()) continue;
    // Add and the repost below keep a packet receive posted while receives wait; never trust the
    // state of one that is not.
    if (!box.posted) BRAID_RETURN_IF_ERROR(PostPacketRecv(peer, box));
    Request::State s = box.request.state.load(std::memory_order_acquire);
    if (s == Request::State::kPending) {
      if (oldest->peer < 0) *oldest = {peer, false, ops_[box.waiting[box.next].op].bytes, false};
      continue;
    }
    box.posted = false;
    if (s == Request::State::kFailed) return box.request.error;
    BRAID_RETURN_IF_ERROR(Unpack(peer, box, box.request.bytes));
    *progressed = true;
    if (box.next == box.waiting.size()) continue;
    BRAID_RETURN_IF_ERROR(PostPacketRecv(peer, box));
    if (oldest->peer < 0) *oldest = {peer, false, ops_[box.waiting[box.next].op].bytes, false};
  }
  *all_done = first_tagged_ == tagged_.size() && first_outbox_ == outboxes_used_ && packed_outstanding_ == 0;
  return Status::Ok();
}

Status P2pEngine::Finish(const std::function<Status()>& between) {
  Status failure = failure_;
  for (size_t k = 0; k < outboxes_used_ && failure.ok(); ++k) {
    Outbox& box = *outboxes_[k];
    if (!box.posted) failure = PostPacket(box);
  }
  // The group's collectives run while the point-to-point traffic progresses underneath.
  if (failure.ok() && between) failure = between();

  transport::Transport* net = ctx_.transport;
  ProgressWaiter waiter(net, ctx_.aborted, ctx_.timeout_s);
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
    failure = waiter.Idle(oldest.peer >= 0 ? (*ctx_.world_ranks)[oldest.peer] : -1);
    if (!failure.ok()) failure = WaitFailure(failure, oldest);
  }
  if (!failure.ok()) {
    Cancel();
    return failure;
  }
  EndBatch();
  return Status::Ok();
}

Status P2pEngine::WaitFailure(const Status& failure, const Outstanding& what) const {
  return failure.WithContext(fmt::format("waiting to {} rank {} ({} bytes{})",
                                         what.is_send ? "send to" : "receive from", what.peer, what.bytes,
                                         what.packet ? ", a packet of small messages" : ""));
}

Status P2pEngine::RunOneAsBatch(const P2pOp& op) {
  Begin();
  (void)Add(op);  // a failure is kept and returned by Finish
  return Finish(nullptr);
}

// The idle check of a blocking Send or Recv: a ProgressWaiter, made only if the first pass does
// not finish, and what was waited for, named in its error.
struct P2pEngine::LoneWait {
  LoneWait(const P2pEngine* e, const Outstanding& w) : engine(e), what(w) {}
  const P2pEngine* engine;
  Outstanding what;
  std::optional<ProgressWaiter> waiter;

  transport::IdleCheck Check() { return {&LoneWait::Idle, this}; }
  static Status Idle(void* arg) {
    LoneWait& self = *static_cast<LoneWait*>(arg);
    const P2pContext& ctx = self.engine->ctx_;
    if (!self.waiter) self.waiter.emplace(ctx.transport, ctx.aborted, ctx.timeout_s);
    Status idle = self.waiter->Idle((*ctx.world_ranks)[self.what.peer]);
    if (idle.ok()) return idle;
    return self.engine->WaitFailure(idle, self.what);
  }
};

Status P2pEngine::SendOne(const P2pOp& op) {
  const uint64_t index = sends_to_[size_t(op.peer)]++;
  const int world_peer = (*ctx_.world_ranks)[op.peer];
  LoneWait wait(this, {op.peer, true, kPacketHeaderBytes + PackedSize(op.bytes), true});
  if (op.bytes <= kLoneCopyMaxBytes) {
    lone_packet_.Reset();
    lone_packet_.Add(index, op.buf, op.bytes);
    const std::span<const std::byte> packet = lone_packet_.bytes();
    return ctx_.transport->SendNow(world_peer, own_packet_tag_, packet.data(), packet.size(), wait.Check());
  }
  static constexpr uint64_t kZeros = 0;
  const std::array<std::byte, kLoneHeaderBytes> header = LoneHeader(index, op.bytes);
  const transport::SendPiece pieces[] = {
      {header.data(), header.size()}, {op.buf, op.bytes}, {&kZeros, PaddingOf(op.bytes)}};
  const size_t count = PaddingOf(op.bytes) ? 3 : 2;
  return ctx_.transport->SendNow(world_peer, own_packet_tag_, std::span(pieces, count), wait.Check());
}

Status P2pEngine::RecvOne(const P2pOp& op) {
  Inbox& box = InboxOf(op.peer);
  if (!box.early.empty() || box.posted) return RunOneAsBatch(op);
  const uint64_t index = recvs_from_[size_t(op.peer)]++;
  if (box.buffer.size() < kMaxPacketBytes) box.buffer.resize(kMaxPacketBytes);
  const int world_peer = (*ctx_.world_ranks)[op.peer];
  const uint64_t tag = PacketTag(ctx_.comm_id, uint32_t(world_peer));
  LoneWait wait(this, {op.peer, false, op.bytes, false});
  std::byte* const bounce = box.buffer.data();
  size_t received = 0;
  uint64_t got = 0;
  std::span<const std::byte> payload;
  if (op.bytes <= kLoneCopyMaxBytes) {
    BRAID_RETURN_IF_ERROR(
        ctx_.transport->RecvNow(world_peer, tag, bounce, kMaxPacketBytes, &received, wait.Check()));
    if (OnlyMessage({bounce, received}, &got, &payload) && got == index) return Deliver(op.peer, op, payload);
  } else {
    // The headers land in the bounce buffer, the payload of a packet of one message straight in
    // the caller's buffer, and whatever follows where a contiguous receive would have put it.
    const size_t tail = kLoneHeaderBytes + op.bytes;
    const transport::RecvPiece pieces[] = {
        {bounce, kLoneHeaderBytes}, {op.buf, op.bytes}, {bounce + tail, kMaxPacketBytes - tail}};
    BRAID_RETURN_IF_ERROR(ctx_.transport->RecvNow(world_peer, tag, pieces, &received, wait.Check()));
    if (OnlyMessage({bounce, received}, &got, &payload) && got == index && payload.size() == op.bytes)
      return Status::Ok();  // already in place
    // Not the message expected alone: the packet is made whole in the bounce buffer for the
    // general path below (the caller's buffer is the receive's until it returns).
    if (received > kLoneHeaderBytes)
      std::memcpy(bounce + kLoneHeaderBytes, op.buf, std::min(op.bytes, received - kLoneHeaderBytes));
    if (OnlyMessage({bounce, received}, &got, &payload) && got == index) return Deliver(op.peer, op, payload);
  }
  // Several messages (the peer sent a group), or not the one expected: the batch path sorts
  // them out, keeping later messages for their receives or naming a size mismatch.
  Begin();
  WaitForPacked(op, index, box);
  if (Status unpacked = Unpack(op.peer, box, received); !unpacked.ok()) {
    Cancel();
    return unpacked;
  }
  return Finish(nullptr);
}

void P2pEngine::Cancel() {
  transport::Transport* net = ctx_.transport;
  for (size_t k = 0; k < tagged_.size(); ++k) net->Cancel(&requests_[k]);
  for (size_t k = 0; k < outboxes_used_; ++k)
    if (outboxes_[k]->posted) net->Cancel(&outboxes_[k]->request);
  for (int peer : receiving_from_) {
    Inbox& box = *inboxes_[size_t(peer)];
    if (box.posted) net->Cancel(&box.request);
    box.posted = false;
  }
  EndBatch();
}

void P2pEngine::EndBatch() {
  for (size_t k = 0; k < outboxes_used_; ++k) open_outbox_[size_t(outboxes_[k]->peer)] = -1;
  for (int peer : receiving_from_) {
    Inbox& box = *inboxes_[size_t(peer)];
    box.waiting.clear();
    box.next = 0;
  }
  open_ = false;
}

}  // namespace braid::runtime
