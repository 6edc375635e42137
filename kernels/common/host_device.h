// BRAID_HD marks small functions that run on both the CPU and the GPU (epilogue math, tile
// order, descriptor encoding), so CPU tests and references use the very code the kernels run.
#pragma once

#if defined(__CUDACC__)
#define BRAID_HD __host__ __device__ __forceinline__
#else
#define BRAID_HD inline
#endif
