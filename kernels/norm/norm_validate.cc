// Argument checks for LayerNorm / RMSNorm (include/braid/kernels/norm.h), shared by the host
// references and the CUDA entry points so both reject exactly the same inputs.
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>

#include "braid/kernels/norm.h"

namespace braid::kernels {

namespace {

const char* KindName(NormKind kind) { return kind == NormKind::kRmsNorm ? "RMSNorm" : "LayerNorm"; }

bool IsNormType(DataType type) {
  return type == DataType::kBfloat16 || type == DataType::kFloat16 || type == DataType::kFloat32;
}

// Shape and type checks common to forward and backward.
Status CheckShape(const char* op, NormKind kind, int64_t rows, int64_t cols, DataType type) {
  if (kind != NormKind::kLayerNorm && kind != NormKind::kRmsNorm) {
    return Status::InvalidArgument(
        fmt::format("{}: kind={}: must be kLayerNorm or kRmsNorm", op, static_cast<int>(kind)));
  }
  if (!IsNormType(type)) {
    return Status::InvalidArgument(
        fmt::format("{}: type={}: must be bfloat16, float16 or float32", op, DataTypeName(type)));
  }
  if (rows < 1) return Status::InvalidArgument(fmt::format("{}: rows={}: must be >= 1", op, rows));
  constexpr int64_t kMaxCols = std::numeric_limits<int32_t>::max();
  if (cols < 1 || cols > kMaxCols) {
    return Status::InvalidArgument(
        fmt::format("{}: cols={}: must be in [1, {}]", op, cols, kMaxCols));
  }
  // 8 bytes per element is the most any buffer (or the CUDA workspace) uses per element.
  if (rows > std::numeric_limits<int64_t>::max() / 8 / cols) {
    return Status::InvalidArgument(fmt::format(
        "{}: rows={} x cols={} elements: too many (rows * cols * 8 overflows)", op, rows, cols));
  }
  return Status::Ok();
}

Status CheckPointer(const char* op, const char* name, const void* p, size_t align, bool required) {
  if (p == nullptr) {
    if (!required) return Status::Ok();
    return Status::InvalidArgument(fmt::format("{}: {} is null: required", op, name));
  }
  if (reinterpret_cast<uintptr_t>(p) % align != 0) {
    return Status::InvalidArgument(
        fmt::format("{}: {}={}: must be aligned to {} bytes", op, name, p, align));
  }
  return Status::Ok();
}

Status CheckAbsent(const char* op, NormKind kind, const char* name, const void* p) {
  if (p == nullptr) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{}: {}={}: must be null for {}", op, name, p, KindName(kind)));
}

// `a` and `b` (each `bytes` long) may be the same array or disjoint, nothing in between.
Status CheckNoPartialOverlap(const char* op, const char* a_name, const void* a, const char* b_name,
                             const void* b, size_t bytes) {
  const auto pa = reinterpret_cast<uintptr_t>(a);
  const auto pb = reinterpret_cast<uintptr_t>(b);
  if (pa == pb || pa + bytes <= pb || pb + bytes <= pa) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{}: {}={} and {}={} partially overlap: they must be equal or disjoint", op,
                  a_name, a, b_name, b));
}

// One array of a call: its name, address and length (bytes); null pointers are left out.
struct Array {
  const char* name;
  const void* p;
  size_t bytes;
  bool output;
};

bool Overlap(const Array& a, const Array& b) {
  const auto pa = reinterpret_cast<uintptr_t>(a.p), pb = reinterpret_cast<uintptr_t>(b.p);
  return a.p != nullptr && b.p != nullptr && pa < pb + b.bytes && pb < pa + a.bytes;
}

// No output overlaps another array, except the one in-place form `alias_output` == `alias_input`
// (which CheckNoPartialOverlap has already held to the same address).
Status CheckOutputsApart(const char* op, std::initializer_list<Array> arrays, const char* alias_output,
                         const char* alias_input) {
  for (const Array& out : arrays) {
    if (!out.output) continue;
    for (const Array& other : arrays) {
      if (&other == &out || !Overlap(out, other) || (other.output && &other < &out)) continue;
      const bool in_place = std::string_view(out.name) == alias_output && std::string_view(other.name) == alias_input;
      if (in_place) continue;
      // The in-place exception is about an output and an input; two outputs never share memory.
      const std::string rule =
          other.output ? "outputs must not overlap each other"
                       : fmt::format("an output may only be the same array as {} ({} == {})", alias_input,
                                     alias_output, alias_input);
      return Status::InvalidArgument(fmt::format("{}: {}={} ({} bytes) overlaps {}={} ({} bytes): {}", op,
                                                 out.name, out.p, out.bytes, other.name, other.p,
                                                 other.bytes, rule));
    }
  }
  return Status::Ok();
}

