// GeLU CUDA kernels against the CPU references (include/braid/kernels/act.h).
//
// Fresh random normal inputs per test (seed printed), outputs poisoned with 0xff bytes (NaN in
// every type) and surrounded by 0xff guard bytes: a skipped element fails the comparison and an
// out-of-bounds write changes a guard. Offsets (in elements from a 16-byte boundary) cover the
// vector body with a scalar head and tail (all arrays shifted alike) and the all-scalar path
// (arrays shifted differently).
//
// Tolerances (GPU vs CPU reference on the same inputs): both evaluate the same fp32 code from
// gelu_math.h; only tanhf differs (CUDA's and glibc's are each within 2 ulp), and FMA contraction
// may differ. That moves 1 + tanh(u) by a few 2^-24 and the output by ~2e-7 |x|, so we allow
// 1e-6 |x| (forward) and 1e-6 |dy| (1 + |x| (1 + x^2)) (backward, whose (1 - t^2) x^3-sized term
// carries the same absolute error), plus 1 ulp of the output type for the final rounding.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/act.h"
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

struct Shifts {
  int x, dy, out;
};

// Runs forward and backward on the GPU (in_place: y = x and dx = dy, which then share x's / dy's
// shift) and returns y and dx.
void RunDevice(const Array& x, const Array& dy, Shifts s, bool in_place, Array* y, Array* dx) {
  const DataType t = x.type;
  DeviceArray d_x(t, x.n, s.x), d_dy(t, x.n, s.dy), d_out(t, x.n, s.out);
  d_x.Upload(x);
  d_out.Poison();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  DeviceArray& fwd_out = in_place ? d_x : d_out;
  Status st = GeluForwardCuda(d_x.ptr(), fwd_out.ptr(), x.n, t, nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  fwd_out.Download(*y);

  d_x.Upload(x);
  d_dy.Upload(dy);
  d_out.Poison();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  DeviceArray& bwd_out = in_place ? d_dy : d_out;
  st = GeluBackwardCuda(d_dy.ptr(), d_x.ptr(), bwd_out.ptr(), x.n, t, nullptr);
  ASSERT_TRUE(st.ok()) << st.ToString();
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  bwd_out.Download(*dx);
}

void RunAndCompare(DataType t, int64_t n, Shifts s, std::mt19937_64& rng) {
  SCOPED_TRACE(std::string(DataTypeName(t)) + " n=" + std::to_string(n) +
               " shifts x=" + std::to_string(s.x) + " dy=" + std::to_string(s.dy) +
               " out=" + std::to_string(s.out));
  const Array x = Random(t, n, rng, 0.0, 3.0), dy = Random(t, n, rng, 0.0, 1.0);
  Array y(t, n), dx(t, n), gy(t, n), gdx(t, n);
  ASSERT_TRUE(GeluForwardHost(x.bytes.data(), y.data(), n, t).ok());
  ASSERT_TRUE(GeluBackwardHost(dy.bytes.data(), x.bytes.data(), dx.data(), n, t).ok());
  RunDevice(x, dy, s, false, &gy, &gdx);
  if (::testing::Test::HasFatalFailure()) return;
  for (int64_t i = 0; i < n; ++i) {
    const double xv = x.Get(i), d = dy.Get(i), ry = y.Get(i), rdx = dx.Get(i);
    ASSERT_NEAR(gy.Get(i), ry, Ulp(t, ry) + 1e-6 * std::fabs(xv)) << "y[" << i << "] x=" << xv;
    ASSERT_NEAR(gdx.Get(i), rdx,
                Ulp(t, rdx) + 1e-6 * std::fabs(d) * (1 + std::fabs(xv) * (1 + xv * xv)))
        << "dx[" << i << "] x=" << xv << " dy=" << d;
  }
  // In place gives the same bits (same kernel path when x and dy keep their shifts).
  if (s.x == s.out && s.dy == s.out) {
    Array iy(t, n), idx(t, n);
    RunDevice(x, dy, s, true, &iy, &idx);
    if (::testing::Test::HasFatalFailure()) return;
    EXPECT_EQ(iy.bytes, gy.bytes);
    EXPECT_EQ(idx.bytes, gdx.bytes);
  }
}

std::mt19937_64 SeededRng() {
  const uint64_t seed = std::random_device{}();
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  return std::mt19937_64(seed);
}

TEST(GeluGpu, OddCountsAllTypesAndAlignments) {
  BRAID_REQUIRE_GPU();
  auto rng = SeededRng();
  const Shifts shifts[] = {{0, 0, 0}, {1, 1, 1}, {3, 3, 3}, {1, 0, 0}, {0, 0, 1}, {0, 2, 0}};
  for (DataType t : kTypes) {
    for (int64_t n : {1, 2, 7, 113, 239, 799, 1023, 4224, 12288, (1 << 20) + 3}) {
      for (Shifts s : shifts) {
        RunAndCompare(t, n, s, rng);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(GeluGpu, LargeArrays) {
  BRAID_REQUIRE_GPU();
  auto rng = SeededRng();
  // More tiles than one pass of the grid covers for small types; odd sizes leave a tail.
  RunAndCompare(DataType::kBfloat16, (int64_t{1} << 26) + 5, {0, 0, 0}, rng);
  RunAndCompare(DataType::kFloat32, (int64_t{1} << 25) + 1, {1, 1, 1}, rng);
}

TEST(GeluGpu, BadArgumentsLaunchNothing) {
  BRAID_REQUIRE_GPU();
  DeviceBuffer buf(1024);
  ASSERT_EQ(buf.Poison(), cudaSuccess);
  auto* p = static_cast<uint8_t*>(buf.get());
  EXPECT_EQ(GeluForwardCuda(p, p + 2, 8, DataType::kBfloat16, nullptr).code(),
            StatusCode::kInvalidArgument);  // partial overlap
  EXPECT_EQ(GeluForwardCuda(p + 1, p + 512, 8, DataType::kBfloat16, nullptr).code(),
            StatusCode::kInvalidArgument);  // not element-aligned
  EXPECT_EQ(GeluBackwardCuda(p, p, p, 8, DataType::kInt32, nullptr).code(),
            StatusCode::kInvalidArgument);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<uint8_t> host(1024);
  ASSERT_EQ(cudaMemcpy(host.data(), p, host.size(), cudaMemcpyDeviceToHost), cudaSuccess);
  for (uint8_t b : host) ASSERT_EQ(b, 0xff);
}

}  // namespace
}  // namespace braid::kernels
