// GeLU CPU references (include/braid/kernels/act.h) against fp64 formulas written here.
//
// Tolerances. Inputs are rounded to the element type first, so both sides see the same x.
// The reference evaluates gelu(x) = 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3) in
// fp32 with tanhf (<= 2 ulp): the absolute error of 1 + tanh(u) is a few 2^-24 (~6e-8), times
// 0.5 |x|, so |err| <= ~2e-7 |x|; we allow 1e-6 |x| (5x margin; relative tolerances would fail
// for x << 0, where gelu(x) ~ 0 is the difference of two O(|x|) terms). The derivative adds
// 0.5 x (1 - t^2) sqrt(2/pi) (1 + 0.134 x^2): 1 - t^2 cancels, so its error is absolute, ~3e-7
// (t's rounding, twice), times 0.5 sqrt(2/pi) |x| (1 + 0.134 x^2) ~ 0.4 |x| (1 + 0.134 x^2); past
// |x| ~ 5.16 the term is dropped (it is below ~1e-6 there). So dx gets 1e-6 |dy| (1 + 0.5 |x|
// (1 + 0.134 x^2)), 4x the bound. (The bound |x| (1 + x^2) let a derivative of 0 below -4.3 or
// 1 above 4.5 pass; QA, session 53.) Plus 1 ulp of the output type for the final rounding (half
// an ulp, and the fp32 error may cross a rounding boundary).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/act.h"
#include "braid/kernels/reduce.h"
#include "tests/common/typed_array.h"

namespace braid::kernels {
namespace {

// Every test draws from this seed: a failure must reproduce run after run (the tolerances hold
// for any draw; a fixed one keeps CI deterministic).
constexpr uint64_t kSeed = 20261124;

constexpr DataType kTypes[] = {DataType::kBfloat16, DataType::kFloat16, DataType::kFloat32};

using testing::Array;
using testing::Ulp;

// fp64 GeLU (tanh form) and its derivative, from the definition.
double RefGelu(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  return 0.5 * x * (1.0 + std::tanh(k * (x + 0.044715 * x * x * x)));
}
double RefGeluDerivative(double x) {
  const double k = std::sqrt(2.0 / M_PI);
  const double t = std::tanh(k * (x + 0.044715 * x * x * x));
  return 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * k * (1.0 + 3.0 * 0.044715 * x * x);
}

// x: a sweep of [-12, 12] and then normal values; dy normal.
void Fill(Array& x, Array& dy, std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 2.0);
  const int64_t n = static_cast<int64_t>(x.bytes.size() / DataTypeSize(x.type));
  for (int64_t i = 0; i < n; ++i) {
    x.Set(i, i < 2401 ? -12.0 + 0.01 * i : normal(rng));
    dy.Set(i, normal(rng));
  }
}

void Check(DataType type, int64_t n, std::mt19937_64& rng, int threads) {
  SCOPED_TRACE(std::string(DataTypeName(type)) + " n=" + std::to_string(n));
  Array x(type, n), dy(type, n), y(type, n), dx(type, n);
  Fill(x, dy, rng);
  ASSERT_TRUE(GeluForwardHost(x.data(), y.data(), n, type, threads).ok());
  ASSERT_TRUE(GeluBackwardHost(dy.data(), x.data(), dx.data(), n, type, threads).ok());
  for (int64_t i = 0; i < n; ++i) {
    const double xv = x.Get(i), d = dy.Get(i);
    const double ref_y = RefGelu(xv), ref_dx = d * RefGeluDerivative(xv);
    ASSERT_NEAR(y.Get(i), ref_y, Ulp(type, ref_y) + 1e-6 * std::fabs(xv)) << "x=" << xv;
    ASSERT_NEAR(dx.Get(i), ref_dx,
                Ulp(type, ref_dx) + 1e-6 * std::fabs(d) * (1 + 0.5 * std::fabs(xv) * (1 + 0.134 * xv * xv)))
        << "x=" << xv << " dy=" << d;
  }
}

TEST(GeluHost, MatchesFp64) {
  std::mt19937_64 rng(kSeed);
  for (DataType type : kTypes) {
    for (int64_t n : {1, 7, 113, 4224, 20000}) Check(type, n, rng, 0);
  }
}

TEST(GeluHost, ManyThreadsAndLargeCounts) {
  std::mt19937_64 rng(kSeed);
  Check(DataType::kBfloat16, 1 << 20, rng, 0);
  // Bitwise the same for any worker count (element-wise, no reductions).
  const int64_t n = 600001;
  Array x(DataType::kFloat16, n), dy(DataType::kFloat16, n), y1(DataType::kFloat16, n),
      y3(DataType::kFloat16, n);
  Fill(x, dy, rng);
  ASSERT_TRUE(GeluForwardHost(x.data(), y1.data(), n, DataType::kFloat16, 1).ok());
  ASSERT_TRUE(GeluForwardHost(x.data(), y3.data(), n, DataType::kFloat16, 3).ok());
  EXPECT_EQ(y1.bytes, y3.bytes);
}

TEST(GeluHost, KnownValues) {
  // gelu(0) = 0, gelu'(0) = 1/2; far from 0 it is x (right) or 0 (left), gelu' 1 or 0.
  float x[] = {0.0f, 10.0f, -10.0f}, y[3], dy[] = {1.0f, 1.0f, 1.0f}, dx[3];
  ASSERT_TRUE(GeluForwardHost(x, y, 3, DataType::kFloat32).ok());
  ASSERT_TRUE(GeluBackwardHost(dy, x, dx, 3, DataType::kFloat32).ok());
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_EQ(y[1], 10.0f);
  EXPECT_NEAR(y[2], 0.0f, 1e-6f);
  EXPECT_EQ(dx[0], 0.5f);
  EXPECT_EQ(dx[1], 1.0f);
  EXPECT_NEAR(dx[2], 0.0f, 1e-6f);

  // Beyond where x^2 overflows (~1.8e19) and at the infinities: the limits, not 0 * inf = NaN.
  const float inf = std::numeric_limits<float>::infinity();
  float big[] = {3e38f, -3e38f, 5.04e19f, inf, -inf}, gy[5], ones[] = {1, 1, 1, 1, 1}, gdx[5];
  ASSERT_TRUE(GeluForwardHost(big, gy, 5, DataType::kFloat32).ok());
  ASSERT_TRUE(GeluBackwardHost(ones, big, gdx, 5, DataType::kFloat32).ok());
  const float want_y[] = {3e38f, -0.0f, 5.04e19f, inf, -0.0f}, want_dx[] = {1, 0, 1, 1, 0};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(gy[i], want_y[i]) << "gelu(" << big[i] << ")";
    EXPECT_EQ(gdx[i], want_dx[i]) << "gelu'(" << big[i] << ")";
  }
}

