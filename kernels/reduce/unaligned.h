// Element loads and stores through memcpy: the host reductions take the callers' buffers as they
// come (a collective's user buffer need only be element-sized, not element-aligned), and a typed
// access through a misaligned pointer is undefined behaviour (UBSan flagged it; QA, session 55).
// Compilers turn these into the same plain (and vectorised) moves as a typed access.
#pragma once

#include <cstring>

namespace braid::kernels::detail {

template <typename T>
inline T LoadElement(const T* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T>
inline void StoreElement(T* p, T value) {
  std::memcpy(p, &value, sizeof(T));
}

}  // namespace braid::kernels::detail
