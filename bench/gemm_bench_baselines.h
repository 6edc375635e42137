// The library baselines of bench/gpu_gemm_bench.cc: cuBLAS (cublasGemmEx, CUBLAS_COMPUTE_32F,
// default algorithm and math mode, 32 MiB workspace as cuBLAS recommends on Hopper) and, when the
// bench links cuBLASLt (BRAID_BENCH_CUBLASLT), cublasLtMatmul with a bias or bias+GeLU epilogue.
//
// Row-major to cuBLAS's column-major: a row-major M x N matrix is the column-major N x M matrix
// of its transpose, so D^T = op(B)^T op(A)^T is computed with cuBLAS's "A" = our B and "B" = our
// A, the same leading dimensions, m' = N and n' = M. A bias over our columns (bias[n]) is then a
// bias over cuBLAS's rows, which is what CUBLASLT_EPILOGUE_BIAS broadcasts.
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>
#if defined(BRAID_BENCH_CUBLASLT)
#include <cublasLt.h>
#endif

#include <cstdint>
#include <string>

#include "braid/types.h"

namespace braid_bench {

// One GEMM in gemm.h's row-major terms (D = op(A) op(B), D is M x N with ld N).
struct RowMajorGemm {
  int64_t m = 0, n = 0, k = 0;
  braid::DataType type = braid::DataType::kBfloat16;  // inputs and output
  bool a_transposed = false, b_transposed = false;
  int64_t lda = 0, ldb = 0, ldd = 0;
};

inline cudaDataType_t CudaType(braid::DataType t) {
  return t == braid::DataType::kBfloat16 ? CUDA_R_16BF : t == braid::DataType::kFloat16 ? CUDA_R_16F : CUDA_R_32F;
}

class CublasBaseline {
 public:
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;

  // Handle on `stream` with its workspace; "" on success, else what failed.
  std::string Init(cudaStream_t stream) {
    stream_ = stream;
    if (cudaMalloc(&workspace_, kWorkspaceBytes) != cudaSuccess) return "cudaMalloc(cuBLAS workspace)";
    if (cublasCreate(&handle_) != CUBLAS_STATUS_SUCCESS) return "cublasCreate";
    if (cublasSetStream(handle_, stream) != CUBLAS_STATUS_SUCCESS) return "cublasSetStream";
    if (cublasSetWorkspace(handle_, workspace_, kWorkspaceBytes) != CUBLAS_STATUS_SUCCESS) return "cublasSetWorkspace";
#if defined(BRAID_BENCH_CUBLASLT)
    if (cublasLtCreate(&lt_) != CUBLAS_STATUS_SUCCESS) return "cublasLtCreate";
#endif
    return "";
  }
  ~CublasBaseline() {
#if defined(BRAID_BENCH_CUBLASLT)
    ReleasePlan();
    if (lt_) cublasLtDestroy(lt_);
#endif
    if (handle_) cublasDestroy(handle_);
    cudaFree(workspace_);
  }

  bool Gemm(const RowMajorGemm& g, const void* a, const void* b, void* d) {
    const float alpha = 1.0f, beta = 0.0f;
    const cudaDataType_t t = CudaType(g.type);
    return cublasGemmEx(handle_, g.b_transposed ? CUBLAS_OP_T : CUBLAS_OP_N, g.a_transposed ? CUBLAS_OP_T : CUBLAS_OP_N,
                        int(g.n), int(g.m), int(g.k), &alpha, b, t, int(g.ldb), a, t, int(g.lda), &beta, d, t,
                        int(g.ldd), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS;
  }

#if defined(BRAID_BENCH_CUBLASLT)
  static constexpr bool kHaveLt = true;
  // Builds the descriptors and picks the heuristic's first algorithm once, outside the timed
  // loop; `bias` (N elements of g.type) stays fixed for the plan. "" on success.
  std::string PlanLt(const RowMajorGemm& g, cublasLtEpilogue_t epilogue, const void* bias) {
    ReleasePlan();
    const cudaDataType_t t = CudaType(g.type);
    const cublasOperation_t op_a = g.b_transposed ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLAS's A is our B
    const cublasOperation_t op_b = g.a_transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
    if (cublasLtMatmulDescCreate(&desc_, CUBLAS_COMPUTE_32F, CUDA_R_32F) != CUBLAS_STATUS_SUCCESS) return "cublasLtMatmulDescCreate";
    cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSA, &op_a, sizeof(op_a));
    cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_TRANSB, &op_b, sizeof(op_b));
    cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_EPILOGUE, &epilogue, sizeof(epilogue));
    cublasLtMatmulDescSetAttribute(desc_, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias));
    // Stored (column-major) shapes: cuBLAS's A is N x K (or K x N when transposed), B K x M (M x K).
    const bool ok =
        cublasLtMatrixLayoutCreate(&la_, t, op_a == CUBLAS_OP_N ? g.n : g.k, op_a == CUBLAS_OP_N ? g.k : g.n, g.ldb) ==
            CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&lb_, t, op_b == CUBLAS_OP_N ? g.k : g.m, op_b == CUBLAS_OP_N ? g.m : g.k, g.lda) ==
            CUBLAS_STATUS_SUCCESS &&
        cublasLtMatrixLayoutCreate(&ld_, t, g.n, g.m, g.ldd) == CUBLAS_STATUS_SUCCESS;
    if (!ok) return "cublasLtMatrixLayoutCreate";
    cublasLtMatmulPreference_t pref = nullptr;
    cublasLtMatmulPreferenceCreate(&pref);
    const size_t ws = kWorkspaceBytes;
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(lt_, desc_, la_, lb_, ld_, ld_, pref, 1, &result, &found);
    cublasLtMatmulPreferenceDestroy(pref);
    if (st != CUBLAS_STATUS_SUCCESS || found == 0) return "cublasLtMatmulAlgoGetHeuristic found no algorithm";
    algo_ = result.algo;
    return "";
  }
  bool RunLt(const void* a, const void* b, void* d) {
    const float alpha = 1.0f, beta = 0.0f;
    return cublasLtMatmul(lt_, desc_, &alpha, b, la_, a, lb_, &beta, d, ld_, d, ld_, &algo_, workspace_,
                          kWorkspaceBytes, stream_) == CUBLAS_STATUS_SUCCESS;
  }
#else
  static constexpr bool kHaveLt = false;
#endif

 private:
#if defined(BRAID_BENCH_CUBLASLT)
  void ReleasePlan() {
    if (la_) cublasLtMatrixLayoutDestroy(la_);
    if (lb_) cublasLtMatrixLayoutDestroy(lb_);
    if (ld_) cublasLtMatrixLayoutDestroy(ld_);
    if (desc_) cublasLtMatmulDescDestroy(desc_);
    la_ = lb_ = ld_ = nullptr;
    desc_ = nullptr;
  }
  cublasLtHandle_t lt_ = nullptr;
  cublasLtMatmulDesc_t desc_ = nullptr;
  cublasLtMatrixLayout_t la_ = nullptr, lb_ = nullptr, ld_ = nullptr;
  cublasLtMatmulAlgo_t algo_{};
#endif
  cudaStream_t stream_ = nullptr;
  cublasHandle_t handle_ = nullptr;
  void* workspace_ = nullptr;
};

}  // namespace braid_bench
