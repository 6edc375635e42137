// Shared by the reduction tests (host and GPU): every element type and op, integers as 128-bit
// values, fp values rounded to the compute precision, and counting mismatched elements.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>

#include "braid/kernels/reduce.h"
#include "braid/types.h"

namespace braid::testing {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

inline constexpr DataType kAllTypes[] = {
    DataType::kInt8,    DataType::kUint8,    DataType::kInt32,      DataType::kUint32,
    DataType::kInt64,   DataType::kUint64,   DataType::kFloat16,    DataType::kFloat32,
    DataType::kFloat64, DataType::kBfloat16, DataType::kFloat8e4m3, DataType::kFloat8e5m2};
inline constexpr RedOpKind kAllOps[] = {RedOpKind::kSum, RedOpKind::kProd, RedOpKind::kMax,
                                 RedOpKind::kMin, RedOpKind::kAvg,  RedOpKind::kPreMulSum};

inline bool IsSignedInteger(DataType t) {
  return t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64;
}

// Raw bits of element i of `size` bytes (little endian).
inline uint64_t LoadBits(const void* p, size_t i, size_t size) {
  uint64_t bits = 0;
  std::memcpy(&bits, static_cast<const char*>(p) + i * size, size);
  return bits;
}

// Integer element as a signed 128-bit value (sign-extended for signed types).
inline __int128 LoadInt(const void* p, size_t i, DataType t) {
  const size_t size = DataTypeSize(t);
  uint64_t bits = LoadBits(p, i, size);
  if (IsSignedInteger(t) && size < 8 && (bits >> (size * 8 - 1)) & 1) bits |= ~uint64_t{0} << (size * 8);
  if (IsSignedInteger(t)) return static_cast<__int128>(static_cast<int64_t>(bits));
  return static_cast<__int128>(bits);
}

// fp32 compute precision for everything but fp64.
inline double RoundToCompute(DataType t, double v) {
  return t == DataType::kFloat64 ? v : static_cast<double>(static_cast<float>(v));
}

enum class Match {
  kBits,    // equal bits, except that any NaN matches a NaN reference (payloads unspecified)
  kValues,  // equal bits for integers; equal values for floats (NaN = NaN, +0 = -0)
};

// Elements of `got` that differ from `want` under `match`; *first is the first such index.
inline size_t CountMismatches(const void* got, const void* want, size_t n, DataType t, Match match,
                              size_t* first) {
  const size_t size = DataTypeSize(t);
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    bool same = LoadBits(got, i, size) == LoadBits(want, i, size);
    if (!same && IsFloatingPoint(t)) {
      const double g = kernels::LoadAsDouble(got, i, t), w = kernels::LoadAsDouble(want, i, t);
      same = (std::isnan(g) && std::isnan(w)) || (match == Match::kValues && g == w);
    }
    if (!same && bad++ == 0) *first = i;
  }
  return bad;
}

}  // namespace braid::testing
