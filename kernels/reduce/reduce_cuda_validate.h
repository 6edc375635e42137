// ReduceCuda's argument checks, shared by the CUDA build and the CPU-only stub.
#pragma once

#include <cstddef>

#include "braid/kernels/reduce_cuda.h"

namespace braid::kernels {

// InvalidArgument naming the first bad argument (num_srcs, type, op, count, a null, misaligned
// or partially overlapping pointer), else OK.
Status ValidateReduceCuda(void* dst, const void* const* srcs, int num_srcs, size_t count, DataType type,
                          RedOpKind op);

}  // namespace braid::kernels
