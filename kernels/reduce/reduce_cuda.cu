// ReduceCuda: element-wise reduction of up to 8 device buffers into one (reduce_cuda.h).
//
// One kernel per (element type, operator): 12 x 4 instantiations; the source count is a runtime
// loop bound, which keeps compile time and code size small. Each thread walks a grid-stride
// loop; per iteration it issues kUnroll independent loads for a source before combining them,
// so several loads are in flight per thread on top of the occupancy.
//
// Work split (planned on the host, PlanLaunch): when every pointer has the same offset modulo
// 16 bytes, the elements up to the first 16-byte boundary ("head") and after the last whole
// vector ("tail") go through the scalar path and the rest through 16-byte (uint4) loads and
// stores. Otherwise everything takes the scalar path.
//
// Numerics match ReduceManyHost bit for bit: the same combine expressions (max/min written as
// selects with the accumulator first), fp32 accumulation for fp16/bf16/fp8 rounded once, and
// conversions that are exact (widening) or round-to-nearest-even with the host's NaN and
// overflow rules. fp32 subnormals must not be flushed: build without -ftz / --use_fast_math.
//
// The per-thread work (ReduceThread) is __host__ __device__ so it can be stepped on the CPU.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>

#include "braid/kernels/reduce_cuda.h"
#include "kernels/common/host_device.h"
#include "kernels/reduce/combine.h"
#include "kernels/reduce/reduce_cuda_validate.h"

namespace braid::kernels {

namespace {

constexpr int kThreads = 256;          // threads per block
constexpr int kMinBlocksPerSm = 4;     // caps registers at 64/thread: 1024 resident threads/SM
constexpr int kVectorBytes = 16;       // one uint4 load/store
constexpr int kScalarUnroll = 4;       // elements per thread per scalar-path iteration
constexpr int kMaxCachedDevices = 64;  // devices whose SM count / occupancy are cached

using Op = CombineOp;

// Full unrolling of the fixed-trip loops below in device code (the host pass ignores it).
#if defined(__CUDA_ARCH__)
#define BRAID_REDUCE_UNROLL _Pragma("unroll")
#else
#define BRAID_REDUCE_UNROLL
#endif

// 16-byte vectors per thread per iteration: enough independent loads to hide latency while
// the accumulators stay within the 64 registers that 4 resident blocks of 256 threads allow
// (ptxas -v: no spills). 1-byte integers unpack to 16 registers per vector and 64-bit integer
// sum/prod need register pairs plus carries, so they take fewer vectors at a time.
BRAID_HD constexpr int VectorUnroll(DataType type) {
  switch (type) {
    case DataType::kInt8:
    case DataType::kUint8: return 1;
    case DataType::kFloat8e4m3:
    case DataType::kFloat8e5m2:
    case DataType::kInt64:
    case DataType::kUint64: return 2;
    default: return 4;
  }
}

BRAID_HD uint32_t FloatBits(float value) {
  uint32_t bits;
  memcpy(&bits, &value, sizeof(bits));
  return bits;
}
BRAID_HD float BitsFloat(uint32_t bits) {
  float value;
  memcpy(&value, &bits, sizeof(value));
  return value;
}

// ---- element formats --------------------------------------------------------------------------

constexpr uint32_t kF32AbsMask = 0x7fffffffu;
constexpr uint32_t kF32Inf = 0x7f800000u;
constexpr int kF32FracBits = 23;
constexpr int kF32Bias = 127;

// fp8 with subnormals (conversions.cc's MiniFloat, the same integer recipe, so the bits agree
// with FloatToFp8E4M3 / FloatToFp8E5M2 by construction):
//  kFiniteOnly = true (e4m3, OCP "FN"): no Inf, S.1111.111 is NaN, overflow and Inf saturate
//                to +-448; kFiniteOnly = false (e5m2): IEEE-like, overflow rounds to Inf.
// NaN narrows to the positive all-ones code 0x7f.
template <int kExpBits, int kManBits, bool kFiniteOnly>
struct Fp8 {
  static constexpr int kBias = (1 << (kExpBits - 1)) - 1;
  static constexpr int kShift = kF32FracBits - kManBits;  // fp32 fraction bits dropped
  static constexpr uint32_t kFracMask = (1u << kManBits) - 1;
  static constexpr uint32_t kMagMask = (1u << (kExpBits + kManBits)) - 1;
  static constexpr uint32_t kExpAllOnes = ((1u << kExpBits) - 1) << kManBits;
  static constexpr uint32_t kNaN = kMagMask;
  static constexpr uint32_t kMaxFinite = kFiniteOnly ? kMagMask - 1 : kExpAllOnes - 1;
  static constexpr uint32_t kMaxFiniteF32 =
      (uint32_t((kMaxFinite >> kManBits) - kBias + kF32Bias) << kF32FracBits) |
      ((kMaxFinite & kFracMask) << kShift);
  static constexpr uint32_t kMinNormalF32 = uint32_t(1 - kBias + kF32Bias) << kF32FracBits;
  // 2^(24 - bias - man): its fp32 ulp is the subnormal spacing, so adding it to a value below
  // the smallest normal rounds that value (RNE) to a multiple of the spacing in the low bits.
  static constexpr float kSubMagic = float(1u << (kF32FracBits + 1 - kBias - kManBits));
  static constexpr uint32_t kSubMagicBits =
      uint32_t(kF32FracBits + 1 - kBias - kManBits + kF32Bias) << kF32FracBits;
  // The subnormal spacing 2^(1 - bias - man).
  static constexpr float kSubUlp = 1.0f / float(1u << (kBias + kManBits - 1));

