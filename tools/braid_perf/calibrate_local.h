// Single-node measurements for `braid-perf calibrate`: what a rank's core does with data between
// messages (braid's host reduction, memcpy) and a floor on its arithmetic rate.
#pragma once

#include <cstddef>
#include <vector>

namespace braid::perf {

// Reduce and copy rates of one rank while every rank of the node runs the same loop at once
// (they share the memory system), on a working set of `bytes` per rank that is reused call after
// call, as a benchmark loop (or a training step's fixed buffers) reuses its collective's buffers.
struct WorkingSetRates {
  double bytes = 0;        // per rank, of each of `in` and `out` (an out-of-place collective's size)
  double reduce_GBps = 0;  // output bytes per second of out[i] = in[i] + slice[i % slice]
  double copy_GBps = 0;    // bytes per second of memcpy(out, in), slice by slice
};

struct LocalRates {
  double reduce_GBps = 0;   // at the largest working set measured (memory, not cache)
  double copy_GBps = 0;
  double matmul_tflops = 0; // a plain blocked fp32 matrix multiply (a floor, not the CPU's peak)
  std::vector<WorkingSetRates> by_working_set;  // ascending bytes
};

// `ranks` threads run each measurement together (median of a few repetitions, per thread, the
// slowest thread's); working sets from 64 KiB to `max_working_set_bytes`, and at least 256 MiB,
// by factors of 4. Data
// moves in slices of the runtime's largest pipelining slice (256 KiB), as the collectives do:
// the reduce reads a slice-sized received buffer, which stays in cache, plus the input.
LocalRates MeasureLocalRates(int ranks, size_t max_working_set_bytes);

// Host memory MeasureLocalRates holds at its peak (the largest working set's arrays on every
// rank's thread at once), for a check before any measurement: past MemAvailable, overcommit
// lets the allocation succeed and the OOM killer ends the run after all the link jobs.
size_t LocalRatesPeakBytes(int ranks, size_t max_working_set_bytes);

}  // namespace braid::perf
