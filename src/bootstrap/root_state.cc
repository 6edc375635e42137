#include "bootstrap/root_state.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/socket.h>

#include <algorithm>
#include <cmath>
#include <cerrno>
#include <cstring>

#include "bootstrap/rendezvous.h"
#include "core/log.h"

namespace braid::bootstrap {
namespace {

// A client gets at most this long (or the whole timeout, if shorter) to send its full hello.
constexpr double kHelloTimeoutSeconds = 10.0;
// Connections that have not sent their hello yet, at most: past this the oldest is dropped, so
// that strays holding connections open (scanners, health checks) cannot take every descriptor.
// A real rank sends its hello as soon as it connects.
constexpr size_t kMaxPendingConnections = 64;
// The root answers a waiting rank this much before the rank's own wait ends (a quarter of the
// wait, at most 1 s), so that the rank reads which ranks are missing instead of timing out blind.
// A tenth left 0.2 s at a 2 s wait, which one scheduling hiccup on a loaded machine could eat.
constexpr double kAnswerMarginSeconds = 1.0, kAnswerMarginShare = 0.25;
// One warning per this many seconds about connections the root could not accept or dropped.
constexpr double kWarningPeriodSeconds = 5.0;
// After EMFILE/ENFILE the listener stays readable; pause accepting rather than spin.
constexpr auto kAcceptPause = std::chrono::milliseconds(100);
// Bytes read per recv() call.
constexpr size_t kReadChunkBytes = 64 * 1024;

std::string AuthBytes(uint64_t nonce) {
  std::string s;
  PutU64(&s, kUniqueIdMagic);
  PutU64(&s, nonce);
  return s;
}

std::shared_ptr<const std::string> ErrorReply(WireCode code, const std::string& message) {
  std::string text = message.substr(0, kMaxReplyMessageBytes);
  auto out = std::make_shared<std::string>();
  PutU64(out.get(), kReplyMagic);
  PutU32(out.get(), static_cast<uint32_t>(code));
  PutU32(out.get(), static_cast<uint32_t>(text.size()));
  out->append(text);
  return out;
}

}  // namespace

RootState::RootState(std::string where, uint64_t nonce, double timeout_s, EndHook on_end)
    : where_(std::move(where)),
      auth_(AuthBytes(nonce)),
      timeout_s_(timeout_s),
      hello_timeout_s_(std::min(kHelloTimeoutSeconds, timeout_s)),
      deadline_(DeadlineAfter(timeout_s)),
      on_end_(std::move(on_end)) {}

void RootState::EndGathering(std::string outcome) {
  phase_ = Phase::kDraining;
  outcome_ = std::move(outcome);
  if (on_end_) on_end_(outcome_);
}

Clock::time_point RootState::NextDeadline() const {
  Clock::time_point next = Clock::now() + std::chrono::seconds(1);
  if (phase_ == Phase::kGathering) next = std::min(next, deadline_);
  if (accept_paused()) next = std::min(next, accept_paused_until_);
  for (const auto& c : conns_) {
    if (c->state == ConnState::kHello || c->state == ConnState::kReplying)
      next = std::min(next, c->deadline);
  }
  return next;
}

void RootState::AppendPollFds(std::vector<pollfd>* fds) const {
  for (const auto& c : conns_) {
    short events = 0;
    // Joined connections are watched too: a readable one has closed (or misbehaves).
    if (c->state == ConnState::kHello || c->state == ConnState::kJoined) events = POLLIN;
    if (c->state == ConnState::kReplying) events = POLLOUT;
    fds->push_back({c->fd.get(), events, 0});
  }
}

void RootState::HandleEvents(const std::vector<pollfd>& fds, size_t first) {
  for (size_t i = first; i < fds.size() && i - first < conns_.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Conn& c = *conns_[i - first];
    switch (c.state) {
      case ConnState::kHello: ReadHello(c); break;
      case ConnState::kJoined: OnJoinedReadable(c); break;
      case ConnState::kReplying: WriteReply(c); break;
      case ConnState::kClosed: break;
    }
  }
}

bool RootState::WarningDue(std::string* suppressed_note) {
  const Clock::time_point now = Clock::now();
  if (now < next_warning_) {
    ++warnings_suppressed_;
    return false;
  }
  next_warning_ = now + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(kWarningPeriodSeconds));
  *suppressed_note =
      warnings_suppressed_ ? fmt::format(" ({} similar warnings suppressed)", warnings_suppressed_) : std::string();
  warnings_suppressed_ = 0;
  return true;
}

