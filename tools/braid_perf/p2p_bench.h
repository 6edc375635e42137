// The measurement loops of the point-to-point suites (OSU's definitions):
// - latency: rank 0 sends, rank 1 sends it back; half the round trip.
// - bw: per iteration rank 0 posts a window of sends, rank 1 the matching receives, and rank 1
//   answers with a 4-byte ack once all arrived; bytes / time.
// - bibw: both ranks post a window of receives and of sends at once; bytes both ways / time.
// - msgrate: ranks i < n/2 run bw to rank i + n/2, all pairs at once; aggregate bytes and
//   messages per second.
// Each size runs `warmup` untimed iterations (a backend's first size at least
// kFirstSizeWarmup, as many as it times if fewer), then at most `iters` timed ones: sizes above 8 KiB run fewer,
// so that each moves about 256 MiB (at least 5 iterations), and windows shrink so that one holds
// at most 64 MiB: a 1 GiB row then takes seconds, not minutes. The row says what it ran.
// With --rounds and --versus (options.h) each size runs several rounds, and a row is the
// median round (with --versus: the round of the median ratio, both backends' values from it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "options.h"
#include "p2p_backend.h"

namespace braid::perf {

struct P2pRow {
  size_t bytes = 0;
  int iterations = 0;       // timed iterations run at this size
  int warmup = 0;           // untimed iterations before them
  int window = 1;           // messages in flight per iteration (bandwidth suites)
  double seconds = 0;       // timed loop, max over ranks
  double latency_us = 0;    // latency suite: half the round trip, microseconds
  double bandwidth_MBps = 0;   // bandwidth suites: MB/s (1e6 B/s), all directions and pairs
  double messages_per_s = 0;   // bandwidth suites: messages delivered per second, all pairs
  int64_t wrong = -1;       // bytes received wrong in the checked exchange (-1: -c 0)
};

// A ratio with no meaning (0 / 0): printed "n/a", null in JSON, empty in CSV.
inline constexpr double kNoRatio = -1;

struct P2pResults {
  std::vector<P2pRow> rows;  // per size: the median round (with --versus: the median ratio's)
  // With --versus, per size: the other backend's row of the same round, and that round's ratio,
  // the median over rounds of value / the other's value (latency or bandwidth; each round's pair
  // ran back to back).
  std::vector<P2pRow> versus_rows;
  std::vector<double> ratios;  // kNoRatio where the baseline measured nothing (0-byte bandwidth)
  int64_t wrong_total = 0;  // over every round of every backend
};

// What a row is ranked and compared by: latency_us for the latency suite, else bandwidth_MBps.
double P2pValue(const Options& options, const P2pRow& row);

// Collective over MPI_COMM_WORLD (every rank calls it with the same options). Runs each size
// options.rounds times on `backend`, and as often on `versus` (may be null) in alternation.
// `on_row` runs on every rank as each size completes; its last rows are the new ones. nullopt
// on every rank if the buffers could not be allocated on some rank (see AllocatedOnEveryRank).
std::optional<P2pResults> RunP2pBenchmark(const Options& options, P2pBackend& backend, P2pBackend* versus,
                           const std::function<void(const P2pResults&)>& on_row);

}  // namespace braid::perf
