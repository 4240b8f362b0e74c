// The EMA copy: parameters updated with the ema_update kernel.
#include "train/ema.h"

#include "train/optim_kernels.h"

namespace nat::train {

ModelEma::ModelEma(const nn::NatConfig& config, Device device, double decay, const std::vector<Tensor>& values)
    : decay_(decay) {
  Generator gen(0);
  model_ = nn::create_nat(config, gen);
  model_->to(device);
  model_->eval();
  params_ = model_->parameters();
  NAT_CHECK(params_.size() == values.size(), "[ema] the model has ", params_.size(), " parameters, got ", values.size(),
            " values");
  for (size_t i = 0; i < params_.size(); ++i) params_[i].copy_(values[i]);
}

void ModelEma::update(const std::vector<Tensor>& values) {
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& x = values[i];
    NAT_CHECK(x.dtype() == DType::f32 && x.is_contiguous() && x.numel() == params_[i].numel(), "[ema] value ", i,
              " must be a contiguous f32 tensor like the parameter");
    NAT_DISPATCH(x.device(), ema_update, x.numel(), params_[i].data<float>(), x.data<float>(), decay_,
                 x.device().index);
  }
}

}  // namespace nat::train
