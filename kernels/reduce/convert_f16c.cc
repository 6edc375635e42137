// fp16 <-> fp32 batch conversion with x86 F16C (vcvtph2ps / vcvtps2ph), 8 elements per
// instruction; conversions.cc picks these at run time when the CPU has F16C and AVX, and its
// portable bit-manipulation loops otherwise. Only the functions below are compiled for AVX (via
// target attributes), so nothing here can leak AVX code into callers on older CPUs.
//
// Results are bit-identical to the portable path: vcvtps2ph with an immediate rounding mode
// rounds to nearest even independent of MXCSR (overflow -> Inf, subnormals exact), and NaN is
// replaced by the canonical 0x7fff afterwards (the instruction would keep sign and payload).
#if defined(__x86_64__) || defined(__i386__)

#include <cpuid.h>
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "kernels/reduce/batch_convert.h"

namespace braid::kernels::detail {

// CPUID leaf 1 flags plus the OS check that YMM state is saved (XCR0 bits 1 and 2). Read
// directly: works from static initialisers and with compilers whose __builtin_cpu_supports
// lacks "f16c".
bool CpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (__get_cpuid(1, &eax, &ebx, &ecx, &edx) == 0) return false;
  constexpr unsigned kOsXsave = 1u << 27, kAvx = 1u << 28, kF16c = 1u << 29;  // ECX bits
  constexpr unsigned kNeeded = kOsXsave | kAvx | kF16c;
  if ((ecx & kNeeded) != kNeeded) return false;
  unsigned xcr0_low = 0, xcr0_high = 0;
  __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
  constexpr unsigned kSseAndAvxState = 0x6;
  return (xcr0_low & kSseAndAvxState) == kSseAndAvxState;
}

namespace {

constexpr size_t kLanes = 8;  // fp32 values per 256-bit register

__attribute__((target("avx,f16c"))) inline __m128i NarrowEight(__m256 values) {
  __m128i half = _mm256_cvtps_ph(values, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // NaN lanes: 32-bit all-ones masks, packed (signed saturation keeps -1 / 0) to 16 bits.
  __m256 nan = _mm256_cmp_ps(values, values, _CMP_UNORD_Q);
  __m128i nan16 = _mm_packs_epi32(_mm256_castsi256_si128(_mm256_castps_si256(nan)),
                                  _mm256_extractf128_si256(_mm256_castps_si256(nan), 1));
  return _mm_blendv_epi8(half, _mm_set1_epi16(0x7fff), nan16);
}

}  // namespace

__attribute__((target("avx,f16c"))) void WidenHalfF16c(float* dst, const uint16_t* src,
                                                        size_t count) {
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    __m128i half = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(half));
  }
  if (i < count) {  // tail through a zero-padded register-sized buffer
    uint16_t in[kLanes] = {};
    float out[kLanes];
    std::memcpy(in, src + i, (count - i) * sizeof(uint16_t));
    _mm256_storeu_ps(out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(in))));
    std::memcpy(dst + i, out, (count - i) * sizeof(float));
  }
}

__attribute__((target("avx,f16c"))) void NarrowHalfF16c(uint16_t* dst, const float* src,
                                                         size_t count) {
  size_t i = 0;
  for (; i + kLanes <= count; i += kLanes) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), NarrowEight(_mm256_loadu_ps(src + i)));
  }
  if (i < count) {
    float in[kLanes] = {};
    uint16_t out[kLanes];
    std::memcpy(in, src + i, (count - i) * sizeof(float));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), NarrowEight(_mm256_loadu_ps(in)));
    std::memcpy(dst + i, out, (count - i) * sizeof(uint16_t));
  }
}

}  // namespace braid::kernels::detail

#endif  // x86