  BRAID_HD static float Widen(uint32_t bits) {
    uint32_t sign = ((bits >> (kExpBits + kManBits)) & 1u) << 31;
    uint32_t em = bits & kMagMask;
    uint32_t mag;
    if (em <= kFracMask) {
      mag = FloatBits(static_cast<float>(em) * kSubUlp);  // subnormal: exact
    } else if (kFiniteOnly ? em == kMagMask : em >= kExpAllOnes) {
      mag = kF32Inf | (kFiniteOnly ? 0x400000u : em << kShift);  // NaN (quiet) or Inf
    } else {
      mag = (em << kShift) + (uint32_t(kF32Bias - kBias) << kF32FracBits);
    }
    return BitsFloat(sign | mag);
  }

  BRAID_HD static uint32_t Narrow(float value) {
    uint32_t x = FloatBits(value);
    uint32_t sign = (x >> 31) << (kExpBits + kManBits);
    uint32_t ax = x & kF32AbsMask;
    if (ax > kF32Inf) return kNaN;
    uint32_t mag;
    if (ax < kMinNormalF32) {
      mag = FloatBits(BitsFloat(ax) + kSubMagic) - kSubMagicBits;
    } else {
      // Re-bias, then round to nearest even on the dropped bits; a carry out of the fraction
      // bumps the exponent, as it should.
      mag = (ax + (uint32_t(kBias - kF32Bias) << kF32FracBits) + ((1u << (kShift - 1)) - 1) +
             ((ax >> kShift) & 1u)) >>
            kShift;
    }
    if constexpr (kFiniteOnly) {
      if (ax >= kMaxFiniteF32) mag = kMaxFinite;  // saturate, Inf included
    } else {
      // Halfway between the largest finite value and the next power of two: RNE gives Inf
      // from here on (the tie goes to Inf, whose fraction is even).
      constexpr uint32_t kOverflowF32 = kMaxFiniteF32 + (1u << (kShift - 1));
      if (ax >= kOverflowF32) mag = kExpAllOnes;
    }
    return sign | mag;
  }
};

// Format<kType>: Storage (the bits in memory), Acc (compute precision), Widen, Narrow.
template <DataType kType>
struct Format;

template <typename T>
struct NativeFormat {
  using Storage = T;
  using Acc = T;
  BRAID_HD static T Widen(T x) { return x; }
  BRAID_HD static T Narrow(T x) { return x; }
};
template <> struct Format<DataType::kInt8> : NativeFormat<int8_t> {};
template <> struct Format<DataType::kUint8> : NativeFormat<uint8_t> {};
template <> struct Format<DataType::kInt32> : NativeFormat<int32_t> {};
template <> struct Format<DataType::kUint32> : NativeFormat<uint32_t> {};
template <> struct Format<DataType::kInt64> : NativeFormat<int64_t> {};
template <> struct Format<DataType::kUint64> : NativeFormat<uint64_t> {};
template <> struct Format<DataType::kFloat32> : NativeFormat<float> {};
template <> struct Format<DataType::kFloat64> : NativeFormat<double> {};

// fp16 and bf16: hardware round-to-nearest-even (cvt.rn), which matches the host's RNE for
// every non-NaN value, overflow to Inf included. NaN is mapped to 0x7fff explicitly, as the
// host does, rather than relying on the instruction's canonical NaN.
template <>
struct Format<DataType::kFloat16> {
  using Storage = uint16_t;
  using Acc = float;
  BRAID_HD static float Widen(uint16_t bits) {
    __half_raw raw;
    raw.x = bits;
    return __half2float(__half(raw));
  }
  BRAID_HD static uint16_t Narrow(float value) {
    __half_raw raw = __float2half_rn(value);
    return value != value ? uint16_t{0x7fff} : raw.x;
  }
};
template <>
struct Format<DataType::kBfloat16> {
  using Storage = uint16_t;
  using Acc = float;
  BRAID_HD static float Widen(uint16_t bits) { return BitsFloat(uint32_t{bits} << 16); }
  BRAID_HD static uint16_t Narrow(float value) {
    __nv_bfloat16_raw raw = __float2bfloat16_rn(value);
    return value != value ? uint16_t{0x7fff} : raw.x;
  }
};

template <typename Fp8Format>
struct Fp8Storage {
  using Storage = uint8_t;
  using Acc = float;
  BRAID_HD static float Widen(uint8_t bits) { return Fp8Format::Widen(bits); }
  BRAID_HD static uint8_t Narrow(float value) {
    return static_cast<uint8_t>(Fp8Format::Narrow(value));
  }
};
template <> struct Format<DataType::kFloat8e4m3> : Fp8Storage<Fp8<4, 3, true>> {};
template <> struct Format<DataType::kFloat8e5m2> : Fp8Storage<Fp8<5, 2, false>> {};

// ---- per-thread work --------------------------------------------------------------------------

// Kernel parameters, passed by value (about 100 bytes of the 4 KiB parameter space).
struct KernelArgs {
  char* dst;
  const char* srcs[kReduceCudaMaxSources];
  int num_srcs;
  uint64_t head;         // elements before the vector body (all of them when no vectors)
  uint64_t num_vectors;  // 16-byte vectors in the body, which starts at element `head`
  uint64_t count;        // elements in all
};

// Vector body: thread tid handles vectors tid + (i * kUnroll + j) * stride, j < kUnroll.
template <DataType kType, Op kOp>
BRAID_HD void ReduceVectors(const KernelArgs& args, uint64_t tid, uint64_t stride) {
  using F = Format<kType>;
  using S = typename F::Storage;
  using A = typename F::Acc;
  constexpr int kPer = kVectorBytes / sizeof(S);
  constexpr int kUnroll = VectorUnroll(kType);
  const uint64_t n = args.num_vectors;
  const uint64_t body = args.head * sizeof(S);  // bytes; every pointer + body is 16-aligned
  for (uint64_t v = tid; v < n; v += stride * kUnroll) {
    A acc[kUnroll][kPer];
    uint4 raw[kUnroll];
    const auto* src0 = reinterpret_cast<const uint4*>(args.srcs[0] + body);
    BRAID_REDUCE_UNROLL
    for (int j = 0; j < kUnroll; ++j) {
      uint64_t index = v + j * stride;
      raw[j] = index < n ? src0[index] : uint4{};
    }
    BRAID_REDUCE_UNROLL
    for (int j = 0; j < kUnroll; ++j) {
      S e[kPer];
      memcpy(e, &raw[j], sizeof(e));
      BRAID_REDUCE_UNROLL
      for (int i = 0; i < kPer; ++i) acc[j][i] = F::Widen(e[i]);
    }
    for (int k = 1; k < args.num_srcs; ++k) {
      const auto* src = reinterpret_cast<const uint4*>(args.srcs[k] + body);
      BRAID_REDUCE_UNROLL
      for (int j = 0; j < kUnroll; ++j) {
        uint64_t index = v + j * stride;
        raw[j] = index < n ? src[index] : uint4{};
      }
      BRAID_REDUCE_UNROLL
      for (int j = 0; j < kUnroll; ++j) {
        S e[kPer];
        memcpy(e, &raw[j], sizeof(e));
        BRAID_REDUCE_UNROLL
        for (int i = 0; i < kPer; ++i) acc[j][i] = Combine<kOp>(acc[j][i], F::Widen(e[i]));
      }
    }
    auto* dst = reinterpret_cast<uint4*>(args.dst + body);
    BRAID_REDUCE_UNROLL
    for (int j = 0; j < kUnroll; ++j) {
      uint64_t index = v + j * stride;
      if (index < n) {
        S e[kPer];
        BRAID_REDUCE_UNROLL
        for (int i = 0; i < kPer; ++i) e[i] = F::Narrow(acc[j][i]);
        memcpy(&raw[j], e, sizeof(e));
        dst[index] = raw[j];
      }
    }
  }
}

// Scalar path: the head and tail around the vector body, or every element when the pointers
// do not share an alignment. Scalar position s maps to element s in the head and to
// s - head + body_end in the tail.
template <DataType kType, Op kOp>
BRAID_HD void ReduceScalars(const KernelArgs& args, uint64_t tid, uint64_t stride) {
  using F = Format<kType>;
  using S = typename F::Storage;
  using A = typename F::Acc;
  constexpr uint64_t kPer = kVectorBytes / sizeof(S);
  const uint64_t body_end = args.head + args.num_vectors * kPer;
  const uint64_t n = args.head + (args.count - body_end);
  for (uint64_t s = tid; s < n; s += stride * kScalarUnroll) {
    uint64_t element[kScalarUnroll];
    bool valid[kScalarUnroll];
    A acc[kScalarUnroll];
    S x[kScalarUnroll];
    const auto* src0 = reinterpret_cast<const S*>(args.srcs[0]);
    BRAID_REDUCE_UNROLL
    for (int j = 0; j < kScalarUnroll; ++j) {
      uint64_t position = s + j * stride;
      valid[j] = position < n;
      element[j] = position < args.head ? position : position - args.head + body_end;
      x[j] = valid[j] ? src0[element[j]] : S{};
    }
    BRAID_REDUCE_UNROLL
    for (int j = 0; j < kScalarUnroll; ++j) acc[j] = F::Widen(x[j]);
    for (int k = 1; k < args.num_srcs; ++k) {
      const auto* src = reinterpret_cast<const S*>(args.srcs[k]);
      BRAID_REDUCE_UNROLL
      for (int j = 0; j < kScalarUnroll; ++j) x[j] = valid[j] ? src[element[j]] : S{};
      BRAID_REDUCE_UNROLL
      for (int j = 0; j < kScalarUnroll; ++j) acc[j] = Combine<kOp>(acc[j], F::Widen(x[j]));
    }
    auto* dst = reinterpret_cast<S*>(args.dst);
    BRAID_REDUCE_UNROLL
    for (int j = 0; j < kScalarUnroll; ++j) {
      if (valid[j]) dst[element[j]] = F::Narrow(acc[j]);
    }
  }
}

// Everything thread `tid` of `stride` threads does. Each element is read and written by one
// thread only, reads before the write, so dst may equal a source.
template <DataType kType, Op kOp>
BRAID_HD void ReduceThread(const KernelArgs& args, uint64_t tid, uint64_t stride) {
  ReduceVectors<kType, kOp>(args, tid, stride);
  ReduceScalars<kType, kOp>(args, tid, stride);
}

// __grid_constant__: srcs[k] with a runtime k is read from the parameter bank in place;
// without it every thread copies the ~100-byte struct to a local-memory stack frame.
template <DataType kType, Op kOp>
__global__ void __launch_bounds__(kThreads, kMinBlocksPerSm)
    ReduceKernel(const __grid_constant__ KernelArgs args) {
  uint64_t tid = uint64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  uint64_t stride = uint64_t{gridDim.x} * blockDim.x;
  ReduceThread<kType, kOp>(args, tid, stride);
}

// ---- host side --------------------------------------------------------------------------------

using KernelFn = void (*)(KernelArgs);

// Resident blocks per SM for this kernel on `device`, computed once per device.
template <DataType kType, Op kOp>
int BlocksPerSm(int device) {
  static std::atomic<int> cache[kMaxCachedDevices];  // 0: not computed yet
  if (device >= 0 && device < kMaxCachedDevices) {
    if (int cached = cache[device].load(std::memory_order_relaxed)) return cached;
  }
  int blocks = 0;
  if (cudaOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, ReduceKernel<kType, kOp>, kThreads,
                                                    0) != cudaSuccess ||
      blocks < 1) {
    blocks = 1;
  }
  if (device >= 0 && device < kMaxCachedDevices) cache[device].store(blocks);
  return blocks;
}

struct KernelEntry {
  KernelFn kernel;
  int (*blocks_per_sm)(int device);
};

template <Op kOp>
KernelEntry SelectKernel(DataType type) {
  switch (type) {
#define BRAID_REDUCE_CASE(T) \
  case T: return {&ReduceKernel<T, kOp>, &BlocksPerSm<T, kOp>};
    BRAID_REDUCE_CASE(DataType::kInt8)
    BRAID_REDUCE_CASE(DataType::kUint8)
    BRAID_REDUCE_CASE(DataType::kInt32)
    BRAID_REDUCE_CASE(DataType::kUint32)
    BRAID_REDUCE_CASE(DataType::kInt64)
    BRAID_REDUCE_CASE(DataType::kUint64)
    BRAID_REDUCE_CASE(DataType::kFloat16)
    BRAID_REDUCE_CASE(DataType::kFloat32)
    BRAID_REDUCE_CASE(DataType::kFloat64)
    BRAID_REDUCE_CASE(DataType::kBfloat16)
    BRAID_REDUCE_CASE(DataType::kFloat8e4m3)
    BRAID_REDUCE_CASE(DataType::kFloat8e5m2)
#undef BRAID_REDUCE_CASE
  }
  return {nullptr, nullptr};
}

KernelEntry SelectKernel(DataType type, RedOpKind op) {
  switch (op) {
    case RedOpKind::kSum:
    case RedOpKind::kAvg:        // the collective divides afterwards
    case RedOpKind::kPreMulSum:  // the collective scaled the local input beforehand
      return SelectKernel<Op::kSum>(type);
    case RedOpKind::kProd: return SelectKernel<Op::kProd>(type);
    case RedOpKind::kMax: return SelectKernel<Op::kMax>(type);
    case RedOpKind::kMin: return SelectKernel<Op::kMin>(type);
  }
  return {nullptr, nullptr};
}

// Splits [0, count) into head / 16-byte vectors / tail when all pointers share their offset
// modulo 16 bytes; otherwise all elements are "head" (scalar).
KernelArgs PlanLaunch(void* dst, const void* const* srcs, int num_srcs, size_t count,
                      size_t element_size) {
  KernelArgs args{};
  args.dst = static_cast<char*>(dst);
  args.num_srcs = num_srcs;
  args.count = count;
  uintptr_t offset = reinterpret_cast<uintptr_t>(dst) % kVectorBytes;
  bool shared = true;
  for (int k = 0; k < num_srcs; ++k) {
    args.srcs[k] = static_cast<const char*>(srcs[k]);
    shared = shared && reinterpret_cast<uintptr_t>(srcs[k]) % kVectorBytes == offset;
  }
  size_t per_vector = kVectorBytes / element_size;
  size_t head = offset == 0 ? 0 : (kVectorBytes - offset) / element_size;
  if (!shared || head >= count) {
    args.head = count;
    args.num_vectors = 0;
  } else {
    args.head = head;
    args.num_vectors = (count - head) / per_vector;
  }
  return args;
}

int SmCount(int device) {
  static std::atomic<int> cache[kMaxCachedDevices];  // 0: not queried yet
  if (device >= 0 && device < kMaxCachedDevices) {
    if (int cached = cache[device].load(std::memory_order_relaxed)) return cached;
  }
  int sms = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess ||
      sms < 1) {
    sms = 1;
  }
  if (device >= 0 && device < kMaxCachedDevices) cache[device].store(sms);
  return sms;
}

}  // namespace

