// wgmma.mma_async m64n256k16 with fp32 accumulators: one warpgroup (128 threads) multiplies a
// 64 x 16 tile of A by a 16 x 256 tile of B, both read from shared memory through descriptors,
// and adds into 64 x 256 fp32 accumulators held as 128 registers per thread. The operand list is
// spelled out because inline PTX cannot loop.
//
// Accumulator layout (PTX ISA, wgmma .m64nNk16 D fragments): in warp w of the warpgroup, lane l
// holds, for j = 0..31, d[4j + 0..1] at row 16w + l/4, columns 8j + 2(l%4) + 0..1, and
// d[4j + 2..3] at row 16w + l/4 + 8, same columns.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace braid::kernels::sm90a {

inline constexpr int kWgmmaAccumulators = 128;

// Keeps the compiler from moving reads or writes of the accumulators across wgmma fences and
// waits (the tensor cores write these registers asynchronously).
__device__ __forceinline__ void FenceAccumulators(float (&d)[kWgmmaAccumulators]) {
#pragma unroll
  for (int i = 0; i < kWgmmaAccumulators; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// d = a * b + (accumulate != 0 ? d : 0), with T = __nv_bfloat16 or __half. kTransposeA /
// kTransposeB: that operand is M- / N-major in shared memory (PTX imm-trans-a / imm-trans-b),
// else K-major. The scale-a/scale-b immediates are 1 (no negation).
template <typename T, bool kTransposeA, bool kTransposeB>
__device__ __forceinline__ void WgmmaM64N256K16(float (&d)[kWgmmaAccumulators], uint64_t desc_a,
                                                uint64_t desc_b, uint32_t accumulate);

#define BRAID_WGMMA_M64N256K16(TYPE, TRANS_A, TRANS_B)                                              \
  asm volatile(                                                                                     \
      "{\n"                                                                                         \
      ".reg .pred p;\n"                                                                             \
      "setp.ne.b32 p, %130, 0;\n"                                                                   \
      "wgmma.mma_async.sync.aligned.m64n256k16.f32." TYPE "." TYPE " {"                             \
      "%0, %1, %2, %3, %4, %5, %6, %7,"                                                             \
      "%8, %9, %10, %11, %12, %13, %14, %15,"                                                       \
      "%16, %17, %18, %19, %20, %21, %22, %23,"                                                     \
      "%24, %25, %26, %27, %28, %29, %30, %31,"                                                     \
      "%32, %33, %34, %35, %36, %37, %38, %39,"                                                     \
      "%40, %41, %42, %43, %44, %45, %46, %47,"                                                     \
      "%48, %49, %50, %51, %52, %53, %54, %55,"                                                     \
      "%56, %57, %58, %59, %60, %61, %62, %63,"                                                     \
      "%64, %65, %66, %67, %68, %69, %70, %71,"                                                     \
      "%72, %73, %74, %75, %76, %77, %78, %79,"                                                     \
      "%80, %81, %82, %83, %84, %85, %86, %87,"                                                     \
      "%88, %89, %90, %91, %92, %93, %94, %95,"                                                     \
      "%96, %97, %98, %99, %100, %101, %102, %103,"                                                 \
      "%104, %105, %106, %107, %108, %109, %110, %111,"                                             \
      "%112, %113, %114, %115, %116, %117, %118, %119,"                                             \
      "%120, %121, %122, %123, %124, %125, %126, %127"                                              \
      "}, %128, %129, p, 1, 1, " #TRANS_A ", " #TRANS_B ";\n"                                       \
      "}\n"                                                                                         \
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),\
        "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),\
        "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),\
        "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),\
        "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),\
        "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),\
        "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),\
        "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),\
        "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),\
        "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),\
        "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),\
        "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),\
        "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),\
        "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),\
        "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),\
        "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])\
      : "l"(desc_a), "l"(desc_b), "r"(accumulate))

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__nv_bfloat16, false, false>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("bf16", 0, 0);
}

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__nv_bfloat16, false, true>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("bf16", 0, 1);
}

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__nv_bfloat16, true, false>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("bf16", 1, 0);
}

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__nv_bfloat16, true, true>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("bf16", 1, 1);
}

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__half, false, false>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("f16", 0, 0);
}

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__half, false, true>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("f16", 0, 1);
}

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__half, true, false>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("f16", 1, 0);
}

template <>
__device__ __forceinline__ void WgmmaM64N256K16<__half, true, true>(
    float (&d)[kWgmmaAccumulators], uint64_t desc_a, uint64_t desc_b, uint32_t accumulate) {
  BRAID_WGMMA_M64N256K16("f16", 1, 1);
}

#undef BRAID_WGMMA_M64N256K16

}  // namespace braid::kernels::sm90a
