// Kernel list for linear algebra: strided-batched GEMM, the linear layer's fused forward, the bias
// (+ activation) epilogue and its backward, and im2col / col2im for conv2d.
// All matrices are row-major; sizes and strides are in elements. CPU: f32, f64 (OpenBLAS).
// CUDA: f32, f64, bf16, f16 (cuBLAS / cuBLASLt; bf16/f16 accumulate in f32).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/kernel_decl.h"

namespace nat {

// Activation fused after a GEMM. gelu is the exact (erf) form, as nn.GELU().
enum class Activation : uint8_t { none, gelu };

// Geometry of one conv2d: x [N, C, H, W], weight [O, C, kh, kw], output [N, O, Ho, Wo].
struct Conv2dShape {
  int64_t N = 0, C = 0, H = 0, W = 0;
  int64_t kh = 0, kw = 0, stride = 1, pad = 0;
  int64_t Ho = 0, Wo = 0;  // (H + 2 pad - kh) / stride + 1, likewise Wo
};

}  // namespace nat

#define NAT_LINALG_KERNELS(K)                                                                                          \
  /* for b < batch: C_b = alpha * op(A_b) op(B_b) + beta * C_b, A_b = A + b * stride_a (likewise B, C).                \
     op(A): [M, K], stored [M, K] (lda >= K) or, with trans_a, [K, M] (lda >= M); op(B): [K, N], stored                \
     [K, N] (ldb >= N) or, with trans_b, [N, K] (ldb >= K); C: [M, N] (ldc >= N). stride_a or stride_b 0               \
     broadcasts that operand. beta == 0: C is not read. M, N, K, batch >= 1. */                                        \
  K(gemm, (bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const void* A, int64_t lda,      \
           int64_t stride_a, const void* B, int64_t ldb, int64_t stride_b, double beta, void* C, int64_t ldc,          \
           int64_t stride_c, int64_t batch, DType dtype, int device))                                                  \
  /* pre = x w^T + bias, y = act(pre). x: [rows, in]; w: [out, in]; bias: [out] or null;                               \
     pre: [rows, out] when act != none (kept for backward), else null; y: [rows, out]. All >= 1. */                    \
  K(linear_forward, (Activation act, int64_t rows, int64_t in, int64_t out, const void* x, const void* w,              \
                     const void* bias, void* pre, void* y, DType dtype, int device))                                   \
  /* Epilogue over z: [outer, channels, inner] (linear: [rows, out, 1]; conv2d: [N, O, Ho*Wo]):                        \
     z += bias[c] in place (bias may be null), then y = act(z) (act != none; y is null otherwise). */                  \
  K(bias_act_forward, (Activation act, int64_t outer, int64_t channels, int64_t inner, const void* bias, void* z,      \
                       void* y, DType dtype, int device))                                                              \
  /* Its backward. gy, z: [outer, channels, inner]; gz = gy * act'(z) when act != none (z and gz null                  \
     otherwise); gbias: [channels] = sum over outer and inner of gz (of gy when act == none), or null.                 \
     Deterministic: fixed summation order on both backends. All sizes >= 1. */                                         \
  K(bias_act_backward, (Activation act, int64_t outer, int64_t channels, int64_t inner, const void* z, const void* gy, \
                        void* gz, void* gbias, DType dtype, int device))                                               \
  /* x: [N, C, H, W] -> col: [C*kh*kw, N, Ho*Wo],                                                                      \
     col[(c*kh + i)*kw + j][n][oh*Wo + ow] = x[n][c][oh*stride - pad + i][ow*stride - pad + j], 0 off x. */            \
  K(im2col, (const Conv2dShape& g, const void* x, void* col, DType dtype, int device))                                 \
  /* Adjoint of im2col: col: [C*kh*kw, N, Ho*Wo] -> x: [N, C, H, W] (overwritten) = sum of the col entries             \
     read from each element. Deterministic and atomic-free on both backends. */                                        \
  K(col2im, (const Conv2dShape& g, const void* col, void* x, DType dtype, int device))

NAT_DECLARE_KERNELS(NAT_LINALG_KERNELS)
