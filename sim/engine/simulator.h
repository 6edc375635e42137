// Deterministic discrete-event core: simulated time in seconds and an event queue whose ties are
// broken by insertion order, so a simulation gives the same result on every run and machine.
#pragma once

#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_set>
#include <vector>

namespace braid::sim {

using Seconds = double;

class Simulator {
 public:
  using Callback = std::function<void()>;

  Seconds Now() const { return now_; }

  // Runs `fn` at absolute time `when` (clamped to Now() if in the past). Events at equal times
  // run in the order they were scheduled.
  void At(Seconds when, Callback fn);
  void After(Seconds delay, Callback fn) { At(now_ + delay, std::move(fn)); }

  // Processes events until the queue is empty. Returns the time of the last event.
  Seconds Run();

  uint64_t EventsProcessed() const { return processed_; }

 private:
  // FlowNetwork moves a flow's completion whenever rates change. A cancelled event is dropped
  // without advancing the clock, so a superseded completion cannot stretch Run()'s end time.
  friend class FlowNetwork;
  // Like At(); returns a handle for Cancel().
  uint64_t Schedule(Seconds when, Callback fn);
  // `handle` must belong to an event that has not run yet.
  void Cancel(uint64_t handle) { cancelled_.insert(handle); }

  struct Event {
    Seconds when;
    uint64_t sequence;  // insertion order: the stable tie-break
    Callback fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.when != b.when ? a.when > b.when : a.sequence > b.sequence;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  Seconds now_ = 0;
  uint64_t next_sequence_ = 0;
  uint64_t processed_ = 0;
  std::unordered_set<uint64_t> cancelled_;  // sequences of queued events to drop (lookup only)
};

}  // namespace braid::sim
