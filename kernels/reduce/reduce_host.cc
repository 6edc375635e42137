// Host reduction kernels: ReduceHost, ScaleHost, DivideHost.
//
// Each call picks one typed loop by (type, op) and runs it; the loops take restrict-qualified
// typed pointers so g++ -O3 vectorises them. Exact aliasing (dst == a, dst == b, a == b) is
// dispatched to loops with one pointer fewer instead of breaking the restrict promise.
// fp16 / bf16 / fp8 are processed in blocks: widen to fp32 on the stack, combine, round once.
// Counts of at least kParallelMinCount elements are split across a few worker threads (kernels/common/host_workers.h).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <type_traits>

#include "braid/kernels/reduce.h"
#include "kernels/common/host_workers.h"
#include "kernels/reduce/batch_convert.h"
#include "kernels/reduce/combine.h"

namespace braid::kernels {

namespace {

// Elements of a narrow type widened per block: 2 fp32 buffers of 4 KiB each stay in L1.
constexpr size_t kBlock = 1024;
// Below this many elements a call runs on the calling thread only (4 Mi elements).
constexpr size_t kParallelMinCount = size_t{1} << 22;
// Each worker gets at least this many elements (2 Mi), so start-up (~tens of us) stays small.
constexpr size_t kParallelMinPerWorker = size_t{1} << 21;
// Memory bandwidth saturates with a few cores; more would compete with the caller's ranks.
constexpr unsigned kMaxWorkers = 4;
// Worker ranges start at multiples of this many elements (a cache line for 1-byte types).
constexpr size_t kSplitAlign = 64;

using Op = CombineOp;

// ---- element-wise loops -------------------------------------------------------------------

template <Op kOp, typename T>
void BinaryLoop(T* __restrict d, const T* __restrict a, const T* __restrict b, size_t n) {
  for (size_t i = 0; i < n; ++i) d[i] = Combine<kOp>(a[i], b[i]);
}

// d is one of the operands; kDstIsB keeps the operand order op(a, b) (it matters for the bits
// of NaN payloads and signed zeros, which must not depend on how the caller aliased buffers).
template <Op kOp, typename T, bool kDstIsB>
void InPlaceLoop(T* __restrict d, const T* __restrict other, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    d[i] = kDstIsB ? Combine<kOp>(other[i], d[i]) : Combine<kOp>(d[i], other[i]);
  }
}

// a == b (d may be a as well): rare, so no restrict and no attempt at speed.
template <Op kOp, typename T>
void SelfLoop(T* d, const T* a, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    T x = a[i];
    d[i] = Combine<kOp>(x, x);
  }
}

template <Op kOp, typename T>
void ReduceSame(T* d, const T* a, const T* b, size_t n) {
  if (a == b) {
    SelfLoop<kOp>(d, a, n);
  } else if (d == a) {
    InPlaceLoop<kOp, T, false>(d, b, n);
  } else if (d == b) {
    InPlaceLoop<kOp, T, true>(d, a, n);
  } else {
    BinaryLoop<kOp>(d, a, b, n);
  }
}

// dst[i] = f(src[i]), dst == src allowed.
template <typename T, typename F>
void MapLoop(T* __restrict d, const T* __restrict s, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) d[i] = f(s[i]);
}

template <typename T, typename F>
void MapInPlaceLoop(T* __restrict d, size_t n, F f) {
  for (size_t i = 0; i < n; ++i) d[i] = f(d[i]);
}

// ---- callers' buffers that are not aligned to the element --------------------------------
// The collectives pass user buffers, which need only be element-sized: a typed access through a
// misaligned pointer is undefined behaviour (UBSan flagged it; QA, session 55). Such calls run
// block by block through aligned copies, with the same loops and the same aliasing, so their
// bits are those of an aligned call.

template <typename T>
bool Aligned(const void* p) {
  return reinterpret_cast<uintptr_t>(p) % alignof(T) == 0;
}

// Elements per aligned block: 3 blocks of 4 KiB stay in L1.
template <typename T>
constexpr size_t kAlignedBlock = 4096 / sizeof(T);

