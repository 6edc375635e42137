// Host side of the Hopper GEMM: TMA tensor maps for A and B, the persistent grid, the launch.
// Included by the generated per-variant translation units (gemm_variant.cu.in).
#pragma once

#include <cuda.h>
#include <cudaTypedefs.h>  // PFN_cuTensorMapEncodeTiled
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string>

#include "kernels/gemm/sm90a/gemm_kernel.cuh"
#include "kernels/gemm/sm90a/gemm_sm90a.h"

namespace braid::kernels::sm90a {

// Devices whose shared-memory attribute is remembered as set; a device past this sets it on every
// launch (correct, one driver call more).
inline constexpr int kMaxRememberedDevices = 64;

// The tile arithmetic is in int; ValidateGemm keeps m, n and k at most kGemmMaxDim, one tile of
// 256 below 2^31, so rounding up to whole tiles cannot overflow.
static_assert(kBlockM <= 256 && kBlockN <= 256 && kBlockK <= 256, "kGemmMaxDim assumes tiles of at most 256");

// The driver's cuTensorMapEncodeTiled through the runtime (no link against libcuda).
inline PFN_cuTensorMapEncodeTiled_v12000 TensorMapEncoder() {
  static PFN_cuTensorMapEncodeTiled_v12000 encoder = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault,
                                         &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      fn = nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encoder;
}

// Diagnosis only: with BRAID_GEMM_SKIP_EPILOGUE=1 in the environment (read once per process) the
// kernel skips its epilogue and leaves D unwritten, so a benchmark times the TMA/wgmma main loop
// alone (tools/gpu_check runs gpu_gemm_bench once this way). Never set it for real work.
inline bool SkipEpilogueForDiagnosis() {
  static const bool skip = [] {
    const char* value = std::getenv("BRAID_GEMM_SKIP_EPILOGUE");
    return value != nullptr && std::string(value) == "1";
  }();
  return skip;
}

// A row-major `rows` x `cols` matrix of 16-bit elements with row pitch `ld` elements, read in
// boxes of box_cols x box_rows (box_cols * 2 bytes = 128, the swizzle span). Out-of-bounds
// elements of a box read as zero, which is how edge tiles are handled.
template <typename T>
Status EncodeOperandMap(CUtensorMap* map, const void* base, int64_t rows, int64_t cols, int64_t ld,
                        uint32_t box_cols, uint32_t box_rows, const char* operand) {
  const auto encode = TensorMapEncoder();
  if (encode == nullptr) {
    return Status::SystemError("GemmCuda: the CUDA driver has no cuTensorMapEncodeTiled");
  }
  const CUtensorMapDataType type = std::is_same_v<T, __half> ? CU_TENSOR_MAP_DATA_TYPE_FLOAT16
                                                             : CU_TENSOR_MAP_DATA_TYPE_BFLOAT16;
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(cols), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(ld) * sizeof(T)};  // bytes, dim 1
  const cuuint32_t box[2] = {box_cols, box_rows};
  const cuuint32_t element_strides[2] = {1, 1};
  const CUresult result =
      encode(map, type, 2, const_cast<void*>(base), dims, strides, box, element_strides,
             CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (result != CUDA_SUCCESS) {
    return Status::SystemError(std::string("GemmCuda: cuTensorMapEncodeTiled failed for ") +
                               operand + " (error " + std::to_string(result) + ")");
  }
  return Status::Ok();
}

// The warp-specialised register split (setmaxnreg) needs the registers per thread that ptxas
// gave the kernel at launch: with fewer, the consumers' setmaxnreg.inc would wait for ever (the
// kernel's 10 s barrier trap would end it). A compiler that allocates differently makes the
// launch fail with this message instead.
inline Status LaunchRegistersSuffice(const void* kernel) {
  cudaFuncAttributes attributes{};
  if (const cudaError_t err = cudaFuncGetAttributes(&attributes, kernel); err != cudaSuccess) {
    return Status::SystemError(std::string("GemmCuda: cannot read the Hopper kernel's attributes: ") +
                               cudaGetErrorString(err));
  }
  constexpr int kNeeded = (kProducerRegisters + kConsumers * kConsumerRegisters) * 128;  // per CTA
  if (attributes.numRegs * kThreads < kNeeded) {
    return Status::SystemError("GemmCuda: the Hopper kernel was compiled with " + std::to_string(attributes.numRegs) +
                               " registers per thread; its setmaxnreg split needs " +
                               std::to_string((kNeeded + kThreads - 1) / kThreads) + " (check ptxas -v)");
  }
  return Status::Ok();
}

template <typename T, bool kAMnMajor, bool kBMnMajor>
Status LaunchGemm(const GemmArgs& args, int num_sms, cudaStream_t stream) {
  CUtensorMap map_a, map_b;
  // A: K-major is stored M x K (boxes 64 k x 128 m); M-major is stored K x M (boxes 64 m x 64 k).
  Status status = kAMnMajor ? EncodeOperandMap<T>(&map_a, args.a, args.k, args.m, args.lda, kChunk, kBlockK, "A")
                            : EncodeOperandMap<T>(&map_a, args.a, args.m, args.k, args.lda, kChunk, kBlockM, "A");
  if (!status.ok()) return status;
  // B: K-major is stored N x K (boxes 64 k x 256 n); N-major is stored K x N (boxes 64 n x 64 k).
  status = kBMnMajor ? EncodeOperandMap<T>(&map_b, args.b, args.k, args.n, args.ldb, kChunk, kBlockK, "B")
                     : EncodeOperandMap<T>(&map_b, args.b, args.n, args.k, args.ldb, kChunk, kBlockN, "B");
  if (!status.ok()) return status;

  KernelParams p;
  p.k = static_cast<int>(args.k);
  p.tiles_m = CeilDiv(static_cast<int>(args.m), kBlockM);
  p.tiles_n = CeilDiv(static_cast<int>(args.n), kBlockN);
  p.k_blocks = CeilDiv(p.k, kBlockK);
  p.epi = MakeEpilogueParams(args);
  p.skip_epilogue = SkipEpilogueForDiagnosis();

  auto* kernel = &GemmSm90aKernel<T, kAMnMajor, kBMnMajor>;
  // Raising the dynamic shared-memory limit is an attribute of the function on the current
  // device: set once per device (a process driving two GPUs needs it on both), remembered in a
  // flag per device so later launches skip the driver calls. The register check rides along.
  static std::atomic<bool> attribute_set[kMaxRememberedDevices] = {};
  int device = 0;
  cudaError_t attribute_error = cudaGetDevice(&device);
  const bool remembered = attribute_error == cudaSuccess && device >= 0 && device < kMaxRememberedDevices;
  if (attribute_error == cudaSuccess && !(remembered && attribute_set[device].load(std::memory_order_acquire))) {
    if (Status registers = LaunchRegistersSuffice(reinterpret_cast<const void*>(kernel)); !registers.ok()) return registers;
    attribute_error = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                           static_cast<int>(kSharedBytes));
    if (attribute_error == cudaSuccess && remembered) attribute_set[device].store(true, std::memory_order_release);
  }
  if (attribute_error != cudaSuccess) {
    return Status::SystemError(std::string("GemmCuda: cannot give the Hopper kernel ") +
                               std::to_string(kSharedBytes) + " bytes of shared memory: " +
                               cudaGetErrorString(attribute_error));
  }
  const int grid = std::min(num_sms, p.tiles_m * p.tiles_n);
  kernel<<<grid, kThreads, kSharedBytes, stream>>>(map_a, map_b, p);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    return Status::SystemError(std::string("GemmCuda (sm90a kernel) launch: ") + cudaGetErrorString(err));
  }
  return Status::Ok();
}

}  // namespace braid::kernels::sm90a
