// Kernel list for elementwise ops (unary, binary with broadcasting, where).
// Broadcast operands arrive as strided views expanded to the output shape (stride 0 on broadcast dims);
// outputs are contiguous. CPU: f32, f64. CUDA: f32, f64, bf16 (computed in f32).
#pragma once

#include <cstdint>

#include "core/backend.h"
#include "ops/kernel_decl.h"

namespace nat {

enum class UnaryOp : uint8_t {
  neg, exp, log, sqrt, rsqrt, tanh, erf, abs,
  gelu,        // exact: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
  pow_scalar,  // x^p0
  clamp,       // min(max(x, p0), p1)
  affine,      // p0 * x + p1 (scalar add / mul)
  relu,
};

enum class BinaryOp : uint8_t { add, sub, mul, div };

// Strides of up to three operands over one output shape.
struct BroadcastLayout {
  int ndim = 0;
  int64_t shape[kMaxDims] = {};
  int64_t strides[3][kMaxDims] = {};
};

}  // namespace nat

#define NAT_ELEMENTWISE_KERNELS(K)                                                                            \
  /* y[n] = op(x[n]) */                                                                                       \
  K(unary_forward, (UnaryOp op, double p0, double p1, DType dtype, int64_t n, const void* x, void* y, int device)) \
  /* gx[n] = gy[n] * op'(x[n]); y = op(x) is passed for ops whose derivative reuses it (exp, sqrt, tanh) */   \
  K(unary_backward, (UnaryOp op, double p0, double p1, DType dtype, int64_t n, const void* x, const void* y,  \
                     const void* gy, void* gx, int device))                                                   \
  /* out[i] = a[layout 0] op b[layout 1]; out: contiguous, numel(layout.shape) elements */                   \
  K(binary_forward, (BinaryOp op, DType dtype, const BroadcastLayout& layout, const void* a, const void* b,   \
                     void* out, int device))                                                                  \
  /* out[i] = cond[layout 0] != 0 ? a[layout 1] : b[layout 2]; cond is u8 */                                   \
  K(where_forward, (DType dtype, const BroadcastLayout& layout, const uint8_t* cond, const void* a,           \
                    const void* b, void* out, int device))

NAT_DECLARE_KERNELS(NAT_ELEMENTWISE_KERNELS)
