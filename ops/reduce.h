// Reductions with autograd: sum, mean and max over any set of dims (keepdim optional), argmax.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace nat::ops {

Tensor sum(const Tensor& x);                                               // all elements -> scalar
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);            // values; grad to the first maximum
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);         // i64 indices, no grad

}  // namespace nat::ops
