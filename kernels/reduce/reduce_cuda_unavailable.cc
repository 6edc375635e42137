// ReduceCuda in builds without CUDA (BRAID_HAVE_CUDA undefined): the symbol exists so callers
// link everywhere, and reports that this build cannot run it.
#if !defined(BRAID_HAVE_CUDA)

#include "braid/kernels/reduce_cuda.h"

namespace braid::kernels {

Status ReduceCuda(void*, const void* const*, int, size_t, DataType, RedOpKind, CUstream_st*) {
  return Status::Unsupported("ReduceCuda: built without CUDA");
}

}  // namespace braid::kernels

#endif  // !defined(BRAID_HAVE_CUDA)
