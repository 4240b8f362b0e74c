// Basic layers: Linear, Conv2d, LayerNorm, GELU, Dropout, DropPath, Identity, Mlp, and the containers
// Sequential and ModuleList. Each layer is an options struct (C++20 designated initializers) plus a
// module whose constructor registers its tensors under the PyTorch names ("weight", "bias", "fc1", ...)
// and applies PyTorch's default initialisation from the given Generator. forward() runs ops::, so
// everything is recorded for autograd.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "nn/module.h"
#include "ops/linalg.h"

namespace nat::nn {

// ~~~~~~ Linear ~~~~~~
struct LinearOptions {
  int64_t in_features = 0;
  int64_t out_features = 0;
  bool bias = true;
};

// y = x W^T + b; x: [..., in] -> [..., out]. weight [out, in], bias [out].
class Linear : public UnaryModule {
 public:
  explicit Linear(const LinearOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override { return forward(x, Activation::none); }
  Tensor forward(const Tensor& x, Activation act);  // act(x W^T + b) in one fused op
  LinearOptions options;
  Tensor weight, bias;  // bias undefined when options.bias is false
};

// ~~~~~~ Conv2d ~~~~~~
struct Conv2dOptions {
  int64_t in_channels = 0;
  int64_t out_channels = 0;
  int64_t kernel_size = 3;
  int64_t stride = 1;
  int64_t padding = 0;
  bool bias = true;
};

// x: [N, C, H, W] -> [N, O, Ho, Wo]; weight [O, C, k, k], bias [O].
class Conv2d : public UnaryModule {
 public:
  explicit Conv2d(const Conv2dOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  int64_t output_size(int64_t input) const {
    return (input + 2 * options.padding - options.kernel_size) / options.stride + 1;
  }
  Conv2dOptions options;
  Tensor weight, bias;
};

// ~~~~~~ LayerNorm ~~~~~~
struct LayerNormOptions {
  int64_t dim = 0;
  double eps = 1e-5;
  bool affine = true;
};

// Normalises the last dim. weight = 1, bias = 0 initially.
class LayerNorm : public UnaryModule {
 public:
  explicit LayerNorm(const LayerNormOptions& options);
  Tensor forward(const Tensor& x) override;
  LayerNormOptions options;
  Tensor weight, bias;
};

// ~~~~~~ parameter-free layers ~~~~~~
class GELU : public UnaryModule {  // exact erf form, as nn.GELU()
 public:
  GELU() : UnaryModule("GELU") {}
  Tensor forward(const Tensor& x) override;
};

class Identity : public UnaryModule {
 public:
  Identity() : UnaryModule("Identity") {}
  Tensor forward(const Tensor& x) override { return x; }
};

// Inverted dropout; identity in eval mode or when p == 0. `gen` null: the default generator.
class Dropout : public UnaryModule {
 public:
  explicit Dropout(double p = 0.0, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  double p;
  Generator* gen;
};

// Per-sample stochastic depth on dim 0 (timm DropPath); identity in eval mode or when p == 0.
class DropPath : public UnaryModule {
 public:
  explicit DropPath(double p = 0.0, Generator* gen = nullptr);
  Tensor forward(const Tensor& x) override;
  double p;
  Generator* gen;
};

// ~~~~~~ Mlp ~~~~~~
struct MlpOptions {
  int64_t in_features = 0;
  int64_t hidden_features = 0;  // 0: in_features
  int64_t out_features = 0;     // 0: in_features
  double drop = 0.0;
};

// fc1 -> GELU -> Dropout -> fc2 -> Dropout (the same Dropout module, "drop", used twice, as timm/NAT).
// fc1 and GELU run as one fused op.
class Mlp : public UnaryModule {
 public:
  explicit Mlp(const MlpOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::shared_ptr<Linear> fc1;
  std::shared_ptr<GELU> act;
  std::shared_ptr<Linear> fc2;
  std::shared_ptr<Dropout> drop;
};

// ~~~~~~ containers ~~~~~~
// Children named "0", "1", ...; forward chains them.
class Sequential : public UnaryModule {
 public:
  Sequential() : UnaryModule("Sequential") {}
  void push_back(std::shared_ptr<UnaryModule> module);
  Tensor forward(const Tensor& x) override;
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<UnaryModule>& operator[](size_t i) const { return modules_.at(i); }

 private:
  std::vector<std::shared_ptr<UnaryModule>> modules_;
};

// An indexed list of children named "0", "1", ... (no forward).
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  void push_back(std::shared_ptr<Module> module);
  size_t size() const { return modules_.size(); }
  const std::shared_ptr<Module>& operator[](size_t i) const { return modules_.at(i); }
  // The i-th child as a concrete type; throws when it is something else.
  template <typename M>
  std::shared_ptr<M> at(size_t i) const {
    NAT_CHECK(i < modules_.size(), "[ModuleList] index ", i, " out of range (size ", modules_.size(), ")");
    auto m = std::dynamic_pointer_cast<M>(modules_[i]);
    NAT_CHECK(m != nullptr, "[ModuleList] element ", i, " is a ", modules_[i]->type_name(), ", not the requested type");
    return m;
  }
  auto begin() const { return modules_.begin(); }
  auto end() const { return modules_.end(); }

 private:
  std::vector<std::shared_ptr<Module>> modules_;
};

}  // namespace nat::nn
