// plan-sim: predicts the step time of data/tensor/pipeline-parallel training on a cluster and
// picks the layout.
//
//   plan-sim search   --model M --cluster C --gpus N --global-batch B [--top K] [--fix K=V,...] [--explain]
//   plan-sim simulate --model M --cluster C --global-batch B --layout tp=8,pp=8,dp=16,... [--trace F]
//   plan-sim topo     [--cluster C] [--format table|json] [--out F]
//   plan-sim collective --cluster C [--collective allreduce] [--ranks N] [-b 8] [-e 256M] [-f 2]
//                       [--type float] [--op sum]   (collective_command.cc)
//
// Exit status: 0 success, 2 bad input (names the option, file, field and constraint), 1 a bug.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "braid/topology.h"
#include "lib/cli_parse.h"
#include "lib/version_flag.h"
#include "collective_command.h"
#include "option_input.h"
#include "output.h"
#include "sim/cluster/cluster.h"
#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"
#include "sim/report/report.h"
#include "sim/search/search.h"

namespace braid::sim {
namespace {

constexpr int kExitBadInput = 2;
constexpr int kExitInternal = 1;
// Sequences per step: 16M, far beyond any published run (Llama 3 405B: 16K at most).
constexpr int kMaxGlobalBatch = 1 << 24;
constexpr int kMaxGpus = sim::kMaxSimulatedGpus;
constexpr int kMaxTop = 100000;  // rows a search may print

struct Options {
  std::string model, cluster, layout, fix, format = "table", out = "-", trace, calibration, tuner_file;
  std::string attention = "flash", schedule = "1f1b", grad_reduce_overlap = "always";
  int gpus = 0, global_batch = 0, top = 10, grad_reduce_bytes = 4;
  double bucket_mb = 0;  // 0: Megatron-LM's default (TrainingSpec::bucket_bytes)
  bool explain = false, fp16 = false, no_overlap_grad_reduce = false, no_fused_grad_accumulation = false,
       keep_pipeline_outputs = false, no_pp_scatter_gather = false, overlap_p2p = false,
       grad_bucket_copies = false, even_pipeline_stages = false, no_tp_comm_overlap = false,
       no_overlap_param_gather = false;
};

void AddCommon(CLI::App* cmd, Options* o) {
  cmd->add_option("--model", o->model, fmt::format("Preset ({}) or JSON file", fmt::join(ModelPresetNames(), ", ")))
      ->required()
      ->check(NonEmptyPath());
  cmd->add_option("--cluster", o->cluster,
                  fmt::format("Preset ({}), 'this' (hwloc discovery), an hwloc .xml or a .json cluster file, or a pipe "
                              "holding either (<(ssh node lstopo --of xml -))",
                              fmt::join(ClusterPresetNames(), ", ")))
      ->required()
      ->check(NonEmptyPath());
  cmd->add_option("--gpus", o->gpus, "GPUs to use (a multiple of GPUs per node, or fewer than one node; default: the cluster's, or the layout's)")
      ->check(tools::IntegerIn(1, kMaxGpus));
  cmd->add_option("--global-batch", o->global_batch, "Sequences per optimizer step")
      ->required()
      ->check(tools::IntegerIn(1, kMaxGlobalBatch));
  AddTunerFileOption(cmd, &o->tuner_file);
  cmd->add_option("--calibration", o->calibration, "GEMM calibration JSON ({\"gemm\": [{m, n, k, tflops}]})")
      ->check(NonEmptyPath());
  cmd->add_option("--attention", o->attention, "Attention kernels: flash (fused) or unfused (Megatron-LM's PyTorch attention block: separate QKV bias add, scores materialised, softmax and dropout kernels, context copied back to [s, b, h])")->capture_default_str();
  cmd->add_option("--schedule", o->schedule, "Pipeline schedule: 1f1b (interleaved when v > 1; 'interleaved' is the same) or gpipe (every forward, then "
                  "every backward; with v > 1 chunk by chunk, a looped breadth-first GPipe)")
      ->capture_default_str();
  cmd->add_flag("--fp16", o->fp16, "fp16 with loss scaling instead of bf16 (the optimizer unscales and checks the gradients)");
  cmd->add_option("--grad-reduce-bytes", o->grad_reduce_bytes, "Bytes per gradient value reduced across DP (4 fp32, 2 bf16)")
      ->capture_default_str();
  CLI::Option* overlap =
      cmd->add_option("--grad-reduce-overlap", o->grad_reduce_overlap,
                      "When DP gradient buckets reduce: always (during backward), without-pipeline (during backward "
                      "when pp=1, after the flush when pp>1: Megatron-LM 2021) or never (after backward)")
          ->capture_default_str();
  cmd->add_flag("--no-overlap-grad-reduce", o->no_overlap_grad_reduce, "Same as --grad-reduce-overlap never")
      ->excludes(overlap);
  cmd->add_flag("--no-fused-grad-accumulation", o->no_fused_grad_accumulation,
                "Each micro-batch's weight gradients are added to the accumulation buffer by a separate kernel "
                "(PyTorch autograd; Megatron-LM before --gradient-accumulation-fusion)");
  cmd->add_flag("--keep-pipeline-outputs", o->keep_pipeline_outputs,
                "A stage keeps each micro-batch's output until its backward (Megatron-LM before "
                "--deallocate-pipeline-outputs)");
  cmd->add_flag("--grad-bucket-copies", o->grad_bucket_copies,
                "The overlapped DP reduction copies gradients into buckets of its own: a second gradient copy "
                "in memory, copied in and out each step (PyTorch DDP without gradient_as_bucket_view)");
  cmd->add_flag("--even-pipeline-stages", o->even_pipeline_stages,
                "pp must divide the layers (Megatron-LM 2021); by default the first and last stages may hold "
                "fewer, as Llama 3 and Megatron-LM's --decoder-first/last-pipeline-num-layers do");
  cmd->add_option("--bucket-mb", o->bucket_mb,
                  "Data-parallel gradient bucket, MB of gradients (PyTorch DDP 25); 0: Megatron-LM's, the "
                  "gradients of max(40M, 1M x dp) parameters")
      ->capture_default_str();
  cmd->add_flag("--no-tp-comm-overlap", o->no_tp_comm_overlap,
                "Every tensor-parallel collective on the critical path (Megatron-LM 2021); by default the backward "
                "pass's input-gradient reduction runs beside the weight-gradient GEMM and the sequence-parallel "
                "input all-gather beside the data-gradient GEMM");
  cmd->add_flag("--no-overlap-param-gather", o->no_overlap_param_gather,
                "Under ZeRO-1 the parameter all-gather ends the step, after the optimizer; by default it runs "
                "under the next step's first forward, bucket by bucket (Megatron-LM's distributed optimizer "
                "with --overlap-param-gather). ZeRO-2 always gathers after the optimizer (DeepSpeed)");
  cmd->add_flag("--overlap-p2p", o->overlap_p2p, "Pipeline sends and receives overlap compute (default: Megatron-LM's blocking send/receive exchanges between compute steps)");
  cmd->add_flag("--no-pp-scatter-gather", o->no_pp_scatter_gather, "Send whole activations between stages from every TP rank");
  cmd->add_option("--format", o->format, "table, json or csv")->capture_default_str();
  cmd->add_option("--out", o->out, "Output file, '-' for stdout; nothing is written to it when the command fails "
                                   "(exit 2), in every format: the reasons go to stderr")
      ->capture_default_str()
      ->check(NonEmptyPath());
}

TrainingSpec Training(const Options& o) {
  TrainingSpec t;
  if (o.global_batch < 1 || o.global_batch > kMaxGlobalBatch) {
    throw InputError(fmt::format("--global-batch {} must be in [1, {}]", o.global_batch, kMaxGlobalBatch));
  }
  if (o.grad_reduce_bytes != 2 && o.grad_reduce_bytes != 4) {
    throw InputError(fmt::format("--grad-reduce-bytes {} must be 2 or 4", o.grad_reduce_bytes));
  }
  t.global_batch = o.global_batch;
  t.grad_reduce_bytes = o.grad_reduce_bytes;
  t.loss_scaling = o.fp16;
  t.attention = ParseAttentionKernel(o.attention, "--attention");
  t.schedule = ParsePipelineSchedule(o.schedule, "--schedule");
  t.overlap_grad_reduce = o.no_overlap_grad_reduce
                              ? GradReduceOverlap::kNever
                              : ParseGradReduceOverlap(o.grad_reduce_overlap, "--grad-reduce-overlap");
  t.fused_grad_accumulation = !o.no_fused_grad_accumulation;
  t.keep_pipeline_outputs = o.keep_pipeline_outputs;
  t.grad_bucket_copies = o.grad_bucket_copies;
  t.uneven_pipeline = !o.even_pipeline_stages;
  if (!(o.bucket_mb == 0 || (o.bucket_mb >= 0.001 && o.bucket_mb <= 1e6))) {
    throw InputError(fmt::format("--bucket-mb {} must be 0 (Megatron-LM's default) or in [0.001, 1000000]",
                                 o.bucket_mb));
  }
  t.bucket_bytes = o.bucket_mb * 1e6;
  t.pp_scatter_gather = !o.no_pp_scatter_gather;
  t.pp_overlap = o.overlap_p2p;
  t.tp_comm_overlap = !o.no_tp_comm_overlap;
  t.overlap_param_gather = !o.no_overlap_param_gather;
  return t;
}

// A progress line on stderr for long searches, only when stderr is a terminal.
std::function<void(int, int)> ProgressBar() {
  if (!isatty(STDERR_FILENO)) return nullptr;
  return [](int done, int total) {
    std::fprintf(stderr, "\rplan-sim: simulating %d/%d layouts", done, total);
    if (done == total) std::fprintf(stderr, "\r%60s\r", "");
  };
}

ModelSpec ModelOf(const Options& o) {
  return ForOption("--model", [&] { return LoadModel(o.model); });
}
ClusterSpec ClusterOf(const Options& o) {
  ClusterSpec cluster = ForOption("--cluster", [&] { return LoadCluster(o.cluster); });
  ApplyTunerFile(o.tuner_file, &cluster);
  return cluster;
}
std::vector<GemmCalibrationPoint> CalibrationOf(const Options& o, const GpuSpec& gpu) {
  if (o.calibration.empty()) return {};
  return ForOption("--calibration", [&] { return LoadGemmCalibration(o.calibration, gpu); });
}

int Search(const Options& o) {
  ModelSpec model = ModelOf(o);
  ClusterSpec cluster = ClusterOf(o);
  // Without --gpus the whole cluster: a file's nodes x GPUs per node is bounded like --gpus.
  if (o.gpus > 0) PrintNote(SizeForGpus(&cluster, o.gpus));
  else SizeForGpus(&cluster, cluster.total_gpus(), fmt::format("{}: nodes x GPUs per node =", cluster.source));
  TrainingSpec training = Training(o);
  const std::vector<GemmCalibrationPoint> calibration = CalibrationOf(o, cluster.gpu);
  StepModel step(model, cluster, training, ComputeModel(cluster.gpu, calibration));
  SearchOptions so;
  if (o.top < 1 || o.top > kMaxTop) throw InputError(fmt::format("--top {} must be in [1, {}]", o.top, kMaxTop));
  so.top = o.top;
  if (!o.fix.empty()) ParseLayoutKeys(o.fix, "--fix", &so.fixed, &so.fixed_keys);
  so.progress = ProgressBar();
  const Format format = ParseFormat(o.format);
  CheckWritable("--out", o.out);  // before work that may take seconds
  SearchResult result = sim::Search(step, so);
  // A failed search writes nothing to --out, whatever the format: a header or an empty result
  // list there would read as a search that found nothing to print rather than an error.
  if (result.best.empty()) {
    WriteRejections(std::cerr, result, 3);
    throw InputError(fmt::format("no layout of {} fits {} GPUs of {} with global batch {} (see the "
                                 "reasons above)", model.name, cluster.total_gpus(), cluster.name,
                                 training.global_batch));
  }
  RunContext ctx{"search", &model, &cluster, &training};
  Emit("--out", o.out, [&](std::ostream& out) {
    WriteResults(out, format, ctx, result.best, &result);
    if (o.explain && format == Format::kTable) WriteRejections(out, result, 3);
  });
  if (o.explain && format != Format::kTable) WriteRejections(std::cerr, result, 3);
  return 0;
}

int Simulate(const Options& o) {
  ModelSpec model = ModelOf(o);
  ClusterSpec cluster = ClusterOf(o);
  Layout layout;
  std::vector<std::string> keys;
  ParseLayoutKeys(o.layout, "--layout", &layout, &keys);
  for (const char* required : {"tp", "pp", "dp"}) {
    if (std::find(keys.begin(), keys.end(), required) == keys.end()) {
      throw InputError(fmt::format("--layout {}: needs {} (keys tp, pp, dp are required)", o.layout, required));
    }
  }
  if (o.gpus == 0 && layout.gpus() > kMaxGpus) {
    throw InputError(fmt::format("--layout {}: tp*pp*dp = {} GPUs, more than the {} plan-sim simulates",
                                 o.layout, layout.gpus(), kMaxGpus));
  }
  const int gpus = o.gpus > 0 ? o.gpus : int(layout.gpus());
  // Without --gpus the count comes from the layout: name that, not an option never given.
  PrintNote(SizeForGpus(&cluster, gpus, o.gpus > 0 ? "--gpus" : fmt::format("--layout {}: tp*pp*dp =", o.layout)));
  TrainingSpec training = Training(o);
  const std::vector<GemmCalibrationPoint> calibration = CalibrationOf(o, cluster.gpu);
  StepModel step(model, cluster, training, ComputeModel(cluster.gpu, calibration));
  const Format format = ParseFormat(o.format);
  CheckWritable("--out", o.out);  // before work that may take seconds
  if (!o.trace.empty()) {
    CheckWritable("--trace", o.trace);
    if (SameOutputFile(o.out, o.trace)) {
      throw InputError(fmt::format("--trace {}: the same file as --out {} (the trace would overwrite or mix with the "
                                   "results); give two different files", o.trace, o.out));
    }
  }
  StepResult r = step.Simulate(layout, !o.trace.empty());
  RunContext ctx{"simulate", &model, &cluster, &training};
  const auto write_results = [&](std::ostream& out) { WriteResults(out, format, ctx, {r}, nullptr); };
  // A failed run writes no results and leaves an existing trace as it was.
  if (o.trace.empty()) Emit("--out", o.out, write_results);
  else EmitWithTrace(o.trace, StepTrace(r, cluster), o.out, write_results);
  return 0;
}

// `plan-sim topo`: hwloc sources print their topology (json: braid's topology JSON), presets and
// cluster files the cluster (json: a cluster file that --cluster reads back as the same cluster).
// Written as the other commands write (Emit): a failed write is an error, not a silent exit 0.
int Topo(const std::string& name, const std::string& format, const std::string& out) {
  // csv has no rows here: a cluster is one record of nested fields, not a table.
  if (format != "table" && format != "json") {
    throw InputError("topo --format " + format + " is not one of table, json (csv is for search, simulate "
                     "and collective results)");
  }
  const ClusterSource source = ForOption("--cluster", [&] { return ReadClusterSource(name); });
  std::string text;
  if (!source.topology) {
    const ClusterSpec cluster = ForOption("--cluster", [&] { return ClusterFromSource(source); });
    text = (format == "json" ? DumpJson(ClusterToJson(cluster), 2) : ClusterSummary(cluster)) + "\n";
  } else if (format == "json") {
    text = TopologyToJson(*source.topology);
  } else {
    text = TopologySummary(*source.topology);
    // Printing what was found succeeded; say why it cannot be simulated rather than fail.
    try {
      text += ClusterSummary(ClusterFromSource(source)) + "\n";
    } catch (const InputError& e) {
      text += std::string("plan-sim: cannot simulate this topology: ") + e.what() + "\n";
    }
  }
  Emit("--out", out, [&](std::ostream& stream) { stream << text; });
  return 0;
}

}  // namespace
}  // namespace braid::sim

