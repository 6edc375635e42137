// Element-wise reduction of N device buffers into one, on the GPU.
//
// Semantics are ReduceManyHost's (reduce.h), bit for bit: sources combined left to right in
// compute precision (fp32 for fp16/bf16/fp8, the type itself otherwise), rounded once to the
// element type (round-to-nearest-even; fp8 e4m3 saturates to +-448, fp8 e5m2 overflows to Inf),
// NaN propagates (min/max return NaN if any input is NaN), integer sum/prod wrap modulo 2^bits.
// The one difference: an fp32/fp64 NaN produced by sum/prod may carry a different payload than
// the CPU's (the GPU returns the canonical NaN); narrow types always store the canonical NaN.
//
// kAvg and kPreMulSum combine as kSum: the collectives finish an average by dividing the
// reduced result by the rank count, and apply a premultiplication by scaling the local input
// before it is reduced, so the kernel never sees the divisor or the scalar.
#pragma once

#include <cstddef>

#include "braid/export.h"
#include "braid/status.h"
#include "braid/types.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers

namespace braid::kernels {

// Most sources one ReduceCuda call takes (the pointers travel by value in the kernel's
// parameters). Reduce more by chaining calls: the first result is a source of the next.
inline constexpr int kReduceCudaMaxSources = 8;

// dst[i] = op(srcs[0][i], ..., srcs[num_srcs-1][i]) for i < count, enqueued on `stream`
// (nullptr: the legacy default stream); returns once the kernel is enqueued.
//  - srcs is a HOST array of num_srcs DEVICE pointers, 1 <= num_srcs <= kReduceCudaMaxSources;
//    it is read during the call only.
//  - count is in elements; with count == 0 nothing is launched and the pointers may be null.
//  - Every pointer must be aligned to the element size; dst may equal any source exactly but
//    must not partially overlap one. Sources may overlap each other.
//  - Fastest when all pointers share the same offset modulo 16 bytes (16-byte vector loads).
// Errors: InvalidArgument naming the argument, its value and the allowed range (nothing is
// launched); SystemError when the CUDA runtime refuses the launch; Unsupported in builds
// without CUDA.
BRAID_API Status ReduceCuda(void* dst, const void* const* srcs, int num_srcs, size_t count,
                            DataType type, RedOpKind op, CUstream_st* stream);

}  // namespace braid::kernels
