#include "calibrate_local.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <vector>

#include "braid/kernels/reduce.h"

namespace braid::perf {
namespace {

constexpr size_t kArrayBytes = size_t(64) << 20;
constexpr size_t kSliceBytes = size_t(256) << 10;  // the host runtime's largest slice
constexpr int kRepetitions = 5;
constexpr int kMatmulN = 256;

using Clock = std::chrono::steady_clock;

template <typename F>
double MedianSeconds(F&& body) {
  std::vector<double> times;
  for (int r = 0; r < kRepetitions; ++r) {
    Clock::time_point start = Clock::now();
    body();
    times.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

LocalRates MeasureLocalRates() {
  const size_t floats = kArrayBytes / sizeof(float), slice = kSliceBytes / sizeof(float);
  std::vector<float> a(floats, 1.0f), b(floats, 2.0f), out(floats, 0.0f);
  LocalRates rates;
  double reduce_s = MedianSeconds([&] {
    for (size_t at = 0; at < floats; at += slice)
      kernels::ReduceHost(&out[at], &a[at], &b[at], std::min(slice, floats - at), DataType::kFloat32,
                          RedOpKind::kSum);
  });
  rates.reduce_GBps = double(kArrayBytes) / reduce_s / 1e9;
  double copy_s = MedianSeconds([&] {
    for (size_t at = 0; at < floats; at += slice)
      std::memcpy(&out[at], &a[at], std::min(slice, floats - at) * sizeof(float));
  });
  rates.copy_GBps = double(kArrayBytes) / copy_s / 1e9;

  // C += A B with the k loop outside j so the inner loop vectorises.
  const int n = kMatmulN;
  std::vector<float> ma(size_t(n) * n, 0.5f), mb(size_t(n) * n, 0.25f), mc(size_t(n) * n, 0.0f);
  double matmul_s = MedianSeconds([&] {
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < n; ++k) {
        const float aik = ma[size_t(i) * n + k];
        for (int j = 0; j < n; ++j) mc[size_t(i) * n + j] += aik * mb[size_t(k) * n + j];
      }
  });
  rates.matmul_tflops = 2.0 * n * n * n / matmul_s / 1e12;
  // Read the results so that no store above is dead code to the optimiser.
  volatile float sink = out[floats / 2] + mc[size_t(n) * n / 2];
  (void)sink;
  return rates;
}

}  // namespace braid::perf
