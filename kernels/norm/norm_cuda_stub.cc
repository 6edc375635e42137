// NormForwardCuda / NormBackwardCuda in builds without CUDA: the symbols exist so callers link,
// and they report kUnsupported (after the usual argument checks, so bad input is still named).
#if !defined(BRAID_HAVE_CUDA)

#include "braid/kernels/norm.h"

namespace braid::kernels {

Status NormForwardCuda(const NormForwardArgs& args, CUstream_st* /*stream*/) {
  if (Status s = ValidateNormForward(args); !s.ok()) return s;
  return Status::Unsupported("NormForwardCuda: libbraid was built without CUDA");
}

size_t NormBackwardCudaWorkspaceBytes(int64_t /*rows*/, int64_t /*cols*/) { return 0; }

Status NormBackwardCuda(const NormBackwardArgs& args, void* /*workspace*/,
                        size_t /*workspace_bytes*/, CUstream_st* /*stream*/) {
  if (Status s = ValidateNormBackward(args); !s.ok()) return s;
  return Status::Unsupported("NormBackwardCuda: libbraid was built without CUDA");
}

}  // namespace braid::kernels

#endif  // !BRAID_HAVE_CUDA
