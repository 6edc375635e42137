// The blocking forms every transport has: post, then wait through Progress.
#include "transport/transport.h"

#include <algorithm>
#include <cstring>

#include "core/log.h"

namespace braid::transport {
namespace {

// Waits until `req` is finished; on an error from `idle` cancels it and returns that error.
Status WaitFor(Transport* transport, Request* req, const IdleCheck& idle) {
  while (req->state.load(std::memory_order_acquire) == Request::State::kPending) {
    if (transport->Progress()) continue;
    if (Status stop = idle(); !stop.ok()) {
      transport->Cancel(req);
      return stop;
    }
  }
  if (req->state.load(std::memory_order_acquire) == Request::State::kFailed) return req->error;
  return Status::Ok();
}

}  // namespace

// Pieces go through staging_: gathered before the send, scattered after the receive.
Status Transport::SendNow(int peer, uint64_t tag, std::span<const SendPiece> pieces, const IdleCheck& idle) {
  const void* buf = pieces.empty() ? nullptr : pieces[0].data;
  size_t bytes = pieces.empty() ? 0 : pieces[0].bytes;
  if (pieces.size() > 1) {
    staging_.clear();
    for (const SendPiece& p : pieces) {
      const auto* first = static_cast<const std::byte*>(p.data);
      staging_.insert(staging_.end(), first, first + p.bytes);
    }
    buf = staging_.data();
    bytes = staging_.size();
  }
  Request req;
  BRAID_RETURN_IF_ERROR(PostSend(peer, tag, buf, bytes, MemoryType::kHost, &req));
  return WaitFor(this, &req, idle);
}

Status Transport::RecvNow(int peer, uint64_t tag, std::span<const RecvPiece> pieces, size_t* received,
                          const IdleCheck& idle) {
  void* buf = pieces.empty() ? nullptr : pieces[0].data;
  size_t capacity = pieces.empty() ? 0 : pieces[0].bytes;
  if (pieces.size() > 1) {
    capacity = TotalBytes(pieces);
    staging_.resize(capacity);
    buf = staging_.data();
  }
  Request req;
  req.accept_shorter = true;
  BRAID_RETURN_IF_ERROR(PostRecv(peer, tag, buf, capacity, MemoryType::kHost, &req));
  BRAID_RETURN_IF_ERROR(WaitFor(this, &req, idle));
  *received = req.bytes;
  if (pieces.size() > 1) {
    size_t at = 0;
    for (const RecvPiece& p : pieces) {
      const size_t n = std::min(p.bytes, req.bytes - at);
      if (n) std::memcpy(p.data, staging_.data() + at, n);
      at += n;
    }
  }
  return Status::Ok();
}

}  // namespace braid::transport
