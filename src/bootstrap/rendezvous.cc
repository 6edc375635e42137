// The client side of the root rendezvous. Wire format: see bootstrap/socket.h.
#include "bootstrap/rendezvous.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <thread>

#include "bootstrap/socket.h"
#include "core/log.h"

namespace braid::bootstrap {
namespace {

// Pause between connection attempts while the root is not up yet.
constexpr auto kConnectRetry = std::chrono::milliseconds(50);
// Longest single connect attempt: an unanswered SYN is retried rather than waited on forever.
constexpr double kConnectAttemptSeconds = 5.0;

// Connects to `addr`, retrying until `deadline`. Refused connections are normal while the root
// has not started listening yet.
Status ConnectWithRetry(const sockaddr_storage& addr, socklen_t addr_len,
                        const std::string& where, double timeout_s, Clock::time_point deadline,
                        Fd* out) {
  std::string last_error = "no attempt finished";
  int last_errno = 0;
  int attempts = 0;
  while (Clock::now() < deadline) {
    ++attempts;
    Fd fd(socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      return Status::SystemError(
          fmt::format("bootstrap: socket() failed: {}", ErrnoString(errno)));
    }
    int rc = connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), addr_len);
    int err = rc == 0 ? 0 : errno;
    if (err == EINPROGRESS || err == EINTR) {
      // The connection proceeds asynchronously; its outcome arrives as SO_ERROR.
      Clock::time_point attempt_end = std::min(deadline, DeadlineAfter(kConnectAttemptSeconds));
      pollfd p{fd.get(), POLLOUT, 0};
      int n;
      do {
        n = poll(&p, 1, PollTimeoutMs(attempt_end));
      } while (n < 0 && errno == EINTR);
      if (n > 0) {
        socklen_t len = sizeof(err);
        if (getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      } else {
        err = n == 0 ? ETIMEDOUT : errno;
      }
    }
    if (err == 0) {
      BRAID_TRACE(kBoot, "bootstrap: connected to rendezvous root {} after {} attempt(s)", where,
                  attempts);
      *out = std::move(fd);
      return Status::Ok();
    }
    last_error = ErrnoString(err);
    last_errno = err;
    fd.Reset();
    // Refusals, resets and timeouts pass once the root listens; these never do. (EADDRNOTAVAIL
    // is left to retry: it also means this host's ephemeral ports are used up for a moment.)
    if (err == EINVAL || err == EAFNOSUPPORT || err == EACCES || err == EPERM) {
      return Status::SystemError(
          fmt::format("bootstrap: cannot connect to rendezvous root {}: {}", where, last_error));
    }
    auto pause = std::min<Clock::duration>(kConnectRetry, deadline - Clock::now());
    if (pause > Clock::duration::zero()) std::this_thread::sleep_for(pause);
  }
  const char* refused_hint = last_errno == ECONNREFUSED
                                 ? "; nothing listens there: the root has not started, or its rendezvous is over (an id "
                                   "serves one creation; its root gives up when no rank arrives within its process's "
                                   "BRAID_TIMEOUT)"
                                 : "";
  return Status::Timeout(fmt::format(
      "bootstrap: could not reach rendezvous root {} within {} s (last error: {}{})", where,
      FormatSeconds(timeout_s), last_error, refused_hint));
}

// Reads the reply with one deadline for all of it; every failure names the root.
class ReplyReader {
 public:
  ReplyReader(int fd, std::string where, double timeout_s, Clock::time_point deadline, int rank,
              int nranks)
      : fd_(fd), where_(std::move(where)), timeout_s_(timeout_s), deadline_(deadline),
        rank_(rank), nranks_(nranks) {}

  Status Read(char* data, size_t len) {
    size_t got = 0;
    int err = 0;
    IoResult r = RecvAll(fd_, data, len, deadline_, &got, &err);
    total_ += got;
    switch (r) {
      case IoResult::kOk: return Status::Ok();
      case IoResult::kTimeout:
        return Status::Timeout(fmt::format(
            "bootstrap: rendezvous at root {} did not complete within {} s (rank {} of {} "
            "joined and waited for the others)",
            where_, FormatSeconds(timeout_s_), rank_, nranks_));
      case IoResult::kClosed:
        if (total_ == 0) {
          return Status::RemoteError(fmt::format(
              "bootstrap: rendezvous root {} closed the connection without replying (it was "
              "stopped, or is no braid root; see its log)",
              where_));
        }
        return Status::RemoteError(fmt::format(
            "bootstrap: rendezvous root {} closed the connection in the middle of its reply "
            "(after {} bytes)",
            where_, total_));
      case IoResult::kError: break;
    }
    return Status::RemoteError(fmt::format(
        "bootstrap: receiving from rendezvous root {} failed: {}", where_, ErrnoString(err)));
  }

 private:
  int fd_;
  std::string where_;
  double timeout_s_;
  Clock::time_point deadline_;
  int rank_;
  int nranks_;
  size_t total_ = 0;
};

Status ErrorFromRoot(WireCode code, const std::string& where, const std::string& text) {
  std::string msg = "bootstrap: " + text;
  switch (code) {
    case WireCode::kInvalidArgument: return Status::InvalidArgument(msg);
    case WireCode::kInvalidUsage: return Status::InvalidUsage(msg);
    case WireCode::kTimeout: return Status::Timeout(msg + fmt::format(" (root {})", where));
    default: return Status::RemoteError(msg + fmt::format(" (root {})", where));
  }
}

}  // namespace

