// The physical limits a host collective runs against on this machine: memcpy bandwidth (what a
// single-copy transfer between processes can reach) and braid's CPU reduction throughput.
//   build/bin/host_memory_bench --benchmark_counters_tabular=true
// Bytes counted per iteration are bytes written to the destination (GB/s = 1e9 bytes/s).
#include <benchmark/benchmark.h>

#include <cstring>
#include <random>
#include <vector>

#include "braid/kernels/reduce.h"

namespace {

std::vector<float> RandomFloats(size_t n, unsigned seed) {
  std::vector<float> v(n);
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist;
  for (float& x : v) x = dist(gen);
  return v;
}

void BM_Memcpy(benchmark::State& state) {
  size_t bytes = size_t(state.range(0));
  std::vector<char> src(bytes, 1), dst(bytes, 2);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(bytes));
}
BENCHMARK(BM_Memcpy)->RangeMultiplier(8)->Range(64 << 10, 256 << 20)->UseRealTime();

void BM_ReduceFloatSum(benchmark::State& state) {
  size_t n = size_t(state.range(0)) / sizeof(float);
  std::vector<float> a = RandomFloats(n, 1), b = RandomFloats(n, 2), dst(n);
  for (auto _ : state) {
    braid::kernels::ReduceHost(dst.data(), a.data(), b.data(), n, braid::DataType::kFloat32,
                               braid::RedOpKind::kSum);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n * sizeof(float)));
}
BENCHMARK(BM_ReduceFloatSum)->RangeMultiplier(8)->Range(64 << 10, 256 << 20)->UseRealTime();

void BM_ReduceBf16Sum(benchmark::State& state) {
  size_t n = size_t(state.range(0)) / 2;
  std::vector<uint16_t> a(n), b(n), dst(n);
  std::vector<float> src = RandomFloats(n, 3);
  for (size_t i = 0; i < n; ++i) a[i] = b[i] = braid::kernels::FloatToBfloat16(src[i]);
  for (auto _ : state) {
    braid::kernels::ReduceHost(dst.data(), a.data(), b.data(), n, braid::DataType::kBfloat16,
                               braid::RedOpKind::kSum);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n * 2));
}
BENCHMARK(BM_ReduceBf16Sum)->RangeMultiplier(8)->Range(64 << 10, 64 << 20)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
