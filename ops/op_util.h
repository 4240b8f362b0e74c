// Validation and layout helpers shared by op implementations (not part of the public API).
#pragma once

#include <initializer_list>
#include <string>

#include "core/tensor.h"
#include "ops/elementwise_kernels.h"

namespace nat::ops::detail {

// All defined inputs on one device with one floating dtype; throws naming the op and every input.
void check_float_same(const char* op, std::initializer_list<Tensor> inputs);
void check_same_device(const char* op, std::initializer_list<Tensor> inputs);

// Strides of each operand expanded to `shape` (stride 0 on broadcast dims).
BroadcastLayout broadcast_layout(const Shape& shape, std::initializer_list<Tensor> operands, const char* op);

// Sum `g` down to `shape` (the reverse of broadcasting), as the gradient of a broadcast input.
Tensor sum_to_shape(const Tensor& g, const Shape& shape);

std::string describe(std::initializer_list<Tensor> inputs);  // "f32[2, 3] cpu, f32[3] cpu"

}  // namespace nat::ops::detail
