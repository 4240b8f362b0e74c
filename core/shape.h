// Shapes, strides and NumPy broadcasting. Sizes and strides are in elements, never bytes.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

namespace nat {

using Shape = std::vector<int64_t>;

int64_t numel(const Shape& shape);
Shape contiguous_strides(const Shape& shape);
std::string shape_str(const Shape& shape);  // "[2, 3, 4]"

// Wraps a possibly negative dim into [0, ndim); throws naming `op` when out of range.
int64_t normalize_dim(int64_t dim, int64_t ndim, const char* op);

// NumPy rules: align trailing dims; each pair must be equal or one of them 1.
Shape broadcast_shapes(const Shape& a, const Shape& b);
bool is_broadcastable_to(const Shape& from, const Shape& to);

// Strides of a view of `shape` with `strides` reshaped to `new_shape` without copying,
// or an empty optional-like result (returns false) when a copy is needed (PyTorch's rule).
bool compute_view_strides(const Shape& shape, const Shape& strides, const Shape& new_shape, Shape& out);

std::ostream& operator<<(std::ostream& os, const Shape& s);

}  // namespace nat
