// Data types and reduction operators. Enum values equal NCCL's (ncclDataType_t, ncclRedOp_t)
// so the C shim converts by cast.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "braid/export.h"

namespace braid {

enum class DataType : int {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBfloat16 = 9,
  kFloat8e4m3 = 10,
  kFloat8e5m2 = 11,
};
inline constexpr int kNumDataTypes = 12;

enum class RedOpKind : int {
  kSum = 0,
  kProd = 1,
  kMax = 2,
  kMin = 3,
  kAvg = 4,        // sum / nranks: floats scale each input by 1/nranks first (as NCCL), integers divide the sum
  kPreMulSum = 5,  // sum over ranks of (scalar * input)
};
inline constexpr int kNumRedOps = 6;

// A reduction operator. `scalar` is used by kPreMulSum only (in double, so every dtype's
// scalar is represented; it is converted to the element type's compute type on use). For an
// integer type it must be a value of that type (an integer in its range), as NCCL takes it in the
// element type; anything else is InvalidArgument.
struct RedOp {
  RedOpKind kind = RedOpKind::kSum;
  double scalar = 1.0;
};

// Size of one element in bytes (in DataType's order); 0 for an invalid value. Inline and
// constexpr: every Send, Recv and collective validates its count with it.
constexpr size_t DataTypeSize(DataType type) {
  constexpr uint8_t kSizes[kNumDataTypes] = {1, 1, 4, 4, 8, 8, 2, 4, 8, 2, 1, 1};
  return unsigned(type) < unsigned(kNumDataTypes) ? kSizes[int(type)] : 0;
}
// "float32", "bfloat16", "float8e4m3", ... ; "invalid" for an out-of-range value.
BRAID_API const char* DataTypeName(DataType type);
// "sum", "prod", "max", "min", "avg", "premulsum"; "invalid" otherwise.
BRAID_API const char* RedOpName(RedOpKind kind);
BRAID_API bool IsValid(DataType type);
BRAID_API bool IsValid(RedOpKind kind);
BRAID_API bool IsFloatingPoint(DataType type);
// Parse names as nccl-tests spells them too: "float"/"half"/"bfloat16"/"int32"/"f8e4m3"...
BRAID_API std::optional<DataType> ParseDataType(std::string_view name);
BRAID_API std::optional<RedOpKind> ParseRedOp(std::string_view name);

}  // namespace braid
