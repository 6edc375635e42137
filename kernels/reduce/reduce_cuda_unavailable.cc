// ReduceCuda in builds without CUDA (BRAID_HAVE_CUDA undefined): the symbol exists so callers
// link everywhere, and reports that this build cannot run it.
#if !defined(BRAID_HAVE_CUDA)

#include "braid/kernels/reduce_cuda.h"
#include "kernels/reduce/reduce_cuda_validate.h"

namespace braid::kernels {

Status ReduceCuda(void* dst, const void* const* srcs, int num_srcs, size_t count, DataType type, RedOpKind op,
                  CUstream_st*) {
  // Bad arguments are named first, as a CUDA build does.
  if (Status status = ValidateReduceCuda(dst, srcs, num_srcs, count, type, op); !status.ok()) return status;
  return Status::Unsupported("ReduceCuda: built without CUDA");
}

}  // namespace braid::kernels

#endif  // !defined(BRAID_HAVE_CUDA)
