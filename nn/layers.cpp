// Basic layers and containers.
#include "nn/layers.h"

#include "nn/init.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/norm.h"

namespace nat::nn {

Linear::Linear(const LinearOptions& o, Generator& gen) : UnaryModule("Linear"), options(o) {
  NAT_CHECK(o.in_features > 0 && o.out_features > 0, "[Linear] in_features and out_features must be > 0, got ",
            o.in_features, " and ", o.out_features);
  weight = register_parameter("weight", Tensor::empty({o.out_features, o.in_features}));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({o.out_features}));
  init::pytorch_default(weight, bias, gen);
}

Tensor Linear::forward(const Tensor& x, Activation act) { return ops::linear(x, weight, bias, act); }

Conv2d::Conv2d(const Conv2dOptions& o, Generator& gen) : UnaryModule("Conv2d"), options(o) {
  NAT_CHECK(o.in_channels > 0 && o.out_channels > 0 && o.kernel_size > 0 && o.stride > 0 && o.padding >= 0,
            "[Conv2d] invalid options: in ", o.in_channels, ", out ", o.out_channels, ", kernel ", o.kernel_size,
            ", stride ", o.stride, ", padding ", o.padding);
  weight = register_parameter("weight", Tensor::empty({o.out_channels, o.in_channels, o.kernel_size, o.kernel_size}));
  if (o.bias) bias = register_parameter("bias", Tensor::empty({o.out_channels}));
  init::pytorch_default(weight, bias, gen);
}

Tensor Conv2d::forward(const Tensor& x) { return ops::conv2d(x, weight, bias, options.stride, options.padding); }

LayerNorm::LayerNorm(const LayerNormOptions& o) : UnaryModule("LayerNorm"), options(o) {
  NAT_CHECK(o.dim > 0, "[LayerNorm] dim must be > 0, got ", o.dim);
  if (o.affine) {
    weight = register_parameter("weight", Tensor::ones({o.dim}));
    bias = register_parameter("bias", Tensor::zeros({o.dim}));
  }
}

Tensor LayerNorm::forward(const Tensor& x) { return ops::layer_norm(x, weight, bias, options.eps); }

Tensor GELU::forward(const Tensor& x) { return ops::gelu(x); }

Dropout::Dropout(double p_, Generator* gen_) : UnaryModule("Dropout"), p(p_), gen(gen_) {
  NAT_CHECK(p >= 0 && p < 1, "[Dropout] p must be in [0, 1), got ", p);
}

Tensor Dropout::forward(const Tensor& x) { return ops::dropout(x, p, is_training(), gen); }

DropPath::DropPath(double p_, Generator* gen_) : UnaryModule("DropPath"), p(p_), gen(gen_) {
  NAT_CHECK(p >= 0 && p < 1, "[DropPath] p must be in [0, 1), got ", p);
}

Tensor DropPath::forward(const Tensor& x) { return ops::drop_path(x, p, is_training(), gen); }

Mlp::Mlp(const MlpOptions& o, Generator& gen) : UnaryModule("Mlp") {
  int64_t hidden = o.hidden_features ? o.hidden_features : o.in_features;
  int64_t out = o.out_features ? o.out_features : o.in_features;
  fc1 = register_module(
      "fc1", std::make_shared<Linear>(LinearOptions{.in_features = o.in_features, .out_features = hidden}, gen));
  act = register_module("act", std::make_shared<GELU>());
  fc2 =
      register_module("fc2", std::make_shared<Linear>(LinearOptions{.in_features = hidden, .out_features = out}, gen));
  drop = register_module("drop", std::make_shared<Dropout>(o.drop));
}

Tensor Mlp::forward(const Tensor& x) {
  Tensor h = drop->forward(fc1->forward(x, Activation::gelu));
  return drop->forward(fc2->forward(h));
}

void Sequential::push_back(std::shared_ptr<UnaryModule> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (auto& m : modules_) y = m->forward(y);
  return y;
}

void ModuleList::push_back(std::shared_ptr<Module> module) {
  register_module(std::to_string(modules_.size()), module);
  modules_.push_back(std::move(module));
}

}  // namespace nat::nn
