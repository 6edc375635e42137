// The blocking forms every transport has: post, then wait through Progress.
#include "transport/transport.h"

#include <fmt/format.h>

#include "core/log.h"

namespace braid::transport {
namespace {

template <typename Segment>
Status CheckPieces(const char* what, std::span<const Segment> segments, size_t bytes) {
  size_t total = 0;
  for (const Segment& piece : segments) total += piece.bytes;
  if (total == bytes) return Status::Ok();
  return Status::Internal(fmt::format("{} of {} bytes whose segments hold {}", what, bytes, total));
}

// Waits until `req` is finished; on an error from `idle` cancels it and returns that error,
// unless it completed before the cancel took: then it was delivered after all, and the caller
// must not act as if it was not (a blocking Recv stopped to take its message in another form
// would wait for one that is already in its buffer).
Status WaitFor(Transport* transport, Request* req, const IdleCheck& idle) {
  while (req->state.load(std::memory_order_acquire) == Request::State::kPending) {
    if (transport->Progress()) continue;
    if (Status stop = idle(); !stop.ok()) {
      transport->Cancel(req);
      if (req->state.load(std::memory_order_acquire) == Request::State::kDone) break;
      return stop;
    }
  }
  if (req->state.load(std::memory_order_acquire) == Request::State::kFailed) return req->error;
  return Status::Ok();
}

}  // namespace

Status Transport::SendNow(int peer, uint64_t tag, const void* buf, size_t bytes, const IdleCheck& idle) {
  Request req;
  BRAID_RETURN_IF_ERROR(PostSend(peer, tag, buf, bytes, MemoryType::kHost, &req));
  return WaitFor(this, &req, idle);
}

Status Transport::RecvNow(int peer, uint64_t tag, void* buf, size_t capacity, size_t* received,
                          const IdleCheck& idle) {
  Request req;
  req.accept_shorter = true;
  BRAID_RETURN_IF_ERROR(PostRecv(peer, tag, buf, capacity, MemoryType::kHost, &req));
  BRAID_RETURN_IF_ERROR(WaitFor(this, &req, idle));
  *received = req.bytes;
  return Status::Ok();
}

Status CheckSegments(const char* what, std::span<const SendSegment> segments, size_t bytes) {
  return CheckPieces(what, segments, bytes);
}

Status CheckSegments(const char* what, std::span<const RecvSegment> segments, size_t bytes) {
  return CheckPieces(what, segments, bytes);
}

}  // namespace braid::transport
