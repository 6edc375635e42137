// GemmCuda in builds without CUDA (BRAID_HAVE_CUDA undefined): the symbols exist so callers link
// everywhere, and report that this build cannot run the GPU GEMM.
#if !defined(BRAID_HAVE_CUDA)

#include <string>

#include "braid/kernels/gemm.h"

namespace braid::kernels {

Status GemmCuda(const GemmArgs& args, void*, size_t, CUstream_st*) {
  // Bad arguments are named first, as a CUDA build does.
  if (Status status = ValidateGemm(args); !status.ok()) return status.WithContext("GemmCuda");
  return Status::Unsupported("GemmCuda: built without CUDA");
}

std::string GemmCudaKernelName(const GemmArgs&) { return "none (built without CUDA)"; }

}  // namespace braid::kernels

#endif  // !defined(BRAID_HAVE_CUDA)
