// The differentiable dtype cast and the dynamic loss scaler.
#include "train/amp.h"

#include "autograd/autograd.h"

namespace nat::train {

Tensor cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  Tensor y = x.to(dtype);
  if (needs_grad({x})) {
    DType from = x.dtype();
    record("cast", {x}, {y}, [from](const std::vector<Tensor>& g) { return std::vector<Tensor>{g[0].to(from)}; });
  }
  return y;
}

bool LossScaler::update(bool finite) {
  if (!enabled_) return true;
  if (!finite) {
    scale_ *= 0.5;
    growth_tracker_ = 0;
    return false;
  }
  if (++growth_tracker_ == growth_interval_) {
    scale_ *= 2.0;
    growth_tracker_ = 0;
  }
  return true;
}

}  // namespace nat::train
