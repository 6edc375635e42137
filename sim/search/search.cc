#include "sim/search/search.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "sim/workload/pipeline_split.h"

namespace braid::sim {
namespace {

// Largest micro-batch the search tries (sequences); larger ones only when pinned with --fix mb=.
constexpr int kMaxMicroBatch = 64;
// Rows ranked by simulation for any --top below this, so that a short table's best row is the
// default table's.
constexpr int kMinRankedRows = 10;

bool Pinned(const SearchOptions& o, const char* key) {
  return std::find(o.fixed_keys.begin(), o.fixed_keys.end(), key) != o.fixed_keys.end();
}

std::vector<int> Divisors(int n, int limit) {
  std::vector<int> d;
  for (int i = 1; i <= n && i <= limit; ++i) {
    if (n % i == 0) d.push_back(i);
  }
  return d;
}

// Values of one key: the pinned value, or the candidates.
std::vector<int> Values(const SearchOptions& o, const char* key, int pinned, std::vector<int> candidates) {
  if (Pinned(o, key)) return {pinned};
  return candidates;
}

// The first/last layer counts a search pins (0 = the default split).
Layout PinnedSplit(const SearchOptions& o) {
  Layout l;
  if (Pinned(o, "first")) l.first = o.fixed.first;
  if (Pinned(o, "last")) l.last = o.fixed.last;
  return l;
}

// Whether the search tries pp stages of v chunks: the layers split evenly over them, or (when
// uneven splits are allowed) any uneven split without interleaving, and with interleaving one
// whose first and last virtual stages are one layer short at most, as Llama 3 ran; with
// first/last pinned, whether those counts leave an even split of the rest. Without interleaving
// every uneven pp is tried: the only pipelines a GPU count allows may all be uneven (80 layers on
// 56 GPUs: pp=7 or 14 or 28, 4 layers short), and the search ranks an unbalanced one by its
// busiest stage anyway. Layouts given explicitly may use any split (pipeline_split.h).
bool Splits(const StepModel& m, const SearchOptions& o, int pp, int v) {
  Layout l = PinnedSplit(o);
  l.pp = pp;
  l.v = v;
  std::string why;
  const std::vector<int> split = LayoutStageLayers(m.model().layers, l, m.training().uneven_pipeline, &why);
  return !split.empty() && (l.first > 0 || l.last > 0 || v == 1 || SplitShortfall(split) <= 2);
}

// What a (tp, pp, dp) skipped by Enumerate was: tp, and pp and dp where known (0: not chosen
// yet, left out), with the pinned first/last layers.
std::string KnownKeys(const SearchOptions& o, int tp, int pp, int dp) {
  std::string text = fmt::format("tp={}", tp);
  if (pp > 0) text += fmt::format(",pp={}", pp);
  if (dp > 0) text += fmt::format(",dp={}", dp);
  if (Pinned(o, "first")) text += fmt::format(",first={}", o.fixed.first);
  if (Pinned(o, "last")) text += fmt::format(",last={}", o.fixed.last);
  return text;
}

// Candidate layouts. A (tp, pp, dp) that does not tile the cluster, or a dp that does not divide
// the batch, is not a layout: it is skipped, and recorded in *skipped with the reason when a
// pinned key caused it or the batch rules it out, so that a search left empty says why.
std::vector<Layout> Enumerate(const StepModel& m, const SearchOptions& o, std::vector<Rejection>* skipped) {
  const ModelSpec& model = m.model();
  const int gpus = m.cluster().total_gpus();
  const int per_node = m.cluster().node.gpus;
  const int batch = m.training().global_batch;
  std::vector<Layout> out;
  auto skip = [&](int tp, int pp, int dp, const char* rule, std::string why) {
    skipped->push_back({KnownKeys(o, tp, pp, dp), rule, std::move(why)});
  };
  const int pinned_pp = Pinned(o, "pp") ? o.fixed.pp : 0, pinned_dp = Pinned(o, "dp") ? o.fixed.dp : 0;
  // TP stays within a node (across nodes its per-layer collectives would run on the NICs).
  for (int tp : Values(o, "tp", o.fixed.tp, Divisors(per_node, per_node))) {
    if (gpus % tp != 0) {
      skip(tp, pinned_pp, pinned_dp, "gpus", fmt::format("tp={} does not divide the {} GPUs", tp, gpus));
      continue;
    }
    std::vector<int> pps;
    if (Pinned(o, "dp") && !Pinned(o, "pp")) {
      // dp pinned: pp is what is left of the GPUs.
      if ((gpus / tp) % o.fixed.dp == 0) {
        pps.push_back(gpus / tp / o.fixed.dp);
      } else {
        skip(tp, 0, o.fixed.dp, "gpus", fmt::format("tp*dp = {}*{} = {} does not divide the {} GPUs", tp,
                                                    o.fixed.dp, int64_t{tp} * o.fixed.dp, gpus));
      }
    } else {
      for (int pp : Divisors(gpus / tp, model.layers)) {
        if (Splits(m, o, pp, 1)) pps.push_back(pp);
      }
      if (pps.empty() && !Pinned(o, "pp")) {  // pinned first/last layers that no split allows
        Layout l = PinnedSplit(o);
        std::string why = "no pp splits the layers with the pinned first/last";
        LayoutStageLayers(model.layers, l, m.training().uneven_pipeline, &why);
        skip(tp, 0, 0, "pp-v-split-layers", why);  // neither pp nor dp pinned here
      }
    }
    for (int pp : Values(o, "pp", o.fixed.pp, pps)) {
      const int64_t tp_pp = int64_t{tp} * pp;  // each may be pinned up to 65536
      if (pinned_dp > 0 && tp_pp * pinned_dp != gpus) {
        skip(tp, pp, pinned_dp, "gpus", fmt::format("tp*pp*dp = {}*{}*{} = {} does not make the {} GPUs", tp, pp,
                                                    pinned_dp, tp_pp * pinned_dp, gpus));
        continue;
      }
      if (gpus % tp_pp != 0) {  // only a pinned pp can be one that does not divide
        skip(tp, pp, 0, "gpus", fmt::format("tp*pp = {}*{} = {} does not divide the {} GPUs", tp, pp, tp_pp, gpus));
        continue;
      }
      const int dp = int(gpus / tp_pp);
      if (batch % dp != 0) {
        skip(tp, pp, dp, "batch-divisible", fmt::format("global batch ({}) not divisible by dp ({})", batch, dp));
        continue;
      }
      // Every size that divides a replica's batch, up to kMaxMicroBatch (memory rules out the
      // larger ones on any model worth a search): powers of two alone missed mb=3 at a batch
      // of 24 per replica, 11-31% faster than the best shown (QA, session 56).
      std::vector<int> mbs;
      for (int mb = 1; mb <= kMaxMicroBatch && mb <= batch / dp; ++mb) {
        if ((batch / dp) % mb == 0) mbs.push_back(mb);
      }
      for (int mb : Values(o, "mb", o.fixed.mb, mbs)) {
        std::vector<int> vs = {1};
        // Interleaving needs pp >= 3 (the rule "interleave-needs-pp"): v > 1 on a shorter
        // pipeline is tried only when pinned, rather than enumerated to fill --explain with it.
        for (int v = 2; pp > 2 && v <= 16; ++v) {
          if (Splits(m, o, pp, v)) vs.push_back(v);
        }
        for (int v : Values(o, "v", o.fixed.v, vs)) {
          for (int zero : Values(o, "zero", o.fixed.zero, {0, 1, 2, 3})) {
            // ZeRO shards over the DP replicas: with one, every stage is the same as zero=0.
            if (zero > 0 && dp == 1 && !Pinned(o, "zero")) continue;
            // With fused attention, selective recomputation is what the kernel does anyway:
            // the same step as none, so it is enumerated only when unfused or pinned.
            std::vector<int> recomputes = {0, 2};
            if (m.training().attention == AttentionKernel::kUnfused) recomputes = {0, 1, 2};
            for (int rec : Values(o, "recompute", int(o.fixed.recompute), recomputes)) {
              for (int sp : Values(o, "sp", int(o.fixed.sp), {0, 1})) {
                if (sp && tp == 1 && !Pinned(o, "sp")) continue;  // meaningless, not a rejection
                Layout l = PinnedSplit(o);
                l.tp = tp;
                l.pp = pp;
                l.dp = dp;
                l.mb = mb;
                l.v = v;
                l.zero = zero;
                l.recompute = static_cast<Recompute>(rec);
                l.sp = sp != 0;
                out.push_back(l);
              }
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace

SearchResult Search(StepModel& model, const SearchOptions& o) {
  const auto started = std::chrono::steady_clock::now();
  SearchResult result;
  std::vector<Layout> candidates = Enumerate(model, o, &result.rejected);
  result.enumerated = int(candidates.size() + result.rejected.size());
  std::vector<std::pair<double, Layout>> estimated;
  for (const Layout& l : candidates) {
    std::string rule;
    std::string why = model.Infeasible(l, &rule);
    if (!why.empty()) {
      result.rejected.push_back({LayoutToString(l), rule, why});
      continue;
    }
    estimated.push_back({model.EstimateSeconds(l), l});
  }
  result.feasible = int(estimated.size());
  std::stable_sort(estimated.begin(), estimated.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Layout> to_simulate;
  const int cap = std::max(o.max_simulated, o.top);  // a longer table asked for is simulated
  // As many for a short table as for the default one, so its best row is the same.
  const int64_t needed_rows = 2 * int64_t{std::max(o.top, kMinRankedRows)};
  for (const auto& [seconds, l] : estimated) {
    const bool promising = seconds <= estimated.front().first * o.simulate_within;
    const bool needed = int64_t(to_simulate.size()) < needed_rows;
    if (int(to_simulate.size()) >= cap || (!promising && !needed)) break;
    to_simulate.push_back(l);
  }
  // Ranked by their step times; a long pipeline's is extrapolated from two short ones, and only
  // the `top` that are shown are then simulated in full.
  struct Ranked {
    double seconds;
    Layout layout;
    std::optional<StepResult> full;
  };
  std::vector<Ranked> ranked;
  for (size_t i = 0; i < to_simulate.size(); ++i) {
    const Layout& l = to_simulate[i];
    if (std::optional<double> seconds = model.ExtrapolatedSeconds(l)) {
      ranked.push_back({*seconds, l, std::nullopt});
      ++result.extrapolated;
    } else {
      StepResult full = model.Simulate(l);
      ranked.push_back({full.step_time_s, l, std::move(full)});
    }
    if (o.progress) o.progress(int(i + 1), int(to_simulate.size()));
  }
  result.simulated = int(ranked.size());
  std::stable_sort(ranked.begin(), ranked.end(), [](const Ranked& a, const Ranked& b) { return a.seconds < b.seconds; });
  if (int(ranked.size()) > o.top) ranked.resize(o.top);
  for (Ranked& r : ranked) result.best.push_back(r.full ? std::move(*r.full) : model.Simulate(r.layout));
  std::stable_sort(result.best.begin(), result.best.end(),
                   [](const StepResult& a, const StepResult& b) { return a.step_time_s < b.step_time_s; });
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return result;
}

}  // namespace braid::sim
