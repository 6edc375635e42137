// The 64-bit shared-memory matrix descriptor that wgmma reads its operands through (PTX ISA,
// "Matrix Descriptor Format" of wgmma): bits 0-13 start address >> 4, 16-29 leading dimension
// byte offset >> 4, 32-45 stride dimension byte offset >> 4, 49-51 base offset, 62-63 swizzle
// mode (1 = 128-byte swizzle). Host and device, so a unit test checks the packing.
//
// Our tiles always use the 128-byte swizzle that TMA writes (CU_TENSOR_MAP_SWIZZLE_128B), each
// 1024-byte aligned, so the base offset is 0. Geometry, in bytes (16-bit elements, so a 128-byte
// row holds 64 elements):
//  - K-major operand (rows of 64 k-values): SBO = 1024, the step between groups of 8 rows; LBO is
//    unused for swizzled K-major layouts (set to 16, "assumed 1"). Moving 16 k-values along a
//    row is +32 bytes of start address.
//  - MN-major operand (rows of 64 m- or n-values, one row per k): SBO = 1024, the step between
//    groups of 8 k-rows; LBO = the step between 64-wide chunks along M or N (a chunk is BK rows
//    of 128 bytes). Moving 16 k-values is +16 rows = +2048 bytes.
#pragma once

#include <cstdint>

#include "kernels/common/host_device.h"

namespace braid::kernels::sm90a {

inline constexpr uint64_t kSwizzle128B = 1;

// (x & 0x3FFFF) >> 4, the PTX "matrix-descriptor-encode".
BRAID_HD uint64_t DescriptorField(uint32_t bytes) { return (bytes & 0x3FFFFu) >> 4; }

BRAID_HD uint64_t SmemDescriptor(uint32_t smem_address, uint32_t leading_byte_offset,
                                 uint32_t stride_byte_offset) {
  return DescriptorField(smem_address) | (DescriptorField(leading_byte_offset) << 16) |
         (DescriptorField(stride_byte_offset) << 32) | (kSwizzle128B << 62);
}

}  // namespace braid::kernels::sm90a
