// GeLU CPU references (include/braid/kernels/act.h) and the argument checks shared with the CUDA
// entry points. The math is GeluTanh / GeluTanhDerivative from gelu_math.h, in fp32.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <array>

#include "braid/kernels/act.h"
#include "braid/kernels/reduce.h"
#include "kernels/act/gelu_math.h"
#include "kernels/act/gelu_validate.h"
#include "kernels/common/host_workers.h"

namespace braid::kernels {

namespace {

constexpr int64_t kBlock = 4096;                    // elements widened to fp32 at a time
constexpr int64_t kMinElementsPerWorker = 1 << 17;  // below this a thread costs more than it saves

Status CheckPointer(const char* op, const char* name, const void* p, size_t align) {
  if (p == nullptr)
    return Status::InvalidArgument(fmt::format("{}: {} is null: required", op, name));
  if (reinterpret_cast<uintptr_t>(p) % align != 0) {
    return Status::InvalidArgument(
        fmt::format("{}: {}={}: must be aligned to {} bytes", op, name, p, align));
  }
  return Status::Ok();
}

Status CheckNoPartialOverlap(const char* op, const char* a_name, const void* a, const char* b_name,
                             const void* b, size_t bytes) {
  const auto pa = reinterpret_cast<uintptr_t>(a), pb = reinterpret_cast<uintptr_t>(b);
  if (pa == pb || pa + bytes <= pb || pb + bytes <= pa) return Status::Ok();
  return Status::InvalidArgument(
      fmt::format("{}: {}={} and {}={} partially overlap: they must be equal or disjoint", op,
                  a_name, a, b_name, b));
}

void Widen(const void* base, int64_t offset, int64_t n, DataType type, float* out) {
  if (type == DataType::kFloat32) {
    std::memcpy(out, static_cast<const float*>(base) + offset, static_cast<size_t>(n) * 4);
  } else if (type == DataType::kBfloat16) {
    const uint16_t* p = static_cast<const uint16_t*>(base) + offset;
    for (int64_t i = 0; i < n; ++i) out[i] = Bfloat16ToFloat(p[i]);
  } else {
    const uint16_t* p = static_cast<const uint16_t*>(base) + offset;
    for (int64_t i = 0; i < n; ++i) out[i] = HalfToFloat(p[i]);
  }
}

void Narrow(void* base, int64_t offset, int64_t n, DataType type, const float* in) {
  if (type == DataType::kFloat32) {
    std::memcpy(static_cast<float*>(base) + offset, in, static_cast<size_t>(n) * 4);
  } else if (type == DataType::kBfloat16) {
    uint16_t* p = static_cast<uint16_t*>(base) + offset;
    for (int64_t i = 0; i < n; ++i) p[i] = FloatToBfloat16(in[i]);
  } else {
    uint16_t* p = static_cast<uint16_t*>(base) + offset;
    for (int64_t i = 0; i < n; ++i) p[i] = FloatToHalf(in[i]);
  }
}

// out = gelu(x) (dy == nullptr) or dy * gelu'(x), over [0, count) split across workers.
void Run(const void* x, const void* dy, void* out, int64_t count, DataType type, int threads) {
  const int workers = HostWorkerCount(threads, count, kMinElementsPerWorker);
  ForEachWorkerRange(count, workers, 1, [&](int, int64_t begin, int64_t end) {
    // On the worker's stack (32 KiB): nothing to allocate inside a thread.
    std::array<float, kBlock> xf, dyf;
    for (int64_t i = begin; i < end; i += kBlock) {
      const int64_t n = std::min(kBlock, end - i);
      // Both inputs are read before `out` is written: out may alias x or dy.
      Widen(x, i, n, type, xf.data());
      if (dy != nullptr) {
        Widen(dy, i, n, type, dyf.data());
        for (int64_t k = 0; k < n; ++k) xf[k] = dyf[k] * GeluTanhDerivative(xf[k]);
      } else {
        for (int64_t k = 0; k < n; ++k) xf[k] = GeluTanh(xf[k]);
      }
      Narrow(out, i, n, type, xf.data());
    }
  });
}

}  // namespace

Status ValidateGelu(const char* op, bool backward, const void* x, const void* dy, const void* out,
                    int64_t count, DataType type) {
  if (type != DataType::kBfloat16 && type != DataType::kFloat16 && type != DataType::kFloat32) {
    return Status::InvalidArgument(
        fmt::format("{}: type={}: must be bfloat16, float16 or float32", op, DataTypeName(type)));
  }
  constexpr int64_t kMaxCount = std::numeric_limits<int64_t>::max() / 8;
  if (count < 1 || count > kMaxCount) {
    return Status::InvalidArgument(
        fmt::format("{}: count={}: must be in [1, {}]", op, count, kMaxCount));
  }
  const size_t es = DataTypeSize(type);
  const size_t bytes = static_cast<size_t>(count) * es;
  const char* out_name = backward ? "dx" : "y";
  if (backward) {
    if (Status s = CheckPointer(op, "dy", dy, es); !s.ok()) return s;
  }
  if (Status s = CheckPointer(op, "x", x, es); !s.ok()) return s;
  if (Status s = CheckPointer(op, out_name, out, es); !s.ok()) return s;
  if (Status s = CheckNoPartialOverlap(op, out_name, out, "x", x, bytes); !s.ok()) return s;
  if (backward) return CheckNoPartialOverlap(op, out_name, out, "dy", dy, bytes);
  return Status::Ok();
}

Status GeluForwardHost(const void* x, void* y, int64_t count, DataType type, int threads) {
  if (Status s = ValidateGelu("GeluForwardHost", false, x, nullptr, y, count, type); !s.ok()) {
    return s;
  }
  if (Status s = CheckHostThreads("GeluForwardHost", threads); !s.ok()) return s;
  Run(x, nullptr, y, count, type, threads);
  return Status::Ok();
}

Status GeluBackwardHost(const void* dy, const void* x, void* dx, int64_t count, DataType type,
                        int threads) {
  if (Status s = ValidateGelu("GeluBackwardHost", true, x, dy, dx, count, type); !s.ok()) {
    return s;
  }
  if (Status s = CheckHostThreads("GeluBackwardHost", threads); !s.ok()) return s;
  Run(x, dy, dx, count, type, threads);
  return Status::Ok();
}

}  // namespace braid::kernels