// Runs `run(d, a, b, m)` over aligned copies of [dst, a, b) block by block; b may be null. Each
// copy stands for its buffer, so dst == a (or b) and a == b alias as the caller's pointers do.
template <typename T, typename Run>
void ThroughAlignedBlocks(void* dst, const void* a, const void* b, size_t n, Run run) {
  alignas(64) T copy_a[kAlignedBlock<T>], copy_b[kAlignedBlock<T>], copy_d[kAlignedBlock<T>];
  T* block_b = b == a ? copy_a : copy_b;
  T* block_d = dst == a ? copy_a : dst == b ? block_b : copy_d;
  for (size_t i = 0; i < n; i += kAlignedBlock<T>) {
    const size_t m = std::min(kAlignedBlock<T>, n - i);
    std::memcpy(copy_a, static_cast<const T*>(a) + i, m * sizeof(T));
    if (b != nullptr && b != a) std::memcpy(copy_b, static_cast<const T*>(b) + i, m * sizeof(T));
    run(block_d, copy_a, b != nullptr ? block_b : nullptr, m);
    std::memcpy(static_cast<T*>(dst) + i, block_d, m * sizeof(T));
  }
}

template <typename T, typename F>
void MapAligned(T* d, const T* s, size_t n, F f) {
  if (d == s) {
    MapInPlaceLoop(d, n, f);
  } else {
    MapLoop(d, s, n, f);
  }
}

template <typename T, typename F>
void Map(void* dst, const void* src, size_t n, F f) {
  if (Aligned<T>(dst) && Aligned<T>(src)) return MapAligned(static_cast<T*>(dst), static_cast<const T*>(src), n, f);
  ThroughAlignedBlocks<T>(dst, src, nullptr, n, [&](T* d, const T* s, const T*, size_t m) { MapAligned(d, s, m, f); });
}

// Narrow floating types: dst = round(f(widen(src...))) block by block. Each block is read
// completely before it is written, so any exact aliasing is fine.
template <DataType kType, typename BlockFn>
void ForEachBlock(void* dst, const void* a, const void* b, size_t n, BlockFn fn) {
  constexpr size_t kSize = kType == DataType::kFloat16 || kType == DataType::kBfloat16 ? 2 : 1;
  alignas(64) float fa[kBlock];
  alignas(64) float fb[kBlock];
  auto* d = static_cast<char*>(dst);
  const auto* pa = static_cast<const char*>(a);
  const auto* pb = static_cast<const char*>(b);
  for (size_t i = 0; i < n; i += kBlock) {
    size_t m = std::min(kBlock, n - i);
    detail::WidenToFloat(fa, pa + i * kSize, m, kType);
    if (pb != nullptr) detail::WidenToFloat(fb, pb + i * kSize, m, kType);
    fn(fa, fb, m);
    detail::NarrowFromFloat(d + i * kSize, fa, m, kType);
  }
}

// ---- per-(type, op) entry points ------------------------------------------------------------

using ReduceFn = void (*)(void* dst, const void* a, const void* b, size_t n);

template <Op kOp, typename T>
void ReduceNative(void* dst, const void* a, const void* b, size_t n) {
  if (Aligned<T>(dst) && Aligned<T>(a) && Aligned<T>(b))
    return ReduceSame<kOp>(static_cast<T*>(dst), static_cast<const T*>(a), static_cast<const T*>(b), n);
  ThroughAlignedBlocks<T>(dst, a, b, n, [](T* d, const T* x, const T* y, size_t m) { ReduceSame<kOp>(d, x, y, m); });
}

template <Op kOp, DataType kType>
void ReduceNarrow(void* dst, const void* a, const void* b, size_t n) {
  ForEachBlock<kType>(dst, a, b, n, [](float* fa, const float* fb, size_t m) {
    InPlaceLoop<kOp, float, false>(fa, fb, m);
  });
}

template <Op kOp>
ReduceFn SelectReduce(DataType type) {
  switch (type) {
    case DataType::kInt8: return &ReduceNative<kOp, int8_t>;
    case DataType::kUint8: return &ReduceNative<kOp, uint8_t>;
    case DataType::kInt32: return &ReduceNative<kOp, int32_t>;
    case DataType::kUint32: return &ReduceNative<kOp, uint32_t>;
    case DataType::kInt64: return &ReduceNative<kOp, int64_t>;
    case DataType::kUint64: return &ReduceNative<kOp, uint64_t>;
    case DataType::kFloat32: return &ReduceNative<kOp, float>;
    case DataType::kFloat64: return &ReduceNative<kOp, double>;
    case DataType::kFloat16: return &ReduceNarrow<kOp, DataType::kFloat16>;
    case DataType::kBfloat16: return &ReduceNarrow<kOp, DataType::kBfloat16>;
    case DataType::kFloat8e4m3: return &ReduceNarrow<kOp, DataType::kFloat8e4m3>;
    case DataType::kFloat8e5m2: return &ReduceNarrow<kOp, DataType::kFloat8e5m2>;
  }
  return nullptr;
}

