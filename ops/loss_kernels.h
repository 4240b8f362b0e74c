// Kernel list for the fused classification losses: log_softmax + negative log-likelihood over rows of
// [n, c] logits, with hard (optionally label-smoothed) or soft targets. Forward writes per-row losses
// and log-sum-exps in acc_dtype(dtype) (ops/acc_dtype.h); the op reduces the rows. Backward reads
// dloss, the gradient of the reduced loss, from device memory (no host sync), times `scale` (1/n for a
// mean). CPU: f32, f64. CUDA: f32, f64, bf16, f16 (computed in f32, f64 for f64).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/acc_dtype.h"
#include "ops/kernel_decl.h"

#define NAT_LOSS_KERNELS(K)                                                                                         \
  /* logits: [n, c]; target: [n] i64 in [0, c); loss, lse: [n] (acc dtype). With q = (1 - smoothing) *              \
     onehot(target) + smoothing / c: lse[i] = log sum_j exp(logits[i, j]), loss[i] = lse[i] - sum_j q_ij            \
     logits[i, j]. Out-of-range targets: the CPU throws nat::Error naming the row, the target and c; CUDA           \
     writes NaN to that row's loss and lse (checking on the host would need a device sync every step). */           \
  K(cross_entropy_forward, (DType dtype, int64_t n, int64_t c, double smoothing, const void* logits,                \
                            const int64_t* target, void* loss, void* lse, int device))                              \
  /* logits, dlogits: [n, c]; target: [n] i64; lse: [n] (acc dtype); dloss: one element (acc dtype);                \
     dlogits[i, j] = dloss * scale * (exp(logits[i, j] - lse[i]) - q_ij) */                                         \
  K(cross_entropy_backward, (DType dtype, int64_t n, int64_t c, double smoothing, double scale, const void* logits, \
                             const int64_t* target, const void* lse, const void* dloss, void* dlogits, int device)) \
  /* logits, target: [n, c] (target: probabilities, e.g. mixup); loss, lse: [n] (acc dtype);                        \
     loss[i] = sum_j target[i, j] * (lse[i] - logits[i, j]) */                                                      \
  K(soft_cross_entropy_forward,                                                                                     \
    (DType dtype, int64_t n, int64_t c, const void* logits, const void* target, void* loss, void* lse, int device)) \
  /* logits, target: [n, c]; lse: [n] (acc dtype); dloss: one element (acc dtype); outputs, each nullptr when       \
     not wanted: dlogits[i, j] = dloss * scale * (exp(logits[i, j] - lse[i]) * sum_k target[i, k] -                 \
     target[i, j]), dtarget[i, j] = dloss * scale * (lse[i] - logits[i, j]); both [n, c] */                         \
  K(soft_cross_entropy_backward,                                                                                    \
    (DType dtype, int64_t n, int64_t c, double scale, const void* logits, const void* target, const void* lse,      \
     const void* dloss, void* dlogits, void* dtarget, int device))

NAT_DECLARE_KERNELS(NAT_LOSS_KERNELS)
