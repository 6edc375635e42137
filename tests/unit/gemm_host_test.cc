// GemmHost (the CPU reference GEMM) and ValidateGemm, include/braid/kernels/gemm.h.
//
// The reference here is an independent fp64 triple loop over the stored matrices. With inputs
// that are small integers in [-4, 4] (and alpha, beta halves), every product, every fp32 partial
// sum (|sum| <= 16 K < 2^24) and every epilogue step is exact in fp32, so GemmHost's rounded
// output must equal the fp64 value rounded once to the output type, bit for bit. GeLU is not
// exact (tanh): it is checked with a tolerance. All padding is filled with 0xff bytes (NaN in
// every type) so a read of it poisons the result, and the output padding must stay 0xff.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/gemm.h"
#include "braid/kernels/reduce.h"
#include "kernels/act/gelu_math.h"

namespace braid::kernels {
namespace {

using Op = GemmOperand;
constexpr DataType kBf16 = DataType::kBfloat16, kF16 = DataType::kFloat16, kF32 = DataType::kFloat32;

// A row-major matrix of `type` with `ld - cols` padding elements per row (bytes 0xff).
struct Matrix {
  DataType type = kF32;
  int64_t rows = 0, cols = 0, ld = 0;
  std::vector<unsigned char> bytes;
  Matrix() = default;
  Matrix(DataType t, int64_t r, int64_t c, int64_t pad)
      : type(t), rows(r), cols(c), ld(c + pad), bytes(size_t(r * (c + pad)) * DataTypeSize(t), 0xff) {}
  void* data() { return bytes.data(); }
  double Get(int64_t r, int64_t c) const { return LoadAsDouble(bytes.data(), size_t(r * ld + c), type); }
  void Set(int64_t r, int64_t c, double v) { StoreFromDouble(bytes.data(), size_t(r * ld + c), type, v); }
  bool PaddingIntact() const {
    const size_t es = DataTypeSize(type);
    for (int64_t r = 0; r < rows; ++r) {
      for (size_t i = size_t(r * ld + cols) * es; i < size_t((r + 1) * ld) * es; ++i) {
        if (bytes[i] != 0xff) return false;
      }
    }
    return true;
  }
};

struct Case {
  int64_t m = 1, n = 1, k = 1;
  DataType in = kBf16, out = kBf16;
  Op op_a = Op::kAsIs, op_b = Op::kTransposed;
  GemmEpilogue epilogue = GemmEpilogue::kNone;
  float alpha = 1.0f, beta = 0.0f;
  bool c_is_d = false, residual = false, save_pre = false;
  int64_t pad = 0;
  bool normal = false;  // N(0,1) inputs instead of small integers
  std::string Name() const {
    return std::to_string(m) + "x" + std::to_string(n) + "x" + std::to_string(k) + " " +
           DataTypeName(in) + "->" + DataTypeName(out) + " " + (op_a == Op::kAsIs ? "n" : "t") +
           (op_b == Op::kAsIs ? "n" : "t") + " epilogue=" + std::to_string(int(epilogue)) +
           " alpha=" + std::to_string(alpha) + " beta=" + std::to_string(beta) + (c_is_d ? " c==d" : "") +
           (residual ? " residual" : "") + (save_pre ? " pre" : "") + " pad=" + std::to_string(pad);
  }
};

// Inputs, outputs and the fp64 expectation of one case.
struct Problem {
  Case cs;
  Matrix a, b, c, d, bias, residual, pre;
  std::vector<double> want_d, want_pre;  // M x N, fp64, before rounding to the output type
  GemmArgs args;

