// Argument checks shared by the GeLU host references and CUDA entry points (private to
// kernels/act). `op` names the public function in messages; `backward` says whether `dy` is
// required (forward callers pass dy = nullptr).
#pragma once

#include <cstdint>

#include "braid/status.h"
#include "braid/types.h"

namespace braid::kernels {

Status ValidateGelu(const char* op, bool backward, const void* x, const void* dy, const void* out,
                    int64_t count, DataType type);

}  // namespace braid::kernels
