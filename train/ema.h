// Model EMA (timm ModelEmaV2): a second copy of the model whose weights follow
// ema = decay * ema + (1 - decay) * weights after every optimizer step; evaluated beside the model.
// The copy is f32 on the model's device, fed from the optimizer's f32 values (the masters under AMP).
#pragma once

#include <memory>

#include "nn/nat.h"

namespace nat::train {

class ModelEma {
 public:
  // Starts as a copy of `values` (the model's f32 weights, in named_parameters() order).
  ModelEma(const nn::NatConfig& config, Device device, double decay, const std::vector<Tensor>& values);
  void update(const std::vector<Tensor>& values);
  nn::NAT& model() { return *model_; }
  const nn::NAT& model() const { return *model_; }
  double decay() const { return decay_; }

 private:
  std::shared_ptr<nn::NAT> model_;
  std::vector<Tensor> params_;
  double decay_;
};

}  // namespace nat::train
