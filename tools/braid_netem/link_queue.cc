#include "link_queue.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace braid::netem {

LinkQueue::LinkQueue(const LinkParams& params)
    : params_(params), rng_(params.seed), lose_(std::clamp(params.loss_probability, 0.0, 1.0)) {}

std::chrono::nanoseconds LinkQueue::SerialisationTime(size_t bytes) const {
  if (params_.rate_bytes_per_s <= 0) return std::chrono::nanoseconds(0);
  return std::chrono::nanoseconds(std::llround(double(bytes) * 1e9 / params_.rate_bytes_per_s));
}

void LinkQueue::Enqueue(Packet packet, Clock::time_point now) {
  if (params_.loss_probability > 0 && lose_(rng_)) {
    ++counters_.lost;
    return;
  }
  Depart(now);  // the queue bound counts only packets still waiting at `now`
  if (serialising_.size() >= params_.queue_packets) {
    ++counters_.queue_dropped;
    return;
  }
  // The link serialises one packet at a time: this one starts when it arrives or when the
  // previous one has left, whichever is later.
  last_departure_ = std::max(now, last_departure_) + SerialisationTime(packet.size());
  serialising_.push_back(Timed{last_departure_, std::move(packet)});
  Depart(now);  // with no rate limit it departs at once
}

void LinkQueue::Depart(Clock::time_point now) {
  while (!serialising_.empty() && serialising_.front().at <= now) {
    Timed& head = serialising_.front();
    propagating_.push_back(Timed{head.at + params_.delay, std::move(head.packet)});
    serialising_.pop_front();
  }
}

void LinkQueue::TakeDue(Clock::time_point now, std::vector<Packet>* out) {
  Depart(now);
  while (!propagating_.empty() && propagating_.front().at <= now) {
    ++counters_.delivered;
    counters_.late_ns_total += std::chrono::nanoseconds(now - propagating_.front().at).count();
    counters_.bytes_delivered += propagating_.front().packet.size();
    out->push_back(std::move(propagating_.front().packet));
    propagating_.pop_front();
  }
}

std::optional<Clock::time_point> LinkQueue::NextDue() const {
  // A packet still serialising is delivered `delay` after it departs; one on the wire at its time.
  std::optional<Clock::time_point> next;
  if (!propagating_.empty()) next = propagating_.front().at;
  if (!serialising_.empty()) {
    Clock::time_point t = serialising_.front().at + params_.delay;
    next = next ? std::min(*next, t) : t;
  }
  return next;
}

}  // namespace braid::netem
