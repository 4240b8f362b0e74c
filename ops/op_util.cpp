// Shared op validation and layout helpers.
#include "ops/op_util.h"

#include "ops/reduce.h"

namespace nat::ops::detail {

std::string describe(std::initializer_list<Tensor> inputs) {
  std::string s;
  for (const auto& t : inputs) s += (s.empty() ? "" : ", ") + t.meta_str();
  return s;
}

void check_same_device(const char* op, std::initializer_list<Tensor> inputs) {
  const Tensor* first = nullptr;
  for (const auto& t : inputs) {
    NAT_CHECK(t.defined(), "[", op, "] undefined input");
    if (!first) first = &t;
    NAT_CHECK(t.device() == first->device(), "[", op, "] inputs are on different devices: ", describe(inputs));
  }
}

void check_float_same(const char* op, std::initializer_list<Tensor> inputs) {
  check_same_device(op, inputs);
  const Tensor& first = *inputs.begin();
  for (const auto& t : inputs) {
    NAT_CHECK(is_floating(t.dtype()), "[", op, "] expects floating tensors, got ", describe(inputs));
    NAT_CHECK(t.dtype() == first.dtype(), "[", op, "] inputs have different dtypes: ", describe(inputs));
  }
}

BroadcastLayout broadcast_layout(const Shape& shape, std::initializer_list<Tensor> operands, const char* op) {
  NAT_CHECK(shape.size() <= static_cast<size_t>(kMaxDims), "[", op, "] at most ", kMaxDims, " dims, got ",
            shape_str(shape));
  BroadcastLayout l;
  l.ndim = static_cast<int>(shape.size());
  for (int d = 0; d < l.ndim; ++d) l.shape[d] = shape[d];
  int k = 0;
  for (const auto& t : operands) {
    Tensor e = t.expand(shape);
    for (int d = 0; d < l.ndim; ++d) l.strides[k][d] = e.strides()[d];
    ++k;
  }
  return l;
}

Tensor sum_to_shape(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  std::vector<int64_t> dims;
  size_t lead = g.shape().size() - shape.size();
  for (size_t i = 0; i < g.shape().size(); ++i)
    if (i < lead || (shape[i - lead] == 1 && g.shape()[i] != 1)) dims.push_back(static_cast<int64_t>(i));
  Tensor s = dims.empty() ? g : sum(g, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

}  // namespace nat::ops::detail
