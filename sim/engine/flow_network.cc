#include "sim/engine/flow_network.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace braid::sim {
namespace {

// Floating-point residue left after draining at a rate for remaining/rate seconds: a flow with
// this little left is done (bytes).
bool NearlyDrained(double remaining, double bytes) {
  return remaining <= 1e-9 * bytes || remaining < 1e-6;
}

}  // namespace

LinkId FlowNetwork::AddLink(double bandwidth_Bps, Seconds latency, std::string name) {
  if (!(bandwidth_Bps > 0) || !std::isfinite(bandwidth_Bps)) {
    throw std::invalid_argument(fmt::format(
        "FlowNetwork::AddLink: bandwidth_Bps must be finite and > 0, got {}", bandwidth_Bps));
  }
  if (!(latency >= 0) || !std::isfinite(latency)) {
    throw std::invalid_argument(
        fmt::format("FlowNetwork::AddLink: latency must be finite and >= 0, got {}", latency));
  }
  Link link;
  link.bandwidth_Bps = bandwidth_Bps;
  link.latency = latency;
  link.name = std::move(name);
  links_.push_back(std::move(link));
  return static_cast<LinkId>(links_.size() - 1);
}

void FlowNetwork::CheckLink(LinkId id, const char* where) const {
  if (id < 0 || static_cast<size_t>(id) >= links_.size()) {
    throw std::invalid_argument(fmt::format("FlowNetwork::{}: link id {} out of range [0, {})",
                                            where, id, links_.size()));
  }
}

void FlowNetwork::StartFlow(const std::vector<LinkId>& path, double bytes,
                            Simulator::Callback on_done, bool pay_latency) {
  if (!(bytes >= 0) || !std::isfinite(bytes)) {
    throw std::invalid_argument(
        fmt::format("FlowNetwork::StartFlow: bytes must be finite and >= 0, got {}", bytes));
  }
  Seconds latency = 0;
  for (LinkId id : path) {
    CheckLink(id, "StartFlow");
    latency += links_[id].latency;
  }
  if (!pay_latency) latency = 0;
  ++active_flows_;
  // A zero-byte flow (or a local one) takes part in no sharing: it only pays the latency.
  if (bytes == 0 || path.empty()) {
    sim_->After(latency, [this, on_done = std::move(on_done)] {
      --active_flows_;
      on_done();
    });
    return;
  }
  FlowSlot slot;
  if (free_slots_.empty()) {
    slot = static_cast<FlowSlot>(flows_.size());
    flows_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  Flow& flow = flows_[slot];
  flow.path.assign(path.begin(), path.end());  // reuses the slot's capacity
  flow.index_in_link.assign(path.size(), 0);
  flow.bytes = bytes;
  flow.remaining = bytes;
  flow.rate_Bps = 0;
  flow.on_done = std::move(on_done);
  sim_->After(latency, [this, slot] { BeginDraining(slot); });
}

void FlowNetwork::BeginDraining(FlowSlot slot) {
  Flow& flow = flows_[slot];
  flow.last_update = sim_->Now();
  for (uint32_t hop = 0; hop < flow.path.size(); ++hop) {
    Link& link = links_[flow.path[hop]];
    if (link.draining.empty()) link.busy_since = sim_->Now();
    flow.index_in_link[hop] = static_cast<uint32_t>(link.draining.size());
    link.draining.push_back(Membership{slot, hop});
    MarkDirty(flow.path[hop]);
  }
}

void FlowNetwork::Complete(FlowSlot slot) {
  Flow& flow = flows_[slot];
  flow.completion_event = kNoEvent;
  for (uint32_t hop = 0; hop < flow.path.size(); ++hop) {
    const LinkId id = flow.path[hop];
    Link& link = links_[id];
    // Swap-remove this membership and fix the index of the one moved into its place.
    const uint32_t index = flow.index_in_link[hop];
    link.draining[index] = link.draining.back();
    link.draining.pop_back();
    if (index < link.draining.size()) {
      const Membership moved = link.draining[index];
      flows_[moved.flow].index_in_link[moved.hop] = index;
    }
    if (link.draining.empty()) link.stats.busy_seconds += sim_->Now() - link.busy_since;
    link.stats.bytes += flow.bytes;
    MarkDirty(id);
  }
  Simulator::Callback on_done = std::move(flow.on_done);
  free_slots_.push_back(slot);
  --active_flows_;
  on_done();  // last: it may start flows, which may reuse this slot
}

void FlowNetwork::MarkDirty(LinkId id) {
  Link& link = links_[id];
  if (!link.dirty) {
    link.dirty = true;
    dirty_links_.push_back(id);
  }
  // Every change at one instant shares one recompute. No time passes before it runs, so no
  // bytes move at stale rates and the result equals recomputing after each change.
  if (!recompute_scheduled_) {
    recompute_scheduled_ = true;
    sim_->After(0, [this] { Recompute(); });
  }
}

// Only flows that transitively share a link with a changed link can get new rates; each such
// connected component is refilled on its own.
void FlowNetwork::Recompute() {
  recompute_scheduled_ = false;
  ++pass_;
  for (LinkId seed : dirty_links_) {
    links_[seed].dirty = false;
    if (links_[seed].seen_pass == pass_) continue;  // part of a component already refilled
    CollectComponent(seed);
    FillProgressively();
    ScheduleEarliestCompletions();
  }
  dirty_links_.clear();
}

// Breadth-first search from `seed` over links and the draining flows on them.
void FlowNetwork::CollectComponent(LinkId seed) {
  component_links_.assign(1, seed);
  component_flows_.clear();
  links_[seed].seen_pass = pass_;
  for (size_t next = 0; next < component_links_.size(); ++next) {
    for (const Membership& member : links_[component_links_[next]].draining) {
      Flow& flow = flows_[member.flow];
      if (flow.seen_pass == pass_) continue;
      flow.seen_pass = pass_;
      component_flows_.push_back(member.flow);
      for (LinkId id : flow.path) {
        if (links_[id].seen_pass != pass_) {
          links_[id].seen_pass = pass_;
          component_links_.push_back(id);
        }
      }
    }
  }
}

// Max-min fair rates by progressive filling: repeatedly take the link with the smallest fair
// share (spare bandwidth / memberships without a rate), give that share to its flows, and take
// it out of every link those flows cross. A link's share never decreases as others are fixed,
// so a min-heap with lazily discarded stale entries finds the next link.
void FlowNetwork::FillProgressively() {
  const auto push = [this](double share_Bps, LinkId id) {
    heap_.push_back({share_Bps, id});
    std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
  };
  heap_.clear();
  for (LinkId id : component_links_) {
    Link& link = links_[id];
    link.spare_Bps = link.bandwidth_Bps;
    link.unfrozen = static_cast<uint32_t>(link.draining.size());
    if (link.unfrozen > 0) push(link.spare_Bps / link.unfrozen, id);
  }
  for (FlowSlot slot : component_flows_) flows_[slot].frozen = false;

  while (!heap_.empty()) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    const Candidate top = heap_.back();
    heap_.pop_back();
    const Link& bottleneck = links_[top.link];
    if (bottleneck.unfrozen == 0 || top.share_Bps != bottleneck.spare_Bps / bottleneck.unfrozen) {
      continue;  // stale: the link's share changed after this entry was pushed
    }
    for (const Membership& member : bottleneck.draining) {
      Flow& flow = flows_[member.flow];
      if (flow.frozen) continue;
      flow.frozen = true;
      flow.new_rate_Bps = top.share_Bps;
      for (LinkId id : flow.path) {
        Link& link = links_[id];
        link.spare_Bps -= top.share_Bps;
        --link.unfrozen;
        if (id != top.link && link.unfrozen > 0) push(link.spare_Bps / link.unfrozen, id);
      }
    }
  }
}

