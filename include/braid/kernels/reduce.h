// Element-wise reduction kernels on host memory (CPU). The collectives' executor calls these
// for every reduce step; the CUDA versions (later) share these declarations' semantics.
//
// Conventions for every function here:
// - `count` is in elements of `type`; pointers may be null only when count == 0, and need not be
//   aligned to the element (a collective's user buffer may start anywhere; such calls run
//   through aligned blocks and give the same bits).
// - dst may alias a, b or src exactly (same pointer); partial overlap is not allowed.
// - fp16, bf16 and fp8 values are widened to fp32, combined, and rounded once to the
//   element type (round-to-nearest-even). fp8 e4m3 saturates to +-448 (it has no Inf);
//   fp8 e5m2 rounds overflow to Inf like IEEE types.
// - NaN propagates through sum/prod/avg/premulsum; min/max return NaN if either input is NaN.
// - Integer sum/prod wrap modulo 2^bits (unsigned arithmetic), as NCCL does.
// - Thread-safe. Counts of 4Mi elements and more are split across up to 4 threads, whose start
//   is the only heap allocation (std::thread keeps its state there); one that cannot be started,
//   for want of memory or threads, leaves its share to the calling thread. Below that count
//   nothing is allocated.
// - These are the runtime's inner loops, so they return nothing: an invalid type or op writes
//   nothing (callers validate first, as the collectives do).
#pragma once

#include <cstddef>
#include <cstdint>

#include "braid/export.h"
#include "braid/types.h"

namespace braid::kernels {

// dst[i] = op(a[i], b[i]). kAvg and kPreMulSum combine as kSum: the collectives finish an integer
// average by DivideHost, and apply a premultiplication (a floating-point average's 1/nranks
// included) to the local input by ScaleHost.
BRAID_API void ReduceHost(void* dst, const void* a, const void* b, size_t count, DataType type,
                          RedOpKind op);

// dst[i] = scalar * src[i], computed in the type's compute precision (fp32 for fp16/bf16/fp8,
// the type itself for fp32/fp64, and for integers scalar is converted to the integer type first,
// as NCCL's ncclRedOpCreatePreMulSum does with a host scalar of the same type).
BRAID_API void ScaleHost(void* dst, const void* src, size_t count, DataType type, double scalar);

// dst[i] = src[i] / divisor (ncclAvg finalisation). Floating types divide in compute precision;
// integers use truncating integer division. A divisor of 0 copies integers unchanged and gives
// floats src / 0 (+-Inf, or NaN for 0); the collectives never divide by 0 (ranks >= 1).
BRAID_API void DivideHost(void* dst, const void* src, size_t count, DataType type,
                          uint64_t divisor);

// dst[i] = op(...op(op(srcs[0][i], srcs[1][i]), srcs[2][i])..., srcs[num_srcs-1][i]): the
// sources are combined left to right in compute precision (fp32 for fp16/bf16/fp8, the type
// itself otherwise) and the result is rounded to the element type once, at the end. With one
// source this is a copy (narrow NaNs become the canonical NaN). kAvg and kPreMulSum combine as
// kSum (see ReduceHost). The reference for the N-input GPU kernel (ReduceCuda in
// reduce_cuda.h), which produces the same bits. num_srcs <= 0, count == 0 or an invalid
// type/op write nothing; dst may equal any of srcs[k]. Runs on the calling thread.
BRAID_API void ReduceManyHost(void* dst, const void* const* srcs, int num_srcs, size_t count,
                              DataType type, RedOpKind op);

// Scalar conversions (round-to-nearest-even), used by the kernels and by tests' references.
BRAID_API float HalfToFloat(uint16_t bits);
BRAID_API uint16_t FloatToHalf(float value);
BRAID_API float Bfloat16ToFloat(uint16_t bits);
BRAID_API uint16_t FloatToBfloat16(float value);
BRAID_API float Fp8E4M3ToFloat(uint8_t bits);
BRAID_API uint8_t FloatToFp8E4M3(float value);  // saturating to +-448, NaN -> 0x7f
BRAID_API float Fp8E5M2ToFloat(uint8_t bits);
BRAID_API uint8_t FloatToFp8E5M2(float value);  // overflow -> Inf, NaN -> 0x7f (quiet NaN)

// Reads element `index` of an array of `type` as double (exact for every type but u64/i64
// beyond 2^53); writes a double rounded to `type`. For tests, references and tools.
BRAID_API double LoadAsDouble(const void* base, size_t index, DataType type);
BRAID_API void StoreFromDouble(void* base, size_t index, DataType type, double value);

}  // namespace braid::kernels
