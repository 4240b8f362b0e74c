// The tiled NA forward (cuda/na_tiled.cu), called by na_fused_forward when it applies.
#pragma once

#include <cuda_runtime.h>

#include "ops/na_kernels.h"

namespace nat::kernels::cuda {

// 2-D, dilation 1, head_dim 32, square odd kernel 3..13, f32/bf16/f16.
bool na_tiled_forward_applies(const NAProblem& p, DType dtype);
// True when NAT_NA_REFERENCE=1 asks for the reference kernels only.
bool nat_na_force_reference();
void na_tiled_forward(const NAProblem& p, DType dtype, double scale, const void* q, const void* k, const void* v,
                      const void* rpb, void* out, void* attn, cudaStream_t s);

// The backward's per-query pass (dS into the attn-sized workspace, and dq); same conditions.
void na_tiled_backward_query(const NAProblem& p, DType dtype, double scale, const void* dout, const void* k,
                             const void* v, const void* attn, void* dq, void* dS, cudaStream_t s);

}  // namespace nat::kernels::cuda
