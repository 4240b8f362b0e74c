// Load/store helpers for CUDA kernels that compute in f32 (or f64) while storing bf16/f16.
#pragma once

#include "core/dtype.h"
#include "core/error.h"
#include "core/half.h"

namespace nat::cuda {

template <typename S> struct compute_type { using type = S; };
template <> struct compute_type<bf16> { using type = float; };
template <> struct compute_type<f16> { using type = float; };

template <typename S>
__device__ __forceinline__ typename compute_type<S>::type load_c(const S* p, int64_t i) { return p[i]; }
template <>
__device__ __forceinline__ float load_c<bf16>(const bf16* p, int64_t i) { return bf16_bits_to_f32(p[i].bits); }
template <>
__device__ __forceinline__ float load_c<f16>(const f16* p, int64_t i) { return f16_bits_to_f32(p[i].bits); }

template <typename S, typename C>
__device__ __forceinline__ void store_c(S* p, int64_t i, C v) { p[i] = static_cast<S>(v); }
template <>
__device__ __forceinline__ void store_c<bf16, float>(bf16* p, int64_t i, float v) { p[i].bits = f32_to_bf16_bits(v); }
template <>
__device__ __forceinline__ void store_c<f16, float>(f16* p, int64_t i, float v) { p[i].bits = f32_to_f16_bits(v); }

// Runs f(S{}) for the storage types the CUDA kernels support (f32, f64, bf16, f16).
template <typename F>
void with_cuda_float_type(DType t, const char* name, F&& f) {
  switch (t) {
    case DType::f32: f(float{}); break;
    case DType::f64: f(double{}); break;
    case DType::bf16: f(bf16{}); break;
    case DType::f16: f(f16{}); break;
    default: NAT_THROW("[", name, "] CUDA kernels take f32, f64, bf16 or f16, got ", dtype_name(t));
  }
}

#define NAT_GRID_STRIDE_LOOP(i, n)                                                               \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n);         \
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)

}  // namespace nat::cuda
