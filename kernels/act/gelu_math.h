// GeLU, tanh form (Hendrycks & Gimpel; the form GPT-2 and Megatron use), in fp32.
// One definition for the CPU references, the GeLU kernels and the GEMM epilogue.
#pragma once

#include <cmath>

#include "kernels/common/host_device.h"

namespace braid::kernels {

inline constexpr float kGeluSqrt2OverPi = 0.7978845608028654f;  // sqrt(2 / pi)
inline constexpr float kGeluCubicCoeff = 0.044715f;

// gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
BRAID_HD float GeluTanh(float x) {
  const float inner = kGeluSqrt2OverPi * (x + kGeluCubicCoeff * x * x * x);
  return 0.5f * x * (1.0f + tanhf(inner));
}

// d gelu / dx = 0.5 (1 + t) + 0.5 x (1 - t^2) sqrt(2/pi) (1 + 3 * 0.044715 x^2),
// with t = tanh(sqrt(2/pi) (x + 0.044715 x^3)).
BRAID_HD float GeluTanhDerivative(float x) {
  const float inner = kGeluSqrt2OverPi * (x + kGeluCubicCoeff * x * x * x);
  const float t = tanhf(inner);
  const float dinner = kGeluSqrt2OverPi * (1.0f + 3.0f * kGeluCubicCoeff * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dinner;
}

}  // namespace braid::kernels
