// Host reduction kernels and narrow-float conversions (include/braid/kernels/reduce.h).
//
// References are independent of the implementation: formats are decoded with ldexp from their
// definitions and rounded by nearest-value search over every finite value; reductions are
// computed in double (exact for sum/prod of fp32-representable inputs, then rounded once to
// fp32 as the contract says) and integers in __int128 then wrapped.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "braid/kernels/reduce.h"
#include "braid/types.h"
#include "kernels/reduce/batch_convert.h"
#include "tests/common/element_compare.h"

namespace braid::kernels {
namespace {

using namespace braid::testing;  // element lists and comparison (tests/common/element_compare.h)

// ---- format reference -------------------------------------------------------------------------

struct Format {
  int exp_bits;
  int man_bits;
  bool finite_only;  // e4m3: no Inf, S.1111.111 NaN, saturating
  uint32_t Width() const { return 1 + exp_bits + man_bits; }
  int Bias() const { return (1 << (exp_bits - 1)) - 1; }
  uint32_t SignBit() const { return 1u << (exp_bits + man_bits); }
  uint32_t InfCode() const { return ((1u << exp_bits) - 1) << man_bits; }

  double Decode(uint32_t code) const {
    double sign = (code & SignBit()) ? -1.0 : 1.0;
    uint32_t e = (code >> man_bits) & ((1u << exp_bits) - 1);
    uint32_t f = code & ((1u << man_bits) - 1);
    if (finite_only && e == (1u << exp_bits) - 1 && f == (1u << man_bits) - 1) return kNaN;
    if (!finite_only && e == (1u << exp_bits) - 1) return f ? kNaN : sign * INFINITY;
    if (e == 0) return sign * std::ldexp(f, 1 - Bias() - man_bits);
    return sign * std::ldexp((1u << man_bits) + f, int(e) - Bias() - man_bits);
  }

  // Round-to-nearest-even of x by searching all finite non-negative values.
  uint32_t Round(double x, const std::vector<std::pair<double, uint32_t>>& table) const {
    if (std::isnan(x)) return SignBit() - 1;  // canonical positive all-ones NaN
    uint32_t sign = std::signbit(x) ? SignBit() : 0;
    double a = std::fabs(x);
    const auto& top = table.back();
    if (finite_only && a >= top.first) return sign | top.second;
    // IEEE-like: Inf acts as the next value after the max, 2^(emax+1), with an even code.
    double inf_value = std::ldexp(1.0, (1 << exp_bits) - 1 - Bias());
    auto it = std::upper_bound(table.begin(), table.end(), a,
                               [](double v, const auto& e) { return v < e.first; });
    auto lo = *(it - 1);
    auto hi = it == table.end() ? std::pair<double, uint32_t>{inf_value, InfCode()} : *it;
    if (!finite_only && a >= inf_value) return sign | InfCode();
    double dlo = a - lo.first, dhi = hi.first - a;
    if (dlo < dhi || (dlo == dhi && (lo.second & 1) == 0)) return sign | lo.second;
    return sign | hi.second;
  }