Status Rendezvous(const UniqueId& id, int rank, int nranks, const std::string& my_blob,
                  double timeout_s, std::vector<std::string>* all_blobs) {
  if (all_blobs == nullptr) return Status::InvalidArgument("bootstrap: all_blobs is null");
  if (nranks < 1 || nranks > kMaxRendezvousRanks) {
    return Status::InvalidArgument(fmt::format("nranks {} out of range [1, {}]", nranks, kMaxRendezvousRanks));
  }
  if (rank < 0 || rank >= nranks) {
    return Status::InvalidArgument(fmt::format("rank {} out of range [0, {})", rank, nranks));
  }
  if (my_blob.size() > kMaxBlobBytes) {
    return Status::InvalidArgument(fmt::format(
        "bootstrap: rank {} has {} bytes to exchange; the limit is {} bytes", rank,
        my_blob.size(), kMaxBlobBytes));
  }
  if (!(timeout_s > 0)) {
    return Status::InvalidArgument(
        fmt::format("bootstrap: timeout {} s must be > 0", timeout_s));
  }
  RootAddress root;
  BRAID_RETURN_IF_ERROR(DecodeUniqueId(id, &root));
  std::string where = FormatHostPort(root.host, root.port);
  // An id whose root (in this process) has ended would only be refused until the timeout.
  if (std::string ended = EndedProcessRoot(root.nonce); !ended.empty()) {
    return Status::InvalidUsage(fmt::format(
        "bootstrap: the rendezvous at {} is over: {}. An id serves one communicator's creation (call GetUniqueId "
        "again for the next), and its root waits for the first rank only as long as BRAID_TIMEOUT said when "
        "GetUniqueId ran", where, ended));
  }
  Clock::time_point deadline = DeadlineAfter(timeout_s);

  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  Status s = ResolveHost(root.host, root.port, &addr, &addr_len, nullptr);
  if (!s.ok()) return s.WithContext("bootstrap: rendezvous root");
  Fd fd;
  BRAID_RETURN_IF_ERROR(ConnectWithRetry(addr, addr_len, where, timeout_s, deadline, &fd));

  HelloHeader ours;
  ours.magic = kUniqueIdMagic;
  ours.nonce = root.nonce;
  ours.protocol = kBootstrapProtocol;
  ours.rank = rank;
  ours.nranks = nranks;
  // The root answers before this wait ends: it times out a rendezvous by its ranks' waits. What
  // is left of it, not all of it: connecting may have waited for a root that started late, and
  // an answer due after our deadline would leave this rank to time out blind.
  const double left_ms = std::chrono::duration<double, std::milli>(deadline - Clock::now()).count();
  ours.timeout_ms = static_cast<uint32_t>(std::clamp(std::ceil(left_ms), 1.0, double(UINT32_MAX)));
  ours.blob_len = static_cast<uint32_t>(my_blob.size());
  std::string hello = EncodeHello(ours, my_blob);
  int err = 0;
  IoResult r = SendAll(fd.get(), hello.data(), hello.size(), deadline, &err);
  if (r == IoResult::kTimeout) {
    return Status::Timeout(fmt::format(
        "bootstrap: rendezvous root {} did not take rank {}'s hello within {} s", where, rank,
        FormatSeconds(timeout_s)));
  }
  if (r != IoResult::kOk) {
    return Status::RemoteError(fmt::format(
        "bootstrap: lost the connection to rendezvous root {} while sending rank {}'s hello: {}",
        where, rank, ErrnoString(err)));
  }
  std::string().swap(hello);

  ReplyReader reader(fd.get(), where, timeout_s, deadline, rank, nranks);
  char header[kReplyHeaderBytes];
  BRAID_RETURN_IF_ERROR(reader.Read(header, sizeof(header)));
  if (GetU64(header) != kReplyMagic) {
    return Status::RemoteError(fmt::format(
        "bootstrap: {} sent a reply with wrong magic 0x{:016x}: not a braid rendezvous root",
        where, GetU64(header)));
  }
  auto code = static_cast<WireCode>(GetU32(header + 8));
  uint32_t count = GetU32(header + 12);
  if (code != WireCode::kOk) {
    if (count > kMaxReplyMessageBytes) {
      return Status::RemoteError(fmt::format(
          "bootstrap: rendezvous root {} sent an error message of {} bytes (limit {})", where,
          count, kMaxReplyMessageBytes));
    }
    std::string text(count, '\0');
    BRAID_RETURN_IF_ERROR(reader.Read(text.data(), text.size()));
    return ErrorFromRoot(code, where, text);
  }
  if (count != static_cast<uint32_t>(nranks)) {
    return Status::RemoteError(fmt::format(
        "bootstrap: rendezvous root {} answered for {} ranks; rank {} expected {}", where, count,
        rank, nranks));
  }
  std::vector<std::string> blobs(nranks);
  for (int r2 = 0; r2 < nranks; ++r2) {
    char len_bytes[4];
    BRAID_RETURN_IF_ERROR(reader.Read(len_bytes, sizeof(len_bytes)));
    uint32_t len = GetU32(len_bytes);
    if (len > kMaxBlobBytes) {
      return Status::RemoteError(fmt::format(
          "bootstrap: rendezvous root {} sent {} bytes for rank {} (limit {})", where, len, r2,
          kMaxBlobBytes));
    }
    blobs[r2].resize(len);
    BRAID_RETURN_IF_ERROR(reader.Read(blobs[r2].data(), len));
  }
  if (blobs[rank] != my_blob) {
    return Status::Internal(fmt::format(
        "bootstrap: rendezvous root {} returned a different blob for this rank {} ({} bytes, "
        "sent {})",
        where, rank, blobs[rank].size(), my_blob.size()));
  }
  BRAID_TRACE(kBoot, "bootstrap: rank {} of {} completed the rendezvous at {}", rank, nranks,
              where);
  *all_blobs = std::move(blobs);
  return Status::Ok();
}

}  // namespace braid::bootstrap
