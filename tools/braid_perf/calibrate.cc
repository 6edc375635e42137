#include "lib/cli_parse.h"
#include "lib/command_line.h"
#include "calibrate.h"

#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "bootstrap/host_identity.h"
#include "calibrate_fit.h"
#include "calibrate_local.h"
#include "context.h"
#include "interruption.h"
#include "memory_budget.h"
#include "mpi_job.h"
#include "options.h"
#include "p2p_suite.h"
#include "lib/replace_file.h"
#include "subprocess.h"

namespace braid::perf {
namespace {

namespace fs = std::filesystem;

// The largest message whose fixed costs the calibration measures apart from its bytes: 8-64 B
// messages are each one eager packet on every transport.
constexpr double kSingleEagerPacketBytes = 64;
// A fit off by more than this (relative) at some ping-pong size is worth a warning, when that is
// also more than kFitErrorWarningUs: a sub-microsecond size disturbed once is not.
constexpr double kFitErrorWarning = 0.5;
constexpr double kFitErrorWarningUs = 1.0;

// The measured value at `bytes` (0 if that size is not among the points).
double MeasuredAt(const std::vector<SizedValue>& points, double bytes) {
  for (const SizedValue& p : points)
    if (p.bytes == bytes) return p.value;
  return 0;
}

// A link class and how to make braid's transport use it: the UCX_TLS value (unset = braid's
// own choice, its shared-memory lane between same-host ranks) and the substring UCX must report
// for the endpoint to count as that class.
struct LinkClass {
  std::string name;
  std::optional<std::string> ucx_tls;
  std::string expect;
};

const std::vector<LinkClass>& KnownClasses() {
  static const std::vector<LinkClass> classes = {
      {"shm", std::nullopt, "memory"},
      {"tcp", "tcp", "tcp/"},
      {"ib", "ib", "/mlx"},
  };
  return classes;
}

bool HaveInfiniBand() {
  std::error_code ec;
  fs::directory_iterator it("/sys/class/infiniband", ec);
  return !ec && it != fs::directory_iterator();
}

// "" if class `c` can be measured on this machine, else why not: `auto` leaves such a class
// out, and naming it in --classes is refused (its jobs would only fail in MPI_Init).
std::string ClassUnavailableReason(const LinkClass& c) {
  if (c.name == "ib" && !HaveInfiniBand())
    return "this machine has no InfiniBand device (/sys/class/infiniband is missing or empty)";
  return "";
}

struct Settings {
  std::string out, mpiexec = "mpiexec", max_bytes = "256M", classes = "auto", name;
  int ranks_per_node = 2;
  int repeat = 3;  // runs per suite; each size keeps its best run (shared machines are noisy)
  std::string launcher;                     // --mpiexec, resolved to a path
  std::vector<std::string> launcher_flags;  // after "-n 2": core binding in its syntax
};

// The launcher's core-binding flags: timings of ranks that the kernel moves between cores (and
// that share a core with other tenants' threads for a while) swing from run to run. Each
// launcher spells them its own way; one that says neither who it is gets none (and a note).
std::vector<std::string> CoreBindingFlags(const std::string& launcher) {
  std::string version;
  // A launcher answers --version at once; one that does not is not waited for.
  if (RunCapturing({launcher, "--version"}, "/dev/null", Capture::kBoth, &version, kHelperProbeLimitS) == kRanOutOfTime) {
    std::fprintf(stderr, "braid-perf calibrate: '%s --version' did not answer within %.0f s\n", launcher.c_str(),
                 kHelperProbeLimitS);
  }
  if (version.find("HYDRA") != std::string::npos) return {"-bind-to", "core"};
  if (version.find("Open MPI") != std::string::npos || version.find("OpenRTE") != std::string::npos)
    return {"--bind-to", "core"};
  std::fprintf(stderr, "braid-perf calibrate: '%s --version' names neither MPICH's Hydra nor Open MPI; its "
               "jobs run without core binding\n", launcher.c_str());
  return {};
}

// Runs `argv` with UCX_TLS set (or unset) and packing off, its stdout discarded; returns the
// exit status.
int RunJob(const std::vector<std::string>& argv, const std::optional<std::string>& ucx_tls) {
  std::fflush(nullptr);
  ChildWatch watch;  // a termination signal reaches the job (interruption.h)
  pid_t pid = fork();
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &watch.child_mask(), nullptr);
    if (ucx_tls) setenv("UCX_TLS", ucx_tls->c_str(), 1);
    else unsetenv("UCX_TLS");
    // Collectives send every message tagged, one transport message each; the fit describes
    // the links as they use them, so small point-to-point messages are not packed here.
    setenv("BRAID_P2P_INLINE_BYTES", "0", 1);
    if (FILE* null = std::fopen("/dev/null", "w")) dup2(fileno(null), STDOUT_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "braid-perf calibrate: cannot run %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
  watch.Started(pid);
  const int status = watch.Wait();
  if (status == -1) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

struct SuiteResult {
  std::vector<SizedValue> points;
  std::string transports;  // rank 0's, from the context block
};

// The collectives calibrate times (2 ranks, a few small sizes each): a sendrecv exchange (a
// group of one send and one receive, as a collective's step), and an all-gather and a
// reduce-scatter, which run that step through the collective executor, the second reducing what
// it received. Their rows are per-message bytes (each rank's share of the collective's size).
bool IsCollective(const std::string& suite) {
  return suite == "sendrecv" || suite == "allgather" || suite == "reducescatter";
}

// What calibrate measures of a class: a braid-perf suite over a range of sizes, under a name.
// "streaming" is a 2-rank in-place all-gather from 1 MiB to the largest size: both ranks stream
// half the buffer to each other, sliced as the runtime slices a collective, with nothing
// reduced or copied locally: how fast the class streams as a collective's buffers outgrow the
// caches (plan-sim: streaming_GBps). Not one large message each way: that is one rendezvous,
// not the slices in flight that plan-sim replays; nor the out-of-place all-gather, whose local
// copy made 64 MiB 60% slower (docs/PERFORMANCE.md, session 48).
// "streaming_reduce" is the same with a 2-rank in-place reduce-scatter: the same exchanges, each
// received half reduced into the rank's own. What it takes beyond the all-gather says how much of
// a reduction the exchanges leave the rank's core to do beside them (plan-sim:
// streaming_reduce_GBps): none while the exchanges wait on the transport, all of it once they
// keep the core busy (docs/PERFORMANCE.md, session 66).
constexpr size_t kStreamingMinBytes = 1 << 20;  // below it a slice's fixed cost is a large share
bool IsStreaming(const std::string& measurement) {
  return measurement == "streaming" || measurement == "streaming_reduce";
}

struct Measurement {
  std::string name, suite;
  bool in_place = false;  // collectives: the in-place time, else the out-of-place one
};
// The streaming runs go last: the small all-gather right after one measured a call overhead
// 4-6x the usual (0.44-0.71 us against 0.08-0.13) while the latency and exchange jobs before it
// were normal. Why is not known (an 8 B ping-pong right after a 256 MiB job was not slower);
// docs/PERFORMANCE.md, session 48.
const std::vector<Measurement> kMeasurements = {
    {"latency", "latency"},     {"bw", "bw"},          {"bibw", "bibw"},
    {"sendrecv", "sendrecv"},   {"allgather", "allgather"}, {"reducescatter", "reducescatter"},
    {"streaming", "allgather", true},   {"streaming_reduce", "reducescatter", true}};

// One 2-rank braid-perf run of `suite` (a point-to-point suite or one of the collectives above)
// over the class, with `args` after the suite name; nullopt (after a message) on failure.
// Point-to-point rows give latency_us or bandwidth_MBps, collective rows their out-of-place
// (or in-place) time_us.
std::optional<SuiteResult> MeasureSuite(const Settings& s, const LinkClass& c, const Measurement& m,
                                        const std::vector<std::string>& args, const fs::path& json) {
  const std::string& suite = m.suite;
  std::vector<std::string> argv = {s.launcher, "-n", "2"};
  argv.insert(argv.end(), s.launcher_flags.begin(), s.launcher_flags.end());
  argv.insert(argv.end(), {fs::read_symlink("/proc/self/exe").string(), suite});
  argv.insert(argv.end(), args.begin(), args.end());
  argv.insert(argv.end(), {"--json", json.string()});
  std::fprintf(stderr, "braid-perf calibrate: %s %s%s ...\n", c.name.c_str(), m.name.c_str(),
               c.ucx_tls ? fmt::format(" (UCX_TLS={})", *c.ucx_tls).c_str() : "");
  int status = RunJob(argv, c.ucx_tls);
  if (status != 0) {
    std::fprintf(stderr, "braid-perf calibrate: class %s: '%s' exited with %d\n", c.name.c_str(),
                 fmt::format("{}", fmt::join(argv, " ")).c_str(), status);
    return std::nullopt;
  }
  nlohmann::json doc = nlohmann::json::parse(std::ifstream(json), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.contains("rows")) {
    std::fprintf(stderr, "braid-perf calibrate: %s: not a braid-perf result\n", json.c_str());
    return std::nullopt;
  }
  SuiteResult r;
  // The file came from another process (the launcher may not be ours): a field that is missing or
  // of the wrong type is a failed run, reported, not an exception that kills calibrate.
  try {
    for (const auto& row : doc.at("rows")) {
      double value = suite == "latency"     ? row.at("latency_us").get<double>()
                     : IsCollective(suite) ? row.at(m.in_place ? "ip" : "oop").at("time_us").get<double>()
                                           : row.at("bandwidth_MBps").get<double>();
      // An all-gather's or reduce-scatter's size is the whole buffer: each of the 2 ranks sends half.
      const double per_message = suite == "allgather" || suite == "reducescatter" ? 0.5 : 1.0;
      const double size = row.at("size").get<double>();
      if (!(std::isfinite(value) && value > 0 && std::isfinite(size) && size >= 0))
        throw std::invalid_argument(fmt::format("row of size {} has the value {}", size, value));
      r.points.push_back({per_message * size, value});
    }
    r.transports = doc.at("context").at("ranks").at(0).at("transports").get<std::string>();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid-perf calibrate: %s: not a braid-perf %s result: %s\n", json.c_str(), suite.c_str(),
                 e.what());
    return std::nullopt;
  }
  return r;
}

// The runs' values per size (the runs measure the same sizes), the best run's per size: the
// shortest time or the highest bandwidth. Other tenants of a shared machine only ever slow a
// run down, and this VM swings 2-4x between modes for minutes at a time, so the best run is
// the reproducible one (what the machine does undisturbed).
SuiteResult BestPerSize(const std::vector<SuiteResult>& runs, bool lower_is_better) {
  SuiteResult best = runs.front();
  for (size_t i = 0; i < best.points.size(); ++i) {
    for (const SuiteResult& r : runs) {
      if (i >= r.points.size()) continue;
      const double v = r.points[i].value;
      if (lower_is_better ? v < best.points[i].value : v > best.points[i].value) best.points[i].value = v;
    }
  }
  return best;
}

nlohmann::ordered_json Points(const std::vector<SizedValue>& points) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const SizedValue& p : points) j.push_back({p.bytes, p.value});
  return j;
}

