#include "collective_command.h"

#include <fmt/format.h>

#include <cctype>
#include <optional>

#include "braid/types.h"
#include "lib/cli_parse.h"
#include "option_input.h"
#include "output.h"
#include "sim/cluster/cluster.h"
#include "sim/common/input_error.h"
#include "sim/cost/collective_sweep.h"
#include "sim/report/collective_report.h"

namespace braid::sim {
namespace {

// Reductions whose cost plan-sim models: all combine two inputs at the calibrated reduce speed;
// avg also divides the result. (premulsum first scales the whole input on the CPU, which no
// schedule op says, so it is not offered.)
constexpr const char* kOps[] = {"sum", "prod", "max", "min", "avg"};

coll::Collective ParseCollectiveName(const std::string& text) {
  std::string allowed;
  for (int c = 0; c < coll::kNumCollectives; ++c) {
    if (text == coll::CollectiveName(coll::Collective(c))) return coll::Collective(c);
    allowed += fmt::format("{}{}", c ? ", " : "", coll::CollectiveName(coll::Collective(c)));
  }
  throw InputError(fmt::format("--collective {} is not one of: {}", text, allowed));
}

// "123", "4K", "64M", "1G" (powers of 1024, either case) -> bytes.
size_t ParseBytes(const std::string& text, const char* flag) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  const std::string suffix = text.substr(digits);
  int shift = -1;
  if (suffix.empty()) shift = 0;
  else if (suffix.size() == 1) {
    switch (std::toupper(static_cast<unsigned char>(suffix[0]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
    }
  }
  constexpr size_t kMax = size_t(1) << 50;  // 1 PiB: far beyond any sweep
  if (digits == 0 || digits > 15 || shift < 0 || std::stoull(text.substr(0, digits)) > kMax >> shift) {
    throw InputError(fmt::format("{} {}: expected bytes up to 1 PiB, as a number with an optional K, "
                                 "M or G suffix (powers of 1024), e.g. 8, 64K, 256M", flag, text));
  }
  return size_t(std::stoull(text.substr(0, digits))) << shift;
}

DataType ParseType(const std::string& text) {
  if (std::optional<DataType> type = ParseDataType(text)) return *type;
  std::string allowed;
  for (int t = 0; t < kNumDataTypes; ++t) allowed += fmt::format("{}{}", t ? ", " : "", DataTypeName(DataType(t)));
  throw InputError(fmt::format("--type {} is not one of: {} (or nccl-tests' float, half, double, int)",
                               text, allowed));
}

std::string ParseOp(const std::string& text) {
  for (const char* op : kOps) {
    if (text == op) return op;
  }
  throw InputError(fmt::format("--op {} is not one of: {}", text, fmt::join(kOps, ", ")));
}

// "auto" -> the tuner's choice; else an algorithm that supports `c`.
std::optional<coll::Algorithm> ParseAlgorithm(const std::string& text, coll::Collective c) {
  if (text == "auto") return std::nullopt;
  const std::optional<coll::Algorithm> named = coll::AlgorithmByName(text);
  if (named && coll::Supports(*named, c)) return named;
  std::string allowed = "auto";
  for (int a = 0; a < coll::kNumAlgorithms; ++a) {
    if (coll::Supports(coll::Algorithm(a), c)) allowed += fmt::format(", {}", coll::AlgorithmName(coll::Algorithm(a)));
  }
  throw InputError(fmt::format("--algorithm {} is not one of those that run {}: {}", text,
                               coll::CollectiveName(c), allowed));
}

}  // namespace

CLI::App* AddCollectiveCommand(CLI::App* app, CollectiveOptions* o) {
  CLI::App* cmd = app->add_subcommand(
      "collective", "Predict one collective's time per size (nccl-tests columns), e.g. to compare "
                    "with braid-perf on a cluster file written by braid-perf calibrate");
  cmd->add_option("--cluster", o->cluster,
                  fmt::format("Preset ({}), 'this', an hwloc .xml or a .json cluster file (a "
                              "\"calibration\" block models braid's host runtime)",
                              fmt::join(ClusterPresetNames(), ", ")))
      ->required()
      ->check(NonEmptyPath());
  AddTunerFileOption(cmd, &o->tuner_file);
  cmd->add_option("--collective", o->collective,
                  "allreduce, reducescatter, allgather, broadcast, reduce or alltoall")
      ->capture_default_str();
  o->ranks_flag = cmd->add_option("--ranks", o->ranks,
                  "Ranks (GPUs), placed node by node: a multiple of the ranks per node, or fewer "
                  "than one node (default: one node)")
                      ->check(tools::IntegerIn(2, kMaxSimulatedGpus));  // one rank moves nothing
  cmd->add_option("-b,--minbytes", o->min_bytes, "Smallest size (bytes; K, M, G suffixes)")->capture_default_str();
  cmd->add_option("-e,--maxbytes", o->max_bytes, "Largest size (bytes; K, M, G suffixes)")->capture_default_str();
  cmd->add_option("-f,--stepfactor", o->factor, "Multiply the size by this between rows (>= 2)")
      ->capture_default_str()
      ->check(tools::IntegerIn(2, 1 << 30));  // a larger step leaves one row
  cmd->add_option("-d,--type,--datatype", o->type, "Element type (float, half, bfloat16, int32, ...)")
      ->capture_default_str();
  cmd->add_option("-o,--op", o->op, fmt::format("Reduction: {}", fmt::join(kOps, ", ")))->capture_default_str();
  cmd->add_option("--algorithm", o->algorithm,
                  "auto (the tuner's choice per size, as braid makes it) or one algorithm, as "
                  "BRAID_ALGO forces it: ring, tree, chain, recdoubling, pairwise")
      ->capture_default_str();
  cmd->add_flag("--explain", o->explain,
                "Table: list under it, per size, the tuner's estimate of every algorithm at its best slice, "
                "best first: what it chose from, beside what the replay made of the choice (JSON and CSV "
                "always carry it as \"tuner\")");
  cmd->add_option("--format", o->format, "table, json or csv")->capture_default_str();
  cmd->add_option("--out", o->out, "Output file, '-' for stdout")->capture_default_str()->check(NonEmptyPath());
  return cmd;
}

int RunCollectiveCommand(const CollectiveOptions& o) {
  CollectiveSweepSpec spec;
  spec.collective = ParseCollectiveName(o.collective);
  const DataType type = ParseType(o.type);
  spec.elem_size = int(DataTypeSize(type));
  const std::string op = ParseOp(o.op);
  spec.average = coll::IsReduction(spec.collective) && op == "avg";
  spec.algorithm = ParseAlgorithm(o.algorithm, spec.collective);
  spec.min_bytes = ParseBytes(o.min_bytes, "-b/--minbytes");
  spec.max_bytes = ParseBytes(o.max_bytes, "-e/--maxbytes");
  if (spec.min_bytes < size_t(spec.elem_size)) {
    throw InputError(fmt::format("-b/--minbytes {}: the smallest size must hold one {} element ({} bytes)",
                                 o.min_bytes, DataTypeName(type), spec.elem_size));
  }
  if (spec.min_bytes > spec.max_bytes) {
    throw InputError(fmt::format("-b/--minbytes {} is larger than -e/--maxbytes {}", o.min_bytes, o.max_bytes));
  }
  if (o.factor < 2) throw InputError(fmt::format("-f/--stepfactor {} must be at least 2", o.factor));
  spec.factor = size_t(o.factor);
  const Format format = ParseFormat(o.format);

  ClusterSpec cluster = ForOption("--cluster", [&] { return LoadCluster(o.cluster); });
  ApplyTunerFile(o.tuner_file, &cluster);
  const bool ranks_given = o.ranks_flag && o.ranks_flag->count();
  spec.ranks = ranks_given ? o.ranks : cluster.node.gpus;
  if (spec.ranks < 2) {
    throw InputError(fmt::format("{} {} must be at least 2 (a collective of one rank moves nothing)",
                                 ranks_given ? "--ranks" : "the default --ranks (one node of the cluster):",
                                 spec.ranks));
  }
  PrintNote(SizeForGpus(&cluster, spec.ranks, "--ranks"));
  CheckWritable("--out", o.out);  // before work that may take seconds

  const std::vector<CollectiveSweepRow> rows = SweepCollective(cluster, spec);
  CollectiveReportContext context{&cluster, spec, DataTypeName(type), coll::IsReduction(spec.collective) ? op : "",
                                  o.explain};
  Emit("--out", o.out, [&](std::ostream& out) { WriteCollectiveSweep(out, format, context, rows); });
  return 0;
}

}  // namespace braid::sim
