// LayerNorm / RMSNorm backward on CUDA (portable: sm_80+; no arch-specific instructions).
//
// Main path, rows of up to 12288 bf16/fp16 or 8192 fp32 elements (4096 on the scalar path): a grid
// of at most one wave of resident blocks; each row's x and dy are read once into registers by `tpr`
// threads, the two row sums mean(g) and mean(g * xhat) are formed, dx is written, and every thread
// keeps running dgamma / dbeta sums for its own columns across all rows its row slot visits. At the
// end each row slot ("group") writes its column sums to workspace[group][col]; a second small
// kernel adds the groups in a fixed order. Traffic: x, dy read once, dx written once, plus 2 *
// groups * cols * 4 B of partials (groups ~ rows resident at once, independent of `rows`).
//
// Longer rows whose dgamma (and dbeta) sums fit in a block's shared memory (up to ~29K columns
// for LayerNorm, ~58K for RMSNorm on the H100, any type): NormBackwardWideKernel, one row at a
// time per block, x and dy read from DRAM once (the second pass hits L2), sums in shared memory.
// Longer still: a column kernel computes the partial sums (reads x, dy), a row kernel computes dx
// (reads x, dy twice; the second read mostly hits L2), and the same final kernel adds partials.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "braid/kernels/norm.h"
#include "kernels/norm/norm_backward_kernels.cuh"

namespace braid::kernels {

namespace {

using namespace norm_detail;

// Packs per thread on the register path: 24 bf16/fp16 elements (3 packs, so a 12288-wide row fits
// in 512 threads) or 16 fp32 elements (4 packs; 24 would spill), and 8 elements on the scalar
// path. More elements per thread would spill: the dgamma/dbeta sums already take 2 registers
// per element.
template <typename T>
constexpr int kVecOf = 16 / sizeof(T);
template <typename T>
constexpr int kChunksOf = sizeof(T) == 2 ? 3 : 4;
constexpr int kScalarChunks = 8;

struct BwdPlan {
  bool rows_path = false;   // register kernel
  bool wide_path = false;   // else NormBackwardWideKernel (else the long-row kernels)
  size_t shared_bytes = 0;  // the wide kernel's dynamic shared memory
  RowLayout layout;         // rows path only
  int64_t blocks = 0;       // grid of the rows kernel, the wide kernel or the long-row dx kernel
  int64_t groups = 0;       // rows of partial sums in the workspace (per array)
};

Status CudaError(const char* what, cudaError_t err) {
  return Status::SystemError(std::string("NormBackwardCuda: ") + what + ": " +
                             cudaGetErrorString(err));
}

template <typename T, bool kRms>
Status PlanBackward(bool vector, int64_t rows, int64_t cols, BwdPlan* plan) {
  int device = 0, sms = 0;
  if (cudaError_t e = cudaGetDevice(&device); e != cudaSuccess)
    return CudaError("cudaGetDevice", e);
  if (cudaError_t e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
      e != cudaSuccess) {
    return CudaError("cudaDeviceGetAttribute", e);
  }
  constexpr int kVec = kVecOf<T>;
  plan->layout = vector ? PlanRowLayout(cols / kVec, kChunksOf<T>, kMaxRowThreads)
                        : PlanRowLayout(cols, kScalarChunks, kMaxRowThreads);
  plan->rows_path = plan->layout.tpr != 0;
  if (plan->rows_path) {
    int per_sm = 0;
    const void* kernel =
        vector ? reinterpret_cast<const void*>(&NormBackwardRowsKernel<T, kVec, kChunksOf<T>, kRms>)
               : reinterpret_cast<const void*>(&NormBackwardRowsKernel<T, 1, kScalarChunks, kRms>);
    if (cudaError_t e =
            cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, plan->layout.block, 0);
        e != cudaSuccess) {
      return CudaError("cudaOccupancyMaxActiveBlocksPerMultiprocessor", e);
    }
    const int rpb = plan->layout.rows_per_block;
    // One wave: more blocks would only add partial sums without adding bandwidth.
    plan->blocks = std::min<int64_t>((rows + rpb - 1) / rpb, int64_t{std::max(per_sm, 1)} * sms);
    plan->groups = plan->blocks * rpb;
    return Status::Ok();
  }
  // Long rows: the wide kernel if a block's column sums fit in shared memory.
  int shared_limit = 0;
  if (cudaError_t e =
          cudaDeviceGetAttribute(&shared_limit, cudaDevAttrMaxSharedMemoryPerBlockOptin, device);
      e != cudaSuccess) {
    return CudaError("cudaDeviceGetAttribute(MaxSharedMemoryPerBlockOptin)", e);
  }
  plan->shared_bytes = WideColumnSumsBytes(kRms, cols);
  // The kernel's static RowSum scratch counts against the same limit.
  plan->wide_path =
      plan->shared_bytes + kRowSumScratch * sizeof(float) <= static_cast<size_t>(shared_limit);
  if (plan->wide_path) {
    const void* kernel =
        vector ? reinterpret_cast<const void*>(&NormBackwardWideKernel<T, kVec, kRms>)
               : reinterpret_cast<const void*>(&NormBackwardWideKernel<T, 1, kRms>);
    // Above 48 KiB a kernel must opt in (a function attribute: no synchronisation).
    if (cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(plan->shared_bytes));
        e != cudaSuccess) {
      return CudaError("cudaFuncSetAttribute(MaxDynamicSharedMemorySize)", e);
    }
    int per_sm = 0;
    if (cudaError_t e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kLongThreads,
                                                                      plan->shared_bytes);
        e != cudaSuccess) {
      return CudaError("cudaOccupancyMaxActiveBlocksPerMultiprocessor", e);
    }
    plan->blocks = std::min<int64_t>(rows, int64_t{std::max(per_sm, 1)} * sms);
    plan->groups = plan->blocks;
  } else {
    plan->shared_bytes = 0;
    const int64_t col_tiles = (cols + kColTile - 1) / kColTile;
    // About 8 column blocks per SM, each over at least kColRows rows; grid.y <= 65535.
    const int64_t max_groups = std::min<int64_t>((rows + kColRows - 1) / kColRows, 65535);
    plan->groups =
        std::clamp<int64_t>((8 * int64_t{sms} + col_tiles - 1) / col_tiles, 1, max_groups);
    plan->blocks = std::min<int64_t>(rows, int64_t{sms} * 4);
  }
  return Status::Ok();
}

