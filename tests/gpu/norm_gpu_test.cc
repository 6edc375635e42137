// LayerNorm / RMSNorm CUDA kernels against the CPU references (include/braid/kernels/norm.h).
//
// Inputs are fresh random normal values per test (the seed is printed on failure); outputs are
// poisoned (0xff bytes: NaN in every type) and surrounded by 0xff guard bytes, so an element the
// kernel skipped fails the comparison and a write out of bounds changes a guard.
//
// Tolerances (GPU vs CPU reference on identical inputs). Both compute in fp32, but the GPU sums
// rows in fp32 (per thread, then a tree) where the CPU sums in double: the fp32 sums carry a
// relative error of at most ~(32 + log2(threads)) * 2^-24 ~ 3e-6 of the summed magnitudes. So
// outputs get 1e-5 * scale (scale: the magnitudes of the terms combined, as in the unit test),
// plus 1 ulp of the output type (1 ulp of bf16 is 2^-7 relative), and the fp32 statistics 1e-5
// relative to the row's scale; dgamma/dbeta 1e-5 of the summed magnitudes.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/norm.h"
#include "braid/kernels/reduce.h"
#include "gpu_test_support.h"
#include "tests/common/typed_array.h"
#include "tests/gpu/guarded_device_array.h"

namespace braid::kernels {
namespace {

using testing::DeviceBuffer;
using testing::Array;
using testing::DeviceArray;
using testing::Random;
using testing::Ulp;

constexpr DataType kTypes[] = {DataType::kBfloat16, DataType::kFloat16, DataType::kFloat32};
constexpr NormKind kKinds[] = {NormKind::kLayerNorm, NormKind::kRmsNorm};
constexpr double kRel = 1e-5;

struct Shape {
  int64_t rows, cols;
};

// One problem: random inputs, the CPU reference's outputs, and the GPU's.
struct Problem {
  NormKind kind;
  DataType type;
  int64_t rows, cols;
  Array x, gamma, beta, dy;                      // inputs
  Array y, mean, rstd, dx, dgamma, dbeta;        // CPU reference (backward from its own statistics)
  Array gy, gmean, grstd, gdx, gdgamma, gdbeta;  // GPU
  Problem(NormKind k, DataType t, Shape s, std::mt19937_64& rng, double x_mean)
      : kind(k),
        type(t),
        rows(s.rows),
        cols(s.cols),
        x(Random(t, s.rows * s.cols, rng, x_mean)),
        gamma(Random(t, s.cols, rng, 1.0, 0.5)),
        beta(Random(t, s.cols, rng)),
        dy(Random(t, s.rows * s.cols, rng)),
        y(t, s.rows * s.cols),
        mean(DataType::kFloat32, s.rows),
        rstd(DataType::kFloat32, s.rows),
        dx(t, s.rows * s.cols),
        dgamma(DataType::kFloat32, s.cols),
        dbeta(DataType::kFloat32, s.cols),
        gy(y),
        gmean(mean),
        grstd(rstd),
        gdx(dx),
        gdgamma(dgamma),
        gdbeta(dbeta) {}
  bool ln() const { return kind == NormKind::kLayerNorm; }
  static float* F(Array& a) { return static_cast<float*>(a.data()); }
  NormForwardArgs Forward(void* x_, void* g_, void* b_, void* y_, float* m_, float* r_) const {
    return {kind, rows, cols, type, 1e-5f, x_, g_, ln() ? b_ : nullptr, y_, ln() ? m_ : nullptr,
            r_};
  }
  NormBackwardArgs Backward(void* dy_, void* x_, void* g_, float* m_, float* r_, void* dx_,
                            float* dg_, float* db_) const {
    return {kind, rows, cols, type,
            dy_,  x_,   g_,   ln() ? m_ : nullptr,
            r_,   dx_,  dg_,  ln() ? db_ : nullptr};
  }
  void RunHost() {
    ASSERT_TRUE(
        NormForwardHost(Forward(x.data(), gamma.data(), beta.data(), y.data(), F(mean), F(rstd)))
            .ok());
    ASSERT_TRUE(NormBackwardHost(Backward(dy.data(), x.data(), gamma.data(), F(mean), F(rstd),
                                          dx.data(), F(dgamma), F(dbeta)))
                    .ok());
  }
  // Forward, then backward from the CPU's statistics (so both sides see the same inputs), with
  // every array `shift` elements off 16-byte alignment. in_place: y = x and dx = dy.
  void RunDevice(int shift, bool in_place) {
    DeviceArray d_x(type, x.n, shift), d_gamma(type, cols, shift), d_beta(type, cols, shift),
        d_y(type, x.n, shift), d_dy(type, x.n, shift), d_dx(type, x.n, shift),
        d_mean(DataType::kFloat32, rows, 0), d_rstd(DataType::kFloat32, rows, 0),
        d_dgamma(DataType::kFloat32, cols, 0), d_dbeta(DataType::kFloat32, cols, 0);
    DeviceArray& d_out = in_place ? d_x : d_y;
    DeviceArray& d_grad = in_place ? d_dy : d_dx;
    d_x.Upload(x);
    d_gamma.Upload(gamma);
    d_beta.Upload(beta);
    for (DeviceArray* d : {&d_y, &d_mean, &d_rstd}) d->Poison();
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    Status st = NormForwardCuda(
        Forward(d_x.ptr(), d_gamma.ptr(), d_beta.ptr(), d_out.ptr(), d_mean.f(), d_rstd.f()),
        nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    d_out.Download(gy);
    if (ln()) d_mean.Download(gmean);
    d_rstd.Download(grstd);

    d_x.Upload(x);
    d_dy.Upload(dy);
    d_mean.Upload(mean);
    d_rstd.Upload(rstd);
    for (DeviceArray* d : {&d_dx, &d_dgamma, &d_dbeta}) d->Poison();
    const size_t ws_bytes = NormBackwardCudaWorkspaceBytes(rows, cols);
    ASSERT_GT(ws_bytes, 0u);
    DeviceBuffer ws(ws_bytes);
    ASSERT_EQ(ws.Poison(), cudaSuccess);  // any contents are fine
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    const NormBackwardArgs args = Backward(d_dy.ptr(), d_x.ptr(), d_gamma.ptr(), d_mean.f(),
                                           d_rstd.f(), d_grad.ptr(), d_dgamma.f(), d_dbeta.f());
    st = NormBackwardCuda(args, ws.get(), 0, nullptr);
    ASSERT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_NE(st.message().find("workspace_bytes=0"), std::string::npos) << st.message();
    st = NormBackwardCuda(args, ws.get(), ws_bytes, nullptr);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    d_grad.Download(gdx);
    d_dgamma.Download(gdgamma);
    if (ln()) d_dbeta.Download(gdbeta);
  }
};

void Compare(const Problem& p) {
  const int64_t cols = p.cols;
  const bool ln = p.ln();
  std::vector<double> sg(cols, 0.0), sb(cols, 0.0);  // summed magnitudes for dgamma / dbeta
  for (int64_t r = 0; r < p.rows; ++r) {
    const double m = ln ? p.mean.Get(r) : 0.0, rs = p.rstd.Get(r);
    if (ln) {
      ASSERT_NEAR(p.gmean.Get(r), m, kRel * (std::fabs(m) + 1 / rs)) << "mean row " << r;
    }
    ASSERT_NEAR(p.grstd.Get(r), rs, kRel * rs) << "rstd row " << r;
    double ag = 0.0, agx = 0.0;  // mean |g| and mean |g * xhat|
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t i = r * cols + j;
      const double xv = p.x.Get(i), d = p.dy.Get(i), gm = p.gamma.Get(j);
      const double xh = std::fabs((xv - m) * rs), ref = p.y.Get(i);
      const double scale = std::fabs(gm) * ((std::fabs(xv) + std::fabs(m)) * rs + 1) +
                           (ln ? std::fabs(p.beta.Get(j)) : 0.0);
      ASSERT_NEAR(p.gy.Get(i), ref, Ulp(p.type, ref) + kRel * scale) << "y " << r << "," << j;
      ag += std::fabs(d * gm) / cols;
      agx += std::fabs(d * gm) * xh / cols;
      sg[j] += std::fabs(d) * xh;
      sb[j] += std::fabs(d);
    }
    for (int64_t j = 0; j < cols; ++j) {
      const int64_t i = r * cols + j;
      const double xh = std::fabs((p.x.Get(i) - m) * rs), ref = p.dx.Get(i);
      const double scale = rs * (std::fabs(p.dy.Get(i) * p.gamma.Get(j)) + ag + xh * agx);
      ASSERT_NEAR(p.gdx.Get(i), ref, Ulp(p.type, ref) + kRel * scale) << "dx " << r << "," << j;
    }
  }
  for (int64_t j = 0; j < cols; ++j) {
    ASSERT_NEAR(p.gdgamma.Get(j), p.dgamma.Get(j), kRel * sg[j] + 1e-30) << "dgamma " << j;
    if (ln) {
      ASSERT_NEAR(p.gdbeta.Get(j), p.dbeta.Get(j), kRel * sb[j] + 1e-30) << "dbeta " << j;
    }
  }
}

void RunAndCompare(NormKind kind, DataType type, Shape s, int shift, std::mt19937_64& rng,
                   double x_mean = 0.0) {
  SCOPED_TRACE(std::string(kind == NormKind::kLayerNorm ? "LayerNorm " : "RMSNorm ") +
               DataTypeName(type) + " rows=" + std::to_string(s.rows) +
               " cols=" + std::to_string(s.cols) + " shift=" + std::to_string(shift));
  Problem p(kind, type, s, rng, x_mean);
  p.RunHost();
  if (::testing::Test::HasFatalFailure()) return;
  p.RunDevice(shift, false);
  if (::testing::Test::HasFatalFailure()) return;
  Compare(p);
  if (::testing::Test::HasFatalFailure()) return;
  // In place (y = x, dx = dy) gives the same bits, and so does a second run (deterministic).
  const Array y = p.gy, dx = p.gdx, dgamma = p.gdgamma;
  p.RunDevice(shift, true);
  if (::testing::Test::HasFatalFailure()) return;
  EXPECT_EQ(p.gy.bytes, y.bytes);
  EXPECT_EQ(p.gdx.bytes, dx.bytes);
  EXPECT_EQ(p.gdgamma.bytes, dgamma.bytes);
}

std::mt19937_64 SeededRng() {
  const uint64_t seed = std::random_device{}();
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  return std::mt19937_64(seed);
}

TEST(NormGpu, OddShapesAllTypesBothKinds) {
  BRAID_REQUIRE_GPU();
  auto rng = SeededRng();
  // Forward: 16384 is the widest register-path row for every type, 20000 the long-row kernel.
  // Backward paths: 12288 is the widest register-path row for 16-bit types (fp32: the wide
  // kernel, column sums in shared memory), 20000 the wide kernel for every type, 30000 the
  // long-row kernels for LayerNorm (its sums no longer fit) and the wide kernel for RMSNorm,
  // 60000 the long-row kernels for both.
  const Shape shapes[] = {{1, 1},      {7, 1},     {3, 113},    {130, 239},  {5, 799},
                          {300, 1023}, {64, 4224}, {17, 12288}, {4, 16384},  {3, 20000},
                          {2, 30000},  {2, 60000}};
  for (NormKind kind : kKinds) {
    for (DataType type : kTypes) {
      for (Shape s : shapes) {
        RunAndCompare(kind, type, s, 0, rng);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(NormGpu, MisalignedPointersUseTheScalarPath) {
  BRAID_REQUIRE_GPU();
  auto rng = SeededRng();
  const Shape shapes[] = {{1, 8}, {9, 1024}, {33, 4224}, {5, 12288}};
  for (NormKind kind : kKinds) {
    for (DataType type : kTypes) {
      for (Shape s : shapes) {
        RunAndCompare(kind, type, s, 1, rng);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(NormGpu, ManyRowsAndLargeMeans) {
  BRAID_REQUIRE_GPU();
  auto rng = SeededRng();
  // Many more rows than resident row slots: each slot accumulates dgamma over many rows.
  RunAndCompare(NormKind::kLayerNorm, DataType::kBfloat16, {8192, 1024}, 0, rng);
  RunAndCompare(NormKind::kRmsNorm, DataType::kBfloat16, {1024, 4096}, 0, rng);
  // The wide kernel: each block's shared-memory column sums over several rows.
  RunAndCompare(NormKind::kLayerNorm, DataType::kFloat32, {700, 12288}, 0, rng);
  // x = 100 + N(0, 1): the variance must come from centred values.
  RunAndCompare(NormKind::kLayerNorm, DataType::kFloat32, {64, 4224}, 0, rng, 100.0);
}

}  // namespace
}  // namespace braid::kernels
