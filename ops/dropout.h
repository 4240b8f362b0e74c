// Dropout and drop_path (stochastic depth) with autograd. Masks come from the counter-based Philox
// stream of `gen` (the default generator when null): each call takes the next words of the stream,
// so the same generator state gives the same mask on the CPU and on CUDA. Both are the identity
// (returning x itself) when !training or p == 0.
#pragma once

#include "core/rng.h"
#include "core/tensor.h"

namespace nat::ops {

// Inverted dropout: each element is kept with probability 1 - p and scaled by 1 / (1 - p).
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// Per-sample stochastic depth, as timm's drop_path: sample b (dim 0) is kept when
// floor(1 - p + U[0, 1)) = 1, and kept samples are scaled by 1 / (1 - p).
Tensor drop_path(const Tensor& x, double p, bool training, Generator* gen = nullptr);

}  // namespace nat::ops
