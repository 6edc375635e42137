// A device copy of a host testing::Array, surrounded by 0xff guard bytes that Download checks.
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "tests/common/typed_array.h"
#include "tests/gpu/gpu_test_support.h"

namespace braid::testing {

// A device copy of an Array at `shift` elements past a 16-byte aligned address (shift 1: the
// scalar path), with 64 guard bytes of 0xff on both sides.
class DeviceArray {
 public:
  DeviceArray(DataType t, int64_t n, int shift)
      : offset_(kGuard + shift * DataTypeSize(t)),
        buf_(offset_ + static_cast<size_t>(n) * DataTypeSize(t) + kGuard) {}
  void* ptr() { return static_cast<uint8_t*>(buf_.get()) + offset_; }
  float* f() { return static_cast<float*>(ptr()); }
  void Poison() { ASSERT_EQ(buf_.Poison(), cudaSuccess); }
  void Upload(const Array& a) {
    Poison();
    ASSERT_EQ(cudaMemcpy(ptr(), a.bytes.data(), a.bytes.size(), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  // Downloads into `a` and checks that the guards are untouched.
  void Download(Array& a) {
    std::vector<uint8_t> all(buf_.bytes());
    ASSERT_EQ(cudaMemcpy(all.data(), buf_.get(), all.size(), cudaMemcpyDeviceToHost), cudaSuccess);
    std::memcpy(a.bytes.data(), all.data() + offset_, a.bytes.size());
    for (size_t i = 0; i < all.size(); ++i) {
      if (i < offset_ || i >= offset_ + a.bytes.size()) {
        ASSERT_EQ(all[i], 0xff) << "guard byte " << i;
      }
    }
  }

 private:
  static constexpr size_t kGuard = 64;
  size_t offset_;
  DeviceBuffer buf_;
};

}  // namespace braid::testing
