// braid-perf: nccl-tests-style measurement of braid's collectives and OSU-style point-to-point
// suites (braid, raw UCX or the MPI library, side by side), launched with mpiexec; only rank 0
// prints. `braid-perf plot` and `braid-perf calibrate` run without mpiexec.
//
// Exit codes: 0 success, 1 wrong results found by -c 1, 2 bad command line or unsupported
// request (buffers too large for this machine's memory included), 3 a failed braid/UCX/MPI call
// (the job is aborted; also a rank that made no progress for longer than BRAID_TIMEOUT allows:
// watchdog.h). A bad BRAID_* environment value is a bad command line (2). --json and --csv files
// are replaced only by a run that completes.
#include <mpi.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "backend.h"
#include "braid_revision.h"  // generated at build time (cmake/git_revision.cmake)
#include "bench.h"
#include "calibrate.h"
#include "context.h"
#include "device_memory.h"
#include "join_watchdog.h"
#include "memory_budget.h"
#include "mpi_job.h"
#include "options.h"
#include "p2p_backend.h"
#include "p2p_report.h"
#include "plot.h"
#include "lib/command_line.h"
#include "lib/replace_file.h"
#include "report.h"
#include "watchdog.h"

namespace braid::perf {
namespace {

// An output document (--json or --csv): rank 0 checks that it can write the file before any
// measurement, so a bad path fails fast on every rank, and writes it only at the end, whole
// (ReplaceFile), so that a run that fails keeps the file already there; "-" is stdout.
class OutputFile {
 public:
  OutputFile(const std::string& flag, const std::string& path) : flag_(flag), path_(path) {}

