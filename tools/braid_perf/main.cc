// braid-perf: nccl-tests-style bandwidth measurement of braid's collectives (or, for
// comparison, the MPI library's), launched with mpiexec. Only rank 0 prints.
//
// Exit codes: 0 success, 1 wrong results found by -c 1, 2 bad command line or unsupported
// request, 3 a failed braid/MPI call (the job is aborted).
#include <mpi.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>

#include "backend.h"
#include "bench.h"
#include "options.h"
#include "report.h"

namespace braid::perf {
namespace {

constexpr int kHostNameBytes = 256;  // fixed-size records for MPI_Gather

RunInfo GatherRunInfo(const Options& o, const Backend& backend, int rank, int nranks) {
  char host[kHostNameBytes] = {};
  gethostname(host, sizeof(host) - 1);
  int pid = static_cast<int>(getpid());
  std::vector<char> hosts(rank == 0 ? size_t(nranks) * kHostNameBytes : 0);
  std::vector<int> pids(rank == 0 ? size_t(nranks) : 0);
  MPI_Gather(host, kHostNameBytes, MPI_CHAR, hosts.data(), kHostNameBytes, MPI_CHAR, 0, MPI_COMM_WORLD);
  MPI_Gather(&pid, 1, MPI_INT, pids.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
  RunInfo info;
  info.backend_description = backend.Describe();
  info.nranks = nranks;
  info.host = host;
  for (int r = 0; rank == 0 && r < nranks; ++r)
    info.rank_lines.push_back(fmt::format("Rank {:2} Pid {:7} on {}", r, pids[size_t(r)],
                                          &hosts[size_t(r) * kHostNameBytes]));
  if (o.backend == BackendKind::kMpi) {
    info.algo = "mpi library's choice";
  } else if (!o.algo.empty()) {
    info.algo = o.algo;
  } else {
    const char* env = std::getenv("BRAID_ALGO");
    info.algo = env && *env ? fmt::format("auto (BRAID_ALGO={})", env) : "auto";
  }
  return info;
}

// Rank 0 opens the JSON file before any measurement, so a bad path fails fast on every rank.
bool OpenJson(const Options& o, int rank, std::ofstream* file) {
  int ok = 1;
  if (rank == 0 && !o.json_path.empty() && o.json_path != "-") {
    file->open(o.json_path);
    if (!*file) {
      std::fprintf(stderr, "braid-perf: --json: cannot open '%s' for writing\n", o.json_path.c_str());
      ok = 0;
    }
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return ok != 0;
}

int Main(int argc, char** argv) {
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  Options options;
  if (std::optional<int> code = ParseOptions(argc, argv, nranks, rank == 0, &options)) return *code;
  if (options.backend == BackendKind::kMpi) {
    std::string reason = MpiUnsupportedReason(options, nranks);
    if (!reason.empty()) {
      if (rank == 0) std::fprintf(stderr, "braid-perf: %s\n", reason.c_str());
      return 2;
    }
  }
  std::ofstream json_file;
  if (!OpenJson(options, rank, &json_file)) return 2;

  std::unique_ptr<Backend> backend =
      options.backend == BackendKind::kBraid ? MakeBraidBackend(options) : MakeMpiBackend(options);
  RunInfo info = GatherRunInfo(options, *backend, rank, nranks);
  // With --json - stdout carries the JSON document alone.
  const bool table = rank == 0 && options.json_path != "-";
  if (table) PrintHeader(stdout, options, info);
  Results results = RunBenchmark(options, *backend, [&](const Row& row) {
    if (table) PrintRow(stdout, options, row);
  });
  if (table) PrintFooter(stdout, results);
  bool json_failed = false;
  if (rank == 0 && !options.json_path.empty()) {
    std::string doc = ResultsToJson(options, info, results).dump(2) + "\n";
    if (options.json_path == "-") {
      std::fputs(doc.c_str(), stdout);
      std::fflush(stdout);
    } else {
      json_file << doc;
      json_file.close();
      if (!json_file) {
        std::fprintf(stderr, "braid-perf: --json: writing '%s' failed\n", options.json_path.c_str());
        json_failed = true;
      }
    }
  }
  backend.reset();  // destroy the communicator before MPI_Finalize
  if (results.wrong_total > 0) return 1;
  return json_failed ? 2 : 0;
}

}  // namespace
}  // namespace braid::perf

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int code = braid::perf::Main(argc, argv);
  MPI_Finalize();
  return code;
}
