#include "runtime/progress.h"

#include <sched.h>

#include <algorithm>
#include <type_traits>

#include <fmt/format.h>

#include "core/env.h"
#include "core/log.h"
#include "runtime/failure_notice.h"

namespace braid::runtime {
namespace {

// How long a waiter spins, then yields, before it sleeps on the transport's event fd
// (microseconds of no progress). Spinning answers a peer on another core within a microsecond;
// yielding lets a peer that shares our core run; sleeping stops burning the core on long waits.
// Read once from BRAID_SPIN_US / BRAID_YIELD_US so they can be tuned per machine.
struct WaitPolicy {
  double spin_us = 20.0;
  double yield_us = 2000.0;
};
// Each bound is 1000 s: past it a waiter would never sleep in practice.
constexpr double kMaxPhaseUs = 1e9;
struct LoadedPolicy {
  Status status;
  WaitPolicy policy;
};
const LoadedPolicy& Loaded() {
  static const LoadedPolicy loaded = [] {
    LoadedPolicy l;
    l.status = env::GetDouble("SPIN_US", l.policy.spin_us, 0, kMaxPhaseUs, &l.policy.spin_us);
    if (l.status.ok()) l.status = env::GetDouble("YIELD_US", l.policy.yield_us, 0, kMaxPhaseUs, &l.policy.yield_us);
    if (!l.status.ok()) l.policy = WaitPolicy{};  // never used: communicator creation fails first
    return l;
  }();
  return loaded;
}
const WaitPolicy& Policy() { return Loaded().policy; }
// Sleep slices grow from kMinSleepUs to kMaxSleepUs while nothing happens, so a wake-up that the
// event fd misses costs little on short waits and the CPU stays idle on long ones.
constexpr int kMinSleepUs = 50;
constexpr int kMaxSleepUs = 1000;
// How often to ask the transport whether the peer we wait for is still alive, and to look for
// failure notices (seconds).
constexpr double kHealthCheckPeriodS = 0.1;

}  // namespace

Status LoadWaitPolicy() { return Loaded().status; }

ProgressWaiter::ProgressWaiter(transport::Transport* transport, const std::atomic<bool>* aborted,
                               double timeout_s, FailureNotices* notices)
    : transport_(transport),
      aborted_(aborted),
      timeout_s_(timeout_s),
      notices_(notices) {}

void ProgressWaiter::Reset() {
  idle_passes_ = 0;
  sleep_us_ = kMinSleepUs;
  clock_started_ = false;
}

// A blocking Send or Recv keeps an optional waiter it rarely engages; a non-trivial destructor
// cost each of them ~6 instructions (callgrind, p2p_call_cost braid-lone).
static_assert(std::is_trivially_destructible_v<ProgressWaiter>, "keep the lone path's waiter free to drop");

ProgressWaiter::Pass ProgressWaiter::Pace(Status* stop) {
  if (aborted_ && aborted_->load(std::memory_order_relaxed)) {
    *stop = Status::Aborted("communicator aborted");
    return Pass::kStop;
  }
  // Reading the clock costs ~20 ns; check it every 16 passes while spinning.
  if ((++idle_passes_ & 15) != 0) return Pass::kGoOn;
  Clock::time_point now = Clock::now();
  if (!clock_started_) {
    // The idle clock starts at the first check after progress, not at the progress itself: a
    // wait that ends within a few passes (a small message) then reads no clock at all.
    clock_started_ = true;
    last_progress_ = now;
    last_health_check_ = now;
    return Pass::kGoOn;
  }
  double idle_us = std::chrono::duration<double, std::micro>(now - last_progress_).count();
  const WaitPolicy& policy = Policy();
  if (idle_us < policy.spin_us) return Pass::kGoOn;
  if (idle_us < policy.spin_us + policy.yield_us) {
    sched_yield();
    return Pass::kGoOn;
  }
  if (idle_us > timeout_s_ * 1e6) {
    *stop = Status::Timeout(fmt::format("no progress for {:.1f} s (BRAID_TIMEOUT={} s)", idle_us * 1e-6, timeout_s_));
    return Pass::kStop;
  }
  if (std::chrono::duration<double>(now - last_health_check_).count() <= kHealthCheckPeriodS) return Pass::kSleep;
  last_health_check_ = now;
  return Pass::kCheckHealth;
}

bool ProgressWaiter::BusyHealthDue() {
  const Clock::time_point now = Clock::now();
  if (!busy_clock_started_) {
    busy_clock_started_ = true;
    last_busy_health_check_ = now;
    return false;
  }
  if (std::chrono::duration<double>(now - last_busy_health_check_).count() <= kHealthCheckPeriodS) return false;
  last_busy_health_check_ = now;
  return true;
}

Status ProgressWaiter::CheckHealth(std::vector<int>* peers) {
  // The peers' own deaths first: they name the cause more directly than a notice about one,
  // unless the dead peer had sent its own notice: it failed, said why and then exited, and its
  // word names the cause where its exit does not.
  std::sort(peers->begin(), peers->end());
  peers->erase(std::unique(peers->begin(), peers->end()), peers->end());
  for (int peer : *peers) {
    if (Status health = transport_->PeerHealth(peer); !health.ok()) {
      failed_peer_ = peer;
      if (notices_ && notices_->Stopped(peer)) {
        if (Status notice = notices_->Heard(); !notice.ok()) return notice;
      }
      return health;
    }
    if (!notices_) continue;
    if (Status left = notices_->Left(peer); !left.ok()) {
      failed_peer_ = peer;
      return left;
    }
  }
  if (notices_) BRAID_RETURN_IF_ERROR(notices_->Heard());
  // Last, as the least specific: a neighbour on this host that died owing this wait nothing (a
  // notice that arrived names the cause better; this finds what blocks the notices themselves).
  return transport_->HostPeersHealth(&failed_peer_);
}

void ProgressWaiter::Sleep() {
  transport_->WaitForActivity(sleep_us_);
  sleep_us_ = std::min(kMaxSleepUs, sleep_us_ * 2);
}

}  // namespace braid::runtime
