// Single-process measurements for `braid-perf calibrate`: what one rank's core does with data
// between messages (braid's host reduction, memcpy) and a floor on its arithmetic rate.
#pragma once

namespace braid::perf {

struct LocalRates {
  double reduce_GBps = 0;   // braid::kernels::ReduceHost, fp32 sum, bytes of output per second
  double copy_GBps = 0;     // memcpy, bytes copied per second
  double matmul_tflops = 0; // a plain blocked fp32 matrix multiply (a floor, not the CPU's peak)
};

// Median of a few repetitions of each, on buffers larger than the caches (64 MiB), in slices of
// the runtime's largest pipelining slice (256 KiB), as the collectives touch them.
LocalRates MeasureLocalRates();

}  // namespace braid::perf
