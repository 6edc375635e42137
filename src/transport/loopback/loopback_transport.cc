#include "transport/loopback/loopback_transport.h"

#include <fmt/format.h>

#include "core/log.h"

#include <algorithm>
#include <chrono>
#include <cstring>

namespace braid::transport {

std::shared_ptr<LoopbackFabric> LoopbackFabric::Create(int nranks) {
  if (nranks <= 0 || nranks > kMaxWorldRanks) return nullptr;
  return std::shared_ptr<LoopbackFabric>(new LoopbackFabric(nranks));
}

LoopbackFabric::LoopbackFabric(int nranks) {
  ranks_.reserve(size_t(nranks));
  for (int r = 0; r < nranks; ++r) ranks_.push_back(std::make_unique<RankState>());
}

std::unique_ptr<Transport> LoopbackFabric::Endpoint(int rank) {
  if (rank < 0 || rank >= size()) return nullptr;
  return std::make_unique<LoopbackTransport>(shared_from_this(), rank);
}

Status LoopbackFabric::DeadStatus(int rank) {
  return Status::RemoteError(fmt::format("rank {} (loopback) died", rank));
}

void LoopbackFabric::Wake(int rank) {
  RankState& st = *ranks_[size_t(rank)];
  st.woken = true;
  st.cv.notify_all();
}

void LoopbackFabric::Finish(int owner, Request* req, Status error) {
  bool failed = !error.ok();
  if (failed) req->error = std::move(error);
  // The owner may reuse `req` as soon as it sees the new state: touch nothing of it afterwards.
  req->state.store(failed ? Request::State::kFailed : Request::State::kDone,
                   std::memory_order_release);
  ranks_[size_t(owner)]->finished.fetch_add(1, std::memory_order_release);
  Wake(owner);
}

namespace {

// Copies a message made of `from` pieces into `to` pieces, both in order, stopping when either ends.
void CopySpans(std::span<const SendSegment> from, std::span<const RecvSegment> to) {
  size_t i = 0, read = 0, j = 0, written = 0;
  while (i < from.size() && j < to.size()) {
    const size_t n = std::min(from[i].bytes - read, to[j].bytes - written);
    if (n) std::memcpy(static_cast<std::byte*>(to[j].data) + written, static_cast<const std::byte*>(from[i].data) + read, n);
    read += n;
    written += n;
    if (read == from[i].bytes) ++i, read = 0;
    if (written == to[j].bytes) ++j, written = 0;
  }
}

}  // namespace

void LoopbackFabric::CopyPieces(const Pending& send, const Pending& recv) {
  const size_t sent = send.req->bytes;
  if (send.segments.empty() && recv.scatter.empty()) {
    if (sent > 0 && send.buf != recv.buf) std::memcpy(recv.buf, send.buf, sent);
    return;
  }
  const SendSegment whole_send{send.buf, sent};
  const RecvSegment whole_recv{recv.buf, sent};
  CopySpans(send.segments.empty() ? std::span<const SendSegment>(&whole_send, 1) : send.segments,
                               recv.scatter.empty() ? std::span<const RecvSegment>(&whole_recv, 1) : recv.scatter);
}

void LoopbackFabric::Match(const Pending& send, const Pending& recv) {
  size_t sent = send.req->bytes;
  size_t expected = recv.req->bytes;
  Status recv_error;
  if (sent > expected) {
    recv_error = Status::InvalidUsage(fmt::format(
        "message from rank {} truncated: expected {} bytes, got {}", send.owner, expected, sent));
  } else if (sent < expected && !recv.req->accept_shorter) {
    recv_error = Status::InvalidUsage(fmt::format(
        "message from rank {} too short: expected {} bytes, got {}", send.owner, expected, sent));
  } else {
    CopyPieces(send, recv);
    recv.req->bytes = sent;
    recv.req->sender_tag = send.tag;
  }
  Finish(send.owner, send.req, Status());
  Finish(recv.owner, recv.req, std::move(recv_error));
}

Status LoopbackFabric::Post(int me, int peer, uint64_t tag, void* buf, size_t bytes, bool is_send,
                            Request* req, std::span<const SendSegment> segments,
                            std::span<const RecvSegment> scatter) {
  if (peer < 0 || peer >= size()) {
    return Status::InvalidArgument(fmt::format("peer rank {} out of range [0, {})", peer, size()));
  }
  if (bytes > 0 && buf == nullptr && segments.empty() && scatter.empty())
    return Status::InvalidArgument(fmt::format("null buffer for {} bytes", bytes));
  std::lock_guard<std::mutex> lock(mu_);
  if (ranks_[size_t(me)]->dead) return DeadStatus(me);
  if (ranks_[size_t(peer)]->dead) return DeadStatus(peer);
  req->error = Status();
  req->peer = peer;
  req->bytes = bytes;
  req->abandoned = false;  // the loopback transport always takes a cancelled request back
  req->handle = nullptr;
  req->state.store(Request::State::kPending, std::memory_order_relaxed);
  Pending mine{req, tag, me, peer, buf, segments, scatter};
  // A send waits in the receiver's sends_to_me; a receive waits in the receiver's my_recvs.
  RankState& receiver = *ranks_[size_t(is_send ? peer : me)];
  std::deque<Pending>& candidates = is_send ? receiver.my_recvs : receiver.sends_to_me;
  for (auto it = candidates.begin(); it != candidates.end(); ++it) {
    // For a send, a candidate receive must name us as its source; for a receive, a candidate
    // send must come from the peer we receive from.
    // The receive's tag_ignore bits need not match.
    const uint64_t ignore = is_send ? it->req->tag_ignore : req->tag_ignore;
    if (((it->tag ^ tag) & ~ignore) != 0 || (is_send ? it->other != me : it->owner != peer)) continue;
    Pending other = *it;
    candidates.erase(it);
    if (is_send) {
      Match(mine, other);
    } else {
      Match(other, mine);
    }
    return Status::Ok();
  }
  (is_send ? receiver.sends_to_me : receiver.my_recvs).push_back(mine);
  return Status::Ok();
}

void LoopbackFabric::Cancel(int me, Request* req) {
  std::lock_guard<std::mutex> lock(mu_);
  if (req->finished() || req->state.load(std::memory_order_relaxed) == Request::State::kIdle)
    return;
  // Pending sends sit with their receiver, pending receives with us.
  for (std::deque<Pending>* queue :
       {&ranks_[size_t(req->peer)]->sends_to_me, &ranks_[size_t(me)]->my_recvs}) {
    for (auto it = queue->begin(); it != queue->end(); ++it) {
      if (it->req != req) continue;
      queue->erase(it);
      Finish(me, req, Status::Aborted("cancelled"));
      return;
    }
  }
}

bool LoopbackFabric::HasSend(int me, int peer, uint64_t tag) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const Pending& p : ranks_[size_t(me)]->sends_to_me)
    if (p.owner == peer && p.tag == tag) return true;
  return false;
}

