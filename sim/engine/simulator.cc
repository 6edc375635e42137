#include "sim/engine/simulator.h"

#include <cmath>
#include <stdexcept>
#include <utility>

namespace braid::sim {

void Simulator::At(Seconds when, Callback fn) { Schedule(when, std::move(fn)); }

uint64_t Simulator::Schedule(Seconds when, Callback fn) {
  // A NaN time would compare unordered and corrupt the heap.
  if (std::isnan(when)) throw std::invalid_argument("Simulator::At: when is NaN");
  if (when < now_) when = now_;
  const uint64_t sequence = next_sequence_++;
  queue_.push(Event{when, sequence, std::move(fn)});
  return sequence;
}

Seconds Simulator::Run() {
  while (!queue_.empty()) {
    // top() is const; moving only `fn` out is safe because pop() orders by `when` and
    // `sequence`, which the move leaves intact. This avoids copying every std::function.
    Event event = std::move(const_cast<Event&>(queue_.top()));
    queue_.pop();
    if (!cancelled_.empty() && cancelled_.erase(event.sequence) > 0) continue;
    now_ = event.when;
    ++processed_;
    event.fn();
  }
  return now_;
}

}  // namespace braid::sim
