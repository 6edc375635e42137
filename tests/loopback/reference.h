// Test data and straightforward references for collective results, chosen so that the exact
// result is representable in every data type (fp8 included) whatever the reduction order:
// sums have one non-zero contributor per element for fp8, small integers otherwise; products
// multiply +-1 with at most one 2; min/max pick among representable values.
#pragma once

#include <cmath>
#include <functional>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "braid/kernels/reduce.h"
#include "braid/types.h"

namespace braid::testing {

inline bool IsFp8(DataType t) { return t == DataType::kFloat8e4m3 || t == DataType::kFloat8e5m2; }
inline bool IsSigned(DataType t) {
  return IsFloatingPoint(t) || t == DataType::kInt8 || t == DataType::kInt32 || t == DataType::kInt64;
}

// Input value of element i on `rank` for a reduction `op` over `nranks` ranks.
inline double InputValue(DataType type, RedOpKind op, int rank, int nranks, size_t i) {
  uint64_t h = (uint64_t(i) * 2654435761u + uint64_t(rank) * 40503u) >> 3;
  switch (op) {
    case RedOpKind::kProd: {
      double sign = (IsSigned(type) && (h & 1)) ? -1.0 : 1.0;
      return (size_t(rank) == i % size_t(nranks)) ? 2.0 * sign : sign;
    }
    case RedOpKind::kMax:
    case RedOpKind::kMin: {
      double v = double(h % 7);
      return IsSigned(type) && (h & 8) ? -v : v;
    }
    default:  // sum, avg, premulsum
      if (IsFp8(type)) return (size_t(rank) == i % size_t(nranks)) ? double(1 + h % 3) : 0.0;
      return double(h % 4);
  }
}

// Value stored for a non-reducing collective: identifies (rank, i), exact in the type.
inline double CopyValue(DataType type, int rank, size_t i) {
  uint64_t h = uint64_t(i) * 31 + uint64_t(rank) * 7;
  if (IsFp8(type)) return double(h % 8);
  if (type == DataType::kInt8 || type == DataType::kUint8) return double(h % 100);
  return double(h % 1000);
}

// Expected reduction of InputValue over ranks at element i, as a double.
inline double ReducedValue(DataType type, RedOp op, int nranks, size_t i) {
  double acc = InputValue(type, op.kind, 0, nranks, i);
  for (int r = 1; r < nranks; ++r) {
    double v = InputValue(type, op.kind, r, nranks, i);
    switch (op.kind) {
      case RedOpKind::kProd: acc *= v; break;
      case RedOpKind::kMax: acc = std::max(acc, v); break;
      case RedOpKind::kMin: acc = std::min(acc, v); break;
      default: acc += v; break;
    }
  }
  if (op.kind == RedOpKind::kPreMulSum) {
    double s = IsFloatingPoint(type) ? op.scalar : std::trunc(op.scalar);
    double total = 0;
    for (int r = 0; r < nranks; ++r) total += s * InputValue(type, op.kind, r, nranks, i);
    acc = total;
  }
  if (op.kind == RedOpKind::kAvg) acc = IsFloatingPoint(type) ? acc / nranks : std::trunc(acc / nranks);
  return acc;
}

// Compares with tolerance only where rounding of the average is inherent: a floating-point avg
// scales each input by 1/nranks (rounded to the type) before summing with a rounding per step, so
// n scaled inputs and n - 1 partial sums are each off by up to half an ulp at a magnitude below 4
// (the inputs are at most 3): n ulps at 4 bound it.
inline bool Matches(DataType type, RedOpKind op, int nranks, double got, double want) {
  double rounded = want;
  {
    unsigned char tmp[8];
    kernels::StoreFromDouble(tmp, 0, type, want);
    rounded = kernels::LoadAsDouble(tmp, 0, type);
  }
  if (got == rounded) return true;
  if (op != RedOpKind::kAvg || !IsFloatingPoint(type)) return false;
  int mantissa_bits = 52;
  switch (type) {
    case DataType::kFloat16: mantissa_bits = 10; break;
    case DataType::kBfloat16: mantissa_bits = 7; break;
    case DataType::kFloat8e4m3: mantissa_bits = 3; break;
    case DataType::kFloat8e5m2: mantissa_bits = 2; break;
    case DataType::kFloat32: mantissa_bits = 23; break;
    default: break;
  }
  return std::fabs(got - want) <= nranks * std::ldexp(4.0, -mantissa_bits);
}

inline void Fill(std::vector<unsigned char>& buf, size_t offset, size_t count, DataType type,
                 const std::function<double(size_t)>& value) {
  for (size_t i = 0; i < count; ++i) kernels::StoreFromDouble(buf.data(), offset + i, type, value(i));
}

}  // namespace braid::testing