  Problem(const Case& x, uint64_t seed, bool expect = true) : cs(x) {
    std::mt19937_64 rng(seed);
    std::uniform_int_distribution<int> small(-4, 4);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto fill = [&](Matrix& mat) {
      for (int64_t r = 0; r < mat.rows; ++r)
        for (int64_t col = 0; col < mat.cols; ++col) mat.Set(r, col, x.normal ? normal(rng) : small(rng));
    };
    const bool a_as_is = x.op_a == Op::kAsIs, b_as_is = x.op_b == Op::kAsIs;
    // Different padding per matrix (when padded), so a mixed-up leading dimension shows.
    auto pad = [&](int64_t extra) { return x.pad > 0 ? x.pad + extra : 0; };
    a = Matrix(x.in, a_as_is ? x.m : x.k, a_as_is ? x.k : x.m, pad(0));
    b = Matrix(x.in, b_as_is ? x.k : x.n, b_as_is ? x.n : x.k, pad(1));
    d = Matrix(x.out, x.m, x.n, pad(2));
    fill(a);
    fill(b);
    if (x.beta != 0.0f) {
      c = Matrix(x.out, x.m, x.n, pad(3));
      fill(c);
      if (x.c_is_d) {  // D starts as C and is updated in place
        for (int64_t i = 0; i < x.m; ++i)
          for (int64_t j = 0; j < x.n; ++j) d.Set(i, j, c.Get(i, j));
      }
    }
    if (x.epilogue != GemmEpilogue::kNone) fill(bias = Matrix(x.out, 1, x.n, 0));
    if (x.residual) fill(residual = Matrix(x.out, x.m, x.n, pad(4)));
    if (x.save_pre) pre = Matrix(x.out, x.m, x.n, pad(5));

    args.m = x.m, args.n = x.n, args.k = x.k;
    args.input_type = x.in, args.output_type = x.out, args.op_a = x.op_a, args.op_b = x.op_b;
    args.a = a.data(), args.lda = a.ld, args.b = b.data(), args.ldb = b.ld;
    args.d = d.data(), args.ldd = d.ld, args.alpha = x.alpha, args.beta = x.beta;
    if (x.beta != 0.0f) args.c = x.c_is_d ? d.data() : c.data(), args.ldc = x.c_is_d ? d.ld : c.ld;
    if (x.c_is_d) c = d;  // the reference reads C's values from this copy of D's initial state
    args.epilogue = x.epilogue;
    if (x.epilogue != GemmEpilogue::kNone) args.bias = bias.data();
    if (x.residual) args.residual = residual.data(), args.ld_residual = residual.ld;
    if (x.save_pre) args.pre_activation = pre.data(), args.ld_pre = pre.ld;
    if (expect) Expect();
  }

  // Naive fp64 reference from the stored (already rounded) inputs: op(A) and op(B)^T are read
  // into row-major fp64 copies first so the triple loop runs over contiguous memory.
  void Expect() {
    const Case& x = cs;
    std::vector<double> at(size_t(x.m * x.k)), bt(size_t(x.n * x.k));
    for (int64_t i = 0; i < x.m; ++i)
      for (int64_t p = 0; p < x.k; ++p) at[size_t(i * x.k + p)] = x.op_a == Op::kAsIs ? a.Get(i, p) : a.Get(p, i);
    for (int64_t j = 0; j < x.n; ++j)
      for (int64_t p = 0; p < x.k; ++p) bt[size_t(j * x.k + p)] = x.op_b == Op::kAsIs ? b.Get(p, j) : b.Get(j, p);
    want_d.assign(size_t(x.m * x.n), 0.0);
    want_pre.assign(size_t(x.m * x.n), 0.0);
    for (int64_t i = 0; i < x.m; ++i) {
      for (int64_t j = 0; j < x.n; ++j) {
        double s = 0.0;
        for (int64_t p = 0; p < x.k; ++p) s += at[size_t(i * x.k + p)] * bt[size_t(j * x.k + p)];
        double t = double(x.alpha) * s;
        if (x.beta != 0.0f) t += double(x.beta) * c.Get(i, j);
        if (x.epilogue != GemmEpilogue::kNone) t += bias.Get(0, j);
        want_pre[size_t(i * x.n + j)] = t;
        if (x.epilogue == GemmEpilogue::kBiasGelu) t = Gelu64(t);
        if (x.residual) t += residual.Get(i, j);
        want_d[size_t(i * x.n + j)] = t;
      }
    }
  }

