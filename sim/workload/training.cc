#include "sim/workload/training.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "sim/common/input_error.h"

namespace braid::sim {
namespace {

const std::vector<std::string> kLayoutKeys = {"tp", "pp", "dp", "mb", "v", "zero", "recompute", "sp",
                                              "first", "last"};

int ParsePositive(const std::string& key, const std::string& value, const std::string& origin,
                  int lo, int hi) {
  int x = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), x);
  if (ec != std::errc() || end != value.data() + value.size() || x < lo || x > hi) {
    throw InputError(fmt::format("{}: {}={} must be an integer in [{}, {}]", origin, key, value,
                                 lo, hi));
  }
  return x;
}

}  // namespace

int MicroBatches(const TrainingSpec& training, const Layout& layout) {
  return int(training.global_batch / (int64_t{layout.dp} * layout.mb));
}

const char* RecomputeName(Recompute r) {
  switch (r) {
    case Recompute::kNone: return "none";
    case Recompute::kSelective: return "selective";
    case Recompute::kFull: return "full";
  }
  return "?";
}

const char* PipelineScheduleName(PipelineSchedule s) {
  return s == PipelineSchedule::kGPipe ? "gpipe" : "1f1b";
}

const char* AttentionKernelName(AttentionKernel a) {
  return a == AttentionKernel::kFlash ? "flash" : "unfused";
}

const char* GradReduceOverlapName(GradReduceOverlap o) {
  switch (o) {
    case GradReduceOverlap::kAlways: return "always";
    case GradReduceOverlap::kWithoutPipeline: return "without-pipeline";
    case GradReduceOverlap::kNever: return "never";
  }
  return "?";
}

double BucketBytes(const TrainingSpec& training, const Layout& layout) {
  if (training.bucket_bytes > 0) return training.bucket_bytes;
  // Megatron-LM sizes its buckets in parameters and grows them with dp, so that each bucket's
  // reduce-scatter / all-reduce moves enough per rank to run near bandwidth.
  constexpr double kMinBucketParams = 40e6, kBucketParamsPerReplica = 1e6;
  return std::max(kMinBucketParams, kBucketParamsPerReplica * layout.dp) * training.grad_reduce_bytes;
}

bool OverlapsGradReduce(const TrainingSpec& training, const Layout& layout) {
  return training.overlap_grad_reduce == GradReduceOverlap::kAlways ||
         (training.overlap_grad_reduce == GradReduceOverlap::kWithoutPipeline && layout.pp == 1);
}

bool OverlapsParamGather(const TrainingSpec& training, const Layout& layout) {
  return training.overlap_param_gather && layout.zero == 1 && layout.dp > 1 && OverlapsGradReduce(training, layout);
}

bool CopiesGradsToBuckets(const TrainingSpec& training, const Layout& layout) {
  return training.grad_bucket_copies && OverlapsGradReduce(training, layout);
}

Recompute ParseRecompute(const std::string& text, const std::string& origin) {
  if (text == "none") return Recompute::kNone;
  if (text == "selective") return Recompute::kSelective;
  if (text == "full") return Recompute::kFull;
  throw InputError(fmt::format("{}: recompute={} is not one of none, selective, full", origin, text));
}

PipelineSchedule ParsePipelineSchedule(const std::string& text, const std::string& origin) {
  if (text == "1f1b" || text == "interleaved") return PipelineSchedule::kOneFOneB;
  if (text == "gpipe") return PipelineSchedule::kGPipe;
  throw InputError(fmt::format("{}: schedule \"{}\" is not one of 1f1b, interleaved, gpipe "
                               "(interleaving = 1f1b with v > 1)", origin, text));
}

AttentionKernel ParseAttentionKernel(const std::string& text, const std::string& origin) {
  if (text == "flash") return AttentionKernel::kFlash;
  if (text == "unfused") return AttentionKernel::kUnfused;
  throw InputError(fmt::format("{}: attention \"{}\" is not one of flash, unfused", origin, text));
}

GradReduceOverlap ParseGradReduceOverlap(const std::string& text, const std::string& origin) {
  for (GradReduceOverlap o : {GradReduceOverlap::kAlways, GradReduceOverlap::kWithoutPipeline,
                              GradReduceOverlap::kNever}) {
    if (text == GradReduceOverlapName(o)) return o;
  }
  throw InputError(fmt::format("{}: \"{}\" is not one of always, without-pipeline, never", origin, text));
}

void ParseLayoutKeys(const std::string& text, const std::string& origin, Layout* layout,
                     std::vector<std::string>* present) {
  std::vector<std::string> seen;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string item = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    start = comma == std::string::npos ? text.size() + 1 : comma + 1;
    // Blanks around an entry are no part of it ("tp=2, pp=2" named a key " pp"; QA, session 56).
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) {
      throw InputError(fmt::format("{}: \"{}\" has an empty entry (a doubled, leading or trailing comma?)", origin,
                                   text));
    }
    size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw InputError(fmt::format("{}: \"{}\" is not KEY=VALUE (keys: {})", origin, item,
                                   fmt::join(kLayoutKeys, ", ")));
    }
    std::string key = item.substr(0, eq), value = item.substr(eq + 1);
    if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
      throw InputError(fmt::format("{}: key \"{}\" given twice", origin, key));
    }
    seen.push_back(key);
    if (key == "tp") layout->tp = ParsePositive(key, value, origin, 1, 1 << 16);
    else if (key == "pp") layout->pp = ParsePositive(key, value, origin, 1, 1 << 16);
    else if (key == "dp") layout->dp = ParsePositive(key, value, origin, 1, 1 << 20);
    else if (key == "mb") layout->mb = ParsePositive(key, value, origin, 1, 1 << 16);
    else if (key == "v") layout->v = ParsePositive(key, value, origin, 1, 1024);
    else if (key == "zero") layout->zero = ParsePositive(key, value, origin, 0, 3);
    else if (key == "recompute") layout->recompute = ParseRecompute(value, origin);
    // 0: the default split, as the JSON and CSV outputs write it, so that their fields read back
    // (QA, session 55: first=0 was refused).
    else if (key == "first") layout->first = ParsePositive(key, value, origin, 0, 1 << 16);
    else if (key == "last") layout->last = ParsePositive(key, value, origin, 0, 1 << 16);
    else if (key == "sp") {
      if (value != "on" && value != "off") {
        throw InputError(fmt::format("{}: sp={} must be on or off", origin, value));
      }
      layout->sp = value == "on";
    } else {
      throw InputError(fmt::format("{}: unknown layout key \"{}\" (keys: {})", origin, key,
                                   fmt::join(kLayoutKeys, ", ")));
    }
    if (present) present->push_back(key);
  }
}

std::string LayoutToString(const Layout& l) {
  std::string text = fmt::format("tp={},pp={},dp={},mb={},v={},zero={},recompute={},sp={}", l.tp, l.pp,
                                 l.dp, l.mb, l.v, l.zero, RecomputeName(l.recompute), l.sp ? "on" : "off");
  if (l.first > 0) text += fmt::format(",first={}", l.first);
  if (l.last > 0) text += fmt::format(",last={}", l.last);
  return text;
}

int WarmupForwards(int pp, int v, int microbatches, int stage) {
  const int total = microbatches * v;
  if (v > 1 && microbatches == pp) return total;
  const int warmup = v == 1 ? pp - stage - 1 : (pp - stage - 1) * 2 + (v - 1) * pp;
  return std::min(warmup, total);
}

}  // namespace braid::sim