  std::vector<std::pair<double, uint32_t>> Table() const {
    std::vector<std::pair<double, uint32_t>> t;
    for (uint32_t c = 0; c < SignBit(); ++c) {
      double v = Decode(c);
      if (std::isfinite(v)) t.push_back({v, c});
    }
    return t;  // codes ascend with value for non-negative numbers
  }
};

constexpr Format kHalf{5, 10, false};
constexpr Format kBf16{8, 7, false};
constexpr Format kE4M3{4, 3, true};
constexpr Format kE5M2{5, 2, false};

struct FormatCase {
  const char* name;
  Format format;
  DataType type;
  float (*widen)(uint32_t);
  uint32_t (*narrow)(float);
};
const FormatCase kFormats[] = {
    {"fp16", kHalf, DataType::kFloat16, [](uint32_t b) { return HalfToFloat(uint16_t(b)); },
     [](float v) -> uint32_t { return FloatToHalf(v); }},
    {"bf16", kBf16, DataType::kBfloat16, [](uint32_t b) { return Bfloat16ToFloat(uint16_t(b)); },
     [](float v) -> uint32_t { return FloatToBfloat16(v); }},
    {"e4m3", kE4M3, DataType::kFloat8e4m3, [](uint32_t b) { return Fp8E4M3ToFloat(uint8_t(b)); },
     [](float v) -> uint32_t { return FloatToFp8E4M3(v); }},
    {"e5m2", kE5M2, DataType::kFloat8e5m2, [](uint32_t b) { return Fp8E5M2ToFloat(uint8_t(b)); },
     [](float v) -> uint32_t { return FloatToFp8E5M2(v); }},
};

// Widening against the definition, and narrowing back, for every code.
TEST(ReduceConversions, EveryCodeWidensExactlyAndRoundTrips) {
  for (const auto& fc : kFormats) {
    for (uint32_t c = 0; c < (1u << fc.format.Width()); ++c) {
      double want = fc.format.Decode(c);
      float got = fc.widen(c);
      if (std::isnan(want)) {
        ASSERT_TRUE(std::isnan(got)) << fc.name << " code " << c;
        EXPECT_EQ(fc.narrow(got), fc.format.SignBit() - 1) << fc.name << " NaN code " << c;
      } else {
        ASSERT_TRUE(got == want && std::signbit(got) == std::signbit(want))
            << fc.name << " code " << c << " got " << got << " want " << want;
        ASSERT_EQ(fc.narrow(got), c) << fc.name;
      }
    }
  }
}

TEST(ReduceConversions, NarrowingMatchesNearestEvenSearch) {
  std::mt19937_64 rng(1);
  for (const auto& fc : kFormats) {
    auto table = fc.format.Table();
    std::vector<float> probes;
    // Every midpoint between neighbours (ties) and the floats just around it.
    for (size_t i = 0; i + 1 < table.size(); ++i) {
      float mid = static_cast<float>((table[i].first + table[i + 1].first) / 2);
      for (float p : {mid, std::nextafter(mid, 0.f), std::nextafter(mid, INFINITY)}) {
        probes.push_back(p);
        probes.push_back(-p);
      }
    }
    for (int i = 0; i < 400000; ++i) probes.push_back(std::bit_cast<float>(uint32_t(rng())));
    double limit = std::min(1.1 * table.back().first, double(std::numeric_limits<float>::max()));
    std::uniform_real_distribution<double> in_range(-limit, limit);
    for (int i = 0; i < 400000; ++i) probes.push_back(static_cast<float>(in_range(rng)));
    for (float p : {0.f, -0.f, INFINITY, -INFINITY, 1e-45f, -1e-45f, 3.4e38f, 65520.f, 65519.f})
      probes.push_back(p);
    for (float p : probes) {
      ASSERT_EQ(fc.narrow(p), fc.format.Round(p, table)) << fc.name << " value " << p;
    }
    // StoreFromDouble rounds doubles directly (no double rounding through fp32).
    uint8_t out[2];
    for (int i = 0; i < 200000; ++i) {
      double d = std::bit_cast<double>(uint64_t(rng()));
      if (i % 2) d = std::ldexp(double(int64_t(rng() >> 11)), -60 + int(rng() % 60));
      StoreFromDouble(out, 0, fc.type, d);
      uint32_t got = fc.format.Width() == 16 ? uint32_t(out[0] | out[1] << 8) : out[0];
      ASSERT_EQ(got, fc.format.Round(d, table)) << fc.name << " double " << d;
    }
  }
}

// Every code of each narrow format through the batch paths (vectorised loops, F16C).
TEST(ReduceConversions, BatchPathsMatchScalarForEveryCode) {
  for (const auto& fc : kFormats) {
    size_t codes = size_t{1} << fc.format.Width(), size = fc.format.Width() / 8;
    std::vector<uint8_t> src(codes * size), out(codes * size);
    for (size_t c = 0; c < codes; ++c) std::memcpy(&src[c * size], &c, size);  // little endian
    for (float s : {1.f, 0.75f, 3.f, 1e-3f, 1e5f}) {
      ScaleHost(out.data(), src.data(), codes, fc.type, s);
      for (uint32_t c = 0; c < codes; ++c) {
        uint32_t got = 0;
        std::memcpy(&got, &out[c * size], size);
        ASSERT_EQ(got, fc.narrow(fc.widen(c) * s)) << fc.name << " code " << c << " x " << s;
      }
    }
  }
}

// The scalar fp16 widening and the F16C batch path give the same bits for every code, NaNs
// included (a signalling NaN comes out quiet from both).
TEST(ReduceConversions, HalfWideningMatchesF16cForEveryCode) {
  EXPECT_EQ(std::bit_cast<uint32_t>(HalfToFloat(0x7c01)), 0x7fc02000u);
  EXPECT_EQ(std::bit_cast<uint32_t>(HalfToFloat(0xfdff)), 0xffffe000u);
#if defined(__x86_64__) || defined(__i386__)
  if (!detail::CpuHasF16c()) GTEST_SKIP() << "no F16C on this CPU";
  std::vector<uint16_t> codes(65536);
  for (uint32_t c = 0; c < codes.size(); ++c) codes[c] = uint16_t(c);
  std::vector<float> hw(codes.size());
  detail::WidenHalfF16c(hw.data(), codes.data(), codes.size());
  for (uint32_t c = 0; c < codes.size(); ++c) {
    ASSERT_EQ(std::bit_cast<uint32_t>(HalfToFloat(uint16_t(c))), std::bit_cast<uint32_t>(hw[c]))
        << "code 0x" << std::hex << c;
  }
#else
  GTEST_SKIP() << "F16C is x86 only";
#endif
}

TEST(ReduceConversions, KnownValues) {
  EXPECT_EQ(FloatToHalf(65520.f), 0x7c00);
  EXPECT_EQ(FloatToHalf(65519.f), 0x7bff);
  EXPECT_EQ(FloatToHalf(65504.f), 0x7bff);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.f, -24)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.f, -25)), 0x0000);  // tie to even (zero)
  EXPECT_EQ(FloatToHalf(std::ldexp(3.f, -25)), 0x0002);  // 1.5 ulp: tie to even (2)
  EXPECT_EQ(FloatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(FloatToHalf(-0.f), 0x8000);
  EXPECT_EQ(FloatToHalf(NAN), 0x7fff);
  EXPECT_EQ(HalfToFloat(0x3c00), 1.f);
  EXPECT_EQ(FloatToBfloat16(1.f + std::ldexp(1.f, -8)), 0x3f80);
  EXPECT_EQ(FloatToBfloat16(1.f + 3 * std::ldexp(1.f, -8)), 0x3f82);
  EXPECT_EQ(FloatToBfloat16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(FloatToBfloat16(NAN), 0x7fff);
  EXPECT_EQ(FloatToFp8E4M3(448.f), 0x7e);
  EXPECT_EQ(FloatToFp8E4M3(500.f), 0x7e);
  EXPECT_EQ(FloatToFp8E4M3(-1e30f), 0xfe);
  EXPECT_EQ(FloatToFp8E4M3(INFINITY), 0x7e);
  EXPECT_EQ(FloatToFp8E4M3(NAN), 0x7f);
  EXPECT_TRUE(std::isnan(Fp8E4M3ToFloat(0x7f)));
  EXPECT_TRUE(std::isnan(Fp8E4M3ToFloat(0xff)));
  EXPECT_EQ(Fp8E4M3ToFloat(0x7e), 448.f);
  EXPECT_EQ(Fp8E4M3ToFloat(0x01), std::ldexp(1.f, -9));
  EXPECT_EQ(FloatToFp8E5M2(57344.f), 0x7b);
  EXPECT_EQ(FloatToFp8E5M2(61440.f), 0x7c);
  EXPECT_EQ(FloatToFp8E5M2(NAN), 0x7f);
  EXPECT_EQ(Fp8E5M2ToFloat(0x7c), INFINITY);
  EXPECT_EQ(Fp8E5M2ToFloat(0x01), std::ldexp(1.f, -16));
  // Double -> half rounds once: 1 + 2^-11 + 2^-40 is above the tie although fp32 would drop it.
  uint16_t h;
  StoreFromDouble(&h, 0, DataType::kFloat16, 1.0 + std::ldexp(1.0, -11) + std::ldexp(1.0, -40));
  EXPECT_EQ(h, 0x3c01);
}

TEST(ReduceConversions, IntegerLoadStore) {
  int64_t i64 = 0;
  StoreFromDouble(&i64, 0, DataType::kInt64, 1e30);
  EXPECT_EQ(i64, std::numeric_limits<int64_t>::max());
  StoreFromDouble(&i64, 0, DataType::kInt64, -2.5);
  EXPECT_EQ(i64, -2);  // nearest, ties to even
  uint8_t u8 = 7;
  StoreFromDouble(&u8, 0, DataType::kUint8, -3.0);
  EXPECT_EQ(u8, 0);
  StoreFromDouble(&u8, 0, DataType::kUint8, 300.0);
  EXPECT_EQ(u8, 255);
  StoreFromDouble(&u8, 0, DataType::kUint8, kNaN);
  EXPECT_EQ(u8, 0);
  int8_t i8 = -128;
  EXPECT_EQ(LoadAsDouble(&i8, 0, DataType::kInt8), -128.0);
  uint64_t u64 = uint64_t{1} << 63;
  EXPECT_EQ(LoadAsDouble(&u64, 0, DataType::kUint64), std::ldexp(1.0, 63));
}

// ---- reductions against references ------------------------------------------------------------

std::vector<uint8_t> RandomData(DataType t, size_t n, std::mt19937_64& rng) {
  size_t size = DataTypeSize(t);
  std::vector<uint8_t> v(n * size);
  for (auto& byte : v) byte = uint8_t(rng());
  if (t == DataType::kFloat32 || t == DataType::kFloat64 || t == DataType::kFloat16 ||
      t == DataType::kBfloat16) {
    // Half the elements moderate values (so sums and products stay finite and round);
    // the rest keep random bits (NaN, Inf, subnormals, extremes).
    std::uniform_real_distribution<double> moderate(-100.0, 100.0);
    for (size_t i = 0; i < n; i += 2) StoreFromDouble(v.data(), i, t, moderate(rng));
  }
  return v;
}

void StoreIntWrapped(void* p, size_t i, DataType t, __int128 v) {
  uint64_t low = static_cast<uint64_t>(v);  // two's complement: the low bytes are v mod 2^bits
  size_t size = DataTypeSize(t);
  std::memcpy(static_cast<char*>(p) + i * size, &low, size);
}

// Expected result of one element: fp values rounded to compute precision, then to the type.
void ReferenceElement(void* out, size_t i, DataType t, RedOpKind op, const void* a,
                      const void* b) {
  if (!IsFloatingPoint(t)) {
    __int128 x = LoadInt(a, i, t), y = LoadInt(b, i, t);
    __int128 r = op == RedOpKind::kProd ? __int128(uint64_t(x) * uint64_t(y))
                 : op == RedOpKind::kMax ? std::max(x, y)
                 : op == RedOpKind::kMin ? std::min(x, y)
                                         : x + y;
    return StoreIntWrapped(out, i, t, r);
  }
  double x = LoadAsDouble(a, i, t), y = LoadAsDouble(b, i, t);
  double r = op == RedOpKind::kProd ? x * y
             : op == RedOpKind::kMax ? (std::isnan(x) || std::isnan(y) ? kNaN : std::max(x, y))
             : op == RedOpKind::kMin ? (std::isnan(x) || std::isnan(y) ? kNaN : std::min(x, y))
                                     : x + y;
  StoreFromDouble(out, i, t, RoundToCompute(t, r));
}

enum class Alias { kNone, kDstIsA, kDstIsB, kAllSame };

class ReduceTypeTest : public ::testing::TestWithParam<DataType> {};

TEST_P(ReduceTypeTest, EveryOpSizeAndAliasingMatchesReference) {
  DataType t = GetParam();
  size_t size = DataTypeSize(t);
  std::mt19937_64 rng(42 + int(t));
  for (RedOpKind op : kAllOps) {
    for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}, size_t{100003}}) {
      for (Alias alias : {Alias::kNone, Alias::kDstIsA, Alias::kDstIsB, Alias::kAllSame}) {
        auto a = RandomData(t, n, rng);
        auto b = alias == Alias::kAllSame ? a : RandomData(t, n, rng);
        std::vector<uint8_t> want(n * size), out(n * size, 0xcd);
        for (size_t i = 0; i < n; ++i) ReferenceElement(want.data(), i, t, op, a.data(), b.data());
        void* dst = alias == Alias::kDstIsA || alias == Alias::kAllSame ? a.data()
                    : alias == Alias::kDstIsB                           ? b.data()
                                                                        : out.data();
        const void* pb = alias == Alias::kAllSame ? a.data() : b.data();
        ReduceHost(dst, a.data(), pb, n, t, op);
        size_t first = 0;
        size_t bad = CountMismatches(dst, want.data(), n, t, Match::kValues, &first);
        ASSERT_EQ(bad, 0u) << DataTypeName(t) << " " << RedOpName(op) << " n=" << n
                           << " alias=" << int(alias) << " first bad index " << first;
      }
    }
  }
}