nlohmann::ordered_json FitToJson(const LinkFit& f) {
  nlohmann::ordered_json j = {{"alpha_us", f.large.alpha_us}, {"GBps", f.large.GBps}, {"bidir_GBps", f.bidir_GBps}};
  if (f.has_small)
    j["small"] = {{"max_bytes", f.small_max_bytes}, {"alpha_us", f.small.alpha_us}, {"GBps", f.small.GBps}};
  j["fit_max_relative_error"] = f.max_relative_error;
  return j;
}

double MemTotalGiB() { return double(MeminfoBytes("MemTotal").value_or(size_t(1) << 30)) / double(1 << 30); }

// The classes --classes names: `auto` is every class this machine has. nullopt, after a
// message, for an unknown name or a class that cannot be measured here.
std::optional<std::vector<LinkClass>> SelectClasses(const std::string& spec) {
  std::vector<LinkClass> chosen;
  if (spec == "auto") {
    for (const LinkClass& c : KnownClasses())
      if (ClassUnavailableReason(c).empty()) chosen.push_back(c);
    return chosen;
  }
  if (!spec.empty() && spec.back() == ',') {  // getline drops the empty name after it
    std::fprintf(stderr, "braid-perf calibrate: --classes '%s': empty class name after the last ','\n", spec.c_str());
    return std::nullopt;
  }
  std::stringstream list(spec);
  for (std::string name; std::getline(list, name, ',');) {
    auto it = std::find_if(KnownClasses().begin(), KnownClasses().end(), [&](auto& c) { return c.name == name; });
    if (it == KnownClasses().end()) {
      std::fprintf(stderr, "braid-perf calibrate: --classes '%s': unknown class '%s' (auto, or a list of shm, tcp, "
                   "ib)\n", spec.c_str(), name.c_str());
      return std::nullopt;
    }
    if (std::string why = ClassUnavailableReason(*it); !why.empty()) {
      std::fprintf(stderr, "braid-perf calibrate: --classes '%s': class %s cannot be measured here: %s; leave it "
                   "out, or use auto\n", spec.c_str(), name.c_str(), why.c_str());
      return std::nullopt;
    }
    if (std::any_of(chosen.begin(), chosen.end(), [&](auto& c) { return c.name == name; })) {
      std::fprintf(stderr, "braid-perf calibrate: --classes '%s' names %s twice\n", spec.c_str(), name.c_str());
      return std::nullopt;
    }
    chosen.push_back(*it);
  }
  if (chosen.empty())
    std::fprintf(stderr, "braid-perf calibrate: --classes '%s' names no class (auto, or a list of shm, tcp, ib)\n",
                 spec.c_str());
  return chosen.empty() ? std::nullopt : std::optional(chosen);
}

