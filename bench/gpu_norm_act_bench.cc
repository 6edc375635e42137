// GPU benchmark: LayerNorm / RMSNorm (forward, backward) and GeLU (forward, backward) against a
// device-to-device cudaMemcpy of the same number of bytes, timed in the same process.
//
// Hygiene: random normal data (never zeros); every activation buffer is 256 MiB (5x the H100's
// 50 MB L2, so each run streams from HBM and no rotation is needed); 3 warm-up runs; each
// iteration timed with CUDA events on our stream (manual time). Counters:
//   GB/s       algorithmic bytes read + written (x, y, dy, dx, gamma, beta, statistics, dgamma,
//              dbeta; not the backward's workspace partials, which are overhead) / median time
//   copy_GB/s  cudaMemcpyAsync D2D moving the same bytes (half read, half written) / median time
//   ratio      GB/s / copy_GB/s (target >= 0.85)
// Without a CUDA device it prints a message and exits with status 0.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/act.h"
#include "braid/kernels/norm.h"
#include "braid/kernels/reduce.h"
#include "bench/cuda_event_timer.h"

namespace {

using braid::DataType;
using namespace braid::kernels;

constexpr size_t kActivationBytes = size_t{256} << 20;

#define CHECK_CUDA(expr)                                                                         \
  do {                                                                                           \
    cudaError_t e_ = (expr);                                                                     \
    if (e_ != cudaSuccess) {                                                                     \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #expr, cudaGetErrorString(e_)); \
      std::exit(1);                                                                              \
    }                                                                                            \
  } while (0)

#define CHECK_OK(expr)                                                \
  do {                                                                \
    braid::Status s_ = (expr);                                        \
    if (!s_.ok()) {                                                   \
      std::fprintf(stderr, "%s: %s\n", #expr, s_.ToString().c_str()); \
      std::exit(1);                                                   \
    }                                                                 \
  } while (0)

class Device {  // owns cudaMalloc'ed memory
 public:
  explicit Device(size_t bytes) { CHECK_CUDA(cudaMalloc(&ptr_, std::max<size_t>(bytes, 1))); }
  ~Device() { cudaFree(ptr_); }
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;
  void* get() const { return ptr_; }
  float* f() const { return static_cast<float*>(ptr_); }

 private:
  void* ptr_ = nullptr;
};

// Fills `count` elements with normal(mean, 1) values: a random 4 Mi-element block, repeated.
void FillRandom(void* dst, size_t count, DataType type, double mean, uint64_t seed) {
  const size_t es = DataTypeSize(type);
  const size_t block = std::min<size_t>(count, size_t{1} << 22);
  std::vector<uint8_t> host(block * es);
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(mean, 1.0);
  for (size_t i = 0; i < block; ++i) StoreFromDouble(host.data(), i, type, normal(rng));
  auto* d = static_cast<uint8_t*>(dst);
  for (size_t done = 0; done < count; done += block) {
    const size_t n = std::min(block, count - done);
    CHECK_CUDA(cudaMemcpy(d + done * es, host.data(), n * es, cudaMemcpyHostToDevice));
  }
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Times `op` per iteration with events, then a D2D copy of the same bytes; sets the counters.
void Measure(benchmark::State& state, double bytes, const std::function<void(cudaStream_t)>& op) {
  cudaStream_t stream;
  CHECK_CUDA(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  braid::bench::EventTimer timer(stream);
  auto time_once = [&](const std::function<void(cudaStream_t)>& f) {
    return timer.Seconds([&] { f(stream); });
  };
  for (int i = 0; i < 3; ++i) op(stream);
  std::vector<double> ours;
  for (auto _ : state) {
    const double s = time_once(op);
    state.SetIterationTime(s);
    ours.push_back(s);
  }
  const size_t half = static_cast<size_t>(bytes / 2);
  Device src(half), dst(half);
  CHECK_CUDA(cudaMemset(src.get(), 0x3c, half));
  auto copy = [&](cudaStream_t s) {
    CHECK_CUDA(cudaMemcpyAsync(dst.get(), src.get(), half, cudaMemcpyDeviceToDevice, s));
  };
  for (int i = 0; i < 3; ++i) copy(stream);
  std::vector<double> copies;
  for (size_t i = 0; i < std::max<size_t>(ours.size(), 20); ++i) copies.push_back(time_once(copy));
  const double ours_gbs = bytes / Median(ours) / 1e9, copy_gbs = bytes / Median(copies) / 1e9;
  state.counters["GB/s"] = ours_gbs;
  state.counters["copy_GB/s"] = copy_gbs;
  state.counters["ratio"] = ours_gbs / copy_gbs;
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  cudaStreamDestroy(stream);
}

void BenchNorm(benchmark::State& state, NormKind kind, DataType type, int64_t cols, bool backward) {
  const bool ln = kind == NormKind::kLayerNorm;
  const size_t es = DataTypeSize(type);
  const int64_t rows = static_cast<int64_t>(kActivationBytes / es) / cols;
  const size_t n = static_cast<size_t>(rows * cols);
  Device x(n * es), y(n * es), dy(n * es), gamma(cols * es), beta(cols * es), mean(rows * 4),
      rstd(rows * 4), dgamma(cols * 4), dbeta(cols * 4);
  FillRandom(x.get(), n, type, 0.5, 1);
  FillRandom(dy.get(), n, type, 0.0, 2);
  FillRandom(gamma.get(), cols, type, 1.0, 3);
  FillRandom(beta.get(), cols, type, 0.0, 4);
  NormForwardArgs f{kind,        rows,
                    cols,        type,
                    1e-5f,       x.get(),
                    gamma.get(), ln ? beta.get() : nullptr,
                    y.get(),     ln ? mean.f() : nullptr,
                    rstd.f()};
  CHECK_OK(NormForwardCuda(f, nullptr));  // statistics for the backward
  CHECK_CUDA(cudaDeviceSynchronize());
  const double stats = static_cast<double>(rows) * 4 * (ln ? 2 : 1);
  const double gamma_bytes = static_cast<double>(cols) * es;
  const double params = gamma_bytes * (ln ? 2 : 1);  // gamma (and beta)
  if (!backward) {
    Measure(state, 2.0 * n * es + params + stats,
            [&](cudaStream_t s) { CHECK_OK(NormForwardCuda(f, s)); });
    return;
  }
  const size_t ws_bytes = NormBackwardCudaWorkspaceBytes(rows, cols);
  Device ws(ws_bytes);
  // dx overwrites y (no longer needed).
  NormBackwardArgs b{kind,     rows,    cols,        type,
                     dy.get(), x.get(), gamma.get(), ln ? mean.f() : nullptr,
                     rstd.f(), y.get(), dgamma.f(),  ln ? dbeta.f() : nullptr};
  state.counters["workspace_MiB"] = static_cast<double>(ws_bytes) / (1 << 20);
  Measure(state, 3.0 * n * es + gamma_bytes + stats + cols * 4.0 * (ln ? 2 : 1),
          [&](cudaStream_t s) { CHECK_OK(NormBackwardCuda(b, ws.get(), ws_bytes, s)); });
}

void BenchGelu(benchmark::State& state, DataType type, bool backward) {
  const size_t es = DataTypeSize(type);
  const int64_t n = static_cast<int64_t>(kActivationBytes / es);
  Device x(n * es), dy(n * es), out(n * es);
  FillRandom(x.get(), n, type, 0.0, 5);
  FillRandom(dy.get(), n, type, 0.0, 6);
  if (backward) {
    Measure(state, 3.0 * n * es, [&](cudaStream_t s) {
      CHECK_OK(GeluBackwardCuda(dy.get(), x.get(), out.get(), n, type, s));
    });
  } else {
    Measure(state, 2.0 * n * es,
            [&](cudaStream_t s) { CHECK_OK(GeluForwardCuda(x.get(), out.get(), n, type, s)); });
  }
}

void RegisterAll() {
  auto add = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->MinTime(0.5);
  };
  for (DataType t : {DataType::kBfloat16, DataType::kFloat32}) {
    const std::string tn = DataTypeName(t);
    for (int64_t cols : {1024, 4096, 12288}) {
      for (NormKind k : {NormKind::kLayerNorm, NormKind::kRmsNorm}) {
        const std::string kn = k == NormKind::kLayerNorm ? "LayerNorm" : "RMSNorm";
        const std::string suffix = "/" + tn + "/cols:" + std::to_string(cols);
        add(kn + "Forward" + suffix, [=](benchmark::State& s) { BenchNorm(s, k, t, cols, false); });
        add(kn + "Backward" + suffix, [=](benchmark::State& s) { BenchNorm(s, k, t, cols, true); });
      }
    }
    add("GeluForward/" + tn, [=](benchmark::State& s) { BenchGelu(s, t, false); });
    add("GeluBackward/" + tn, [=](benchmark::State& s) { BenchGelu(s, t, true); });
  }
}

}  // namespace

int main(int argc, char** argv) {
  int devices = 0;
  const cudaError_t err = cudaGetDeviceCount(&devices);
  if (err != cudaSuccess || devices == 0) {
    std::printf("gpu_norm_act_bench: no CUDA device (%s); nothing to benchmark\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "0 devices");
    return 0;
  }
  RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
