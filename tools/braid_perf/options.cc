#include "options.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cctype>
#include <climits>
#include <cstdio>
#include <limits>
#include <vector>

#include "collectives/schedule.h"
#include "device_memory.h"
#include "lib/cli_parse.h"
#include "lib/command_line.h"
#include "lib/replace_file.h"

namespace braid::perf {
namespace {


// Why --algo `name` cannot run the collective `o` asks for ("" if it can). braid itself falls back
// to its tuner for a collective the forced algorithm lacks (as NCCL_ALGO does); a benchmark row
// labelled with an algorithm that did not run would mislead, so braid-perf refuses instead.
std::string AlgorithmProblem(const std::string& name, const Options& o) {
  const std::optional<coll::Algorithm> algorithm = coll::AlgorithmByName(name);
  if (!algorithm) {
    std::string names = "auto";
    for (int a = 0; a < coll::kNumAlgorithms; ++a) names += fmt::format(", {}", coll::AlgorithmName(coll::Algorithm(a)));
    return fmt::format("--algo: unknown algorithm '{}' (allowed: {})", name, names);
  }
  if (o.backend != BackendKind::kBraid || o.suite) return fmt::format("--algo {} applies to braid's collectives only", name);
  const std::string_view measured = CollectiveName(o.collective);
  std::string list;  // the collectives the algorithm implements
  for (int c = 0; c < coll::kNumCollectives; ++c) {
    const char* collective = coll::CollectiveName(coll::Collective(c));
    if (!coll::Supports(*algorithm, coll::Collective(c))) continue;
    if (measured == collective) return "";
    list += fmt::format("{}{}", list.empty() ? "" : ", ", collective);
  }
  return fmt::format("--algo {} does not implement {} (it implements: {}); use --algo auto or one that does", name,
                     measured, list);
}

std::string TypeNameList() {
  std::string list;
  for (int t = 0; t < kNumDataTypes; ++t) list += fmt::format("{}{}", t ? ", " : "", DataTypeName(DataType(t)));
  return list + " (nccl-tests spellings such as float, half, bf16, f8e4m3 work too)";
}

std::string OpNameList() {
  std::string list;
  for (int k = 0; k < kNumRedOps; ++k) list += fmt::format("{}{}", k ? ", " : "", RedOpName(RedOpKind(k)));
  return list + ", mulsum";
}

// Raw flag values, converted and checked after CLI11 has parsed the syntax.
struct RawOptions {
  std::string collective, min_bytes = "8", max_bytes = "64M", type = "float", op = "sum";
  std::string backend = "braid", versus, algo, json, csv, memory = "host";
  long long factor = 2, root = 0, iters = 20, warmup = 5, check = 1, window = 64, rounds = 0;
  long long ucx_extra_spins = 0;
  // Whether -b, -e and -n were given: the point-to-point suites have other defaults.
  bool min_given = false, max_given = false, iters_given = false, rounds_given = false;
  // Flags that apply to some suites only: given where they do nothing, they are refused.
  bool window_given = false, root_given = false, type_given = false, op_given = false;
  // Flags given an empty value (e.g. --json ''), which would silently mean "not given".
  std::vector<std::string> empty_values;
};

// "" if `bytes` (-b or -e, as `text` on the command line) is a size the point-to-point suites
// measure, else why not: larger messages are outside their range (kMaxP2pBytes), and asking
// for them anyway would end in an allocation the machine may not survive.
std::string P2pSizeError(const char* flag, const std::string& text, size_t bytes) {
  if (bytes <= kMaxP2pBytes) return "";
  return fmt::format("{} {} ({} B) is out of range for the point-to-point suites: [0, 1G] ([0, {}] B)", flag,
                     text, bytes, kMaxP2pBytes);
}

// Returns an error message, or "" if `raw` is valid.
std::string Convert(const RawOptions& raw, int nranks, Options* o) {
  if (!raw.empty_values.empty()) return fmt::format("{}: empty value (leave the flag out instead)", raw.empty_values[0]);
  o->suite = ParseP2pSuite(raw.collective);
  if (o->suite) {
    for (const auto& [given, flag] : {std::pair{raw.type_given, "-d/--datatype"}, std::pair{raw.op_given, "-o/--op"},
                                      std::pair{raw.root_given, "-r/--root"}}) {
      if (given)
        return fmt::format("{} applies to the collectives only; the point-to-point suites ({}) move bytes", flag,
                           P2pSuiteNameList());
    }
  }
  if (raw.window_given && (!o->suite || *o->suite == P2pSuite::kLatency))
    return "--window applies to the windowed point-to-point suites only (bw, bibw, msgrate)";
  if (o->suite) {
    std::string ranks = P2pRankCountError(*o->suite, nranks);
    if (!ranks.empty()) return ranks;
  } else {
    auto coll = ParseCollective(raw.collective);
    if (!coll)
      return fmt::format("unknown suite or collective '{}' (allowed: {}; {})", raw.collective,
                         P2pSuiteNameList(), CollectiveNameList());
    o->collective = *coll;
    // nccl-tests take -o and -r on every collective and ignore them where they mean nothing; a
    // flag that changes nothing is refused here, so a result never claims a setting it ran without.
    if (raw.op_given && !IsReduction(*coll))
      return fmt::format("-o/--op applies to the reductions only (allreduce, reducescatter, reduce); {} moves data "
                         "unchanged", raw.collective);
    if (raw.root_given && !HasRoot(*coll))
      return fmt::format("-r/--root applies to broadcast and reduce only; {} has no root", raw.collective);
  }
  // OSU's sizes for the point-to-point suites: 1 B .. 4 MiB unless asked (up to 1 GiB).
  // The point-to-point suites have their own defaults; the messages quote the values used.
  const std::string min_text = o->suite && !raw.min_given ? "1" : raw.min_bytes;
  const std::string max_text = o->suite && !raw.max_given ? "4M" : raw.max_bytes;
  auto min_bytes = ParseSize(min_text);
  if (!min_bytes)
    return fmt::format("-b/--minbytes: invalid size '{}' (a byte count with optional K, M or G suffix)", min_text);
  auto max_bytes = ParseSize(max_text);
  if (!max_bytes)
    return fmt::format("-e/--maxbytes: invalid size '{}' (a byte count with optional K, M or G suffix)", max_text);
  if (o->suite) {
    for (std::string error : {P2pSizeError("-b/--minbytes", min_text, *min_bytes),
                              P2pSizeError("-e/--maxbytes", max_text, *max_bytes)})
      if (!error.empty()) return error;
  }
  if (*min_bytes > *max_bytes) {
    const char* defaulted = o->suite && !raw.max_given ? ", the point-to-point default: give -e" : "";
    return fmt::format("-b/--minbytes {} ({} B) is larger than -e/--maxbytes {} ({} B{})", min_text, *min_bytes,
                       max_text, *max_bytes, defaulted);
  }
  o->min_bytes = *min_bytes;
  o->max_bytes = *max_bytes;
  if (raw.factor < 2)
    return fmt::format("-f/--stepfactor: {} is invalid (the size multiplier must be >= 2)", raw.factor);
  o->factor = static_cast<size_t>(raw.factor);
  auto type = ParseDataType(raw.type);
  if (!type) return fmt::format("-d/--datatype: unknown type '{}' (allowed: {})", raw.type, TypeNameList());
  o->type = *type;
  auto op = ParseRedOp(raw.op);
  if (!op) return fmt::format("-o/--op: unknown reduction '{}' (allowed: {})", raw.op, OpNameList());
  o->op.kind = *op;
  o->op.scalar = (*op == RedOpKind::kPreMulSum) ? kPreMulSumScalar : 1.0;
  if (raw.root < 0 || raw.root >= nranks)
    return fmt::format("-r/--root: {} is out of range [0, {}] for {} ranks", raw.root, nranks - 1, nranks);
  o->root = static_cast<int>(raw.root);
  if (raw.iters < 1 || raw.iters > INT_MAX)
    return fmt::format("-n/--iters: {} is out of range [1, {}]", raw.iters, INT_MAX);
  o->iters = o->suite && !raw.iters_given ? P2pDefaultIterations(*o->suite) : static_cast<int>(raw.iters);
  if (raw.warmup < 0 || raw.warmup > INT_MAX)
    return fmt::format("-w/--warmup_iters: {} is out of range [0, {}]", raw.warmup, INT_MAX);
  o->warmup = static_cast<int>(raw.warmup);
  if (raw.check != 0 && raw.check != 1)
    return fmt::format("-c/--check: {} is invalid (allowed: 0 or 1)", raw.check);
  o->check = raw.check == 1;
  auto backend = ParseBackend(raw.backend);
  if (!backend) return fmt::format("--backend: unknown backend '{}' (allowed: braid, mpi, ucx)", raw.backend);
  o->backend = *backend;
  if (o->backend == BackendKind::kUcx && !o->suite)
    return fmt::format("--backend ucx measures the point-to-point suites only ({}); collectives "
                       "run on braid or mpi", P2pSuiteNameList());
  if (!raw.versus.empty()) {
    auto versus = ParseBackend(raw.versus);
    if (!versus) return fmt::format("--versus: unknown backend '{}' (allowed: braid, mpi, ucx)", raw.versus);
    if (!o->suite)
      return fmt::format("--versus {} compares the point-to-point suites only ({})", raw.versus, P2pSuiteNameList());
    if (*versus == o->backend)
      return fmt::format("--versus {}: the same backend as --backend; name another one", raw.versus);
    o->versus = versus;
  }
  if (raw.rounds_given && !o->suite)
    return fmt::format("--rounds applies to the point-to-point suites only ({})", P2pSuiteNameList());
  if (raw.rounds_given && (raw.rounds < 1 || raw.rounds > kMaxRounds))
    return fmt::format("--rounds: {} is out of range [1, {}]", raw.rounds, kMaxRounds);
  o->rounds = raw.rounds_given ? int(raw.rounds) : o->versus ? kDefaultVersusRounds : 1;
  if (raw.ucx_extra_spins != 0) {
    if (o->backend != BackendKind::kUcx && o->versus != BackendKind::kUcx)
      return "--ucx-extra-spins slows the ucx backend only: add --backend ucx or --versus ucx";
    if (raw.ucx_extra_spins < 0 || raw.ucx_extra_spins > kMaxUcxExtraSpins)
      return fmt::format("--ucx-extra-spins: {} is out of range [0, {}]", raw.ucx_extra_spins, kMaxUcxExtraSpins);
    o->ucx_extra_spins = long(raw.ucx_extra_spins);
  }
  if (raw.memory == "cuda") {
    if (!o->suite)
      return fmt::format("--memory cuda applies to the point-to-point suites only ({}); collectives "
                         "run on host memory", P2pSuiteNameList());
    std::string why = device::UnavailableReason();
    if (!why.empty()) return "--memory cuda: " + why;
    o->memory = MemoryKind::kCuda;
  } else if (raw.memory != "host") {
    return fmt::format("--memory: unknown memory type '{}' (allowed: host, cuda)", raw.memory);
  }
  if (raw.window < 1 || raw.window > 1 << 16)
    return fmt::format("--window: {} is out of range [1, {}]", raw.window, 1 << 16);
  o->window = static_cast<int>(raw.window);
  o->algo = raw.algo == "auto" ? "" : raw.algo;
  if (!o->algo.empty()) {
    if (std::string why = AlgorithmProblem(raw.algo, *o); !why.empty()) return why;
  }
  o->json_path = raw.json;
  o->csv_path = raw.csv;
  if (o->json_path == "-" && o->csv_path == "-")
    return "--json - and --csv - both ask for stdout; send one of them to a file";
  if (!o->json_path.empty() && !o->csv_path.empty() && tools::SameFile(o->json_path, o->csv_path)) {
    return fmt::format("--json {} and --csv {} name the same file (the CSV would replace the JSON); "
                       "give two files", o->json_path, o->csv_path);
  }
  return "";
}

}  // namespace

std::optional<size_t> ParseSize(std::string_view text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return std::nullopt;
  size_t value = 0, i = 0;
  constexpr size_t kMax = std::numeric_limits<size_t>::max();
  for (; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
    size_t digit = static_cast<size_t>(text[i] - '0');
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (i == text.size()) return value;
  if (i + 1 != text.size()) return std::nullopt;
  int shift = 0;
  switch (std::toupper(static_cast<unsigned char>(text[i]))) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    default: return std::nullopt;
  }
  if (value > (kMax >> shift)) return std::nullopt;
  return value << shift;
}

std::optional<BackendKind> ParseBackend(std::string_view name) {
  if (name == "braid") return BackendKind::kBraid;
  if (name == "mpi") return BackendKind::kMpi;
  if (name == "ucx") return BackendKind::kUcx;
  return std::nullopt;
}

const char* MemoryName(MemoryKind kind) { return kind == MemoryKind::kCuda ? "cuda" : "host"; }

const char* BackendName(BackendKind kind) {
  switch (kind) {
    case BackendKind::kBraid: return "braid";
    case BackendKind::kMpi: return "mpi";
    case BackendKind::kUcx: return "ucx";
  }
  return "?";
}

std::optional<int> ParseOptions(int argc, char** argv, int nranks, bool print, Options* out) {
  CLI::App app{"braid-perf: collective (nccl-tests style) and point-to-point (OSU style) benchmarks; "
               "launch with mpiexec. Also: braid-perf plot, braid-perf calibrate (see their --help), braid-perf --version.",
               "braid-perf"};
  // A repeated flag overrides the earlier one (scripts append to a default command line).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  RawOptions raw;
  app.add_option("suite", raw.collective,
                 "A point-to-point suite (" + P2pSuiteNameList() + ") or a collective (" +
                     CollectiveNameList() + ")")
      ->required();
  auto* min_flag = app.add_option("-b,--minbytes", raw.min_bytes,
                                  "Smallest size in bytes (K/M/G suffixes = 1024^n; p2p default 1)")
                       ->capture_default_str();
  auto* max_flag = app.add_option("-e,--maxbytes", raw.max_bytes,
                                  "Largest size in bytes (p2p: default 4M, at most 1G)")
                       ->capture_default_str();
  app.add_option("-f,--stepfactor", raw.factor, "Multiply the size by this between rows (>= 2)")
      ->capture_default_str()
      ->check(tools::IntegerIn(2, 1L << 30));  // a larger step leaves one row
  auto* type_flag =
      app.add_option("-d,--datatype", raw.type, "Element type: " + TypeNameList())->capture_default_str();
  auto* op_flag = app.add_option("-o,--op", raw.op, "Reduction: " + OpNameList())->capture_default_str();
  auto* root_flag = app.add_option("-r,--root", raw.root, "Root rank of broadcast and reduce")
      ->capture_default_str()
      ->check(tools::IntegerIn(0, INT_MAX));
  auto* iters_flag = app.add_option("-n,--iters", raw.iters,
                                    "Timed iterations per size (p2p: at most this many; default "
                                    "1000 for latency, 100 for the bandwidth suites)")
                         ->capture_default_str()
                         ->check(tools::IntegerIn(1, INT_MAX));
  app.add_option("-w,--warmup_iters", raw.warmup, "Untimed iterations per size")
      ->capture_default_str()
      ->check(tools::IntegerIn(0, INT_MAX));
  // An empty value would read as 0 and turn checking off without a word.
  app.add_option("-c,--check", raw.check,
                 "1: check every output element of one untimed call per size (collectives: per variant; "
                 "point-to-point: one exchange), 0: don't. Timed calls are not checked")
      ->capture_default_str()
      ->check(tools::IntegerIn(0, 1));
  app.add_option("--backend", raw.backend,
                 "braid, mpi (the MPI library's own calls) or ucx (UCX's tag API; p2p suites only)")
      ->capture_default_str();
  auto* versus_flag = app.add_option("--versus", raw.versus,
                 "p2p suites: also time this backend (braid, mpi or ucx) in the same processes, "
                 "interleaved round by round, and print the ratio per size");
  auto* rounds_flag = app.add_option("--rounds", raw.rounds,
                 fmt::format("p2p suites: rounds per size; a row is the median round, with --versus the "
                             "round of the median ratio (default {} with --versus, else 1)",
                             kDefaultVersusRounds))
                         ->check(tools::IntegerIn(1, kMaxRounds));
  app.add_option("--ucx-extra-spins", raw.ucx_extra_spins,
                 "p2p, ucx backend: spin this many empty loop iterations (1-1.5 ns each on the dev VM) "
                 "after every blocking receive; with --versus, the count at which the ratio reaches 1 "
                 "is the other backend's extra work per message (bench/latency_gap.sh)")
      ->check(tools::IntegerIn(0, kMaxUcxExtraSpins));
  app.add_option("--memory", raw.memory,
                 "p2p suites: message buffers in host or cuda (device) memory; a layer that cannot "
                 "take device pointers is staged through pinned host memory")
      ->capture_default_str();
  auto* window_flag = app.add_option("--window", raw.window, "p2p bandwidth suites: messages in flight per iteration")
      ->capture_default_str()
      ->check(tools::IntegerIn(1, 1 << 16));
  app.add_option("--algo", raw.algo, "braid algorithm: auto, ring, tree, chain, recdoubling, pairwise");
  auto* json_flag = app.add_option("--json", raw.json, "Also write the results as JSON to this file ('-' = stdout only)");
  auto* csv_flag = app.add_option("--csv", raw.csv, "Also write the results as CSV to this file ('-' = stdout only)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    if (print) std::fputs(app.help().c_str(), stdout);
    return 0;
  } catch (const CLI::ParseError& e) {
    if (print) std::fprintf(stderr, "braid-perf: %s\nRun with --help for the options.\n", e.what());
    return 2;
  }
  raw.min_given = min_flag->count() > 0;
  raw.max_given = max_flag->count() > 0;
  raw.iters_given = iters_flag->count() > 0;
  raw.rounds_given = rounds_flag->count() > 0;
  raw.window_given = window_flag->count() > 0;
  raw.root_given = root_flag->count() > 0;
  raw.type_given = type_flag->count() > 0;
  raw.op_given = op_flag->count() > 0;
  for (const auto& [flag, value] : {std::pair{versus_flag, &raw.versus}, std::pair{json_flag, &raw.json},
                                    std::pair{csv_flag, &raw.csv}}) {
    if (flag->count() > 0 && value->empty()) raw.empty_values.push_back(flag->get_name());
  }
  out->command_line = tools::CommandLine(argc, argv);
  std::string error = Convert(raw, nranks, out);
  if (!error.empty()) {
    if (print) std::fprintf(stderr, "braid-perf: %s\n", error.c_str());
    return 2;
  }
  return std::nullopt;
}

}  // namespace braid::perf
