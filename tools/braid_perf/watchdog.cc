#include "watchdog.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "transport/peer_liveness.h"

namespace braid::perf {

double WatchdogLimit(double timeout_s) { return timeout_s * 1.1 + 5.0; }

double IterationAllowanceS(uint64_t iteration_bytes, double slowest_iteration_s) {
  const double at_slowest_rate = double(iteration_bytes) / kSlowestLinkBytesPerS;
  if (slowest_iteration_s < 0) return at_slowest_rate;
  return std::min(at_slowest_rate, kIterationSlowdown * slowest_iteration_s);
}

Watchdog::Watchdog(double limit_s, int rank, int nranks, std::vector<LocalPeer> peers)
    : limit_s_(limit_s), rank_(rank), nranks_(nranks), peers_(std::move(peers)), thread_([this] { Watch(); }) {}

Watchdog::~Watchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  thread_.join();
}

void Watchdog::Watch() {
  using Clock = std::chrono::steady_clock;
  uint64_t seen = g_progress.load(std::memory_order_relaxed);
  uint64_t row = g_row.load(std::memory_order_relaxed);
  uint64_t row_bytes = g_iteration_bytes.load(std::memory_order_relaxed);
  double slowest_s = -1;  // the slowest iteration seen from here, for row_bytes; < 0: none yet
  Clock::time_point since = Clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
    const uint64_t now_seen = g_progress.load(std::memory_order_relaxed);
    const uint64_t now_row = g_row.load(std::memory_order_relaxed);
    const Clock::time_point now = Clock::now();
    const bool changed = now_seen != seen || now_row != row;
    if (now_seen != seen) {
      // Seconds per iteration since the last change: an upper bound, as the iterations ended
      // within the sampling second (of this row, or of rows since, up to the newest's bytes).
      const double per_iteration_s = std::chrono::duration<double>(now - since).count() / double(now_seen - seen);
      slowest_s = std::max(slowest_s, per_iteration_s);
    }
    if (now_row != row) {
      // New rows. An iteration's time is affine in its bytes with a non-negative fixed part, so
      // scaled by the ratio of the bytes the bound holds for the newest row (the same size's next
      // round keeps it). Before the first row there is nothing to scale.
      const uint64_t now_bytes = g_iteration_bytes.load(std::memory_order_relaxed);
      if (slowest_s >= 0 && row_bytes > 0) slowest_s *= std::max(1.0, double(now_bytes) / double(row_bytes));
      row = now_row;
      row_bytes = now_bytes;
    }
    if (changed) {
      seen = now_seen;
      since = now;
      continue;
    }
    const double idle_s = std::chrono::duration<double>(now - since).count();
    if (idle_s >= kPeerCheckAfterS) {
      for (const LocalPeer& p : peers_) {
        if (!transport::LocalProcessExited(p.pid)) continue;
        std::fprintf(stderr, "braid-perf: rank %d: rank %d (pid %d on this host) exited; ending this rank\n", rank_,
                     p.rank, p.pid);
        std::fflush(stderr);
        std::_Exit(3);
      }
    }
    const double allowance_s = IterationAllowanceS(g_iteration_bytes.load(std::memory_order_relaxed), slowest_s);
    if (idle_s <= limit_s_ + allowance_s) continue;
    // MPI and raw UCX do not say whom a call waits on; with two ranks it is the other one.
    const std::string peer = nranks_ == 2 ? "rank " + std::to_string(1 - rank_) + " (the only peer)" : "a peer";
    std::fprintf(stderr,
                 "braid-perf: rank %d: no iteration finished for %.0f s (limit %.0f s: BRAID_TIMEOUT + 10%% + 5 s, "
                 "+ %.0f s for one iteration: its bytes at 1 MB/s, at most %.0fx the row's slowest so far): %s died "
                 "or stalled; ending this rank\n",
                 rank_, idle_s, limit_s_, allowance_s, kIterationSlowdown, peer.c_str());
    std::fflush(stderr);
    std::_Exit(3);  // from this thread MPI_Abort is not allowed (MPI_THREAD_SINGLE); the launcher ends the rest
  }
}

}  // namespace braid::perf
