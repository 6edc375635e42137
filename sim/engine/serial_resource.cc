#include "sim/engine/serial_resource.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace braid::sim {

Seconds SerialResource::Submit(Seconds duration, Simulator::Callback on_done) {
  if (!(duration >= 0) || !std::isfinite(duration)) {
    throw std::invalid_argument(
        fmt::format("SerialResource::Submit: duration must be finite and >= 0, got {}", duration));
  }
  // Ends are non-decreasing in submission order and the simulator breaks ties by insertion
  // order, so completions run FIFO even for zero-length tasks.
  const Seconds start = std::max(sim_->Now(), free_at_);
  free_at_ = start + duration;
  busy_ += duration;
  sim_->At(free_at_, std::move(on_done));
  return free_at_;
}

}  // namespace braid::sim