  // Collective: false (after a message) if rank 0 could not write the file.
  bool Open(int rank) {
    int ok = 1;
    if (rank == 0 && !path_.empty() && path_ != "-") {
      if (std::string error = tools::WritableError(path_); !error.empty()) {
        std::fprintf(stderr, "braid-perf: %s: %s\n", flag_.c_str(), error.c_str());
        ok = 0;
      }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    return ok != 0;
  }

  bool wanted() const { return !path_.empty(); }
  const std::string& path() const { return path_; }

 private:
  std::string flag_, path_;
};

// Rank 0: whether everything printed to stdout (`what`) reached it; else a message naming it.
// stdio keeps a write's failure (a full disk, a closed pipe) until the flush: unchecked, the
// document was lost with exit 0 (`--json - > /dev/full`; QA, session 53).
bool StdoutWritten(const char* what) {
  const std::string error = tools::WriteStdout("", what);
  if (error.empty()) return true;
  std::fprintf(stderr, "braid-perf: %s\n", error.c_str());
  return false;
}

// Rank 0 only: writes a run's outputs (those wanted, with their text). The files are replaced
// all or none, so a run that fails to write one keeps the others as they were. False (after a
// message) if writing failed.
bool WriteOutputs(const std::vector<std::pair<const OutputFile*, std::string>>& outputs) {
  std::vector<std::pair<std::string, std::string>> files;
  bool written = true;
  for (const auto& [output, text] : outputs) {
    if (!output->wanted()) continue;
    if (output->path() == "-") {
      std::fputs(text.c_str(), stdout);
      written = StdoutWritten("the results") && written;
    } else {
      files.push_back({output->path(), text});
    }
  }
  const std::string error = tools::ReplaceFiles(files);
  if (error.empty()) return written;
  std::fprintf(stderr, "braid-perf: %s%s\n", error.c_str(),
               files.size() > 1 ? "; no output file was replaced" : "");
  return false;
}

std::string AlgoDescription(const Options& o) {
  if (o.backend == BackendKind::kMpi) return "mpi library's choice";
  if (!o.algo.empty()) return o.algo;
  // The variables braid reads: BRAID_X when set (even empty), else NCCL_X.
  auto setting = [](const char* braid_name, const char* nccl_name) -> std::string {
    for (const char* name : {braid_name, nccl_name}) {
      if (const char* env = std::getenv(name)) return *env ? fmt::format("{}={}", name, env) : "";
    }
    return "";
  };
  const std::string algo = setting("BRAID_ALGO", "NCCL_ALGO");
  // Which model the tuner costs with (CommOptions.tuner_file): a calibration file, or built in.
  const std::string tuner = setting("BRAID_TUNER_FILE", "NCCL_TUNER_FILE");
  std::string notes = algo;
  if (!tuner.empty()) notes += (notes.empty() ? "tuner " : ", tuner ") + tuner;
  return notes.empty() ? "auto" : fmt::format("auto ({})", notes);
}

// Returns the exit code: 0, 1 (wrong results) or 2 (the buffers do not fit this machine, or an
// output could not be written).
int RunCollectiveSuite(const Options& options, int rank, OutputFile& json, OutputFile& csv) {
  if (!MemoryFits(options)) return 2;
  std::unique_ptr<Backend> backend =
      options.backend == BackendKind::kBraid ? MakeBraidBackend(options) : MakeMpiBackend(options);
  RunInfo info;
  info.context = GatherContext(options.command_line, backend->Describe(), backend->PeerTransports());
  info.algo = AlgoDescription(options);
  // With --json - or --csv - stdout carries that document alone.
  const bool table = rank == 0 && options.json_path != "-" && options.csv_path != "-";
  if (table) PrintHeader(stdout, options, info);
  std::optional<Results> ran = RunBenchmark(options, *backend, [&](const Row& row) {
    if (table) PrintRow(stdout, options, row);
  });
  if (!ran) return 2;
  const Results& results = *ran;
  if (table) PrintFooter(stdout, options, results);
  const bool printed = !table || StdoutWritten("the table");
  const bool written = rank != 0 || WriteOutputs({{&json, json.wanted() ? ResultsToJson(options, info, results).dump(2) + "\n" : ""},
                                                   {&csv, csv.wanted() ? ResultsToCsv(options, info, results) : ""}});
  backend.reset();  // destroy the communicator before MPI_Finalize
  if (results.wrong_total > 0) return 1;
  return written && printed ? 0 : 2;
}

// --memory cuda: makes this rank's GPU current (ranks on a host spread over its GPUs) before any
// layer sets up, and returns its description; "" for host memory.
std::string SelectDevice(const Options& options) {
  if (options.memory != MemoryKind::kCuda) return "";
  MPI_Comm host_comm;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &host_comm);
  int local_rank = 0;
  MPI_Comm_rank(host_comm, &local_rank);
  MPI_Comm_free(&host_comm);
  return device::SelectDevice(local_rank);
}

// Returns the exit code, as RunCollectiveSuite does.
int RunP2pSuite(const Options& options, int rank, OutputFile& json, OutputFile& csv) {
  const std::string device = SelectDevice(options);
  if (!MemoryFits(options)) return 2;  // after SelectDevice: the GPU's free memory counts too
  std::unique_ptr<P2pBackend> backend = MakeP2p(options.backend, options);
  std::unique_ptr<P2pBackend> versus = options.versus ? MakeP2p(*options.versus, options) : nullptr;
  RunContext context = GatherContext(options.command_line, backend->Describe(), backend->PeerTransports(), device,
                                     versus ? versus->PeerTransports() : "");
  if (versus) context.versus = versus->Describe();
  const bool table = rank == 0 && options.json_path != "-" && options.csv_path != "-";
  if (table) PrintP2pHeader(stdout, options, context);
  std::optional<P2pResults> ran = RunP2pBenchmark(options, *backend, versus.get(), [&](const P2pResults& so_far) {
    if (table) PrintP2pRow(stdout, options, so_far);
  });
  if (!ran) return 2;
  const P2pResults& results = *ran;
  if (table) PrintP2pFooter(stdout, options, results);
  const bool printed = !table || StdoutWritten("the table");
  const bool written =
      rank != 0 || WriteOutputs({{&json, json.wanted() ? P2pResultsToJson(options, context, results).dump(2) + "\n" : ""},
                                 {&csv, csv.wanted() ? P2pResultsToCsv(options, context, results) : ""}});
  versus.reset();
  backend.reset();
  if (results.wrong_total > 0) return 1;
  return written && printed ? 0 : 2;
}

// The operation timeout braid would use (BRAID_TIMEOUT), with every other BRAID_* knob braid
// reads checked on every rank; nullopt (exit 2) after the first failing rank named its value.
std::optional<double> ResolvedTimeout(const Options& options, int rank) {
  CommOptions wanted, resolved;
  wanted.algorithm = options.algo;
  const Status s = Comm::ResolveOptions(wanted, &resolved);
  int nranks = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  int mine = s.ok() ? nranks : rank, first_failing = nranks;
  MPI_Allreduce(&mine, &first_failing, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (first_failing == nranks) return resolved.timeout_s;
  if (rank == first_failing) std::fprintf(stderr, "braid-perf: rank %d: %s\n", rank, s.message().c_str());
  return std::nullopt;
}

// Every rank must run the same benchmark: the ranks compare their command lines (the program's
// path aside), and a rank whose options were refused stops them all. Returns the exit code when
// they cannot run together: `parsed` (ParseOptions' code on this rank; rank 0 printed why), or 2
// for a rank started with other options than rank 0's, which rank 0 names.
std::optional<int> AgreeOnOptions(int argc, char** argv, std::optional<int> parsed, int rank) {
  const std::vector<std::string> lines = GatherStrings(tools::CommandLine(argc - 1, argv + 1));
  const std::vector<std::string> codes = GatherStrings(std::to_string(parsed.value_or(-1)));
  int odd = 0;  // rank 0's verdict: the first rank that differs from it, or 0
  for (size_t r = 1; rank == 0 && r < lines.size() && odd == 0; ++r) {
    if (lines[r] != lines[0] || codes[r] != codes[0]) {
      odd = int(r);
      std::fprintf(stderr, "braid-perf: rank %d was started with other options than rank 0 ('%s' against '%s'); "
                   "every rank must run the same benchmark (one command line for all)\n", odd, lines[r].c_str(),
                   lines[0].c_str());
    }
  }
  MPI_Bcast(&odd, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return odd != 0 ? std::optional<int>(2) : parsed;
}

int Main(int argc, char** argv) {
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  Options options;
  if (std::optional<int> code =
          AgreeOnOptions(argc, argv, ParseOptions(argc, argv, nranks, rank == 0, &options), rank))
    return *code;
  if (options.backend == BackendKind::kMpi && !options.suite) {
    std::string reason = MpiUnsupportedReason(options, nranks);
    if (!reason.empty()) {
      if (rank == 0) std::fprintf(stderr, "braid-perf: %s\n", reason.c_str());
      return 2;
    }
  }
  const std::optional<double> timeout_s = ResolvedTimeout(options, rank);
  if (!timeout_s) return 2;
  OutputFile json("--json", options.json_path), csv("--csv", options.csv_path);
  if (!json.Open(rank) || !csv.Open(rank)) return 2;
  Watchdog watchdog(WatchdogLimit(*timeout_s), rank, nranks, LocalPeers());
  return options.suite ? RunP2pSuite(options, rank, json, csv) : RunCollectiveSuite(options, rank, json, csv);
}

}  // namespace
}  // namespace braid::perf

int main(int argc, char** argv) {
  // Before MPI: a version query needs no job (the header of every run says the same). Under
  // mpiexec only the job's first rank answers, and only it plots (every rank wrote the same file).
  // They take no job either: a rank's script may run a benchmark after them, which would inherit
  // it (MPI_Init there made the next braid-perf of the script die; review, session 61).
  const bool first_rank = braid::perf::FirstRankOfJob();
  if (argc == 2 && (std::string_view(argv[1]) == "--version" || std::string_view(argv[1]) == "-V")) {
    if (first_rank) std::printf("braid-perf %s (git %s)\n", BRAID_VERSION, BRAID_GIT_REVISION);
    return 0;
  }
  if (argc > 1 && std::string_view(argv[1]) == "plot") return first_rank ? braid::perf::PlotMain(argc - 1, argv + 1) : 0;
  if (argc > 1 && std::string_view(argv[1]) == "calibrate") return braid::perf::CalibrateMain(argc - 1, argv + 1);
  // Funneled: only this thread calls MPI, but the process has others (the watchdog, braid's).
  int provided = 0;
  {
    braid::perf::JoinWatchdog bounded(braid::perf::JoinLimitSeconds());  // a rank that never joins
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  }
  int code = braid::perf::Main(argc, argv);
  MPI_Finalize();
  return code;
}