// Aliasing changes no bit of the result: the kernel keeps the order op(a, b) when dst is b, so
// which signed zero (or NaN payload) min, max and sum return does not depend on where it writes.
// The value comparison above takes +0 for -0 and any NaN for any NaN, so a swapped order passed
// it (QA, session 53). Random bit patterns (NaNs with payloads among them) and signed zeros.
TEST_P(ReduceTypeTest, AliasingChangesNoBit) {
  const DataType t = GetParam();
  const size_t size = DataTypeSize(t), n = 4099;
  std::mt19937_64 rng(99 + int(t));
  std::vector<uint8_t> a(n * size), b(n * size);
  for (uint8_t& byte : a) byte = uint8_t(rng());
  for (uint8_t& byte : b) byte = uint8_t(rng());
  if (IsFloatingPoint(t)) {
    StoreFromDouble(a.data(), 0, t, 0.0), StoreFromDouble(b.data(), 0, t, -0.0);
    StoreFromDouble(a.data(), 1, t, -0.0), StoreFromDouble(b.data(), 1, t, 0.0);
  }
  for (RedOpKind op : kAllOps) {
    std::vector<uint8_t> fresh(n * size), into_a = a, into_b = b;
    ReduceHost(fresh.data(), a.data(), b.data(), n, t, op);
    ReduceHost(into_a.data(), into_a.data(), b.data(), n, t, op);
    ReduceHost(into_b.data(), a.data(), into_b.data(), n, t, op);
    EXPECT_TRUE(into_a == fresh) << DataTypeName(t) << " " << RedOpName(op) << ": dst = a differs";
    EXPECT_TRUE(into_b == fresh) << DataTypeName(t) << " " << RedOpName(op) << ": dst = b differs";
  }
}