int main(int argc, char** argv) {
  using namespace braid::sim;
  CLI::App app{"plan-sim: simulate data/tensor/pipeline-parallel training steps and pick the layout", "plan-sim"};
  app.require_subcommand(1);
  braid::tools::AddVersionFlag(app, "plan-sim");
  Options o;
  CLI::App* search = app.add_subcommand("search", "Enumerate layouts, simulate the promising ones, rank by throughput");
  AddCommon(search, &o);
  search->add_option("--top", o.top, "Layouts to print")->capture_default_str()->check(braid::tools::IntegerIn(1, kMaxTop));
  search->add_option("--fix", o.fix, "Pin layout keys: tp,pp,dp,mb,v,zero,recompute,sp,first,last (e.g. tp=8,pp=8)")
      ->check(CLI::Validator(
          [](const std::string& value) { return value.empty() ? std::string("needs KEY=VALUE pairs, not nothing") : ""; },
          "KEY=VALUE,..."));
  search->add_flag("--explain", o.explain, "Say why layouts were rejected");
  CLI::App* simulate = app.add_subcommand("simulate", "Simulate one layout");
  AddCommon(simulate, &o);
  simulate->add_option("--layout", o.layout,
                       "tp=8,pp=8,dp=16,mb=1,v=3,zero=1,recompute=selective,sp=on; tp, pp and dp are required, "
                       "others left out take 1 (mb, v), 0 (zero), none (recompute) or off (sp); optional first=N,last=N: layers on the "
                       "first/last virtual stage (the others share the rest evenly; 0, as the outputs write it: "
                       "the default split)")
      ->required();
  simulate->add_option("--trace", o.trace, "Write a Chrome/Perfetto trace (JSON) of the step here (not the --out file)")
      ->check(NonEmptyPath());
  CLI::App* topo = app.add_subcommand("topo", "Print the cluster (preset, file, or this machine via hwloc)");
  std::string topo_cluster = "this", topo_format = "table", topo_out = "-";
  topo->add_option("--cluster", topo_cluster, "Preset, 'this', .xml or .json, or a pipe holding either")
      ->capture_default_str()
      ->check(NonEmptyPath());
  topo->add_option("--format", topo_format,
                   "table or json (json: for a preset or .json, a cluster file that --cluster reads back; "
                   "for 'this' or .xml, the hwloc topology)")
      ->capture_default_str();
  topo->add_option("--out", topo_out, "Output file, '-' for stdout")->capture_default_str()->check(NonEmptyPath());
  CollectiveOptions collective_options;
  CLI::App* collective = AddCollectiveCommand(&app, &collective_options);
  // CLI11 reports a word that names no command as "A subcommand is required": name it instead.
  if (argc > 1 && argv[1][0] != '-') {
    bool known = false;
    for (const CLI::App* command : app.get_subcommands({})) known |= command->get_name() == argv[1];
    if (!known) {
      std::fprintf(stderr, "plan-sim: unknown command '%s' (commands: search, simulate, topo, collective)\n"
                           "Run with --help for the options.\n", argv[1]);
      return kExitBadInput;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::fprintf(stderr, "plan-sim: %s\nRun with --help for the options.\n", e.what());
    return kExitBadInput;
  }
  try {
    if (search->parsed()) return Search(o);
    if (simulate->parsed()) return Simulate(o);
    if (collective->parsed()) return RunCollectiveCommand(collective_options);
    return Topo(topo_cluster, topo_format, topo_out);
  } catch (const InputError& e) {
    std::fprintf(stderr, "plan-sim: error: %s\n", e.what());
    return kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "plan-sim: internal error: %s\n", e.what());
    return kExitInternal;
  }
}
