// ReduceCuda bandwidth against the device's own copy bandwidth, timed in the same process.
//   build/bin/gpu_reduce_bench --benchmark_counters_tabular=true
//
// GB/s counts every byte moved: num_srcs * out_bytes read + out_bytes written (1 GB = 1e9 B).
// The baseline is cudaMemcpy device-to-device of out_bytes (out_bytes read + out_bytes written),
// and `ratio` = reduce GB/s / copy GB/s. Buffers are 256 MiB and larger, several times the
// H100's 50 MB L2, so no buffer rotation is needed: every launch streams from HBM. Times come
// from CUDA events around each launch (manual time); each benchmark runs 5 repetitions and
// reports mean / median / stddev. Sources hold random finite values, never zeros.
// Without a CUDA device the program prints a note and exits 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <vector>

#include "braid/kernels/reduce.h"
#include "braid/kernels/reduce_cuda.h"
#include "bench/cuda_event_timer.h"

namespace {

using braid::DataType;
using braid::RedOpKind;

constexpr size_t kMiB = size_t{1} << 20;
constexpr int kWarmups = 3;
constexpr int kBaselineRuns = 20;

bool Check(cudaError_t err, const char* what, benchmark::State* state = nullptr) {
  if (err == cudaSuccess) return true;
  std::fprintf(stderr, "%s: %s\n", what, cudaGetErrorString(err));
  if (state) state->SkipWithError(what);
  return false;
}

struct DeviceMemory {
  void* ptr = nullptr;
  explicit DeviceMemory(size_t bytes) {
    if (cudaMalloc(&ptr, bytes) != cudaSuccess) ptr = nullptr;
  }
  ~DeviceMemory() { cudaFree(ptr); }
  DeviceMemory(const DeviceMemory&) = delete;
  DeviceMemory& operator=(const DeviceMemory&) = delete;
};

// 64 MiB of random values of `type` in [-1, 1) without zeros (a fast xorshift; statistics do
// not matter, only that the bits vary).
const std::vector<uint8_t>& RandomChunk(DataType type) {
  static std::map<DataType, std::vector<uint8_t>> chunks;
  auto& chunk = chunks[type];
  if (!chunk.empty()) return chunk;
  const size_t size = braid::DataTypeSize(type);
  const size_t n = 64 * kMiB / size;
  chunk.resize(n * size);
  uint64_t state = 0x9e3779b97f4a7c15ull;
  for (size_t i = 0; i < n; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    double value = (static_cast<double>(state >> 11) * 0x1p-53) * 2.0 - 1.0;
    if (value == 0.0) value = 0.5;
    braid::kernels::StoreFromDouble(chunk.data(), i, type, value);
  }
  return chunk;
}

// Fills `bytes` of device memory with the random chunk, rotated by `seed` bytes' worth of
// elements so that different buffers hold different data.
bool FillRandom(void* dst, size_t bytes, DataType type, size_t seed) {
  const auto& chunk = RandomChunk(type);
  const size_t size = braid::DataTypeSize(type);
  const size_t rotate = (seed * 4099 * size) % chunk.size();
  for (size_t done = 0; done < bytes;) {
    size_t from = (done + rotate) % chunk.size();
    size_t n = std::min({bytes - done, chunk.size() - from});
    if (cudaMemcpy(static_cast<char*>(dst) + done, chunk.data() + from, n,
                   cudaMemcpyHostToDevice) != cudaSuccess) {
      return false;
    }
    done += n;
  }
  return true;
}

// Median seconds of `run` over `runs` launches, timed with events on the default stream.
template <typename Run>
double MedianSeconds(int runs, Run run) {
  braid::bench::EventTimer timer;
  std::vector<double> seconds;
  for (int i = 0; i < runs; ++i) seconds.push_back(timer.Seconds(run));
  std::sort(seconds.begin(), seconds.end());
  return seconds[seconds.size() / 2];
}

// Times each benchmark iteration's `launch` with events (manual time); returns the total seconds.
template <typename Launch>
double TimeIterations(benchmark::State& state, Launch&& launch) {
  braid::bench::EventTimer timer;
  double total_seconds = 0;
  for (auto _ : state) {
    const double seconds = timer.Seconds(launch);
    state.SetIterationTime(seconds);
    total_seconds += seconds;
  }
  return total_seconds;
}

// Device-to-device copy bandwidth for `bytes`, counting read + write; measured once per size.
double CopyGbps(size_t bytes) {
  static std::map<size_t, double> measured;
  if (auto it = measured.find(bytes); it != measured.end()) return it->second;
  DeviceMemory src(bytes), dst(bytes);
  if (!src.ptr || !dst.ptr || !FillRandom(src.ptr, bytes, DataType::kFloat32, 1)) return 0;
  auto copy = [&] { cudaMemcpyAsync(dst.ptr, src.ptr, bytes, cudaMemcpyDeviceToDevice); };
  for (int i = 0; i < kWarmups; ++i) copy();
  double seconds = MedianSeconds(kBaselineRuns, copy);
  double gbps = 2.0 * static_cast<double>(bytes) / seconds * 1e-9;
  measured[bytes] = gbps;
  return gbps;
}

void BM_CopyD2D(benchmark::State& state) {
  const size_t bytes = size_t(state.range(0)) * kMiB;
  DeviceMemory src(bytes), dst(bytes);
  if (!src.ptr || !dst.ptr || !FillRandom(src.ptr, bytes, DataType::kFloat32, 1)) {
    state.SkipWithError("allocation or upload failed");
    return;
  }
  auto copy = [&] { cudaMemcpyAsync(dst.ptr, src.ptr, bytes, cudaMemcpyDeviceToDevice); };
  for (int i = 0; i < kWarmups; ++i) copy();
  const double total_seconds = TimeIterations(state, copy);
  Check(cudaGetLastError(), "cudaMemcpyAsync", &state);
  state.counters["GB/s"] = 2.0 * static_cast<double>(bytes) *
                           static_cast<double>(state.iterations()) / total_seconds * 1e-9;
}

// Arguments: output MiB, number of sources.
template <DataType kType>
void BM_ReduceSum(benchmark::State& state) {
  const size_t out_bytes = size_t(state.range(0)) * kMiB;
  const int num_srcs = int(state.range(1));
  const size_t count = out_bytes / braid::DataTypeSize(kType);
  std::vector<std::unique_ptr<DeviceMemory>> srcs;
  std::vector<const void*> pointers;
  for (int k = 0; k < num_srcs; ++k) {
    srcs.emplace_back(new DeviceMemory(out_bytes));
    if (!srcs.back()->ptr || !FillRandom(srcs.back()->ptr, out_bytes, kType, k + 2)) {
      state.SkipWithError("allocation or upload failed");
      return;
    }
    pointers.push_back(srcs.back()->ptr);
  }
  DeviceMemory dst(out_bytes);
  if (!dst.ptr) {
    state.SkipWithError("allocation failed");
    return;
  }
  auto reduce = [&] {
    return braid::kernels::ReduceCuda(dst.ptr, pointers.data(), num_srcs, count, kType,
                                      RedOpKind::kSum, nullptr);
  };
  for (int i = 0; i < kWarmups; ++i) {
    braid::Status status = reduce();
    if (!status.ok()) {
      state.SkipWithError(status.ToString().c_str());
      return;
    }
  }
  if (!Check(cudaDeviceSynchronize(), "warm-up", &state)) return;

  const double total_seconds = TimeIterations(state, [&] { (void)reduce(); });
  if (!Check(cudaGetLastError(), "ReduceCuda", &state)) return;

  const double bytes_moved = static_cast<double>(num_srcs + 1) * static_cast<double>(out_bytes);
  const double gbps =
      bytes_moved * static_cast<double>(state.iterations()) / total_seconds * 1e-9;
  const double copy_gbps = CopyGbps(out_bytes);
  state.counters["GB/s"] = gbps;
  state.counters["copy_GB/s"] = copy_gbps;
  state.counters["ratio"] = copy_gbps > 0 ? gbps / copy_gbps : 0;
}

void ReduceArgs(benchmark::internal::Benchmark* b) {
  for (int64_t mib : {256, 1024}) {
    for (int64_t num_srcs : {2, 8}) b->Args({mib, num_srcs});
  }
  b->ArgNames({"out_MiB", "srcs"})->UseManualTime()->Unit(benchmark::kMicrosecond);
  b->Repetitions(5)->ReportAggregatesOnly(true);
}

BENCHMARK(BM_CopyD2D)
    ->Arg(256)
    ->Arg(1024)
    ->ArgName("out_MiB")
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond)
    ->Repetitions(5)
    ->ReportAggregatesOnly(true);
BENCHMARK_TEMPLATE(BM_ReduceSum, DataType::kBfloat16)->Apply(ReduceArgs);
BENCHMARK_TEMPLATE(BM_ReduceSum, DataType::kFloat32)->Apply(ReduceArgs);

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("gpu_reduce_bench: no CUDA device, nothing to measure\n");
    return 0;
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
