// Runs one rank's collective schedule (collectives/schedule.h) on host memory over a Transport:
// issues every op whose dependencies completed (in a bounded look-ahead window, so consecutive
// slices' send, receive and reduce overlap), reduces received data as it lands, and waits with
// ProgressWaiter. On any error all in-flight requests are cancelled before returning, so the
// caller's buffers are no longer touched.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "braid/status.h"
#include "braid/types.h"
#include "collectives/schedule.h"
#include "runtime/in_flight.h"
#include "transport/transport.h"

namespace braid::runtime {

class FailureNotices;

// Other work that must go on while a collective waits: a group's point-to-point traffic runs
// underneath the group's collectives, and its packet receives must be reposted as packets arrive,
// or a peer whose send waits for one (and only then joins the collective) never gets there.
// Called on every pass of the wait loop; sets *progressed when it moved something. A failure ends
// the collective with it.
struct SidePoll {
  Status (*poll)(void* arg, bool* progressed) = nullptr;
  void* arg = nullptr;
};

struct ExecutionContext {
  transport::Transport* transport = nullptr;
  const std::vector<int>* world_ranks = nullptr;  // communicator rank -> transport (world) rank
  uint32_t comm_id = 0;
  uint32_t seq = 0;  // collective sequence number, part of every tag
  DataType type = DataType::kFloat32;
  RedOpKind op = RedOpKind::kSum;
  int nranks = 1;
  const std::atomic<bool>* aborted = nullptr;
  double timeout_s = 300;
  FailureNotices* notices = nullptr;  // the communicator's; checked while waiting
  const char* what = "collective";  // for error messages, e.g. "allreduce"
  SidePoll side;                     // none outside a group
};

struct ExecutionBuffers {
  const void* input = nullptr;
  void* output = nullptr;
  void* scratch = nullptr;  // at least schedule.scratch_count elements
};

// Reusable per-communicator state so that small collectives allocate nothing.
class Executor {
 public:
  Status Run(const coll::RankSchedule& schedule, const ExecutionBuffers& buffers,
             const ExecutionContext& context);
  // Cancels (CancelAfterFailure) what a Run that threw (std::bad_alloc) left in flight.
  void CancelPending(transport::Transport* net, uint32_t comm_id);

 private:
  void EnsureCapacity(size_t ops, int nranks);

  transport::RequestPool requests_;
  std::vector<uint8_t> state_;  // per op: 0 unissued, 1 in flight, 2 complete
  InFlight in_flight_;          // ops whose transport request is in flight
};

}  // namespace braid::runtime