template <typename T, bool kRms>
Status LaunchBackward(const NormBackwardArgs& a, void* workspace, size_t workspace_bytes,
                      cudaStream_t stream) {
  BwdParams<T> p{static_cast<const T*>(a.dy),
                 static_cast<const T*>(a.x),
                 static_cast<const T*>(a.gamma),
                 a.mean,
                 a.rstd,
                 static_cast<T*>(a.dx),
                 a.rows,
                 a.cols};
  constexpr int kVec = kVecOf<T>;
  const bool vector = a.cols % kVec == 0 && Aligned16(a.dy) && Aligned16(a.x) &&
                      Aligned16(a.gamma) && Aligned16(a.dx);
  BwdPlan plan;
  if (Status s = PlanBackward<T, kRms>(vector, a.rows, a.cols, &plan); !s.ok()) return s;
  const size_t need = static_cast<size_t>(plan.groups * a.cols) * (kRms ? 1 : 2) * sizeof(float);
  if (workspace == nullptr)
    return Status::InvalidArgument("NormBackwardCuda: workspace is null: required");
  if (workspace_bytes < need) {
    return Status::InvalidArgument(
        "NormBackwardCuda: workspace_bytes=" + std::to_string(workspace_bytes) +
        ": must be >= " + std::to_string(need) + " (NormBackwardCudaWorkspaceBytes)");
  }
  if (reinterpret_cast<uintptr_t>(workspace) % alignof(float) != 0) {
    return Status::InvalidArgument("NormBackwardCuda: workspace: must be 4-byte aligned");
  }
  float* partial = static_cast<float*>(workspace);
  if (plan.rows_path) {
    const RowLayout& l = plan.layout;
    if (vector) {
      NormBackwardRowsKernel<T, kVec, kChunksOf<T>, kRms>
          <<<static_cast<unsigned>(plan.blocks), l.block, 0, stream>>>(p, l.tpr, partial);
    } else {
      NormBackwardRowsKernel<T, 1, kScalarChunks, kRms>
          <<<static_cast<unsigned>(plan.blocks), l.block, 0, stream>>>(p, l.tpr, partial);
    }
  } else if (plan.wide_path) {
    const auto blocks = static_cast<unsigned>(plan.blocks);
    if (vector) {
      NormBackwardWideKernel<T, kVec, kRms>
          <<<blocks, kLongThreads, plan.shared_bytes, stream>>>(p, partial);
    } else {
      NormBackwardWideKernel<T, 1, kRms>
          <<<blocks, kLongThreads, plan.shared_bytes, stream>>>(p, partial);
    }
  } else {
    // Partial sums first: they read dy and x, which dx may overwrite.
    const dim3 grid(static_cast<unsigned>((a.cols + kColTile - 1) / kColTile),
                    static_cast<unsigned>(plan.groups));
    NormBackwardColumnsKernel<T, kRms><<<grid, dim3(kColTile, kColRows), 0, stream>>>(p, partial);
    NormBackwardLongDxKernel<T, kRms>
        <<<static_cast<unsigned>(plan.blocks), kLongThreads, 0, stream>>>(p);
  }
  NormGradFinalizeKernel<<<static_cast<unsigned>((a.cols + kColTile - 1) / kColTile),
                           dim3(kColTile, kColRows), 0, stream>>>(
      partial, plan.groups, a.cols, a.dgamma, kRms ? nullptr : a.dbeta);
  if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) {
    return CudaError("kernel launch failed", err);
  }
  return Status::Ok();
}