void RootState::WarnAboutConnection(const std::string& text) {
  if (std::string note; WarningDue(&note)) BRAID_WARN(kBoot, "{}{}", text, note);
}

void RootState::DropOldestPending() {
  // While gathering every joined rank holds a connection: fewer others than the cap need no scan
  // (which, with tens of thousands of ranks joined, would cost each accept a pass over them).
  if (conns_.size() - size_t(joined_count_) < kMaxPendingConnections) return;
  size_t pending = 0;
  Conn* oldest = nullptr;
  for (const auto& c : conns_) {
    if (c->state != ConnState::kHello) continue;
    ++pending;
    if (!oldest) oldest = c.get();  // connections are kept in arrival order
  }
  if (pending < kMaxPendingConnections || !oldest) return;
  if (std::string note; WarningDue(&note)) {
    BRAID_WARN(kBoot, "bootstrap root at {}: {} connections have not sent a hello; dropped the oldest ({}){}",
               where_, pending, oldest->peer, note);
  }
  Close(*oldest);
}

void RootState::AcceptAll(int listener_fd) {
  while (phase_ == Phase::kGathering) {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    int fd = accept4(listener_fd, reinterpret_cast<sockaddr*>(&addr), &len,
                     SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        const int err = errno;
        if (std::string note; WarningDue(&note)) {
          BRAID_WARN(kBoot, "bootstrap root at {}: cannot accept a connection: {}; retrying{}", where_,
                     ErrnoString(err), note);
        }
        accept_paused_until_ = Clock::now() + kAcceptPause;
      }
      return;  // EAGAIN: nothing more pending
    }
    DropOldestPending();
    auto c = std::make_unique<Conn>();
    c->fd.Reset(fd);
    c->peer = SockaddrString(reinterpret_cast<sockaddr*>(&addr));
    c->deadline = DeadlineAfter(hello_timeout_s_);
    c->need = kHelloHeaderBytes;
    BRAID_TRACE(kBoot, "bootstrap root at {}: connection from {}", where_, c->peer);
    conns_.push_back(std::move(c));
  }
}

void RootState::ReadHello(Conn& c) {
  char sink[4096];  // a foreign hello's blob lands here and is dropped
  while (c.state == ConnState::kHello && c.in.size() + c.dropped < c.need) {
    size_t old = c.in.size() + c.dropped;
    ssize_t n = 0;
    int err = 0;
    if (c.foreign) {
      n = recv(c.fd.get(), sink, std::min(c.need - old, sizeof sink), 0);
      err = errno;
      c.dropped += static_cast<size_t>(std::max<ssize_t>(n, 0));
    } else {
      size_t want = std::min(c.need - old, kReadChunkBytes);
      c.in.resize(old + want);
      n = recv(c.fd.get(), c.in.data() + old, want, 0);
      err = errno;
      c.in.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
    }
    if (n < 0 && err == EINTR) continue;
    if (n < 0 && (err == EAGAIN || err == EWOULDBLOCK)) return;
    if (n <= 0) {
      if (old == 0) {
        BRAID_INFO(kBoot, "bootstrap root at {}: {} closed without sending anything", where_,
                   c.peer);
      } else {
        WarnAboutConnection(fmt::format("bootstrap root: dropped connection from {}: {} after {} of {} hello bytes",
                                        c.peer, n == 0 ? "closed" : ErrnoString(err), old, c.need));
      }
      Close(c);
      return;
    }
    // Drop strangers as soon as their first bytes disagree with the magic. A braid rank with
    // another nonce is answered once its whole hello is in (RefuseForeign), so that it reads why.
    size_t check = std::min(c.in.size(), sizeof kUniqueIdMagic);
    if (std::memcmp(c.in.data(), auth_.data(), check) != 0) {
      WarnAboutConnection(
          fmt::format("bootstrap root: rejected connection from {}: not a braid hello (wrong magic)", c.peer));
      Close(c);
      return;
    }
    if (c.in.size() == kHelloHeaderBytes && c.need == kHelloHeaderBytes) OnHeader(c);
  }
  if (c.state != ConnState::kHello || c.in.size() + c.dropped != c.need) return;
  if (c.foreign) return RefuseForeign(c);
  OnHello(c);
}

