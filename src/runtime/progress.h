// Waiting on in-flight transport requests without burning a core another rank needs, while
// enforcing BRAID_TIMEOUT (no progress for that long -> Timeout naming the peer), Abort(), peer
// liveness (a dead peer -> RemoteError naming it) and the failure notices of other members (one
// that failed -> RemoteError carrying its cause; failure_notice.h).
#pragma once

#include <atomic>
#include <chrono>

#include "braid/status.h"
#include "transport/transport.h"

namespace braid::runtime {

class FailureNotices;

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
  // timeout_s without progress), or a RemoteError from the transport's
  // PeerHealth(`peer_world_rank`) check (peer < 0: skip) or from a failure notice. The caller adds what it was waiting
  // for as context, only then: this runs on every idle pass of a spin, where building that text
  // each time (a format and an allocation) cost more than the message being waited for.
  Status Idle(int peer_world_rank);

 private:
  using Clock = std::chrono::steady_clock;
  transport::Transport* transport_;
  const std::atomic<bool>* aborted_;
  double timeout_s_;
  FailureNotices* notices_;
  bool clock_started_ = false;  // last_progress_ and last_health_check_ are set
  Clock::time_point last_progress_;
  Clock::time_point last_health_check_;
  unsigned idle_passes_ = 0;
  int sleep_us_ = 50;  // next WaitForActivity slice, microseconds
};

}  // namespace braid::runtime
