// softmax and log_softmax over the last dim, with autograd. Numerically stable (the row maximum is
// subtracted first); a row of all -inf gives NaN, as in PyTorch.
#pragma once

#include "core/tensor.h"

namespace nat::ops {

Tensor softmax(const Tensor& x);      // x: [..., C] -> [..., C], each row sums to 1
Tensor log_softmax(const Tensor& x);  // x: [..., C] -> [..., C], log of softmax(x)

}  // namespace nat::ops
