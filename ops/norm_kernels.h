// Kernel list for layer norm over the last axis of a contiguous [rows, cols] view (biased variance,
// as PyTorch). mean and rstd are saved per row in acc_dtype(dtype) (ops/acc_dtype.h): f64 for f64,
// f32 for f32/bf16/f16. weight and bias are optional (nullptr = 1 and 0). The backward reduces
// dweight/dbias over rows in a fixed order on both backends, so they are run-to-run deterministic.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/acc_dtype.h"
#include "ops/kernel_decl.h"

#define NAT_NORM_KERNELS(K)                                                                                         \
  /* x, y: [rows, cols]; weight, bias: [cols] or nullptr; mean, rstd: [rows] (acc dtype);                           \
     y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(var + eps) */                                           \
  K(layer_norm_forward, (DType dtype, int64_t rows, int64_t cols, double eps, const void* x, const void* weight,    \
                         const void* bias, void* y, void* mean, void* rstd, int device))                            \
  /* dy, x: [rows, cols]; mean, rstd: [rows] (acc dtype); weight: [cols] or nullptr;                                \
     outputs (each nullptr when not wanted): dx: [rows, cols]; dweight, dbias: [cols] */                            \
  K(layer_norm_backward, (DType dtype, int64_t rows, int64_t cols, const void* dy, const void* x, const void* mean, \
                          const void* rstd, const void* weight, void* dx, void* dweight, void* dbias, int device))

NAT_DECLARE_KERNELS(NAT_NORM_KERNELS)
