// Conversions between fp32 and the narrow floating formats (fp16, bf16, fp8 e4m3 / e5m2),
// written from the format definitions, plus the double load/store helpers of reduce.h.
//
// The narrowing functions are branch-free (every case is computed and one is selected) so that
// g++ -O3 vectorises the batch loops below with plain SSE2; the reduce kernels convert in blocks
// through those loops.
#include <array>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "braid/kernels/reduce.h"
#include "kernels/reduce/batch_convert.h"
#include "kernels/reduce/unaligned.h"

namespace braid::kernels {

namespace {

constexpr uint32_t kF32AbsMask = 0x7fffffffu;
constexpr uint32_t kF32Inf = 0x7f800000u;       // exponent all ones, fraction 0
constexpr uint32_t kF32QuietNaN = 0x7fc00000u;  // canonical quiet NaN
constexpr uint32_t kF32QuietBit = 0x00400000u;  // top fraction bit: set in a quiet NaN
constexpr int kF32FracBits = 23;
constexpr int kF32Bias = 127;

constexpr uint32_t Bits(float value) { return std::bit_cast<uint32_t>(value); }
constexpr float FromBits(uint32_t bits) { return std::bit_cast<float>(bits); }

// cond ? a : b with masks. A plain ?: lets g++ sink the fp32 arithmetic feeding one side into
// a branch, and then (under the default -ftrapping-math) refuse to vectorise the loop.
constexpr uint32_t Select(bool cond, uint32_t a, uint32_t b) {
  uint32_t mask = 0u - static_cast<uint32_t>(cond);
  return (a & mask) | (b & ~mask);
}

// A binary floating format narrower than fp32: 1 sign bit, kExpBits exponent bits (bias
// 2^(kExpBits-1) - 1) and kManBits fraction bits, with subnormals.
//  kFiniteOnly = false: IEEE-like; exponent all ones encodes Inf (fraction 0) and NaN.
//  kFiniteOnly = true: OCP "FN" flavour (fp8 e4m3): no Inf, only S.1111.111 is NaN, and
//                      overflow saturates to the largest finite value.
// NaN narrows to the positive all-ones pattern (0x7fff, 0x7f), as CUDA's conversions do, so host
// and device kernels produce identical bits.
template <int kExpBits, int kManBits, bool kFiniteOnly>
struct MiniFloat {
  static constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  static constexpr int kShift = kF32FracBits - kManBits;  // fp32 fraction bits dropped
  static constexpr uint32_t kFracMask = (1u << kManBits) - 1;
  static constexpr uint32_t kMagMask = (1u << (kExpBits + kManBits)) - 1;
  static constexpr uint32_t kExpAllOnes = ((1u << kExpBits) - 1) << kManBits;  // Inf if IEEE
  static constexpr uint32_t kNaN = kMagMask;
  static constexpr uint32_t kMaxFinite = kFiniteOnly ? kMagMask - 1 : kExpAllOnes - 1;
  // fp32 bit pattern of the largest finite value.
  static constexpr uint32_t kMaxFiniteF32 =
      (uint32_t((kMaxFinite >> kManBits) - kBias + kF32Bias) << kF32FracBits) |
      ((kMaxFinite & kFracMask) << kShift);
  // fp32 bits of the value halfway between the largest finite value and the next power of two:
  // from here on round-to-nearest-even gives Inf (the tie goes to Inf, whose fraction is even).
  static constexpr uint32_t kOverflowF32 = kMaxFiniteF32 + (1u << (kShift - 1));
  // fp32 bits of the smallest normal value, 2^(1 - bias).
  static constexpr uint32_t kMinNormalF32 = uint32_t(1 - kBias + kF32Bias) << kF32FracBits;
  // A power of two whose fp32 ulp equals the subnormal spacing 2^(1 - bias - kManBits): adding
  // it to |x| < min normal makes the FPU round |x| to a multiple of that spacing (RNE), and the
  // multiple is then the low bits of the sum.
  static constexpr uint32_t kSubMagicF32 = uint32_t(1 - kBias - kManBits + kF32FracBits + kF32Bias)
                                           << kF32FracBits;
  // The subnormal spacing as fp32, 2^(1 - bias - kManBits).
  static constexpr float kSubUlp = FromBits(uint32_t(1 - kBias - kManBits + kF32Bias)
                                            << kF32FracBits);