void LoopbackFabric::Forget(int me) {
  std::lock_guard<std::mutex> lock(mu_);
  ranks_[size_t(me)]->left = true;
  for (auto& st : ranks_) {
    for (std::deque<Pending>* queue : {&st->sends_to_me, &st->my_recvs})
      std::erase_if(*queue, [&](const Pending& p) { return p.owner == me; });
  }
}

void LoopbackFabric::KillRank(int rank) {
  if (rank < 0 || rank >= size()) return;
  std::lock_guard<std::mutex> lock(mu_);
  ranks_[size_t(rank)]->dead = true;
  Status dead = DeadStatus(rank);
  for (int r = 0; r < size(); ++r) {
    RankState& st = *ranks_[size_t(r)];
    for (std::deque<Pending>* queue : {&st.sends_to_me, &st.my_recvs}) {
      std::deque<Pending> keep;
      for (const Pending& p : *queue) {
        if (p.owner == rank || p.other == rank) {
          Finish(p.owner, p.req, dead);
        } else {
          keep.push_back(p);
        }
      }
      queue->swap(keep);
    }
  }
  for (int r = 0; r < size(); ++r) Wake(r);
}

void LoopbackFabric::KillRankUnnoticed(int rank) {
  if (rank < 0 || rank >= size()) return;
  std::lock_guard<std::mutex> lock(mu_);
  ranks_[size_t(rank)]->dead = true;
  ranks_[size_t(rank)]->died_unnoticed = true;
}

