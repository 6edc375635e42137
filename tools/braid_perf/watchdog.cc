#include "watchdog.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>

#include "transport/peer_liveness.h"

namespace braid::perf {

double WatchdogLimit(double timeout_s) { return timeout_s * 1.1 + 5.0; }

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
  Clock::time_point since = Clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
    const uint64_t now_seen = g_progress.load(std::memory_order_relaxed);
    const Clock::time_point now = Clock::now();
    if (now_seen != seen) {
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
    const double transfer_s = double(g_iteration_bytes.load(std::memory_order_relaxed)) / kSlowestLinkBytesPerS;
    if (idle_s <= limit_s_ + transfer_s) continue;
    // MPI and raw UCX do not say whom a call waits on; with two ranks it is the other one.
    const std::string peer = nranks_ == 2 ? "rank " + std::to_string(1 - rank_) + " (the only peer)" : "a peer";
    std::fprintf(stderr,
                 "braid-perf: rank %d: no iteration finished for %.0f s (limit %.0f s: BRAID_TIMEOUT + 10%% + 5 s, "
                 "+ %.0f s for the iteration's bytes at 1 MB/s): %s died or stalled; ending this rank\n",
                 rank_, idle_s, limit_s_, transfer_s, peer.c_str());
    std::fflush(stderr);
    std::_Exit(3);  // from this thread MPI_Abort is not allowed (MPI_THREAD_SINGLE); the launcher ends the rest
  }
}

}  // namespace braid::perf
