// Combine: the element rule of every reduction (host ReduceHost, ReduceManyHost and the CUDA
// kernel), one definition so the CPU references and the GPU kernel cannot drift apart.
#pragma once

#include <type_traits>

#include "kernels/common/host_device.h"

namespace braid::kernels {

enum class CombineOp { kSum, kProd, kMax, kMin };

// op(acc, x). Operand order matters for max/min: it decides which NaN or signed zero is kept.
// Written as selects so host loops vectorise.
template <CombineOp kOp, typename T>
BRAID_HD T Combine(T acc, T x) {
  if constexpr (std::is_floating_point_v<T>) {
    if constexpr (kOp == CombineOp::kSum) return acc + x;
    if constexpr (kOp == CombineOp::kProd) return acc * x;
    // NaN wins: a NaN acc fails the comparison and is kept; a NaN x is picked by x != x.
    if constexpr (kOp == CombineOp::kMax) return (x > acc || x != x) ? x : acc;
    if constexpr (kOp == CombineOp::kMin) return (x < acc || x != x) ? x : acc;
  } else {
    // Sum and product wrap modulo 2^bits: computed in the unsigned type (no signed-overflow UB;
    // converting back to a signed type is modular since C++20).
    using U = std::make_unsigned_t<T>;
    if constexpr (kOp == CombineOp::kSum) return static_cast<T>(static_cast<U>(U(acc) + U(x)));
    if constexpr (kOp == CombineOp::kProd) return static_cast<T>(static_cast<U>(U(acc) * U(x)));
    if constexpr (kOp == CombineOp::kMax) return x > acc ? x : acc;
    if constexpr (kOp == CombineOp::kMin) return x < acc ? x : acc;
  }
}

}  // namespace braid::kernels
