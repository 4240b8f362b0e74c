// Portability macros shared by host and device code.
// NAT_HOST_DEVICE marks functions compiled for both the CPU and CUDA (conversions, Philox),
// which is how the two backends are guaranteed to compute bit-identical values.
#pragma once

#if defined(__CUDACC__)
#define NAT_HOST_DEVICE __host__ __device__
#define NAT_INLINE __forceinline__
#else
#define NAT_HOST_DEVICE
#define NAT_INLINE inline
#endif