int LoopbackFabric::DiedWithoutLeaving(int me) {
  std::lock_guard<std::mutex> lock(mu_);
  for (int r = 0; r < size(); ++r) {
    const RankState& st = *ranks_[size_t(r)];
    if (r != me && st.died_unnoticed && !st.left) return r;
  }
  return -1;
}

Status LoopbackFabric::Health(int peer) {
  if (peer < 0 || peer >= size()) {
    return Status::InvalidArgument(fmt::format("peer rank {} out of range [0, {})", peer, size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  return ranks_[size_t(peer)]->dead ? DeadStatus(peer) : Status::Ok();
}

void LoopbackFabric::Wait(int me, int timeout_us) {
  std::unique_lock<std::mutex> lock(mu_);
  RankState& st = *ranks_[size_t(me)];
  st.cv.wait_for(lock, std::chrono::microseconds(timeout_us > 0 ? timeout_us : 0),
                 [&] { return st.woken; });
  st.woken = false;
}

LoopbackTransport::LoopbackTransport(std::shared_ptr<LoopbackFabric> fabric, int rank)
    : fabric_(std::move(fabric)), rank_(rank) {}

// Operations still pending belong to a caller that broke the Request contract; dropping them
// keeps peers from writing into memory that may be gone.
LoopbackTransport::~LoopbackTransport() { fabric_->Forget(rank_); }

Status LoopbackTransport::PostSend(int peer, uint64_t tag, const void* buf, size_t bytes,
                                   MemoryType mem, Request* req) {
  if (mem != MemoryType::kHost)
    return Status::Unsupported("the loopback transport moves host memory only");
  // The fabric only reads a send buffer; the cast lets sends and receives share one queue type.
  return fabric_->Post(rank_, peer, tag, const_cast<void*>(buf), bytes, true, req);
}


Status LoopbackTransport::PostSendGather(int peer, uint64_t tag, std::span<const SendSegment> segments, size_t bytes,
                                         Request* req) {
  BRAID_RETURN_IF_ERROR(CheckSegments("gathered send", segments, bytes));
  return fabric_->Post(rank_, peer, tag, nullptr, bytes, true, req, segments);
}

Status LoopbackTransport::PostRecv(int peer, uint64_t tag, void* buf, size_t bytes, MemoryType mem,
                                   Request* req) {
  if (mem != MemoryType::kHost)
    return Status::Unsupported("the loopback transport moves host memory only");
  return fabric_->Post(rank_, peer, tag, buf, bytes, false, req);
}

Status LoopbackTransport::PostRecvScatter(int peer, uint64_t tag, std::span<const RecvSegment> segments, size_t bytes,
                                          Request* req) {
  BRAID_RETURN_IF_ERROR(CheckSegments("scattered receive", segments, bytes));
  return fabric_->Post(rank_, peer, tag, nullptr, bytes, false, req, {}, segments);
}

bool LoopbackTransport::Progress() {
  // Matching happens when operations are posted; Progress only reports that something finished.
  uint64_t now = fabric_->ranks_[size_t(rank_)]->finished.load(std::memory_order_acquire);
  return seen_finished_.exchange(now, std::memory_order_relaxed) != now;
}

void LoopbackTransport::WaitForActivity(int timeout_us) { fabric_->Wait(rank_, timeout_us); }

void LoopbackTransport::Interrupt() {
  std::lock_guard<std::mutex> lock(fabric_->mu_);
  fabric_->Wake(rank_);
}

void LoopbackTransport::Cancel(Request* req) { fabric_->Cancel(rank_, req); }

Status LoopbackTransport::PeerHealth(int peer) { return fabric_->Health(peer); }

Status LoopbackTransport::HostPeersHealth(int* failed_peer) {
  const int dead = fabric_->DiedWithoutLeaving(rank_);
  if (dead < 0) return Status::Ok();
  *failed_peer = dead;
  return LoopbackFabric::DeadStatus(dead);
}

bool LoopbackTransport::Probe(int peer, uint64_t tag) { return fabric_->HasSend(rank_, peer, tag); }

}  // namespace braid::transport
