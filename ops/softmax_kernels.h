// Kernel list for softmax and log_softmax over the last axis of a contiguous [rows, cols] view.
// Numerically stable: the row maximum is subtracted before exponentiating. CPU: f32, f64 (row sums
// in f64). CUDA: f32, f64, bf16, f16 (computed in f32, f64 for f64).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/kernel_decl.h"

#define NAT_SOFTMAX_KERNELS(K)                                                                                        \
  /* x, y: [rows, cols]; y = exp(x - max) / sum(exp(x - max)) per row */                                              \
  K(softmax_forward, (DType dtype, int64_t rows, int64_t cols, const void* x, void* y, int device))                   \
  /* y (forward output), dy, dx: [rows, cols]; dx = y * (dy - sum(dy * y)) per row */                                 \
  K(softmax_backward, (DType dtype, int64_t rows, int64_t cols, const void* y, const void* dy, void* dx, int device)) \
  /* x, y: [rows, cols]; y = x - max - log(sum(exp(x - max))) per row */                                              \
  K(log_softmax_forward, (DType dtype, int64_t rows, int64_t cols, const void* x, void* y, int device))               \
  /* y (forward output), dy, dx: [rows, cols]; dx = dy - exp(y) * sum(dy) per row */                                  \
  K(log_softmax_backward,                                                                                             \
    (DType dtype, int64_t rows, int64_t cols, const void* y, const void* dy, void* dx, int device))

NAT_DECLARE_KERNELS(NAT_SOFTMAX_KERNELS)
