// Linear algebra ops with autograd: matmul (batched, broadcasting, with transposes), linear (x w^T + b
// with a fused activation) and conv2d (NCHW input, OIHW weight, im2col + GEMM).
// GEMMs run on OpenBLAS (CPU) and cuBLAS / cuBLASLt (CUDA); f32 GEMMs on CUDA use full f32, not TF32.
#pragma once

#include "core/tensor.h"
#include "ops/linalg_kernels.h"

namespace nat::ops {

using nat::Activation;

// op(a) op(b), where op transposes the last two dims when its flag is set. op(a): [..., M, K],
// op(b): [..., K, N] -> [..., M, N]; batch dims broadcast as in NumPy (so [B, M, K] x [K, N] works).
// Both operands need at least 2 dims. Transposed or strided views are used in place where BLAS allows.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// act(x weight^T + bias). x: [..., in]; weight: [out, in]; bias: [out] or undefined -> [..., out].
// With gelu the pre-activation is kept for backward (one extra [..., out] tensor).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(), Activation act = Activation::none);

// 2-D convolution (cross-correlation, as PyTorch). x: [N, C, H, W]; weight: [O, C, kh, kw];
// bias: [O] or undefined -> [N, O, Ho, Wo], Ho = (H + 2 padding - kh) / stride + 1 (likewise Wo).
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t stride, int64_t padding);

namespace detail {
// conv2d runs im2col on chunks of images whose column buffer [C*kh*kw, n*Ho*Wo] fits in this many bytes
// (default 256 MiB; at least one image per chunk). Returns the previous value; tests lower it to reach
// the multi-chunk path.
int64_t set_conv2d_column_budget(int64_t bytes);
}  // namespace detail

}  // namespace nat::ops
