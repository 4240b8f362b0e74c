// Kernel list for the optimizer: fused AdamW and SGD updates (one pass over a parameter's memory: the
// gradient is read once, unscaled / clipped on the fly, and the parameter, the moments and, under AMP, the
// low-precision model copy are written once), a deterministic sum of squares for the global gradient
// norm, and the EMA update. Arithmetic is f32 (as PyTorch's f32 optimizers); sums are f64.
// Gradients may be f32, bf16 or f16 (AMP); parameters, moments and masters are f32.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/kernel_decl.h"

namespace nat {

// Scalars of one AdamW step, precomputed on the host.
struct AdamWStep {
  float lr = 0;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float weight_decay = 0;           // decoupled: p *= 1 - lr * weight_decay
  float bias_correction1 = 1;       // 1 - beta1^t
  float bias_correction2_sqrt = 1;  // sqrt(1 - beta2^t)
  float grad_scale = 1;             // gradients are multiplied by this first (1 / loss scale * clip coefficient)
  float clip_value = 0;             // > 0: then clamped to [-clip_value, clip_value] (clip_mode value)
};

// Scalars of one SGD step (PyTorch SGD: L2 weight decay added to the gradient, dampening 0).
struct SgdStep {
  float lr = 0;
  float momentum = 0.9f;
  float weight_decay = 0;
  bool nesterov = true;
  bool first = false;  // the momentum buffer starts as the first gradient
  float grad_scale = 1;
  float clip_value = 0;
};

// Fixed number of partial sums per tensor: the reduction order depends on n only, never on the device.
constexpr int64_t kSumSquaresPartials = 256;

}  // namespace nat

#define NAT_OPTIM_KERNELS(K)                                                                                    \
  /* p, m, v: [n] f32 (p: the parameter, or its f32 master under AMP); g: [n] in gdtype; out: [n] in odtype,    \
     the model's low-precision copy of p written after the update, or nullptr */                                \
  K(adamw_update, (int64_t n, float* p, const void* g, DType gdtype, float* m, float* v, const AdamWStep& s,    \
                   void* out, DType odtype, int device))                                                        \
  /* p, buf: [n] f32; g: [n] in gdtype; out as for adamw_update */                                              \
  K(sgd_update, (int64_t n, float* p, const void* g, DType gdtype, float* buf, const SgdStep& s, void* out,     \
                 DType odtype, int device))                                                                     \
  /* x: [n] in dtype; partials: [kSumSquaresPartials] f64 scratch; out: one f64 = sum of x^2 (inf or NaN when x \
     holds one), summed over fixed slices of x in a fixed order, so the result is the same on every run */      \
  K(sum_squares, (int64_t n, const void* x, DType dtype, double* partials, double* out, int device))            \
  /* ema, x: [n] f32; ema = decay * ema + (1 - decay) * x */                                                    \
  K(ema_update, (int64_t n, float* ema, const float* x, double decay, int device))

NAT_DECLARE_KERNELS(NAT_OPTIM_KERNELS)
