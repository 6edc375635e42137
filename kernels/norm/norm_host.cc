// CPU references for LayerNorm / RMSNorm (include/braid/kernels/norm.h). Written for clarity:
// each row is widened to fp32, statistics are summed in double, and rows are split into
// contiguous ranges over worker threads (kernels/common/host_workers.h), whose buffers are all
// made before any starts. Results do not depend on the worker count except
// for dgamma/dbeta, whose per-worker double partial sums are added in worker order (differences
// are far below fp32 resolution).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

#include <fmt/format.h>

#include "braid/kernels/norm.h"
#include "braid/kernels/reduce.h"
#include "kernels/common/host_workers.h"

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

int WorkerCount(int threads, int64_t rows, int64_t cols) {
  return static_cast<int>(std::min<int64_t>(HostWorkerCount(threads, rows * cols, kMinElementsPerWorker), rows));
}

// Row buffers of `count` x `cols` floats, one set per worker, made before any thread starts (a
// std::bad_alloc inside a worker thread would end the process).
struct RowScratch {
  std::vector<float> data;
  int64_t cols = 0, count = 0;
  float* Row(int worker, int which) { return data.data() + (int64_t(worker) * count + which) * cols; }
};

Status MakeScratch(const char* function, int workers, int64_t count, int64_t cols, RowScratch* scratch,
                   std::vector<double>* column_sums = nullptr) {
  scratch->cols = cols;
  scratch->count = count;
  try {
    scratch->data.resize(static_cast<size_t>(int64_t(workers) * count * cols));
    // Per-worker dgamma and dbeta sums (backward), combined in worker order at the end.
    if (column_sums) column_sums->resize(static_cast<size_t>(int64_t(workers) * 2 * cols));
  } catch (const std::bad_alloc&) {
    return Status::SystemError(fmt::format("{}: out of memory for its fp32 row buffers ({} rows of {} columns)",
                                           function, int64_t(workers) * count, cols));
  }
  return Status::Ok();
}

}  // namespace

Status NormForwardHost(const NormForwardArgs& a, int threads) {
  if (Status s = ValidateNormForward(a); !s.ok()) return s;
  if (Status s = CheckHostThreads("NormForwardHost", threads); !s.ok()) return s;
  const bool ln = a.kind == NormKind::kLayerNorm;
  const int64_t cols = a.cols;
  const int workers = WorkerCount(threads, a.rows, cols);
  // gamma, beta (worker-independent: rows 0 and 1 of the first set), then x and y per worker.
  RowScratch rows;
  if (Status s = MakeScratch("NormForwardHost", workers + 1, 2, cols, &rows); !s.ok()) return s;
  float* gamma = rows.Row(workers, 0);
  float* beta = rows.Row(workers, 1);
  ReadRow(a.gamma, 0, cols, a.type, gamma);
  if (ln) ReadRow(a.beta, 0, cols, a.type, beta);

  ForEachWorkerRange(a.rows, workers, 1, [&](int w, int64_t begin, int64_t end) {
    float* x = rows.Row(w, 0);
    float* y = rows.Row(w, 1);
    for (int64_t r = begin; r < end; ++r) {
      ReadRow(a.x, r * cols, cols, a.type, x);
      float mean = 0.0f, rstd;
      if (ln) {
        double sum = 0.0;
        for (int64_t j = 0; j < cols; ++j) sum += x[j];
        const double mean_d = sum / static_cast<double>(cols);
        double sq = 0.0;
        for (int64_t j = 0; j < cols; ++j) sq += (x[j] - mean_d) * (x[j] - mean_d);
        mean = static_cast<float>(mean_d);
        rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(cols) + a.eps));
      } else {
        double sq = 0.0;
        for (int64_t j = 0; j < cols; ++j) sq += static_cast<double>(x[j]) * x[j];
        rstd = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(cols) + a.eps));
      }
      for (int64_t j = 0; j < cols; ++j) y[j] = (x[j] - mean) * rstd * gamma[j] + (ln ? beta[j] : 0.0f);
      WriteRow(a.y, r * cols, cols, a.type, y);
      if (a.mean != nullptr) a.mean[r] = mean;
      if (a.rstd != nullptr) a.rstd[r] = rstd;
    }
  });
  return Status::Ok();
}

Status NormBackwardHost(const NormBackwardArgs& a, int threads) {
  if (Status s = ValidateNormBackward(a); !s.ok()) return s;
  if (Status s = CheckHostThreads("NormBackwardHost", threads); !s.ok()) return s;
  const bool ln = a.kind == NormKind::kLayerNorm;
  const int64_t cols = a.cols;
  const int workers = WorkerCount(threads, a.rows, cols);
  // Five rows per worker (x, dy, xhat, g, dx) and gamma (row 0 of one more set); per-worker
  // column sums, combined in worker order below.
  RowScratch rows;
  std::vector<double> sums;
  if (Status s = MakeScratch("NormBackwardHost", workers + 1, 5, cols, &rows, &sums); !s.ok()) return s;
  float* gamma = rows.Row(workers, 0);
  ReadRow(a.gamma, 0, cols, a.type, gamma);
  auto dgamma_of = [&](int w) { return sums.data() + int64_t(w) * 2 * cols; };
  auto dbeta_of = [&](int w) { return sums.data() + (int64_t(w) * 2 + 1) * cols; };

  ForEachWorkerRange(a.rows, workers, 1, [&](int w, int64_t begin, int64_t end) {
    float *x = rows.Row(w, 0), *dy = rows.Row(w, 1), *xhat = rows.Row(w, 2), *g = rows.Row(w, 3), *dx = rows.Row(w, 4);
    double* dg = dgamma_of(w);
    double* db = dbeta_of(w);
    for (int64_t r = begin; r < end; ++r) {
      // Read both rows before writing dx: dx may be dy (in place).
      ReadRow(a.x, r * cols, cols, a.type, x);
      ReadRow(a.dy, r * cols, cols, a.type, dy);
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
      WriteRow(a.dx, r * cols, cols, a.type, dx);
    }
  });

  for (int64_t j = 0; j < cols; ++j) {
    double sg = 0.0, sb = 0.0;
    for (int w = 0; w < workers; ++w) {
      sg += dgamma_of(w)[j];
      sb += dbeta_of(w)[j];
    }
    a.dgamma[j] = static_cast<float>(sg);
    if (ln) a.dbeta[j] = static_cast<float>(sb);
  }
  return Status::Ok();
}

}  // namespace braid::kernels