#define NORM_CHECK(expr)     \
  do {                       \
    Status s_ = (expr);      \
    if (!s_.ok()) return s_; \
  } while (0)

}  // namespace

Status ValidateNormForward(const NormForwardArgs& a) {
  const char* op = "NormForward";
  NORM_CHECK(CheckShape(op, a.kind, a.rows, a.cols, a.type));
  if (!(a.eps > 0.0f) || !std::isfinite(a.eps)) {
    return Status::InvalidArgument(fmt::format("{}: eps={}: must be > 0 and finite", op, a.eps));
  }
  const size_t es = DataTypeSize(a.type);
  const bool ln = a.kind == NormKind::kLayerNorm;
  NORM_CHECK(CheckPointer(op, "x", a.x, es, true));
  NORM_CHECK(CheckPointer(op, "gamma", a.gamma, es, true));
  if (ln) {
    NORM_CHECK(CheckPointer(op, "beta", a.beta, es, true));
    NORM_CHECK(CheckPointer(op, "mean", a.mean, sizeof(float), false));
  } else {
    NORM_CHECK(CheckAbsent(op, a.kind, "beta", a.beta));
    NORM_CHECK(CheckAbsent(op, a.kind, "mean", a.mean));
  }
  NORM_CHECK(CheckPointer(op, "y", a.y, es, true));
  NORM_CHECK(CheckPointer(op, "rstd", a.rstd, sizeof(float), false));
  const size_t bytes = static_cast<size_t>(a.rows * a.cols) * es;
  NORM_CHECK(CheckNoPartialOverlap(op, "y", a.y, "x", a.x, bytes));
  const size_t row_bytes = static_cast<size_t>(a.cols) * es, stat_bytes = static_cast<size_t>(a.rows) * sizeof(float);
  return CheckOutputsApart(op,
                           {{"y", a.y, bytes, true},
                            {"mean", a.mean, stat_bytes, true},
                            {"rstd", a.rstd, stat_bytes, true},
                            {"x", a.x, bytes, false},
                            {"gamma", a.gamma, row_bytes, false},
                            {"beta", a.beta, row_bytes, false}},
                           "y", "x");
}

Status ValidateNormBackward(const NormBackwardArgs& a) {
  const char* op = "NormBackward";
  NORM_CHECK(CheckShape(op, a.kind, a.rows, a.cols, a.type));
  const size_t es = DataTypeSize(a.type);
  const bool ln = a.kind == NormKind::kLayerNorm;
  NORM_CHECK(CheckPointer(op, "dy", a.dy, es, true));
  NORM_CHECK(CheckPointer(op, "x", a.x, es, true));
  NORM_CHECK(CheckPointer(op, "gamma", a.gamma, es, true));
  if (ln) {
    NORM_CHECK(CheckPointer(op, "mean", a.mean, sizeof(float), true));
    NORM_CHECK(CheckPointer(op, "dbeta", a.dbeta, sizeof(float), true));
  } else {
    NORM_CHECK(CheckAbsent(op, a.kind, "mean", a.mean));
    NORM_CHECK(CheckAbsent(op, a.kind, "dbeta", a.dbeta));
  }
  NORM_CHECK(CheckPointer(op, "rstd", a.rstd, sizeof(float), true));
  NORM_CHECK(CheckPointer(op, "dx", a.dx, es, true));
  NORM_CHECK(CheckPointer(op, "dgamma", a.dgamma, sizeof(float), true));
  const size_t bytes = static_cast<size_t>(a.rows * a.cols) * es;
  NORM_CHECK(CheckNoPartialOverlap(op, "dx", a.dx, "dy", a.dy, bytes));
  const size_t row_bytes = static_cast<size_t>(a.cols) * es, stat_bytes = static_cast<size_t>(a.rows) * sizeof(float);
  const size_t sum_bytes = static_cast<size_t>(a.cols) * sizeof(float);
  return CheckOutputsApart(op,
                           {{"dx", a.dx, bytes, true},
                            {"dgamma", a.dgamma, sum_bytes, true},
                            {"dbeta", a.dbeta, sum_bytes, true},
                            {"dy", a.dy, bytes, false},
                            {"x", a.x, bytes, false},
                            {"gamma", a.gamma, row_bytes, false},
                            {"mean", a.mean, stat_bytes, false},
                            {"rstd", a.rstd, stat_bytes, false}},
                           "dx", "dy");
}

}  // namespace braid::kernels