// Moves the component's flows to their new rates, settling the bytes drained at the old ones,
// and schedules a completion only for the flow(s) that will end first: that completion
// recomputes the component, which reschedules the rest. One event per change instead of one
// per flow keeps a link shared by n flows at O(n) events rather than O(n^2).
void FlowNetwork::ScheduleEarliestCompletions() {
  const Seconds now = sim_->Now();
  Seconds earliest_end = std::numeric_limits<Seconds>::infinity();
  for (FlowSlot slot : component_flows_) {
    Flow& flow = flows_[slot];
    flow.remaining -= flow.rate_Bps * (now - flow.last_update);
    if (NearlyDrained(flow.remaining, flow.bytes)) flow.remaining = 0;
    flow.last_update = now;
    flow.rate_Bps = flow.new_rate_Bps;
    flow.projected_end = now + flow.remaining / flow.rate_Bps;
    earliest_end = std::min(earliest_end, flow.projected_end);
    if (flow.completion_event != kNoEvent) {
      sim_->Cancel(flow.completion_event);
      flow.completion_event = kNoEvent;
    }
  }
  for (FlowSlot slot : component_flows_) {
    Flow& flow = flows_[slot];
    if (flow.projected_end != earliest_end) continue;
    flow.completion_event = sim_->Schedule(earliest_end, [this, slot] { Complete(slot); });
  }
}

size_t FlowNetwork::NumLinks() const { return links_.size(); }

const std::string& FlowNetwork::LinkName(LinkId id) const {
  CheckLink(id, "LinkName");
  return links_[id].name;
}

double FlowNetwork::LinkBandwidth(LinkId id) const {
  CheckLink(id, "LinkBandwidth");
  return links_[id].bandwidth_Bps;
}

Seconds FlowNetwork::LinkLatency(LinkId id) const {
  CheckLink(id, "LinkLatency");
  return links_[id].latency;
}

const LinkStats& FlowNetwork::Stats(LinkId id) const {
  CheckLink(id, "Stats");
  const Link& link = links_[id];
  if (!link.draining.empty()) {
    link.stats.busy_seconds += sim_->Now() - link.busy_since;
    link.busy_since = sim_->Now();
  }
  return link.stats;
}

size_t FlowNetwork::ActiveFlows() const { return active_flows_; }

}  // namespace braid::sim
