#include "sim/engine/simulator.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <utility>

namespace braid::sim {

void Simulator::At(Seconds when, Callback fn) { Schedule(when, std::move(fn)); }

uint64_t Simulator::Schedule(Seconds when, Callback fn) {
  // A NaN time would compare unordered and corrupt the heap.
  if (std::isnan(when)) throw std::invalid_argument("Simulator::At: when is NaN");
  if (when < now_) when = now_;
  heap_.reserve(heap_.size() + 1);  // may throw before a slot is taken, not after
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = uint32_t(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& s = slots_[slot];
  s.fn = std::move(fn);
  s.cancelled = false;
  when += 0.0;  // -0.0 -> +0.0: the bits of -0.0 would order after every other time
  uint64_t bits;
  std::memcpy(&bits, &when, sizeof(bits));
  heap_.push_back(Pending{Key{bits} << 64 | next_sequence_++, slot});
  std::push_heap(heap_.begin(), heap_.end(), Later{});
  return uint64_t(s.generation) << 32 | slot;
}

void Simulator::Cancel(uint64_t handle) {
  const uint32_t slot = uint32_t(handle);
  if (slot < slots_.size() && slots_[slot].generation == uint32_t(handle >> 32)) slots_[slot].cancelled = true;
}

Seconds Simulator::Run() {
  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), Later{});
    const Pending event = heap_.back();
    heap_.pop_back();
    Slot& s = slots_[event.slot];
    // The slot is free again before the callback runs (which may schedule into it); a new
    // generation makes this event's handle stale.
    Callback fn = std::move(s.fn);
    const bool cancelled = s.cancelled;
    ++s.generation;
    free_slots_.push_back(event.slot);
    // A cancelled event is dropped without advancing the clock.
    if (cancelled) continue;
    const uint64_t bits = uint64_t(event.key >> 64);
    std::memcpy(&now_, &bits, sizeof(now_));
    ++processed_;
    fn();
  }
  return now_;
}

}  // namespace braid::sim
