// GeLU, tanh form (Hendrycks & Gimpel; the form GPT-2 and Megatron use), in fp32.
// One definition for the CPU references, the GeLU kernels and the GEMM epilogue.
#pragma once

#include <cmath>

#include "kernels/common/host_device.h"

namespace braid::kernels {

inline constexpr float kGeluSqrt2OverPi = 0.7978845608028654f;  // sqrt(2 / pi)
inline constexpr float kGeluCubicCoeff = 0.044715f;

// gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
// As in PyTorch's tanh form, 1 + tanh cancels in the negative tail: below x = -4 the relative
// error grows (30% at -5), while the absolute error stays under ~1e-7.
// Where 1 + tanh rounds to 0 (x below about -5.16) the result is -0, also for x = -inf (the limit),
// which the product would make 0 * inf = NaN.
BRAID_HD float GeluTanh(float x) {
  const float inner = kGeluSqrt2OverPi * (x + kGeluCubicCoeff * x * x * x);
  const float one_plus_t = 1.0f + tanhf(inner);
  return one_plus_t == 0.0f ? -0.0f : 0.5f * x * one_plus_t;
}

// d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2),
// with t = tanh(sqrt(2/pi) (x + 0.044715 x^3)). Where 1 - t^2 rounds to 0 (|x| above about 5.16)
// the second term is 0: for |x| beyond ~1e19 x^2 overflows, and 0 * inf would make it NaN
// (the limits are 1 and 0).
BRAID_HD float GeluTanhDerivative(float x) {
  const float inner = kGeluSqrt2OverPi * (x + kGeluCubicCoeff * x * x * x);
  const float t = tanhf(inner);
  const float sech2 = 1.0f - t * t;
  const float dinner = kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluCubicCoeff * x * x);
  return 0.5f * (1.0f + t) + (sech2 == 0.0f ? 0.0f : 0.5f * x * sech2 * dinner);
}

}  // namespace braid::kernels
