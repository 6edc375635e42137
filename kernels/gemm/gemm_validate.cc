// ValidateGemm: every rule include/braid/kernels/gemm.h states, checked before any work, with a
// message that names the field, its value and what is allowed. GemmCudaWorkspaceBytes lives here
// too because it is pure host code that CPU-only builds must also provide.
#include <fmt/format.h>

#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "braid/kernels/gemm.h"

namespace braid::kernels {
namespace {

std::string Str(int64_t v) { return std::to_string(v); }

const char* OperandName(GemmOperand op) {
  return op == GemmOperand::kAsIs ? "kAsIs" : "kTransposed";
}

bool IsSixteenBitFloat(DataType t) { return t == DataType::kBfloat16 || t == DataType::kFloat16; }

// One matrix operand's storage: `rows` stored rows of `cols` elements, `ld` elements apart.
struct Storage {
  const char* name;     // "a", "d", "pre_activation", ...
  const char* field;    // its leading dimension: "lda", "ldd", ...
  const void* pointer;  // may be null for optional operands (then nothing is checked)
  int64_t ld;
  int64_t rows;
  int64_t cols;
  size_t element_bytes;
};

// The leading dimension must hold a whole row, and the whole span must fit in int64 bytes, so
// the kernels' 64-bit byte offsets cannot overflow.
Status CheckLeadingDimension(const Storage& s, const std::string& explain) {
  if (s.ld < s.cols) {
    return Status::InvalidArgument("GemmArgs." + std::string(s.field) + " = " + Str(s.ld) +
                                   " is less than " + explain);
  }
  const int64_t max_elements = std::numeric_limits<int64_t>::max() / int64_t(s.element_bytes);
  if (s.rows > 1 && s.ld > (max_elements - s.cols) / (s.rows - 1)) {
    return Status::InvalidArgument("GemmArgs." + std::string(s.field) + " = " + Str(s.ld) +
                                   " with " + Str(s.rows) +
                                   " rows spans more than 2^63 bytes (allowed: a span that fits in int64)");
  }
  return Status::Ok();
}

// Byte range [begin, end) that a matrix's storage touches (from its first to its last element).
struct Span {
  uintptr_t begin = 0, end = 0;
};
Span SpanOf(const Storage& s) {
  if (s.pointer == nullptr) return {};
  const uintptr_t begin = reinterpret_cast<uintptr_t>(s.pointer);
  const uintptr_t elements = uintptr_t((s.rows - 1) * s.ld + s.cols);
  return {begin, begin + elements * s.element_bytes};
}
bool Overlap(const Span& x, const Span& y) {
  return x.begin != x.end && y.begin != y.end && x.begin < y.end && y.begin < x.end;
}

}  // namespace

Status ValidateGemm(const GemmArgs& args) {
  // Shape.
  const std::pair<const char*, int64_t> dims[] = {{"m", args.m}, {"n", args.n}, {"k", args.k}};
  for (const auto& [name, value] : dims) {
    if (value < 1 || value > kGemmMaxDim) {
      return Status::InvalidArgument("GemmArgs." + std::string(name) + " = " + Str(value) + " is out of range (allowed: 1 <= " +
                                     name + " <= " + Str(kGemmMaxDim) + ", 2^31 - 257)");
    }
  }
  // Types and enums.
  if (!IsSixteenBitFloat(args.input_type)) {
    return Status::InvalidArgument("GemmArgs.input_type = " + std::string(DataTypeName(args.input_type)) +
                                   " is not supported (allowed: bfloat16, float16)");
  }
  if (!IsSixteenBitFloat(args.output_type) && args.output_type != DataType::kFloat32) {
    return Status::InvalidArgument("GemmArgs.output_type = " + std::string(DataTypeName(args.output_type)) +
                                   " is not supported (allowed: bfloat16, float16, float32)");
  }
  const std::pair<const char*, GemmOperand> ops[] = {{"op_a", args.op_a}, {"op_b", args.op_b}};
  for (const auto& [name, op] : ops) {
    if (op != GemmOperand::kAsIs && op != GemmOperand::kTransposed) {
      return Status::InvalidArgument("GemmArgs." + std::string(name) + " = " + Str(int(op)) +
                                     " is not a GemmOperand (allowed: kAsIs, kTransposed)");
    }
  }
  const GemmEpilogue epi = args.epilogue;
  if (epi != GemmEpilogue::kNone && epi != GemmEpilogue::kBias && epi != GemmEpilogue::kBiasGelu) {
    return Status::InvalidArgument("GemmArgs.epilogue = " + Str(int(epi)) +
                                   " is not a GemmEpilogue (allowed: kNone, kBias, kBiasGelu)");
  }

  // Required pointers.
  const bool reads_c = args.beta != 0.0f;
  const bool has_bias = epi == GemmEpilogue::kBias || epi == GemmEpilogue::kBiasGelu;
  if (args.a == nullptr) return Status::InvalidArgument("GemmArgs.a is null (A is required)");
  if (args.b == nullptr) return Status::InvalidArgument("GemmArgs.b is null (B is required)");
  if (args.d == nullptr) return Status::InvalidArgument("GemmArgs.d is null (D is required)");
  if (reads_c && args.c == nullptr) {
    return Status::InvalidArgument(fmt::format("GemmArgs.c is null but beta = {} (C is required when beta != 0)",
                                               args.beta));
  }
  if (has_bias && args.bias == nullptr) {
    return Status::InvalidArgument("GemmArgs.bias is null (required by epilogue kBias and kBiasGelu)");
  }
  if (args.pre_activation != nullptr && epi != GemmEpilogue::kBiasGelu) {
    return Status::InvalidArgument(
        "GemmArgs.pre_activation is set but epilogue = " + std::string(epi == GemmEpilogue::kNone ? "kNone" : "kBias") +
        " (allowed only with kBiasGelu)");
  }

  // Leading dimensions, in the order of the header's fields.
  const size_t in_bytes = 2;
  const size_t out_bytes = DataTypeSize(args.output_type);
  const bool a_as_is = args.op_a == GemmOperand::kAsIs;
  const bool b_as_is = args.op_b == GemmOperand::kAsIs;
  const Storage a{"a", "lda", args.a, args.lda, a_as_is ? args.m : args.k, a_as_is ? args.k : args.m, in_bytes};
  const Storage b{"b", "ldb", args.b, args.ldb, b_as_is ? args.k : args.n, b_as_is ? args.n : args.k, in_bytes};
  const Storage d{"d", "ldd", args.d, args.ldd, args.m, args.n, out_bytes};
  const Storage c{"c", "ldc", reads_c ? args.c : nullptr, args.ldc, args.m, args.n, out_bytes};
  const Storage pre{"pre_activation", "ld_pre", args.pre_activation, args.ld_pre, args.m, args.n, out_bytes};
  const Storage res{"residual", "ld_residual", args.residual, args.ld_residual, args.m, args.n, out_bytes};
  const Storage bias{"bias", "n", has_bias ? args.bias : nullptr, args.n, 1, args.n, out_bytes};

  const std::string a_shape = a_as_is ? "M x K" : "K x M";
  const std::string b_shape = b_as_is ? "K x N" : "N x K";
  if (Status s = CheckLeadingDimension(a, std::string(a_as_is ? "K = " : "M = ") + Str(a.cols) +
                                              " (op_a = " + OperandName(args.op_a) +
                                              " stores A as " + a_shape + ")");
      !s.ok()) {
    return s;
  }
  if (Status s = CheckLeadingDimension(b, std::string(b_as_is ? "N = " : "K = ") + Str(b.cols) +
                                              " (op_b = " + OperandName(args.op_b) +
                                              " stores B as " + b_shape + ")");
      !s.ok()) {
    return s;
  }
  const std::string n_rows = "N = " + Str(args.n) + " (row length of ";
  if (Status s = CheckLeadingDimension(d, n_rows + "D, M x N)"); !s.ok()) return s;
  if (reads_c) {
    if (Status s = CheckLeadingDimension(c, n_rows + "C, M x N, read because beta != 0)"); !s.ok()) return s;
  }
  if (pre.pointer != nullptr) {
    if (Status s = CheckLeadingDimension(pre, n_rows + "pre_activation, M x N)"); !s.ok()) return s;
  }
  if (res.pointer != nullptr) {
    if (Status s = CheckLeadingDimension(res, n_rows + "residual, M x N)"); !s.ok()) return s;
  }

  // Every array aligned to its element size: the kernels load and store whole elements.
  const Storage* arrays[] = {&a, &b, &c, &bias, &res, &pre, &d};
  for (const Storage* array : arrays) {
    if (array->pointer != nullptr && reinterpret_cast<uintptr_t>(array->pointer) % array->element_bytes != 0) {
      return Status::InvalidArgument(fmt::format("GemmArgs.{} = {} is not aligned to its element size ({} bytes)",
                                                 array->name, array->pointer, array->element_bytes));
    }
  }

  // Aliasing: C may be D exactly (same pointer and leading dimension); nothing else may overlap
  // an output. Checked on the byte spans, which is conservative for interleaved layouts.
  const bool c_is_d = reads_c && args.c == args.d;
  if (c_is_d && args.ldc != args.ldd) {
    return Status::InvalidArgument("GemmArgs.ldc = " + Str(args.ldc) + " differs from ldd = " + Str(args.ldd) +
                                   " while c == d (C may alias D only with the same leading dimension)");
  }
  const Storage* outputs[] = {&d, &pre};
  for (const Storage* out : outputs) {
    for (const Storage* other : arrays) {
      if (other == out || (other == &d && out == &pre)) continue;  // pre vs d is checked as d vs pre
      if (c_is_d && out == &d && other == &c) continue;
      if (Overlap(SpanOf(*out), SpanOf(*other))) {
        return Status::InvalidArgument(
            fmt::format("GemmArgs.{} = {} overlaps GemmArgs.{} = {} (allowed: no overlap with an output, except "
                        "c == d exactly)",
                        out->name, out->pointer, other->name, other->pointer));
      }
    }
  }
  return Status::Ok();
}

// The current kernels (Hopper TMA + wgmma, portable SIMT) keep everything in registers and shared
// memory and write D directly: no split-K partials, no semaphores, so no workspace.
size_t GemmCudaWorkspaceBytes(const GemmArgs& args) {
  (void)args;
  return 0;
}

}  // namespace braid::kernels
