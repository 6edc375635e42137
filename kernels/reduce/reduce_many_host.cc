// ReduceManyHost: the N-input element-wise reduction on the CPU (reference for ReduceCuda).
//
// Works in blocks of kBlock elements: the accumulator block starts as source 0 (widened to fp32
// for the narrow float types), every further source is combined into it left to right, and the
// block is rounded and written once. A block is read completely before it is written, so dst
// may equal any source exactly.
#include <algorithm>
#include <cstring>
#include <type_traits>

#include "braid/kernels/reduce.h"
#include "kernels/reduce/batch_convert.h"
#include "kernels/reduce/combine.h"

namespace braid::kernels {

namespace {

// Elements per block: the two buffers (at most 8 KiB each for 8-byte types) stay in L1.
constexpr size_t kBlock = 1024;

using Op = CombineOp;

template <Op kOp, typename T>
void CombineBlock(T* __restrict acc, const T* __restrict x, size_t n) {
  for (size_t i = 0; i < n; ++i) acc[i] = Combine<kOp>(acc[i], x[i]);
}

// Integer types, fp32 and fp64: compute in the type itself. memcpy keeps unaligned pointers
// legal (the public contract only asks for element-sized buffers).
template <Op kOp, typename T>
void ReduceManyNative(void* dst, const void* const* srcs, int num_srcs, size_t count) {
  T acc[kBlock];
  T x[kBlock];
  for (size_t begin = 0; begin < count; begin += kBlock) {
    size_t n = std::min(kBlock, count - begin);
    size_t offset = begin * sizeof(T);
    std::memcpy(acc, static_cast<const char*>(srcs[0]) + offset, n * sizeof(T));
    for (int k = 1; k < num_srcs; ++k) {
      std::memcpy(x, static_cast<const char*>(srcs[k]) + offset, n * sizeof(T));
      CombineBlock<kOp>(acc, x, n);
    }
    std::memcpy(static_cast<char*>(dst) + offset, acc, n * sizeof(T));
  }
}

// fp16, bf16, fp8: widen to fp32, combine in fp32, round once (conversions.cc's batch loops).
template <Op kOp>
void ReduceManyNarrow(void* dst, const void* const* srcs, int num_srcs, size_t count,
                      DataType type) {
  alignas(64) float acc[kBlock];
  alignas(64) float x[kBlock];
  size_t size = DataTypeSize(type);
  for (size_t begin = 0; begin < count; begin += kBlock) {
    size_t n = std::min(kBlock, count - begin);
    size_t offset = begin * size;
    detail::WidenToFloat(acc, static_cast<const char*>(srcs[0]) + offset, n, type);
    for (int k = 1; k < num_srcs; ++k) {
      detail::WidenToFloat(x, static_cast<const char*>(srcs[k]) + offset, n, type);
      CombineBlock<kOp>(acc, x, n);
    }
    detail::NarrowFromFloat(static_cast<char*>(dst) + offset, acc, n, type);
  }
}

template <Op kOp>
void ReduceManyOp(void* dst, const void* const* srcs, int num_srcs, size_t count,
                  DataType type) {
  switch (type) {
    case DataType::kInt8: return ReduceManyNative<kOp, int8_t>(dst, srcs, num_srcs, count);
    case DataType::kUint8: return ReduceManyNative<kOp, uint8_t>(dst, srcs, num_srcs, count);
    case DataType::kInt32: return ReduceManyNative<kOp, int32_t>(dst, srcs, num_srcs, count);
    case DataType::kUint32: return ReduceManyNative<kOp, uint32_t>(dst, srcs, num_srcs, count);
    case DataType::kInt64: return ReduceManyNative<kOp, int64_t>(dst, srcs, num_srcs, count);
    case DataType::kUint64: return ReduceManyNative<kOp, uint64_t>(dst, srcs, num_srcs, count);
    case DataType::kFloat32: return ReduceManyNative<kOp, float>(dst, srcs, num_srcs, count);
    case DataType::kFloat64: return ReduceManyNative<kOp, double>(dst, srcs, num_srcs, count);
    case DataType::kFloat16:
    case DataType::kBfloat16:
    case DataType::kFloat8e4m3:
    case DataType::kFloat8e5m2:
      return ReduceManyNarrow<kOp>(dst, srcs, num_srcs, count, type);
  }
}

}  // namespace

void ReduceManyHost(void* dst, const void* const* srcs, int num_srcs, size_t count,
                    DataType type, RedOpKind op) {
  if (count == 0 || num_srcs <= 0 || !IsValid(type)) return;
  switch (op) {
    case RedOpKind::kSum:
    case RedOpKind::kAvg:        // finished by DivideHost
    case RedOpKind::kPreMulSum:  // inputs already scaled by ScaleHost
      return ReduceManyOp<Op::kSum>(dst, srcs, num_srcs, count, type);
    case RedOpKind::kProd: return ReduceManyOp<Op::kProd>(dst, srcs, num_srcs, count, type);
    case RedOpKind::kMax: return ReduceManyOp<Op::kMax>(dst, srcs, num_srcs, count, type);
    case RedOpKind::kMin: return ReduceManyOp<Op::kMin>(dst, srcs, num_srcs, count, type);
  }
}

}  // namespace braid::kernels
