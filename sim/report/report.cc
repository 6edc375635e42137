#include "sim/report/report.h"

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <map>

#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"

namespace braid::sim {

const char* const kFlopConvention =
    "tflops_per_gpu is the rate Megatron-LM reports: every pass's FLOPs, recomputation included, "
    "attention scores counted in full (Eq. 3 of Narayanan et al. SC'21 under full recomputation), "
    "so with causal fused attention it counts the masked half that never runs and can pass the "
    "GPU's peak on long sequences; mfu uses model FLOPs (forward + backward, no recomputation, "
    "causal attention's masked half left out) over the GPU's dense bf16 peak";

Format ParseFormat(const std::string& text) {
  if (text == "table") return Format::kTable;
  if (text == "json") return Format::kJson;
  if (text == "csv") return Format::kCsv;
  throw InputError("--format " + text + " is not one of table, json, csv");
}

nlohmann::json ResultJson(const StepResult& r) {
  const Layout& l = r.layout;
  const Breakdown& b = r.breakdown;
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  return {
      {"layout", {{"tp", l.tp}, {"pp", l.pp}, {"dp", l.dp}, {"mb", l.mb}, {"v", l.v},
                  {"zero", l.zero}, {"recompute", RecomputeName(l.recompute)}, {"sp", l.sp},
                  {"first", l.first}, {"last", l.last}}},
      {"layout_string", LayoutToString(l)},
      {"microbatches", r.microbatches},
      {"step_time_s", r.step_time_s},
      {"tokens_per_s", r.tokens_per_s},
      {"tflops_per_gpu", r.tflops_per_gpu},
      {"model_tflops_per_gpu", r.model_tflops_per_gpu},
      {"mfu", r.mfu},
      {"memory_gib_per_gpu", r.memory_gib_per_gpu},
      {"memory_gib", {{"weights", r.memory.weights / kGiB}, {"gradients", r.memory.gradients / kGiB},
                      {"optimizer", r.memory.optimizer / kGiB}, {"activations", r.memory.activations / kGiB},
                      {"reserved", r.memory.reserved / kGiB}}},
      {"breakdown", {{"compute_s", b.compute}, {"tp_exposed_s", b.tp_exposed},
                     {"pp_exposed_s", b.pp_exposed}, {"bubble_s", b.bubble},
                     {"dp_exposed_s", b.dp_exposed}, {"optimizer_s", b.optimizer}}},
      {"critical_stage", r.critical_stage},
      {"stage_layers", r.stage_layers},
      {"simulated", r.simulated},
  };
}

namespace {

// The layers of each pipeline stage in short, runs of equal stages as COUNTxLAYERS joined by '+':
// "7+14x8+7" (Llama 3 405B on 16 stages), "1+31" (--fix first=1), "32" (one stage). Rows whose
// layouts differ only in first/last differ here. No commas, so a CSV cell needs no quoting.
std::string StageLayersText(const std::vector<int>& layers) {
  std::string text;
  for (size_t i = 0; i < layers.size();) {
    size_t run = 1;
    while (i + run < layers.size() && layers[i + run] == layers[i]) ++run;
    if (!text.empty()) text += '+';
    text += run == 1 ? fmt::format("{}", layers[i]) : fmt::format("{}x{}", run, layers[i]);
    i += run;
  }
  return text;
}

std::string Pct(double part, double whole) {
  return fmt::format("{:.1f}%", whole > 0 ? 100 * part / whole : 0);
}

const char* GradReduceOverlapText(GradReduceOverlap o) {
  switch (o) {
    case GradReduceOverlap::kAlways: return "overlapped with backward";
    case GradReduceOverlap::kWithoutPipeline:
      return "overlapped with backward without a pipeline, after the flush with one";
    case GradReduceOverlap::kNever: return "after backward";
  }
  return "?";
}

void WriteTable(std::ostream& out, const RunContext& c, const std::vector<StepResult>& results,
                const SearchResult* search) {
  // Billions to one decimal from 1B, else millions: a small JSON model read "0.0B" (QA).
  const double parameters = TotalParameters(*c.model);
  const std::string size = parameters >= 1e9 ? fmt::format("{:.1f}B", parameters / 1e9)
                                             : fmt::format("{:.3g}M", parameters / 1e6);
  fmt::print(out, "# plan-sim {}: model {} ({} parameters), {} GPUs of {} ({}), global batch {}\n",
             c.command, c.model->name, size, c.cluster->total_gpus(),
             c.cluster->gpu.name, c.cluster->name, c.training->global_batch);
  fmt::print(out, "# training: {}, Adam, attention {}, schedule {}{}, grad reduce in {}-byte values, {}{}, {}, {}, {}\n",
             c.training->loss_scaling ? "fp16 with loss scaling" : "bf16",
             AttentionKernelName(c.training->attention), PipelineScheduleName(c.training->schedule),
             c.training->uneven_pipeline ? "" : " (even stages)",
             c.training->grad_reduce_bytes, GradReduceOverlapText(c.training->overlap_grad_reduce),
             c.training->grad_bucket_copies ? " (through bucket copies)" : "",
             c.training->fused_grad_accumulation ? "accumulated inside the weight-gradient GEMMs"
                                                 : "accumulated by a separate kernel per micro-batch",
             c.training->tp_comm_overlap ? "backward TP communication beside the GEMMs"
                                         : "every TP collective on the critical path",
             c.training->overlap_param_gather ? "ZeRO-1 layouts gather parameters under the next step's forward"
                                              : "ZeRO-1 layouts gather parameters after the optimizer");
  fmt::print(out, "# {}\n", kFlopConvention);
  if (search) {
    fmt::print(out,
               "# search: {} layouts enumerated, {} rejected, {} feasible: {} simulated{}, {} left out as slower by the "
               "closed-form estimate; {:.2f} s\n",
               search->enumerated, search->rejected.size(), search->feasible, search->simulated,
               search->extrapolated == 0
                   ? std::string()
                   : fmt::format(" ({} ranked by two shorter pipelines, the rows shown in full)", search->extrapolated),
               search->feasible - search->simulated, search->seconds);
  }
  // Stage layers last: the only column of unbounded width.
  fmt::print(out, "{:>3} {:>3} {:>3} {:>4} {:>3} {:>3} {:>4} {:>9} {:>3} {:>9} {:>12} {:>7} {:>6} {:>7} | "
                  "{:>7} {:>6} {:>6} {:>6} {:>6} {:>6} | {}\n",
             "#", "tp", "pp", "dp", "mb", "v", "zero", "recompute", "sp", "step(s)", "tokens/s",
             "TFLOP/s", "MFU", "mem GiB", "compute", "tp", "pp", "bubble", "dp", "optim", "stage layers");
  int rank = 1;
  for (const StepResult& r : results) {
    const Layout& l = r.layout;
    const Breakdown& b = r.breakdown;
    const double t = r.step_time_s;
    // TFLOP/s with 4 significant digits: a calibrated CPU rank's is a fraction of one.
    fmt::print(out, "{:>3} {:>3} {:>3} {:>4} {:>3} {:>3} {:>4} {:>9} {:>3} {:>#9.5g} {:>12.0f} {:>7.4g} "
                    "{:>5.1f}% {:>7.1f} | {:>7} {:>6} {:>6} {:>6} {:>6} {:>6} | {}\n",
               rank++, l.tp, l.pp, l.dp, l.mb, l.v, l.zero, RecomputeName(l.recompute),
               l.sp ? "on" : "off", t, r.tokens_per_s, r.tflops_per_gpu, 100 * r.mfu,
               r.memory_gib_per_gpu, Pct(b.compute, t), Pct(b.tp_exposed, t), Pct(b.pp_exposed, t),
               Pct(b.bubble, t), Pct(b.dp_exposed, t), Pct(b.optimizer, t), StageLayersText(r.stage_layers));
  }
  if (!results.empty()) fmt::print(out, "# simulated (best): {}\n", results.front().simulated);
}

void WriteCsv(std::ostream& out, const std::vector<StepResult>& results) {
  // first and last (0: the default split) make each row's layout complete: the stage_layers it
  // produced cannot be rebuilt from the other columns alone.
  fmt::print(out, "tp,pp,dp,mb,v,zero,recompute,sp,first,last,step_time_s,tokens_per_s,tflops_per_gpu,"
                  "model_tflops_per_gpu,mfu,memory_gib_per_gpu,compute_s,tp_exposed_s,pp_exposed_s,"
                  "bubble_s,dp_exposed_s,optimizer_s,stage_layers\n");
  for (const StepResult& r : results) {
    const Layout& l = r.layout;
    const Breakdown& b = r.breakdown;
    fmt::print(out, "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},"
                    "{},{},{},{},{}\n",
               l.tp, l.pp, l.dp, l.mb, l.v, l.zero, RecomputeName(l.recompute), l.sp ? "on" : "off", l.first, l.last,
               r.step_time_s, r.tokens_per_s, r.tflops_per_gpu, r.model_tflops_per_gpu, r.mfu,
               r.memory_gib_per_gpu, b.compute, b.tp_exposed, b.pp_exposed, b.bubble, b.dp_exposed,
               b.optimizer, StageLayersText(r.stage_layers));
  }
}

}  // namespace

void WriteResults(std::ostream& out, Format format, const RunContext& c,
                  const std::vector<StepResult>& results, const SearchResult* search) {
  switch (format) {
    case Format::kTable: return WriteTable(out, c, results, search);
    case Format::kCsv: return WriteCsv(out, results);
    case Format::kJson: {
      nlohmann::json doc = {
          {"command", c.command},
          {"model", c.model->name},
          {"parameters", TotalParameters(*c.model)},
          {"cluster", c.cluster->name},
          {"gpus", c.cluster->total_gpus()},
          {"global_batch", c.training->global_batch},
          {"flop_convention", kFlopConvention},
          {"results", nlohmann::json::array()},
      };
      for (const StepResult& r : results) doc["results"].push_back(ResultJson(r));
      if (search) {
        doc["search"] = {{"enumerated", search->enumerated},
                         {"rejected", search->rejected.size()},
                         {"feasible", search->feasible},
                         {"simulated", search->simulated},
                         {"extrapolated", search->extrapolated},
                         {"seconds", search->seconds}};
      }
      out << DumpJson(doc, 2) << "\n";
      return;
    }
  }
}

void WriteRejections(std::ostream& out, const SearchResult& search, int examples) {
  std::map<std::string, std::vector<const Rejection*>> by_rule;
  for (const Rejection& r : search.rejected) by_rule[r.rule].push_back(&r);
  fmt::print(out, "# rejected layouts: {} of {}\n", search.rejected.size(), search.enumerated);
  for (const auto& [rule, list] : by_rule) {
    fmt::print(out, "#   {}: {} layout(s)\n", rule, list.size());
    for (int i = 0; i < int(list.size()) && i < examples; ++i) {
      fmt::print(out, "#     {}: {}\n", list[i]->layout, list[i]->reason);
    }
  }
}

}  // namespace braid::sim
