// Ends a rank that has made no progress for too long. braid's own calls fail with a Timeout that
// names the peer after BRAID_TIMEOUT seconds without progress, but MPI_Send / MPI_Recv /
// MPI_Allreduce and the raw UCX tag API have no such bound: a dead or stalled peer would leave
// the other ranks of an MPI or raw-UCX run waiting for ever.
//
// The suites call NoteProgress() after every iteration (warm-up, timed or checked) and between
// phases; a thread looks once a second, and after the limit without any progress (or sooner, a
// same-host peer found exited) it prints a message and exits with 3. The launcher (MPICH's hydra, Open MPI's mpirun) then ends the other
// ranks. The limit is BRAID_TIMEOUT plus a grace (WatchdogLimit), so that with the braid backend
// braid's own, more precise Timeout comes first, plus an allowance for one iteration
// (IterationAllowanceS): an iteration is one call, so a live but slow link moving a large window
// must not look stalled (braid's own timeout counts progress within a call).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "local_peers.h"

namespace braid::perf {

// Progress count. One writer (the rank's main thread), so an increment is a plain load and store
// (no locked instruction): free in a timed loop. The watchdog thread only reads it.
inline std::atomic<uint64_t> g_progress{0};
inline void NoteProgress() { g_progress.store(g_progress.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }

// Seconds without progress after which the watchdog starts looking for exited same-host peers.
inline constexpr double kPeerCheckAfterS = 2;

// Seconds without progress after which the watchdog ends the rank: BRAID_TIMEOUT + 10% + 5 s,
// before the allowance for the iteration's bytes.
double WatchdogLimit(double timeout_s);

// The slowest rate (bytes/s) at which a link still counts as live: 1 MB/s.
inline constexpr double kSlowestLinkBytesPerS = 1e6;
// How many times its slowest iteration so far an iteration of the row may take.
inline constexpr double kIterationSlowdown = 10;

// Seconds one iteration of `iteration_bytes` is allowed beyond the limit: the bytes at
// kSlowestLinkBytesPerS, and once the row has timed iterations (`slowest_iteration_s` >= 0) at
// most kIterationSlowdown times the slowest. The rate alone let a stalled peer of a 1 GiB row
// go unnoticed for 36 minutes (QA, session 57).
double IterationAllowanceS(uint64_t iteration_bytes, double slowest_iteration_s);

// Bytes this rank moves in one iteration of the current row, and the row's number (set once
// per row, not per iteration; one writer).
inline std::atomic<uint64_t> g_iteration_bytes{0};
inline std::atomic<uint64_t> g_row{0};
inline void SetIterationBytes(uint64_t bytes) {
  g_iteration_bytes.store(bytes, std::memory_order_relaxed);
  g_row.store(g_row.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

class Watchdog {
 public:
  // `rank` names this rank in the message (of `nranks`: with 2, the other one is named as the
  // peer); the thread starts at once. Once no progress has been seen for kPeerCheckAfterS, it also
  // looks whether one of `peers` has exited: an MPI or raw UCX run has no other way to notice
  // (braid's own calls notice within 0.1 s, before this looks).
  Watchdog(double limit_s, int rank, int nranks, std::vector<LocalPeer> peers = {});
  ~Watchdog();  // stops and joins the thread
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

 private:
  void Watch();

  const double limit_s_;
  const int rank_;
  const int nranks_;
  const std::vector<LocalPeer> peers_;
  std::mutex mutex_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace braid::perf