void RootState::RefuseForeign(Conn& c) {
  const HelloHeader h = DecodeHelloHeader(c.in.data());
  const int32_t rank = h.rank;
  // Not remembered among the refusals this job's ranks hear of: it is not one of them.
  const std::string msg = fmt::format(
      "{} (rank {} of another communicator) is not of the one the root at {} serves: its id's nonce differs ({}: a "
      "rank of another job given the same address, or one whose job name differs)",
      c.peer, rank, where_, kOtherCommunicatorHint);
  WarnAboutConnection(fmt::format("bootstrap root at {}: rejected {}", where_, msg));
  Reject(c, WireCode::kInvalidUsage, msg);
}

void RootState::OnHeader(Conn& c) {
  const HelloHeader h = DecodeHelloHeader(c.in.data());
  if (h.protocol != kBootstrapProtocol) {
    std::string msg = fmt::format("{} speaks bootstrap protocol 0x{:08x}, this root 0x{:08x}: every rank must run "
                                  "the same braid build", c.peer, h.protocol, kBootstrapProtocol);
    WarnAboutConnection(fmt::format("bootstrap root at {}: rejected {}", where_, msg));
    Reject(c, WireCode::kInvalidArgument, msg);
    return;
  }
  const uint32_t blob_len = h.blob_len;
  // Another communicator's rank: read its blob without keeping it, then say why (RefuseForeign).
  c.foreign = std::memcmp(c.in.data(), auth_.data(), auth_.size()) != 0;
  if (blob_len > kMaxBlobBytes) {
    const int32_t rank = h.rank;
    std::string msg = fmt::format("rank {} sent a blob of {} bytes; the limit is {} bytes", rank,
                                  blob_len, kMaxBlobBytes);
    WarnAboutConnection(fmt::format("bootstrap root at {}: rejected {}: {}", where_, c.peer, msg));
    Reject(c, WireCode::kInvalidArgument, msg);
    return;
  }
  c.need = kHelloHeaderBytes + blob_len;
}

void RootState::OnHello(Conn& c) {
  const HelloHeader h = DecodeHelloHeader(c.in.data());
  const int32_t rank = h.rank, nranks = h.nranks;
  WireCode code = WireCode::kInvalidArgument;
  std::string msg;
  if (phase_ != Phase::kGathering) {
    code = WireCode::kOther;
    msg = fmt::format("the rendezvous at {} is already over", where_);
  } else if (nranks < 1 || nranks > kMaxRendezvousRanks) {
    msg = fmt::format("rank {} says nranks {}; it must be in [1, {}]", rank, nranks, kMaxRendezvousRanks);
  } else if (h.timeout_ms == 0) {
    msg = fmt::format("rank {} says it waits 0 ms", rank);
  } else if (rank < 0 || rank >= nranks) {
    msg = fmt::format("rank {} out of range [0, {})", rank, nranks);
  } else if (nranks_ >= 0 && nranks != nranks_) {
    msg = fmt::format("nranks mismatch: rank {} says {}, rank {} said {}", rank, nranks,
                      first_rank_, nranks_);
  } else if (nranks_ >= 0 && joined_[rank]) {
    code = WireCode::kInvalidUsage;
    msg = fmt::format("rank {} already joined the rendezvous at {}", rank, where_);
  }
  if (!msg.empty()) {
    WarnAboutConnection(fmt::format("bootstrap root at {}: rejected {}: {}", where_, c.peer, msg));
    if (phase_ == Phase::kGathering && refused_.size() < kMaxRememberedRefusals) refused_.push_back(msg);
    Reject(c, code, msg);
    return;
  }
  if (nranks_ < 0) {
    nranks_ = nranks;
    first_rank_ = rank;
    blobs_.assign(nranks, std::string());
    joined_.assign(nranks, 0);
    left_.assign(nranks, 0);
    first_arrival_ = Clock::now();
  }
  // Give up before the earliest waiting rank does, so that it hears who is missing.
  const double wait_s = h.timeout_ms * 1e-3;
  const Clock::time_point answer_by =
      DeadlineAfter(wait_s - std::min(kAnswerMarginSeconds, kAnswerMarginShare * wait_s));
  // From the first arrival on, the ranks' own waits bound it, not the root process's timeout:
  // ranks that asked for 10 s were failed at 3 s by a root started under BRAID_TIMEOUT=3 (QA).
  deadline_ = deadline_from_ranks_ ? std::min(deadline_, answer_by) : answer_by;
  deadline_from_ranks_ = true;
  left_[rank] = 0;
  blobs_[rank] = c.in.substr(kHelloHeaderBytes);
  joined_[rank] = 1;
  ++joined_count_;
  c.rank = rank;
  c.state = ConnState::kJoined;
  std::string().swap(c.in);
  BRAID_TRACE(kBoot, "bootstrap root at {}: rank {} of {} joined from {} ({}/{})", where_, rank,
              nranks, c.peer, joined_count_, nranks_);
}

