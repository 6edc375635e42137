// CPU references for LayerNorm / RMSNorm (include/braid/kernels/norm.h). Written for clarity:
// each row is widened to fp32, statistics are summed in double, and rows are split into
// contiguous ranges over std::thread workers. Results do not depend on the worker count except
// for dgamma/dbeta, whose per-worker double partial sums are added in worker order (differences
// are far below fp32 resolution).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <thread>
#include <vector>

#include "braid/kernels/norm.h"
#include "braid/kernels/reduce.h"

namespace braid::kernels {

namespace {

// Below this many elements per worker, another thread costs more than it saves.
constexpr int64_t kMinElementsPerWorker = 1 << 16;

void ReadRow(const void* base, int64_t offset, int64_t n, DataType type, float* out) {
  if (type == DataType::kFloat32) {
    std::memcpy(out, static_cast<const float*>(base) + offset, static_cast<size_t>(n) * 4);
    return;
  }
  const uint16_t* p = static_cast<const uint16_t*>(base) + offset;
  if (type == DataType::kBfloat16) {
    for (int64_t i = 0; i < n; ++i) out[i] = Bfloat16ToFloat(p[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = HalfToFloat(p[i]);
  }
}

void WriteRow(void* base, int64_t offset, int64_t n, DataType type, const float* in) {
  if (type == DataType::kFloat32) {
    std::memcpy(static_cast<float*>(base) + offset, in, static_cast<size_t>(n) * 4);
    return;
  }
  uint16_t* p = static_cast<uint16_t*>(base) + offset;
  if (type == DataType::kBfloat16) {
    for (int64_t i = 0; i < n; ++i) p[i] = FloatToBfloat16(in[i]);
  } else {
    for (int64_t i = 0; i < n; ++i) p[i] = FloatToHalf(in[i]);
  }
}

int WorkerCount(int requested, int64_t rows, int64_t cols) {
  int64_t n = requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  n = std::min(n, std::max<int64_t>(1, rows * cols / kMinElementsPerWorker));
  return static_cast<int>(std::min(n, rows));
}

// Runs fn(worker, row_begin, row_end) on `workers` threads over contiguous row ranges.
template <typename Fn>
void ParallelRows(int64_t rows, int workers, Fn fn) {
  if (workers <= 1) {
    fn(0, int64_t{0}, rows);
    return;
  }
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(workers));
  for (int w = 0; w < workers; ++w) {
    const int64_t begin = rows * w / workers, end = rows * (w + 1) / workers;
    pool.emplace_back([&fn, w, begin, end] { fn(w, begin, end); });
  }
  for (auto& t : pool) t.join();
}

}  // namespace

Status NormForwardHost(const NormForwardArgs& a, int threads) {
  if (Status s = ValidateNormForward(a); !s.ok()) return s;
  const bool ln = a.kind == NormKind::kLayerNorm;
  const int64_t cols = a.cols;
  std::vector<float> gamma(static_cast<size_t>(cols)), beta(static_cast<size_t>(cols), 0.0f);
  ReadRow(a.gamma, 0, cols, a.type, gamma.data());
  if (ln) ReadRow(a.beta, 0, cols, a.type, beta.data());

  ParallelRows(a.rows, WorkerCount(threads, a.rows, cols), [&](int, int64_t begin, int64_t end) {
    std::vector<float> x(static_cast<size_t>(cols)), y(static_cast<size_t>(cols));
    for (int64_t r = begin; r < end; ++r) {
      ReadRow(a.x, r * cols, cols, a.type, x.data());
      float mean = 0.0f, rstd;
      if (ln) {
        double sum = 0.0;
        for (float v : x) sum += v;
        const double mean_d = sum / static_cast<double>(cols);
        double sq = 0.0;
        for (float v : x) sq += (v - mean_d) * (v - mean_d);
        mean = static_cast<float>(mean_d);
        rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(cols) + a.eps));
      } else {
        double sq = 0.0;
        for (float v : x) sq += static_cast<double>(v) * v;
        rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(cols) + a.eps));
      }
      for (int64_t j = 0; j < cols; ++j) y[j] = (x[j] - mean) * rstd * gamma[j] + beta[j];
      WriteRow(a.y, r * cols, cols, a.type, y.data());
      if (a.mean != nullptr) a.mean[r] = mean;
      if (a.rstd != nullptr) a.rstd[r] = rstd;
    }
  });
  return Status::Ok();
}

Status NormBackwardHost(const NormBackwardArgs& a, int threads) {
  if (Status s = ValidateNormBackward(a); !s.ok()) return s;
  const bool ln = a.kind == NormKind::kLayerNorm;
  const int64_t cols = a.cols;
  const size_t ucols = static_cast<size_t>(cols);
  std::vector<float> gamma(ucols);
  ReadRow(a.gamma, 0, cols, a.type, gamma.data());

  const int workers = WorkerCount(threads, a.rows, cols);
  // Per-worker column sums, combined in worker order below.
  std::vector<std::vector<double>> dgamma(static_cast<size_t>(workers), std::vector<double>(ucols));
  std::vector<std::vector<double>> dbeta(static_cast<size_t>(workers), std::vector<double>(ucols));

  ParallelRows(a.rows, workers, [&](int w, int64_t begin, int64_t end) {
    std::vector<float> x(ucols), dy(ucols), xhat(ucols), g(ucols), dx(ucols);
    double* dg = dgamma[static_cast<size_t>(w)].data();
    double* db = dbeta[static_cast<size_t>(w)].data();
    for (int64_t r = begin; r < end; ++r) {
      // Read both rows before writing dx: dx may alias dy or x.
      ReadRow(a.x, r * cols, cols, a.type, x.data());
      ReadRow(a.dy, r * cols, cols, a.type, dy.data());
      const float mean = ln ? a.mean[r] : 0.0f;
      const float rstd = a.rstd[r];
      double sum_g = 0.0, sum_gx = 0.0;
      for (int64_t j = 0; j < cols; ++j) {
        xhat[j] = (x[j] - mean) * rstd;
        g[j] = dy[j] * gamma[j];
        sum_g += g[j];
        sum_gx += static_cast<double>(g[j]) * xhat[j];
      }
      const float mean_g = ln ? static_cast<float>(sum_g / static_cast<double>(cols)) : 0.0f;
      const float mean_gx = static_cast<float>(sum_gx / static_cast<double>(cols));
      for (int64_t j = 0; j < cols; ++j) {
        dx[j] = rstd * (g[j] - mean_g - xhat[j] * mean_gx);
        dg[j] += static_cast<double>(dy[j]) * xhat[j];
        db[j] += dy[j];
      }
      WriteRow(a.dx, r * cols, cols, a.type, dx.data());
    }
  });

  for (size_t j = 0; j < ucols; ++j) {
    double sg = 0.0, sb = 0.0;
    for (int w = 0; w < workers; ++w) {
      sg += dgamma[static_cast<size_t>(w)][j];
      sb += dbeta[static_cast<size_t>(w)][j];
    }
    a.dgamma[j] = static_cast<float>(sg);
    if (ln) a.dbeta[j] = static_cast<float>(sb);
  }
  return Status::Ok();
}

}  // namespace braid::kernels
