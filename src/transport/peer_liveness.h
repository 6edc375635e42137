// Same-host process liveness checks used by transports to notice dead peers faster than (or when)
// the network layer does not: a peer on this host whose pid no longer exists, or is a zombie
// (killed but not yet reaped, e.g. a forked rank whose parent is itself blocked in a collective),
// has exited.
#pragma once

#include <chrono>
#include <vector>

namespace braid::transport {

// True if `pid` names no live process on this host: kill(pid, 0) fails with ESRCH, or
// /proc/<pid>/stat shows the zombie (Z) or dead (X) state. EPERM (someone else's process) counts
// as alive. A recycled pid reads as alive; that only delays detection.
bool LocalProcessExited(int pid);

// Rate limiter for per-peer checks: Due(peer) is true at most once per `period` for each peer, so
// a wait loop may ask often while the kill()//proc probes stay rare.
class PeerCheckLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PeerCheckLimiter(int npeers = 0, Clock::duration period = std::chrono::milliseconds(100))
      : last_(size_t(npeers), Clock::time_point::min()), period_(period) {}
  void Resize(int npeers) { last_.assign(size_t(npeers), Clock::time_point::min()); }
  bool Due(int peer);

 private:
  std::vector<Clock::time_point> last_;
  Clock::duration period_;
};

}  // namespace braid::transport