void RootState::OnJoinedReadable(Conn& c) {
  char byte;
  ssize_t n = recv(c.fd.get(), &byte, 1, 0);
  if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) return;
  // EOF, an error or unexpected bytes: the rank is gone; free its slot so it may come back.
  BRAID_WARN(kBoot, "bootstrap root at {}: rank {} ({}) {} before the rendezvous completed",
             where_, c.rank, c.peer, n > 0 ? "sent unexpected data" : "disconnected");
  joined_[c.rank] = 0;
  left_[c.rank] = 1;
  std::string().swap(blobs_[c.rank]);
  --joined_count_;
  Close(c);
}

void RootState::Reply(Conn& c, std::shared_ptr<const std::string> reply) {
  c.state = ConnState::kReplying;
  c.out = std::move(reply);
  c.out_offset = 0;
  c.deadline = DeadlineAfter(timeout_s_);
  std::string().swap(c.in);
  WriteReply(c);
}

void RootState::Reject(Conn& c, WireCode code, const std::string& message) {
  Reply(c, ErrorReply(code, message));
}

void RootState::WriteReply(Conn& c) {
  while (c.out_offset < c.out->size()) {
    ssize_t n = send(c.fd.get(), c.out->data() + c.out_offset, c.out->size() - c.out_offset,
                     MSG_NOSIGNAL);
    if (n > 0) {
      c.out_offset += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    BRAID_WARN(kBoot, "bootstrap root at {}: could not reply to {}{}: {}", where_, c.peer,
               c.rank >= 0 ? fmt::format(" (rank {})", c.rank) : "",
               n < 0 ? ErrnoString(errno) : "connection closed");
    Close(c);
    return;
  }
  Close(c);  // fully sent; closing is the end-of-reply marker for nobody but tidy
}

void RootState::Complete() {
  auto reply = std::make_shared<std::string>();
  size_t total = kReplyHeaderBytes;
  for (const auto& b : blobs_) total += 4 + b.size();
  reply->reserve(total);
  PutU64(reply.get(), kReplyMagic);
  PutU32(reply.get(), static_cast<uint32_t>(WireCode::kOk));
  PutU32(reply.get(), static_cast<uint32_t>(nranks_));
  for (const auto& b : blobs_) {
    PutU32(reply.get(), static_cast<uint32_t>(b.size()));
    reply->append(b);
  }
  std::vector<std::string>().swap(blobs_);
  EndGathering(fmt::format("served a communicator of {} ranks", nranks_));
  BRAID_INFO(kBoot, "bootstrap root at {}: all {} ranks joined; sending {} bytes to each",
             where_, nranks_, total);
  for (auto& c : conns_) {
    if (c->state == ConnState::kJoined) Reply(*c, reply);
    else if (c->state == ConnState::kHello) Close(*c);  // strays; the listener closes too
  }
}

namespace {

// "1-5,7": runs collapsed, the list capped (with thousands of ranks a message must stay short).
std::string RankList(const std::vector<int>& missing) {
  // Collapse runs ("1-5,7") and cap the list: with thousands of ranks the message must stay short.
  constexpr int kMaxGroups = 32;
  std::string list;
  int groups = 0;
  for (size_t i = 0; i < missing.size(); ++groups) {
    if (groups == kMaxGroups) {
      list += ",...";
      break;
    }
    size_t j = i;
    while (j + 1 < missing.size() && missing[j + 1] == missing[j] + 1) ++j;
    if (!list.empty()) list += ",";
    if (j == i) list += std::to_string(missing[i]);
    else if (j == i + 1) list += fmt::format("{},{}", missing[i], missing[j]);
    else list += fmt::format("{}-{}", missing[i], missing[j]);
    i = j + 1;
  }
  return list;
}

}  // namespace

std::string RootState::MissingRanks() const {
  if (nranks_ < 0) return "no rank arrived";
  std::vector<int> missing, left;
  for (int r = 0; r < nranks_; ++r) {
    if (joined_[r]) continue;
    (left_[r] ? left : missing).push_back(r);
  }
  std::string text;
  if (!missing.empty()) {
    text = fmt::format("{} {} never arrived", missing.size() == 1 ? "rank" : "ranks", RankList(missing));
  }
  if (!left.empty()) {
    text += fmt::format("{}{} {} joined and disconnected (exited or gave up)", text.empty() ? "" : "; ",
                        left.size() == 1 ? "rank" : "ranks", RankList(left));
  }
  if (!refused_.empty()) {
    text += fmt::format("; refused meanwhile: {}", fmt::join(refused_, "; "));
  }
  return text;
}

void RootState::TimeOut() {
  std::string missing = MissingRanks();
  // Without an arrival the root waited its own timeout; with one, until just before the first
  // waiting rank's wait ends.
  const double waited = !deadline_from_ranks_ ? timeout_s_
                                              : std::chrono::duration<double>(deadline_ - first_arrival_).count();
  std::string msg = fmt::format("rendezvous timed out after {} s: {}", FormatSeconds(std::round(waited * 10) / 10),
                                missing);
  BRAID_WARN(kBoot, "bootstrap root at {}: {} ({} of {} ranks joined)", where_, msg,
             joined_count_, nranks_ < 0 ? std::string("?") : std::to_string(nranks_));
  EndGathering(msg);
  auto reply = ErrorReply(WireCode::kTimeout, msg);
  for (auto& c : conns_) {
    if (c->state == ConnState::kJoined) Reply(*c, reply);
    else if (c->state == ConnState::kHello) Close(*c);
  }
}

void RootState::CheckDeadlines() {
  Clock::time_point now = Clock::now();
  for (auto& c : conns_) {
    if (c->state == ConnState::kHello && now >= c->deadline) {
      WarnAboutConnection(fmt::format("bootstrap root: dropped connection from {}: no complete hello within {} s ({} "
                                      "bytes received)", c->peer, FormatSeconds(hello_timeout_s_), c->in.size()));
      Close(*c);
    } else if (c->state == ConnState::kReplying && now >= c->deadline) {
      BRAID_WARN(kBoot, "bootstrap root at {}: {} did not read its reply within {} s; dropped",
                 where_, c->peer, FormatSeconds(timeout_s_));
      Close(*c);
    }
  }
  if (phase_ == Phase::kGathering && nranks_ > 0 && joined_count_ == nranks_) Complete();
  if (phase_ == Phase::kGathering && now >= deadline_) TimeOut();
  std::erase_if(conns_, [](const auto& c) { return c->state == ConnState::kClosed; });
}

void RootState::CloseAll() {
  for (auto& c : conns_) Close(*c);
  conns_.clear();
}

}  // namespace braid::bootstrap
