#include "device_memory.h"

#include <cstring>

#include <fmt/format.h>

#include "backend.h"

#if BRAID_PERF_CUDA
#include <cuda_runtime_api.h>
#endif

namespace braid::perf::device {

#if BRAID_PERF_CUDA

namespace {

void Check(cudaError_t err, const char* call) {
  if (err != cudaSuccess) FatalError(call, fmt::format("{} ({})", cudaGetErrorString(err), cudaGetErrorName(err)), 3);
}

}  // namespace

std::string UnavailableReason() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    return fmt::format("no usable CUDA device (cudaGetDeviceCount: {}, {})", cudaGetErrorString(err),
                       cudaGetErrorName(err));
  }
  if (count == 0) return "no CUDA device on this machine";
  return "";
}

std::string SelectDevice(int local_rank) {
  int count = 0;
  Check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  const int device = local_rank % count;
  Check(cudaSetDevice(device), "cudaSetDevice");
  cudaDeviceProp prop{};
  Check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  int runtime = 0;
  Check(cudaRuntimeGetVersion(&runtime), "cudaRuntimeGetVersion");
  return fmt::format("{} (device {} of {}, CUDA runtime {}.{})", prop.name, device, count, runtime / 1000,
                     runtime % 1000 / 10);
}

int CurrentDevice() {
  int device = 0;
  Check(cudaGetDevice(&device), "cudaGetDevice");
  return device;
}

size_t FreeBytes() {
  size_t free_bytes = 0, total_bytes = 0;
  Check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  return free_bytes;
}

void* Allocate(size_t bytes) {
  void* p = nullptr;
  Check(cudaMalloc(&p, bytes ? bytes : 1), "cudaMalloc");
  Check(cudaMemset(p, 0, bytes ? bytes : 1), "cudaMemset");
  Check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  return p;
}

void Free(void* device) { cudaFree(device); }

void* AllocatePinned(size_t bytes) {
  void* p = nullptr;
  Check(cudaMallocHost(&p, bytes ? bytes : 1), "cudaMallocHost");
  std::memset(p, 0, bytes ? bytes : 1);  // fault the pages in before any timing
  return p;
}

void FreePinned(void* host) { cudaFreeHost(host); }

void CopyToHost(void* host, const void* device, size_t bytes) {
  if (bytes) Check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy (device to host)");
}

void CopyToDevice(void* device, const void* host, size_t bytes) {
  if (bytes) Check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (host to device)");
}

void Fill(void* device, unsigned char value, size_t bytes) {
  if (!bytes) return;
  Check(cudaMemset(device, value, bytes), "cudaMemset");
  Check(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
}

#else  // built without CUDA

namespace {

[[noreturn]] void NoCuda(const char* what) {
  FatalError(what, "this braid-perf was built without CUDA", 3);
}

}  // namespace

std::string UnavailableReason() {
  return "this braid-perf was built without CUDA (configure with the CUDA toolkit, BRAID_CUDA=AUTO or ON)";
}
std::string SelectDevice(int) { NoCuda("SelectDevice"); }
int CurrentDevice() { NoCuda("device::CurrentDevice"); }
size_t FreeBytes() { NoCuda("device::FreeBytes"); }
void* Allocate(size_t) { NoCuda("device::Allocate"); }
void Free(void*) {}
void* AllocatePinned(size_t) { NoCuda("device::AllocatePinned"); }
void FreePinned(void*) {}
void CopyToHost(void*, const void*, size_t) { NoCuda("device::CopyToHost"); }
void CopyToDevice(void*, const void*, size_t) { NoCuda("device::CopyToDevice"); }
void Fill(void*, unsigned char, size_t) { NoCuda("device::Fill"); }

#endif

}  // namespace braid::perf::device