// Buffers not aligned to the element (a collective's user buffer need only be element-sized) give
// the bits of aligned ones, under every aliasing, for reductions, scaling and division. (Typed
// accesses through them were undefined behaviour; they now run through aligned blocks or
// byte-wise loads; QA, session 55.) 4099 elements span several 4 KiB blocks.
TEST_P(ReduceTypeTest, MisalignedBuffersGiveTheBitsOfAlignedOnes) {
  const DataType t = GetParam();
  const size_t size = DataTypeSize(t), n = 4099, bytes = n * size;
  std::mt19937_64 rng(7 + int(t));
  std::vector<uint8_t> a(bytes), b(bytes);
  for (uint8_t& byte : a) byte = uint8_t(rng());
  for (uint8_t& byte : b) byte = uint8_t(rng());
  // Misaligned copies: one byte past an aligned start.
  std::vector<uint8_t> space_a(bytes + 16), space_b(bytes + 16), space_d(bytes + 16);
  uint8_t *ma = space_a.data() + 1, *mb = space_b.data() + 1, *md = space_d.data() + 1;
  for (RedOpKind op : kAllOps) {
    std::vector<uint8_t> want(bytes), want_self(bytes);
    ReduceHost(want.data(), a.data(), b.data(), n, t, op);
    ReduceHost(want_self.data(), a.data(), a.data(), n, t, op);
    const auto got = [&](uint8_t* p) { return std::vector<uint8_t>(p, p + bytes); };
    std::memcpy(ma, a.data(), bytes), std::memcpy(mb, b.data(), bytes);
    ReduceHost(md, ma, mb, n, t, op);
    EXPECT_TRUE(got(md) == want) << DataTypeName(t) << " " << RedOpName(op) << ": separate";
    ReduceHost(ma, ma, mb, n, t, op);
    EXPECT_TRUE(got(ma) == want) << DataTypeName(t) << " " << RedOpName(op) << ": dst = a";
    std::memcpy(ma, a.data(), bytes);
    ReduceHost(mb, ma, mb, n, t, op);
    EXPECT_TRUE(got(mb) == want) << DataTypeName(t) << " " << RedOpName(op) << ": dst = b";
    ReduceHost(md, ma, ma, n, t, op);
    EXPECT_TRUE(got(md) == want_self) << DataTypeName(t) << " " << RedOpName(op) << ": a = b";
  }
  std::vector<uint8_t> scaled(bytes), divided(bytes);
  ScaleHost(scaled.data(), a.data(), n, t, 3.0);
  DivideHost(divided.data(), a.data(), n, t, 3);
  std::memcpy(ma, a.data(), bytes);
  ScaleHost(md, ma, n, t, 3.0);
  EXPECT_TRUE(std::vector<uint8_t>(md, md + bytes) == scaled) << DataTypeName(t) << ": scale";
  DivideHost(ma, ma, n, t, 3);
  EXPECT_TRUE(std::vector<uint8_t>(ma, ma + bytes) == divided) << DataTypeName(t) << ": divide in place";
}

