#include "braid/types.h"

#include <array>
#include <string>

namespace braid {
namespace {

constexpr std::array<const char*, kNumDataTypes> kTypeNames = {
    "int8",    "uint8",   "int32",   "uint32",    "int64",      "uint64",
    "float16", "float32", "float64", "bfloat16", "float8e4m3", "float8e5m2",
};
constexpr std::array<const char*, kNumRedOps> kOpNames = {"sum", "prod", "max", "min", "avg",
                                                          "premulsum"};

}  // namespace

bool IsValid(DataType type) {
  int t = static_cast<int>(type);
  return t >= 0 && t < kNumDataTypes;
}
bool IsValid(RedOpKind kind) {
  int k = static_cast<int>(kind);
  return k >= 0 && k < kNumRedOps;
}
const char* DataTypeName(DataType type) { return IsValid(type) ? kTypeNames[int(type)] : "invalid"; }
const char* RedOpName(RedOpKind kind) { return IsValid(kind) ? kOpNames[int(kind)] : "invalid"; }

bool IsFloatingPoint(DataType type) {
  switch (type) {
    case DataType::kFloat16:
    case DataType::kFloat32:
    case DataType::kFloat64:
    case DataType::kBfloat16:
    case DataType::kFloat8e4m3:
    case DataType::kFloat8e5m2:
      return true;
    default:
      return false;
  }
}

std::optional<DataType> ParseDataType(std::string_view name) {
  // Our names first, then the spellings nccl-tests and NCCL's headers use.
  for (int t = 0; t < kNumDataTypes; ++t)
    if (name == kTypeNames[t]) return DataType(t);
  struct Alias {
    std::string_view alias;
    DataType type;
  };
  static constexpr Alias kAliases[] = {
      {"char", DataType::kInt8},        {"int", DataType::kInt32},
      {"half", DataType::kFloat16},     {"float", DataType::kFloat32},
      {"double", DataType::kFloat64},   {"bf16", DataType::kBfloat16},
      {"fp16", DataType::kFloat16},     {"fp32", DataType::kFloat32},
      {"fp64", DataType::kFloat64},     {"f8e4m3", DataType::kFloat8e4m3},
      {"f8e5m2", DataType::kFloat8e5m2}, {"fp8e4m3", DataType::kFloat8e4m3},
      {"fp8e5m2", DataType::kFloat8e5m2},
  };
  for (const Alias& a : kAliases)
    if (name == a.alias) return a.type;
  return std::nullopt;
}

std::optional<RedOpKind> ParseRedOp(std::string_view name) {
  for (int k = 0; k < kNumRedOps; ++k)
    if (name == kOpNames[k]) return RedOpKind(k);
  if (name == "mulsum") return RedOpKind::kPreMulSum;  // nccl-tests' spelling
  return std::nullopt;
}

}  // namespace braid
