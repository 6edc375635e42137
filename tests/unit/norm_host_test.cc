// LayerNorm / RMSNorm CPU references (include/braid/kernels/norm.h) against an fp64 reference
// written here from the definitions, and that reference's backward against central finite
// differences of its forward.
//
// Tolerances. Inputs are rounded to the element type first, so the fp64 reference sees exactly
// the values the CPU reference sees. The CPU reference sums in double and does the per-element
// math in fp32: at most ~8 fp32 roundings (2^-24 ~ 6e-8 each) per output, relative to the
// magnitude of the terms that are combined ("scale" below), so |cpu - ref| <= 2e-6 * scale is
// a ~4x margin; the final rounding to the output type adds up to 1 ulp of that type (half an
// ulp, plus the fp32 error can move a value across a rounding boundary).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/norm.h"
#include "braid/kernels/reduce.h"
#include "tests/common/typed_array.h"

namespace braid::kernels {
namespace {

// Every test draws from this seed: a failure must reproduce run after run (the tolerances hold
// for any draw; a fixed one keeps CI deterministic).
constexpr uint64_t kSeed = 20261124;

constexpr DataType kTypes[] = {DataType::kBfloat16, DataType::kFloat16, DataType::kFloat32};
constexpr NormKind kKinds[] = {NormKind::kLayerNorm, NormKind::kRmsNorm};
constexpr double kRel = 2e-6;

using testing::Array;
using testing::Random;
using testing::Ulp;

const char* Name(NormKind k) { return k == NormKind::kLayerNorm ? "LayerNorm" : "RMSNorm"; }

// fp64 forward of one row; returns mean (0 for RMSNorm) and rstd.
void RefRow(NormKind kind, const double* x, int64_t cols, double eps, double* mean, double* rstd) {
  double m = 0.0, sq = 0.0;
  if (kind == NormKind::kLayerNorm) {
    for (int64_t j = 0; j < cols; ++j) m += x[j];
    m /= cols;
  }
  for (int64_t j = 0; j < cols; ++j) sq += (x[j] - m) * (x[j] - m);
  *mean = m;
  *rstd = 1.0 / std::sqrt(sq / cols + eps);
}

// fp64 backward of one row given the statistics; accumulates dgamma / dbeta.
void RefBackwardRow(NormKind kind, const double* x, const double* dy, const double* gamma,
                    int64_t cols, double mean, double rstd, double* dx, double* dgamma,
                    double* dbeta) {
  double mg = 0.0, mgx = 0.0;
  for (int64_t j = 0; j < cols; ++j) {
    const double xhat = (x[j] - mean) * rstd;
    mg += dy[j] * gamma[j];
    mgx += dy[j] * gamma[j] * xhat;
  }
  mg = kind == NormKind::kLayerNorm ? mg / cols : 0.0;
  mgx /= cols;
  for (int64_t j = 0; j < cols; ++j) {
    const double xhat = (x[j] - mean) * rstd;
    dx[j] = rstd * (dy[j] * gamma[j] - mg - xhat * mgx);
    dgamma[j] += dy[j] * xhat;
    dbeta[j] += dy[j];
  }
}

struct Problem {
  NormKind kind;
  DataType type;
  int64_t rows, cols;
  float eps = 1e-5f;
  Array x, gamma, beta, dy;
  Problem(NormKind k, DataType t, int64_t r, int64_t c, std::mt19937_64& rng, double x_mean = 0.0)
      : kind(k),
        type(t),
        rows(r),
        cols(c),
        x(Random(t, r * c, rng, x_mean)),
        gamma(Random(t, c, rng, 1.0, 0.5)),
        beta(Random(t, c, rng)),
        dy(Random(t, r * c, rng)) {}
  bool ln() const { return kind == NormKind::kLayerNorm; }
};

// Runs the forward and checks y, mean and rstd against fp64; returns the saved statistics.
void CheckForward(Problem& p, std::vector<float>* mean_out, std::vector<float>* rstd_out) {
  SCOPED_TRACE(std::string(Name(p.kind)) + " " + DataTypeName(p.type) +
               " rows=" + std::to_string(p.rows) + " cols=" + std::to_string(p.cols));
  Array y(p.type, p.rows * p.cols);
  std::vector<float> mean(p.rows, -1.0f), rstd(p.rows, -1.0f);
  NormForwardArgs a{p.kind,         p.rows,
                    p.cols,         p.type,
                    p.eps,          p.x.data(),
                    p.gamma.data(), p.ln() ? p.beta.data() : nullptr,
                    y.data(),       p.ln() ? mean.data() : nullptr,
                    rstd.data()};
  ASSERT_TRUE(NormForwardHost(a).ok());
  std::vector<double> xr(p.cols);
  for (int64_t r = 0; r < p.rows; ++r) {
    for (int64_t j = 0; j < p.cols; ++j) xr[j] = p.x.Get(r * p.cols + j);
    double m, s;
    RefRow(p.kind, xr.data(), p.cols, p.eps, &m, &s);
    if (p.ln()) {
      ASSERT_NEAR(mean[r], m, 1e-6 * std::fabs(m) + 1e-30) << "row " << r;
    }
    ASSERT_NEAR(rstd[r], s, 1e-6 * s) << "row " << r;
    for (int64_t j = 0; j < p.cols; ++j) {
      const double g = p.gamma.Get(j), b = p.ln() ? p.beta.Get(j) : 0.0;
      const double ref = (xr[j] - m) * s * g + b;
      const double scale =
          std::fabs(g) * (std::fabs(xr[j]) * s + std::fabs(m) * s + 1) + std::fabs(b);
      ASSERT_NEAR(y.Get(r * p.cols + j), ref, Ulp(p.type, ref) + kRel * scale)
          << "row " << r << " col " << j;
    }
  }
  *mean_out = mean;
  *rstd_out = rstd;
}

void CheckBackward(Problem& p, const std::vector<float>& mean, const std::vector<float>& rstd) {
  SCOPED_TRACE(std::string(Name(p.kind)) + " " + DataTypeName(p.type) +
               " rows=" + std::to_string(p.rows) + " cols=" + std::to_string(p.cols));
  Array dx(p.type, p.rows * p.cols);
  std::vector<float> dgamma(p.cols, -1.0f), dbeta(p.cols, -1.0f);
  NormBackwardArgs a{p.kind,      p.rows,     p.cols,         p.type,
                     p.dy.data(), p.x.data(), p.gamma.data(), p.ln() ? mean.data() : nullptr,
                     rstd.data(), dx.data(),  dgamma.data(),  p.ln() ? dbeta.data() : nullptr};
  ASSERT_TRUE(NormBackwardHost(a).ok());
  std::vector<double> xr(p.cols), dyr(p.cols), gam(p.cols), dxr(p.cols);
  std::vector<double> dg(p.cols, 0.0), db(p.cols, 0.0), dg_scale(p.cols, 0.0),
      db_scale(p.cols, 0.0);
  for (int64_t j = 0; j < p.cols; ++j) gam[j] = p.gamma.Get(j);
  for (int64_t r = 0; r < p.rows; ++r) {
    for (int64_t j = 0; j < p.cols; ++j) {
      xr[j] = p.x.Get(r * p.cols + j);
      dyr[j] = p.dy.Get(r * p.cols + j);
    }
    const double m = p.ln() ? mean[r] : 0.0, s = rstd[r];
    RefBackwardRow(p.kind, xr.data(), dyr.data(), gam.data(), p.cols, m, s, dxr.data(), dg.data(),
                   db.data());
    // Scale of dx: rstd times the magnitudes of the three terms combined.
    double mg = 0.0, mgx = 0.0;
    for (int64_t j = 0; j < p.cols; ++j) {
      mg += std::fabs(dyr[j] * gam[j]);
      mgx += std::fabs(dyr[j] * gam[j] * (xr[j] - m) * s);
    }
    mg /= p.cols;
    mgx /= p.cols;
    for (int64_t j = 0; j < p.cols; ++j) {
      const double xhat = std::fabs((xr[j] - m) * s);
      const double scale = s * (std::fabs(dyr[j] * gam[j]) + mg + xhat * mgx);
      ASSERT_NEAR(dx.Get(r * p.cols + j), dxr[j], Ulp(p.type, dxr[j]) + kRel * scale)
          << "row " << r << " col " << j;
      dg_scale[j] += std::fabs(dyr[j]) * xhat;
      db_scale[j] += std::fabs(dyr[j]);
    }
  }
  for (int64_t j = 0; j < p.cols; ++j) {
    // fp32 results of double sums: kRel of the summed magnitudes covers the per-term fp32 xhat.
    ASSERT_NEAR(dgamma[j], dg[j], kRel * dg_scale[j] + 1e-30) << "dgamma col " << j;
    if (p.ln()) {
      ASSERT_NEAR(dbeta[j], db[j], kRel * db_scale[j] + 1e-30) << "dbeta col " << j;
    }
  }
}

TEST(NormHost, MatchesFp64ForwardAndBackwardOnOddShapes) {
  std::mt19937_64 rng(kSeed);
  for (NormKind kind : kKinds) {
    for (DataType type : kTypes) {
      for (int64_t cols : {1, 2, 113, 239, 799, 1023, 4224}) {
        for (int64_t rows : {1, 3}) {
          Problem p(kind, type, rows, cols, rng);
          std::vector<float> mean, rstd;
          CheckForward(p, &mean, &rstd);
          CheckBackward(p, mean, rstd);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

TEST(NormHost, LayerNormIsStableForLargeMeans) {
  // x = 1000 + N(0, 1): E[x^2] - mean^2 in fp32 would lose every digit of the variance.
  std::mt19937_64 rng(kSeed);
  Problem p(NormKind::kLayerNorm, DataType::kFloat32, 4, 1023, rng, 1000.0);
  std::vector<float> mean, rstd;
  CheckForward(p, &mean, &rstd);
  for (float s : rstd) EXPECT_NEAR(s, 1.0, 0.2);  // the sample sd of 1023 N(0,1) values is ~1
  CheckBackward(p, mean, rstd);
}

TEST(NormHost, ManyRowsUseThreadsWithSameResults) {
  std::mt19937_64 rng(kSeed);
  for (NormKind kind : kKinds) {
    Problem p(kind, DataType::kBfloat16, 300, 799, rng);
    std::vector<float> mean, rstd;
    CheckForward(p, &mean, &rstd);
    CheckBackward(p, mean, rstd);
    // y, mean and rstd are bitwise independent of the worker count.
    Array y1(p.type, p.rows * p.cols), y4(p.type, p.rows * p.cols);
    std::vector<float> r1(p.rows), r4(p.rows);
    NormForwardArgs a{kind,      p.rows,     p.cols,         p.type,
                      p.eps,     p.x.data(), p.gamma.data(), p.ln() ? p.beta.data() : nullptr,
                      y1.data(), nullptr,    r1.data()};
    ASSERT_TRUE(NormForwardHost(a, 1).ok());
    a.y = y4.data();
    a.rstd = r4.data();
    ASSERT_TRUE(NormForwardHost(a, 4).ok());
    EXPECT_EQ(y1.bytes, y4.bytes);
    EXPECT_EQ(r1, r4);
  }
}

TEST(NormHost, InPlaceForwardAndBackward) {
  std::mt19937_64 rng(kSeed);
  for (NormKind kind : kKinds) {
    Problem p(kind, DataType::kFloat16, 5, 239, rng);
    const bool ln = p.ln();
    Array y(p.type, p.rows * p.cols), dx(p.type, p.rows * p.cols);
    std::vector<float> mean(p.rows), rstd(p.rows), dg(p.cols), db(p.cols);
    NormForwardArgs f{kind,           p.rows,
                      p.cols,         p.type,
                      p.eps,          p.x.data(),
                      p.gamma.data(), ln ? p.beta.data() : nullptr,
                      y.data(),       ln ? mean.data() : nullptr,
                      rstd.data()};
    ASSERT_TRUE(NormForwardHost(f).ok());
    NormBackwardArgs b{kind,        p.rows,     p.cols,         p.type,
                       p.dy.data(), p.x.data(), p.gamma.data(), ln ? mean.data() : nullptr,
                       rstd.data(), dx.data(),  dg.data(),      ln ? db.data() : nullptr};
    ASSERT_TRUE(NormBackwardHost(b).ok());
    Array x_copy = p.x, dy_copy = p.dy;
    f.x = f.y = x_copy.data();
    ASSERT_TRUE(NormForwardHost(f).ok());
    EXPECT_EQ(x_copy.bytes, y.bytes);
    b.dy = b.dx = dy_copy.data();
    ASSERT_TRUE(NormBackwardHost(b).ok());
    EXPECT_EQ(dy_copy.bytes, dx.bytes);
  }
}

TEST(NormHost, Fp64BackwardMatchesFiniteDifferences) {
  // Checks the backward formulas themselves (which the CPU reference and the kernels share):
  // L = sum(dy * y(x, gamma, beta)) with the statistics recomputed from x, central differences
  // with h = 1e-5: truncation ~h^2 |f'''| and cancellation ~1e-16 |L| / h are both < 1e-9 for
  // these O(1) values (eps = 0.1 keeps rstd and the curvature bounded even when a row is ~0),
  // so a tolerance of 1e-6 * (1 + |derivative|) is loose for a correct formula and tight for a
  // wrong one (a missing term changes derivatives by O(1)).
  std::mt19937_64 rng(kSeed);
  std::normal_distribution<double> normal;
  for (NormKind kind : kKinds) {
    for (int64_t cols : {1, 2, 5, 16}) {
      const int64_t rows = 2;
      const double eps = 0.1;
      std::vector<double> x(rows * cols), dy(rows * cols), gamma(cols), beta(cols);
      for (auto* v : {&x, &dy, &gamma, &beta}) {
        for (double& e : *v) e = normal(rng);
      }
      auto loss = [&] {
        double l = 0.0;
        for (int64_t r = 0; r < rows; ++r) {
          double m, s;
          RefRow(kind, &x[r * cols], cols, eps, &m, &s);
          for (int64_t j = 0; j < cols; ++j) {
            const double b = kind == NormKind::kLayerNorm ? beta[j] : 0.0;
            l += dy[r * cols + j] * ((x[r * cols + j] - m) * s * gamma[j] + b);
          }
        }
        return l;
      };
      std::vector<double> dx(rows * cols), dg(cols, 0.0), db(cols, 0.0);
      for (int64_t r = 0; r < rows; ++r) {
        double m, s;
        RefRow(kind, &x[r * cols], cols, eps, &m, &s);
        RefBackwardRow(kind, &x[r * cols], &dy[r * cols], gamma.data(), cols, m, s, &dx[r * cols],
                       dg.data(), db.data());
      }
      auto numeric = [&](double& v) {
        const double h = 1e-5, saved = v;
        v = saved + h;
        const double up = loss();
        v = saved - h;
        const double down = loss();
        v = saved;
        return (up - down) / (2 * h);
      };
      SCOPED_TRACE(std::string(Name(kind)) + " cols=" + std::to_string(cols));
      auto tol = [](double v) { return 1e-6 * (1.0 + std::fabs(v)); };
      for (int64_t i = 0; i < rows * cols; ++i) EXPECT_NEAR(dx[i], numeric(x[i]), tol(dx[i])) << i;
      for (int64_t j = 0; j < cols; ++j) {
        EXPECT_NEAR(dg[j], numeric(gamma[j]), tol(dg[j])) << j;
        if (kind == NormKind::kLayerNorm) {
          EXPECT_NEAR(db[j], numeric(beta[j]), tol(db[j])) << j;
        }
      }
    }
  }
}

// A pointer as the validation messages print it.
std::string Ptr(const void* p) { return fmt::format("{}", p); }

void ExpectInvalid(const Status& s, const std::string& needle) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message() << " lacks " << needle;
}

TEST(NormHost, BadInputsAreNamed) {
  std::vector<float> buf(64, 1.0f), stats(32, 1.0f);
  const NormForwardArgs good{NormKind::kLayerNorm,
                             2,
                             8,
                             DataType::kFloat32,
                             1e-5f,
                             buf.data(),
                             buf.data() + 16,
                             buf.data() + 24,
                             buf.data() + 32,
                             stats.data(),
                             stats.data() + 2};
  ASSERT_TRUE(NormForwardHost(good).ok());
  auto fwd = [&](auto edit) {
    NormForwardArgs a = good;
    edit(a);
    return NormForwardHost(a);
  };
  ExpectInvalid(fwd([](auto& a) { a.rows = 0; }), "rows=0");
  ExpectInvalid(fwd([](auto& a) { a.cols = -3; }), "cols=-3");
  ExpectInvalid(fwd([](auto& a) { a.eps = 0.0f; }), "eps=0");
  ExpectInvalid(fwd([](auto& a) { a.eps = -1.0f; }), "eps=-1");
  ExpectInvalid(fwd([](auto& a) { a.type = DataType::kInt32; }), "type=int32");
  ExpectInvalid(fwd([](auto& a) { a.type = DataType::kFloat64; }), "type=float64");
  ExpectInvalid(fwd([](auto& a) { a.x = nullptr; }), "x is null");
  ExpectInvalid(fwd([](auto& a) { a.gamma = nullptr; }), "gamma is null");
  ExpectInvalid(fwd([](auto& a) { a.beta = nullptr; }), "beta is null");
  ExpectInvalid(fwd([](auto& a) { a.y = nullptr; }), "y is null");
  ExpectInvalid(fwd([](auto& a) { a.kind = NormKind::kRmsNorm; }), "beta=");
  ExpectInvalid(fwd([](auto& a) { a.kind = NormKind::kRmsNorm, a.beta = nullptr; }), "mean=");
  ExpectInvalid(fwd([&](auto& a) { a.x = reinterpret_cast<char*>(buf.data()) + 2; }), "x=");
  ExpectInvalid(fwd([&](auto& a) { a.y = buf.data() + 1; }), "partially overlap");
  EXPECT_TRUE(fwd([](auto& a) { a.mean = nullptr, a.rstd = nullptr; }).ok());
  // Outputs apart from every other array (only y == x is allowed).
  // Two outputs: the message names both and does not offer the in-place rule.
  ExpectInvalid(fwd([&](auto& a) { a.rstd = stats.data() + 1; }),
                "bytes) overlaps rstd=" + Ptr(stats.data() + 1) + " (8 bytes): outputs must not overlap each other");
  ExpectInvalid(fwd([&](auto& a) { a.mean = buf.data() + 40; }), "y=" + Ptr(buf.data() + 32));
  ExpectInvalid(fwd([&](auto& a) { a.mean = buf.data() + 40; }), "overlaps mean=");
  ExpectInvalid(fwd([&](auto& a) { a.mean = buf.data() + 40; }), "outputs must not overlap each other");
  ExpectInvalid(fwd([&](auto& a) { a.rstd = buf.data() + 16; }), "overlaps gamma=");
  ExpectInvalid(fwd([&](auto& a) { a.gamma = buf.data() + 36; }), "an output may only be the same array as x (y == x)");
  EXPECT_TRUE(fwd([&](auto& a) { a.y = buf.data(); }).ok());

  const NormBackwardArgs bgood{NormKind::kLayerNorm,
                               2,
                               8,
                               DataType::kFloat32,
                               buf.data(),
                               buf.data() + 16,
                               buf.data() + 32,
                               stats.data(),
                               stats.data() + 2,
                               buf.data() + 48,
                               stats.data() + 4,
                               stats.data() + 12};
  ASSERT_TRUE(NormBackwardHost(bgood).ok());
  auto bwd = [&](auto edit) {
    NormBackwardArgs a = bgood;
    edit(a);
    return NormBackwardHost(a);
  };
  ExpectInvalid(bwd([](auto& a) { a.rows = -1; }), "rows=-1");
  ExpectInvalid(bwd([](auto& a) { a.dy = nullptr; }), "dy is null");
  ExpectInvalid(bwd([](auto& a) { a.mean = nullptr; }), "mean is null");
  ExpectInvalid(bwd([](auto& a) { a.rstd = nullptr; }), "rstd is null");
  ExpectInvalid(bwd([](auto& a) { a.dgamma = nullptr; }), "dgamma is null");
  ExpectInvalid(bwd([](auto& a) { a.dbeta = nullptr; }), "dbeta is null");
  ExpectInvalid(bwd([](auto& a) { a.kind = NormKind::kRmsNorm; }), "mean=");
  ExpectInvalid(bwd([&](auto& a) { a.dx = buf.data() + 4; }), "partially overlap");
  // Outputs apart from every other array (only dx == dy is allowed).
  ExpectInvalid(bwd([&](auto& a) { a.dbeta = a.dgamma; }),
                "dgamma=" + Ptr(stats.data() + 4) + " (32 bytes) overlaps dbeta=" + Ptr(stats.data() + 4) +
                    " (32 bytes): outputs must not overlap each other");
  ExpectInvalid(bwd([&](auto& a) { a.dx = buf.data() + 16; }), "overlaps x=");
  ExpectInvalid(bwd([&](auto& a) { a.dgamma = buf.data() + 48; }), "overlaps dgamma=");
  ExpectInvalid(bwd([&](auto& a) { a.dgamma = stats.data() + 1; }), "overlaps mean=");
  EXPECT_TRUE(bwd([&](auto& a) { a.dx = buf.data(); }).ok());

  // The CUDA entry points check arguments the same way, with or without CUDA or a device.
  ExpectInvalid(NormForwardCuda(NormForwardArgs{}, nullptr), "rows=0");
  ExpectInvalid(NormBackwardCuda(NormBackwardArgs{}, nullptr, 0, nullptr), "rows=0");
#if !defined(BRAID_HAVE_CUDA)
  EXPECT_EQ(NormForwardCuda(good, nullptr).code(), StatusCode::kUnsupported);
  EXPECT_EQ(NormBackwardCudaWorkspaceBytes(2, 8), 0u);
#endif
}

}  // namespace
}  // namespace braid::kernels
