// Kernel list for reductions over the last axis of a contiguous [outer, inner] view.
// Ops move the reduced dims last first (ops/reduce.cpp). Sums accumulate in f64 on the CPU and in
// f32 (f64 for f64) on CUDA.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/kernel_decl.h"

namespace nat {
enum class ReduceOp : uint8_t { sum, mean, max };
}  // namespace nat

#define NAT_REDUCE_KERNELS(K)                                                                               \
  /* x: [outer, inner] -> y: [outer] */                                                                     \
  K(reduce_last, (ReduceOp op, DType dtype, int64_t outer, int64_t inner, const void* x, void* y, int device)) \
  /* x: [outer, inner] -> idx: [outer] (i64), first index of the maximum */                                 \
  K(argmax_last, (DType dtype, int64_t outer, int64_t inner, const void* x, int64_t* idx, int device))      \
  /* out: [outer, inner] = g[o] at column idx[o], 0 elsewhere (max backward) */                            \
  K(scatter_last, (DType dtype, int64_t outer, int64_t inner, const int64_t* idx, const void* g, void* out,  \
                   int device))

NAT_DECLARE_KERNELS(NAT_REDUCE_KERNELS)
