#include "runtime/validate.h"

#include <cmath>
#include <cstdint>

#include <fmt/format.h>

namespace braid::runtime {
namespace {

bool Overlap(const void* a, size_t a_bytes, const void* b, size_t b_bytes) {
  auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  return a_bytes && b_bytes && pa < pb + b_bytes && pb < pa + a_bytes;
}

// A premulsum scalar for an integer type must be one of its values: NCCL takes the scalar in the
// element type, so 2.5 or 300 for uint8 cannot be asked of it, and converting them would change
// the result silently (ScaleHost converts, as NCCL's host scalar conversion would).
Status CheckIntegerScalar(const char* what, DataType type, double scalar) {
  double lo = 0, hi = 0;  // the type's range; 2^63 and 2^64 are exact doubles, the bounds past it
  switch (type) {
    case DataType::kInt8: lo = -128, hi = 127; break;
    case DataType::kUint8: lo = 0, hi = 255; break;
    case DataType::kInt32: lo = -2147483648.0, hi = 2147483647.0; break;
    case DataType::kUint32: lo = 0, hi = 4294967295.0; break;
    case DataType::kInt64: lo = -9223372036854775808.0, hi = std::nextafter(9223372036854775808.0, 0.0); break;
    case DataType::kUint64: lo = 0, hi = std::nextafter(18446744073709551616.0, 0.0); break;
    default: return Status::Ok();  // floating types take any scalar
  }
  if (scalar >= lo && scalar <= hi && std::trunc(scalar) == scalar) return Status::Ok();
  return Status::InvalidArgument(fmt::format("{}: premulsum scalar {} does not fit {} (it needs an integer in [{}, {}])",
                                             what, scalar, DataTypeName(type), lo, hi));
}

Status CheckTypeAndOp(const char* what, DataType type, const RedOp* op) {
  if (!IsValid(type))
    return Status::InvalidArgument(fmt::format("{}: unknown data type {} (valid 0..{})", what,
                                               int(type), kNumDataTypes - 1));
  if (op && !IsValid(op->kind))
    return Status::InvalidArgument(fmt::format("{}: unknown reduction op {} (valid 0..{})", what,
                                               int(op->kind), kNumRedOps - 1));
  if (op && op->kind == RedOpKind::kPreMulSum) return CheckIntegerScalar(what, type, op->scalar);
  return Status::Ok();
}

// ValidatePointToPoint's fast path trusts that no element is wider than 8 bytes.
constexpr bool NoTypeWiderThan8Bytes() {
  for (int t = 0; t < kNumDataTypes; ++t)
    if (DataTypeSize(DataType(t)) > 8) return false;
  return true;
}
static_assert(NoTypeWiderThan8Bytes() && kSurelySmallCount * 8 <= kMaxBufferBytes);

}  // namespace

Status CheckedBytes(size_t count, size_t elem_size, size_t factor, const char* what,
                    size_t* bytes) {
  // Overflow-checked multiplies, not divisions: this runs on every Send/Recv (two 64-bit
  // divisions cost more than the rest of a small send's validation).
  size_t per_factor = 0;
  if (__builtin_mul_overflow(count, elem_size, &per_factor) ||
      __builtin_mul_overflow(per_factor, factor, bytes)) {
    return Status::InvalidArgument(fmt::format(
        "{}: count {} x {} bytes x {} overflows size_t", what, count, elem_size, factor));
  }
  if (*bytes > kMaxBufferBytes) {
    return Status::InvalidArgument(fmt::format(
        "{}: count {} x {} bytes x {} = {} bytes is more than a process can address (at most 2^57)",
        what, count, elem_size, factor, *bytes));
  }
  return Status::Ok();
}

Status ValidateCollective(const CallArgs& a, bool* in_place) {
  const char* what = coll::CollectiveName(a.collective);
  if (Status s = CheckTypeAndOp(what, a.type, coll::IsReduction(a.collective) ? &a.op : nullptr); !s.ok())
    return s;
  if (coll::IsRooted(a.collective) && (a.root < 0 || a.root >= a.nranks))
    return Status::InvalidArgument(
        fmt::format("{}: root {} out of range [0, {})", what, a.root, a.nranks));

  const size_t es = DataTypeSize(a.type);
  const size_t n = size_t(a.nranks);
  size_t in_factor = 1, out_factor = 1;
  switch (a.collective) {
    case coll::Collective::kReduceScatter: in_factor = n; break;
    case coll::Collective::kAllGather: out_factor = n; break;
    case coll::Collective::kAllToAll: in_factor = out_factor = n; break;
    default: break;
  }
  size_t in_bytes = 0, out_bytes = 0;
  if (Status s = CheckedBytes(a.count, es, in_factor, what, &in_bytes); !s.ok()) return s;
  if (Status s = CheckedBytes(a.count, es, out_factor, what, &out_bytes); !s.ok()) return s;
  size_t block_bytes = a.count * es;

  // Which buffers this rank actually uses.
  bool uses_input = !(a.collective == coll::Collective::kBroadcast && a.rank != a.root);
  bool uses_output = !(a.collective == coll::Collective::kReduce && a.rank != a.root);
  if (a.count > 0) {
    if (uses_input && !a.input)
      return Status::InvalidArgument(fmt::format("{}: sendbuff is null with count {}", what, a.count));
    if (uses_output && !a.output)
      return Status::InvalidArgument(fmt::format("{}: recvbuff is null with count {}", what, a.count));
  }

  *in_place = false;
  if (!uses_input || !uses_output || a.count == 0) return Status::Ok();
  const auto* in = static_cast<const std::byte*>(a.input);
  auto* out = static_cast<std::byte*>(a.output);
  switch (a.collective) {
    case coll::Collective::kReduceScatter:
      *in_place = in + size_t(a.rank) * block_bytes == out;
      break;
    case coll::Collective::kAllGather:
      *in_place = out + size_t(a.rank) * block_bytes == in;
      break;
    case coll::Collective::kAllToAll:
      if (Overlap(in, in_bytes, out, out_bytes))
        return Status::InvalidArgument(
            "alltoall: sendbuff and recvbuff overlap; in-place all-to-all is not supported (NCCL forbids it)");
      return Status::Ok();
    default:
      *in_place = in == out;
      break;
  }
  if (!*in_place && Overlap(in, in_bytes, out, out_bytes)) {
    return Status::InvalidArgument(fmt::format(
        "{}: sendbuff [{}, +{} B) and recvbuff [{}, +{} B) overlap but are not the in-place "
        "layout NCCL defines for this collective",
        what, static_cast<const void*>(in), in_bytes, static_cast<void*>(out), out_bytes));
  }
  return Status::Ok();
}

Status CheckPointToPoint(const char* what, const void* buf, size_t count, DataType type, int peer,
                         int nranks, size_t* bytes) {
  if (Status s = CheckTypeAndOp(what, type, nullptr); !s.ok()) return s;
  if (peer < 0 || peer >= nranks)
    return Status::InvalidArgument(fmt::format("{}: peer {} out of range [0, {})", what, peer, nranks));
  if (Status s = CheckedBytes(count, DataTypeSize(type), 1, what, bytes); !s.ok()) return s;
  if (count > 0 && !buf)
    return Status::InvalidArgument(fmt::format("{}: buffer is null with count {}", what, count));
  return Status::Ok();  // a count the fast path could not vouch for, but a valid one
}

}  // namespace braid::runtime
