// Layout search: enumerate (tp, pp, dp, mb, v, zero, recompute, sp) for a model on a cluster,
// reject what cannot run (divisibility, schedule rules, memory) with the reason, rank the rest by
// a closed-form estimate, simulate the promising ones, and order them by simulated throughput.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sim/step/step_model.h"

namespace braid::sim {

struct SearchOptions {
  int top = 10;
  Layout fixed;                         // values of the pinned keys
  std::vector<std::string> fixed_keys;  // which keys of `fixed` are pinned (tp, pp, dp, mb, ...)
  // Candidates whose estimate is within this factor of the best estimate are simulated (at most
  // max(max_simulated, top), at least 2 * max(top, 10) when there are that many); the others are
  // left out as slower by the closed-form estimate.
  double simulate_within = 1.3;
  int max_simulated = 64;
  std::function<void(int done, int total)> progress;  // during simulation
};

struct Rejection {
  // The layout (LayoutToString), or for a (tp, pp, dp) skipped before it became one, only the
  // keys that were pinned or enumerated ("tp=2,dp=16"): never a value nobody chose.
  std::string layout;
  std::string rule;    // short name of the constraint, e.g. "memory"
  std::string reason;  // full message
};

struct SearchResult {
  std::vector<StepResult> best;  // simulated, best first, at most `top`
  std::vector<Rejection> rejected;
  int enumerated = 0;
  int feasible = 0;
  int simulated = 0;
  // Of those, ranked by a step time extrapolated from two shorter pipelines (StepModel::
  // ExtrapolatedSeconds); the `best` returned are always simulated in full.
  int extrapolated = 0;
  double seconds = 0;  // wall time of the search
};

SearchResult Search(StepModel& model, const SearchOptions& options);

}  // namespace braid::sim