Status ReduceCuda(void* dst, const void* const* srcs, int num_srcs, size_t count, DataType type,
                  RedOpKind op, CUstream_st* stream) {
  if (Status status = ValidateReduceCuda(dst, srcs, num_srcs, count, type, op); !status.ok()) return status;
  if (count == 0) return Status::Ok();
  const size_t size = DataTypeSize(type);
  KernelEntry entry = SelectKernel(type, op);
  KernelArgs args = PlanLaunch(dst, srcs, num_srcs, count, size);

  int device = 0;
  if (cudaError_t err = cudaGetDevice(&device); err != cudaSuccess) {
    return Status::SystemError(std::string("ReduceCuda: cudaGetDevice failed: ") +
                               cudaGetErrorString(err));
  }
  // Enough threads for the work, at most one full wave of resident blocks (the grid-stride
  // loop covers the rest).
  const uint64_t scalars = count - args.num_vectors * (kVectorBytes / size);
  const uint64_t vector_items = (args.num_vectors + VectorUnroll(type) - 1) / VectorUnroll(type);
  const uint64_t scalar_items = (scalars + kScalarUnroll - 1) / kScalarUnroll;
  const uint64_t items = vector_items > scalar_items ? vector_items : scalar_items;
  const uint64_t wanted = (items + kThreads - 1) / kThreads;
  const uint64_t wave = uint64_t(SmCount(device)) * entry.blocks_per_sm(device);
  const unsigned blocks = static_cast<unsigned>(wanted < 1 ? 1 : wanted < wave ? wanted : wave);

  entry.kernel<<<blocks, kThreads, 0, stream>>>(args);
  if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) {
    return Status::SystemError(std::string("ReduceCuda: kernel launch failed (") +
                               DataTypeName(type) + " " + RedOpName(op) + ", " +
                               std::to_string(blocks) + " blocks): " + cudaGetErrorString(err));
  }
  return Status::Ok();
}

}  // namespace braid::kernels
