// Thin wrappers over the Hopper PTX the GEMM uses: mbarriers (shared-memory transaction
// barriers), TMA tensor loads, warpgroup register reallocation and the wgmma fences. Each is one
// or two instructions; the PTX ISA's names are kept so the SASS is easy to map back.
#pragma once

#include <cuda.h>  // CUtensorMap
#include <cstdint>

namespace braid::kernels::sm90a {

__device__ __forceinline__ uint32_t SmemAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// ---- mbarrier ----------------------------------------------------------------------------------

__device__ __forceinline__ void BarrierInit(uint64_t* bar, uint32_t arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(SmemAddress(bar)), "r"(arrivals));
}

// Makes the initialised barriers visible to the async proxy (TMA) and the other threads; a
// __syncthreads() must follow.
__device__ __forceinline__ void FenceBarrierInit() {
  asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
}

// One arrival that also announces `bytes` of TMA transactions for the current phase.
__device__ __forceinline__ void BarrierArriveExpectBytes(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(SmemAddress(bar)),
               "r"(bytes)
               : "memory");
}

__device__ __forceinline__ void BarrierArrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(SmemAddress(bar)) : "memory");
}

__device__ __forceinline__ bool BarrierTryWait(uint64_t* bar, uint32_t parity) {
  uint32_t done;
  asm volatile(
      "{\n"
      ".reg .pred p;\n"
      "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
      "selp.u32 %0, 1, 0, p;\n"
      "}\n"
      : "=r"(done)
      : "r"(SmemAddress(bar)), "r"(parity)
      : "memory");
  return done != 0;
}

// Waits until the barrier's phase with parity `parity` has completed. A phase that never
// completes is a bug (a lost TMA, a miscounted arrival): after ~10 s the kernel traps, so the
// caller sees cudaErrorLaunchFailure instead of a hung GPU.
__device__ __forceinline__ void BarrierWait(uint64_t* bar, uint32_t parity) {
  if (BarrierTryWait(bar, parity)) return;
  uint64_t start;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
  while (!BarrierTryWait(bar, parity)) {
    uint64_t now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    if (now - start > 10ull * 1000 * 1000 * 1000) __trap();  // globaltimer counts nanoseconds
  }
}

// ---- TMA -----------------------------------------------------------------------------------------

// Loads the box at element coordinates (inner, outer) of a 2-D tensor map into shared memory;
// completion is signalled as transaction bytes on `bar`. Out-of-bounds elements are zero-filled.
__device__ __forceinline__ void TmaLoad2d(void* smem_dst, const CUtensorMap* map, uint64_t* bar,
                                          int inner, int outer) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%2, %3}], [%4];" ::"r"(SmemAddress(smem_dst)),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(inner), "r"(outer), "r"(SmemAddress(bar))
      : "memory");
}

__device__ __forceinline__ void PrefetchTensorMap(const CUtensorMap* map) {
  asm volatile("prefetch.tensormap [%0];" ::"l"(reinterpret_cast<uint64_t>(map)) : "memory");
}

// ---- warpgroup register reallocation (sm_90a) ------------------------------------------------------

template <uint32_t kRegisters>
__device__ __forceinline__ void WarpgroupRegistersDecrease() {
  asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;" ::"n"(kRegisters));
}

template <uint32_t kRegisters>
__device__ __forceinline__ void WarpgroupRegistersIncrease() {
  asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;" ::"n"(kRegisters));
}

// ---- named barriers ------------------------------------------------------------------------------

// Waits until `threads` threads (a multiple of 32) have arrived at barrier `id` (1..15; 0 is
// __syncthreads). Orders their shared-memory accesses like __syncthreads does for the block.
__device__ __forceinline__ void NamedBarrierSync(int id, int threads) {
  asm volatile("bar.sync %0, %1;" ::"r"(id), "r"(threads) : "memory");
}

// Stores two floats at shared-memory address `address` (8-byte aligned) with one STS.64. Written
// in PTX because the C++ store through a generic pointer compiled to generic ST.E (the pointer's
// shared-memory origin was lost) or, once the origin was kept, to a mix of 32- and 64-bit stores.
__device__ __forceinline__ void StoreSharedFloat2(uint32_t address, float x, float y) {
  asm volatile("st.shared.v2.f32 [%0], {%1, %2};" ::"r"(address), "f"(x), "f"(y) : "memory");
}

// ---- wgmma ordering --------------------------------------------------------------------------------

// Orders earlier register/shared-memory accesses before the wgmma ops that follow.
__device__ __forceinline__ void WgmmaFence() { asm volatile("wgmma.fence.sync.aligned;" ::: "memory"); }

__device__ __forceinline__ void WgmmaCommitGroup() {
  asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
}

// Waits until at most kPending committed wgmma groups of this warpgroup are still running.
template <int kPending>
__device__ __forceinline__ void WgmmaWaitGroup() {
  asm volatile("wgmma.wait_group.sync.aligned %0;" ::"n"(kPending) : "memory");
}

}  // namespace braid::kernels::sm90a
