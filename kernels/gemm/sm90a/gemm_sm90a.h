// The Hopper GEMM variants this build compiled (generated registry, see kernels/CMakeLists.txt).
// Host-side declarations only; the kernels are in gemm_kernel.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include "braid/kernels/gemm.h"
#include "braid/status.h"

namespace braid::kernels::sm90a {

// Launches one variant on `stream`. The caller has validated `args` and checked TMA's alignment
// rules (CanUseTma); `num_sms` is the device's multiprocessor count (the persistent grid size).
using GemmSm90aLauncher = Status(const GemmArgs& args, int num_sms, cudaStream_t stream);

struct GemmSm90aVariant {
  const char* name;  // <input>_<layout>, e.g. "bf16_nt"
  GemmSm90aLauncher* launch;
};

// The variant for `name`, or nullptr when this build does not have it
// (BRAID_GEMM_SM90A_VARIANTS).
const GemmSm90aVariant* FindGemmSm90aVariant(const char* name);

}  // namespace braid::kernels::sm90a
