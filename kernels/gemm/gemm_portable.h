// The portable CUDA GEMM: any GPU, any alignment and leading dimension, CUDA cores only (fp32
// FMA). It is the fallback of GemmCuda where the Hopper kernel cannot run (other GPUs, operands
// TMA cannot address), not a fast path.
#pragma once

#include <cuda_runtime_api.h>

#include "braid/kernels/gemm.h"
#include "braid/status.h"

namespace braid::kernels {

// `args` must have passed ValidateGemm.
Status LaunchGemmPortable(const GemmArgs& args, cudaStream_t stream);

}  // namespace braid::kernels
