// Private to kernels/reduce: batch conversions between the narrow floating types and fp32.
#pragma once

#include <cstddef>
#include <cstdint>

#include "braid/types.h"

namespace braid::kernels::detail {

// `type` must be fp16, bf16, fp8 e4m3 or fp8 e5m2; src and dst do not overlap.
void WidenToFloat(float* dst, const void* src, size_t count, DataType type);
void NarrowFromFloat(void* dst, const float* src, size_t count, DataType type);

#if defined(__x86_64__) || defined(__i386__)
// convert_f16c.cc: hardware fp16 conversion, bit-identical to the portable loops.
bool CpuHasF16c();
void WidenHalfF16c(float* dst, const uint16_t* src, size_t count);
void NarrowHalfF16c(uint16_t* dst, const float* src, size_t count);
#endif

}  // namespace braid::kernels::detail
