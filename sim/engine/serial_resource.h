// A resource that serves one task at a time in submission order (a GPU compute stream, a copy
// engine, a communication stream): a task submitted while another runs starts when it ends.
#pragma once

#include "sim/engine/simulator.h"

namespace braid::sim {

class SerialResource {
 public:
  explicit SerialResource(Simulator* simulator) : sim_(simulator) {}

  // Queues a task of `duration` seconds that may start no earlier than now; `on_done` runs at
  // its end. Returns the task's end time.
  Seconds Submit(Seconds duration, Simulator::Callback on_done);

  Seconds BusySeconds() const { return busy_; }
  Seconds FreeAt() const { return free_at_; }

 private:
  Simulator* sim_;
  Seconds free_at_ = 0;
  Seconds busy_ = 0;
};

}  // namespace braid::sim
