// Private to src/transport/ucx: the per-operation record and the constants shared by the
// setup/teardown file (ucx_setup.cc) and the data-path file (ucx_transport.cc).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <cstdint>

#include "transport/ucx/ucx_lane_settings.h"
#include "transport/ucx/ucx_transport.h"

namespace braid::transport {

// From the first transport on, UCX's warnings and errors go to braid's log on stderr instead of
// UCX's stdout (ucx_log.cc); idempotent.
void RouteUcxWarningsToBraidLog();

// Our bookkeeping for one in-flight operation, stored in the space UCX reserves in each of its
// requests (ucp_params_t::request_size), so posting allocates nothing of ours.
struct UcxTransport::Op {
  uint32_t magic;  // kOpLive while we track it; 0 while UCX owns the memory
  UcxTransport* owner;
  Request* user;  // null once abandoned: the callback then only frees the UCX request
  int peer;
  bool is_send;
  bool cancelled;
  bool linked;
  Op* prev;
  Op* next;
  // Set by the callback (Defer) while the operation waits in the done queue.
  bool completed;
  ucs_status_t status;
  Received got;
  Op* done_next;
  // A send that a failed call of communicator `comm_id` cancelled but UCX may still read
  // (UcxTransport::Linger); `polled`: posted without a callback by SendNow, so its completion is
  // found by testing it, not by Defer.
  bool lingering;
  bool polled;
  uint32_t comm_id;
  // A lingering send that UCX may copy from the caller's buffer without the peer matching it (an
  // eager one: UcxTransport::MayCopyUnmatched): a stopped peer does not end it; it is waited for.
  bool eager = false;
};

inline UcxTransport::Op* UcxTransport::NextDone(const Op* op) { return op->done_next; }

namespace ucx_internal {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kOpLive = 0x4272644f;

// How long Cancel() lets a pending send finish by itself before resetting the endpoint, and how
// long Cancel()/the destructor wait for UCX to complete what they asked for. The grace is one
// per peer per burst of cancellations (a failed call cancels thousands of slices at once; 1 ms
// each held a 4-rank all-to-all's survivors 25 s past their timeout): a send cancelled within
// kCancelBurstGap of the previous one to the same peer shares that one's grace, which restarts
// whenever a send to that peer finishes within it (the peer is draining them).
constexpr auto kSendCancelGrace = std::chrono::milliseconds(1);
constexpr auto kCancelBurstGap = std::chrono::milliseconds(100);
constexpr auto kCompletionBound = std::chrono::seconds(2);
// How long a peer that let a cancelled transfer run out kCompletionBound counts as stalled: the
// cancellations of one failure follow each other within it.
constexpr auto kStalledPeerMemory = std::chrono::seconds(10);
// Stop()'s answer for a send it leaves lingering (see UcxTransport::Linger).
inline constexpr const char* kLingering = "lingering";
// How long the destructor lets buffered outgoing data drain to live peers.
constexpr auto kFlushBound = std::chrono::seconds(1);
// How long the destructor waits for live shared-memory peers to answer the rendezvous sends UCX
// still holds (cancelled ones included): ranks that fail together are destroyed together, and
// each answers the other's requests as it goes (UcxTransport::Shutdown). A peer that is still busy
// elsewhere costs this once.
constexpr auto kTeardownSettleBound = std::chrono::seconds(1);
// Without a wakeup fd: the longest nap in WaitForActivity (microseconds).
constexpr int kFallbackNapUs = 50;
// HostPeersHealth's progress passes (at most; it stops at the first that finds nothing) before it
// looks for a dead peer's farewell. A pass takes up to 16 entries of the shared-memory FIFO
// (UCX 1.13's UCT_MM_IFACE_FIFO_MAX_POLL), which has 64 unless BRAID_UCX_LOCAL_FIFO_SIZE says more.
constexpr int kFarewellDrainPasses = 4096;
// At most this many other failed peers are named in a peer's failure message.
constexpr int kMaxNotedFailures = 4;
// Transports of at most this many peers are queried for Describe() (ucp_ep_print_info is slow).
constexpr int kMaxDescribedPeers = 64;

// The UCX errors that mean a peer is gone or cannot be reached, rather than that this rank
// lacks a resource: they become RemoteError naming the peer.
inline bool PeerUnreachable(ucs_status_t status) {
  switch (status) {
    case UCS_ERR_ENDPOINT_TIMEOUT:
    case UCS_ERR_UNREACHABLE:
    case UCS_ERR_CONNECTION_RESET:
    case UCS_ERR_REJECTED:
    case UCS_ERR_NOT_CONNECTED:
      return true;
    default:
      return false;
  }
}

inline Status UcxError(const char* what, ucs_status_t status) {
  return Status::SystemError(fmt::format("{} failed: {}", what, ucs_status_string(status)));
}

}  // namespace ucx_internal
}  // namespace braid::transport
