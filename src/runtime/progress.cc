#include "runtime/progress.h"

#include <sched.h>

#include <fmt/format.h>

namespace braid::runtime {
namespace {

// Escalation thresholds, in consecutive idle passes. A pass is one transport Progress() call
// (~0.1-1 us), so spinning lasts a few microseconds: enough for a peer on another core to answer
// a small message, short enough not to starve a peer that shares our core.
constexpr unsigned kSpinPasses = 64;
constexpr unsigned kYieldPasses = 64 + 256;
// While sleeping on the event fd, wake at least this often to check abort/timeouts (microseconds).
constexpr int kSleepSliceUs = 1000;
// How often to ask the transport whether the peer we wait for is still alive (seconds).
constexpr double kHealthCheckPeriodS = 0.1;

}  // namespace

ProgressWaiter::ProgressWaiter(transport::Transport* transport, const std::atomic<bool>* aborted,
                               double timeout_s)
    : transport_(transport),
      aborted_(aborted),
      timeout_s_(timeout_s),
      last_progress_(Clock::now()),
      last_health_check_(last_progress_) {}

void ProgressWaiter::Reset() {
  idle_passes_ = 0;
  last_progress_ = Clock::now();
}

Status ProgressWaiter::Idle(int peer_world_rank, const std::string& waiting_for) {
  if (aborted_ && aborted_->load(std::memory_order_relaxed))
    return Status::Aborted("communicator aborted while " + waiting_for);
  ++idle_passes_;
  if (idle_passes_ < kSpinPasses) return Status::Ok();
  if (idle_passes_ < kYieldPasses) {
    sched_yield();
    return Status::Ok();
  }
  // Sleeping regime: check the clock, peer health, then block on the transport's event fd.
  Clock::time_point now = Clock::now();
  double idle_s = std::chrono::duration<double>(now - last_progress_).count();
  if (idle_s > timeout_s_) {
    return Status::Timeout(fmt::format("no progress for {:.1f} s (BRAID_TIMEOUT={} s) {}",
                                       idle_s, timeout_s_, waiting_for));
  }
  if (peer_world_rank >= 0 &&
      std::chrono::duration<double>(now - last_health_check_).count() > kHealthCheckPeriodS) {
    last_health_check_ = now;
    Status health = transport_->PeerHealth(peer_world_rank);
    if (!health.ok()) return health.WithContext(waiting_for);
  }
  transport_->WaitForActivity(kSleepSliceUs);
  return Status::Ok();
}

}  // namespace braid::runtime