// Arguments of one measurement run, with many iterations for the timed collectives so the skew
// after the start barrier does not count. The point-to-point suites cover 1 B .. the largest
// size; sendrecv 8 B .. 1 MiB (or the largest size, if smaller), where a step's fixed cost
// matters (beyond, the streaming rates dominate); all-gather and reduce-scatter messages of
// 8-64 B, where only the fixed costs count; the streaming all-gather and reduce-scatter as described
// above.
std::vector<std::string> SuiteArguments(const Settings& s, const std::string& measurement) {
  const std::vector<std::string> many = {"-n", "1000", "-w", "100", "-c", "0"};
  std::vector<std::string> args;
  if (IsStreaming(measurement)) {
    const size_t largest = ParseSize(s.max_bytes).value_or(0);  // at least kStreamingMinBytes: not run below
    return {"-b", std::to_string(kStreamingMinBytes), "-e", std::to_string(largest), "-f", "2",
            "-n", "40", "-w", "4", "-c", "0"};  // ~2 s to 256 MiB: a short window for the VM's mode changes
  }
  if (measurement == "sendrecv") {
    const size_t largest = std::min<size_t>(size_t(1) << 20, ParseSize(s.max_bytes).value_or(0));
    args = {"-b", "8", "-e", std::to_string(largest), "-f", "2"};
  } else if (IsCollective(measurement)) {
    args = {"-b", "16", "-e", "128", "-f", "2"};  // whole buffers: 8-64 B per message
  } else {
    return {"-b", "1", "-e", s.max_bytes, "-f", "2"};
  }
  args.insert(args.end(), many.begin(), many.end());
  return args;
}

