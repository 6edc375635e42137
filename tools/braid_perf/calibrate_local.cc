#include "calibrate_local.h"

#include <algorithm>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "braid/kernels/reduce.h"

namespace braid::perf {
namespace {

constexpr size_t kMinWorkingSetBytes = size_t(64) << 10;
// The headline reduce and copy rates (LocalRates::reduce_GBps, copy_GBps, which the cluster file
// gives as memory bandwidth) are measured at least at this working set, past any CPU's caches,
// whatever the largest message measured (-e): 64 KiB would give cache speeds.
constexpr size_t kMemoryWorkingSetBytes = size_t(256) << 20;
constexpr size_t kSliceBytes = size_t(256) << 10;     // the host runtime's largest slice
constexpr size_t kBytesPerRepetition = size_t(32) << 20;  // small sets loop until this much moved
constexpr int kRepetitions = 9;  // the first is a warm-up, the median of the rest counts
constexpr int kMatmulN = 256;

using Clock = std::chrono::steady_clock;

constexpr size_t kPageBytes = 4096;
// `out` starts this far past a page boundary, `in` on one. Two heap blocks allocated one after
// the other differ by 16 bytes modulo 4 KiB, and glibc's memcpy (rep movsb here) between such
// addresses runs at 1.8-2 GB/s instead of 36-41 GB/s on this AMD VM (a 64 KiB copy, measured):
// calibrating on that pathology made 64 KiB look 15x slower than 256 KiB. Half a page apart is
// neither that case nor exact page aliasing.
constexpr size_t kOutPageOffsetBytes = kPageBytes / 2;

// One rank's buffers for one working set: `in` and `out` of `bytes`, and a slice-sized buffer
// standing for the message just received.
struct Arrays {
  // in and out with the pages their alignment may take, and the slice (LocalRatesPeakBytes).
  static size_t StorageBytes(size_t bytes) { return 2 * bytes + 3 * kPageBytes; }
  static size_t SliceBytes(size_t bytes) { return std::min(kSliceBytes, bytes); }

  explicit Arrays(size_t bytes)
      : floats(bytes / sizeof(float)),
        slice(SliceBytes(bytes) / sizeof(float)),
        storage(StorageBytes(bytes) / sizeof(float), 0.0f),
        received(slice, 2.0f) {
    auto page_up = [](uintptr_t a) { return (a + kPageBytes - 1) & ~uintptr_t(kPageBytes - 1); };
    in = reinterpret_cast<float*>(page_up(reinterpret_cast<uintptr_t>(storage.data())));
    out = reinterpret_cast<float*>(page_up(reinterpret_cast<uintptr_t>(in + floats)) + kOutPageOffsetBytes);
    std::fill(in, in + floats, 1.0f);
  }
  Arrays(const Arrays&) = delete;  // in and out point into storage
  Arrays(Arrays&&) = default;
  size_t floats, slice;
  std::vector<float> storage;  // holds in and out at the offsets above
  std::vector<float> received;
  float* in = nullptr;
  float* out = nullptr;

  void Reduce() {
    for (size_t at = 0; at < floats; at += slice)
      kernels::ReduceHost(out + at, in + at, received.data(), std::min(slice, floats - at),
                          DataType::kFloat32, RedOpKind::kSum);
  }
  void Copy() {
    for (size_t at = 0; at < floats; at += slice)
      std::memcpy(out + at, in + at, std::min(slice, floats - at) * sizeof(float));
  }
};

// Every thread runs `body(thread)` `passes` times per repetition, all starting together; the
// repetition's time is the slowest thread's. Returns the median over repetitions, seconds.
template <typename Body>
double MedianSlowestSeconds(int threads, int passes, Body&& body) {
  std::vector<double> times(kRepetitions, 0.0);
  std::barrier sync(threads);
  std::vector<std::thread> pool;
  std::vector<std::vector<double>> per_thread(threads, std::vector<double>(kRepetitions));
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int r = 0; r < kRepetitions; ++r) {
        sync.arrive_and_wait();
        Clock::time_point start = Clock::now();
        for (int p = 0; p < passes; ++p) body(t);
        per_thread[t][r] = std::chrono::duration<double>(Clock::now() - start).count();
      }
    });
  }
  for (std::thread& th : pool) th.join();
  for (int r = 0; r < kRepetitions; ++r)
    for (int t = 0; t < threads; ++t) times[r] = std::max(times[r], per_thread[t][r]);
  times.erase(times.begin());  // warm-up: page faults, caches and the threads' first wake-up
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

WorkingSetRates MeasureWorkingSet(int ranks, size_t bytes) {
  std::vector<Arrays> arrays;
  arrays.reserve(ranks);
  for (int t = 0; t < ranks; ++t) arrays.emplace_back(bytes);
  const int passes = int(std::max<size_t>(1, kBytesPerRepetition / bytes));
  const double moved = double(bytes) * passes;
  WorkingSetRates rates;
  rates.bytes = double(bytes);
  rates.reduce_GBps = moved / MedianSlowestSeconds(ranks, passes, [&](int t) { arrays[t].Reduce(); }) / 1e9;
  rates.copy_GBps = moved / MedianSlowestSeconds(ranks, passes, [&](int t) { arrays[t].Copy(); }) / 1e9;
  // Read the results so that no store above is dead code to the optimiser.
  volatile float sink = arrays[0].out[arrays[0].floats / 2];
  (void)sink;
  return rates;
}

double MatmulTflops() {
  // C += A B with the k loop outside j so the inner loop vectorises.
  const int n = kMatmulN;
  std::vector<float> ma(size_t(n) * n, 0.5f), mb(size_t(n) * n, 0.25f), mc(size_t(n) * n, 0.0f);
  double seconds = MedianSlowestSeconds(1, 1, [&](int) {
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < n; ++k) {
        const float aik = ma[size_t(i) * n + k];
        for (int j = 0; j < n; ++j) mc[size_t(i) * n + j] += aik * mb[size_t(k) * n + j];
      }
  });
  volatile float sink = mc[size_t(n) * n / 2];
  (void)sink;
  return 2.0 * n * n * n / seconds / 1e12;
}

// At least kMemoryWorkingSetBytes: the memory's rate, whatever -e.
size_t LargestWorkingSet(size_t max_working_set_bytes) {
  return std::max(max_working_set_bytes, kMemoryWorkingSetBytes);
}

}  // namespace

size_t LocalRatesPeakBytes(int ranks, size_t max_working_set_bytes) {
  const size_t largest = LargestWorkingSet(max_working_set_bytes);
  return size_t(ranks) * (Arrays::StorageBytes(largest) + Arrays::SliceBytes(largest));
}

LocalRates MeasureLocalRates(int ranks, size_t max_working_set_bytes) {
  LocalRates rates;
  const size_t largest = LargestWorkingSet(max_working_set_bytes);
  for (size_t bytes = kMinWorkingSetBytes;; bytes *= 4) {
    rates.by_working_set.push_back(MeasureWorkingSet(ranks, std::min(bytes, largest)));
    if (bytes >= largest) break;
  }
  rates.reduce_GBps = rates.by_working_set.back().reduce_GBps;
  rates.copy_GBps = rates.by_working_set.back().copy_GBps;
  rates.matmul_tflops = MatmulTflops();
  return rates;
}

}  // namespace braid::perf