ReduceFn SelectReduce(DataType type, RedOpKind op) {
  switch (op) {
    case RedOpKind::kSum:
    case RedOpKind::kAvg:        // finished by DivideHost
    case RedOpKind::kPreMulSum:  // inputs already scaled by ScaleHost
      return SelectReduce<Op::kSum>(type);
    case RedOpKind::kProd: return SelectReduce<Op::kProd>(type);
    case RedOpKind::kMax: return SelectReduce<Op::kMax>(type);
    case RedOpKind::kMin: return SelectReduce<Op::kMin>(type);
  }
  return nullptr;
}

// Host scalar -> integer type: truncate toward zero, saturate to the type's range (NaN -> 0);
// a negative scalar for an unsigned type wraps, so the product is the wrapped signed product.
template <typename T>
T ScalarToInt(double scalar) {
  if (std::isnan(scalar)) return 0;
  double t = std::trunc(scalar);
  constexpr double kTwo63 = 9223372036854775808.0;
  if constexpr (std::is_signed_v<T>) {
    constexpr double kUpper = -static_cast<double>(std::numeric_limits<T>::min());
    if (t >= kUpper) return std::numeric_limits<T>::max();
    if (t < -kUpper) return std::numeric_limits<T>::min();
    return static_cast<T>(t);
  } else {
    constexpr double kUpper = 2.0 * static_cast<double>(T{1} << (sizeof(T) * 8 - 1));
    if (t >= kUpper) return std::numeric_limits<T>::max();
    if (t >= 0) return static_cast<T>(t);
    int64_t negative = t < -kTwo63 ? std::numeric_limits<int64_t>::min() : static_cast<int64_t>(t);
    return static_cast<T>(static_cast<uint64_t>(negative));
  }
}

template <typename T>
void ScaleNative(void* dst, const void* src, size_t n, double scalar) {
  T s;
  if constexpr (std::is_floating_point_v<T>) {
    s = static_cast<T>(scalar);
  } else {
    s = ScalarToInt<T>(scalar);
  }
  Map<T>(dst, src, n, [s](T x) { return Combine<Op::kProd>(x, s); });
}

template <DataType kType>
void ScaleNarrow(void* dst, const void* src, size_t n, double scalar) {
  float s = static_cast<float>(scalar);
  ForEachBlock<kType>(dst, src, nullptr, n, [s](float* fa, const float*, size_t m) {
    MapInPlaceLoop(fa, m, [s](float x) { return x * s; });
  });
}

// Truncating integer division by a positive divisor that may exceed T's range; signed values
// divide as signed. divisor == 0 leaves the values unchanged (no trap on a caller error).
template <typename T>
void DivideInt(void* dst, const void* src, size_t n, uint64_t divisor) {
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<T>::max());
  if (divisor == 0 || divisor == 1) {
    Map<T>(dst, src, n, [](T x) { return x; });
  } else if (divisor <= kMax) {
    T d = static_cast<T>(divisor);
    Map<T>(dst, src, n, [d](T x) { return static_cast<T>(x / d); });
  } else {
    // |x| < divisor for every x, so the quotient is 0, except min / 2^(bits-1) == -1.
    bool min_gives_minus_one = std::is_signed_v<T> && divisor == kMax + 1;
    Map<T>(dst, src, n, [min_gives_minus_one](T x) {
      return static_cast<T>(min_gives_minus_one && x == std::numeric_limits<T>::min() ? -1 : 0);
    });
  }
}

template <typename T>
void DivideFloat(void* dst, const void* src, size_t n, uint64_t divisor) {
  T d = static_cast<T>(divisor);
  Map<T>(dst, src, n, [d](T x) { return x / d; });
}

template <DataType kType>
void DivideNarrow(void* dst, const void* src, size_t n, uint64_t divisor) {
  float d = static_cast<float>(divisor);
  ForEachBlock<kType>(dst, src, nullptr, n, [d](float* fa, const float*, size_t m) {
    MapInPlaceLoop(fa, m, [d](float x) { return x / d; });
  });
}

// ---- splitting large counts -------------------------------------------------------------------

unsigned WorkerCount(size_t count) {
  static const unsigned kHardware = std::max(1u, std::thread::hardware_concurrency());
  size_t by_size = count / kParallelMinPerWorker;
  return static_cast<unsigned>(std::min<size_t>({kHardware, kMaxWorkers, by_size}));
}