nlohmann::ordered_json MemoryToJson(const LocalRates& local) {
  nlohmann::ordered_json j = nlohmann::ordered_json::array();
  for (const WorkingSetRates& w : local.by_working_set)
    j.push_back({{"bytes", w.bytes}, {"reduce_GBps", w.reduce_GBps}, {"copy_GBps", w.copy_GBps}});
  return j;
}

}  // namespace

int CalibrateMain(int argc, char** argv) {
  CLI::App app{"braid-perf calibrate: measure this machine's link classes and write a plan-sim cluster file",
               "braid-perf calibrate"};
  Settings s;
  app.add_option("-o,--out", s.out, "Cluster file to write (JSON; '-' = stdout)")->required();
  app.add_option("--ranks-per-node", s.ranks_per_node, "Ranks per node of the cluster described")
      ->capture_default_str();
  app.add_option("-e,--maxbytes", s.max_bytes, "Largest message measured, 64K-1G (K/M/G suffixes)")->capture_default_str();
  app.add_option("--classes", s.classes, "auto (shm, tcp, and ib when present) or a list: shm,tcp,ib")
      ->capture_default_str();
  app.add_option("--repeat", s.repeat, "Runs per suite (each size keeps its best run)")->capture_default_str();
  app.add_option("--mpiexec", s.mpiexec,
                 "Launcher for the 2-rank measurement jobs (MPICH's Hydra or Open MPI; ranks bound to cores)")
      ->capture_default_str();
  CLI::Option* name = app.add_option("--name", s.name, "Cluster name (default: 'calibrated <host>')");
  if (std::optional<int> exit_code = braid::tools::ParseCommandLine(app, argc, argv, "braid-perf calibrate", 2))
    return *exit_code;
  // calibrate starts 2-rank jobs of its own; as a rank of a job it would run one calibration per
  // rank at once, each disturbing the others' timings.
  if (const std::string variable = MpiJobVariable(); !variable.empty()) {
    if (FirstRankOfJob())
      std::fprintf(stderr, "braid-perf calibrate: runs inside an MPI job (%s is set); it launches its own 2-rank "
                   "jobs with --mpiexec, so run it without mpiexec\n", variable.c_str());
    return 2;
  }
  // Up to the point-to-point suites' limit (they refuse larger sizes), from the smallest size
  // the bandwidth fit reads: below 64 KiB it had no windowed rate and fitted the link's
  // bandwidth to sub-KiB ping-pong times, with no word (-e 1K: 6.6 GB/s against ~12 measured;
  // QA, session 53).
  std::optional<size_t> max_bytes = ParseSize(s.max_bytes);
  if (!max_bytes || *max_bytes < kMinFitBandwidthBytes || *max_bytes > kMaxP2pBytes) {
    std::fprintf(stderr, "braid-perf calibrate: -e/--maxbytes '%s' is invalid (a size in [64K, 1G], e.g. 256M: the "
                 "bandwidth fit reads the windowed suites' sizes from 64 KiB)\n", s.max_bytes.c_str());
    return 2;
  }
  if (s.out.empty()) {
    std::fprintf(stderr, "braid-perf calibrate: -o/--out: empty path (name the cluster file, or '-' for stdout)\n");
    return 2;
  }
  if (name->count() > 0 && s.name.empty()) {
    std::fprintf(stderr, "braid-perf calibrate: --name: empty (leave it out for 'calibrated <host>')\n");
    return 2;
  }
  if (s.repeat < 1 || s.repeat > 99) {
    std::fprintf(stderr, "braid-perf calibrate: --repeat %d is out of range [1, 99]\n", s.repeat);
    return 2;
  }
  if (s.ranks_per_node < 1 || s.ranks_per_node > 1024) {
    std::fprintf(stderr, "braid-perf calibrate: --ranks-per-node %d is out of range [1, 1024]\n", s.ranks_per_node);
    return 2;
  }
  // The memory phase runs last, after minutes of link jobs: refused now if it cannot fit.
  const size_t memory_phase = LocalRatesPeakBytes(s.ranks_per_node, *max_bytes);
  if (const std::optional<size_t> available = MeminfoBytes("MemAvailable"); available && memory_phase > *available) {
    std::fprintf(stderr, "braid-perf calibrate: its memory measurement needs %.1f GiB (--ranks-per-node %d x 2 "
                 "buffers of max(-e, 256 MiB)), more than the %.1f GiB this machine has available; lower "
                 "--ranks-per-node or -e\n", double(memory_phase) / double(1ull << 30), s.ranks_per_node,
                 double(*available) / double(1ull << 30));
    return 2;
  }
  std::optional<std::vector<LinkClass>> classes = SelectClasses(s.classes);
  if (!classes) return 2;
  // One rank per node with no class between nodes describes a cluster of one rank: plan-sim could
  // run no collective on the file (QA, session 57: written with exit 0, then refused there).
  const bool between_nodes = std::any_of(classes->begin(), classes->end(), [](const LinkClass& c) { return c.name != "shm"; });
  if (s.ranks_per_node == 1 && !between_nodes) {
    std::fprintf(stderr, "braid-perf calibrate: --ranks-per-node 1 with --classes '%s' describes a single rank: "
                 "measure a class between nodes (tcp or ib) or give --ranks-per-node 2 or more\n", s.classes.c_str());
    return 2;
  }
  s.launcher = FindInPath(s.mpiexec);
  if (s.launcher.empty()) {
    std::fprintf(stderr, "braid-perf calibrate: --mpiexec '%s': no such executable (in PATH or as a path)\n",
                 s.mpiexec.c_str());
    return 2;
  }
  s.launcher_flags = CoreBindingFlags(s.launcher);
  // Checked now, written only once everything is measured: a failed run keeps the file there.
  if (s.out != "-") {
    if (std::string error = tools::WritableError(s.out); !error.empty()) {
      std::fprintf(stderr, "braid-perf calibrate: --out: %s\n", error.c_str());
      return 2;
    }
  }

  // The jobs' JSON results; gone on every way out, an interruption included (interruption.h).
  std::optional<ScratchDir> scratch;
  try {
    scratch.emplace("braid-calibrate");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "braid-perf calibrate: %s\n", e.what());
    return 1;
  }
  const fs::path dir = scratch->path();
  nlohmann::ordered_json links = nlohmann::ordered_json::object(), measured = nlohmann::ordered_json::object();
  std::map<std::string, double> call_overhead_us, reduce_step_us;
  std::vector<std::string> failed;  // classes asked for that could not be measured
  for (const LinkClass& c : *classes) {
    std::map<std::string, SuiteResult> suites;
    // The streaming job starts at kStreamingMinBytes: below -e it would only measure sizes
    // the cluster file leaves out.
    size_t wanted = 0;
    for (const Measurement& m : kMeasurements) {
      if (IsStreaming(m.name) && *max_bytes < kStreamingMinBytes) continue;
      ++wanted;
      std::vector<SuiteResult> runs;
      for (int i = 0; i < s.repeat; ++i) {
        std::optional<SuiteResult> r =
            MeasureSuite(s, c, m, SuiteArguments(s, m.name), dir / fmt::format("{}-{}.json", c.name, m.name));
        if (!r) break;
        runs.push_back(std::move(*r));
      }
      if (int(runs.size()) != s.repeat) break;
      suites[m.name] = BestPerSize(runs, /*lower_is_better=*/m.suite == "latency" || IsCollective(m.suite));
    }
    if (suites.size() != wanted) {
      failed.push_back(c.name);
      continue;
    }
    const std::string& transports = suites["latency"].transports;
    if (transports.find(c.expect) == std::string::npos) {
      // Under auto a class is a guess from what this host has; one named by --classes was asked for.
      std::fprintf(stderr, "braid-perf calibrate: class %s: UCX selected '%s', not this class; %s\n", c.name.c_str(),
                   transports.c_str(), s.classes == "auto" ? "skipped" : "failed");
      if (s.classes != "auto") failed.push_back(c.name);
      continue;
    }
    LinkFit fit = FitLink(suites["latency"].points, suites["bw"].points, suites["bibw"].points,
                          suites["sendrecv"].points);
    links[c.name] = FitToJson(fit);
    const double worst_measured_us = MeasuredAt(suites["latency"].points, fit.worst_bytes);
    if (fit.max_relative_error > kFitErrorWarning &&
        std::abs(fit.Microseconds(fit.worst_bytes) - worst_measured_us) > kFitErrorWarningUs) {
      // The model's two regimes cannot follow this curve (TCP over loopback: a dip at 128-512 KiB
      // and twice the rate from 2 MiB; QA, session 57): plan-sim's times inherit the error.
      std::fprintf(stderr, "braid-perf calibrate: class %s: warning: the fitted model is off by up to %.0f%% of the "
                   "measured ping-pong (at %.0f B: %.1f us fitted, %.1f us measured); plan-sim's times on this link "
                   "class carry that error\n", c.name.c_str(), 100 * fit.max_relative_error, fit.worst_bytes,
                   fit.Microseconds(fit.worst_bytes), worst_measured_us);
    }
    // What plan-sim replays as each message's fixed cost: the exchange at each size, less what
    // its own call costs beyond a lone message of the same size (half a ping-pong round trip;
    // 8-64 B, every one a single eager packet). A size disturbed into being slower than a larger
    // one would make plan-sim predict a smaller collective slower than a bigger one.
    // Only 8-64 B: from a few KiB up a two-way exchange is slower than a lone message for its
    // bandwidth, and a median over every size (8 B-1 MiB, half of them >= 4 KiB) took that for a
    // call cost: 4.5 us against a whole 8 B exchange of 0.7 us, zeroing the small exchanges.
    const double exchange_call_us =
        MedianExcessUs(suites["sendrecv"].points, suites["latency"].points, kSingleEagerPacketBytes);
    std::vector<SizedValue> exchange = NonDecreasingTimes(suites["sendrecv"].points);
    for (SizedValue& p : exchange) p.value = std::max(0.0, p.value - exchange_call_us);
    links[c.name]["exchange_us"] = Points(exchange);
    // Per-direction rate by working set: each all-gather row is half its buffer per direction
    // (MeasureSuite's bytes), keyed by the whole buffer. None when -e is below the job's start.
    const auto rates_of = [&](const char* measurement) {
      std::vector<SizedValue> rates;
      for (const SizedValue& p : suites[measurement].points)
        rates.push_back({2 * p.bytes, p.bytes / p.value / 1e3});  // MB/s, to GB/s
      return rates;
    };
    const std::vector<SizedValue> rates = rates_of("streaming"), reduce_rates = rates_of("streaming_reduce");
    if (!rates.empty()) links[c.name]["streaming_GBps"] = Points(rates);
    if (!reduce_rates.empty()) links[c.name]["streaming_reduce_GBps"] = Points(reduce_rates);
    // A collective call's own cost (arguments, plan, executor), charged once per call: a 2-rank
    // all-gather, one exchange through the executor, less that exchange. A reduction step's
    // fixed cost, charged per reduce op: a 2-rank reduce-scatter, the same exchange with its
    // received half reduced, less the all-gather. Both from collectives other than the
    // all-reduce that the calibration check predicts.
    call_overhead_us[c.name] = MedianExcessUs(suites["allgather"].points, exchange);
    reduce_step_us[c.name] = MedianExcessUs(suites["reducescatter"].points, suites["allgather"].points);
    // Every suite a fitted term comes from, so that a fit can be checked against its points (the
    // latency ones, behind the alpha terms, were missing; QA, session 55).
    measured[c.name] = {{"transports", transports},
                        {"latency_us", Points(suites["latency"].points)},
                        {"bw_MBps", Points(suites["bw"].points)},
                        {"bibw_MBps", Points(suites["bibw"].points)},
                        {"sendrecv_us", Points(suites["sendrecv"].points)},
                        {"allgather_us", Points(suites["allgather"].points)},
                        {"reducescatter_us", Points(suites["reducescatter"].points)}};
    if (!rates.empty()) measured[c.name]["streaming_allgather_in_place_us"] = Points(suites["streaming"].points);
    if (!reduce_rates.empty())
      measured[c.name]["streaming_reducescatter_in_place_us"] = Points(suites["streaming_reduce"].points);
  }
  scratch.reset();
  if (!failed.empty()) {
    // A cluster file without a class the user asked for would pass for a complete one (and
    // replace one that was); nothing is written.
    std::fprintf(stderr, "braid-perf calibrate: class(es) %s could not be measured (above); %s not written%s\n",
                 fmt::format("{}", fmt::join(failed, ", ")).c_str(), s.out == "-" ? "the cluster file" : s.out.c_str(),
                 s.out == "-" ? "" : ", left as it was");
    return 1;
  }
  if (links.empty()) {
    std::fprintf(stderr, "braid-perf calibrate: no link class could be measured\n");
    return 1;
  }

  std::fprintf(stderr, "braid-perf calibrate: reduce and copy rates on %d cores at once, matmul rate ...\n",
               s.ranks_per_node);
  LocalRates local = MeasureLocalRates(s.ranks_per_node, *max_bytes);
  const std::string host = bootstrap::Hostname();
  const std::string intra = links.contains("shm") ? "shm" : links.begin().key();
  std::string inter;
  for (const char* c : {"ib", "tcp"})
    if (inter.empty() && links.contains(c)) inter = c;
  nlohmann::ordered_json calibration = {
      {"tool", "braid-perf calibrate"},
      {"date", UtcTimestamp()},
      {"host", host},
      {"command", "braid-perf " + tools::CommandLine(argc, argv)},
      {"runtime", "host"},
      {"ranks_per_node", s.ranks_per_node},
      {"reduce_GBps", local.reduce_GBps},
      {"copy_GBps", local.copy_GBps},
      {"call_overhead_us", call_overhead_us[intra]},
      {"reduce_step_us", reduce_step_us[intra]},
      {"memory", MemoryToJson(local)},
      {"intra_node", intra}};
  if (!inter.empty()) calibration["inter_node"] = inter;
  calibration["links"] = links;
  calibration["measured"] = measured;
  nlohmann::ordered_json cluster = {
      {"name", s.name.empty() ? "calibrated " + host : s.name},
      {"nodes", 1},
      {"gpu",
       {{"name", "host rank (cpu)"},
        {"peak_tflops", local.matmul_tflops},
        {"hbm_GBps", local.copy_GBps},
        {"memory_GiB", MemTotalGiB() / s.ranks_per_node},
        {"reserved_GiB", 0.0},  // a host rank has no CUDA context to reserve memory for
        {"memory_efficiency", 1.0}}},
      {"node", {{"gpus", s.ranks_per_node}, {"nics", 1}}},
      {"calibration", calibration}};
  const std::string text = cluster.dump(2) + "\n";
  if (std::string error = tools::WriteOutput(s.out, text); !error.empty()) {
    std::fprintf(stderr, "braid-perf calibrate: --out %s: %s\n", s.out.c_str(), error.c_str());
    return 1;
  }
  if (s.out != "-") {
    std::string names;
    for (const auto& item : links.items()) names += (names.empty() ? "" : ", ") + item.key();
    std::fprintf(stderr, "braid-perf calibrate: wrote %s (classes: %s)\n", s.out.c_str(), names.c_str());
  }
  return 0;
}

}  // namespace braid::perf
