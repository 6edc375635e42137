// CUDA device memory for the point-to-point suites' --memory cuda: device buffers, pinned host
// buffers for staging, and synchronous copies between them. In a build without CUDA every
// function exists, UnavailableReason() says why none can be used, and the others are fatal.
// Failures are fatal (FatalError, exit 3) and name the CUDA call and its error string.
#pragma once

#include <cstddef>
#include <string>

namespace braid::perf::device {

// "" when CUDA memory can be used here, else why not: a build without CUDA, no device, or the
// driver's error.
std::string UnavailableReason();

// Makes device `local_rank % devices` current for this process (ranks on one host spread over
// its GPUs) and returns "NVIDIA H100 80GB HBM3 (device 0 of 1, CUDA runtime 13.0)".
std::string SelectDevice(int local_rank);

// The current device's index (cudaGetDevice) and its free memory in bytes (cudaMemGetInfo), for
// checking that a run's buffers fit before allocating them.
int CurrentDevice();
size_t FreeBytes();

void* Allocate(size_t bytes);  // device memory, zero-filled
void Free(void* device);
void* AllocatePinned(size_t bytes);  // page-locked host memory, zero-filled
void FreePinned(void* host);

// Synchronous: the copy is complete when these return.
void CopyToHost(void* host, const void* device, size_t bytes);
void CopyToDevice(void* device, const void* host, size_t bytes);
void Fill(void* device, unsigned char value, size_t bytes);

}  // namespace braid::perf::device