  // fp64 GeLU (tanh form) with the library's constants: an independent higher-precision reference.
  static double Gelu64(double x) {
    return 0.5 * x * (1.0 + std::tanh(double(kGeluSqrt2OverPi) * (x + double(kGeluCubicCoeff) * x * x * x)));
  }
};

// Bits of `want` rounded once to `type`; +0 and -0 compare equal (a sum of signed zeros).
bool SameRounded(const Matrix& got, int64_t r, int64_t c, double want) {
  const double g = got.Get(r, c);
  uint64_t w_bits = 0, g_bits = 0;
  StoreFromDouble(&w_bits, 0, got.type, want);
  std::memcpy(&g_bits, got.bytes.data() + size_t(r * got.ld + c) * DataTypeSize(got.type), DataTypeSize(got.type));
  return g_bits == w_bits || (g == 0.0 && want == 0.0);
}

// Relative precision of one rounding to `type` (half an ulp).
double UnitRoundoff(DataType t) { return t == kBf16 ? 0x1p-8 : t == kF16 ? 0x1p-11 : 0x1p-24; }

// Runs GemmHost on a fresh problem and checks it (exact, or with a GeLU tolerance).
void RunAndCheck(const Case& x, int threads = 0) {
  SCOPED_TRACE(x.Name());
  Problem pr(x, 0x5eed0000 + uint64_t(x.m * 131 + x.n * 17 + x.k));
  ASSERT_TRUE(GemmHost(pr.args, threads).ok());
  const bool gelu = x.epilogue == GemmEpilogue::kBiasGelu;
  int failures = 0;
  for (int64_t i = 0; i < x.m && failures < 5; ++i) {
    for (int64_t j = 0; j < x.n && failures < 5; ++j) {
      const double want = pr.want_d[size_t(i * x.n + j)], pre = pr.want_pre[size_t(i * x.n + j)];
      bool ok;
      if (!gelu) {
        ok = SameRounded(pr.d, i, j, want);
      } else {
        // fp32 GeLU: rounding of the output plus ~1e-6 |pre| from tanh and the cancellation in
        // 1 + tanh for negative inputs.
        const double tol = 2 * UnitRoundoff(x.out) * std::fabs(want) + 1e-5 * (1.0 + std::fabs(pre));
        ok = std::fabs(pr.d.Get(i, j) - want) <= tol;
      }
      if (x.save_pre && !SameRounded(pr.pre, i, j, pre)) ok = false;
      if (!ok) {
        ++failures;
        ADD_FAILURE() << "D[" << i << "][" << j << "] = " << pr.d.Get(i, j) << ", want " << want
                      << (x.save_pre ? " pre = " + std::to_string(pr.pre.Get(i, j)) + " want " + std::to_string(pre) : "");
      }
    }
  }
  EXPECT_TRUE(pr.d.PaddingIntact()) << "D padding was written";
  if (x.save_pre) {
    EXPECT_TRUE(pr.pre.PaddingIntact()) << "pre_activation padding was written";
  }
}

Case Make(int64_t m, int64_t n, int64_t k, DataType in, DataType out, Op op_a, Op op_b, int64_t pad = 0) {
  Case x;
  x.m = m, x.n = n, x.k = k, x.in = in, x.out = out, x.op_a = op_a, x.op_b = op_b, x.pad = pad;
  return x;
}

constexpr Op kOps[] = {Op::kAsIs, Op::kTransposed};
constexpr DataType kInputs[] = {kBf16, kF16};
constexpr DataType kOutputs[] = {kBf16, kF16, kF32};

TEST(GemmHost, AllLayoutsAndTypesExact) {
  for (Op op_a : kOps)
    for (Op op_b : kOps)
      for (DataType in : kInputs)
        for (DataType out : kOutputs) RunAndCheck(Make(67, 45, 131, in, out, op_a, op_b, 3));
}

// Every dimension takes 1, 113, 239, 799 and 1023 (none a multiple of the 64-row, 8-column
// blocks), with layouts, types and padding rotating over the list.
TEST(GemmHost, ShapesExact) {
  const int64_t shapes[][3] = {{1, 1, 1},      {1, 1023, 799},  {1023, 1, 799}, {799, 1023, 1},
                               {113, 239, 799}, {239, 799, 113}, {799, 113, 239}, {1023, 113, 113},
                               {113, 1023, 113}, {113, 113, 1023}, {64, 8, 256},  {65, 9, 257},
                               // K over GemmHost's K block (1024): sums carried across blocks
                               {5, 600, 2100}, {70, 17, 1025}};
  int i = 0;
  for (const auto& s : shapes) {
    RunAndCheck(Make(s[0], s[1], s[2], kInputs[i % 2], kOutputs[i % 3], kOps[i % 4 / 2], kOps[i % 2], i % 3 * 4));
    ++i;
  }
}

TEST(GemmHost, EpiloguesExact) {
  std::vector<Case> cases;
  for (int i = 0; i < 6; ++i) {
    Case x = Make(97, 51, 77, kInputs[i % 2], kOutputs[i % 3], kOps[i / 3 % 2], kOps[(i + 1) % 2], 2);
    Case bias = x;
    bias.epilogue = GemmEpilogue::kBias;
    Case residual = x;
    residual.residual = true;
    Case beta_c = x;  // C separate from D
    beta_c.beta = 1.5f;
    Case beta_d = x;  // C is D, updated in place
    beta_d.beta = -1.0f, beta_d.c_is_d = true;
    Case alpha = x;
    alpha.alpha = 0.5f;
    Case all = x;
    all.alpha = -2.0f, all.beta = 2.0f, all.c_is_d = true, all.epilogue = GemmEpilogue::kBias, all.residual = true;
    cases.insert(cases.end(), {bias, residual, beta_c, beta_d, alpha, all});
  }
  for (const Case& x : cases) RunAndCheck(x);
}

TEST(GemmHost, BiasGeluWithTolerance) {
  for (DataType out : kOutputs) {
    for (int variant = 0; variant < 4; ++variant) {
      Case x = Make(83, 70, 45, variant % 2 ? kF16 : kBf16, out, kOps[variant % 2], kOps[variant / 2], 1);
      x.epilogue = GemmEpilogue::kBiasGelu;
      x.save_pre = variant != 1;
      x.residual = variant >= 2;
      x.beta = variant == 3 ? 1.0f : 0.0f;
      RunAndCheck(x);
    }
  }
}

// beta = 0 (or -0) does not read C, so a C of NaN changes nothing; alpha = 0 still forms A B, so
// an Inf in A reaches D as 0 x Inf = NaN (gemm.h). Neither was pinned: C was given only with
// beta != 0, and "skip the product when alpha = 0" passed every test (QA, session 53).
TEST(GemmHost, BetaZeroIgnoresCAndAlphaZeroStillMultiplies) {
  for (DataType out : kOutputs) {
    Case x = Make(5, 6, 7, kBf16, out, Op::kAsIs, Op::kTransposed);
    SCOPED_TRACE(x.Name());
    Problem pr(x, 11);
    Matrix nan_c(out, x.m, x.n, 0);  // 0xff bytes: NaN in every type
    for (float beta : {0.0f, -0.0f}) {
      pr.args.c = nan_c.data(), pr.args.ldc = nan_c.ld, pr.args.beta = beta;
      ASSERT_TRUE(GemmHost(pr.args, 1).ok());
      for (int64_t i = 0; i < x.m; ++i)
        for (int64_t j = 0; j < x.n; ++j)
          EXPECT_TRUE(SameRounded(pr.d, i, j, pr.want_d[size_t(i * x.n + j)])) << "beta " << beta << " D[" << i << "][" << j << "]";
    }
    pr.args.c = nullptr, pr.args.beta = 0.0f, pr.args.alpha = 0.0f;
    pr.a.Set(0, 0, std::numeric_limits<double>::infinity());
    ASSERT_TRUE(GemmHost(pr.args, 1).ok());
    for (int64_t j = 0; j < x.n; ++j) EXPECT_TRUE(std::isnan(pr.d.Get(0, j))) << "D[0][" << j << "] = " << pr.d.Get(0, j);
    for (int64_t j = 0; j < x.n; ++j) EXPECT_EQ(pr.d.Get(1, j), 0.0) << "D[1][" << j << "]";
  }
}

// GeLU reads the fp32 pre-activation, not the one rounded to the output type for saving (gemm.h;
// the CUDA epilogue does the same). t = -2 - 2^-7 (bf16) or -2 - 2^-10 (fp16) lies half-way
// between two values of the output type, where gelu' ~ -0.085: GeLU of the rounded t is off by
// 3.6 (bf16) or 3.7 (fp16) units of D's rounding, beyond the one rounding allowed here. Made
// exact from small terms: t = a0 b0 + a1 b1 = -2 x 1 + (-delta) x 1, bias 0.
TEST(GemmHost, GeluReadsTheUnroundedPreActivation) {
  for (DataType out : {kBf16, kF16}) {
    const double delta = out == kBf16 ? 0x1p-7 : 0x1p-10;
    Case x = Make(1, 1, 2, kBf16, out, Op::kAsIs, Op::kTransposed);
    x.epilogue = GemmEpilogue::kBiasGelu;
    x.save_pre = true;
    Problem pr(x, 1, /*expect=*/false);
    pr.a.Set(0, 0, -2.0), pr.a.Set(0, 1, -delta);
    pr.b.Set(0, 0, 1.0), pr.b.Set(0, 1, 1.0);
    pr.bias.Set(0, 0, 0.0);
    ASSERT_TRUE(GemmHost(pr.args, 1).ok());
    const double t = -2.0 - delta;
    const double want = Problem::Gelu64(t);
    EXPECT_NEAR(pr.d.Get(0, 0), want, UnitRoundoff(out) * std::fabs(want) + 1e-6) << DataTypeName(out);
    EXPECT_TRUE(SameRounded(pr.pre, 0, 0, t)) << "saved " << pr.pre.Get(0, 0);  // the tie, rounded to even
  }
}

// Random normal inputs: the sums are inexact, so this also checks that the k order (and hence
// every bit) does not depend on the thread count; 799 rows are 13 blocks of 64.
// Many row blocks; and M <= 64 with several K blocks, where the work is split by columns.
TEST(GemmHost, ThreadCountDoesNotChangeBits) {
  const int64_t shapes[][3] = {{799, 131, 517}, {37, 700, 2100}};
  for (const auto& s : shapes) {
    for (GemmEpilogue epi : {GemmEpilogue::kNone, GemmEpilogue::kBiasGelu}) {
      SCOPED_TRACE(testing::Message() << s[0] << "x" << s[1] << "x" << s[2]);
      Case x = Make(s[0], s[1], s[2], kBf16, kF32, Op::kAsIs, Op::kTransposed, 0);
      x.normal = true, x.epilogue = epi, x.save_pre = epi == GemmEpilogue::kBiasGelu;
      std::vector<std::vector<unsigned char>> results;
      for (int threads : {1, 2, 7}) {
        Problem pr(x, 42, /*expect=*/false);
        ASSERT_TRUE(GemmHost(pr.args, threads).ok());
        results.push_back(pr.d.bytes);
        if (x.save_pre) results.back().insert(results.back().end(), pr.pre.bytes.begin(), pr.pre.bytes.end());
      }
      EXPECT_TRUE(results[0] == results[1]) << "threads 1 vs 2";
      EXPECT_TRUE(results[0] == results[2]) << "threads 1 vs 7";
    }
  }
}

// The acceptance size (512^3 bf16; well under a second on 2 cores) against fp64, normal inputs.
TEST(GemmHost, Normal512CubedMatchesFp64) {
  Case x = Make(512, 512, 512, kBf16, kF32, Op::kAsIs, Op::kTransposed, 0);
  x.normal = true;
  Problem pr(x, 7);
  ASSERT_TRUE(GemmHost(pr.args, 0).ok());
  double err = 0.0, ref = 0.0;
  for (int64_t i = 0; i < x.m; ++i) {
    for (int64_t j = 0; j < x.n; ++j) {
      const double w = pr.want_d[size_t(i * x.n + j)];
      err += (pr.d.Get(i, j) - w) * (pr.d.Get(i, j) - w);
      ref += w * w;
    }
  }
  // fp32 accumulation of 512 terms: ~sqrt(512) * 2^-24 relative; 1e-5 leaves a wide margin.
  EXPECT_LT(std::sqrt(err / ref), 1e-5);
}

TEST(GemmHost, BadArgumentsNameTheField) {
  Problem pr(Make(8, 8, 113, kBf16, kBf16, Op::kAsIs, Op::kTransposed), 1);
  const GemmArgs good = pr.args;
  ASSERT_TRUE(ValidateGemm(good).ok());
  EXPECT_EQ(GemmCudaWorkspaceBytes(good), 0u);

  GemmArgs args = good;
  args.lda = 100;
  Status s = ValidateGemm(args);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), "GemmArgs.lda = 100 is less than K = 113 (op_a = kAsIs stores A as M x K)");
  s = GemmHost(args, 1);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("GemmArgs.lda = 100"), std::string::npos) << s.message();

  auto expect_bad = [](const GemmArgs& bad, const std::string& needle) {
    Status st = GemmHost(bad, 1);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << needle;
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  args = good, args.m = 0;
  expect_bad(args, "GemmArgs.m = 0");
  args = good, args.k = int64_t{1} << 31;
  expect_bad(args, "GemmArgs.k = 2147483648");
  // One below 2^31 would overflow the kernels' int tile arithmetic when rounded up to a tile.
  args = good, args.n = kGemmMaxDim + 1;
  expect_bad(args, "GemmArgs.n = 2147483392 is out of range (allowed: 1 <= n <= 2147483391, 2^31 - 257)");
  args = good, args.input_type = kF32;
  expect_bad(args, "GemmArgs.input_type = float32");
  args = good, args.output_type = DataType::kInt8;
  expect_bad(args, "GemmArgs.output_type");
  args = good, args.ldb = 112;
  expect_bad(args, "GemmArgs.ldb = 112 is less than K = 113");
  args = good, args.ldd = 7;
  expect_bad(args, "GemmArgs.ldd = 7");
  args = good, args.d = nullptr;
  expect_bad(args, "GemmArgs.d is null");
  args = good, args.beta = 1.0f;
  expect_bad(args, "GemmArgs.c is null");
  args.c = args.d, args.ldc = args.ldd + 1;
  expect_bad(args, "GemmArgs.ldc");
  args = good, args.epilogue = GemmEpilogue::kBias;
  expect_bad(args, "GemmArgs.bias is null");
  args.bias = pr.a.data(), args.pre_activation = pr.a.data();
  expect_bad(args, "GemmArgs.pre_activation is set");
  args = good, args.a = pr.d.data();
  expect_bad(args, "overlaps GemmArgs.a = ");
  // Every pointer aligned to its element size (the kernels move whole elements).
  args = good, args.a = reinterpret_cast<const char*>(good.a) + 1;
  expect_bad(args, "GemmArgs.a = ");
  expect_bad(args, "is not aligned to its element size (2 bytes)");
  // A value as tiny as beta = 1e-10 is printed as it is, not rounded to 0.000000.
  args = good, args.beta = 1e-10f;
  expect_bad(args, "GemmArgs.c is null but beta = 1e-10 ");
  Status threads = GemmHost(good, -1);
  EXPECT_EQ(threads.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(threads.message().find("threads = -1"), std::string::npos) << threads.message();
}

#if !defined(BRAID_HAVE_CUDA)
TEST(GemmHost, CudaEntryPointsReportNoCuda) {
  Problem pr(Make(8, 8, 8, kBf16, kBf16, Op::kAsIs, Op::kTransposed), 1);
  EXPECT_EQ(GemmCuda(pr.args, nullptr, 0, nullptr).code(), StatusCode::kUnsupported);
  // Bad arguments are named first, as in a CUDA build.
  EXPECT_EQ(GemmCuda(GemmArgs{}, nullptr, 0, nullptr).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(GemmCudaKernelName(pr.args), "none (built without CUDA)");
}
#endif

}  // namespace
}  // namespace braid::kernels
