// A bound on MPI_Init. It waits for every rank of the job, and a rank that never calls it waits
// for ever: in an MPMD line such as `mpiexec -n 1 braid-perf latency : -n 1 braid-perf
// --version`, the second rank answers and exits without joining (--version, plot and calibrate
// need no job, and must not take one: a wrapper script's next MPI program would inherit it), so
// the first blocked in MPI_Init until killed. Under this guard, a rank whose MPI_Init has not
// returned after WatchdogLimit(BRAID_TIMEOUT) says why it is stuck and exits with 2; the
// launcher then ends the job.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

namespace braid::perf {

class JoinWatchdog {
 public:
  explicit JoinWatchdog(double limit_s);  // starts the clock and the thread at once
  ~JoinWatchdog();                        // MPI_Init returned: stops and joins the thread
  JoinWatchdog(const JoinWatchdog&) = delete;
  JoinWatchdog& operator=(const JoinWatchdog&) = delete;

 private:
  const double limit_s_;
  std::mutex mutex_;
  std::condition_variable joined_cv_;
  bool joined_ = false;
  std::thread thread_;
};

// The limit for this process: WatchdogLimit of BRAID_TIMEOUT as braid resolves it (its default
// when the variable is unusable; the run refuses such a value by name once the job has started).
double JoinLimitSeconds();

}  // namespace braid::perf