TEST_P(ReduceTypeTest, ScaleAndDivideMatchReference) {
  DataType t = GetParam();
  size_t size = DataTypeSize(t);
  std::mt19937_64 rng(7 + int(t));
  const size_t n = 10007;
  for (double scalar : {3.0, -2.0, 0.5, 2.9, 0.0}) {
    for (bool in_place : {false, true}) {
      auto src = RandomData(t, n, rng);
      std::vector<uint8_t> want(n * size), out(n * size);
      for (size_t i = 0; i < n; ++i) {
        if (IsFloatingPoint(t)) {
          double s = RoundToCompute(t, scalar);
          StoreFromDouble(want.data(), i, t, RoundToCompute(t, LoadAsDouble(src.data(), i, t) * s));
        } else {
          auto s = static_cast<__int128>(std::trunc(scalar));
          StoreIntWrapped(want.data(), i, t, __int128(uint64_t(LoadInt(src.data(), i, t) * s)));
        }
      }
      void* dst = in_place ? src.data() : out.data();
      ScaleHost(dst, src.data(), n, t, scalar);
      size_t first = 0;
      EXPECT_EQ(CountMismatches(dst, want.data(), n, t, Match::kValues, &first), 0u)
          << DataTypeName(t) << " scale " << scalar << " first bad " << first;
    }
  }
  for (uint64_t divisor : {uint64_t{1}, uint64_t{3}, uint64_t{7}, uint64_t{200},
                           uint64_t{1} << 31, uint64_t{1} << 63, ~uint64_t{0}}) {
    auto src = RandomData(t, n, rng);
    if (!IsFloatingPoint(t)) StoreIntWrapped(src.data(), 0, t, -(__int128{1} << (size * 8 - 1)));
    std::vector<uint8_t> want(n * size), out(n * size);
    for (size_t i = 0; i < n; ++i) {
      if (IsFloatingPoint(t)) {
        double x = LoadAsDouble(src.data(), i, t);
        StoreFromDouble(want.data(), i, t, RoundToCompute(t, x / RoundToCompute(t, double(divisor))));
      } else {
        StoreIntWrapped(want.data(), i, t, LoadInt(src.data(), i, t) / __int128(divisor));
      }
    }
    DivideHost(out.data(), src.data(), n, t, divisor);
    size_t first = 0;
    EXPECT_EQ(CountMismatches(out.data(), want.data(), n, t, Match::kValues, &first), 0u)
        << DataTypeName(t) << " divide " << divisor << " first bad " << first;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceTypeTest, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(DataTypeName(info.param)); });

