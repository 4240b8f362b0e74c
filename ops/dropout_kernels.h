// Kernel list for dropout and drop_path (stochastic depth). Masks are never stored: element (or
// sample) i's decision is a pure function of the Philox stream (seed, offset) — words offset + 2i and
// offset + 2i + 1, as every random fill in core/rng.h — so the backward regenerates it, and the CPU
// and CUDA make identical decisions for the same (seed, offset). The per-element math is shared in
// ops/dropout_math.h. CPU: f32, f64. CUDA: f32, f64, bf16, f16 (computed in f32, f64 for f64).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/kernel_decl.h"

#define NAT_DROPOUT_KERNELS(K)                                                                                        \
  /* x, y: n contiguous elements; y[i] = x[i] / keep_prob where draw i is kept (uniform < keep_prob, the              \
     same draw as bernoulli_(keep_prob)), else 0 */                                                                   \
  K(dropout_forward,                                                                                                  \
    (DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset, const void* x, void* y, int device))   \
  /* dy, dx: n contiguous elements; dx = dy masked and scaled exactly as the forward with the same stream */          \
  K(dropout_backward,                                                                                                 \
    (DType dtype, int64_t n, double keep_prob, uint64_t seed, uint64_t offset, const void* dy, void* dx, int device)) \
  /* x, y: [batch, inner]; y[b, :] = x[b, :] * floor(keep_prob + u_b) / keep_prob, u_b uniform draw b in              \
     [0, 1) (timm's drop_path) */                                                                                     \
  K(drop_path_forward, (DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed, uint64_t offset,  \
                        const void* x, void* y, int device))                                                          \
  /* dy, dx: [batch, inner]; dx = dy scaled per sample exactly as the forward with the same stream */                 \
  K(drop_path_backward, (DType dtype, int64_t batch, int64_t inner, double keep_prob, uint64_t seed, uint64_t offset, \
                         const void* dy, void* dx, int device))

NAT_DECLARE_KERNELS(NAT_DROPOUT_KERNELS)
