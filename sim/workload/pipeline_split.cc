#include "sim/workload/pipeline_split.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace braid::sim {

std::vector<int> VirtualStageLayers(int layers, int pp, int v, bool uneven, std::string* why) {
  const int n = pp * v;
  if (pp < 1 || v < 1 || layers < n) {
    *why = fmt::format("layers ({}) cannot fill pp*v ({}*{}) virtual stages: each needs a layer", layers, pp, v);
    return {};
  }
  if (layers % n == 0) return std::vector<int>(size_t(n), layers / n);
  if (!uneven) {
    *why = fmt::format("layers ({}) not divisible by pp*v ({}*{}) (even pipeline stages, as "
                       "Megatron-LM required in 2021)", layers, pp, v);
    return {};
  }
  const int middle = (layers + n - 1) / n;
  const int shortfall = n * middle - layers;  // 1 .. n - 1
  const int last = middle - (shortfall + 1) / 2;
  const int first = middle - shortfall / 2;
  if (last < 1) {
    std::vector<int> divisors;
    for (int d = 1; d <= layers; ++d)
      if (layers % d == 0) divisors.push_back(d);
    *why = fmt::format("layers ({}) over pp*v ({}*{}) virtual stages: with {} on each middle stage the "
                       "first and last would have to give up {} layers between them, more than they "
                       "hold (each keeps at least one); pp*v values that divide {}: {}, or set "
                       "first=/last=", layers, pp, v, middle, shortfall, layers, fmt::join(divisors, ", "));
    return {};
  }
  std::vector<int> split(size_t(n), middle);
  split.front() = first;
  split.back() = last;
  return split;
}

namespace {

// first and/or last given (> 0); the other virtual stages share the rest evenly.
std::vector<int> ExplicitStageLayers(int layers, int pp, int v, int first, int last, std::string* why) {
  const int n = pp * v;
  // The error's prefix, formatted only on failure (the step model asks for the split often).
  const auto given = [&] {
    return fmt::format("layers ({}) over pp*v ({}*{}) virtual stages with{}{}", layers, pp, v,
                       first > 0 ? fmt::format(" first={}", first) : "",
                       last > 0 ? fmt::format(" last={}", last) : "");
  };
  const int fixed_stages = int(first > 0) + int(last > 0);
  // Named first: no pipeline fixes it, and the checks below would name a symptom (QA, session 53:
  // "needs at least 2 virtual stages" on pp=1, "the remaining -6 layers" on pp=2).
  const int rest = layers - first - last;
  if (rest < 0 || (rest == 0 && n > fixed_stages)) {
    *why = given() + fmt::format(": {} the model's {} layers, none left for the other virtual stages",
                                 rest < 0 ? "more than" : "all of", layers);
    return {};
  }
  if (n < 2) {
    *why = given() + ": first/last need a pipeline of at least 2 virtual stages";
    return {};
  }
  const int others = n - fixed_stages;
  if (others == 0) {
    if (rest != 0) {
      *why = given() + fmt::format(": the two stages must hold all {} layers", layers);
      return {};
    }
    return {first, last};
  }
  if (rest < others || rest % others != 0) {
    *why = given() + fmt::format(": the other {} virtual stages cannot share the remaining {} layers "
                               "evenly (at least one each)", others, rest);
    return {};
  }
  std::vector<int> split(size_t(n), rest / others);
  if (first > 0) split.front() = first;
  if (last > 0) split.back() = last;
  return split;
}

}  // namespace

std::vector<int> LayoutStageLayers(int layers, const Layout& l, bool uneven, std::string* why) {
  if (l.first > 0 || l.last > 0) return ExplicitStageLayers(layers, l.pp, l.v, l.first, l.last, why);
  return VirtualStageLayers(layers, l.pp, l.v, uneven, why);
}

int SplitShortfall(const std::vector<int>& split) {
  int most = 0, sum = 0;
  for (int n : split) {
    most = std::max(most, n);
    sum += n;
  }
  return int(split.size()) * most - sum;
}

std::vector<int> StageChunkLayers(const std::vector<int>& split, int pp, int stage) {
  std::vector<int> chunks;
  for (size_t i = size_t(stage); i < split.size(); i += size_t(pp)) chunks.push_back(split[i]);
  return chunks;
}

int StageLayerCount(const std::vector<int>& split, int pp, int stage) {
  int layers = 0;
  for (int chunk : StageChunkLayers(split, pp, stage)) layers += chunk;
  return layers;
}

std::string SplitText(const std::vector<int>& split) {
  const size_t n = split.size();
  if (n == 0) return "none";
  if (std::all_of(split.begin(), split.end(), [&](int k) { return k == split.front(); })) {
    return fmt::format("{} x {}", n, split.front());
  }
  if (n == 2) return fmt::format("{} + {}", split.front(), split.back());
  return fmt::format("{} + {} x {} + {}", split.front(), n - 2, split[1], split.back());
}

}  // namespace braid::sim