// Calls run(begin, end) over [0, count), on helper threads too when count is large. Small
// counts call run once on this thread: no allocation, no synchronisation.
template <typename Run>
void RunSplit(size_t count, const Run& run) {
  const int workers = count < kParallelMinCount ? 1 : static_cast<int>(WorkerCount(count));
  ForEachWorkerRange(static_cast<int64_t>(count), workers, static_cast<int64_t>(kSplitAlign),
                     [&run](int, int64_t begin, int64_t end) {
                       if (begin < end) run(static_cast<size_t>(begin), static_cast<size_t>(end));
                     });
}

char* At(void* base, size_t index, size_t size) { return static_cast<char*>(base) + index * size; }
const char* At(const void* base, size_t index, size_t size) {
  return static_cast<const char*>(base) + index * size;
}

}  // namespace

void ReduceHost(void* dst, const void* a, const void* b, size_t count, DataType type,
                RedOpKind op) {
  ReduceFn fn = SelectReduce(type, op);
  if (count == 0 || fn == nullptr) return;
  size_t size = DataTypeSize(type);
  RunSplit(count, [=](size_t begin, size_t end) {
    fn(At(dst, begin, size), At(a, begin, size), At(b, begin, size), end - begin);
  });
}

void ScaleHost(void* dst, const void* src, size_t count, DataType type, double scalar) {
  using ScaleFn = void (*)(void*, const void*, size_t, double);
  ScaleFn fn = nullptr;
  switch (type) {
    case DataType::kInt8: fn = &ScaleNative<int8_t>; break;
    case DataType::kUint8: fn = &ScaleNative<uint8_t>; break;
    case DataType::kInt32: fn = &ScaleNative<int32_t>; break;
    case DataType::kUint32: fn = &ScaleNative<uint32_t>; break;
    case DataType::kInt64: fn = &ScaleNative<int64_t>; break;
    case DataType::kUint64: fn = &ScaleNative<uint64_t>; break;
    case DataType::kFloat32: fn = &ScaleNative<float>; break;
    case DataType::kFloat64: fn = &ScaleNative<double>; break;
    case DataType::kFloat16: fn = &ScaleNarrow<DataType::kFloat16>; break;
    case DataType::kBfloat16: fn = &ScaleNarrow<DataType::kBfloat16>; break;
    case DataType::kFloat8e4m3: fn = &ScaleNarrow<DataType::kFloat8e4m3>; break;
    case DataType::kFloat8e5m2: fn = &ScaleNarrow<DataType::kFloat8e5m2>; break;
  }
  if (count == 0 || fn == nullptr) return;
  size_t size = DataTypeSize(type);
  RunSplit(count, [=](size_t begin, size_t end) {
    fn(At(dst, begin, size), At(src, begin, size), end - begin, scalar);
  });
}

void DivideHost(void* dst, const void* src, size_t count, DataType type, uint64_t divisor) {
  using DivideFn = void (*)(void*, const void*, size_t, uint64_t);
  DivideFn fn = nullptr;
  switch (type) {
    case DataType::kInt8: fn = &DivideInt<int8_t>; break;
    case DataType::kUint8: fn = &DivideInt<uint8_t>; break;
    case DataType::kInt32: fn = &DivideInt<int32_t>; break;
    case DataType::kUint32: fn = &DivideInt<uint32_t>; break;
    case DataType::kInt64: fn = &DivideInt<int64_t>; break;
    case DataType::kUint64: fn = &DivideInt<uint64_t>; break;
    case DataType::kFloat32: fn = &DivideFloat<float>; break;
    case DataType::kFloat64: fn = &DivideFloat<double>; break;
    case DataType::kFloat16: fn = &DivideNarrow<DataType::kFloat16>; break;
    case DataType::kBfloat16: fn = &DivideNarrow<DataType::kBfloat16>; break;
    case DataType::kFloat8e4m3: fn = &DivideNarrow<DataType::kFloat8e4m3>; break;
    case DataType::kFloat8e5m2: fn = &DivideNarrow<DataType::kFloat8e5m2>; break;
  }
  if (count == 0 || fn == nullptr) return;
  size_t size = DataTypeSize(type);
  RunSplit(count, [=](size_t begin, size_t end) {
    fn(At(dst, begin, size), At(src, begin, size), end - begin, divisor);
  });
}

}  // namespace braid::kernels
