// The measurement loop: for every size, out-of-place then in-place, an optional checked run
// followed by warm-up and timed iterations.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "backend.h"
#include "options.h"

namespace braid::perf {

struct Measurement {
  bool valid = false;   // false: variant not supported by the backend (printed as N/A)
  double time_us = 0;   // average per iteration, max over ranks, microseconds
  double algbw = 0;     // GB/s (1e9 bytes per second) of the row's size
  double busbw = 0;     // algbw * BusBwFactor
  int64_t wrong = -1;   // wrong elements summed over ranks; -1 = not checked (-c 0)
};

struct Row {
  size_t bytes = 0;  // Shape::bytes
  size_t count = 0;  // Shape::count
  Measurement out_of_place;
  Measurement in_place;
};

struct Results {
  std::vector<Row> rows;
  int64_t wrong_total = 0;  // over all rows, variants and ranks
  double avg_busbw = 0;     // mean busbw over every valid measurement, both variants (GB/s)
};

// The requested sizes: min, min*f, min*f^2, ... <= max (0 is followed by 1).
std::vector<size_t> SizeSequence(size_t min_bytes, size_t max_bytes, size_t factor);

// Collective over MPI_COMM_WORLD: every rank calls it with the same options. `on_row` is called
// on every rank as each row completes (rank 0 prints it). nullopt on every rank if the buffers
// could not be allocated on some rank (after its message; see AllocatedOnEveryRank).
std::optional<Results> RunBenchmark(const Options& options, Backend& backend,
                                    const std::function<void(const Row&)>& on_row);

}  // namespace braid::perf