// Above the threading threshold (4 Mi elements) the work is split; results must not change.
TEST(ReduceHostLarge, SplitAcrossThreadsMatchesReference) {
  std::mt19937_64 rng(3);
  const size_t n = (size_t{1} << 22) + 3;  // 2 workers where 2+ cores
  for (DataType t : {DataType::kFloat32, DataType::kBfloat16, DataType::kInt8}) {
    auto a = RandomData(t, n, rng), b = RandomData(t, n, rng);
    std::vector<uint8_t> want(a.size());
    for (size_t i = 0; i < n; ++i)
      ReferenceElement(want.data(), i, t, RedOpKind::kSum, a.data(), b.data());
    ReduceHost(a.data(), a.data(), b.data(), n, t, RedOpKind::kSum);
    size_t first = 0;
    EXPECT_EQ(CountMismatches(a.data(), want.data(), n, t, Match::kValues, &first), 0u) << DataTypeName(t);
  }
}

// ---- NaN / Inf / saturation / wrap --------------------------------------------------------------

template <typename T>
T ReduceOne(T a, T b, DataType t, RedOpKind op) {
  T out;
  ReduceHost(&out, &a, &b, 1, t, op);
  return out;
}

TEST(ReduceSpecialValues, NaNAndInf) {
  float nan = NAN, inf = INFINITY;
  EXPECT_TRUE(std::isnan(ReduceOne(nan, 1.f, DataType::kFloat32, RedOpKind::kSum)));
  EXPECT_TRUE(std::isnan(ReduceOne(nan, 1.f, DataType::kFloat32, RedOpKind::kMax)));
  EXPECT_TRUE(std::isnan(ReduceOne(1.f, nan, DataType::kFloat32, RedOpKind::kMax)));
  EXPECT_TRUE(std::isnan(ReduceOne(1.f, nan, DataType::kFloat32, RedOpKind::kMin)));
  EXPECT_TRUE(std::isnan(ReduceOne(double(nan), 1.0, DataType::kFloat64, RedOpKind::kMin)));
  EXPECT_TRUE(std::isnan(ReduceOne(inf, -inf, DataType::kFloat32, RedOpKind::kSum)));
  EXPECT_EQ(ReduceOne<uint16_t>(0x7c00, 0xfc00, DataType::kFloat16, RedOpKind::kSum), 0x7fff);
  uint16_t bf_one = FloatToBfloat16(1.f);
  EXPECT_EQ(ReduceOne<uint16_t>(0x7fc0, bf_one, DataType::kBfloat16, RedOpKind::kMax), 0x7fff);
  EXPECT_EQ(ReduceOne<uint16_t>(bf_one, 0xffc1, DataType::kBfloat16, RedOpKind::kMin), 0x7fff);
  uint16_t h60k = FloatToHalf(60000.f);
  EXPECT_EQ(ReduceOne(h60k, h60k, DataType::kFloat16, RedOpKind::kSum), 0x7c00);
  uint8_t e400 = FloatToFp8E4M3(400.f);
  EXPECT_EQ(ReduceOne(e400, e400, DataType::kFloat8e4m3, RedOpKind::kSum), 0x7e);
  EXPECT_EQ(ReduceOne<uint8_t>(0xfe, 0xfe, DataType::kFloat8e4m3, RedOpKind::kSum), 0xfe);
  EXPECT_EQ(ReduceOne(uint8_t(0x7f), uint8_t(0x38), DataType::kFloat8e4m3, RedOpKind::kSum), 0x7f);
  uint8_t e5max = FloatToFp8E5M2(57344.f);
  EXPECT_EQ(ReduceOne(e5max, e5max, DataType::kFloat8e5m2, RedOpKind::kSum), 0x7c);
}

