// Waiting on in-flight transport requests without burning a core another rank needs, while
// enforcing BRAID_TIMEOUT (no progress for that long -> Timeout naming the peer), Abort(), peer
// liveness (a dead peer -> RemoteError naming it) and the failure notices of other members (one
// that failed -> RemoteError carrying its cause; failure_notice.h).
#pragma once

#include <atomic>
#include <chrono>
#include <vector>

#include "braid/status.h"
#include "transport/transport.h"

namespace braid::runtime {

class FailureNotices;

// Reads BRAID_SPIN_US and BRAID_YIELD_US (once per process); InvalidArgument names a value that is
// not a number of microseconds in [0, 1e9]. Communicator creation calls it, so that a bad value
// fails there rather than in the middle of a wait.
Status LoadWaitPolicy();

// One wait loop's state. Call Idle() each time a poll pass made no progress and Reset() when it
// did; Idle() escalates from spinning (BRAID_SPIN_US, default 20 us) to yielding (BRAID_YIELD_US,
// default 2 ms) to sleeping on the transport's event fd in slices growing from 50 us to 1 ms.
class ProgressWaiter {
 public:
  // `notices` may be null (no notices checked).
  ProgressWaiter(transport::Transport* transport, const std::atomic<bool>* aborted,
                 double timeout_s, FailureNotices* notices);

  // Progress was made: restart the no-progress clock and go back to spinning.
  void Reset();
  // No progress this pass. Returns non-OK when the caller must stop: Aborted, Timeout (after
  // timeout_s without progress), or a RemoteError from the health pass. The caller adds what it
  // was waiting for as context, only then: this runs on every idle pass of a spin, where building
  // that text each time (a format and an allocation) cost more than the message being waited for.
  //
  // The health pass runs every 0.1 s of an idle wait: it asks the transport's PeerHealth about
  // every peer the wait depends on, then looks for failure notices, then asks HostPeersHealth
  // whether any same-host peer died without leaving (a blocked shared-memory queue). `list_peers(&world_ranks)`
  // appends those peers (world ranks; repeats allowed); it is called only on that pass, so it may
  // walk the wait's requests. Every peer, not only the one the oldest request waits for: over
  // UCX shared memory a rank that dies halfway through writing into a peer's receive FIFO
  // blocks everything behind that entry, failure notices included. The peer then learns of the
  // death only from its own liveness probe of the dead rank, though its oldest request may be a
  // send to a live rank that is waiting for the same FIFO.
  template <typename ListPeers>
  Status Idle(const ListPeers& list_peers) {
    Status status;  // one return value for every path (the waiter itself stays trivially destructible)
    switch (Pace(&status)) {
      case Pass::kGoOn:
      case Pass::kStop: return status;
      case Pass::kCheckHealth: {
        std::vector<int> peers;
        list_peers(&peers);
        status = CheckHealth(&peers);
        if (!status.ok()) return status;
        break;
      }
      case Pass::kSleep: break;
    }
    Sleep();
    return status;
  }
  // A pass that made progress, in a wait that may go on making progress for a long time (a
  // collective of many slices): Aborted at once if the communicator was aborted, and every 0.1 s
  // (the clock read every 256 such passes) the health pass over `list_peers`, as Idle runs it.
  // Without it a death or an Abort was seen only once the wait ran dry (QA, session 51: 13-17 s
  // into a broadcast of a million slices).
  template <typename ListPeers>
  Status Busy(const ListPeers& list_peers) {
    if (aborted_ && aborted_->load(std::memory_order_relaxed)) return Status::Aborted("communicator aborted");
    if ((++busy_passes_ & 255) != 0 || !BusyHealthDue()) return Status::Ok();
    std::vector<int> peers;
    list_peers(&peers);
    return CheckHealth(&peers);
  }
  // A wait on one peer (`peer_world_rank` < 0: none).
  Status Idle(int peer_world_rank) {
    return Idle([peer_world_rank](std::vector<int>* peers) {
      if (peer_world_rank >= 0) peers->push_back(peer_world_rank);
    });
  }
  // The world rank whose PeerHealth failed the last Idle, or -1 (the failure was something else).
  int failed_peer() const { return failed_peer_; }

 private:
  enum class Pass { kGoOn, kStop, kCheckHealth, kSleep };
  // The pacing of one idle pass: keep spinning or yielding (kGoOn), stop with *stop (aborted or
  // timed out), or sleep on the transport, after the health pass when one is due.
  Pass Pace(Status* stop);
  // The health pass over `peers` (world ranks; sorted and deduplicated here), then the notices.
  Status CheckHealth(std::vector<int>* peers);
  // Sleeps on the transport's event fd for the next slice.
  void Sleep();
  // Whether 0.1 s passed since Busy's last health pass (the first call starts the clock).
  bool BusyHealthDue();

  using Clock = std::chrono::steady_clock;
  transport::Transport* transport_;
  const std::atomic<bool>* aborted_;
  double timeout_s_;
  FailureNotices* notices_;
  bool clock_started_ = false;  // last_progress_ and last_health_check_ are set
  Clock::time_point last_progress_;
  Clock::time_point last_health_check_;
  unsigned idle_passes_ = 0;
  unsigned busy_passes_ = 0;
  bool busy_clock_started_ = false;
  Clock::time_point last_busy_health_check_;
  int sleep_us_ = 50;  // next WaitForActivity slice, microseconds
  int failed_peer_ = -1;
};

}  // namespace braid::runtime
