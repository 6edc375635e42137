// Helpers shared by the GPU tests (tests/gpu): skip without a device, RAII device buffers,
// CUDA return-code checks. Every GPU test starts with BRAID_REQUIRE_GPU().
#pragma once

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace braid::testing {

// True when at least one CUDA device can be used (driver present, device visible).
inline bool HaveCudaDevice() {
  int count = 0;
  return cudaGetDeviceCount(&count) == cudaSuccess && count > 0;
}

// Compute capability of the current device as major * 10 + minor (90 for H100), 0 if none.
inline int DeviceComputeCapability() {
  int device = 0, major = 0, minor = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return 0;
  cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  return major * 10 + minor;
}

#define BRAID_REQUIRE_GPU()                                              \
  do {                                                                   \
    if (!::braid::testing::HaveCudaDevice()) GTEST_SKIP() << "no CUDA device"; \
  } while (0)

#define BRAID_CUDA_OK(expr)                                                             \
  do {                                                                                  \
    cudaError_t braid_cuda_err_ = (expr);                                               \
    ASSERT_EQ(braid_cuda_err_, cudaSuccess) << #expr << ": " << cudaGetErrorString(braid_cuda_err_); \
  } while (0)

// Owns `bytes` of device memory; copy helpers for vectors.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) : bytes_(bytes) {
    if (bytes_ > 0 && cudaMalloc(&ptr_, bytes_) != cudaSuccess) ptr_ = nullptr;
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  bool ok() const { return bytes_ == 0 || ptr_ != nullptr; }

  template <typename T>
  cudaError_t Upload(const std::vector<T>& host) {
    return cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice);
  }
  template <typename T>
  cudaError_t Download(std::vector<T>& host) const {
    return cudaMemcpy(host.data(), ptr_, host.size() * sizeof(T), cudaMemcpyDeviceToHost);
  }
  // Fills every byte with `value` (poison before a kernel writes the buffer).
  cudaError_t Poison(uint8_t value = 0xff) { return cudaMemset(ptr_, value, bytes_); }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace braid::testing