template <typename T>
Status Launch(const NormBackwardArgs& a, void* workspace, size_t bytes, cudaStream_t stream) {
  return a.kind == NormKind::kRmsNorm ? LaunchBackward<T, true>(a, workspace, bytes, stream)
                                      : LaunchBackward<T, false>(a, workspace, bytes, stream);
}

// Workspace of one (type, kind) for both the vector and the scalar path.
template <typename T, bool kRms>
size_t WorkspaceFor(int64_t rows, int64_t cols) {
  size_t most = 0;
  for (bool vector : {true, false}) {
    if (vector && cols % kVecOf<T> != 0) continue;
    BwdPlan plan;
    if (!PlanBackward<T, kRms>(vector, rows, cols, &plan).ok()) return 0;
    most = std::max(most, static_cast<size_t>(plan.groups * cols) * (kRms ? 1 : 2) * sizeof(float));
  }
  return most;
}

}  // namespace

size_t NormBackwardCudaWorkspaceBytes(int64_t rows, int64_t cols) {
  if (rows < 1 || cols < 1 || cols > INT32_MAX) return 0;
  return std::max({WorkspaceFor<__nv_bfloat16, false>(rows, cols),
                   WorkspaceFor<__nv_bfloat16, true>(rows, cols),
                   WorkspaceFor<__half, false>(rows, cols), WorkspaceFor<__half, true>(rows, cols),
                   WorkspaceFor<float, false>(rows, cols), WorkspaceFor<float, true>(rows, cols)});
}

Status NormBackwardCuda(const NormBackwardArgs& args, void* workspace, size_t workspace_bytes,
                        CUstream_st* stream) {
  if (Status s = ValidateNormBackward(args); !s.ok()) return s;
  switch (args.type) {
    case DataType::kBfloat16:
      return Launch<__nv_bfloat16>(args, workspace, workspace_bytes, stream);
    case DataType::kFloat16:
      return Launch<__half>(args, workspace, workspace_bytes, stream);
    default:
      return Launch<float>(args, workspace, workspace_bytes, stream);
  }
}

}  // namespace braid::kernels
