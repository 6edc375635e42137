#include "join_watchdog.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "braid/comm.h"
#include "core/env.h"
#include "watchdog.h"

namespace braid::perf {

JoinWatchdog::JoinWatchdog(double limit_s)
    : limit_s_(limit_s), thread_([this] {
        std::unique_lock<std::mutex> lock(mutex_);
        if (joined_cv_.wait_for(lock, std::chrono::duration<double>(limit_s_), [this] { return joined_; })) return;
        std::fprintf(stderr,
                     "braid-perf: MPI_Init has not returned after %.0f s (BRAID_TIMEOUT and a grace): a rank of this "
                     "job never joined it. Every rank must run the same benchmark; --version, plot and calibrate run "
                     "without a job, so they cannot share an mpiexec line with one\n",
                     limit_s_);
        _exit(2);  // MPI is not up: nothing to finalize, and the blocked main thread cannot return
      }) {}

JoinWatchdog::~JoinWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    joined_ = true;
  }
  joined_cv_.notify_all();
  thread_.join();
}

double JoinLimitSeconds() {
  CommOptions resolved;
  const double timeout_s = Comm::ResolveOptions(CommOptions{}, &resolved).ok() ? resolved.timeout_s : env::kDefaultTimeoutS;
  return WatchdogLimit(timeout_s);
}

}  // namespace braid::perf