TEST(ReduceSpecialValues, IntegerWrap) {
  EXPECT_EQ(ReduceOne<int8_t>(127, 1, DataType::kInt8, RedOpKind::kSum), -128);
  EXPECT_EQ(ReduceOne<int8_t>(-128, -1, DataType::kInt8, RedOpKind::kSum), 127);
  EXPECT_EQ(ReduceOne<uint8_t>(200, 100, DataType::kUint8, RedOpKind::kSum), 44);
  EXPECT_EQ(ReduceOne<uint32_t>(0x10000u, 0x10001u, DataType::kUint32, RedOpKind::kProd), 0x10000u);
  EXPECT_EQ(ReduceOne<int32_t>(65536, 65536, DataType::kInt32, RedOpKind::kProd), 0);
  EXPECT_EQ(ReduceOne<int64_t>(std::numeric_limits<int64_t>::max(), 1, DataType::kInt64,
                               RedOpKind::kSum),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(ReduceOne<int8_t>(-5, 3, DataType::kInt8, RedOpKind::kMax), 3);
  EXPECT_EQ(ReduceOne<uint64_t>(~0ull, 1, DataType::kUint64, RedOpKind::kMin), 1u);
}

TEST(ReduceSpecialValues, NarrowTypesRoundOnceFromFp32) {
  // bf16: 1 + 2^-7 (0x3f81) plus 2^-8 (0x3b80) = 1 + 3*2^-8 exactly in fp32; RNE -> 0x3f82.
  EXPECT_EQ(ReduceOne<uint16_t>(0x3f81, 0x3b80, DataType::kBfloat16, RedOpKind::kSum), 0x3f82);
  // 1 + 2^-8: tie -> even 0x3f80.
  EXPECT_EQ(ReduceOne<uint16_t>(0x3f80, 0x3b80, DataType::kBfloat16, RedOpKind::kSum), 0x3f80);
  std::mt19937_64 rng(9);
  for (int i = 0; i < 100000; ++i) {
    uint16_t x = FloatToBfloat16(std::ldexp(float(rng() % 1000), -int(rng() % 12)));
    uint16_t y = FloatToBfloat16(std::ldexp(float(rng() % 1000), -int(rng() % 12)));
    float exact = Bfloat16ToFloat(x) + Bfloat16ToFloat(y);
    ASSERT_EQ(ReduceOne(x, y, DataType::kBfloat16, RedOpKind::kSum), FloatToBfloat16(exact));
    uint16_t hx = FloatToHalf(Bfloat16ToFloat(x)), hy = FloatToHalf(Bfloat16ToFloat(y));
    float prod = HalfToFloat(hx) * HalfToFloat(hy);
    ASSERT_EQ(ReduceOne(hx, hy, DataType::kFloat16, RedOpKind::kProd), FloatToHalf(prod));
  }
}

TEST(ReduceSpecialValues, ZeroCountAcceptsNullPointers) {
  ReduceHost(nullptr, nullptr, nullptr, 0, DataType::kFloat32, RedOpKind::kSum);
  ScaleHost(nullptr, nullptr, 0, DataType::kFloat16, 2.0);
  DivideHost(nullptr, nullptr, 0, DataType::kInt32, 3);
}

}  // namespace
}  // namespace braid::kernels
