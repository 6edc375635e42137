// --memory cuda for a layer that takes host memory only (braid's Comm, an MPI library or a UCX
// built without CUDA): every message is copied from the device into pinned host memory before
// it is sent, and from pinned host memory onto the device once it has arrived. The copies are
// synchronous and whole (no pipelining of a large message's copy with its transfer), so a
// message costs its transfer plus one copy on each side: the floor that a layer moving device
// memory itself (GPUDirect, CUDA IPC, pipelined staging) has to beat.
#pragma once

#include <cstddef>
#include <memory>

#include "options.h"
#include "p2p_backend.h"

namespace braid::perf {

// How bytes move between the device and the staging area; CUDA's in braid-perf, plain host
// memory in tests.
struct StagingCopies {
  void* (*allocate)(size_t bytes);  // staging memory (pinned host memory), zero-filled
  void (*release)(void* staging);
  void (*to_host)(void* staging, const void* device, size_t bytes);  // synchronous
  void (*to_device)(void* device, const void* staging, size_t bytes);
  const char* description;  // "synchronous cudaMemcpy each way"
};
const StagingCopies& CudaStagingCopies();

// Staging bytes per direction that `options`' suite needs: its largest window of messages, each
// in its own slot (kStagingSlotAlignment apart).
size_t StagingBytes(const Options& options);
inline constexpr size_t kStagingSlotAlignment = 64;  // bytes: a cache line per slot

// Wraps `inner` (which gets only staging addresses) with `staging_bytes` of staging memory for
// each direction. The buffers given to the wrapper are device memory.
std::unique_ptr<P2pBackend> MakeStagedP2p(std::unique_ptr<P2pBackend> inner, size_t staging_bytes,
                                          const StagingCopies& copies);

}  // namespace braid::perf
