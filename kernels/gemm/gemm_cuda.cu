// GemmCuda: validates, picks the Hopper kernel or the portable one, and launches it on the
// caller's stream. No allocation and no synchronisation here (device attribute queries only).
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "braid/kernels/gemm.h"
#include "kernels/gemm/gemm_portable.h"
#include "kernels/gemm/sm90a/gemm_sm90a.h"

namespace braid::kernels {
namespace {

struct DeviceInfo {
  int compute_capability = 0;  // major * 10 + minor
  int num_sms = 0;
  std::string error;  // non-empty when the device could not be queried
};

DeviceInfo CurrentDevice() {
  DeviceInfo info;
  int device = 0, major = 0, minor = 0;
  cudaError_t err = cudaGetDevice(&device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  if (err == cudaSuccess) err = cudaDeviceGetAttribute(&info.num_sms, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess) info.error = cudaGetErrorString(err);
  info.compute_capability = major * 10 + minor;
  return info;
}

// TMA's rules for a 2-D tensor map: the base address 16-byte aligned, the row pitch a multiple
// of 16 bytes (8 elements of 16 bits). Returns "" when they hold, else the reason.
std::string TmaObstacle(const GemmArgs& args) {
  if (reinterpret_cast<uintptr_t>(args.a) % 16 != 0) return "A is not 16-byte aligned";
  if (reinterpret_cast<uintptr_t>(args.b) % 16 != 0) return "B is not 16-byte aligned";
  if (args.lda % 8 != 0) return "lda=" + std::to_string(args.lda) + " is not a multiple of 8";
  if (args.ldb % 8 != 0) return "ldb=" + std::to_string(args.ldb) + " is not a multiple of 8";
  // A TMA descriptor's row stride must be below 2^40 bytes (2-byte elements).
  constexpr int64_t kMaxTmaStrideElements = (int64_t{1} << 40) / 2;
  if (args.lda >= kMaxTmaStrideElements) return "lda=" + std::to_string(args.lda) + " spans 2^40 bytes or more";
  if (args.ldb >= kMaxTmaStrideElements) return "ldb=" + std::to_string(args.ldb) + " spans 2^40 bytes or more";
  return "";
}

std::string VariantName(const GemmArgs& args) {
  std::string name = args.input_type == DataType::kBfloat16 ? "bf16_" : "f16_";
  name += args.op_a == GemmOperand::kAsIs ? 'n' : 't';
  name += args.op_b == GemmOperand::kAsIs ? 'n' : 't';
  return name;
}

struct Choice {
  const sm90a::GemmSm90aVariant* hopper = nullptr;  // null: the portable kernel
  std::string why_portable;
};

Choice Choose(const GemmArgs& args, const DeviceInfo& device) {
  Choice choice;
  if (device.compute_capability != 90) {
    choice.why_portable = "device is sm_" + std::to_string(device.compute_capability) + ", not sm_90";
    return choice;
  }
  choice.why_portable = TmaObstacle(args);
  if (!choice.why_portable.empty()) return choice;
  if (!sm90a::TileCountFitsInt(args.m, args.n)) {
    choice.why_portable = "M x N is more than 2^31 - 1 tiles of " + std::to_string(sm90a::kBlockM) + " x " +
                          std::to_string(sm90a::kBlockN);
    return choice;
  }
  choice.hopper = sm90a::FindGemmSm90aVariant(VariantName(args).c_str());
  if (choice.hopper == nullptr) {
    choice.why_portable = "variant " + VariantName(args) + " not built (BRAID_GEMM_SM90A_VARIANTS)";
  }
  return choice;
}

}  // namespace

std::string GemmCudaKernelName(const GemmArgs& args) {
  const DeviceInfo device = CurrentDevice();
  if (!device.error.empty()) return "none (" + device.error + ")";
  const Choice choice = Choose(args, device);
  if (choice.hopper != nullptr) return std::string("sm90a-tma-wgmma ") + choice.hopper->name + " 128x256x64";
  return "portable-simt (" + choice.why_portable + ")";
}

Status GemmCuda(const GemmArgs& args, void* workspace, size_t workspace_bytes, CUstream_st* stream) {
  if (Status status = ValidateGemm(args); !status.ok()) return status.WithContext("GemmCuda");
  (void)workspace;  // GemmCudaWorkspaceBytes is 0 for every current path
  (void)workspace_bytes;
  const DeviceInfo device = CurrentDevice();
  if (!device.error.empty()) return Status::SystemError("GemmCuda: no usable CUDA device: " + device.error);
  const Choice choice = Choose(args, device);
  if (choice.hopper != nullptr) return choice.hopper->launch(args, device.num_sms, stream);
  return LaunchGemmPortable(args, stream);
}

}  // namespace braid::kernels
