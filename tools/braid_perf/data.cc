#include "data.h"

#include <cmath>
#include <cstring>

#include "braid/kernels/reduce.h"

namespace braid::perf {
namespace {

// Largest integer magnitude the type represents exactly with all smaller ones (uint8 stops at
// 254 because 255 is its poison value). Capped at 2^24: our sums never need more.
double ExactIntegerLimit(DataType type) {
  switch (type) {
    case DataType::kInt8: return 127;
    case DataType::kUint8: return 254;
    case DataType::kFloat16: return 2048;
    case DataType::kBfloat16: return 256;
    case DataType::kFloat8e4m3: return 16;
    case DataType::kFloat8e5m2: return 8;
    default: return 1 << 24;
  }
}

// Explicit mantissa bits of floating types, for the avg tolerance.
int MantissaBits(DataType type) {
  switch (type) {
    case DataType::kFloat16: return 10;
    case DataType::kBfloat16: return 7;
    case DataType::kFloat8e4m3: return 3;
    case DataType::kFloat8e5m2: return 2;
    case DataType::kFloat32: return 23;
    default: return 52;
  }
}

bool IsSignedType(DataType type) {
  return IsFloatingPoint(type) || type == DataType::kInt8 || type == DataType::kInt32 ||
         type == DataType::kInt64;
}

// A well-mixed 64-bit value per (rank, index) so neighbouring elements and ranks differ.
uint64_t Mix(int rank, size_t index) {
  uint64_t x = uint64_t(index) * 0x9E3779B97F4A7C15ull ^ (uint64_t(rank) + 1) * 0xBF58476D1CE4E5B9ull;
  x ^= x >> 31;
  x *= 0x94D049BB133111EBull;
  x ^= x >> 29;
  return x;
}

}  // namespace

DataPattern::DataPattern(Collective collective, DataType type, RedOp op, int nranks, int root)
    : collective_(collective), type_(type), op_(op), nranks_(nranks), root_(root),
      signed_(IsSignedType(type)) {
  // Worst-case partial sum: every rank contributes 3, times the premulsum scalar.
  double scalar = op.kind == RedOpKind::kPreMulSum ? std::fabs(op.scalar) : 1.0;
  sparse_sum_ = 3.0 * nranks * scalar > ExactIntegerLimit(type);
}

double DataPattern::ReductionInput(int rank, size_t index) const {
  const uint64_t h = Mix(rank, index);
  const bool designated = index % size_t(nranks_) == size_t(rank);
  switch (op_.kind) {
    case RedOpKind::kProd: {
      double sign = (signed_ && (h & 1)) ? -1.0 : 1.0;
      return designated ? 2.0 * sign : sign;
    }
    case RedOpKind::kMax:
    case RedOpKind::kMin:
      return signed_ ? double(h % 7) - 3.0 : double(h % 7);
    default:  // sum, avg, premulsum
      if (sparse_sum_) return designated ? double(1 + h % 3) : 0.0;
      return signed_ ? double(h % 5) - 1.0 : double(h % 4);
  }
}

double DataPattern::CopyInput(int rank, size_t index) const {
  const uint64_t h = Mix(rank, index);
  const uint64_t range = DataTypeSize(type_) >= 2 ? 1000 : 100;
  double v = double(h % (2 * range + 1));
  return signed_ ? v - double(range) : v;
}

double DataPattern::Input(int rank, size_t index) const {
  return IsReduction(collective_) ? ReductionInput(rank, index) : CopyInput(rank, index);
}

double DataPattern::Reduce(size_t index) const {
  double acc = ReductionInput(0, index);
  for (int r = 1; r < nranks_; ++r) {
    double v = ReductionInput(r, index);
    switch (op_.kind) {
      case RedOpKind::kProd: acc *= v; break;
      case RedOpKind::kMax: acc = std::max(acc, v); break;
      case RedOpKind::kMin: acc = std::min(acc, v); break;
      default: acc += v; break;
    }
  }
  if (op_.kind == RedOpKind::kPreMulSum)
    acc *= IsFloatingPoint(type_) ? op_.scalar : std::trunc(op_.scalar);
  if (op_.kind == RedOpKind::kAvg)
    acc = IsFloatingPoint(type_) ? acc / nranks_ : std::trunc(acc / nranks_);
  return acc;
}

double DataPattern::Expected(int rank, size_t index, size_t count) const {
  const size_t n = size_t(nranks_);
  switch (collective_) {
    case Collective::kAllReduce:
    case Collective::kReduce: return Reduce(index);
    case Collective::kReduceScatter: return Reduce(size_t(rank) * count + index);
    case Collective::kAllGather: return CopyInput(int(index / count), index % count);
    case Collective::kBroadcast: return CopyInput(root_, index);
    case Collective::kAllToAll:
      return CopyInput(int(index / count), size_t(rank) * count + index % count);
    case Collective::kSendRecv: return CopyInput(int((size_t(rank) + n - 1) % n), index);
  }
  return 0;
}

double DataPattern::Rounded(double value) const {
  unsigned char tmp[16];
  kernels::StoreFromDouble(tmp, 0, type_, value);
  return kernels::LoadAsDouble(tmp, 0, type_);
}

bool DataPattern::Matches(double got, double want) const {
  if (got == Rounded(want)) return true;
  if (op_.kind != RedOpKind::kAvg || !IsFloatingPoint(type_) || !IsReduction(collective_))
    return false;
  // A floating-point average scales each input by 1/nranks (rounded to the type) and sums with a
  // rounding per step: n scaled inputs and n - 1 partial sums, each off by at most half an ulp at
  // a magnitude below 4 (|v| <= 3), so n ulps at 4 bound the error.
  return std::fabs(got - want) <= nranks_ * std::ldexp(4.0, -MantissaBits(type_));
}

void DataPattern::FillInput(void* base, int rank, size_t first_index, size_t n) const {
  for (size_t i = 0; i < n; ++i) kernels::StoreFromDouble(base, i, type_, Input(rank, first_index + i));
}

void DataPattern::Poison(void* base, size_t n) const {
  // All-ones is NaN in every floating type and the maximum of unsigned ones; 0x80 bytes give a
  // huge negative signed integer. Neither is ever an expected value (see ExactIntegerLimit).
  const bool signed_int = signed_ && !IsFloatingPoint(type_);
  std::memset(base, signed_int ? 0x80 : 0xFF, n * DataTypeSize(type_));
}

int64_t DataPattern::CountWrong(const void* base, int rank, size_t first_index, size_t n,
                                size_t count) const {
  int64_t wrong = 0;
  for (size_t i = 0; i < n; ++i) {
    double got = kernels::LoadAsDouble(base, i, type_);
    if (!Matches(got, Expected(rank, first_index + i, count))) ++wrong;
  }
  return wrong;
}

}  // namespace braid::perf
