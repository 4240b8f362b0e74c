// Layer normalisation over the last dim (nn.LayerNorm semantics: biased variance, eps inside the
// square root), as one fused kernel that saves the per-row mean and 1/std for backward.
#pragma once

#include "core/tensor.h"

namespace nat::ops {

// x: [..., C]; weight, bias: [C], either may be undefined (no scale / no shift). Returns [..., C].
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);

}  // namespace nat::ops
