// Time of one GPU kernel from its FLOPs and bytes on the GPU's ceilings: tensor-core GEMMs with
// tile and wave quantisation, fused attention with a sequence-length ramp, and memory-bound
// kernels at streaming bandwidth. A calibration file (measured shape -> TFLOP/s, as our kernel
// benchmark emits) replaces the default GEMM efficiency near the shapes it measured.
#pragma once

#include <string>
#include <vector>

#include "sim/cluster/cluster.h"

namespace braid::sim {

enum class KernelKind { kGemm, kAttention, kMemory };

struct Kernel {
  std::string name;
  KernelKind kind = KernelKind::kMemory;
  // kGemm: C[m,n] += A[m,k] B[k,n], `batch` independent products.
  double m = 0, n = 0, k = 0, batch = 1;
  // kAttention: FLOPs actually executed (causal work only) and the sequence length.
  double flops = 0;
  double seq = 0;
  double bytes = 0;  // kMemory: bytes read + written; kGemm/kAttention: computed if 0
  // kMemory: the backward kernel's bytes over this kernel's (0: its backward moves nothing). The
  // default, 2, reads the incoming gradient and the saved input and writes a gradient.
  double backward_factor = 2;
  // FLOPs by Megatron's counting convention (GEMMs and attention counted in full), for reports.
  double counted_flops = 0;
  // The share of counted_flops that is model work, for MFU: 0.5 for causal attention's score
  // products (the masked upper triangle is no model work), 1 otherwise. Counting it in full
  // let MFU pass 100% for long sequences on a causal kernel.
  double model_share = 1;
};

struct GemmCalibrationPoint {
  double m, n, k, tflops;
};

class ComputeModel {
 public:
  explicit ComputeModel(const GpuSpec& gpu, std::vector<GemmCalibrationPoint> calibration = {});

  double Seconds(const Kernel& kernel) const;
  // Efficiency (fraction of peak) the model expects for a GEMM shape, before calibration.
  double GemmShapeEfficiency(double m, double n, double k, double batch) const;

 private:
  double GemmEfficiency(const Kernel& kernel) const;
  GpuSpec gpu_;
  std::vector<GemmCalibrationPoint> calibration_;
};

// Reads {"gemm": [{"m":..,"n":..,"k":..,"tflops":..}, ...]}, as written by bench/gpu_gemm_bench
// --calibration_out=FILE (its other fields: device, sms, date; per point layout, input,
// tflops_ours, tflops_cublas; any other field is refused), for `gpu` (a point above its peak
// is refused).
// Throws InputError naming the file and field.
std::vector<GemmCalibrationPoint> LoadGemmCalibration(const std::string& path, const GpuSpec& gpu);

// Kernel builders (bytes at `bytes_per_value` per element).
Kernel Gemm(std::string name, double m, double n, double k, double batch, int bytes_per_value);
Kernel MemoryOp(std::string name, double bytes, double backward_factor = 2);

}  // namespace braid::sim
