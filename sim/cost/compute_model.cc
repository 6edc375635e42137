#include "sim/cost/compute_model.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <tuple>

#include <fmt/format.h>

#include "sim/common/input_error.h"
#include "sim/common/json_fields.h"

namespace braid::sim {
namespace {

// Output tiles a tensor-core GEMM library chooses between, with the throughput of each relative
// to the largest (smaller tiles reuse operands less: more shared-memory traffic per FLOP).
struct Tile {
  double m, n, relative;
};
constexpr Tile kTiles[] = {{128, 256, 1.0}, {256, 128, 1.0}, {128, 128, 0.92}, {64, 128, 0.80},
                           {64, 64, 0.62}};

// A tile's K loop pays a prologue/epilogue of about two 64-deep pipeline stages.
constexpr double kKOverhead = 128;
// Fused attention reaches its efficiency only for long sequences: causal kernels on H100 run at
// 53% / 69% / 88% of their 16k-token throughput at 1k / 2k / 4k tokens (h100_baselines.md),
// which s / (s + 768) follows within a few percent.
constexpr double kAttentionRampTokens = 768;

}  // namespace

ComputeModel::ComputeModel(const GpuSpec& gpu, std::vector<GemmCalibrationPoint> calibration)
    : gpu_(gpu), calibration_(std::move(calibration)) {}

double ComputeModel::GemmShapeEfficiency(double m, double n, double k, double batch) const {
  double best = 0;
  for (const Tile& t : kTiles) {
    const double tiles_m = std::ceil(m / t.m), tiles_n = std::ceil(n / t.n);
    const double tiles = tiles_m * tiles_n * batch;
    const double waves = std::ceil(tiles / gpu_.sms);
    const double wave_eff = tiles / (waves * gpu_.sms);
    const double pad_eff = (m * n) / (tiles_m * t.m * tiles_n * t.n);
    const double k_eff = k / (k + kKOverhead);
    best = std::max(best, t.relative * wave_eff * pad_eff * k_eff);
  }
  return best;
}

double ComputeModel::GemmEfficiency(const Kernel& g) const {
  const double shape = GemmShapeEfficiency(g.m, g.n, g.k, g.batch);
  if (calibration_.empty()) return gpu_.gemm_efficiency * shape;
  // Nearest measured shape in log space; its measured efficiency, moved to this shape by the
  // ratio of the shape model's predictions.
  const GemmCalibrationPoint* nearest = nullptr;
  double best = 1e300;
  for (const GemmCalibrationPoint& p : calibration_) {
    double d = std::pow(std::log(p.m / g.m), 2) + std::pow(std::log(p.n / g.n), 2) +
               std::pow(std::log(p.k / g.k), 2);
    if (d < best) {
      best = d;
      nearest = &p;
    }
  }
  const double measured = nearest->tflops / gpu_.peak_tflops;
  const double model_there = GemmShapeEfficiency(nearest->m, nearest->n, nearest->k, 1);
  return std::min(1.0, measured * shape / model_there);
}

double ComputeModel::Seconds(const Kernel& kernel) const {
  const double overhead = gpu_.kernel_overhead_us * 1e-6;
  const double peak = gpu_.peak_tflops * 1e12;
  const double mem = gpu_.hbm_GBps * 1e9 * gpu_.memory_efficiency;
  switch (kernel.kind) {
    case KernelKind::kGemm: {
      const double flops = 2 * kernel.m * kernel.n * kernel.k * kernel.batch;
      return std::max(flops / (peak * GemmEfficiency(kernel)), kernel.bytes / mem) + overhead;
    }
    case KernelKind::kAttention: {
      const double eff =
          gpu_.attention_efficiency * kernel.seq / (kernel.seq + kAttentionRampTokens);
      return std::max(kernel.flops / (peak * eff), kernel.bytes / mem) + overhead;
    }
    case KernelKind::kMemory:
      return kernel.bytes / mem + overhead;
  }
  return overhead;
}

Kernel Gemm(std::string name, double m, double n, double k, double batch, int bytes_per_value) {
  Kernel g;
  g.name = std::move(name);
  g.kind = KernelKind::kGemm;
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = batch;
  g.bytes = bytes_per_value * batch * (m * k + k * n + m * n);
  g.counted_flops = 2 * m * n * k * batch;
  return g;
}

Kernel MemoryOp(std::string name, double bytes, double backward_factor) {
  Kernel k;
  k.name = std::move(name);
  k.kind = KernelKind::kMemory;
  k.bytes = bytes;
  k.backward_factor = backward_factor;
  return k;
}

std::vector<GemmCalibrationPoint> LoadGemmCalibration(const std::string& path, const GpuSpec& gpu) {
  nlohmann::json doc = ReadJsonFile(path);
  JsonFields top(doc, path);
  // What bench/gpu_gemm_bench --calibration_out writes; anything else is a mistake to name.
  top.RejectUnknown({"gemm", "device", "sms", "date"});
  if (!doc.contains("gemm") || !doc["gemm"].is_array() || doc["gemm"].empty()) {
    throw InputError(path + ": field \"gemm\" must be a non-empty array of {m, n, k, tflops}");
  }
  const nlohmann::json& list = doc["gemm"];
  const ComputeModel shape_model(gpu, {});
  std::vector<GemmCalibrationPoint> points;
  // A file may measure one shape in several layouts or input types ("layout", "input", as
  // gpu_gemm_bench writes them): the shape model has no term for either, so such points become
  // one, at their mean. The same shape, layout and input twice is a mistake.
  struct Merged {
    size_t point;  // index in `points`
    int count;
  };
  std::map<std::tuple<double, double, double>, Merged> by_shape;
  std::map<std::tuple<double, double, double, std::string, std::string>, size_t> seen;  // -> index in "gemm"
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string where = path + ": gemm[" + std::to_string(i) + "]";
    JsonFields f(list[i], where);
    f.RejectUnknown({"m", "n", "k", "tflops", "layout", "input", "tflops_ours", "tflops_cublas"});
    double dims[3];
    const char* names[3] = {"m", "n", "k"};
    for (int d = 0; d < 3; ++d) {
      dims[d] = f.Number(names[d], 1, 1e9);
      if (dims[d] != std::floor(dims[d])) {
        throw InputError(fmt::format("{}: field \"{}\" = {} is not a whole number of rows or columns", where,
                                     names[d], dims[d]));
      }
    }
    const double tflops = f.Number("tflops", 1e-6, gpu.peak_tflops);  // above peak: not a measurement
    // The shape model moves a point's efficiency to other shapes by the ratio of its predictions;
    // a point faster than the model allows at full efficiency there (a 1 x 1 x 1 "measurement"
    // of 1 TFLOP/s) would make every GEMM run at peak. Such a point is not a measurement.
    const double ceiling = gpu.peak_tflops * shape_model.GemmShapeEfficiency(dims[0], dims[1], dims[2], 1);
    if (tflops > ceiling) {
      throw InputError(fmt::format("{}: {:g} TFLOP/s at {:g} x {:g} x {:g} is more than {:.4g} TFLOP/s, what the "
                                   "shape model allows there at full efficiency (tile waves, padding, k)",
                                   where, tflops, dims[0], dims[1], dims[2], ceiling));
    }
    const std::string layout = f.Has("layout") ? f.String("layout") : "";
    const std::string input = f.Has("input") ? f.String("input") : "";
    const auto [earlier, fresh] = seen.emplace(std::make_tuple(dims[0], dims[1], dims[2], layout, input), i);
    if (!fresh) {
      throw InputError(fmt::format("{}: shape {:g} x {:g} x {:g}{} is measured again ({:g} TFLOP/s; gemm[{}] has it "
                                   "too); keep one point per shape (e.g. the median of the runs)",
                                   where, dims[0], dims[1], dims[2],
                                   layout.empty() && input.empty() ? "" : fmt::format(" ({} {})", input, layout),
                                   tflops, earlier->second));
    }
    const auto [merged, first] = by_shape.emplace(std::make_tuple(dims[0], dims[1], dims[2]), Merged{points.size(), 0});
    if (first) points.push_back({dims[0], dims[1], dims[2], 0});
    Merged& m = merged->second;
    points[m.point].tflops += (tflops - points[m.point].tflops) / ++m.count;  // running mean
  }
  return points;
}

}  // namespace braid::sim
