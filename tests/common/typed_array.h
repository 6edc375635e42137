// Host-side test helpers shared by the kernel tests: a typed host array with double access,
// a normal random fill and the ulp of a floating-point element type.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

#include "braid/kernels/reduce.h"
#include "braid/types.h"

namespace braid::testing {

// An array of `type` on the host, with double access (exact for these types).
struct Array {
  DataType type;
  int64_t n;
  std::vector<uint8_t> bytes;
  Array(DataType t, int64_t count)
      : type(t), n(count), bytes(static_cast<size_t>(count) * DataTypeSize(t)) {}
  double Get(int64_t i) const {
    return kernels::LoadAsDouble(bytes.data(), static_cast<size_t>(i), type);
  }
  void Set(int64_t i, double v) {
    kernels::StoreFromDouble(bytes.data(), static_cast<size_t>(i), type, v);
  }
  void* data() { return bytes.data(); }
};

// `n` normal(mean, sd) values of type `t`.
inline Array Random(DataType t, int64_t n, std::mt19937_64& rng, double mean = 0.0,
                    double sd = 1.0) {
  Array a(t, n);
  std::normal_distribution<double> dist(mean, sd);
  for (int64_t i = 0; i < n; ++i) a.Set(i, dist(rng));
  return a;
}

// Spacing of `t` values near |v| (1 ulp).
inline double Ulp(DataType t, double v) {
  const int mant = t == DataType::kBfloat16 ? 7 : t == DataType::kFloat16 ? 10 : 23;
  const int min_exp = t == DataType::kFloat16 ? -14 : -126;
  const int e = v == 0.0 ? min_exp : std::max(std::ilogb(v), min_exp);
  return std::ldexp(1.0, e - mant);
}

}  // namespace braid::testing
