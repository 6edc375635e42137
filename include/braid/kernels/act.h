// GeLU activation (tanh form), forward and backward, element-wise.
//
//   forward:  y[i]  = gelu(x[i]),              gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715
//   x^3))) backward: dx[i] = dy[i] * gelu'(x[i])      (gelu' the exact derivative of that tanh
//   form)
//
// The formulas are the ones in kernels/act/gelu_math.h, shared with the GEMM's GeLU epilogue, so
// a fused and an unfused layer compute the same function. Element types: bf16, fp16 or fp32 (one
// `type` for every array); the math is fp32 and each output is rounded once (round-to-nearest-
// even). `count` is in elements (>= 1). In place is allowed: y may equal x, dx may equal dy (or
// x); no other overlap. Pointers must be aligned to the element size. The CUDA kernels use
// 16-byte vector accesses on the part of the arrays where all pointers share the same 16-byte
// alignment, and scalar accesses elsewhere.
#pragma once

#include <cstdint>

#include "braid/export.h"
#include "braid/status.h"
#include "braid/types.h"

struct CUstream_st;  // cudaStream_t without the CUDA headers

namespace braid::kernels {

// CPU references on host pointers, with the same argument checks as the CUDA versions;
// `threads` workers (0: one per hardware thread; small inputs use fewer).
BRAID_API Status GeluForwardHost(const void* x, void* y, int64_t count, DataType type,
                                 int threads = 0);
BRAID_API Status GeluBackwardHost(const void* dy, const void* x, void* dx, int64_t count,
                                  DataType type, int threads = 0);

// CUDA versions on `stream` (device pointers): asynchronous, no allocation, no synchronisation.
// kUnsupported in builds without CUDA; kInvalidArgument for bad arguments (null pointers,
// count <= 0, unsupported type, misaligned or partially overlapping arrays; nothing launched);
// kSystemError when the launch fails.
BRAID_API Status GeluForwardCuda(const void* x, void* y, int64_t count, DataType type,
                                 CUstream_st* stream);
BRAID_API Status GeluBackwardCuda(const void* dy, const void* x, void* dx, int64_t count,
                                  DataType type, CUstream_st* stream);

}  // namespace braid::kernels
