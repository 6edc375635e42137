// The Hopper GEMM variants this build compiled (generated registry, see kernels/CMakeLists.txt).
// Host-side declarations only; the kernels are in gemm_kernel.cuh.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

#include "braid/kernels/gemm.h"
#include "braid/status.h"

namespace braid::kernels::sm90a {

inline constexpr int kBlockM = 128;  // output rows per tile (two consumers x 64)
inline constexpr int kBlockN = 256;  // output columns per tile (the widest wgmma)
inline constexpr int kBlockK = 64;   // k per stage: one 128-byte swizzle row of 16-bit values

// The kernel counts output tiles in int (cheaper index arithmetic in its persistent loop), so
// the Hopper path takes at most 2^31 - 1 tiles; larger M x N go to the portable kernel.
inline bool TileCountFitsInt(int64_t m, int64_t n) {
  const int64_t tiles = ((m + kBlockM - 1) / kBlockM) * ((n + kBlockN - 1) / kBlockN);
  return tiles <= INT32_MAX;
}

// Launches one variant on `stream`. The caller has validated `args` and checked TMA's alignment
// rules and TileCountFitsInt; `num_sms` is the device's multiprocessor count (the persistent grid size).
using GemmSm90aLauncher = Status(const GemmArgs& args, int num_sms, cudaStream_t stream);

struct GemmSm90aVariant {
  const char* name;  // <input>_<layout>, e.g. "bf16_nt"
  GemmSm90aLauncher* launch;
};

// The variant for `name`, or nullptr when this build does not have it
// (BRAID_GEMM_SM90A_VARIANTS).
const GemmSm90aVariant* FindGemmSm90aVariant(const char* name);

}  // namespace braid::kernels::sm90a
