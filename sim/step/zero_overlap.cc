#include "sim/step/zero_overlap.h"

#include <algorithm>

#include <fmt/format.h>

namespace braid::sim {
namespace {

// The data-parallel link: collectives run one at a time in the order they were issued. Issue
// times never decrease in ScheduleZeroPass (a unit's start, then its end, then the next unit's
// start), so queuing in call order is queuing in issue order.
class Link {
 public:
  Link(ZeroPass* pass, bool keep_spans) : pass_(pass), keep_spans_(keep_spans) {}

  // Runs a collective of `seconds` issued at `issued`; returns when it ends.
  double Run(double issued, double seconds, const char* what, const ZeroUnit& unit) {
    if (seconds <= 0) return issued;
    const double start = std::max(issued, free_at_);
    free_at_ = start + seconds;
    if (keep_spans_) {
      std::string label = fmt::format("{} {}", what, unit.kind);
      if (unit.index >= 0) label += fmt::format(" {}", unit.index);
      pass_->spans.push_back({std::move(label), start, free_at_});
    }
    return free_at_;
  }
  double free_at() const { return free_at_; }

 private:
  ZeroPass* pass_;
  bool keep_spans_;
  double free_at_ = 0;
};

}  // namespace

ZeroPass ScheduleZeroPass(const std::vector<ZeroUnit>& units, bool overlap_reduce, bool keep_spans) {
  ZeroPass pass;
  if (units.empty()) return pass;
  Link link(&pass, keep_spans);
  double computed = 0;  // sum of the units' compute
  double compute_free = 0;
  // When unit i's parameters are in place (0 without a gather).
  double gathered = link.Run(0, units[0].gather, "param all-gather", units[0]);
  for (size_t i = 0; i < units.size(); ++i) {
    const double start = std::max(compute_free, gathered);
    if (i + 1 < units.size()) {
      gathered = link.Run(start, units[i + 1].gather, "param all-gather", units[i + 1]);
    }
    compute_free = start + units[i].compute;
    computed += units[i].compute;
    const double reduced = link.Run(compute_free, units[i].reduce, "grad reduce-scatter", units[i]);
    if (!overlap_reduce) compute_free = std::max(compute_free, reduced);  // the next unit waits
  }
  pass.seconds = std::max(compute_free, link.free_at());
  pass.exposed = pass.seconds - computed;
  return pass;
}

}  // namespace braid::sim
