// ReduceCuda's argument checks (include/braid/kernels/reduce_cuda.h), host code shared by the CUDA
// build and the CPU-only build's stub, so both name a bad argument the same way.
#include "kernels/reduce/reduce_cuda_validate.h"

#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>

namespace braid::kernels {
namespace {

std::string Hex(const void* pointer) {
  char text[32];
  std::snprintf(text, sizeof(text), "%p", pointer);
  return text;
}

}  // namespace

Status ValidateReduceCuda(void* dst, const void* const* srcs, int num_srcs, size_t count, DataType type,
                          RedOpKind op) {
  if (num_srcs < 1 || num_srcs > kReduceCudaMaxSources) {
    return Status::InvalidArgument("ReduceCuda: num_srcs = " + std::to_string(num_srcs) +
                                   " is out of range [1, " +
                                   std::to_string(kReduceCudaMaxSources) + "]");
  }
  if (!IsValid(type)) {
    return Status::InvalidArgument("ReduceCuda: type = " + std::to_string(int(type)) +
                                   " is not a DataType (allowed 0.." +
                                   std::to_string(kNumDataTypes - 1) + ")");
  }
  if (!IsValid(op)) {
    return Status::InvalidArgument("ReduceCuda: op = " + std::to_string(int(op)) +
                                   " is not a RedOpKind (allowed 0.." +
                                   std::to_string(kNumRedOps - 1) + ")");
  }
  if (count == 0) return Status::Ok();
  const size_t size = DataTypeSize(type);
  const std::string with_count = " with count = " + std::to_string(count) +
                                 " (pointers may be null only when count == 0)";
  if (count > std::numeric_limits<size_t>::max() / size) {
    return Status::InvalidArgument("ReduceCuda: count = " + std::to_string(count) +
                                   " elements of " + DataTypeName(type) +
                                   " overflows size_t bytes");
  }
  if (dst == nullptr) return Status::InvalidArgument("ReduceCuda: dst is null" + with_count);
  if (srcs == nullptr) return Status::InvalidArgument("ReduceCuda: srcs is null" + with_count);
  const size_t bytes = count * size;
  const uintptr_t d = reinterpret_cast<uintptr_t>(dst);
  if (d % size != 0) {
    return Status::InvalidArgument("ReduceCuda: dst = " + Hex(dst) + " is not aligned to the " +
                                   std::to_string(size) + "-byte element size of " +
                                   DataTypeName(type));
  }
  for (int k = 0; k < num_srcs; ++k) {
    const std::string name = "ReduceCuda: srcs[" + std::to_string(k) + "]";
    if (srcs[k] == nullptr) return Status::InvalidArgument(name + " is null" + with_count);
    const uintptr_t s = reinterpret_cast<uintptr_t>(srcs[k]);
    if (s % size != 0) {
      return Status::InvalidArgument(name + " = " + Hex(srcs[k]) + " is not aligned to the " +
                                     std::to_string(size) + "-byte element size of " +
                                     DataTypeName(type));
    }
    if (s != d && s < d + bytes && d < s + bytes) {
      return Status::InvalidArgument(name + " = " + Hex(srcs[k]) + " partially overlaps dst = " +
                                     Hex(dst) + " (" + std::to_string(bytes) +
                                     " bytes each); dst may only equal a source exactly");
    }
  }
  return Status::Ok();
}

}  // namespace braid::kernels
