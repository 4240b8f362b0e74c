// Neighborhood Attention ops with autograd (docs/na.md): each query attends exactly k keys per axis,
// border windows shift inward, dilation d splits each axis into d interleaved classes, and the
// relative positional bias (rpb) index per axis is (k - 1) + (key - query) / d.
//
//   na2d_qk : attn[b,h,i,j,t] = q[b,h,i,j] . k[b,h,n_t(i,j)] + rpb[h, rho_t(i,j)]   (q as given: no scaling)
//   na2d_av : out[b,h,i,j]    = sum_t attn[b,h,i,j,t] v[b,h,n_t(i,j)]
//   na2d    : q * head_dim^-0.5 -> na2d_qk (+rpb, unscaled) -> softmax over t -> na2d_av
//
// Shapes: 1-D q,k,v [B, heads, L, dim], rpb [heads, 2k-1], attn [B, heads, L, k].
//         2-D q,k,v [B, heads, H, W, dim], rpb [heads, 2k-1, 2k-1], attn [B, heads, H, W, k*k].
//         3-D q,k,v [B, heads, D, H, W, dim], rpb [heads, 2kd-1, 2kh-1, 2kw-1], attn [..., kd*kh*kw].
// rpb may be an undefined Tensor (no bias). Kernel sizes are odd; dilation >= 1; every axis needs
// length >= kernel_size * dilation.
#pragma once

#include <array>

#include "core/tensor.h"

namespace nat::ops {

using Size3 = std::array<int64_t, 3>;  // (depth, height, width)

Tensor na1d_qk(const Tensor& q, const Tensor& k, const Tensor& rpb, int64_t kernel_size, int64_t dilation = 1);
Tensor na1d_av(const Tensor& attn, const Tensor& v, int64_t kernel_size, int64_t dilation = 1);
Tensor na1d(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& rpb, int64_t kernel_size,
            int64_t dilation = 1);

Tensor na2d_qk(const Tensor& q, const Tensor& k, const Tensor& rpb, int64_t kernel_size, int64_t dilation = 1);
Tensor na2d_av(const Tensor& attn, const Tensor& v, int64_t kernel_size, int64_t dilation = 1);
Tensor na2d(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& rpb, int64_t kernel_size,
            int64_t dilation = 1);

Tensor na3d_qk(const Tensor& q, const Tensor& k, const Tensor& rpb, Size3 kernel_size, Size3 dilation = {1, 1, 1});
Tensor na3d_av(const Tensor& attn, const Tensor& v, Size3 kernel_size, Size3 dilation = {1, 1, 1});
Tensor na3d(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& rpb, Size3 kernel_size,
            Size3 dilation = {1, 1, 1});

}  // namespace nat::ops