  static constexpr float Widen(uint32_t bits) {
    uint32_t sign = (bits >> (kExpBits + kManBits)) << 31;
    uint32_t em = bits & kMagMask;
    // Normal: re-bias the exponent; the fraction moves to the top of fp32's.
    uint32_t normal = (em << kShift) + (uint32_t(kF32Bias - kBias) << kF32FracBits);
    // Subnormal: fraction * spacing, exact in fp32.
    uint32_t subnormal = Bits(static_cast<float>(static_cast<int32_t>(em)) * kSubUlp);
    uint32_t special;
    bool is_special;
    if constexpr (kFiniteOnly) {
      special = kF32QuietNaN;
      is_special = em == kMagMask;
    } else {
      // Inf, or NaN keeping its payload, made quiet as IEEE 754 conversions do (and x86 F16C,
      // which the batch path uses: the bits must agree).
      special = kF32Inf | (em << kShift) | Select(em > kExpAllOnes, kF32QuietBit, 0u);
      is_special = em >= kExpAllOnes;
    }
    uint32_t mag = Select(is_special, special, normal);
    mag = Select(em <= kFracMask, subnormal, mag);
    return FromBits(sign | mag);
  }

  static uint32_t Narrow(float value) {
    uint32_t x = Bits(value);
    uint32_t sign = (x >> 31) << (kExpBits + kManBits);
    uint32_t ax = x & kF32AbsMask;
    uint32_t subnormal = Bits(FromBits(ax) + FromBits(kSubMagicF32)) - kSubMagicF32;
    // Normal: re-bias, then round-to-nearest-even on the dropped bits (add half-ulp minus one
    // plus the kept lsb). A carry out of the fraction correctly bumps the exponent.
    uint32_t normal = (ax + (uint32_t(kBias - kF32Bias) << kF32FracBits) +
                       ((1u << (kShift - 1)) - 1) + ((ax >> kShift) & 1u)) >>
                      kShift;
    uint32_t mag = Select(ax < kMinNormalF32, subnormal, normal);
    if constexpr (kFiniteOnly) {
      mag = Select(ax >= kMaxFiniteF32, kMaxFinite, mag);  // saturate, Inf included
    } else {
      mag = Select(ax >= kOverflowF32, kExpAllOnes, mag);
    }
    return Select(ax > kF32Inf, kNaN, sign | mag);
  }
};

using Half = MiniFloat<5, 10, false>;
using E4M3 = MiniFloat<4, 3, true>;
using E5M2 = MiniFloat<5, 2, false>;

inline float Bf16Widen(uint32_t bits) { return FromBits(bits << 16); }

// bf16 keeps fp32's exponent, so narrowing is rounding away the low 16 bits; overflow carries
// into the exponent and yields Inf naturally. NaN -> 0x7fff like CUDA.
inline uint32_t Bf16Narrow(float value) {
  uint32_t x = Bits(value);
  uint32_t rounded = (x + 0x7fffu + ((x >> 16) & 1u)) >> 16;
  return (x & kF32AbsMask) > kF32Inf ? 0x7fffu : rounded;
}

// fp8 widening is a lookup: 256 entries, built at compile time from the definition.
template <typename Format>
constexpr std::array<float, 256> MakeFp8Table() {
  std::array<float, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) table[i] = Format::Widen(i);
  return table;
}
constexpr std::array<float, 256> kE4M3Table = MakeFp8Table<E4M3>();
constexpr std::array<float, 256> kE5M2Table = MakeFp8Table<E5M2>();

using detail::LoadElement;
using detail::StoreElement;

template <typename Bits16, typename Widen>
void WidenLoop(float* __restrict dst, const Bits16* __restrict src, size_t count, Widen widen) {
  for (size_t i = 0; i < count; ++i) dst[i] = widen(LoadElement(src + i));
}

template <typename Bits16, typename Narrow>
void NarrowLoop(Bits16* __restrict dst, const float* __restrict src, size_t count,
                Narrow narrow) {
  for (size_t i = 0; i < count; ++i) StoreElement(dst + i, static_cast<Bits16>(narrow(src[i])));
}

void Fp8Widen(float* __restrict dst, const uint8_t* __restrict src, size_t count,
              const float* __restrict table) {
  for (size_t i = 0; i < count; ++i) dst[i] = table[src[i]];
}

template <typename T>
T LoadAs(const void* base, size_t index) {
  T value;
  std::memcpy(&value, static_cast<const char*>(base) + index * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
void StoreAs(void* base, size_t index, T value) {
  std::memcpy(static_cast<char*>(base) + index * sizeof(T), &value, sizeof(T));
}

// Double -> integer: NaN gives 0, otherwise round to nearest (ties to even) and saturate.
template <typename T>
T DoubleToInt(double value) {
  if (std::isnan(value)) return 0;
  double rounded = std::nearbyint(value);
  // 2^(value bits): the first integer above the range, exactly representable.
  constexpr double kUpper =
      2.0 * static_cast<double>(uint64_t{1} << (std::numeric_limits<T>::digits - 1));
  constexpr double kLower = std::is_signed_v<T> ? -kUpper : 0.0;
  if (rounded >= kUpper) return std::numeric_limits<T>::max();
  if (rounded < kLower) return std::numeric_limits<T>::min();
  return static_cast<T>(rounded);
}

// Double -> fp32 rounding to odd: when inexact, take the value truncated toward zero and set
// its lsb. With >= 2 more bits than the final format, a following RNE rounding then equals a
// direct RNE rounding of the double (no double-rounding error), since fp32 has 24 bits and the
// narrow formats at most 11.
float DoubleToFloatRoundOdd(double value) {
  float f = static_cast<float>(value);
  if (std::isnan(value) || static_cast<double>(f) == value) return f;
  uint32_t bits = Bits(f);
  if (std::fabs(static_cast<double>(f)) > std::fabs(value)) --bits;  // rounded away: step back
  return FromBits(bits | 1u);
}

}  // namespace

float HalfToFloat(uint16_t bits) { return Half::Widen(bits); }
uint16_t FloatToHalf(float value) { return static_cast<uint16_t>(Half::Narrow(value)); }
float Bfloat16ToFloat(uint16_t bits) { return Bf16Widen(bits); }
uint16_t FloatToBfloat16(float value) { return static_cast<uint16_t>(Bf16Narrow(value)); }
float Fp8E4M3ToFloat(uint8_t bits) { return kE4M3Table[bits]; }
uint8_t FloatToFp8E4M3(float value) { return static_cast<uint8_t>(E4M3::Narrow(value)); }
float Fp8E5M2ToFloat(uint8_t bits) { return kE5M2Table[bits]; }
uint8_t FloatToFp8E5M2(float value) { return static_cast<uint8_t>(E5M2::Narrow(value)); }

namespace detail {

#if defined(__x86_64__) || defined(__i386__)
namespace {
// Decided once at load time. A call made before this is initialised reads false and takes the
// portable path, which gives the same bits.
const bool kUseF16c = CpuHasF16c();
}  // namespace
#endif

void WidenToFloat(float* dst, const void* src, size_t count, DataType type) {
  switch (type) {
    case DataType::kFloat16:
#if defined(__x86_64__) || defined(__i386__)
      if (kUseF16c) return WidenHalfF16c(dst, static_cast<const uint16_t*>(src), count);
#endif
      WidenLoop(dst, static_cast<const uint16_t*>(src), count,
                [](uint32_t b) { return Half::Widen(b); });
      break;
    case DataType::kBfloat16:
      WidenLoop(dst, static_cast<const uint16_t*>(src), count,
                [](uint32_t b) { return Bf16Widen(b); });
      break;
    case DataType::kFloat8e4m3:
      Fp8Widen(dst, static_cast<const uint8_t*>(src), count, kE4M3Table.data());
      break;
    case DataType::kFloat8e5m2:
      Fp8Widen(dst, static_cast<const uint8_t*>(src), count, kE5M2Table.data());
      break;
    default:
      break;
  }
}

void NarrowFromFloat(void* dst, const float* src, size_t count, DataType type) {
  switch (type) {
    case DataType::kFloat16:
#if defined(__x86_64__) || defined(__i386__)
      if (kUseF16c) return NarrowHalfF16c(static_cast<uint16_t*>(dst), src, count);
#endif
      NarrowLoop(static_cast<uint16_t*>(dst), src, count, [](float v) { return Half::Narrow(v); });
      break;
    case DataType::kBfloat16:
      NarrowLoop(static_cast<uint16_t*>(dst), src, count, [](float v) { return Bf16Narrow(v); });
      break;
    case DataType::kFloat8e4m3:
      NarrowLoop(static_cast<uint8_t*>(dst), src, count, [](float v) { return E4M3::Narrow(v); });
      break;
    case DataType::kFloat8e5m2:
      NarrowLoop(static_cast<uint8_t*>(dst), src, count, [](float v) { return E5M2::Narrow(v); });
      break;
    default:
      break;
  }
}

}  // namespace detail

double LoadAsDouble(const void* base, size_t index, DataType type) {
  switch (type) {
    case DataType::kInt8: return LoadAs<int8_t>(base, index);
    case DataType::kUint8: return LoadAs<uint8_t>(base, index);
    case DataType::kInt32: return LoadAs<int32_t>(base, index);
    case DataType::kUint32: return LoadAs<uint32_t>(base, index);
    case DataType::kInt64: return static_cast<double>(LoadAs<int64_t>(base, index));
    case DataType::kUint64: return static_cast<double>(LoadAs<uint64_t>(base, index));
    case DataType::kFloat16: return HalfToFloat(LoadAs<uint16_t>(base, index));
    case DataType::kFloat32: return LoadAs<float>(base, index);
    case DataType::kFloat64: return LoadAs<double>(base, index);
    case DataType::kBfloat16: return Bfloat16ToFloat(LoadAs<uint16_t>(base, index));
    case DataType::kFloat8e4m3: return Fp8E4M3ToFloat(LoadAs<uint8_t>(base, index));
    case DataType::kFloat8e5m2: return Fp8E5M2ToFloat(LoadAs<uint8_t>(base, index));
  }
  return std::numeric_limits<double>::quiet_NaN();  // invalid type
}

// Integers: round to nearest, saturate, NaN -> 0. Floating types: round to nearest even
// (fp8 e4m3 saturates); invalid types write nothing.
void StoreFromDouble(void* base, size_t index, DataType type, double value) {
  switch (type) {
    case DataType::kInt8: return StoreAs(base, index, DoubleToInt<int8_t>(value));
    case DataType::kUint8: return StoreAs(base, index, DoubleToInt<uint8_t>(value));
    case DataType::kInt32: return StoreAs(base, index, DoubleToInt<int32_t>(value));
    case DataType::kUint32: return StoreAs(base, index, DoubleToInt<uint32_t>(value));
    case DataType::kInt64: return StoreAs(base, index, DoubleToInt<int64_t>(value));
    case DataType::kUint64: return StoreAs(base, index, DoubleToInt<uint64_t>(value));
    case DataType::kFloat16:
      return StoreAs(base, index, FloatToHalf(DoubleToFloatRoundOdd(value)));
    case DataType::kFloat32: return StoreAs(base, index, static_cast<float>(value));
    case DataType::kFloat64: return StoreAs(base, index, value);
    case DataType::kBfloat16:
      return StoreAs(base, index, FloatToBfloat16(DoubleToFloatRoundOdd(value)));
    case DataType::kFloat8e4m3:
      return StoreAs(base, index, FloatToFp8E4M3(DoubleToFloatRoundOdd(value)));
    case DataType::kFloat8e5m2:
      return StoreAs(base, index, FloatToFp8E5M2(DoubleToFloatRoundOdd(value)));
  }
}

}  // namespace braid::kernels
