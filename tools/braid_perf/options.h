// Command-line options of braid-perf: nccl-tests' flag names for the collective suites, the same
// flags (plus --window) for the OSU-shaped point-to-point suites.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "braid/types.h"
#include "collective.h"
#include "p2p_suite.h"

namespace braid::perf {

// braid: braid's Comm; mpi: the MPI library; ucx: UCX's tag API directly (point-to-point suites
// only), configured as braid configures its transport, to show braid's own overhead.
enum class BackendKind { kBraid, kMpi, kUcx };

// Where the point-to-point suites' message buffers live: host memory, or CUDA device memory
// (--memory cuda; builds with CUDA on a machine with a GPU). A layer that cannot take device
// pointers gets its messages staged through pinned host memory (p2p_staging.h).
enum class MemoryKind { kHost, kCuda };

// Untimed iterations before a backend's first size (point-to-point) or a run's first size
// (collectives), at least, when -w is above 0: that size pays the first-use costs on top (a braid
// bw sweep's first row read 1.4-3x low at 5, whatever size it started at, QA session 53; an
// 8-byte all-reduce's first row 1.2-380 us against 0.35-0.41 us after 200, QA session 55).
inline constexpr int kFirstSizeWarmup = 50;

struct Options {
  // Exactly one of the two: a point-to-point suite when `suite` is set, else `collective`.
  std::optional<P2pSuite> suite;
  Collective collective = Collective::kAllReduce;
  size_t min_bytes = 8;              // -b, bytes
  size_t max_bytes = size_t(64) << 20;  // -e, bytes
  size_t factor = 2;                 // -f, multiplicative step between sizes (>= 2)
  DataType type = DataType::kFloat32;
  RedOp op;                          // kind from -o; scalar kPreMulSumScalar for premulsum
  int root = 0;
  int iters = 20;                    // timed iterations per size (p2p: the most, see p2p_bench.h)
  int warmup = 5;                    // untimed iterations per size before timing (see kFirstSizeWarmup)
  bool check = true;                 // -c 1: validate one call's (or exchange's) every output element
  BackendKind backend = BackendKind::kBraid;
  // p2p suites: a second backend timed in the same processes. Each size then runs `rounds`
  // rounds, the two backends taking turns to go first, so both see the same machine state (a
  // shared VM's speed changes for seconds at a time; separate runs compare those changes).
  std::optional<BackendKind> versus;
  int rounds = 1;                    // p2p: rounds per size; a row is the median round (--versus: ratio's)
  // p2p, ucx backend: empty loop iterations after every blocking receive. A known extra cost on
  // the critical path of a ping-pong: the N at which ucx's latency meets braid's is braid's own
  // extra work per message, and ucx's latency against N says what one spin costs
  // (bench/latency_gap.sh; docs/PERFORMANCE.md, session 10).
  long ucx_extra_spins = 0;
  MemoryKind memory = MemoryKind::kHost;  // p2p suites: --memory
  std::string algo;                  // "" = the library decides
  int window = 64;                   // p2p bandwidth suites: messages in flight per iteration
  std::string json_path;             // "" = no JSON, "-" = stdout (the table is then not printed)
  std::string csv_path;              // "" = no CSV, "-" = stdout (the table is then not printed)
  std::string command_line;          // argv joined, for the context header
};

inline constexpr int kDefaultVersusRounds = 5;
inline constexpr int kMaxRounds = 1000;
inline constexpr long kMaxUcxExtraSpins = 1000000;

// premulsum multiplies every input by this before summing; 2 keeps results exact in every type.
inline constexpr double kPreMulSumScalar = 2.0;

// Parses "123", "4K", "64M", "1G" (powers of 1024, case-insensitive suffix). nullopt if invalid
// or overflowing.
std::optional<size_t> ParseSize(std::string_view text);

// Parses and validates argv for a job of `nranks` ranks. Returns nullopt to go on, or the exit
// code to leave with: 0 after --help, 2 for bad input. Messages are printed only when `print`
// (rank 0), so that every rank can parse and agree without repeating the output.
std::optional<int> ParseOptions(int argc, char** argv, int nranks, bool print, Options* out);

std::optional<BackendKind> ParseBackend(std::string_view name);  // braid, mpi, ucx
const char* BackendName(BackendKind kind);
const char* MemoryName(MemoryKind kind);  // host, cuda

}  // namespace braid::perf
