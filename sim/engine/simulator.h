// Deterministic discrete-event core: simulated time in seconds and an event queue whose ties are
// broken by insertion order, so a simulation gives the same result on every run and machine.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/engine/event_callback.h"

namespace braid::sim {

using Seconds = double;

class Simulator {
 public:
  using Callback = EventCallback;

  Seconds Now() const { return now_; }

  // Runs `fn` at absolute time `when` (clamped to Now() if in the past). Events at equal times
  // run in the order they were scheduled.
  void At(Seconds when, Callback fn);
  void After(Seconds delay, Callback fn) { At(now_ + delay, std::move(fn)); }

  // Processes events until the queue is empty. Returns the time of the last event.
  Seconds Run();

  uint64_t EventsProcessed() const { return processed_; }

  // Like At(); returns a handle for Cancel(). (FlowNetwork moves a flow's completion whenever
  // rates change.)
  uint64_t Schedule(Seconds when, Callback fn);
  // Drops the event of `handle` if it has not run yet: it never runs and does not advance the
  // clock, so a superseded completion cannot stretch Run()'s end time. The handle of an event
  // that ran (or was dropped) is stale and changes nothing, even when its storage was reused.
  void Cancel(uint64_t handle);

 private:

  // The heap holds small keys; callbacks stay put in slots (moved once in and once out, not at
  // every heap level, and cancelled without a hash set).
  // (when, sequence) as one unsigned 128-bit number: the bits of a non-negative double order as
  // the values do, so one wide compare (no branches on the tie) orders the heap.
  using Key = unsigned __int128;
  struct Pending {
    Key key;
    uint32_t slot;  // slots_[slot]
  };
  struct Later {
    bool operator()(const Pending& a, const Pending& b) const { return a.key > b.key; }
  };
  struct Slot {
    Callback fn;
    uint32_t generation = 0;  // bumped at each reuse; a handle names (slot, generation)
    bool cancelled = false;
  };
  std::vector<Pending> heap_;  // a min-heap by (when, sequence) under Later
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  Seconds now_ = 0;
  uint64_t next_sequence_ = 0;
  uint64_t processed_ = 0;
};

}  // namespace braid::sim
