// Directed links with a bandwidth and a latency, and flows (a number of bytes along a path of
// links) that share every link's bandwidth max-min fairly (progressive filling). A flow first
// waits the sum of its links' latencies, then drains at its fair rate, which is recomputed
// whenever a flow starts or ends; its callback runs when its last byte has arrived.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "sim/engine/simulator.h"

namespace braid::sim {

using LinkId = int;

struct LinkStats {
  double bytes = 0;          // bytes carried
  Seconds busy_seconds = 0;  // time with at least one flow draining through it
};

class FlowNetwork {
 public:
  explicit FlowNetwork(Simulator* simulator) : sim_(simulator) {}

  // bandwidth in bytes per second (> 0), latency in seconds (>= 0).
  LinkId AddLink(double bandwidth_Bps, Seconds latency, std::string name);

  // Starts a flow now. `path` may be empty (a local transfer: it completes after 0 seconds).
  // bytes >= 0. `on_done` runs at completion, inside the simulator's event loop. Without
  // `pay_latency` the flow drains at once: for a caller that waited the path's latency itself
  // (Fabric overlaps a message's latency with the draining of the ones ahead of it).
  void StartFlow(const std::vector<LinkId>& path, double bytes, Simulator::Callback on_done,
                 bool pay_latency = true);

  Simulator* simulator() const { return sim_; }
  size_t NumLinks() const;
  const std::string& LinkName(LinkId id) const;
  double LinkBandwidth(LinkId id) const;
  Seconds LinkLatency(LinkId id) const;
  // bytes counts flows that have completed; busy_seconds includes an interval still open now.
  const LinkStats& Stats(LinkId id) const;
  // Flows started whose callback has not run yet.
  size_t ActiveFlows() const;

 private:
  using FlowSlot = uint32_t;
  static constexpr uint64_t kNoEvent = UINT64_MAX;

  // One occurrence of a draining flow in a link's path (a path may cross a link twice).
  struct Membership {
    FlowSlot flow;
    uint32_t hop;  // index into the flow's path
  };

  struct Link {
    double bandwidth_Bps;
    Seconds latency;
    std::string name;
    std::vector<Membership> draining;
    // Mutable so Stats() can fold in the busy interval still open at the time of the query.
    mutable LinkStats stats;
    mutable Seconds busy_since = 0;
    bool dirty = false;      // queued in dirty_links_ for the next recompute
    uint64_t seen_pass = 0;  // recompute pass that last visited it
    // Progressive-filling scratch: spare bandwidth (B/s), memberships not yet given a rate.
    double spare_Bps = 0;
    uint32_t unfrozen = 0;
  };

  struct Flow {
    std::vector<LinkId> path;
    std::vector<uint32_t> index_in_link;  // per hop: position in links_[path[hop]].draining
    double bytes = 0;
    double remaining = 0;  // bytes left as of last_update
    double rate_Bps = 0;   // 0 until the first recompute after it starts draining
    Seconds last_update = 0;
    uint64_t completion_event = kNoEvent;  // Simulator handle, while one is scheduled
    Simulator::Callback on_done;
    uint64_t seen_pass = 0;  // recompute pass that last visited it
    // Recompute scratch: rate fixed yet in this pass, that rate, and the end it implies.
    bool frozen = false;
    double new_rate_Bps = 0;
    Seconds projected_end = 0;
  };

  // A link's fair share when it was pushed on the progressive-filling heap.
  struct Candidate {
    double share_Bps;
    LinkId link;
    bool operator>(const Candidate& other) const {
      return share_Bps != other.share_Bps ? share_Bps > other.share_Bps : link > other.link;
    }
  };

  void CheckLink(LinkId id, const char* where) const;
  void BeginDraining(FlowSlot slot);
  void Complete(FlowSlot slot);
  void MarkDirty(LinkId id);
  void Recompute();
  void CollectComponent(LinkId seed);
  void FillProgressively();
  void ScheduleEarliestCompletions();

  Simulator* sim_;
  std::vector<Link> links_;
  std::vector<Flow> flows_;  // slots, reused through free_slots_
  std::vector<FlowSlot> free_slots_;
  size_t active_flows_ = 0;          // started, callback not yet run
  std::vector<LinkId> dirty_links_;  // links whose draining set changed since the last recompute
  bool recompute_scheduled_ = false;
  uint64_t pass_ = 0;
  // Scratch of the component being recomputed, kept to reuse their memory.
  std::vector<LinkId> component_links_;
  std::vector<FlowSlot> component_flows_;
  std::vector<Candidate> heap_;
};

}  // namespace braid::sim
