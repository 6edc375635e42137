// ReduceCuda (include/braid/kernels/reduce_cuda.h) against ReduceManyHost, bit for bit.
//
// Every type x op x source count x element count x pointer placement runs on the GPU and is
// compared with the CPU reference byte for byte; the only tolerance is that any NaN matches a
// NaN reference (fp32/fp64 NaN payloads differ between x86 and the GPU). dst is poisoned before
// each launch, twice with different bytes, so an element the kernel skipped cannot pass by
// matching the poison; the bytes before and after dst must still hold the poison afterwards.
// The argument checks at the end need no GPU and run everywhere.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "braid/kernels/reduce.h"
#include "braid/kernels/reduce_cuda.h"
#include "braid/types.h"
#include "tests/common/element_compare.h"
#include "tests/common/random_elements.h"
#include "gpu_test_support.h"

namespace braid::kernels {
namespace {

using ::braid::testing::DeviceBuffer;
using Bytes = std::vector<uint8_t>;

using braid::testing::kAllOps;
using braid::testing::kAllTypes;
constexpr int kSourceCounts[] = {1, 2, 3, 8};
constexpr size_t kCounts[] = {0, 1, 15, 16, 17, 4097, (size_t{1} << 20) + 3};
constexpr size_t kMaxCount = (size_t{1} << 20) + 3;
// Guard elements allocated before and after every dst (and source) region.
constexpr size_t kGuard = 64;
// Two poison bytes; neither gives a NaN in any floating format, so an unwritten element can
// never pass the NaN-tolerant comparison, and no value equals both.
constexpr uint8_t kPoisons[] = {0x5a, 0xa5};

Bytes RandomData(DataType t, size_t n, std::mt19937_64& rng) {
  return ::braid::testing::RandomElements(t, n, rng);
}

// Index of the first element whose bytes differ (a NaN matching a NaN reference), or n.
size_t FirstMismatch(const uint8_t* got, const uint8_t* want, size_t n, DataType t) {
  size_t size = DataTypeSize(t);
  if (std::memcmp(got, want, n * size) == 0) return n;
  for (size_t i = 0; i < n; ++i) {
    if (std::memcmp(got + i * size, want + i * size, size) == 0) continue;
    if (IsFloatingPoint(t) && std::isnan(LoadAsDouble(want, i, t)) &&
        std::isnan(LoadAsDouble(got, i, t))) {
      continue;
    }
    return i;
  }
  return n;
}

std::string Hex(const uint8_t* p, size_t size) {
  static const char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (size_t b = size; b-- > 0;) {
    s += kDigits[p[b] >> 4];
    s += kDigits[p[b] & 15];
  }
  return s;
}

// How the pointers sit relative to their 256-byte-aligned allocations (+ kGuard elements).
enum class Placement {
  kAligned,         // every pointer 16-byte aligned: vector body only
  kShifted,         // every pointer one element further: head, body and tail
  kMixed,           // odd sources shifted by one element: offsets differ, scalar path only
  kInPlace,         // dst == srcs[0], aligned
  kInPlaceShifted,  // dst == srcs[0], all shifted by one element
};
constexpr Placement kPlacements[] = {Placement::kAligned, Placement::kShifted, Placement::kMixed,
                                     Placement::kInPlace, Placement::kInPlaceShifted};
const char* PlacementName(Placement p) {
  switch (p) {
    case Placement::kAligned: return "aligned";
    case Placement::kShifted: return "shifted";
    case Placement::kMixed: return "mixed";
    case Placement::kInPlace: return "in-place";
    case Placement::kInPlaceShifted: return "in-place-shifted";
  }
  return "?";
}

// Device copies of kReduceCudaMaxSources random sources of one type, plus a pristine copy of
// source 0 to restore it after an in-place run, and a dst buffer with guards.
class Fixture {
 public:
  Fixture(DataType t, uint64_t seed) : type_(t), size_(DataTypeSize(t)) {
    std::mt19937_64 rng(seed);
    const size_t elements = kMaxCount + 2 * kGuard;
    for (int k = 0; k < kReduceCudaMaxSources; ++k) {
      host_.push_back(RandomData(t, elements, rng));
      device_.emplace_back(new DeviceBuffer(elements * size_));
    }
    pristine0_.reset(new DeviceBuffer(elements * size_));
    dst_.reset(new DeviceBuffer(elements * size_));
  }