TEST(GeluHost, InPlace) {
  std::mt19937_64 rng(kSeed);
  for (DataType type : kTypes) {
    const int64_t n = 5000;
    Array x(type, n), dy(type, n), y(type, n), dx(type, n);
    Fill(x, dy, rng);
    ASSERT_TRUE(GeluForwardHost(x.data(), y.data(), n, type).ok());
    ASSERT_TRUE(GeluBackwardHost(dy.data(), x.data(), dx.data(), n, type).ok());
    Array dy_inplace = dy, x_inplace = x;
    ASSERT_TRUE(GeluBackwardHost(dy_inplace.data(), x.data(), dy_inplace.data(), n, type).ok());
    EXPECT_EQ(dy_inplace.bytes, dx.bytes);
    ASSERT_TRUE(GeluForwardHost(x_inplace.data(), x_inplace.data(), n, type).ok());
    EXPECT_EQ(x_inplace.bytes, y.bytes);
  }
}

void ExpectInvalid(const Status& s, const std::string& needle) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message() << " lacks " << needle;
}

TEST(GeluHost, BadInputsAreNamed) {
  std::vector<uint16_t> buf(64);
  const DataType bf16 = DataType::kBfloat16;
  ExpectInvalid(GeluForwardHost(nullptr, buf.data(), 8, bf16), "x is null");
  ExpectInvalid(GeluForwardHost(buf.data(), nullptr, 8, bf16), "y is null");
  ExpectInvalid(GeluBackwardHost(nullptr, buf.data(), buf.data(), 8, bf16), "dy is null");
  ExpectInvalid(GeluBackwardHost(buf.data(), buf.data(), nullptr, 8, bf16), "dx is null");
  ExpectInvalid(GeluForwardHost(buf.data(), buf.data() + 32, 0, bf16), "count=0");
  ExpectInvalid(GeluForwardHost(buf.data(), buf.data() + 32, -5, bf16), "count=-5");
  ExpectInvalid(GeluForwardHost(buf.data(), buf.data() + 32, 8, DataType::kInt8), "type=int8");
  ExpectInvalid(GeluForwardHost(buf.data(), buf.data() + 32, 8, DataType::kFloat8e4m3),
                "type=float8e4m3");
  ExpectInvalid(GeluForwardHost(buf.data(), buf.data() + 4, 8, bf16), "partially overlap");
  ExpectInvalid(GeluBackwardHost(buf.data(), buf.data() + 32, buf.data() + 2, 8, bf16),
                "partially overlap");
  ExpectInvalid(GeluForwardHost(reinterpret_cast<char*>(buf.data()) + 1, buf.data() + 32, 8, bf16),
                "x=");
  // The CUDA entry points check arguments the same way, with or without CUDA or a device.
  ExpectInvalid(GeluForwardCuda(nullptr, buf.data(), 8, bf16, nullptr), "x is null");
  ExpectInvalid(GeluBackwardCuda(buf.data(), buf.data(), buf.data(), 0, bf16, nullptr), "count=0");
#if !defined(BRAID_HAVE_CUDA)
  EXPECT_EQ(GeluForwardCuda(buf.data(), buf.data(), 8, bf16, nullptr).code(),
            StatusCode::kUnsupported);
#endif
}

}  // namespace
}  // namespace braid::kernels
