// Random element arrays for the reduction tests (host and GPU): a quarter raw random bits (NaN,
// Inf, subnormals, extremes), a quarter in [-100, 100] and half in [-2, 2], so products of 8
// values often stay finite; integer types are raw random bits. Never all zeros.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

#include "braid/kernels/reduce.h"
#include "braid/types.h"

namespace braid::testing {

inline std::vector<uint8_t> RandomElements(DataType t, size_t n, std::mt19937_64& rng) {
  std::vector<uint8_t> v(n * DataTypeSize(t));
  for (auto& byte : v) byte = static_cast<uint8_t>(rng());
  if (!IsFloatingPoint(t)) return v;
  std::uniform_real_distribution<double> moderate(-100.0, 100.0), small(-2.0, 2.0);
  for (size_t i = 0; i < n; ++i) {
    switch (rng() % 4) {
      case 0: break;
      case 1: kernels::StoreFromDouble(v.data(), i, t, moderate(rng)); break;
      default: kernels::StoreFromDouble(v.data(), i, t, small(rng)); break;
    }
  }
  return v;
}

}  // namespace braid::testing
