// GeluForwardCuda / GeluBackwardCuda in builds without CUDA: the symbols exist so callers link,
// and they report kUnsupported (after the usual argument checks, so bad input is still named).
#if !defined(BRAID_HAVE_CUDA)

#include "braid/kernels/act.h"
#include "kernels/act/gelu_validate.h"

namespace braid::kernels {

Status GeluForwardCuda(const void* x, void* y, int64_t count, DataType type,
                       CUstream_st* /*stream*/) {
  if (Status s = ValidateGelu("GeluForwardCuda", false, x, nullptr, y, count, type); !s.ok())
    return s;
  return Status::Unsupported("GeluForwardCuda: libbraid was built without CUDA");
}

Status GeluBackwardCuda(const void* dy, const void* x, void* dx, int64_t count, DataType type,
                        CUstream_st* /*stream*/) {
  if (Status s = ValidateGelu("GeluBackwardCuda", true, x, dy, dx, count, type); !s.ok()) return s;
  return Status::Unsupported("GeluBackwardCuda: libbraid was built without CUDA");
}

}  // namespace braid::kernels

#endif  // !BRAID_HAVE_CUDA
