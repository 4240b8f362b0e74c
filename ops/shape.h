// Shape ops with autograd: views (reshape, permute, transpose, flatten, (un)squeeze, expand, slice,
// select) and the copying ops contiguous, cat and pad. The view ops return zero-copy views that share
// x's storage, exactly like the core Tensor methods of the same name, but also record a tape node so
// gradients flow through them; model code should use these, not the core methods, on tensors that
// need gradients. Dims may be negative (counted from the end), as in PyTorch.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace nat::ops {

// A view when the strides allow one, else a contiguous copy; one size may be -1 (inferred).
Tensor reshape(const Tensor& x, const Shape& shape);
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor transpose(const Tensor& x, int64_t d0, int64_t d1);
// x itself when already contiguous, else a contiguous copy.
Tensor contiguous(const Tensor& x);
// Merges dims start..end (inclusive) into one; a view when possible. A 0-d tensor becomes [1].
Tensor flatten(const Tensor& x, int64_t start = 0, int64_t end = -1);
Tensor unsqueeze(const Tensor& x, int64_t dim);  // dim in [-(ndim+1), ndim]
Tensor squeeze(const Tensor& x, int64_t dim);    // drops `dim` when its size is 1, else a plain view
// Broadcast to `shape` (stride 0, no copy; -1 keeps a size). Backward sums over the broadcast dims.
Tensor expand(const Tensor& x, const Shape& shape);
// Python slicing x[..., start:end:step, ...] along `dim` (negative and out-of-range bounds are clamped
// as in Python); step > 0.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor select(const Tensor& x, int64_t dim, int64_t index);  // drops `dim`; index may be negative

// Concatenation along `dim`: same dtype, device and sizes except along `dim`. Always a new tensor.
Tensor cat(const std::vector<Tensor>& xs, int64_t dim);
// Constant padding with PyTorch F.pad semantics: `pads` lists (left, right) pairs starting from the
// LAST dim, e.g. for x [B, H, W, C], pad(x, {0, 0, 0, pw, 0, ph}) pads W on the right by pw and H at
// the bottom by ph. Pads must be >= 0 (no cropping). Always a new tensor.
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, double value = 0.0);

}  // namespace nat::ops
