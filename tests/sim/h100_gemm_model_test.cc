// plan-sim's default GEMM model for the H100 (GpuSpec::gemm_efficiency times the tile, wave and
// K-loop shape model, plus the per-kernel overhead) against cuBLAS as measured on the lent H100:
// docs/measurements/2026-11-24-h100-gemm_calibration.json, written by bench/gpu_gemm_bench
// (tools/gpu_check, 34 shapes: the suite, bf16 and fp16, forward / data-gradient /
// weight-gradient layouts; cuBLAS's median of 31 timed runs). The model's constants came from
// ../shared/data/h100_baselines.md (two square shapes) before this file existed, so most of
// these shapes are held out. On 2026-11-24: model / cuBLAS 0.87 to 1.05, geometric mean 0.96
// (the model is 4% pessimistic overall; its worst shape, 4224^3 at 0.87, is the 128 x 256
// tile's wave quantisation, which cuBLAS avoids with other tiles or a stream-K split).
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "sim/cluster/cluster.h"
#include "sim/cost/compute_model.h"

namespace braid::sim {
namespace {

TEST(H100GemmModel, TracksMeasuredCublasOnTheBenchmarkSuite) {
  const std::string path = std::string(BRAID_MEASUREMENTS_DIR) + "/2026-11-24-h100-gemm_calibration.json";
  std::ifstream file(path);
  ASSERT_TRUE(file) << "cannot open " << path;
  const nlohmann::json measured = nlohmann::json::parse(file);
  ASSERT_EQ(measured.at("device"), "NVIDIA H100 80GB HBM3");

  const ClusterSpec cluster = LoadCluster("dgx-h100");
  const ComputeModel model(cluster.gpu);
  double log_sum = 0;
  int shapes = 0;
  for (const auto& row : measured.at("gemm")) {
    const double m = row.at("m"), n = row.at("n"), k = row.at("k");
    const double cublas = row.at("tflops_cublas");
    const double seconds = model.Seconds(Gemm("gemm", m, n, k, 1, 2));
    const double predicted = 2 * m * n * k / seconds / 1e12;
    const double ratio = predicted / cublas;
    SCOPED_TRACE(std::string(row.at("input")) + " " + std::string(row.at("layout")) + " " +
                 std::to_string(int(m)) + "x" + std::to_string(int(n)) + "x" + std::to_string(int(k)) +
                 ": model " + std::to_string(predicted) + " TFLOP/s, cuBLAS " + std::to_string(cublas));
    // Each shape within 15%: the shape model has five tile sizes and no layout or dtype term,
    // and the measured spread between bf16 and fp16 on one shape is already 3-4%.
    EXPECT_GT(ratio, 0.85);
    EXPECT_LT(ratio, 1.15);
    log_sum += std::log(ratio);
    ++shapes;
  }
  EXPECT_EQ(shapes, 34);
  // No overall bias beyond 7%: plan-sim's default compute time is this GPU's.
  EXPECT_NEAR(std::exp(log_sum / shapes), 1.0, 0.07);
}

}  // namespace
}  // namespace braid::sim
