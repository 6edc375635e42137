// ReduceManyHost (include/braid/kernels/reduce.h): N-input reduction on the CPU.
//
// The reference here is independent of the kernel's code: every value is loaded as a double,
// sources are combined left to right in double and rounded to the compute precision after each
// step (fp32 for every type but fp64; for + and x, rounding an exact-enough double to fp32 gives
// the correctly rounded fp32 result), and the final value is rounded once to the element type
// (StoreFromDouble, itself checked against a nearest-value search in reduce_test.cc). Integers
// accumulate in 64-bit unsigned arithmetic (wrap) or compare as signed/unsigned values.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/reduce.h"
#include "braid/kernels/reduce_cuda.h"
#include "braid/types.h"
#include "tests/common/element_compare.h"
#include "tests/common/random_elements.h"

namespace braid::kernels {
namespace {

using namespace braid::testing;  // element lists and comparison (tests/common/element_compare.h)

using Bytes = std::vector<uint8_t>;

Bytes RandomData(DataType t, size_t n, std::mt19937_64& rng) {
  return ::braid::testing::RandomElements(t, n, rng);
}

// Element i of the expected result, written to out.
void ReferenceElement(void* out, size_t i, DataType t, RedOpKind op,
                      const std::vector<const void*>& srcs) {
  size_t size = DataTypeSize(t);
  if (!IsFloatingPoint(t)) {
    __int128 acc = LoadInt(srcs[0], i, t);
    for (size_t k = 1; k < srcs.size(); ++k) {
      __int128 x = LoadInt(srcs[k], i, t);
      switch (op) {
        case RedOpKind::kProd: acc = static_cast<__int128>(uint64_t(acc) * uint64_t(x)); break;
        case RedOpKind::kMax: acc = x > acc ? x : acc; break;
        case RedOpKind::kMin: acc = x < acc ? x : acc; break;
        default: acc = static_cast<__int128>(uint64_t(acc) + uint64_t(x)); break;
      }
    }
    uint64_t low = static_cast<uint64_t>(acc);  // two's complement: low bytes = acc mod 2^bits
    std::memcpy(static_cast<char*>(out) + i * size, &low, size);
    return;
  }
  double acc = RoundToCompute(t, LoadAsDouble(srcs[0], i, t));
  for (size_t k = 1; k < srcs.size(); ++k) {
    double x = LoadAsDouble(srcs[k], i, t);
    double r;
    switch (op) {
      case RedOpKind::kProd: r = acc * x; break;
      // NaN anywhere gives NaN; otherwise the accumulator is kept on ties (signed zeros).
      case RedOpKind::kMax:
        r = std::isnan(acc) || std::isnan(x) ? kNaN : (x > acc ? x : acc);
        break;
      case RedOpKind::kMin:
        r = std::isnan(acc) || std::isnan(x) ? kNaN : (x < acc ? x : acc);
        break;
      default: r = acc + x; break;
    }
    acc = RoundToCompute(t, r);
  }
  StoreFromDouble(out, i, t, acc);
}

enum class Alias { kNone, kDstIsFirst, kDstIsLast, kRepeatedSource };

class ReduceManyTypeTest : public ::testing::TestWithParam<DataType> {};

TEST_P(ReduceManyTypeTest, EveryOpCountAndSourceCountMatchesReference) {
  const DataType t = GetParam();
  const size_t size = DataTypeSize(t);
  std::mt19937_64 rng(100 + int(t));
  for (RedOpKind op : kAllOps) {
    for (int num_srcs : {1, 2, 3, 5, 8}) {
      for (size_t n : {size_t{0}, size_t{1}, size_t{7}, size_t{13}, size_t{1009}, size_t{10007}}) {
        for (Alias alias : {Alias::kNone, Alias::kDstIsFirst, Alias::kDstIsLast,
                            Alias::kRepeatedSource}) {
          std::vector<Bytes> buffers;
          for (int k = 0; k < num_srcs; ++k) buffers.push_back(RandomData(t, n, rng));
          std::vector<const void*> srcs;
          for (const auto& b : buffers) srcs.push_back(b.data());
          if (alias == Alias::kRepeatedSource) srcs[num_srcs - 1] = srcs[0];
          Bytes want(n * size), out(n * size, 0xcd);
          for (size_t i = 0; i < n; ++i) ReferenceElement(want.data(), i, t, op, srcs);
          void* dst = alias == Alias::kDstIsFirst  ? buffers.front().data()
                      : alias == Alias::kDstIsLast ? buffers.back().data()
                                                   : out.data();
          ReduceManyHost(dst, srcs.data(), num_srcs, n, t, op);
          size_t first = 0;
          size_t bad = CountMismatches(dst, want.data(), n, t, Match::kBits, &first);
          ASSERT_EQ(bad, 0u) << DataTypeName(t) << " " << RedOpName(op) << " N=" << num_srcs
                             << " n=" << n << " alias=" << int(alias) << " first bad index "
                             << first;
        }
      }
    }
  }
}

// With two sources ReduceManyHost and the pairwise ReduceHost are the same function.
TEST_P(ReduceManyTypeTest, TwoSourcesEqualReduceHost) {
  const DataType t = GetParam();
  const size_t n = 4099;
  std::mt19937_64 rng(200 + int(t));
  for (RedOpKind op : kAllOps) {
    Bytes a = RandomData(t, n, rng), b = RandomData(t, n, rng);
    Bytes many(a.size()), pair(a.size());
    const void* srcs[] = {a.data(), b.data()};
    ReduceManyHost(many.data(), srcs, 2, n, t, op);
    ReduceHost(pair.data(), a.data(), b.data(), n, t, op);
    size_t first = 0;
    EXPECT_EQ(CountMismatches(many.data(), pair.data(), n, t, Match::kBits, &first), 0u)
        << DataTypeName(t) << " " << RedOpName(op) << " first bad " << first;
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceManyTypeTest, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(DataTypeName(info.param)); });

template <typename T>
T ReduceThree(T a, T b, T c, DataType t, RedOpKind op) {
  const void* srcs[] = {&a, &b, &c};
  T out;
  ReduceManyHost(&out, srcs, 3, 1, t, op);
  return out;
}

template <typename T>
T ReducePairwise(T a, T b, T c, DataType t, RedOpKind op) {
  T ab;
  ReduceHost(&ab, &a, &b, 1, t, op);
  T out;
  ReduceHost(&out, &ab, &c, 1, t, op);
  return out;
}

// The sources are combined in fp32 and rounded once: a chain of pairwise reductions rounds
// after every step and can give a different answer.
TEST(ReduceManySingleRounding, DiffersFromPairwiseRounding) {
  // bf16: 1 + 2^-8 + 2^-8 = 1 + 2^-7 exactly (0x3f81); pairwise, 1 + 2^-8 is a tie that rounds
  // to even (1.0) twice.
  const uint16_t one = 0x3f80, bf_2m8 = 0x3b80;
  EXPECT_EQ(ReduceThree(one, bf_2m8, bf_2m8, DataType::kBfloat16, RedOpKind::kSum), 0x3f81);
  EXPECT_EQ(ReducePairwise(one, bf_2m8, bf_2m8, DataType::kBfloat16, RedOpKind::kSum), 0x3f80);
  // fp8 e4m3: 1 (0x38) + 2^-4 (0x18) + 2^-4 = 1.125 (0x39); pairwise ties round to 1.0.
  EXPECT_EQ(ReduceThree<uint8_t>(0x38, 0x18, 0x18, DataType::kFloat8e4m3, RedOpKind::kSum), 0x39);
  EXPECT_EQ(ReducePairwise<uint8_t>(0x38, 0x18, 0x18, DataType::kFloat8e4m3, RedOpKind::kSum),
            0x38);
  // e4m3 448 + 448 - 448: fp32 keeps 896 in between, so the result is 448; pairwise saturates
  // 896 to 448 first and ends at 0.
  EXPECT_EQ(ReduceThree<uint8_t>(0x7e, 0x7e, 0xfe, DataType::kFloat8e4m3, RedOpKind::kSum), 0x7e);
  EXPECT_EQ(ReducePairwise<uint8_t>(0x7e, 0x7e, 0xfe, DataType::kFloat8e4m3, RedOpKind::kSum),
            0x00);
  // fp16 60000 + 60000 - 60000 = 60000 (exact in fp16); pairwise overflows to Inf.
  const uint16_t h60k = FloatToHalf(60000.f), hm60k = FloatToHalf(-60000.f);
  EXPECT_EQ(ReduceThree(h60k, h60k, hm60k, DataType::kFloat16, RedOpKind::kSum), h60k);
  EXPECT_EQ(ReducePairwise(h60k, h60k, hm60k, DataType::kFloat16, RedOpKind::kSum), 0x7c00);
}

TEST(ReduceManySpecialValues, SaturationInfNaNAndWrap) {
  // Every source at the top of the range.
  EXPECT_EQ(ReduceThree<uint8_t>(0x7e, 0x7e, 0x7e, DataType::kFloat8e4m3, RedOpKind::kSum), 0x7e);
  EXPECT_EQ(ReduceThree<uint8_t>(0xfe, 0xfe, 0xfe, DataType::kFloat8e4m3, RedOpKind::kSum), 0xfe);
  EXPECT_EQ(ReduceThree<uint8_t>(0x7b, 0x7b, 0x7b, DataType::kFloat8e5m2, RedOpKind::kSum), 0x7c);
  // A NaN in the middle survives max and min; narrow NaNs come out canonical.
  const uint16_t bf_nan = 0xffc1, bf_one = 0x3f80, bf_two = 0x4000;
  EXPECT_EQ(ReduceThree(bf_one, bf_nan, bf_two, DataType::kBfloat16, RedOpKind::kMax), 0x7fff);
  EXPECT_EQ(ReduceThree(bf_one, bf_nan, bf_two, DataType::kBfloat16, RedOpKind::kMin), 0x7fff);
  EXPECT_EQ(ReduceThree<uint8_t>(0x38, 0xff, 0x38, DataType::kFloat8e4m3, RedOpKind::kSum), 0x7f);
  EXPECT_TRUE(std::isnan(ReduceThree(1.f, NAN, 2.f, DataType::kFloat32, RedOpKind::kMax)));
  EXPECT_TRUE(std::isnan(ReduceThree<double>(1.0, 2.0, NAN, DataType::kFloat64, RedOpKind::kMin)));
  // Max keeps the earlier of equal values: +0 then -0 stays +0.
  EXPECT_FALSE(std::signbit(ReduceThree(0.f, -0.f, -0.f, DataType::kFloat32, RedOpKind::kMax)));
  EXPECT_TRUE(std::signbit(ReduceThree(-0.f, 0.f, 0.f, DataType::kFloat32, RedOpKind::kMin)));
  // Integer sum and product wrap.
  EXPECT_EQ(ReduceThree<int8_t>(100, 100, 100, DataType::kInt8, RedOpKind::kSum), 44);
  EXPECT_EQ(ReduceThree<uint32_t>(0x10000u, 0x10000u, 3u, DataType::kUint32, RedOpKind::kProd),
            0u);
  EXPECT_EQ(ReduceThree<int64_t>(std::numeric_limits<int64_t>::max(), 1, 1, DataType::kInt64,
                                 RedOpKind::kSum),
            std::numeric_limits<int64_t>::min() + 1);
  EXPECT_EQ(ReduceThree<int8_t>(-5, 3, -7, DataType::kInt8, RedOpKind::kMin), -7);
  EXPECT_EQ(ReduceThree<uint64_t>(~0ull, 1, 5, DataType::kUint64, RedOpKind::kMax), ~0ull);
}

TEST(ReduceManyEdgeCases, NothingToDoWritesNothing) {
  ReduceManyHost(nullptr, nullptr, 0, 0, DataType::kFloat32, RedOpKind::kSum);
  ReduceManyHost(nullptr, nullptr, 3, 0, DataType::kBfloat16, RedOpKind::kMax);
  float src = 1.f, dst = 7.f;
  const void* srcs[] = {&src};
  ReduceManyHost(&dst, srcs, 0, 1, DataType::kFloat32, RedOpKind::kSum);
  EXPECT_EQ(dst, 7.f);
  ReduceManyHost(&dst, srcs, 1, 1, static_cast<DataType>(kNumDataTypes), RedOpKind::kSum);
  EXPECT_EQ(dst, 7.f);
  ReduceManyHost(&dst, srcs, 1, 1, DataType::kFloat32, static_cast<RedOpKind>(kNumRedOps));
  EXPECT_EQ(dst, 7.f);
  ReduceManyHost(&dst, srcs, 1, 1, DataType::kFloat32, RedOpKind::kProd);  // one source: copy
  EXPECT_EQ(dst, 1.f);
}

#if !defined(BRAID_HAVE_CUDA)
// CPU-only builds keep the GPU entry point, which says why it cannot run (CUDA builds test it
// in tests/gpu/reduce_gpu_test.cc).
TEST(ReduceCudaWithoutCuda, ChecksArgumentsThenReturnsUnsupported) {
  float a = 1.f, b = 2.f, out = 0.f;
  const void* srcs[] = {&a, &b};
  Status status = ReduceCuda(&out, srcs, 2, 1, DataType::kFloat32, RedOpKind::kSum, nullptr);
  EXPECT_EQ(status.code(), StatusCode::kUnsupported);
  EXPECT_EQ(status.message(), "ReduceCuda: built without CUDA");
  // Bad arguments are named first, as a CUDA build does.
  status = ReduceCuda(&out, srcs, 99, 1, DataType::kFloat32, RedOpKind::kSum, nullptr);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("num_srcs = 99"), std::string::npos) << status.message();
}
#endif

}  // namespace
}  // namespace braid::kernels
