// Kernel list for Neighborhood Attention (spec §1–§2). One generic rank-3 formulation serves 1-D,
// 2-D and 3-D NA: a 2-D problem is a 3-D one with depth 1 and kernel 1 on that axis (its rpb
// [heads, 2k-1, 2k-1] has the same memory as [heads, 1, 2k-1, 2k-1]); 1-D likewise.
//
// Layouts (all contiguous, spec §1.1):
//   q, k, v, out, dq, dk, dv : [B, heads, D, H, W, dim]
//   attn, dattn              : [B, heads, D, H, W, kd*kh*kw], slot t = (a * kh + b) * kw + c
//   rpb, drpb                : [heads, 2kd-1, 2kh-1, 2kw-1]  (nullptr: no positional bias)
// q arrives already scaled; the rpb is added unscaled.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/macros.h"
#include "ops/kernel_decl.h"

namespace nat {

struct NAProblem {
  int64_t batch = 1, heads = 1, dim = 1;
  int64_t size[3] = {1, 1, 1};     // D, H, W
  int64_t kernel[3] = {1, 1, 1};   // odd window size per axis
  int64_t dilation[3] = {1, 1, 1};
  NAT_HOST_DEVICE int64_t window() const { return kernel[0] * kernel[1] * kernel[2]; }
  NAT_HOST_DEVICE int64_t tokens() const { return size[0] * size[1] * size[2]; }
  NAT_HOST_DEVICE int64_t rpb_size() const { return (2 * kernel[0] - 1) * (2 * kernel[1] - 1) * (2 * kernel[2] - 1); }
};

}  // namespace nat

#define NAT_NA_KERNELS(K)                                                                                        \
  /* attn[x, t] = q[x] . k[n_t(x)] + rpb[rho_t(x)] */                                                            \
  K(na_qk_forward, (const NAProblem& p, DType dtype, const void* q, const void* k, const void* rpb, void* attn,  \
                    int device))                                                                                 \
  /* dq[x] = sum_t dattn[x,t] k[n_t(x)]; dk[y] = sum_{x,t: n_t(x)=y} dattn[x,t] q[x];                             \
     drpb[r] = sum over batch, x, t with rho_t(x) = r of dattn (deterministic order). drpb may be nullptr. */     \
  K(na_qk_backward, (const NAProblem& p, DType dtype, const void* dattn, const void* q, const void* k, void* dq,  \
                     void* dk, void* drpb, int device))                                                          \
  /* out[x] = sum_t attn[x,t] v[n_t(x)] */                                                                       \
  K(na_av_forward, (const NAProblem& p, DType dtype, const void* attn, const void* v, void* out, int device))     \
  /* dattn[x,t] = dout[x] . v[n_t(x)]; dv[y] = sum_{x,t: n_t(x)=y} attn[x,t] dout[x] */                            \
  K(na_av_backward, (const NAProblem& p, DType dtype, const void* dout, const void* attn, const void* v,          \
                     void* dattn, void* dv, int device))

#define NAT_NA_FUSED_KERNELS(K)                                                                                  \
  /* The whole na2d forward in one pass per query: qs = scale * q; logits = qs . k[n_t] + rpb; P = softmax(logits);  \
     out[x] = sum_t P[x,t] v[n_t(x)]. Saves P in `attn` for the backward. */                                      \
  K(na_fused_forward, (const NAProblem& p, DType dtype, double scale, const void* q, const void* k, const void* v,  \
                       const void* rpb, void* out, void* attn, int device))                                       \
  /* Its backward: dP = dout . v[n_t]; dS = P (dP - sum_t P dP) (written to the attn-sized `workspace`);           \
     dq = scale sum_t dS k[n_t]; dk[y] = scale sum dS q[x]; dv[y] = sum P dout[x] (inverse neighbourhoods);         \
     drpb = deterministic sum of dS. dq/dk/dv/drpb may be nullptr. */                                              \
  K(na_fused_backward, (const NAProblem& p, DType dtype, double scale, const void* dout, const void* q,            \
                        const void* k, const void* v, const void* attn, void* dq, void* dk, void* dv, void* drpb,  \
                        void* workspace, int device))

NAT_DECLARE_KERNELS(NAT_NA_KERNELS)
NAT_DECLARE_KERNELS(NAT_NA_FUSED_KERNELS)