  ::testing::AssertionResult Upload() {
    for (int k = 0; k < kReduceCudaMaxSources; ++k) {
      if (!device_[k]->ok() || device_[k]->Upload(host_[k]) != cudaSuccess)
        return ::testing::AssertionFailure() << "upload of source " << k;
    }
    if (!pristine0_->ok() || pristine0_->Upload(host_[0]) != cudaSuccess || !dst_->ok())
      return ::testing::AssertionFailure() << "upload of pristine source 0";
    return ::testing::AssertionSuccess();
  }

  // Runs one case on `stream` and compares with ReduceManyHost.
  ::testing::AssertionResult Check(RedOpKind op, int num_srcs, size_t count, Placement placement,
                                   cudaStream_t stream) {
    const bool shifted_all = placement == Placement::kShifted ||
                             placement == Placement::kInPlaceShifted;
    const bool in_place =
        placement == Placement::kInPlace || placement == Placement::kInPlaceShifted;
    std::vector<size_t> offset(num_srcs);  // in elements, from the allocation's start
    for (int k = 0; k < num_srcs; ++k) {
      bool shift = shifted_all || (placement == Placement::kMixed && k % 2 == 1);
      offset[k] = kGuard + (shift ? 1 : 0);
    }
    if (placement == Placement::kMixed && num_srcs == 1) offset[0] = kGuard + 1;
    const size_t dst_offset = in_place ? offset[0] : kGuard + (shifted_all ? 1 : 0);

    std::vector<const void*> host_srcs(num_srcs), device_srcs(num_srcs);
    for (int k = 0; k < num_srcs; ++k) {
      host_srcs[k] = host_[k].data() + offset[k] * size_;
      device_srcs[k] = static_cast<const char*>(device_[k]->get()) + offset[k] * size_;
    }
    Bytes want(count * size_);
    ReduceManyHost(want.data(), host_srcs.data(), num_srcs, count, type_, op);

    const size_t total = dst_->bytes();
    DeviceBuffer& out = in_place ? *device_[0] : *dst_;
    void* dst = static_cast<char*>(out.get()) + dst_offset * size_;
    Bytes got(total);
    for (uint8_t poison : kPoisons) {
      if (in_place) {
        if (cudaMemcpy(out.get(), pristine0_->get(), total, cudaMemcpyDeviceToDevice) !=
            cudaSuccess) {
          return ::testing::AssertionFailure() << "restoring source 0";
        }
      } else if (out.Poison(poison) != cudaSuccess) {
        return ::testing::AssertionFailure() << "poisoning dst";
      }
      Status status = ReduceCuda(dst, device_srcs.data(), num_srcs, count, type_, op, stream);
      if (!status.ok()) return ::testing::AssertionFailure() << status.ToString();
      cudaError_t err = cudaStreamSynchronize(stream);
      if (err == cudaSuccess) err = out.Download(got);
      if (err != cudaSuccess) return ::testing::AssertionFailure() << cudaGetErrorString(err);

      const uint8_t* result = got.data() + dst_offset * size_;
      size_t bad = FirstMismatch(result, want.data(), count, type_);
      if (bad < count) {
        return ::testing::AssertionFailure()
               << "element " << bad << ": got " << Hex(result + bad * size_, size_) << " want "
               << Hex(want.data() + bad * size_, size_) << " (poison 0x" << std::hex
               << int(poison) << std::dec << ")";
      }
      // Outside [dst, dst + count): the poison, or source 0's bytes when in place.
      const uint8_t* before = in_place ? host_[0].data() : nullptr;
      for (size_t b = 0; b < total; ++b) {
        if (b >= dst_offset * size_ && b < (dst_offset + count) * size_) continue;
        uint8_t expected = before ? before[b] : poison;
        if (got[b] != expected) {
          return ::testing::AssertionFailure()
                 << "byte " << b << " outside dst (which spans bytes " << dst_offset * size_
                 << ".." << (dst_offset + count) * size_ << ") changed to 0x" << std::hex
                 << int(got[b]);
        }
      }
      if (in_place) break;  // the poison plays no part
    }
    if (in_place &&
        cudaMemcpy(out.get(), pristine0_->get(), total, cudaMemcpyDeviceToDevice) != cudaSuccess) {
      return ::testing::AssertionFailure() << "restoring source 0";
    }
    return ::testing::AssertionSuccess();
  }

