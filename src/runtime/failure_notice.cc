#include "runtime/failure_notice.h"

#include <algorithm>
#include <chrono>
#include <string>

#include <fmt/format.h>

#include "core/log.h"
#include "runtime/peer_name.h"

namespace braid::runtime {
namespace {

// How long Announce drives the transport for its notices to leave (milliseconds). A small
// message leaves at once over shared memory or into a socket buffer; this bounds the wait for a
// peer whose queue is full, which then gets its notice later or not at all (best effort).
constexpr int kSendGraceMs = 200;

}  // namespace

FailureNotices::FailureNotices(transport::Transport* transport, const std::vector<int>* world_ranks, int rank,
                               uint32_t comm_id)
    : transport_(transport), world_ranks_(world_ranks), rank_(rank), comm_id_(comm_id) {
  const size_t n = world_ranks_->size();
  if (n < 2) return;
  inbox_ = std::make_unique<transport::Request[]>(n);
  inbox_text_.resize(n * kMaxNoticeBytes);
  for (size_t m = 0; m < n; ++m) {
    if (int(m) == rank_) continue;
    const int world = (*world_ranks_)[m];
    transport::Request& req = inbox_[m];
    req.accept_shorter = true;
    Status posted = transport_->PostRecv(world, NoticeTag(comm_id_, uint32_t(world)), &inbox_text_[m * kMaxNoticeBytes],
                                         kMaxNoticeBytes, transport::MemoryType::kHost, &req);
    if (!posted.ok()) BRAID_INFO(kNet, "not listening for failure notices from {}: {}", PeerName(int(m), *world_ranks_), posted.ToString());
  }
}

FailureNotices::~FailureNotices() {
  const size_t n = world_ranks_->size();
  for (size_t m = 0; m < n && inbox_; ++m) transport_->Cancel(&inbox_[m]);
  for (size_t m = 0; m < n && outbox_; ++m) transport_->Cancel(&outbox_[m]);
}

Status FailureNotices::Heard() {
  if (!heard_.ok() || !inbox_) return heard_;
  const size_t n = world_ranks_->size();
  // Originals first: a relay names the rank that passed the failure on, not where it happened.
  for (char kind : {kOriginal, kRelayed}) {
    for (size_t m = 0; m < n; ++m) {
      const transport::Request& req = inbox_[m];
      if (req.state.load(std::memory_order_acquire) != transport::Request::State::kDone || req.bytes == 0) continue;
      const char* notice = &inbox_text_[m * kMaxNoticeBytes];
      if (notice[0] != kind) continue;
      const std::string text(notice + 1, req.bytes - 1);
      heard_ = Status::RemoteError(fmt::format("{} reported a failure: {}", PeerName(int(m), *world_ranks_), text));
      return heard_;
    }
  }
  return heard_;
}

int FailureNotices::ArrivedFrom(int world_peer) const {
  if (!inbox_) return -1;
  const auto it = std::find(world_ranks_->begin(), world_ranks_->end(), world_peer);
  if (it == world_ranks_->end()) return -1;
  const size_t m = size_t(it - world_ranks_->begin());
  const bool arrived =
      int(m) != rank_ && inbox_[m].state.load(std::memory_order_acquire) == transport::Request::State::kDone;
  return arrived ? int(m) : -1;
}

bool FailureNotices::Stopped(int world_peer) const { return ArrivedFrom(world_peer) >= 0; }

void FailureNotices::Announce(const Status& failure) {
  Send(heard_.ok() ? kOriginal : kRelayed, failure.ToString());
  BRAID_INFO(kNet, "told the other {} ranks of communicator {} that it failed here", world_ranks_->size() - 1, comm_id_);
}

void FailureNotices::AnnounceLeaving() {
  Send(kLeft, "destroyed its communicator");
}

Status FailureNotices::Left(int world_peer) const {
  const int member = ArrivedFrom(world_peer);
  if (member < 0) return Status::Ok();
  const size_t m = size_t(member);
  if (inbox_[m].bytes == 0 || inbox_text_[m * kMaxNoticeBytes] != kLeft) return Status::Ok();
  return Status::RemoteError(
      fmt::format("{} destroyed its communicator while this rank waits on it", PeerName(int(m), *world_ranks_)));
}

void FailureNotices::Send(char kind, const std::string& text) {
  if (announced_ || world_ranks_->size() < 2) return;
  announced_ = true;
  const size_t n = world_ranks_->size();
  outbox_text_.assign(1, kind);
  outbox_text_.insert(outbox_text_.end(), text.begin(),
                      text.begin() + std::ptrdiff_t(std::min(text.size(), kMaxNoticeBytes - 1)));
  outbox_ = std::make_unique<transport::Request[]>(n);
  const uint64_t tag = NoticeTag(comm_id_, uint32_t(transport_->rank()));
  for (size_t m = 0; m < n; ++m) {
    const int world = (*world_ranks_)[m];
    if (int(m) == rank_ || !transport_->PeerHealth(world).ok()) continue;
    // An error means nothing was sent; that member learns of the failure as before.
    (void)transport_->PostSend(world, tag, outbox_text_.data(), outbox_text_.size(), transport::MemoryType::kHost,
                               &outbox_[m]);
  }
  auto leaving = [&] {
    for (size_t m = 0; m < n; ++m)
      if (outbox_[m].state.load(std::memory_order_acquire) == transport::Request::State::kPending) return true;
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSendGraceMs);
  while (leaving() && std::chrono::steady_clock::now() < deadline) {
    if (!transport_->Progress()) transport_->WaitForActivity(100);
  }
}

}  // namespace braid::runtime
