// One direction of an emulated link: packets enter, may be lost, wait their turn to be
// serialised at the link rate, then propagate for the one-way delay before they are delivered.
//
//   Enqueue -> [loss draw] -> serialising_ (bounded, tail drop) -> propagating_ -> delivered
//
// A packet's departure time is max(arrival, previous departure) + bytes / rate; its delivery time
// is departure + delay. Both queues are FIFO with non-decreasing times, so the head of each is
// always the next event. Pure logic on caller-supplied times: no I/O, no clock, easy to reason
// about and to test.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <random>
#include <vector>

namespace braid::netem {

using Clock = std::chrono::steady_clock;
using Packet = std::vector<uint8_t>;  // one IP packet, as read from the TUN device

struct LinkParams {
  std::chrono::nanoseconds delay{0};  // one-way propagation delay
  double rate_bytes_per_s = 0;        // serialisation rate of IP packet bytes; 0 = unlimited
  double loss_probability = 0;        // in [0, 1], drawn independently per packet
  size_t queue_packets = 1000;        // packets waiting to be serialised; more are tail-dropped
  uint64_t seed = 1;                  // for the loss draws
};

struct LinkCounters {
  uint64_t delivered = 0;
  uint64_t lost = 0;          // random loss (loss_probability)
  uint64_t queue_dropped = 0;  // tail drop: the serialisation queue was full
  uint64_t bytes_delivered = 0;
  int64_t late_ns_total = 0;  // sum over delivered packets of (time taken out - time due)
};

class LinkQueue {
 public:
  explicit LinkQueue(const LinkParams& params);

  // A packet arrives at `now`; it is lost, dropped or queued.
  void Enqueue(Packet packet, Clock::time_point now);
  // Moves every packet whose delivery time is <= now out, in order, into `out` (appended).
  void TakeDue(Clock::time_point now, std::vector<Packet>* out);
  // When the next packet becomes due; nullopt if the link is empty.
  std::optional<Clock::time_point> NextDue() const;

  const LinkCounters& counters() const { return counters_; }

 private:
  struct Timed {
    Clock::time_point at;  // departure (serialising_) or delivery (propagating_) time
    Packet packet;
  };
  // Serialisation time of `bytes` at the configured rate (0 when unlimited).
  std::chrono::nanoseconds SerialisationTime(size_t bytes) const;
  // Moves packets that finished serialisation by `now` onto the wire.
  void Depart(Clock::time_point now);

  LinkParams params_;
  std::mt19937_64 rng_;
  std::bernoulli_distribution lose_;
  std::deque<Timed> serialising_;   // ordered by departure time
  std::deque<Timed> propagating_;   // ordered by delivery time
  Clock::time_point last_departure_{};  // when the link is free again
  LinkCounters counters_;
};

}  // namespace braid::netem