 private:
  DataType type_;
  size_t size_;
  std::vector<Bytes> host_;
  std::vector<std::unique_ptr<DeviceBuffer>> device_;
  std::unique_ptr<DeviceBuffer> pristine0_;
  std::unique_ptr<DeviceBuffer> dst_;
};

class ReduceCudaTypeTest : public ::testing::TestWithParam<DataType> {};

TEST_P(ReduceCudaTypeTest, EveryOpCountAndPlacementMatchesHostBitForBit) {
  BRAID_REQUIRE_GPU();
  const DataType t = GetParam();
  Fixture fixture(t, 1000 + int(t));
  ASSERT_TRUE(fixture.Upload());
  cudaStream_t stream = nullptr;
  BRAID_CUDA_OK(cudaStreamCreate(&stream));
  for (RedOpKind op : kAllOps) {
    for (int num_srcs : kSourceCounts) {
      for (size_t count : kCounts) {
        for (Placement placement : kPlacements) {
          ASSERT_TRUE(fixture.Check(op, num_srcs, count, placement, stream))
              << DataTypeName(t) << " " << RedOpName(op) << " N=" << num_srcs
              << " count=" << count << " " << PlacementName(placement);
        }
      }
    }
  }
  BRAID_CUDA_OK(cudaStreamDestroy(stream));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, ReduceCudaTypeTest, ::testing::ValuesIn(kAllTypes),
                         [](const auto& info) { return std::string(DataTypeName(info.param)); });

// Runs ReduceCuda on the legacy default stream over host-built sources; returns the result.
Bytes RunOnDevice(const std::vector<Bytes>& srcs, size_t count, DataType t, RedOpKind op) {
  std::vector<std::unique_ptr<DeviceBuffer>> buffers;
  std::vector<const void*> pointers;
  for (const auto& s : srcs) {
    buffers.emplace_back(new DeviceBuffer(s.size()));
    EXPECT_EQ(buffers.back()->Upload(s), cudaSuccess);
    pointers.push_back(buffers.back()->get());
  }
  DeviceBuffer dst(count * DataTypeSize(t));
  EXPECT_EQ(dst.Poison(0x5a), cudaSuccess);
  Status status =
      ReduceCuda(dst.get(), pointers.data(), int(pointers.size()), count, t, op, nullptr);
  EXPECT_TRUE(status.ok()) << status.ToString();
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  Bytes out(count * DataTypeSize(t));
  EXPECT_EQ(dst.Download(out), cudaSuccess);
  return out;
}

// fp8: every pair of codes (65536 elements), two and three sources, every op. Exercises each
// rounding boundary, saturation (e4m3), overflow to Inf (e5m2), subnormals and NaN.
TEST(ReduceCudaConversions, Fp8EveryPairOfCodes) {
  BRAID_REQUIRE_GPU();
  const size_t n = 65536;
  for (DataType t : {DataType::kFloat8e4m3, DataType::kFloat8e5m2}) {
    Bytes a(n), b(n), c(n);
    for (size_t i = 0; i < n; ++i) {
      a[i] = uint8_t(i);
      b[i] = uint8_t(i >> 8);
      c[i] = uint8_t(i * 7 + 3);
    }
    for (RedOpKind op : {RedOpKind::kSum, RedOpKind::kProd, RedOpKind::kMax, RedOpKind::kMin}) {
      for (int num_srcs : {2, 3}) {
        std::vector<Bytes> srcs = {a, b, c};
        srcs.resize(num_srcs);
        std::vector<const void*> pointers;
        for (const auto& s : srcs) pointers.push_back(s.data());
        Bytes want(n);
        ReduceManyHost(want.data(), pointers.data(), num_srcs, n, t, op);
        Bytes got = RunOnDevice(srcs, n, t, op);
        size_t bad = FirstMismatch(got.data(), want.data(), n, t);
        EXPECT_EQ(bad, n) << DataTypeName(t) << " " << RedOpName(op) << " N=" << num_srcs
                          << " codes " << Hex(&a[bad % n], 1) << ", " << Hex(&b[bad % n], 1)
                          << ": got " << Hex(&got[bad % n], 1) << " want "
                          << Hex(&want[bad % n], 1);
      }
    }
  }
}

// fp16 / bf16: every code against random partners, so every value's rounding is exercised.
TEST(ReduceCudaConversions, SixteenBitEveryCode) {
  BRAID_REQUIRE_GPU();
  const size_t n = 65536;
  std::mt19937_64 rng(5);
  for (DataType t : {DataType::kFloat16, DataType::kBfloat16}) {
    Bytes a(2 * n), b(2 * n);
    for (size_t i = 0; i < n; ++i) std::memcpy(&a[2 * i], &i, 2);
    for (auto& byte : b) byte = uint8_t(rng());
    for (RedOpKind op : {RedOpKind::kSum, RedOpKind::kProd, RedOpKind::kMax, RedOpKind::kMin}) {
      for (int num_srcs : {1, 2}) {
        std::vector<Bytes> srcs = {a, b};
        srcs.resize(num_srcs);
        std::vector<const void*> pointers;
        for (const auto& s : srcs) pointers.push_back(s.data());
        Bytes want(2 * n);
        ReduceManyHost(want.data(), pointers.data(), num_srcs, n, t, op);
        Bytes got = RunOnDevice(srcs, n, t, op);
        size_t bad = FirstMismatch(got.data(), want.data(), n, t);
        EXPECT_EQ(bad, n) << DataTypeName(t) << " " << RedOpName(op) << " N=" << num_srcs
                          << " element " << bad;
      }
    }
  }
}

// ---- argument checks (no device needed: nothing is launched) ------------------------------------

// Fake device addresses: validation never dereferences them.
void* Fake(uintptr_t address) { return reinterpret_cast<void*>(address); }

void ExpectInvalid(const Status& status, const std::string& fragment) {
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
  EXPECT_NE(status.message().find(fragment), std::string::npos)
      << "message '" << status.message() << "' lacks '" << fragment << "'";
}

TEST(ReduceCudaArguments, BadInputIsRejectedWithoutLaunching) {
  const void* srcs[kReduceCudaMaxSources + 1];
  for (int k = 0; k <= kReduceCudaMaxSources; ++k) srcs[k] = Fake(0x100000 * (k + 1));
  void* dst = Fake(0x7000000);
  const auto f32 = DataType::kFloat32;
  const auto sum = RedOpKind::kSum;
  ExpectInvalid(ReduceCuda(dst, srcs, 0, 4, f32, sum, nullptr),
                "num_srcs = 0 is out of range [1, 8]");
  ExpectInvalid(ReduceCuda(dst, srcs, 9, 4, f32, sum, nullptr), "num_srcs = 9");
  ExpectInvalid(ReduceCuda(dst, srcs, -1, 0, f32, sum, nullptr), "num_srcs = -1");
  ExpectInvalid(ReduceCuda(dst, srcs, 2, 4, static_cast<DataType>(12), sum, nullptr),
                "type = 12");
  ExpectInvalid(ReduceCuda(dst, srcs, 2, 4, f32, static_cast<RedOpKind>(6), nullptr), "op = 6");
  ExpectInvalid(ReduceCuda(nullptr, srcs, 2, 4, f32, sum, nullptr), "dst is null with count = 4");
  ExpectInvalid(ReduceCuda(dst, nullptr, 2, 4, f32, sum, nullptr), "srcs is null");
  const void* with_null[] = {srcs[0], nullptr};
  ExpectInvalid(ReduceCuda(dst, with_null, 2, 4, f32, sum, nullptr), "srcs[1] is null");
  const void* misaligned[] = {srcs[0], Fake(0x200002)};
  ExpectInvalid(ReduceCuda(dst, misaligned, 2, 4, f32, sum, nullptr),
                "srcs[1] = 0x200002 is not aligned to the 4-byte element size of float32");
  ExpectInvalid(ReduceCuda(Fake(0x7000001), srcs, 1, 4, DataType::kFloat16, sum, nullptr),
                "dst = 0x7000001 is not aligned");
  const void* overlapping[] = {srcs[0], Fake(0x7000004)};  // dst + 1 float
  ExpectInvalid(ReduceCuda(dst, overlapping, 2, 4, f32, sum, nullptr), "partially overlaps dst");
  ExpectInvalid(ReduceCuda(dst, srcs, 2, std::numeric_limits<size_t>::max() / 2, f32, sum, nullptr),
                "overflows");
  // Nothing to do: no launch, so no device is touched and null pointers are fine.
  EXPECT_TRUE(ReduceCuda(nullptr, nullptr, 3, 0, f32, sum, nullptr).ok());
}

// Without a device, valid arguments reach the launch, which the runtime refuses: an error
// status, not a crash.
TEST(ReduceCudaArguments, NoDeviceGivesSystemError) {
  if (::braid::testing::HaveCudaDevice()) GTEST_SKIP() << "a CUDA device is present";
  const void* srcs[] = {Fake(0x100000), Fake(0x200000)};
  Status status = ReduceCuda(Fake(0x300000), srcs, 2, 4, DataType::kFloat32, RedOpKind::kSum,
                             nullptr);
  EXPECT_EQ(status.code(), StatusCode::kSystemError) << status.ToString();
}

}  // namespace
}  // namespace braid::kernels
